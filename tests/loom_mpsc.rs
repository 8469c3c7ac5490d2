//! Model checks of `sync::mpsc`'s core over every interleaving (loom).
//!
//! The core (`src/sync/mpsc/chan.rs`) imports nothing from the crate and
//! is generic over how a side blocks, so it is included here as it is,
//! with a loom park in place of the hub. Run with:
//!
//! ```text
//! RUSTFLAGS="--cfg loom" cargo test --release --test loom_mpsc
//! ```
#![cfg(loom)]

#[allow(dead_code)] // the model uses part of the core
#[path = "../src/sync/mpsc/chan.rs"]
mod chan;

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc::{RecvTimeoutError, SendError, TryRecvError};
use std::time::Instant;

use chan::{Block, Chan};
use loom::sync::Arc;
use loom::thread;

/// Blocks a loom thread as `block_cross` blocks a thread without a hub.
struct Park;

impl Block for Park {
    type Waker = thread::Thread;

    fn wake(waker: thread::Thread) {
        waker.unpark();
    }

    fn block(_: &'static str, _: Option<Instant>, register: impl FnOnce(thread::Thread)) {
        register(thread::current());
        thread::park();
    }
}

/// When a thread marked for it is killed in its next wait.
#[derive(Clone, Copy, PartialEq)]
enum Kill {
    /// Once woken: after its waker may have been chosen and woken.
    AfterWake,
    /// While it waits, before anything wakes it.
    WhileWaiting,
}

loom::thread_local! {
    /// Whether, and when, this thread's next wait ends in a kill.
    static KILL: Cell<Option<Kill>> = Cell::new(None);
}

/// The kill's payload.
struct Killed;

/// As [`Park`], but a thread marked in [`KILL`] is killed in its next
/// wait, as a greenlet's kill unwinds out of `block_cross`.
struct KillablePark;

impl Block for KillablePark {
    type Waker = thread::Thread;

    fn wake(waker: thread::Thread) {
        waker.unpark();
    }

    fn block(what: &'static str, deadline: Option<Instant>, register: impl FnOnce(thread::Thread)) {
        let kill = KILL.with(|kill| kill.take());
        if kill == Some(Kill::WhileWaiting) {
            register(thread::current());
        } else {
            Park::block(what, deadline, register);
        }
        if kill.is_some() {
            panic::resume_unwind(Box::new(Killed));
        }
    }
}

type Channel<T> = Arc<Chan<T, Park>>;

/// Checks `body` over every interleaving with at most `PREEMPTIONS`
/// preemptions (unless `LOOM_MAX_PREEMPTIONS` says otherwise; tokio runs
/// with 2), and prints how many interleavings loom explored.
fn model(name: &str, body: impl Fn() + Sync + Send + 'static) {
    const PREEMPTIONS: usize = 4;
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = Some(PREEMPTIONS);
    }
    let bound = builder.preemption_bound;
    let start = RUNS.load(SeqCst);
    builder.check(move || {
        RUNS.fetch_add(1, SeqCst);
        body();
    });
    let runs = RUNS.load(SeqCst) - start;
    println!("{name}: {runs} interleavings (preemption bound {bound:?})");
}

fn pair<T>(bound: Option<usize>) -> Channel<T> {
    Arc::new(Chan::new(bound))
}

#[test]
fn a_send_racing_a_blocking_recv_is_never_lost() {
    model("a_send_racing_a_blocking_recv_is_never_lost", || {
        let chan = pair::<u32>(None);
        let tx = chan.clone();
        let sender = thread::spawn(move || {
            tx.try_send(1).unwrap();
            tx.drop_sender();
        });
        assert_eq!(chan.recv(None), Ok(1));
        assert_eq!(chan.recv(None), Err(RecvTimeoutError::Disconnected));
        sender.join().unwrap();
    });
}

#[test]
fn the_last_sender_dropping_wakes_a_blocked_recv_with_disconnection() {
    model(
        "the_last_sender_dropping_wakes_a_blocked_recv_with_disconnection",
        || {
            let chan = pair::<u32>(None);
            chan.add_sender(); // two senders, dropped on two threads
            let droppers: Vec<_> = (0..2)
                .map(|_| {
                    let tx = chan.clone();
                    thread::spawn(move || tx.drop_sender())
                })
                .collect();
            assert_eq!(chan.recv(None), Err(RecvTimeoutError::Disconnected));
            droppers.into_iter().for_each(|t| t.join().unwrap());
        },
    );
}

