//! `Channel`: a rendezvous between greenlets, where every put meets a get.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use super::queue::{GetError, PutError};
use super::wait_queue::{WaitError, WaitQueue};

/// What a blocked putter offers: its item, which a getter takes, and where
/// the putter waits to hear that it was taken (`true`) or that the channel
/// was closed (`false`).
struct Offer<T> {
    item: Cell<Option<T>>,
    reply: WaitQueue<bool>,
}

/// An item waiting in the channel for a getter.
enum Pending<T> {
    /// Offered by a putter that waits until a getter takes it.
    Putter(Rc<Offer<T>>),
    /// Handed to a getter that left without taking it (killed, or its
    /// outer timeout expired) when no other getter waited. Its putter has
    /// returned already; the next getter takes it.
    Orphan(T),
}

/// The state that the handles share.
///
/// A getter waits only while no item is pending, and a put hands its item
/// to the first waiting getter if there is one: so `pending` holds live
/// offers only while no getter waits.
struct Inner<T> {
    /// Items offered, in FIFO order. An offer whose putter left (timed out
    /// or killed) stays until that putter removes it; getters skip it.
    pending: RefCell<VecDeque<Pending<T>>>,
    /// Getters waiting for an item (`Some`), or to hear that the channel is
    /// closed (`None`).
    getters: WaitQueue<Option<T>>,
    closed: Cell<bool>,
}

impl<T> Inner<T> {
    /// Takes the first pending item whose putter still waits (waking that
    /// putter), or the first orphan, whichever comes first.
    fn take_pending(&self) -> Option<T> {
        let mut pending = self.pending.borrow_mut();
        let at = pending.iter().position(|p| match p {
            Pending::Orphan(_) => true,
            Pending::Putter(offer) => offer.reply.notify_one(true).is_ok(),
        })?;
        match pending.remove(at)? {
            Pending::Orphan(item) => Some(item),
            Pending::Putter(offer) => offer.item.take(),
        }
    }

    /// An item handed to a getter that left without it: to the next waiting
    /// getter, else to the front of the channel as an orphan.
    fn redeliver(&self, item: T) {
        if let Err(Some(item)) = self.getters.notify_one(Some(item)) {
            self.pending.borrow_mut().push_front(Pending::Orphan(item));
        }
    }
}

/// Removes a putter's offer from the channel when the putter leaves without
/// a reply (it timed out, or unwinds).
struct Withdraw<'a, T> {
    inner: &'a Inner<T>,
    offer: &'a Rc<Offer<T>>,
    armed: bool,
}

impl<T> Drop for Withdraw<'_, T> {
    fn drop(&mut self) {
        if self.armed {
            self.inner
                .pending
                .borrow_mut()
                .retain(|p| !matches!(p, Pending::Putter(o) if Rc::ptr_eq(o, self.offer)));
        }
    }
}

/// A rendezvous channel between greenlets (and the main context): gevent's
/// `Channel`, a queue that holds nothing.
///
/// [`put`](Self::put) waits until a getter takes its item, and
/// [`get`](Self::get) waits until a putter offers one. Both sides are served
/// in FIFO order. A put that finds a getter waiting hands its item over and
/// returns at once; if that getter is killed (or its outer timeout expires)
/// before it takes the item, the item goes to the next waiting getter, or
/// waits at the front of the channel for the next get.
///
/// [`close`](Self::close) ends the stream: blocked and later putters get
/// [`PutError::Closed`] with their item; getters get [`GetError::Closed`]
/// once no item is left.
///
/// A `Channel` is a cheap handle: clones share one channel.
///
/// # Examples
///
/// ```
/// use std::{cell::RefCell, rc::Rc};
/// use greenlet::sync::Channel;
///
/// let channel = Channel::new();
/// let log = Rc::new(RefCell::new(Vec::new()));
/// let producer = {
///     let (channel, log) = (channel.clone(), log.clone());
///     greenlet::spawn(move || {
///         channel.put("ping").unwrap(); // waits for the get below
///         log.borrow_mut().push("taken");
///     })
/// };
/// greenlet::yield_now();
/// assert!(log.borrow().is_empty(), "nobody has taken the item yet");
/// assert_eq!(channel.get(), Ok("ping"));
/// producer.join().unwrap();
/// assert_eq!(*log.borrow(), ["taken"]);
/// ```
pub struct Channel<T> {
    inner: Rc<Inner<T>>,
}

