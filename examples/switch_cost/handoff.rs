//! Hand-offs between two greenlets through `greenlet::sync`: one greenlet
//! makes the other ready (a put, a set, a release) and blocks, and the other
//! runs next. Measured as `measure.rs` measures switches: one [`Sample`] per
//! timed repetition, the [`Tally`] told once per hand-off.

use std::hint::black_box;
use std::time::Instant;

use greenlet::sync::{Channel, Event, Queue, Semaphore};

use crate::measure::{Sample, Tally, between};

/// What one greenlet waits on until another hands over to it.
///
/// The impls' `give` and `take` are `#[inline(always)]`, so that the wait
/// sits in the timed loop, as `yield_now` does in the yield rows: a wait
/// resumed inside a function of its own returns through that function's
/// frame, a return the CPU mispredicts (see design.md, "The switch path"),
/// which cost these rows 10–15 ns a hand-off.
pub trait Handoff: Clone + 'static {
    /// A fresh one, with nothing handed over yet.
    fn open() -> Self;
    /// Hands over: the greenlet waiting in [`take`](Self::take) becomes
    /// ready.
    fn give(&self);
    /// Waits for the next hand-over.
    fn take(&self);
}

impl Handoff for Queue<u64> {
    fn open() -> Self {
        Queue::unbounded()
    }
    #[inline(always)]
    fn give(&self) {
        self.put(1).expect("the queue stays open");
    }
    #[inline(always)]
    fn take(&self) {
        black_box(self.get().expect("the queue stays open"));
    }
}

impl Handoff for Channel<u64> {
    fn open() -> Self {
        Channel::new()
    }
    #[inline(always)]
    fn give(&self) {
        self.put(1).expect("the channel stays open");
    }
    #[inline(always)]
    fn take(&self) {
        black_box(self.get().expect("the channel stays open"));
    }
}

/// `set` wakes the waiter, which clears the event before it hands back (so
/// that the next `wait` blocks again).
impl Handoff for Event {
    fn open() -> Self {
        Event::new()
    }
    #[inline(always)]
    fn give(&self) {
        self.set();
    }
    #[inline(always)]
    fn take(&self) {
        self.wait();
        self.clear();
    }
}

/// `release` gives the permit to the waiting `acquire`.
impl Handoff for Semaphore {
    fn open() -> Self {
        Semaphore::new(0)
    }
    #[inline(always)]
    fn give(&self) {
        self.release()
            .expect("an unbounded semaphore takes any release");
    }
    #[inline(always)]
    fn take(&self) {
        self.acquire();
    }
}

/// Ping-pong between two greenlets, A and B, through two hand-offs of kind
/// `H`: A gives `ping` and takes `pong`, B takes `ping` and gives `pong`.
/// Each hand-off is one switch, from one greenlet to the other: a round is
/// two. A repetition is `ceil(per_rep / 2)` rounds, after one untimed round
/// in which both start.
///
/// # Errors
///
/// When a greenlet fails (it could not start).
pub fn greenlet_handoff<H: Handoff>(
    per_rep: u64,
    reps: usize,
    tally: &impl Tally,
) -> Result<Vec<Sample>, String> {
    let rounds = per_rep.div_ceil(2).max(1);
    let (ping, pong) = (H::open(), H::open());
    let b = {
        let (ping, pong, task) = (ping.clone(), pong.clone(), tally.clone());
        greenlet::spawn(move || {
            ping.take(); // the untimed round
            pong.give();
            for _ in 0..rounds * reps as u64 {
                ping.take();
                task.tick();
                pong.give();
            }
        })
    };
    let a = {
        let task = tally.clone();
        greenlet::spawn(move || {
            ping.give();
            pong.take();
            let mut stamps = Vec::with_capacity(reps + 1);
            stamps.push(Instant::now());
            for _ in 0..reps {
                for _ in 0..rounds {
                    ping.give();
                    pong.take();
                    task.tick();
                }
                stamps.push(Instant::now());
            }
            stamps
        })
    };
    let stamps = a.join().map_err(|e| e.to_string())?;
    b.join().map_err(|e| e.to_string())?;
    Ok(between(&stamps, 2 * rounds))
}
