//! The core that [`Queue`](super::Queue), [`LifoQueue`](super::LifoQueue)
//! and [`PriorityQueue`](super::PriorityQueue) share: a [`Store`] that
//! buffers items in an [`Order`], with a bound, putters waiting for room
//! and `task_done`/`join`, and the handle each queue type wraps. The queue
//! types differ only in their order and their docs.
//!
//! Ground rules: the handles reach the buffer only through [`QueueCore`]'s
//! methods, so each public method is one call.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use super::error::{GetError, PutError};
use super::handoff::{Handoff, Peek, Store};
use super::order::Order;
use super::wait_queue::{WaitError, WaitQueue};
use super::watchers::Watchers;
use crate::hub::Waiter;

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
pub(super) struct Buffer<O> {
    /// Items that no getter has been handed yet, in their order.
    items: RefCell<O>,
    /// Items handed to a waiting getter that has not taken it yet.
    in_flight: Cell<usize>,
    /// Slots handed to a waiting putter that has not used it yet.
    reserved: Cell<usize>,
    /// `Some(n)` for a bounded queue.
    bound: Option<usize>,
    /// Items put and not yet marked done with `task_done`.
    unfinished: Cell<usize>,
    /// Putters of a full bounded queue waiting for a slot (`true`), or to
    /// hear that the queue is closed (`false`).
    putters: WaitQueue<bool>,
    /// `join`ers, woken when `unfinished` drops to zero.
    joiners: WaitQueue<()>,
    /// `greenlet::wait` calls watching for an item or the close.
    watchers: Watchers,
}

