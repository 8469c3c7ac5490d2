//! The sending halves: [`Sender`] of an unbounded channel and
//! [`SyncSender`] of a bounded one, thin handles over the shared core.

use std::fmt;
use std::sync::mpsc::{SendError, TrySendError};

use super::cross::Shared;

/// The sending half of a [`channel`](super::channel): std's
/// `std::sync::mpsc::Sender`, usable from greenlets and threads alike.
///
/// `Send + Sync + Clone` (for `T: Send`): clone it, or share it, across
/// threads. The channel disconnects when the last sender is dropped.
///
/// ```compile_fail
/// // A `Sender` of a `!Send` type cannot cross threads.
/// let (tx, _rx) = greenlet::sync::mpsc::channel::<std::rc::Rc<u8>>();
/// std::thread::spawn(move || drop(tx));
/// ```
///
/// # Examples
///
/// ```
/// use greenlet::sync::mpsc;
///
/// let (tx, rx) = mpsc::channel();
/// for id in 0..3 {
///     let tx = tx.clone();
///     std::thread::spawn(move || tx.send(id).unwrap());
/// }
/// drop(tx);
/// let mut got: Vec<i32> = rx.iter().collect(); // ends once every sender is gone
/// got.sort();
/// assert_eq!(got, [0, 1, 2]);
/// ```
pub struct Sender<T> {
    chan: Shared<T>,
}

/// The sending half of a [`sync_channel`](super::sync_channel): std's
/// `std::sync::mpsc::SyncSender`, whose [`send`](Self::send) waits for
/// room (only the calling greenlet waits).
///
/// `Send + Sync + Clone` (for `T: Send`).
///
/// # Examples
///
/// ```
/// use greenlet::sync::mpsc;
///
/// let (tx, rx) = mpsc::sync_channel(1);
/// let producer = greenlet::spawn(move || {
///     for i in 0..3 {
///         tx.send(i).unwrap(); // waits while the slot is full
///     }
/// });
/// assert_eq!(rx.iter().collect::<Vec<_>>(), [0, 1, 2]);
/// producer.join().unwrap();
/// ```
pub struct SyncSender<T> {
    chan: Shared<T>,
}

impl<T> Sender<T> {
    pub(super) fn new(chan: Shared<T>) -> Self {
        Sender { chan }
    }

    /// Sends `value` to the receiver. Never waits: the channel is
    /// unbounded.
    ///
    /// # Errors
    ///
    /// [`SendError`] with the value when the receiver has been dropped.
    /// (As std's: `Ok` does not mean the value will be received; the
    /// receiver may be dropped before it takes it.)
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = greenlet::sync::mpsc::channel();
    /// tx.send("hello").unwrap();
    /// drop(rx);
    /// assert_eq!(tx.send("bye").unwrap_err().0, "bye");
    /// ```
    #[track_caller]
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        self.chan.try_send(value).map_err(|e| match e {
            TrySendError::Full(value) | TrySendError::Disconnected(value) => SendError(value),
        })
    }
}

impl<T> SyncSender<T> {
    pub(super) fn new(chan: Shared<T>) -> Self {
        SyncSender { chan }
    }

    /// Sends `value`, waiting while the channel is full; on a rendezvous
    /// channel (`sync_channel(0)`), returns only once the receiver has
    /// taken it. In a greenlet only that greenlet waits; in a thread's main
    /// context its hub runs the other greenlets meanwhile.
    ///
    /// # Errors
    ///
    /// [`SendError`] with the value when the receiver has been dropped, or
    /// is dropped while this call waits (on a rendezvous: before it took
    /// the value).
    ///
    /// # Panics
    ///
    /// As every blocking call: a kill or an expired timeout of the waiting
    /// greenlet unwinds it (the value is dropped, not sent, and the wake-up
    /// it may have been chosen for passes to the next waiting sender); a
    /// call while the thread unwinds panics.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = greenlet::sync::mpsc::sync_channel(0);
    /// let receiver = std::thread::spawn(move || rx.recv().unwrap());
    /// tx.send(42).unwrap(); // returns once the thread took it
    /// assert_eq!(receiver.join().unwrap(), 42);
    /// ```
    #[track_caller]
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        self.chan.send(value)
    }

    /// Sends `value` only if that needs no waiting: there is room, or on a
    /// rendezvous channel the receiver waits in `recv` now.
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] with the value when there is no room,
    /// [`TrySendError::Disconnected`] when the receiver has been dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc::TrySendError;
    ///
    /// let (tx, rx) = greenlet::sync::mpsc::sync_channel(1);
    /// tx.try_send(1).unwrap();
    /// assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
    /// drop(rx);
    /// assert_eq!(tx.try_send(3), Err(TrySendError::Disconnected(3)));
    /// ```
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        self.chan.try_send(value)
    }
}

/// Both senders: a clone adds a sender, a drop removes one (the last one
/// disconnects the channel), and `Debug` shows no contents, as std's.
macro_rules! impl_sender_handle {
    ($($name:ident)*) => {$(
        impl<T> Clone for $name<T> {
            fn clone(&self) -> Self {
                self.chan.add_sender();
                $name {
                    chan: self.chan.clone(),
                }
            }
        }

        impl<T> Drop for $name<T> {
            fn drop(&mut self) {
                self.chan.drop_sender();
            }
        }

        impl<T> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name)).finish_non_exhaustive()
            }
        }
    )*};
}

impl_sender_handle! { Sender SyncSender }
