//! `Channel`: a rendezvous between greenlets, where every put meets a get.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use super::error::{GetError, PutError};
use super::handoff::{Handoff, Store};
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

/// A channel's [`Store`]: items offered by waiting putters, and items
/// orphaned by getters that left without them. It holds live offers only
/// while no getter waits.
struct Offers<T> {
    /// Items offered, in FIFO order. An offer whose putter left (timed out
    /// or killed) stays until that putter removes it; getters skip it.
    pending: RefCell<VecDeque<Pending<T>>>,
}

/// The state that a channel's handles share.
type Inner<T> = Handoff<T, Offers<T>>;

impl<T> Store<T> for Offers<T> {
    const GET: &'static str = "Channel::get";

    fn try_put(channel: &Inner<T>, item: T) -> Result<(), T> {
        channel.hand_to_getter(item)
    }

    #[track_caller]
    fn wait_put(channel: &Inner<T>, item: T, timeout: Option<Duration>) -> Result<(), PutError<T>> {
        let offer = Rc::new(Offer {
            item: Cell::new(Some(item)),
            reply: WaitQueue::new(),
        });
        let offers = channel.store();
        offers
            .pending
            .borrow_mut()
            .push_back(Pending::Putter(offer.clone()));
        let mut withdraw = Withdraw {
            offers,
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

    /// The first pending item whose putter still waits (waking that
    /// putter), or the first orphan, whichever comes first.
    #[inline]
    fn take(channel: &Inner<T>) -> Option<T> {
        let mut pending = channel.store().pending.borrow_mut();
        // Checked first, inline: a getter most often finds no offer.
        if pending.is_empty() {
            return None;
        }
        let at = pending.iter().position(|p| match p {
            Pending::Orphan(_) => true,
            Pending::Putter(offer) => offer.reply.notify_one(true).is_ok(),
        })?;
        match pending.remove(at)? {
            Pending::Orphan(item) => Some(item),
            Pending::Putter(offer) => offer.item.take(),
        }
    }

    fn taken(_: &Inner<T>) {}

    /// To the front of the channel as an orphan.
    fn keep(channel: &Inner<T>, item: T) {
        let pending = &channel.store().pending;
        pending.borrow_mut().push_front(Pending::Orphan(item));
    }

    fn close(channel: &Inner<T>) {
        channel.store().pending.borrow_mut().retain(|p| match p {
            Pending::Orphan(_) => true,
            // A putter that is leaving anyway removes its own offer.
            Pending::Putter(offer) => offer.reply.notify_one(false).is_err(),
        });
    }
}

/// Removes a putter's offer from the channel when the putter leaves without
/// a reply (it timed out, or unwinds).
struct Withdraw<'a, T> {
    offers: &'a Offers<T>,
    offer: &'a Rc<Offer<T>>,
    armed: bool,
}

impl<T> Drop for Withdraw<'_, T> {
    fn drop(&mut self) {
        if self.armed {
            self.offers
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
            inner: Rc::new(Handoff::new(Offers {
                pending: RefCell::new(VecDeque::new()),
            })),
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
    #[inline]
    #[track_caller]
    pub fn put(&self, item: T) -> Result<(), PutError<T>> {
        self.inner.put(item, None)
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
        self.inner.try_put(item)
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
    #[track_caller]
    pub fn put_timeout(&self, item: T, timeout: Duration) -> Result<(), PutError<T>> {
        self.inner.put(item, Some(timeout))
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
    #[inline]
    #[track_caller]
    pub fn get(&self) -> Result<T, GetError> {
        self.inner.get(None)
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
    /// use greenlet::sync::{Channel, GetError};
    ///
    /// let channel = Channel::<u8>::new();
    /// assert_eq!(channel.get_timeout(Duration::from_millis(2)), Err(GetError::TimedOut));
    /// ```
    #[track_caller]
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, GetError> {
        self.inner.get(Some(timeout))
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
        self.inner.close();
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
        self.inner.is_closed()
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
        f.debug_struct("Channel")
            .field("closed", &self.inner.is_closed())
            .field("pending", &self.inner.store().pending.borrow().len())
            .field("getters", &self.inner.getters())
            .finish()
    }
}
