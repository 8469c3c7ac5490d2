//! `LifoQueue`: a last-in, first-out queue of items between greenlets, on
//! the core every queue shares (`buffer.rs`).

use std::time::Duration;

use super::buffer::{QueueCore, queue_impls};
use super::error::{GetError, PutError};
use super::order::Lifo;

/// A last-in, first-out queue of items between greenlets (and the main
/// context): gevent's `LifoQueue`, a stack that greenlets wait on.
///
/// It behaves as a [`Queue`](super::Queue) in everything but the order of
/// its items: [`get`](Self::get) takes the item put last. Getters and
/// putters still wait in FIFO order among themselves; an item put while
/// getters wait goes to the first of them; an item handed to a getter that
/// is killed before it takes it goes to the next getter, or back on top.
/// The bound, closing, [`task_done`](Self::task_done) and
/// [`join`](Self::join) work as the queue's.
///
/// A `LifoQueue` is a cheap handle: clones share one queue.
///
/// # Examples
///
/// ```
/// use greenlet::sync::LifoQueue;
///
/// let stack = LifoQueue::unbounded();
/// for n in 1..=3 {
///     stack.put(n)?;
/// }
/// stack.close();
/// assert_eq!(stack.iter().collect::<Vec<_>>(), [3, 2, 1]);
/// # Ok::<(), greenlet::sync::PutError<u32>>(())
/// ```
pub struct LifoQueue<T> {
    core: QueueCore<Lifo<T>>,
}

impl<T> LifoQueue<T> {
    /// A queue without a bound: [`put`](Self::put) never waits.
    ///
    /// # Examples
    ///
    /// ```
    /// let stack = greenlet::sync::LifoQueue::unbounded();
    /// stack.put('a').unwrap();
    /// assert_eq!(stack.bound(), None);
    /// ```
    pub fn unbounded() -> LifoQueue<T> {
        LifoQueue {
            core: QueueCore::new(None, "LifoQueue"),
        }
    }

    /// A queue that holds at most `bound` items: [`put`](Self::put) waits
    /// while it is full.
    ///
    /// # Panics
    ///
    /// Panics if `bound` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::sync::{LifoQueue, PutError};
    ///
    /// let stack = LifoQueue::bounded(1);
    /// stack.put('a').unwrap();
    /// assert!(matches!(stack.try_put('b'), Err(PutError::Full('b'))));
    /// ```
    #[track_caller]
    pub fn bounded(bound: usize) -> LifoQueue<T> {
        LifoQueue {
            core: QueueCore::new(Some(bound), "LifoQueue"),
        }
    }

    /// Puts `item` on top, waiting (FIFO) while a bounded queue is full. If
    /// getters wait, the first of them gets the item.
    ///
    /// # Errors
    ///
    /// [`PutError::Closed`], with the item, if the queue is closed, or is
    /// closed while the call waits.
    ///
    /// # Panics
    ///
    /// As [`Queue::put`](super::Queue::put): unwinds the caller if it is
    /// killed or times out while it waits (a slot handed to it passes on);
    /// in the main context, panics with the deadlock report when no
    /// greenlet could ever make room.
    ///
    /// # Examples
    ///
    /// ```
    /// let stack = greenlet::sync::LifoQueue::unbounded();
    /// stack.put(1)?;
    /// stack.put(2)?;
    /// assert_eq!(stack.get(), Ok(2));
    /// # Ok::<(), greenlet::sync::PutError<u32>>(())
    /// ```
    #[inline]
    #[track_caller]
    pub fn put(&self, item: T) -> Result<(), PutError<T>> {
        self.core.put(item, None)
    }

    /// Puts `item` if there is room now and no putter waits; never blocks.
    ///
    /// # Errors
    ///
    /// [`PutError::Full`] if the queue is full, [`PutError::Closed`] if it
    /// is closed; either way with the item.
    ///
    /// # Examples
    ///
    /// ```
    /// let stack = greenlet::sync::LifoQueue::bounded(1);
    /// assert!(stack.try_put(1).is_ok());
    /// assert!(stack.try_put(2).is_err());
    /// ```
    pub fn try_put(&self, item: T) -> Result<(), PutError<T>> {
        self.core.try_put(item)
    }

    /// As [`put`](Self::put), but waits at most `timeout` for room.
    ///
    /// # Errors
    ///
    /// [`PutError::TimedOut`] if the timeout passes first,
    /// [`PutError::Closed`] as for [`put`](Self::put); either way with the
    /// item.
    ///
    /// # Panics
    ///
    /// As [`put`](Self::put).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use greenlet::sync::{LifoQueue, PutError};
    ///
    /// let stack = LifoQueue::bounded(1);
    /// stack.put(1).unwrap();
    /// let err = stack.put_timeout(2, Duration::from_millis(2)).unwrap_err();
    /// assert!(matches!(err, PutError::TimedOut(2)));
    /// ```
    #[track_caller]
    pub fn put_timeout(&self, item: T, timeout: Duration) -> Result<(), PutError<T>> {
        self.core.put(item, Some(timeout))
    }

