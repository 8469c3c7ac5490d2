//! The core that the queues ([`Queue`](super::Queue),
//! [`LifoQueue`](super::LifoQueue), [`PriorityQueue`](super::PriorityQueue))
//! and [`Channel`](super::Channel) share: getters waiting in FIFO order for
//! an item handed to them, the closed flag, and the shape of every put, get,
//! peek and close. What differs between them, where an item waits for a
//! getter and how a putter waits, is a [`Store`].
//!
//! Ground rules: a store changes the getters and the closed flag only
//! through [`Handoff`]'s methods, and the handles reach the store only
//! through [`Handoff::store`].

use std::cell::Cell;
use std::time::Duration;

use super::error::{GetError, PutError};
use super::wait_queue::{WaitError, WaitQueue};

/// Where the items of a [`Handoff`] wait for a getter, and how its putters
/// wait: a queue's buffer, a channel's offers.
///
/// Its functions take the whole core, since a store hands items to the
/// core's getters and reads its closed flag.
pub(super) trait Store<T>: Sized {
    /// The name of a blocked get in deadlock reports, such as `"Queue::get"`.
    const GET: &'static str;

    /// Puts `item` in if that needs no wait and overtakes no waiting
    /// putter, handing it to the first waiting getter if there is one;
    /// gives it back otherwise. The core is open.
    ///
    /// # Errors
    ///
    /// The item, when the put would have to wait.
    fn try_put(core: &Handoff<T, Self>, item: T) -> Result<(), T>;

    /// Waits (FIFO) until `item` is in, when [`try_put`](Self::try_put)
    /// gave it back, or `timeout` passes (`None`: no limit).
    ///
    /// # Errors
    ///
    /// [`PutError::Closed`] or [`PutError::TimedOut`], with the item.
    #[track_caller]
    fn wait_put(
        core: &Handoff<T, Self>,
        item: T,
        timeout: Option<Duration>,
    ) -> Result<(), PutError<T>>;

    /// Takes the first item that waits for a getter, if any. The core calls
    /// it only when no getter waits, so it overtakes nobody.
    fn take(core: &Handoff<T, Self>) -> Option<T>;

    /// A getter took the item a put handed to it.
    fn taken(core: &Handoff<T, Self>);

    /// An item a put handed to a getter that left without it (killed, or
    /// its outer timeout expired), when no other getter waits: it waits at
    /// the front for the next get.
    fn keep(core: &Handoff<T, Self>, item: T);

    /// The core was just closed and its getters told: tells the putters.
    fn close(core: &Handoff<T, Self>);
}

/// A [`Store`] whose next item can be looked at without taking it (a
/// queue's buffer: a channel's items belong to waiting putters).
pub(super) trait Peek<T>: Store<T> {
    /// The name of a blocked peek in deadlock reports.
    const PEEK: &'static str;

    /// A clone of the item that [`Store::take`] would take, if any.
    fn front(core: &Handoff<T, Self>) -> Option<T>
    where
        T: Clone;
}

/// The state that the handles of one queue or channel share.
///
/// # Invariant
///
/// A getter waits only while the store holds no item for it, and a put
/// hands its item to the first waiting getter before the store may keep
/// it: so taking from the store overtakes no getter.
pub(super) struct Handoff<T, S> {
    /// Getters waiting for an item (`Some`), or to hear that the core is
    /// closed (`None`).
    getters: WaitQueue<Option<T>>,
    closed: Cell<bool>,
    store: S,
}

impl<T, S: Store<T>> Handoff<T, S> {
    pub(super) fn new(store: S) -> Self {
        Handoff {
            getters: WaitQueue::new(),
            closed: Cell::new(false),
            store,
        }
    }

    pub(super) fn store(&self) -> &S {
        &self.store
    }

    pub(super) fn is_closed(&self) -> bool {
        self.closed.get()
    }

    /// How many getters wait.
    pub(super) fn getters(&self) -> usize {
        self.getters.len()
    }

    /// Hands `item` to the first getter still waiting, and wakes it.
    ///
    /// # Errors
    ///
    /// Gives `item` back when no getter waits.
    pub(super) fn hand_to_getter(&self, item: T) -> Result<(), T> {
        match self.getters.notify_one(Some(item)) {
            Err(Some(item)) => Err(item),
            // `Err(None)` cannot happen: we offered `Some`.
            _ => Ok(()),
        }
    }

    /// Puts `item` in, waiting (FIFO) as the store does, at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`PutError::Closed`] if the core is closed, or is closed while the
    /// call waits; [`PutError::TimedOut`] if the timeout passes first.
    #[inline]
    #[track_caller]
    pub(super) fn put(&self, item: T, timeout: Option<Duration>) -> Result<(), PutError<T>> {
        if self.closed.get() {
            return Err(PutError::Closed(item));
        }
        match S::try_put(self, item) {
            Ok(()) => Ok(()),
            Err(item) => S::wait_put(self, item, timeout),
        }
    }

