//! A hub's inbox: what other threads hand the hub (greenlets to spawn,
//! waits to end), and the one cross-thread protocol of the library, by
//! which they wake the hub only when it sleeps.
//!
//! # The protocol
//!
//! Two flags beside the messages, bits of one atomic word, so that every
//! change to them is one read-modify-write in a single modification order
//! (no reasoning about two locations, which is where store-then-load
//! protocols go wrong):
//!
//! - `PENDING`: messages wait that the hub has not taken. A sender sets it
//!   after adding its message; the hub clears it *before* taking them. So
//!   a message added after the take finds it clear, sets it and is taken
//!   next time; one added between the clear and the take is taken now, and
//!   its flag only costs a look that finds nothing.
//! - `SLEEPING`: the hub waits (or is about to wait) in `epoll_wait`. The
//!   hub sets it only if `PENDING` is clear, in one compare-and-swap; a
//!   sender notifies (writes the hub's eventfd) only when its own setting
//!   of `PENDING` found `SLEEPING` set. Whichever of the two comes first in
//!   the word's order, the other sees it: either the hub does not sleep,
//!   or the sender wakes it.
//!
//! A hub that is awake therefore costs its senders no system call at all,
//! and a burst of messages costs at most one notification: the
//! coalescing of libuv's async handles.
//!
//! Under `cfg(loom)` the atomics and the lock are loom's, and
//! the tests at the bottom check the protocol over every interleaving.

#[cfg(loom)]
use loom::sync::{
    Mutex, MutexGuard,
    atomic::{AtomicU8, Ordering::AcqRel, Ordering::Acquire},
};
#[cfg(not(loom))]
use std::sync::{
    Mutex, MutexGuard,
    atomic::{AtomicU8, Ordering::AcqRel, Ordering::Acquire},
};

/// Messages wait that the hub has not taken.
const PENDING: u8 = 1;
/// The hub waits, or is about to, in `epoll_wait`.
const SLEEPING: u8 = 2;

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
    /// `PENDING` and `SLEEPING` (see the module's protocol).
    flags: AtomicU8,
    notify: N,
}

impl<M, N: Notify> Inbox<M, N> {
    pub(crate) fn new(notify: N) -> Self {
        Inbox {
            mailbox: Mutex::new(Mailbox {
                messages: Vec::new(),
                closed: false,
            }),
            flags: AtomicU8::new(0),
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
        if self.flags.fetch_or(PENDING, AcqRel) == SLEEPING {
            self.notify.notify();
        }
        Ok(())
    }

    /// Whether messages may wait: the hub's cheap look on every turn.
    #[inline]
    pub(crate) fn is_pending(&self) -> bool {
        self.flags.load(Acquire) & PENDING != 0
    }

    /// Moves every waiting message into `into`, in the order they came.
    pub(crate) fn take_into(&self, into: &mut Vec<M>) {
        self.flags.fetch_and(!PENDING, AcqRel);
        into.append(&mut self.lock().messages);
    }

    /// Spins for up to `limit` until a message comes; returns whether one
    /// did. (See the hub's `spin` for when it is worth it.)
    pub(crate) fn spin_for_pending(&self, limit: std::time::Duration) -> bool {
        if limit.is_zero() {
            return false;
        }
        let start = std::time::Instant::now();
        loop {
            for _ in 0..64 {
                if self.is_pending() {
                    return true;
                }
                std::hint::spin_loop();
            }
            if start.elapsed() >= limit {
                return false;
            }
        }
    }

    /// The hub is about to wait. Returns `false` (and the hub must not wait)
    /// if messages came meanwhile; otherwise the hub waits, and calls
    /// [`Self::awake`] once it has.
    pub(crate) fn may_sleep(&self) -> bool {
        self.flags
            .compare_exchange(0, SLEEPING, AcqRel, Acquire)
            .is_ok()
    }

    /// The hub is awake again (see [`Self::may_sleep`]).
    pub(crate) fn awake(&self) {
        self.flags.fetch_and(!SLEEPING, AcqRel);
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
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

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

/// The protocol over every interleaving (`RUSTFLAGS="--cfg loom" cargo
/// test --release --lib loom`): the hub's `epoll_wait` is a wait on an
/// eventfd modelled with a counter, so a lost wake-up shows as a deadlock
/// loom reports, and a lost message as a failed assertion.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::{Arc, Condvar};
    use loom::thread;

    /// An eventfd: `notify` adds one; the hub waits until the count moves.
    #[derive(Default)]
    struct EventFd {
        count: Mutex<usize>,
        changed: Condvar,
    }

    impl Notify for EventFd {
        fn notify(&self) {
            *self.count.lock().unwrap() += 1;
            self.changed.notify_one();
        }
    }

    impl EventFd {
        /// `epoll_wait` without timeout: returns once a notification came
        /// that the hub has not seen.
        fn wait(&self, seen: &mut usize) {
            let mut count = self.count.lock().unwrap();
            while *count == *seen {
                count = self.changed.wait(count).unwrap();
            }
            *seen = *count;
        }
    }

    /// The hub's side: takes messages until it has `want`, sleeping in
    /// between as the loop does.
    fn hub(inbox: &Inbox<u32, EventFd>, want: usize) -> Vec<u32> {
        let mut got = Vec::new();
        let mut seen = 0;
        loop {
            inbox.take_into(&mut got);
            if got.len() == want {
                return got;
            }
            if inbox.may_sleep() {
                inbox.notify.wait(&mut seen);
                inbox.awake();
            }
        }
    }

    #[test]
    fn two_senders_never_lose_a_message_or_a_wake_up() {
        loom::model(|| {
            let inbox = Arc::new(Inbox::new(EventFd::default()));
            let senders: Vec<_> = [1, 2]
                .into_iter()
                .map(|message| {
                    let inbox = inbox.clone();
                    thread::spawn(move || inbox.push(message).unwrap())
                })
                .collect();
            let mut got = hub(&inbox, 2);
            for sender in senders {
                sender.join().unwrap();
            }
            got.sort_unstable();
            assert_eq!(got, [1, 2]);
        });
    }

    #[test]
    fn a_burst_while_the_hub_sleeps_is_taken_whole() {
        loom::model(|| {
            let inbox = Arc::new(Inbox::new(EventFd::default()));
            let sender = {
                let inbox = inbox.clone();
                thread::spawn(move || {
                    inbox.push(1).unwrap();
                    inbox.push(2).unwrap();
                })
            };
            assert_eq!(hub(&inbox, 2), [1, 2]);
            sender.join().unwrap();
        });
    }

    #[test]
    fn closing_loses_no_message() {
        loom::model(|| {
            let inbox = Arc::new(Inbox::new(EventFd::default()));
            let sender = {
                let inbox = inbox.clone();
                thread::spawn(move || inbox.push(7).err())
            };
            let mut taken = Vec::new();
            inbox.take_into(&mut taken);
            let left = inbox.close();
            let refused = sender.join().unwrap();
            // Exactly one of: taken, left at close, given back.
            let seen = taken.len() + left.len() + usize::from(refused.is_some());
            assert_eq!(seen, 1);
        });
    }
}