impl<O: Order> Buffer<O> {
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
type Inner<O> = Handoff<<O as Order>::Item, Buffer<O>>;

impl<O: Order> Inner<O> {
    /// Puts `item` in (room is known): to the first waiting getter, else
    /// into the buffer.
    fn push(&self, item: O::Item) {
        let buffer = self.store();
        buffer.unfinished.set(buffer.unfinished.get() + 1);
        if let Err(item) = self.hand_to_getter(item) {
            buffer.items.borrow_mut().push(item);
            buffer.watchers.wake_all();
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

impl<O: Order> Store<O::Item> for Buffer<O> {
    const GET: &'static str = O::NAMES.get;

    fn try_put(queue: &Inner<O>, item: O::Item) -> Result<(), O::Item> {
        if queue.store().has_room() {
            queue.push(item);
            Ok(())
        } else {
            Err(item)
        }
    }

    fn wait_put(
        queue: &Inner<O>,
        item: O::Item,
        timeout: Option<Duration>,
    ) -> Result<(), PutError<O::Item>> {
        let buffer = queue.store();
        let granted = buffer.putters.wait(O::NAMES.put, timeout, |granted| {
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

    fn take(queue: &Inner<O>) -> Option<O::Item> {
        let item = queue.store().items.borrow_mut().pop()?;
        queue.free_slot();
        Some(item)
    }

    fn taken(queue: &Inner<O>) {
        let buffer = queue.store();
        buffer.in_flight.set(buffer.in_flight.get() - 1);
        queue.free_slot();
    }

    /// Back into the buffer, to come out next.
    fn keep(queue: &Inner<O>, item: O::Item) {
        let buffer = queue.store();
        buffer.in_flight.set(buffer.in_flight.get() - 1);
        buffer.items.borrow_mut().restore(item);
    }

    fn close(queue: &Inner<O>) {
        while queue.store().putters.notify_one(false).is_ok() {}
        queue.store().watchers.wake_all();
    }
}

impl<O: Order> Peek<O::Item> for Buffer<O> {
    const PEEK: &'static str = O::NAMES.peek;

    fn front(queue: &Inner<O>) -> Option<O::Item>
    where
        O::Item: Clone,
    {
        queue.store().items.borrow().front().cloned()
    }
}

/// What a queue handle holds: the shared state, with every operation of
/// the public queue types, each of which wraps one of these.
pub(super) struct QueueCore<O: Order> {
    inner: Rc<Inner<O>>,
}

impl<O: Order> QueueCore<O> {
    /// A new queue holding at most `bound` items (`None`: no bound).
    ///
    /// # Panics
    ///
    /// Panics if `bound` is `Some(0)`, naming the queue type `kind`.
    #[track_caller]
    pub(super) fn new(bound: Option<usize>, kind: &str) -> Self {
        assert!(
            bound != Some(0),
            "{kind}::bounded(0): a queue must hold at least one item (a Channel holds none)"
        );
        QueueCore {
            inner: Rc::new(Handoff::new(Buffer {
                items: RefCell::new(O::default()),
                in_flight: Cell::new(0),
                reserved: Cell::new(0),
                bound,
                unfinished: Cell::new(0),
                putters: WaitQueue::new(),
                joiners: WaitQueue::new(),
                watchers: Watchers::new(),
            })),
        }
    }

    #[inline]
    #[track_caller]
    pub(super) fn put(
        &self,
        item: O::Item,
        timeout: Option<Duration>,
    ) -> Result<(), PutError<O::Item>> {
        self.inner.put(item, timeout)
    }

    pub(super) fn try_put(&self, item: O::Item) -> Result<(), PutError<O::Item>> {
        self.inner.try_put(item)
    }

    #[inline]
    #[track_caller]
    pub(super) fn get(&self, timeout: Option<Duration>) -> Result<O::Item, GetError> {
        self.inner.get(timeout)
    }

    pub(super) fn try_get(&self) -> Result<O::Item, GetError> {
        self.inner.try_get()
    }

    /// Items buffered, and handed to a getter that has not run yet.
    pub(super) fn len(&self) -> usize {
        let buffer = self.inner.store();
        buffer.items.borrow().len() + buffer.in_flight.get()
    }

    pub(super) fn bound(&self) -> Option<usize> {
        self.inner.store().bound
    }

    pub(super) fn close(&self) {
        self.inner.close();
    }

    pub(super) fn is_closed(&self) -> bool {
        self.inner.is_closed()
    }

    /// Adds a `greenlet::wait` watching for an item or the close.
    pub(super) fn watch(&self, waiter: Waiter) {
        self.inner.store().watchers.add(waiter);
    }

    /// # Panics
    ///
    /// Panics if called more times than items were put, naming `kind`.
    #[track_caller]
    pub(super) fn task_done(&self, kind: &str) {
        let buffer = self.inner.store();
        let unfinished = buffer.unfinished.get();
        assert!(
            unfinished > 0,
            "{kind}::task_done called more times than items were put"
        );
        buffer.unfinished.set(unfinished - 1);
        if unfinished == 1 {
            buffer.joiners.notify_all(&());
        }
    }

    pub(super) fn unfinished(&self) -> usize {
        self.inner.store().unfinished.get()
    }

    /// Waits at most `timeout` (`None`: no limit) until no item is
    /// unfinished; returns whether none is.
    #[track_caller]
    pub(super) fn join(&self, timeout: Option<Duration>) -> bool {
        self.unfinished() == 0
            || self
                .inner
                .store()
                .joiners
                .wait(O::NAMES.join, timeout, |()| {})
                .is_ok()
    }

    /// The handle's `Debug` form, named `kind`.
    pub(super) fn debug(&self, f: &mut fmt::Formatter<'_>, kind: &str) -> fmt::Result {
        let buffer = self.inner.store();
        f.debug_struct(kind)
            .field("len", &self.len())
            .field("bound", &buffer.bound)
            .field("closed", &self.inner.is_closed())
            .field("unfinished", &buffer.unfinished.get())
            .field("getters", &self.inner.getters())
            .field("putters", &buffer.putters.len())
            .finish()
    }
}

impl<O: Order> QueueCore<O>
where
    O::Item: Clone,
{
    #[track_caller]
    pub(super) fn peek(&self, timeout: Option<Duration>) -> Result<O::Item, GetError> {
        self.inner.peek(timeout)
    }

    pub(super) fn try_peek(&self) -> Result<O::Item, GetError> {
        self.inner.try_peek()
    }
}

impl<O: Order> Clone for QueueCore<O> {
    fn clone(&self) -> Self {
        QueueCore {
            inner: self.inner.clone(),
        }
    }
}

/// The trait impls every queue type has, generated once (with the
/// `watch` that `greenlet::wait` uses): `Clone` (clones
/// share the queue), `Default` (unbounded), `Debug`, and an iterator that
/// gets items until the queue is closed and empty, with `IntoIterator` for
/// a reference to the queue.
///
/// `queue_impls!(Queue, Iter)` for a `Queue<T>` holding a
/// `core: QueueCore<_>` and a declared `Iter<T>` holding `queue: Queue<T>`;
/// `where T: Bound` after the names adds a bound on `T`.
macro_rules! queue_impls {
    ($queue:ident, $iter:ident $(where T: $bound:path)?) => {
        impl<T $(: $bound)?> $queue<T> {
            /// Adds a `greenlet::wait` watching for an item or the close.
            pub(crate) fn watch(&self, waiter: crate::hub::Waiter) {
                self.core.watch(waiter);
            }
        }

        impl<T $(: $bound)?> Clone for $queue<T> {
            fn clone(&self) -> Self {
                $queue {
                    core: self.core.clone(),
                }
            }
        }

        impl<T $(: $bound)?> Default for $queue<T> {
            /// An unbounded queue.
            fn default() -> Self {
                $queue::unbounded()
            }
        }

        impl<T $(: $bound)?> std::fmt::Debug for $queue<T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.core.debug(f, stringify!($queue))
            }
        }

        impl<'a, T $(: $bound)?> IntoIterator for &'a $queue<T> {
            type Item = T;
            type IntoIter = $iter<T>;

            fn into_iter(self) -> $iter<T> {
                self.iter()
            }
        }

        impl<T $(: $bound)?> Iterator for $iter<T> {
            type Item = T;

            #[track_caller]
            fn next(&mut self) -> Option<T> {
                self.queue.get().ok()
            }
        }

        impl<T $(: $bound)?> std::fmt::Debug for $iter<T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_tuple(stringify!($iter)).field(&self.queue).finish()
            }
        }
    };
}

pub(super) use queue_impls;