#[test]
fn a_bounded_1_channel_delivers_both_values_of_two_blocked_senders() {
    model(
        "a_bounded_1_channel_delivers_both_values_of_two_blocked_senders",
        || {
            let chan = pair::<u32>(Some(1));
            chan.add_sender();
            let senders: Vec<_> = [1, 2]
                .into_iter()
                .map(|value| {
                    let tx = chan.clone();
                    thread::spawn(move || {
                        tx.send(value).unwrap();
                        tx.drop_sender();
                    })
                })
                .collect();
            let mut got = [chan.recv(None).unwrap(), chan.recv(None).unwrap()];
            got.sort();
            assert_eq!(got, [1, 2]);
            assert_eq!(chan.recv(None), Err(RecvTimeoutError::Disconnected));
            senders.into_iter().for_each(|t| t.join().unwrap());
        },
    );
}

#[test]
fn a_rendezvous_send_returns_once_received_or_gives_the_value_back() {
    model(
        "a_rendezvous_send_returns_once_received_or_gives_the_value_back",
        || {
            let chan = pair::<u32>(Some(0));
            let rx = chan.clone();
            // The receiver looks once, then leaves: `send` must succeed exactly
            // when the receiver took the value.
            let receiver = thread::spawn(move || {
                let got = rx.try_recv();
                rx.drop_receiver();
                got
            });
            let sent = chan.send(7);
            let got = receiver.join().unwrap();
            match sent {
                Ok(()) => assert_eq!(got, Ok(7)),
                Err(SendError(value)) => {
                    assert_eq!(value, 7);
                    assert_eq!(got, Err(TryRecvError::Empty));
                }
            }
        },
    );
}

#[test]
fn a_rendezvous_send_meets_a_blocking_recv() {
    model("a_rendezvous_send_meets_a_blocking_recv", || {
        let chan = pair::<u32>(Some(0));
        let rx = chan.clone();
        let receiver = thread::spawn(move || rx.recv(None));
        chan.send(7).unwrap();
        assert_eq!(receiver.join().unwrap(), Ok(7));
    });
}

/// A victim sender, killed as `kill` says, and another sender race on
/// `chan` (one sender already counted, the caller's); returns every value
/// received until both senders are gone, sorted, and whether the victim's
/// send returned.
fn victim_and_other(chan: Arc<Chan<u32, KillablePark>>, kill: Kill) -> (Vec<u32>, bool) {
    let victim = {
        let tx = chan.clone();
        thread::spawn(move || {
            KILL.with(|k| k.set(Some(kill)));
            let sent = panic::catch_unwind(AssertUnwindSafe(|| tx.send(1)));
            tx.drop_sender();
            sent.is_ok()
        })
    };
    let other = {
        let tx = chan.clone();
        thread::spawn(move || {
            tx.send(2).unwrap();
            tx.drop_sender();
        })
    };
    let mut got = Vec::new();
    while let Ok(value) = chan.recv(None) {
        got.push(value);
    }
    let victim_sent = victim.join().unwrap();
    other.join().unwrap();
    got.sort();
    (got, victim_sent)
}

#[test]
fn a_sender_killed_after_being_chosen_passes_its_wake_up_on() {
    model(
        "a_sender_killed_after_being_chosen_passes_its_wake_up_on",
        || {
            let chan = Arc::new(Chan::<u32, KillablePark>::new(Some(1)));
            chan.add_sender();
            chan.try_send(0).unwrap(); // full
            let (got, victim_sent) = victim_and_other(chan, Kill::AfterWake);
            // The victim sent its value only if it found room without waiting.
            let expected: &[u32] = if victim_sent { &[0, 1, 2] } else { &[0, 2] };
            assert_eq!(got, expected);
        },
    );
}

#[test]
fn a_rendezvous_sender_killed_while_waiting_loses_no_other_value() {
    model(
        "a_rendezvous_sender_killed_while_waiting_loses_no_other_value",
        || {
            let chan = Arc::new(Chan::<u32, KillablePark>::new(Some(0)));
            chan.add_sender();
            let (got, victim_sent) = victim_and_other(chan, Kill::WhileWaiting);
            // Taken before the kill took it back, 1 may arrive although the
            // victim's send unwound; a send that returned was received.
            assert!(got == [2] || got == [1, 2], "{got:?}");
            assert!(!victim_sent || got == [1, 2]);
        },
    );
}