impl<T> Channel<T> {
    /// A new, open channel.
    ///
    /// # Examples
    ///
    /// ```
    /// let channel = greenlet::sync::Channel::<u32>::new();
    /// assert!(channel.try_get().is_err());
    /// ```
    pub fn new() -> Channel<T> {
        Channel {
            inner: Rc::new(Inner {
                pending: RefCell::new(VecDeque::new()),
                getters: WaitQueue::new(),
                closed: Cell::new(false),
            }),
        }
    }

    /// Gives `item` to a getter, waiting (FIFO) until one takes it. If a
    /// getter waits already, the first of them gets the item and the call
    /// returns at once.
    ///
    /// # Errors
    ///
    /// [`PutError::Closed`], with the item, if the channel is closed, or is
    /// closed while the call waits.
    ///
    /// # Panics
    ///
    /// Unwinds the caller if it is killed or its timeout expires while it
    /// waits; its item, if no getter took it, is dropped. (A getter may take
    /// the item just before the kill: the item is then delivered, but the
    /// unwinding call cannot say so.) In the main context, panics with the
    /// deadlock report when no greenlet could ever take the item.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::sync::Channel;
    ///
    /// let channel = Channel::new();
    /// let getter = {
    ///     let channel = channel.clone();
    ///     greenlet::spawn(move || channel.get())
    /// };
    /// channel.put(42)?; // runs the getter meanwhile
    /// assert_eq!(getter.join().unwrap(), Ok(42));
    /// # Ok::<(), greenlet::sync::PutError<u32>>(())
    /// ```
    pub fn put(&self, item: T) -> Result<(), PutError<T>> {
        self.put_within(item, None)
    }

    /// Gives `item` to a getter if one waits now; never blocks.
    ///
    /// # Errors
    ///
    /// [`PutError::Full`] if no getter waits, [`PutError::Closed`] if the
    /// channel is closed; either way with the item.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::sync::{Channel, PutError};
    ///
    /// let channel = Channel::new();
    /// assert!(matches!(channel.try_put(1), Err(PutError::Full(1))));
    /// let getter = {
    ///     let channel = channel.clone();
    ///     greenlet::spawn(move || channel.get())
    /// };
    /// greenlet::yield_now(); // the getter waits
    /// channel.try_put(2).unwrap();
    /// assert_eq!(getter.join().unwrap(), Ok(2));
    /// ```
    pub fn try_put(&self, item: T) -> Result<(), PutError<T>> {
        let inner = &*self.inner;
        if inner.closed.get() {
            return Err(PutError::Closed(item));
        }
        match inner.getters.notify_one(Some(item)) {
            Err(Some(item)) => Err(PutError::Full(item)),
            _ => Ok(()),
        }
    }

    /// As [`put`](Self::put), but waits at most `timeout` for a getter to
    /// take the item.
    ///
    /// # Errors
    ///
    /// [`PutError::TimedOut`] if the timeout passes first (nobody took the
    /// item), [`PutError::Closed`] as for [`put`](Self::put); either way
    /// with the item.
    ///
    /// # Panics
    ///
    /// As [`put`](Self::put).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use greenlet::sync::{Channel, PutError};
    ///
    /// let channel = Channel::new();
    /// let err = channel.put_timeout("lost?", Duration::from_millis(2)).unwrap_err();
    /// assert!(matches!(err, PutError::TimedOut("lost?")));
    /// ```
    pub fn put_timeout(&self, item: T, timeout: Duration) -> Result<(), PutError<T>> {
        self.put_within(item, Some(timeout))
    }

    fn put_within(&self, item: T, timeout: Option<Duration>) -> Result<(), PutError<T>> {
        let inner = &*self.inner;
        if inner.closed.get() {
            return Err(PutError::Closed(item));
        }
        let Err(Some(item)) = inner.getters.notify_one(Some(item)) else {
            return Ok(());
        };
        let offer = Rc::new(Offer {
            item: Cell::new(Some(item)),
            reply: WaitQueue::new(),
        });
        inner
            .pending
            .borrow_mut()
            .push_back(Pending::Putter(offer.clone()));
        let mut withdraw = Withdraw {
            inner,
            offer: &offer,
            armed: true,
        };
        let reply = offer.reply.wait("Channel::put", timeout, |_| {});
        // A reply means whoever sent it removed the offer already.
        withdraw.armed = reply.is_err();
        drop(withdraw);
        let item_back = || offer.item.take().expect("an item nobody took");
        match reply {
            Ok(true) => Ok(()),
            Ok(false) => Err(PutError::Closed(item_back())),
            Err(WaitError::TimedOut) => Err(PutError::TimedOut(item_back())),
        }
    }

