//! Channels between threads and greenlets, with std's shape: std's
//! `std::sync::mpsc` whose blocking calls suspend only the calling greenlet.
//!
//! [`channel`] and [`sync_channel`] make the same pairs as std's, with the
//! same methods, the same error types (std's own) and the same
//! disconnection rules: a send fails, giving the value back, once the
//! receiver is gone; a receive drains what was sent, then fails once every
//! sender is gone. Any end may live on any thread, in a greenlet or in a
//! thread's main context:
//!
//! - in a greenlet, a blocked `recv` or `send` suspends only that greenlet;
//! - in a thread's main context, it runs that thread's hub (its greenlets
//!   go on) until woken.
//!
//! While a receiver waits, the wait keeps its hub from reporting a
//! deadlock: another thread may still send. The last sender's drop wakes
//! it, to see the disconnection.
//!
//! # Examples
//!
//! A std thread feeds a greenlet:
//!
//! ```
//! use greenlet::sync::mpsc;
//!
//! let (tx, rx) = mpsc::channel();
//! let consumer = greenlet::spawn(move || rx.iter().sum::<u64>());
//! std::thread::spawn(move || {
//!     for i in 1..=100 {
//!         tx.send(i).unwrap();
//!     }
//! });
//! assert_eq!(consumer.join().unwrap(), 5050);
//! ```
//!
//! # Implementation notes
//!
//! One lock guards a queue, the count of senders, whether the receiver
//! lives, and the wakers of the waiting sides; no lock is held while a
//! value is dropped or a side is woken. The state machine is model-checked
//! with `loom` (`tests/loom_mpsc.rs`).

mod chan;
mod cross;
mod receiver;
mod sender;

use std::sync::Arc;

pub use receiver::{IntoIter, Iter, Receiver, TryIter};
pub use sender::{Sender, SyncSender};
pub use std::sync::mpsc::{RecvError, RecvTimeoutError, SendError, TryRecvError, TrySendError};

/// A new unbounded channel: [`Sender::send`] never waits.
///
/// # Examples
///
/// ```
/// let (tx, rx) = greenlet::sync::mpsc::channel();
/// tx.send(String::from("hi")).unwrap();
/// assert_eq!(rx.recv().unwrap(), "hi");
/// ```
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let chan = Arc::new(chan::Chan::new(None));
    (Sender::new(chan.clone()), Receiver::new(chan))
}

/// A new channel that holds at most `bound` values: [`SyncSender::send`]
/// waits while it is full. With `bound == 0` it is a rendezvous: each send
/// returns only once the receiver has taken its value.
///
/// # Examples
///
/// ```
/// let (tx, rx) = greenlet::sync::mpsc::sync_channel(2);
/// tx.send(1).unwrap();
/// tx.send(2).unwrap();
/// assert!(tx.try_send(3).is_err()); // full
/// assert_eq!(rx.recv().unwrap(), 1);
/// ```
pub fn sync_channel<T>(bound: usize) -> (SyncSender<T>, Receiver<T>) {
    let chan = Arc::new(chan::Chan::new(Some(bound)));
    (SyncSender::new(chan.clone()), Receiver::new(chan))
}
