//! `Queue`: a FIFO queue of items between greenlets, bounded or not, that
//! can be closed and joined.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use super::error::{GetError, PutError};
use super::handoff::{Handoff, Store};
use super::wait_queue::{WaitError, WaitQueue};

/// A queue's [`Store`]: a buffer of items, and putters waiting for room.
///
/// # Invariants
///
/// - A getter waits only while `items` is empty, and an item goes to the
///   buffer only when no getter waits: so `items` and the core's getters
///   are never both non-empty, and taking from the buffer overtakes nobody.
/// - A putter waits only while the queue is full, and every slot that frees
///   while putters wait is handed to the first of them (counted in
///   `reserved` until it uses it): so while putters wait the queue stays
///   full, and a newcomer cannot overtake them.
struct Buffer<T> {
    /// Items that no getter has been handed yet, in FIFO order.
    items: RefCell<VecDeque<T>>,
    /// Items handed to a waiting getter that has not taken it yet.
    in_flight: Cell<usize>,
    /// Slots handed to a waiting putter that has not used it yet.
    reserved: Cell<usize>,
    /// `Some(n)` for [`Queue::bounded`].
    bound: Option<usize>,
    /// Items put and not yet marked done with [`Queue::task_done`].
    unfinished: Cell<usize>,
    /// Putters of a full bounded queue waiting for a slot (`true`), or to
    /// hear that the queue is closed (`false`).
    putters: WaitQueue<bool>,
    /// [`Queue::join`]ers, woken when `unfinished` drops to zero.
    joiners: WaitQueue<()>,
}

impl<T> Buffer<T> {
    /// What counts against the bound: buffered, in flight and reserved.
    fn held(&self) -> usize {
        self.items.borrow().len() + self.in_flight.get() + self.reserved.get()
    }

    /// Whether a newcomer may put an item now without overtaking anyone.
    #[inline]
    fn has_room(&self) -> bool {
        // Putters wait only on a bounded queue.
        self.bound
            .is_none_or(|bound| self.putters.is_empty() && self.held() < bound)
    }
}

/// The state that a queue's handles share.
type Inner<T> = Handoff<T, Buffer<T>>;

impl<T> Inner<T> {
    /// Puts `item` in (room is known): to the first waiting getter, else to
    /// the back of the buffer.
    fn push(&self, item: T) {
        let buffer = self.store();
        buffer.unfinished.set(buffer.unfinished.get() + 1);
        if let Err(item) = self.hand_to_getter(item) {
            buffer.items.borrow_mut().push_back(item);
        } else {
            buffer.in_flight.set(buffer.in_flight.get() + 1);
        }
    }

    /// One item left the queue: its slot goes to the first blocked putter.
    #[inline]
    fn free_slot(&self) {
        if self.store().bound.is_some() {
            self.free_bounded_slot();
        }
    }

    #[inline(never)]
    fn free_bounded_slot(&self) {
        let buffer = self.store();
        if !self.is_closed() && buffer.putters.notify_one(true).is_ok() {
            buffer.reserved.set(buffer.reserved.get() + 1);
        }
    }

    /// A slot handed to a putter that left without using it: to the next.
    fn return_slot(&self) {
        let buffer = self.store();
        buffer.reserved.set(buffer.reserved.get() - 1);
        self.free_slot();
    }
}

impl<T> Store<T> for Buffer<T> {
    const GET: &'static str = "Queue::get";

    fn try_put(queue: &Inner<T>, item: T) -> Result<(), T> {
        if queue.store().has_room() {
            queue.push(item);
            Ok(())
        } else {
            Err(item)
        }
    }

    #[track_caller]
    fn wait_put(queue: &Inner<T>, item: T, timeout: Option<Duration>) -> Result<(), PutError<T>> {
        let buffer = queue.store();
        let granted = buffer.putters.wait("Queue::put", timeout, |granted| {
            if granted {
                queue.return_slot();
            }
        });
        match granted {
            Ok(true) if !queue.is_closed() => {
                buffer.reserved.set(buffer.reserved.get() - 1);
                queue.push(item);
                Ok(())
            }
            Ok(true) => {
                // Closed after the slot was handed over: no item enters now.
                buffer.reserved.set(buffer.reserved.get() - 1);
                Err(PutError::Closed(item))
            }
            Ok(false) => Err(PutError::Closed(item)),
            Err(WaitError::TimedOut) => Err(PutError::TimedOut(item)),
        }
    }