    /// Takes the item on top (the one put last), waiting (FIFO) while the
    /// queue is empty.
    ///
    /// # Errors
    ///
    /// [`GetError::Closed`] once the queue is closed and empty, including
    /// when it is closed while the call waits.
    ///
    /// # Panics
    ///
    /// As [`Queue::get`](super::Queue::get): unwinds the caller if it is
    /// killed or times out while it waits (an item handed to it goes to the
    /// next getter, or back on top); in the main context, panics with the
    /// deadlock report when no greenlet could ever put an item.
    ///
    /// # Examples
    ///
    /// ```
    /// let stack = greenlet::sync::LifoQueue::unbounded();
    /// let producer = stack.clone();
    /// greenlet::spawn(move || producer.put("hello").unwrap());
    /// assert_eq!(stack.get(), Ok("hello")); // runs the producer meanwhile
    /// ```
    #[inline]
    #[track_caller]
    pub fn get(&self) -> Result<T, GetError> {
        self.core.get(None)
    }

    /// Takes the item on top if there is one; never blocks.
    ///
    /// # Errors
    ///
    /// [`GetError::Empty`] if the queue is empty, [`GetError::Closed`] if it
    /// is also closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::sync::{GetError, LifoQueue};
    ///
    /// let stack = LifoQueue::unbounded();
    /// stack.put(1).unwrap();
    /// assert_eq!(stack.try_get(), Ok(1));
    /// assert_eq!(stack.try_get(), Err(GetError::Empty));
    /// ```
    pub fn try_get(&self) -> Result<T, GetError> {
        self.core.try_get()
    }

    /// As [`get`](Self::get), but waits at most `timeout` for an item.
    ///
    /// # Errors
    ///
    /// [`GetError::TimedOut`] if the timeout passes first,
    /// [`GetError::Closed`] as for [`get`](Self::get).
    ///
    /// # Panics
    ///
    /// As [`get`](Self::get).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use greenlet::sync::{GetError, LifoQueue};
    ///
    /// let stack = LifoQueue::<u8>::unbounded();
    /// assert_eq!(stack.get_timeout(Duration::from_millis(2)), Err(GetError::TimedOut));
    /// ```
    #[track_caller]
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, GetError> {
        self.core.get(Some(timeout))
    }