    /// Takes an item from a putter, waiting (FIFO) until one offers it.
    ///
    /// # Errors
    ///
    /// [`GetError::Closed`] once the channel is closed and no item is left,
    /// including when it is closed while the call waits.
    ///
    /// # Panics
    ///
    /// Unwinds the caller if it is killed or its timeout expires while it
    /// waits; an item handed to it meanwhile goes to the next getter. In the
    /// main context, panics with the deadlock report when no greenlet could
    /// ever put an item.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::sync::Channel;
    ///
    /// let channel = Channel::new();
    /// let putter = channel.clone();
    /// greenlet::spawn(move || putter.put("hi").unwrap());
    /// assert_eq!(channel.get(), Ok("hi"));
    /// ```
    pub fn get(&self) -> Result<T, GetError> {
        self.get_within(None)
    }

    /// Takes an item if a putter offers one now; never blocks.
    ///
    /// # Errors
    ///
    /// [`GetError::Empty`] if no putter waits, [`GetError::Closed`] if the
    /// channel is also closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::sync::{Channel, GetError};
    ///
    /// let channel = Channel::new();
    /// assert_eq!(channel.try_get(), Err(GetError::Empty));
    /// let putter = {
    ///     let channel = channel.clone();
    ///     greenlet::spawn(move || channel.put('x'))
    /// };
    /// greenlet::yield_now(); // the putter waits
    /// assert_eq!(channel.try_get(), Ok('x'));
    /// assert!(putter.join().unwrap().is_ok());
    /// ```
    pub fn try_get(&self) -> Result<T, GetError> {
        let inner = &*self.inner;
        if let Some(item) = inner.take_pending() {
            Ok(item)
        } else if inner.closed.get() {
            Err(GetError::Closed)
        } else {
            Err(GetError::Empty)
        }
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
    /// use greenlet::sync::{Channel, GetError};
    ///
    /// let channel = Channel::<u8>::new();
    /// assert_eq!(channel.get_timeout(Duration::from_millis(2)), Err(GetError::TimedOut));
    /// ```
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, GetError> {
        self.get_within(Some(timeout))
    }

    fn get_within(&self, timeout: Option<Duration>) -> Result<T, GetError> {
        let inner = &*self.inner;
        if let Some(item) = inner.take_pending() {
            return Ok(item);
        }
        if inner.closed.get() {
            return Err(GetError::Closed);
        }
        let got = inner.getters.wait("Channel::get", timeout, |got| {
            if let Some(item) = got {
                inner.redeliver(item);
            }
        });
        match got {
            Ok(Some(item)) => Ok(item),
            Ok(None) => Err(GetError::Closed),
            Err(WaitError::TimedOut) => Err(GetError::TimedOut),
        }
    }

    /// Closes the channel: blocked putters wake with [`PutError::Closed`]
    /// and their item, and later puts fail the same way; getters get what
    /// is left (an item handed to a getter that was killed), then
    /// [`GetError::Closed`]. Closing a closed channel does nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::sync::{Channel, GetError, PutError};
    ///
    /// let channel = Channel::new();
    /// let putter = {
    ///     let channel = channel.clone();
    ///     greenlet::spawn(move || channel.put(5))
    /// };
    /// greenlet::yield_now(); // the putter waits
    /// channel.close();
    /// assert!(matches!(putter.join().unwrap(), Err(PutError::Closed(5))));
    /// assert_eq!(channel.get(), Err(GetError::Closed));
    /// ```
    pub fn close(&self) {
        let inner = &*self.inner;
        if inner.closed.replace(true) {
            return;
        }
        while inner.getters.notify_one(None).is_ok() {}
        inner.pending.borrow_mut().retain(|p| match p {
            Pending::Orphan(_) => true,
            // A putter that is leaving anyway removes its own offer.
            Pending::Putter(offer) => offer.reply.notify_one(false).is_err(),
        });
    }

    /// Whether [`close`](Self::close) was called.
    ///
    /// # Examples
    ///
    /// ```
    /// let channel = greenlet::sync::Channel::<u8>::new();
    /// channel.close();
    /// assert!(channel.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.inner.closed.get()
    }
}

impl<T> Clone for Channel<T> {
    fn clone(&self) -> Self {
        Channel {
            inner: self.inner.clone(),
        }
    }
}

impl<T> Default for Channel<T> {
    fn default() -> Self {
        Channel::new()
    }
}

impl<T> fmt::Debug for Channel<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        f.debug_struct("Channel")
            .field("closed", &inner.closed.get())
            .field("pending", &inner.pending.borrow().len())
            .field("getters", &inner.getters.len())
            .finish()
    }
}