    fn take(queue: &Inner<T>) -> Option<T> {
        let item = queue.store().items.borrow_mut().pop_front()?;
        queue.free_slot();
        Some(item)
    }

    fn taken(queue: &Inner<T>) {
        let buffer = queue.store();
        buffer.in_flight.set(buffer.in_flight.get() - 1);
        queue.free_slot();
    }

    /// Back to the front of the buffer, ahead of every item put after it.
    fn keep(queue: &Inner<T>, item: T) {
        let buffer = queue.store();
        buffer.in_flight.set(buffer.in_flight.get() - 1);
        buffer.items.borrow_mut().push_front(item);
    }

    fn close(queue: &Inner<T>) {
        while queue.store().putters.notify_one(false).is_ok() {}
    }
}

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
    inner: Rc<Inner<T>>,
}

impl<T> Queue<T> {
    fn with_bound(bound: Option<usize>) -> Queue<T> {
        Queue {
            inner: Rc::new(Handoff::new(Buffer {
                items: RefCell::new(VecDeque::new()),
                in_flight: Cell::new(0),
                reserved: Cell::new(0),
                bound,
                unfinished: Cell::new(0),
                putters: WaitQueue::new(),
                joiners: WaitQueue::new(),
            })),
        }
    }

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
        Queue::with_bound(None)
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
        assert!(
            bound >= 1,
            "Queue::bounded(0): a queue must hold at least one item (a Channel holds none)"
        );
        Queue::with_bound(Some(bound))
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
    #[track_caller]
    pub fn put(&self, item: T) -> Result<(), PutError<T>> {
        self.inner.put(item, None)
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
        self.inner.try_put(item)
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
        self.inner.put(item, Some(timeout))
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
        self.inner.get(None)
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
        self.inner.try_get()
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
        self.inner.get(Some(timeout))
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
        let buffer = self.inner.store();
        buffer.items.borrow().len() + buffer.in_flight.get()
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
        self.inner.store().bound
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
        self.inner.close();
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
        self.inner.is_closed()
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
        let buffer = self.inner.store();
        let unfinished = buffer.unfinished.get();
        assert!(
            unfinished > 0,
            "Queue::task_done called more times than items were put"
        );
        buffer.unfinished.set(unfinished - 1);
        if unfinished == 1 {
            buffer.joiners.notify_all(&());
        }
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
        self.inner.store().unfinished.get()
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
        if self.unfinished() > 0 {
            let _ = self
                .inner
                .store()
                .joiners
                .wait("Queue::join", None, |()| {});
        }
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
        self.unfinished() == 0
            || self
                .inner
                .store()
                .joiners
                .wait("Queue::join", Some(timeout), |()| {})
                .is_ok()
    }
}

impl<T> Clone for Queue<T> {
    fn clone(&self) -> Self {
        Queue {
            inner: self.inner.clone(),
        }
    }
}

impl<T> Default for Queue<T> {
    /// An [`unbounded`](Queue::unbounded) queue.
    fn default() -> Self {
        Queue::unbounded()
    }
}

impl<T> fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let buffer = self.inner.store();
        f.debug_struct("Queue")
            .field("len", &self.len())
            .field("bound", &buffer.bound)
            .field("closed", &self.inner.is_closed())
            .field("unfinished", &buffer.unfinished.get())
            .field("getters", &self.inner.getters())
            .field("putters", &buffer.putters.len())
            .finish()
    }
}

impl<T> IntoIterator for &Queue<T> {
    type Item = T;
    type IntoIter = Iter<T>;

    fn into_iter(self) -> Iter<T> {
        self.iter()
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

impl<T> Iterator for Iter<T> {
    type Item = T;

    #[track_caller]
    fn next(&mut self) -> Option<T> {
        self.queue.get().ok()
    }
}

impl<T> fmt::Debug for Iter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Iter").field(&self.queue).finish()
    }
}
