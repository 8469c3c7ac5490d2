//! A hub's inbox: what other threads hand the hub (greenlets to spawn,
//! waits to end), and the one cross-thread protocol of the library, by
//! which they wake the hub only when it sleeps.
//!
//! # The protocol
//!
//! Two flags beside the messages:
//!
//! - `pending`: messages wait that the hub has not taken. A sender sets it
//!   after adding its message; the hub clears it *before* taking them. So
//!   a message added after the take finds it clear, sets it and is taken
//!   next time; one added between the clear and the take is taken now, and
//!   its flag only costs a look that finds nothing.
//! - `sleeping`: the hub waits (or is about to wait) in `epoll_wait`. The
//!   hub sets it, then looks at `pending` once more before it waits; a
//!   sender sets `pending`, then looks at `sleeping`, and notifies (writes
//!   the hub's eventfd) only when it was the one to set `pending` and the
//!   hub sleeps. Both sides use sequentially consistent operations, so at
//!   least one of them sees the other's flag (the store-then-load pattern
//!   of Dekker's algorithm): either the hub sees `pending` and does not
//!   wait, or the sender sees `sleeping` and wakes it.
//!
//! A hub that is awake therefore costs its senders no system call at all,
//! and a burst of messages costs at most one notification: the
//! coalescing of libuv's async handles.
//!
//! Under `cfg(loom)` the atomics and the lock are loom's, and
//! `tests/loom_inbox.rs` checks the protocol over every interleaving.

#[cfg(loom)]
use loom::sync::{
    Mutex, MutexGuard,
    atomic::{AtomicBool, Ordering::SeqCst},
};
#[cfg(not(loom))]
use std::sync::{
    Mutex, MutexGuard,
    atomic::{AtomicBool, Ordering::SeqCst},
};

/// How a sender wakes a hub that sleeps: `mio::Waker` in the library (an
/// eventfd registered with the hub's epoll instance).
pub(crate) trait Notify {
    fn notify(&self);
}

impl Notify for mio::Waker {
    fn notify(&self) {
        if let Err(e) = self.wake() {
            // An eventfd write fails only if the descriptor is gone, which
            // the hub's `Arc` prevents: nothing to recover.
            log::error!("greenlet: cannot wake a hub: {e}");
        }
    }
}

/// The messages, and whether the hub has closed for good.
struct Mailbox<M> {
    messages: Vec<M>,
    closed: bool,
}

/// A hub's inbox of messages `M`, shared with other threads (see the
/// module's protocol).
pub(crate) struct Inbox<M, N> {
    mailbox: Mutex<Mailbox<M>>,
    pending: AtomicBool,
    sleeping: AtomicBool,
    notify: N,
}

impl<M, N: Notify> Inbox<M, N> {
    pub(crate) fn new(notify: N) -> Self {
        Inbox {
            mailbox: Mutex::new(Mailbox {
                messages: Vec::new(),
                closed: false,
            }),
            pending: AtomicBool::new(false),
            sleeping: AtomicBool::new(false),
            notify,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Mailbox<M>> {
        // A panic while the lock is held can only come from an allocation
        // failure in `push`; the mailbox is still consistent then.
        self.mailbox.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds `message` for the hub, and wakes it if it sleeps.
    ///
    /// # Errors
    ///
    /// Gives the message back when the hub has closed (its thread ended).
    pub(crate) fn push(&self, message: M) -> Result<(), M> {
        {
            let mut mailbox = self.lock();
            if mailbox.closed {
                return Err(message);
            }
            mailbox.messages.push(message);
        }
        if !self.pending.swap(true, SeqCst) && self.sleeping.load(SeqCst) {
            self.notify.notify();
        }
        Ok(())
    }

    /// Whether messages may wait: the hub's cheap look on every turn.
    #[inline]
    pub(crate) fn is_pending(&self) -> bool {
        self.pending.load(SeqCst)
    }

    /// Moves every waiting message into `into`, in the order they came.
    pub(crate) fn take_into(&self, into: &mut Vec<M>) {
        self.pending.store(false, SeqCst);
        into.append(&mut self.lock().messages);
    }

    /// The hub is about to wait. Returns `false` (and the hub must not wait)
    /// if messages came meanwhile; otherwise the hub waits, and calls
    /// [`Self::awake`] once it has.
    pub(crate) fn may_sleep(&self) -> bool {
        self.sleeping.store(true, SeqCst);
        if self.pending.load(SeqCst) {
            self.sleeping.store(false, SeqCst);
            return false;
        }
        true
    }

    /// The hub is awake again (see [`Self::may_sleep`]).
    pub(crate) fn awake(&self) {
        self.sleeping.store(false, SeqCst);
    }

    /// Closes the inbox for good (the hub's thread ends) and returns the
    /// messages left, for the caller to drop: later pushes fail.
    pub(crate) fn close(&self) -> Vec<M> {
        let mut mailbox = self.lock();
        mailbox.closed = true;
        std::mem::take(&mut mailbox.messages)
    }

    /// Whether [`Self::close`] was called.
    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    #[derive(Default)]
    struct Count(AtomicUsize);

    impl Notify for Count {
        fn notify(&self) {
            self.0.fetch_add(1, SeqCst);
        }
    }

    #[test]
    fn an_awake_hub_is_never_notified_and_a_sleeping_one_once_per_burst() {
        let inbox = Inbox::new(Count::default());
        inbox.push(1).unwrap();
        inbox.push(2).unwrap();
        assert_eq!(inbox.notify.0.load(SeqCst), 0, "awake: no notification");
        assert!(!inbox.may_sleep(), "messages wait: the hub must not sleep");
        let mut got = Vec::new();
        inbox.take_into(&mut got);
        assert_eq!(got, [1, 2]);
        assert!(inbox.may_sleep());
        inbox.push(3).unwrap();
        inbox.push(4).unwrap();
        assert_eq!(inbox.notify.0.load(SeqCst), 1, "one notification a burst");
        inbox.awake();
        inbox.take_into(&mut got);
        assert_eq!(got, [1, 2, 3, 4]);
    }

    #[test]
    fn a_closed_inbox_gives_messages_back() {
        let inbox = Inbox::new(Count::default());
        inbox.push(1).unwrap();
        assert_eq!(inbox.close(), [1]);
        assert!(inbox.is_closed());
        assert_eq!(inbox.push(2), Err(2));
    }
}