    /// Puts `item` in if that needs no wait.
    ///
    /// # Errors
    ///
    /// [`PutError::Full`] if the put would wait, [`PutError::Closed`] if
    /// the core is closed.
    pub(super) fn try_put(&self, item: T) -> Result<(), PutError<T>> {
        if self.closed.get() {
            return Err(PutError::Closed(item));
        }
        S::try_put(self, item).map_err(PutError::Full)
    }

    /// Takes an item, waiting (FIFO) at most `timeout` for one.
    ///
    /// # Errors
    ///
    /// [`GetError::Closed`] once the core is closed and holds no item,
    /// including when it is closed while the call waits;
    /// [`GetError::TimedOut`] if the timeout passes first.
    #[inline(always)]
    #[track_caller]
    pub(super) fn get(&self, timeout: Option<Duration>) -> Result<T, GetError> {
        if let Some(item) = S::take(self) {
            return Ok(item);
        }
        if self.closed.get() {
            return Err(GetError::Closed);
        }
        let got = self.getters.wait(S::GET, timeout, |got| {
            if let Some(item) = got {
                self.redeliver(item);
            }
        });
        match got {
            Ok(Some(item)) => {
                S::taken(self);
                Ok(item)
            }
            Ok(None) => Err(GetError::Closed),
            Err(WaitError::TimedOut) => Err(GetError::TimedOut),
        }
    }

    /// Takes an item if one waits for a getter.
    ///
    /// # Errors
    ///
    /// [`GetError::Empty`] if none does, [`GetError::Closed`] if the core
    /// is also closed.
    pub(super) fn try_get(&self) -> Result<T, GetError> {
        if let Some(item) = S::take(self) {
            Ok(item)
        } else if self.closed.get() {
            Err(GetError::Closed)
        } else {
            Err(GetError::Empty)
        }
    }

    /// Closes the core: waiting getters wake with [`GetError::Closed`],
    /// then the store tells its putters. Closing again does nothing.
    pub(super) fn close(&self) {
        if self.closed.replace(true) {
            return;
        }
        while self.getters.notify_one(None).is_ok() {}
        S::close(self);
    }

    /// An item handed to a getter that left without it: to the next
    /// waiting getter, else kept by the store.
    fn redeliver(&self, item: T) {
        if let Err(item) = self.hand_to_getter(item) {
            S::keep(self, item);
        }
    }
}

impl<T: Clone, S: Peek<T>> Handoff<T, S> {
    /// A clone of the item the next get would take, waiting (FIFO, in line
    /// with the getters) at most `timeout` for one.
    ///
    /// A peeker waits as a getter does. The item handed to it goes on to
    /// the next waiting getter, or is kept by the store, once cloned: so the
    /// peek takes nothing, and the getters behind it keep their order.
    ///
    /// # Errors
    ///
    /// As [`get`](Self::get).
    #[track_caller]
    pub(super) fn peek(&self, timeout: Option<Duration>) -> Result<T, GetError> {
        if let Some(item) = S::front(self) {
            return Ok(item);
        }
        if self.closed.get() {
            return Err(GetError::Closed);
        }
        let got = self.getters.wait(S::PEEK, timeout, |got| {
            if let Some(item) = got {
                self.redeliver(item);
            }
        });
        match got {
            Ok(Some(item)) => {
                // Redelivered when dropped, even if the clone panics.
                let back = GiveBack {
                    core: self,
                    item: Some(item),
                };
                Ok(back.item.clone().expect("the item just handed over"))
            }
            Ok(None) => Err(GetError::Closed),
            Err(WaitError::TimedOut) => Err(GetError::TimedOut),
        }
    }

    /// A clone of the item the next get would take, if there is one.
    ///
    /// # Errors
    ///
    /// As [`try_get`](Self::try_get).
    pub(super) fn try_peek(&self) -> Result<T, GetError> {
        match S::front(self) {
            Some(item) => Ok(item),
            None if self.closed.get() => Err(GetError::Closed),
            None => Err(GetError::Empty),
        }
    }
}

/// An item a peeker was handed: redelivered when dropped.
struct GiveBack<'a, T, S: Store<T>> {
    core: &'a Handoff<T, S>,
    item: Option<T>,
}

impl<T, S: Store<T>> Drop for GiveBack<'_, T, S> {
    fn drop(&mut self) {
        if let Some(item) = self.item.take() {
            self.core.redeliver(item);
        }
    }
}
