//! `Queue`: a FIFO queue of items between greenlets, bounded or not, that
//! can be closed and joined.

use std::time::Duration;

use super::buffer::{QueueCore, queue_impls};
use super::error::{GetError, PutError};
use super::order::Fifo;

/// A FIFO queue of items between greenlets (and the main context): gevent's
/// `Queue` and `JoinableQueue`, with many producers and many consumers.
///
/// A queue is [`unbounded`](Self::unbounded) or [`bounded`](Self::bounded);
/// [`put`](Self::put) waits while a bounded queue is full and
/// [`get`](Self::get) waits while the queue is empty. Both sides are served
/// in FIFO order, and nothing is lost on the way:
///
/// - An item put while getters wait is handed straight to the first of them.
///   If that getter is killed (or its outer timeout expires) before it takes
///   the item, the item goes to the next waiting getter, or back to the
///   front of the queue, ahead of the items put after it.
/// - A slot that frees in a full bounded queue is handed to the first
///   blocked putter; one that is killed first passes it on.
///
/// [`peek`](Self::peek) waits as a get does but leaves the item in place.
/// [`close`](Self::close) ends the stream: getters drain what is left and
/// then get [`GetError::Closed`]; putters get [`PutError::Closed`] with
/// their item. [`task_done`](Self::task_done) and [`join`](Self::join) let
/// a producer wait until every item put has been processed.
///
/// A `Queue` is a cheap handle: clones share one queue.
///
/// # Examples
///
/// ```
/// use greenlet::sync::Queue;
///
/// let queue = Queue::bounded(2);
/// let consumer = {
///     let queue = queue.clone();
///     greenlet::spawn(move || queue.iter().sum::<u32>())
/// };
/// for n in 1..=10 {
///     queue.put(n)?; // waits while two items are queued
/// }
/// queue.close();
/// assert_eq!(consumer.join().unwrap(), 55);
/// # Ok::<(), greenlet::sync::PutError<u32>>(())
/// ```
pub struct Queue<T> {
    core: QueueCore<Fifo<T>>,
}

impl<T> Queue<T> {
    /// A queue without a bound: [`put`](Self::put) never waits.
    ///
    /// # Examples
    ///
    /// ```
    /// let queue = greenlet::sync::Queue::unbounded();
    /// for n in 0..1000 {
    ///     queue.put(n).unwrap();
    /// }
    /// assert_eq!(queue.len(), 1000);
    /// ```
    pub fn unbounded() -> Queue<T> {
        Queue {
            core: QueueCore::new(None, "Queue"),
        }
    }

    /// A queue that holds at most `bound` items: [`put`](Self::put) waits
    /// while it is full.
    ///
    /// An item handed to a getter that has not run yet still counts against
    /// the bound until the getter takes it.
    ///
    /// # Panics
    ///
    /// Panics if `bound` is 0. A queue that holds nothing, where every put
    /// waits for a getter, is a [`Channel`](super::Channel).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::sync::{PutError, Queue};
    ///
    /// let queue = Queue::bounded(1);
    /// queue.put('a').unwrap();
    /// assert!(matches!(queue.try_put('b'), Err(PutError::Full('b'))));
    /// ```
    #[track_caller]
    pub fn bounded(bound: usize) -> Queue<T> {
        Queue {
            core: QueueCore::new(Some(bound), "Queue"),
        }
    }

    /// Puts `item` at the back of the queue, waiting (FIFO) while a bounded
    /// queue is full. If getters wait, the first of them gets the item.
    ///
    /// # Errors
    ///
    /// [`PutError::Closed`], with the item, if the queue is closed, or is
    /// closed while the call waits.
    ///
    /// # Panics
    ///
    /// Unwinds the caller if it is killed or its timeout expires while it
    /// waits; its item is dropped, and a slot handed to it meanwhile passes
    /// to the next putter. In the main context, panics with the deadlock
    /// report when no greenlet could ever make room.
    ///
    /// # Examples
    ///
    /// ```
    /// let queue = greenlet::sync::Queue::bounded(1);
    /// queue.put(1)?;
    /// let taker = {
    ///     let queue = queue.clone();
    ///     greenlet::spawn(move || queue.get())
    /// };
    /// queue.put(2)?; // waits until the taker makes room
    /// assert_eq!(taker.join().unwrap(), Ok(1));
    /// assert_eq!(queue.get(), Ok(2));
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
    /// use greenlet::sync::{PutError, Queue};
    ///
    /// let queue = Queue::bounded(1);
    /// assert!(queue.try_put(1).is_ok());
    /// assert!(matches!(queue.try_put(2), Err(PutError::Full(2))));
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
    /// use greenlet::sync::{PutError, Queue};
    ///
    /// let queue = Queue::bounded(1);
    /// queue.put_timeout(1, Duration::from_millis(2)).unwrap();
    /// let err = queue.put_timeout(2, Duration::from_millis(2)).unwrap_err();
    /// assert!(matches!(err, PutError::TimedOut(2)));
    /// ```
    #[track_caller]
    pub fn put_timeout(&self, item: T, timeout: Duration) -> Result<(), PutError<T>> {
        self.core.put(item, Some(timeout))
    }

