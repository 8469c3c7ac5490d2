//! The receiving half, [`Receiver`], and its iterators.

use std::fmt;
use std::marker::PhantomData;
use std::sync::mpsc::{RecvError, RecvTimeoutError, TryRecvError};
use std::time::{Duration, Instant};

use super::cross::Shared;

/// The receiving half of a [`channel`](super::channel) or
/// [`sync_channel`](super::sync_channel): std's `std::sync::mpsc::Receiver`,
/// whose blocking calls suspend only the calling greenlet (in a thread's
/// main context, they run that thread's hub meanwhile).
///
/// `Send` (for `T: Send`) but not `Sync`: one context receives at a time.
///
/// ```compile_fail
/// fn shared<S: Sync>(_: &S) {}
/// let (_tx, rx) = greenlet::sync::mpsc::channel::<u8>();
/// shared(&rx); // `Receiver` is `!Sync`
/// ```
///
/// # Examples
///
/// ```
/// use greenlet::sync::mpsc;
///
/// let (tx, rx) = mpsc::channel();
/// std::thread::spawn(move || tx.send("from a thread").unwrap());
/// let consumer = greenlet::spawn(move || rx.recv().unwrap());
/// assert_eq!(consumer.join().unwrap(), "from a thread");
/// ```
pub struct Receiver<T> {
    chan: Shared<T>,
    /// `!Sync`: one receiver waits at a time.
    _not_sync: PhantomData<std::cell::Cell<()>>,
}

impl<T> Receiver<T> {
    pub(super) fn new(chan: Shared<T>) -> Self {
        Receiver {
            chan,
            _not_sync: PhantomData,
        }
    }

    /// Takes the next value, waiting until one is sent.
    ///
    /// # Errors
    ///
    /// [`RecvError`] once every sender has been dropped and the values
    /// sent before have all been received.
    ///
    /// # Panics
    ///
    /// As every blocking call: a kill or an expired timeout of the waiting
    /// greenlet unwinds it (values sent meanwhile stay in the channel for
    /// the next call); a call while the thread unwinds panics.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = greenlet::sync::mpsc::channel();
    /// greenlet::spawn(move || tx.send(1).unwrap());
    /// assert_eq!(rx.recv(), Ok(1)); // the hub runs the sender meanwhile
    /// assert!(rx.recv().is_err()); // the sender is gone
    /// ```
    #[track_caller]
    pub fn recv(&self) -> Result<T, RecvError> {
        self.chan.recv(None).map_err(|_| RecvError)
    }

    /// Takes the next value if one is queued, without waiting.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`] when nothing is queued,
    /// [`TryRecvError::Disconnected`] when, besides, every sender is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc::TryRecvError;
    ///
    /// let (tx, rx) = greenlet::sync::mpsc::channel();
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// tx.send(5).unwrap();
    /// drop(tx);
    /// assert_eq!(rx.try_recv(), Ok(5));
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    /// ```
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.chan.try_recv()
    }

    /// As [`recv`](Self::recv), waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`RecvTimeoutError::Timeout`] when no value came in time,
    /// [`RecvTimeoutError::Disconnected`] as `recv`'s [`RecvError`].
    ///
    /// # Panics
    ///
    /// As [`recv`](Self::recv).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc::RecvTimeoutError;
    /// use std::time::Duration;
    ///
    /// let (tx, rx) = greenlet::sync::mpsc::channel::<u8>();
    /// let short = Duration::from_millis(5);
    /// assert_eq!(rx.recv_timeout(short), Err(RecvTimeoutError::Timeout));
    /// drop(tx);
    /// assert_eq!(rx.recv_timeout(short), Err(RecvTimeoutError::Disconnected));
    /// ```
    #[track_caller]
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        // A timeout too long for an `Instant` is no timeout at all.
        self.chan.recv(Instant::now().checked_add(timeout))
    }

    /// An iterator that waits for each value, and ends once the channel is
    /// disconnected and drained.
    ///
    /// # Panics
    ///
    /// Its `next` panics as [`recv`](Self::recv).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = greenlet::sync::mpsc::channel();
    /// greenlet::spawn(move || (1..=3).for_each(|i| tx.send(i).unwrap()));
    /// assert_eq!(rx.iter().sum::<i32>(), 6);
    /// ```
    #[track_caller]
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { rx: self }
    }

    /// An iterator over the values queued now: it never waits.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = greenlet::sync::mpsc::channel();
    /// tx.send(1).unwrap();
    /// tx.send(2).unwrap();
    /// assert_eq!(rx.try_iter().collect::<Vec<_>>(), [1, 2]);
    /// assert_eq!(rx.try_iter().next(), None); // the sender lives, nothing queued
    /// ```
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { rx: self }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.chan.drop_receiver();
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver").finish_non_exhaustive()
    }
}

/// The waiting iterator of [`Receiver::iter`].
///
/// # Examples
///
/// ```
/// let (tx, rx) = greenlet::sync::mpsc::channel();
/// tx.send('a').unwrap();
/// drop(tx);
/// let mut iter = rx.iter();
/// assert_eq!(iter.next(), Some('a'));
/// assert_eq!(iter.next(), None);
/// ```
#[derive(Debug)]
pub struct Iter<'a, T> {
    rx: &'a Receiver<T>,
}

/// The non-waiting iterator of [`Receiver::try_iter`].
///
/// # Examples
///
/// ```
/// let (_tx, rx) = greenlet::sync::mpsc::channel::<u8>();
/// assert_eq!(rx.try_iter().count(), 0);
/// ```
#[derive(Debug)]
pub struct TryIter<'a, T> {
    rx: &'a Receiver<T>,
}

/// The owning waiting iterator of a [`Receiver`] (`for v in rx`).
///
/// # Examples
///
/// ```
/// let (tx, rx) = greenlet::sync::mpsc::sync_channel(2);
/// tx.send(1).unwrap();
/// tx.send(2).unwrap();
/// drop(tx);
/// let all: Vec<i32> = rx.into_iter().collect();
/// assert_eq!(all, [1, 2]);
/// ```
#[derive(Debug)]
pub struct IntoIter<T> {
    rx: Receiver<T>,
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;

    #[track_caller]
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<T> Iterator for TryIter<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.rx.try_recv().ok()
    }
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;

    #[track_caller]
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;

    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;

    fn into_iter(self) -> IntoIter<T> {
        IntoIter { rx: self }
    }
}
