//! The cross-thread rows of the switch-cost report, each for greenlets and
//! for tokio (a `current_thread` runtime, one thread as a hub is), measured
//! the same way:
//!
//! - a blocking call handed to a pool thread and back:
//!   `threadpool::apply(f)` from the main context, against
//!   `rt.block_on(async { spawn_blocking(f).await })`;
//! - a spawn from another, long-lived thread until the task runs on the
//!   hub's (runtime's) thread: the peer thread spawns, the task signals
//!   back through a std channel, and the peer times the round trip, while
//!   the hub's thread sleeps between rounds (in `epoll_wait`, for both).
//!
//! As in `measure.rs`, each returns one [`Sample`] per timed repetition,
//! and the tasks tell their [`Tally`] once per timed operation.

use std::hint::black_box;
use std::sync::mpsc;
use std::time::Instant;

use tokio::runtime::{Builder, Runtime};

use crate::measure::{Sample, Tally};

/// A `current_thread` runtime with its I/O driver: it sleeps in
/// `epoll_wait` and is woken through an eventfd, as a hub is.
fn runtime() -> Runtime {
    Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current_thread runtime")
}

/// `reps` samples of `per_rep` calls of `op(i, counted)` each, after one
/// untimed call (which starts a pool thread, say).
fn timed(per_rep: u64, reps: usize, mut op: impl FnMut(u64, bool)) -> Vec<Sample> {
    let count = per_rep.max(1);
    op(0, false);
    (0..reps)
        .map(|_| {
            let start = Instant::now();
            for i in 0..count {
                op(i, true);
            }
            Sample {
                ops: count,
                elapsed: start.elapsed(),
            }
        })
        .collect()
}

/// `threadpool::apply(|| i)` from the calling context: the closure runs on
/// a pool thread, and the caller is woken through its hub.
pub fn greenlet_apply(per_rep: u64, reps: usize, tally: &impl Tally) -> Vec<Sample> {
    timed(per_rep, reps, |i, counted| {
        let task = tally.clone();
        black_box(greenlet::threadpool::apply(move || {
            if counted {
                task.tick();
            }
            black_box(i)
        }));
    })
}

/// tokio's `spawn_blocking(|| i).await`, in a `block_on` of its own each
/// time, on a `current_thread` runtime: the same synchronous call shape.
pub fn tokio_spawn_blocking(per_rep: u64, reps: usize, tally: &impl Tally) -> Vec<Sample> {
    let rt = runtime();
    timed(per_rep, reps, |i, counted| {
        let task = tally.clone();
        let blocking = async move {
            tokio::task::spawn_blocking(move || {
                if counted {
                    task.tick();
                }
                black_box(i)
            })
            .await
            .expect("the blocking task finishes")
        };
        black_box(rt.block_on(blocking));
    })
}

/// What the peer thread does each round: spawn a task on the hub that
/// sends on the given channel, and wait for that message.
type Ping<'a> = &'a mut dyn FnMut(mpsc::Sender<()>, bool);

/// The peer thread's side of both cross-thread measurements: times
/// `ping` round trips and returns the samples.
fn peer_rounds(per_rep: u64, reps: usize, ping: Ping<'_>) -> Vec<Sample> {
    let (ran_tx, ran_rx) = mpsc::channel();
    timed(per_rep, reps, |_, counted| {
        ping(ran_tx.clone(), counted);
        ran_rx.recv().expect("the spawned task signals");
    })
}

/// A greenlet spawned with [`greenlet::Handle::spawn`] from a long-lived
/// peer thread, until it runs on the calling thread's hub and signals back.
/// The calling context waits in `block_on` for the peer's samples: its hub
/// sleeps between rounds.
pub fn greenlet_cross_wake(per_rep: u64, reps: usize, tally: &impl Tally) -> Vec<Sample> {
    let handle = greenlet::Handle::current();
    let (done_tx, done_rx) = futures_channel::oneshot::channel();
    let task = tally.clone();
    let peer = std::thread::spawn(move || {
        let samples = peer_rounds(per_rep, reps, &mut |ran, counted| {
            let task = task.clone();
            handle
                .spawn(move || {
                    if counted {
                        task.tick();
                    }
                    let _ = ran.send(());
                })
                .expect("the hub's thread is alive");
        });
        let _ = done_tx.send(samples);
    });
    let samples = greenlet::block_on(done_rx).expect("the peer sends its samples");
    peer.join().expect("the peer thread finishes");
    samples
}

/// tokio's `Handle::spawn` from a long-lived peer thread into a
/// `current_thread` runtime, until the task runs there and signals back.
/// The runtime's thread waits in `block_on` for the peer's samples.
pub fn tokio_cross_spawn(per_rep: u64, reps: usize, tally: &impl Tally) -> Vec<Sample> {
    let rt = runtime();
    let handle = rt.handle().clone();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let task = tally.clone();
    let peer = std::thread::spawn(move || {
        let samples = peer_rounds(per_rep, reps, &mut |ran, counted| {
            let task = task.clone();
            drop(handle.spawn(async move {
                if counted {
                    task.tick();
                }
                let _ = ran.send(());
            }));
        });
        let _ = done_tx.send(samples);
    });
    let samples = rt.block_on(done_rx).expect("the peer sends its samples");
    peer.join().expect("the peer thread finishes");
    samples
}
