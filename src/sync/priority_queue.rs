//! `PriorityQueue`: a queue of items between greenlets that gives out the
//! smallest first, on the core every queue shares (`buffer.rs`).

use std::time::Duration;

use super::buffer::{QueueCore, queue_impls};
use super::error::{GetError, PutError};
use super::order::Priority;

/// A queue of items between greenlets (and the main context) that gives out
/// the smallest first: gevent's `PriorityQueue`, which orders as Python's
/// `heapq` does. Put `(priority, item)` pairs to order by a priority.
///
/// It behaves as a [`Queue`](super::Queue) in everything but the order of
/// its items: [`get`](Self::get) takes the smallest item buffered (by
/// [`Ord`]), and equal items come out in the order they were put. Getters
/// and putters still wait in FIFO order among themselves; an item put while
/// getters wait goes to the first of them (nothing is buffered then to
/// compare it with); an item handed to a getter that is killed before it
/// takes it goes to the next getter, or back into the queue, ahead of equal
/// items. The bound, closing, [`task_done`](Self::task_done) and
/// [`join`](Self::join) work as the queue's.
///
/// A `PriorityQueue` is a cheap handle: clones share one queue.
///
/// # Examples
///
/// ```
/// use greenlet::sync::PriorityQueue;
///
/// let jobs = PriorityQueue::unbounded();
/// jobs.put((2, "code"))?;
/// jobs.put((1, "write spec"))?;
/// jobs.put((3, "release"))?;
/// jobs.close();
/// let order: Vec<_> = jobs.iter().map(|(_, job)| job).collect();
/// assert_eq!(order, ["write spec", "code", "release"]);
/// # Ok::<(), greenlet::sync::PutError<(u8, &str)>>(())
/// ```
pub struct PriorityQueue<T: Ord> {
    core: QueueCore<Priority<T>>,
}