    /// How many items are in the queue, counting those handed to a getter
    /// that has not run yet.
    ///
    /// # Examples
    ///
    /// ```
    /// let stack = greenlet::sync::LifoQueue::unbounded();
    /// stack.put(()).unwrap();
    /// assert_eq!(stack.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.core.len()
    }

    /// Whether [`len`](Self::len) is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// let stack = greenlet::sync::LifoQueue::<u8>::unbounded();
    /// assert!(stack.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bound of a [`bounded`](Self::bounded) queue; `None` if it is
    /// unbounded.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(greenlet::sync::LifoQueue::<u8>::bounded(4).bound(), Some(4));
    /// ```
    pub fn bound(&self) -> Option<usize> {
        self.core.bound()
    }

    /// Closes the queue, as [`Queue::close`](super::Queue::close): getters
    /// drain the items left, then get [`GetError::Closed`]; putters get
    /// [`PutError::Closed`].
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::sync::{GetError, LifoQueue};
    ///
    /// let stack = LifoQueue::unbounded();
    /// stack.put(1).unwrap();
    /// stack.close();
    /// assert!(stack.put(2).is_err());
    /// assert_eq!(stack.get(), Ok(1));
    /// assert_eq!(stack.get(), Err(GetError::Closed));
    /// ```
    pub fn close(&self) {
        self.core.close();
    }

    /// Whether [`close`](Self::close) was called.
    ///
    /// # Examples
    ///
    /// ```
    /// let stack = greenlet::sync::LifoQueue::<u8>::unbounded();
    /// stack.close();
    /// assert!(stack.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.core.is_closed()
    }

    /// An iterator that [`get`](Self::get)s items, waiting for each, until
    /// the queue is closed and empty.
    ///
    /// # Panics
    ///
    /// Its `next` panics as [`get`](Self::get) does.
    ///
    /// # Examples
    ///
    /// ```
    /// let stack = greenlet::sync::LifoQueue::unbounded();
    /// stack.put("a").unwrap();
    /// stack.put("b").unwrap();
    /// stack.close();
    /// assert_eq!(stack.iter().collect::<Vec<_>>(), ["b", "a"]);
    /// ```
    pub fn iter(&self) -> LifoIter<T> {
        LifoIter {
            queue: self.clone(),
        }
    }

    /// Marks one item as processed, as [`Queue::task_done`](super::Queue::task_done).
    ///
    /// # Panics
    ///
    /// Panics if called more times than items were put.
    ///
    /// # Examples
    ///
    /// ```
    /// let stack = greenlet::sync::LifoQueue::unbounded();
    /// stack.put("job").unwrap();
    /// stack.get().unwrap();
    /// stack.task_done();
    /// assert_eq!(stack.unfinished(), 0);
    /// ```
    #[track_caller]
    pub fn task_done(&self) {
        self.core.task_done("LifoQueue");
    }

    /// How many items were put and not yet marked done with
    /// [`task_done`](Self::task_done).
    ///
    /// # Examples
    ///
    /// ```
    /// let stack = greenlet::sync::LifoQueue::unbounded();
    /// stack.put(1).unwrap();
    /// assert_eq!(stack.unfinished(), 1);
    /// ```
    pub fn unfinished(&self) -> usize {
        self.core.unfinished()
    }

    /// Waits until every item put has been marked done with
    /// [`task_done`](Self::task_done) (at once if none is unfinished).
    ///
    /// # Panics
    ///
    /// As [`Queue::join`](super::Queue::join).
    ///
    /// # Examples
    ///
    /// ```
    /// let stack = greenlet::sync::LifoQueue::unbounded();
    /// let worker = stack.clone();
    /// greenlet::spawn(move || {
    ///     for _job in &worker {
    ///         worker.task_done();
    ///     }
    /// });
    /// stack.put(1).unwrap();
    /// stack.join(); // the worker processes it meanwhile
    /// ```
    #[track_caller]
    pub fn join(&self) {
        self.core.join(None);
    }

    /// As [`join`](Self::join), but waits at most `timeout`; returns whether
    /// every item was marked done.
    ///
    /// # Panics
    ///
    /// As [`join`](Self::join).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let stack = greenlet::sync::LifoQueue::unbounded();
    /// stack.put(1).unwrap();
    /// assert!(!stack.join_timeout(Duration::from_millis(2)));
    /// ```
    #[track_caller]
    pub fn join_timeout(&self, timeout: Duration) -> bool {
        self.core.join(Some(timeout))
    }
}

impl<T: Clone> LifoQueue<T> {
    /// A clone of the item on top, which stays there, waiting while the
    /// queue is empty, as [`Queue::peek`](super::Queue::peek).
    ///
    /// # Errors
    ///
    /// [`GetError::Closed`] once the queue is closed and empty.
    ///
    /// # Panics
    ///
    /// As [`get`](Self::get).
    ///
    /// # Examples
    ///
    /// ```
    /// let stack = greenlet::sync::LifoQueue::unbounded();
    /// stack.put(1).unwrap();
    /// stack.put(2).unwrap();
    /// assert_eq!(stack.peek(), Ok(2));
    /// assert_eq!(stack.len(), 2);
    /// ```
    #[track_caller]
    pub fn peek(&self) -> Result<T, GetError> {
        self.core.peek(None)
    }

    /// A clone of the item on top if there is one; never blocks.
    ///
    /// # Errors
    ///
    /// As [`try_get`](Self::try_get).
    ///
    /// # Examples
    ///
    /// ```
    /// let stack = greenlet::sync::LifoQueue::unbounded();
    /// assert!(stack.try_peek().is_err());
    /// stack.put(1).unwrap();
    /// assert_eq!(stack.try_peek(), Ok(1));
    /// ```
    pub fn try_peek(&self) -> Result<T, GetError> {
        self.core.try_peek()
    }

    /// As [`peek`](Self::peek), but waits at most `timeout` for an item.
    ///
    /// # Errors
    ///
    /// As [`get_timeout`](Self::get_timeout).
    ///
    /// # Panics
    ///
    /// As [`get`](Self::get).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let stack = greenlet::sync::LifoQueue::<u8>::unbounded();
    /// assert!(stack.peek_timeout(Duration::from_millis(2)).is_err());
    /// ```
    #[track_caller]
    pub fn peek_timeout(&self, timeout: Duration) -> Result<T, GetError> {
        self.core.peek(Some(timeout))
    }
}

/// The iterator of [`LifoQueue::iter`]: it [`get`](LifoQueue::get)s items,
/// waiting for each, until the queue is closed and empty.
///
/// # Examples
///
/// ```
/// let stack = greenlet::sync::LifoQueue::unbounded();
/// stack.put(1).unwrap();
/// stack.close();
/// let mut items = stack.iter();
/// assert_eq!(items.next(), Some(1));
/// assert_eq!(items.next(), None);
/// ```
pub struct LifoIter<T> {
    queue: LifoQueue<T>,
}

queue_impls!(LifoQueue, LifoIter);