    /// Takes the item at the front of the queue, waiting (FIFO) while the
    /// queue is empty.
    ///
    /// # Errors
    ///
    /// [`GetError::Closed`] once the queue is closed and empty, including
    /// when it is closed while the call waits.
    ///
    /// # Panics
    ///
    /// Unwinds the caller if it is killed or its timeout expires while it
    /// waits; an item handed to it meanwhile goes to the next getter, or
    /// back to the front of the queue. In the main context, panics with the
    /// deadlock report when no greenlet could ever put an item.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::sync::Queue;
    ///
    /// let queue = Queue::unbounded();
    /// let producer = queue.clone();
    /// greenlet::spawn(move || producer.put("hello").unwrap());
    /// assert_eq!(queue.get(), Ok("hello")); // runs the producer meanwhile
    /// ```
    #[inline]
    #[track_caller]
    pub fn get(&self) -> Result<T, GetError> {
        self.core.get(None)
    }

    /// Takes the item at the front of the queue if there is one; never
    /// blocks.
    ///
    /// An item already handed to a waiting getter that has not run yet is
    /// that getter's: it is not available here, although
    /// [`len`](Self::len) counts it.
    ///
    /// # Errors
    ///
    /// [`GetError::Empty`] if the queue is empty, [`GetError::Closed`] if it
    /// is also closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::sync::{GetError, Queue};
    ///
    /// let queue = Queue::unbounded();
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
    /// use greenlet::sync::{GetError, Queue};
    ///
    /// let queue = Queue::<u8>::unbounded();
    /// assert_eq!(queue.get_timeout(Duration::from_millis(2)), Err(GetError::TimedOut));
    /// ```
    #[track_caller]
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, GetError> {
        self.core.get(Some(timeout))
    }

    /// How many items are in the queue: those waiting to be taken, and
    /// those handed to a getter that has not run yet.
    ///
    /// # Examples
    ///
    /// ```
    /// let queue = greenlet::sync::Queue::unbounded();
    /// queue.put(()).unwrap();
    /// queue.put(()).unwrap();
    /// assert_eq!(queue.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.core.len()
    }

    /// Whether [`len`](Self::len) is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// let queue = greenlet::sync::Queue::unbounded();
    /// assert!(queue.is_empty());
    /// queue.put(1).unwrap();
    /// assert!(!queue.is_empty());
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
    /// use greenlet::sync::Queue;
    ///
    /// assert_eq!(Queue::<u8>::bounded(4).bound(), Some(4));
    /// assert_eq!(Queue::<u8>::unbounded().bound(), None);
    /// ```
    pub fn bound(&self) -> Option<usize> {
        self.core.bound()
    }

    /// Closes the queue: it takes no more items. Getters drain the items
    /// left, then get [`GetError::Closed`]; getters waiting on an empty
    /// queue wake with it now. Blocked putters wake with
    /// [`PutError::Closed`] and their item, and later puts fail the same
    /// way. Closing a closed queue does nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::sync::{GetError, PutError, Queue};
    ///
    /// let queue = Queue::unbounded();
    /// queue.put(1).unwrap();
    /// queue.close();
    /// assert!(matches!(queue.put(2), Err(PutError::Closed(2))));
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
    /// let queue = greenlet::sync::Queue::<u8>::unbounded();
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
    /// let queue = greenlet::sync::Queue::unbounded();
    /// let producer = queue.clone();
    /// greenlet::spawn(move || {
    ///     for word in ["a", "b", "c"] {
    ///         producer.put(word).unwrap();
    ///     }
    ///     producer.close();
    /// });
    /// assert_eq!(queue.iter().collect::<Vec<_>>(), ["a", "b", "c"]);
    /// ```
    #[track_caller]
    pub fn iter(&self) -> Iter<T> {
        Iter {
            queue: self.clone(),
        }
    }

    /// Marks one item as processed: gevent's `JoinableQueue.task_done`.
    /// Every successful put counts one unfinished item; when the count
    /// drops to 0, every [`join`](Self::join)er wakes.
    ///
    /// # Panics
    ///
    /// Panics if called more times than items were put.
    ///
    /// # Examples
    ///
    /// ```
    /// let queue = greenlet::sync::Queue::unbounded();
    /// queue.put("job").unwrap();
    /// let job = queue.get().unwrap();
    /// assert_eq!(queue.unfinished(), 1);
    /// println!("done: {job}");
    /// queue.task_done();
    /// assert_eq!(queue.unfinished(), 0);
    /// ```
    #[track_caller]
    pub fn task_done(&self) {
        self.core.task_done("Queue");
    }

    /// How many items were put and not yet marked done with
    /// [`task_done`](Self::task_done).
    ///
    /// # Examples
    ///
    /// ```
    /// let queue = greenlet::sync::Queue::unbounded();
    /// queue.put(1).unwrap();
    /// queue.put(2).unwrap();
    /// assert_eq!(queue.unfinished(), 2);
    /// ```
    pub fn unfinished(&self) -> usize {
        self.core.unfinished()
    }

    /// Waits until every item put has been marked done with
    /// [`task_done`](Self::task_done) (at once if none is unfinished).
    ///
    /// # Panics
    ///
    /// Unwinds the caller if it is killed or its timeout expires while it
    /// waits. In the main context, panics with the deadlock report when no
    /// greenlet could ever finish the work.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::sync::Queue;
    ///
    /// let queue = Queue::unbounded();
    /// let worker = queue.clone();
    /// greenlet::spawn(move || {
    ///     for job in &worker {
    ///         let _: u32 = job;
    ///         worker.task_done();
    ///     }
    /// });
    /// for job in 0..5 {
    ///     queue.put(job).unwrap();
    /// }
    /// queue.join(); // the worker processes all five meanwhile
    /// assert_eq!(queue.unfinished(), 0);
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
    /// let queue = greenlet::sync::Queue::unbounded();
    /// assert!(queue.join_timeout(Duration::from_millis(2)));
    /// queue.put(1).unwrap();
    /// assert!(!queue.join_timeout(Duration::from_millis(2)));
    /// ```
    #[track_caller]
    pub fn join_timeout(&self, timeout: Duration) -> bool {
        self.core.join(Some(timeout))
    }
}