impl<T: Ord> PriorityQueue<T> {
    /// A queue without a bound: [`put`](Self::put) never waits.
    ///
    /// # Examples
    ///
    /// ```
    /// let queue = greenlet::sync::PriorityQueue::unbounded();
    /// queue.put('a').unwrap();
    /// assert_eq!(queue.bound(), None);
    /// ```
    pub fn unbounded() -> PriorityQueue<T> {
        PriorityQueue {
            core: QueueCore::new(None, "PriorityQueue"),
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
    /// use greenlet::sync::{PriorityQueue, PutError};
    ///
    /// let queue = PriorityQueue::bounded(1);
    /// queue.put('a').unwrap();
    /// assert!(matches!(queue.try_put('b'), Err(PutError::Full('b'))));
    /// ```
    #[track_caller]
    pub fn bounded(bound: usize) -> PriorityQueue<T> {
        PriorityQueue {
            core: QueueCore::new(Some(bound), "PriorityQueue"),
        }
    }

    /// Puts `item` in its place, waiting (FIFO) while a bounded queue is full. If
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
    /// let queue = greenlet::sync::PriorityQueue::unbounded();
    /// queue.put(2)?;
    /// queue.put(1)?;
    /// assert_eq!(queue.get(), Ok(1));
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
    /// let queue = greenlet::sync::PriorityQueue::bounded(1);
    /// assert!(queue.try_put(1).is_ok());
    /// assert!(queue.try_put(2).is_err());
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
    /// use greenlet::sync::{PriorityQueue, PutError};
    ///
    /// let queue = PriorityQueue::bounded(1);
    /// queue.put(1).unwrap();
    /// let err = queue.put_timeout(2, Duration::from_millis(2)).unwrap_err();
    /// assert!(matches!(err, PutError::TimedOut(2)));
    /// ```
    #[track_caller]
    pub fn put_timeout(&self, item: T, timeout: Duration) -> Result<(), PutError<T>> {
        self.core.put(item, Some(timeout))
    }

    /// Takes the smallest item, waiting (FIFO) while the
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
    /// next getter, or back into the queue); in the main context, panics with the
    /// deadlock report when no greenlet could ever put an item.
    ///
    /// # Examples
    ///
    /// ```
    /// let queue = greenlet::sync::PriorityQueue::unbounded();
    /// let producer = queue.clone();
    /// greenlet::spawn(move || producer.put("hello").unwrap());
    /// assert_eq!(queue.get(), Ok("hello")); // runs the producer meanwhile
    /// ```
    #[inline]
    #[track_caller]
    pub fn get(&self) -> Result<T, GetError> {
        self.core.get(None)
    }

    /// Takes the smallest item if there is one; never blocks.
    ///
    /// # Errors
    ///
    /// [`GetError::Empty`] if the queue is empty, [`GetError::Closed`] if it
    /// is also closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::sync::{GetError, PriorityQueue};
    ///
    /// let queue = PriorityQueue::unbounded();
    /// queue.put(1).unwrap();
    /// assert_eq!(queue.try_get(), Ok(1));
    /// assert_eq!(queue.try_get(), Err(GetError::Empty));
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
    /// use greenlet::sync::{GetError, PriorityQueue};
    ///
    /// let queue = PriorityQueue::<u8>::unbounded();
    /// assert_eq!(queue.get_timeout(Duration::from_millis(2)), Err(GetError::TimedOut));
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
    /// let queue = greenlet::sync::PriorityQueue::unbounded();
    /// queue.put(()).unwrap();
    /// assert_eq!(queue.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.core.len()
    }

    /// Whether [`len`](Self::len) is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// let queue = greenlet::sync::PriorityQueue::<u8>::unbounded();
    /// assert!(queue.is_empty());
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
    /// assert_eq!(greenlet::sync::PriorityQueue::<u8>::bounded(4).bound(), Some(4));
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
    /// use greenlet::sync::{GetError, PriorityQueue};
    ///
    /// let queue = PriorityQueue::unbounded();
    /// queue.put(1).unwrap();
    /// queue.close();
    /// assert!(queue.put(2).is_err());
    /// assert_eq!(queue.get(), Ok(1));
    /// assert_eq!(queue.get(), Err(GetError::Closed));
    /// ```
    pub fn close(&self) {
        self.core.close();
    }

    /// Whether [`close`](Self::close) was called.
    ///
    /// # Examples
    ///
    /// ```
    /// let queue = greenlet::sync::PriorityQueue::<u8>::unbounded();
    /// queue.close();
    /// assert!(queue.is_closed());
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
    /// let queue = greenlet::sync::PriorityQueue::unbounded();
    /// queue.put("b").unwrap();
    /// queue.put("a").unwrap();
    /// queue.close();
    /// assert_eq!(queue.iter().collect::<Vec<_>>(), ["a", "b"]);
    /// ```
    pub fn iter(&self) -> PriorityIter<T> {
        PriorityIter {
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
    /// let queue = greenlet::sync::PriorityQueue::unbounded();
    /// queue.put("job").unwrap();
    /// queue.get().unwrap();
    /// queue.task_done();
    /// assert_eq!(queue.unfinished(), 0);
    /// ```
    #[track_caller]
    pub fn task_done(&self) {
        self.core.task_done("PriorityQueue");
    }

    /// How many items were put and not yet marked done with
    /// [`task_done`](Self::task_done).
    ///
    /// # Examples
    ///
    /// ```
    /// let queue = greenlet::sync::PriorityQueue::unbounded();
    /// queue.put(1).unwrap();
    /// assert_eq!(queue.unfinished(), 1);
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
    /// let queue = greenlet::sync::PriorityQueue::unbounded();
    /// let worker = queue.clone();
    /// greenlet::spawn(move || {
    ///     for _job in &worker {
    ///         worker.task_done();
    ///     }
    /// });
    /// queue.put(1).unwrap();
    /// queue.join(); // the worker processes it meanwhile
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
    /// let queue = greenlet::sync::PriorityQueue::unbounded();
    /// queue.put(1).unwrap();
    /// assert!(!queue.join_timeout(Duration::from_millis(2)));
    /// ```
    #[track_caller]
    pub fn join_timeout(&self, timeout: Duration) -> bool {
        self.core.join(Some(timeout))
    }
}

impl<T: Ord + Clone> PriorityQueue<T> {
    /// A clone of the smallest item, which stays in the queue, waiting while the
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
    /// let queue = greenlet::sync::PriorityQueue::unbounded();
    /// queue.put(2).unwrap();
    /// queue.put(1).unwrap();
    /// assert_eq!(queue.peek(), Ok(1));
    /// assert_eq!(queue.len(), 2);
    /// ```
    #[track_caller]
    pub fn peek(&self) -> Result<T, GetError> {
        self.core.peek(None)
    }

    /// A clone of the smallest item if there is one; never blocks.
    ///
    /// # Errors
    ///
    /// As [`try_get`](Self::try_get).
    ///
    /// # Examples
    ///
    /// ```
    /// let queue = greenlet::sync::PriorityQueue::unbounded();
    /// assert!(queue.try_peek().is_err());
    /// queue.put(1).unwrap();
    /// assert_eq!(queue.try_peek(), Ok(1));
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
    /// let queue = greenlet::sync::PriorityQueue::<u8>::unbounded();
    /// assert!(queue.peek_timeout(Duration::from_millis(2)).is_err());
    /// ```
    #[track_caller]
    pub fn peek_timeout(&self, timeout: Duration) -> Result<T, GetError> {
        self.core.peek(Some(timeout))
    }
}

/// The iterator of [`PriorityQueue::iter`]: it [`get`](PriorityQueue::get)s items,
/// waiting for each, until the queue is closed and empty.
///
/// # Examples
///
/// ```
/// let queue = greenlet::sync::PriorityQueue::unbounded();
/// queue.put(1).unwrap();
/// queue.close();
/// let mut items = queue.iter();
/// assert_eq!(items.next(), Some(1));
/// assert_eq!(items.next(), None);
/// ```
pub struct PriorityIter<T: Ord> {
    queue: PriorityQueue<T>,
}

queue_impls!(PriorityQueue, PriorityIter where T: Ord);
