//! The tokio peers of the report: tasks on a `current_thread` runtime (one
//! thread, as a hub is), measured as `measure.rs` measures greenlets: one
//! [`Sample`] per timed repetition, the [`Tally`] told once per operation.
//! Each measurement builds its own runtime, outside the timed window.

use std::hint::black_box;
use std::time::Instant;

use tokio::runtime::{Builder, Runtime};
use tokio::sync::mpsc;
use tokio::task::yield_now;

use crate::measure::{Sample, Tally, Token, between};

/// A `current_thread` runtime with no I/O or timer driver: none of these
/// measurements needs one.
fn runtime() -> Runtime {
    Builder::new_current_thread()
        .build()
        .expect("a current_thread runtime")
}

/// `yield_now().await` among `tasks` tasks (at least one): each is one
/// switch, to the next task in FIFO order. A repetition is
/// `ceil(per_rep / tasks)` rounds, in each of which every task yields once;
/// the first task keeps time, after one untimed round in which all start.
pub fn yield_ring(tasks: usize, per_rep: u64, reps: usize, tally: &impl Tally) -> Vec<Sample> {
    assert!(tasks >= 1, "at least one task");
    let rounds = per_rep.div_ceil(tasks as u64).max(1);
    runtime().block_on(async {
        let task = tally.clone();
        let first = tokio::spawn(async move {
            yield_now().await; // every task has started when this returns
            let mut stamps = Vec::with_capacity(reps + 1);
            stamps.push(Instant::now());
            for _ in 0..reps {
                for _ in 0..rounds {
                    yield_now().await;
                    task.tick();
                }
                stamps.push(Instant::now());
            }
            stamps
        });
        let others: Vec<_> = (1..tasks)
            .map(|_| {
                let task = tally.clone();
                tokio::spawn(async move {
                    yield_now().await;
                    for _ in 0..rounds * reps as u64 {
                        yield_now().await;
                        task.tick();
                    }
                })
            })
            .collect();
        let stamps = first.await.expect("the timing task finishes");
        for other in others {
            other.await.expect("a yielding task finishes");
        }
        between(&stamps, rounds * tasks as u64)
    })
}

/// Ping-pong between two tasks through two unbounded `mpsc` channels, the
/// shape of `handoff::greenlet_handoff`: A sends on `ping` and waits on
/// `pong`, B the other way round. Each message is one hand-off (one switch);
/// a repetition is `ceil(per_rep / 2)` rounds, after one untimed round.
pub fn mpsc_handoff(per_rep: u64, reps: usize, tally: &impl Tally) -> Vec<Sample> {
    let rounds = per_rep.div_ceil(2).max(1);
    runtime().block_on(async {
        let (to_b, mut ping) = mpsc::unbounded_channel::<u64>();
        let (to_a, mut pong) = mpsc::unbounded_channel::<u64>();
        let task = tally.clone();
        let b = tokio::spawn(async move {
            for i in 0..=rounds * reps as u64 {
                let v = ping.recv().await.expect("A sends every round");
                if i > 0 {
                    task.tick(); // not in the untimed round
                }
                to_a.send(v).expect("A waits for every reply");
            }
        });
        let task = tally.clone();
        let a = tokio::spawn(async move {
            let mut round = async |i: u64| {
                to_b.send(i).expect("B waits for every round");
                pong.recv().await.expect("B replies every round")
            };
            round(0).await;
            let mut stamps = Vec::with_capacity(reps + 1);
            stamps.push(Instant::now());
            for _ in 0..reps {
                for i in 0..rounds {
                    black_box(round(i).await);
                    task.tick();
                }
                stamps.push(Instant::now());
            }
            stamps
        });
        let stamps = a.await.expect("A finishes");
        b.await.expect("B finishes");
        between(&stamps, 2 * rounds)
    })
}

/// A token passed around a ring of `tasks` tasks, each waiting on its own
/// unbounded `mpsc` channel: the shape of `measure::greenlet_ring`. The
/// `block_on` future injects `per_rep` hops (at least one) and takes the
/// token back: `per_rep + 1` switches. `None` stops the ring.
pub fn mpsc_ring(tasks: usize, per_rep: u64, reps: usize, tally: &impl Tally) -> Vec<Sample> {
    assert!(tasks >= 1, "at least one task");
    let hops = per_rep.max(1);
    runtime().block_on(async {
        let (senders, receivers): (Vec<_>, Vec<_>) = (0..tasks)
            .map(|_| mpsc::unbounded_channel::<Option<Token>>())
            .unzip();
        let (to_main, mut done) = mpsc::unbounded_channel::<Token>();
        let ring: Vec<_> = receivers
            .into_iter()
            .enumerate()
            .map(|(i, mut inbox)| {
                let (next, to_main) = (senders[(i + 1) % tasks].clone(), to_main.clone());
                let task = tally.clone();
                tokio::spawn(async move {
                    // A send fails only once the next task has stopped.
                    while let Some(Some(token)) = inbox.recv().await {
                        if token.counted {
                            task.tick();
                        }
                        if token.left <= 1 {
                            let _ = to_main.send(token);
                        } else {
                            let left = token.left - 1;
                            let _ = next.send(Some(Token { left, ..token }));
                        }
                    }
                    let _ = next.send(None); // pass the stop on
                })
            })
            .collect();
        let first = &senders[0];
        let mut lap = async |token: Token| {
            first.send(Some(token)).expect("the ring runs");
            done.recv().await.expect("the token comes back");
        };
        lap(Token {
            left: tasks as u64,
            counted: false,
        })
        .await;
        let mut samples = Vec::with_capacity(reps);
        for _ in 0..reps {
            let start = Instant::now();
            lap(Token {
                left: hops,
                counted: true,
            })
            .await;
            tally.tick(); // the hand-off back to the block_on future
            samples.push(Sample {
                ops: hops + 1,
                elapsed: start.elapsed(),
            });
        }
        first.send(None).expect("the ring runs");
        for task in ring {
            task.await.expect("a ring task finishes");
        }
        samples
    })
}

/// Spawn + join of empty tasks in batches: spawn `per_rep` (at least one),
/// then await them all. Each task is one operation.
pub fn spawn_join(per_rep: u64, reps: usize, tally: &impl Tally) -> Vec<Sample> {
    let batch = per_rep.max(1);
    runtime().block_on(async {
        let mut samples = Vec::with_capacity(reps);
        for _ in 0..reps {
            let start = Instant::now();
            let tasks: Vec<_> = (0..batch)
                .map(|i| {
                    let task = tally.clone();
                    tokio::spawn(async move {
                        task.tick();
                        black_box(i)
                    })
                })
                .collect();
            for t in tasks {
                black_box(t.await.expect("an empty task finishes"));
            }
            samples.push(Sample {
                ops: batch,
                elapsed: start.elapsed(),
            });
        }
        samples
    })
}