impl<T: Clone> Queue<T> {
    /// A clone of the item at the front of the queue, which stays there,
    /// waiting while the queue is empty: gevent's `Queue.peek`.
    ///
    /// A peeker waits in line with the getters. An item put while it waits
    /// is handed to it as to a getter, and once cloned goes on to the next
    /// waiting getter (or back to the front of the queue): a peek takes
    /// nothing, and the getters behind it keep their order.
    ///
    /// # Errors
    ///
    /// [`GetError::Closed`] once the queue is closed and empty, including
    /// when it is closed while the call waits.
    ///
    /// # Panics
    ///
    /// Unwinds the caller if it is killed or its timeout expires while it
    /// waits; an item handed to it meanwhile goes on as above. In the main
    /// context, panics with the deadlock report when no greenlet could ever
    /// put an item.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::sync::Queue;
    ///
    /// let queue = Queue::unbounded();
    /// let producer = queue.clone();
    /// greenlet::spawn(move || producer.put("first").unwrap());
    /// assert_eq!(queue.peek(), Ok("first")); // runs the producer meanwhile
    /// assert_eq!(queue.len(), 1);
    /// assert_eq!(queue.get(), Ok("first"));
    /// ```
    #[track_caller]
    pub fn peek(&self) -> Result<T, GetError> {
        self.core.peek(None)
    }

    /// A clone of the item at the front of the queue if there is one; never
    /// blocks.
    ///
    /// # Errors
    ///
    /// [`GetError::Empty`] if the queue is empty, [`GetError::Closed`] if it
    /// is also closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::sync::{GetError, Queue};
    ///
    /// let queue = Queue::unbounded();
    /// assert_eq!(queue.try_peek(), Err(GetError::Empty));
    /// queue.put(1).unwrap();
    /// queue.put(2).unwrap();
    /// assert_eq!(queue.try_peek(), Ok(1));
    /// assert_eq!(queue.len(), 2);
    /// ```
    pub fn try_peek(&self) -> Result<T, GetError> {
        self.core.try_peek()
    }

    /// As [`peek`](Self::peek), but waits at most `timeout` for an item.
    ///
    /// # Errors
    ///
    /// [`GetError::TimedOut`] if the timeout passes first,
    /// [`GetError::Closed`] as for [`peek`](Self::peek).
    ///
    /// # Panics
    ///
    /// As [`peek`](Self::peek).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use greenlet::sync::{GetError, Queue};
    ///
    /// let queue = Queue::<u8>::unbounded();
    /// assert_eq!(queue.peek_timeout(Duration::from_millis(2)), Err(GetError::TimedOut));
    /// ```
    #[track_caller]
    pub fn peek_timeout(&self, timeout: Duration) -> Result<T, GetError> {
        self.core.peek(Some(timeout))
    }
}

/// The iterator of [`Queue::iter`]: it [`get`](Queue::get)s items, waiting
/// for each, until the queue is closed and empty.
///
/// # Examples
///
/// ```
/// let queue = greenlet::sync::Queue::unbounded();
/// queue.put(1).unwrap();
/// queue.put(2).unwrap();
/// queue.close();
/// let mut items = queue.iter();
/// assert_eq!(items.next(), Some(1));
/// assert_eq!(items.next(), Some(2));
/// assert_eq!(items.next(), None);
/// ```
pub struct Iter<T> {
    queue: Queue<T>,
}

queue_impls!(Queue, Iter);
