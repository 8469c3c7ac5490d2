//! The OS-thread baselines of the switch-cost report, measured as
//! `measure.rs` measures greenlets: each returns one [`Sample`] per timed
//! repetition and tells its [`Tally`] once per timed operation.

use std::hint::black_box;
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::time::Instant;

use crate::measure::{Sample, Tally, Token};

/// The stack of each thread in [`thread_ring`]: small, so that 10,000 fit.
pub const RING_THREAD_STACK: usize = 64 * 1024;

/// Ping-pong between the main thread and a peer thread, each waiting on one
/// `Condvar` for its turn under a `Mutex`: each turn handed over is one
/// switch.
pub fn condvar_ping_pong(per_rep: u64, reps: usize, tally: &impl Tally) -> Vec<Sample> {
    #[derive(Clone, Copy, PartialEq)]
    enum Turn {
        Main,
        Peer { counted: bool },
        Stop,
    }
    let round_trips = per_rep.div_ceil(2).max(1);
    let shared = Arc::new((Mutex::new(Turn::Main), Condvar::new()));
    let peer = {
        let (shared, task) = (shared.clone(), tally.clone());
        std::thread::spawn(move || {
            let (turn, changed) = &*shared;
            let mut turn = turn.lock().unwrap();
            loop {
                turn = changed.wait_while(turn, |t| *t == Turn::Main).unwrap();
                match *turn {
                    Turn::Peer { counted } if counted => task.tick(),
                    Turn::Stop => return,
                    _ => {}
                }
                *turn = Turn::Main;
                changed.notify_one();
            }
        })
    };
    let (turn, changed) = &*shared;
    let hand_over = |next: Turn| {
        let mut turn = turn.lock().unwrap();
        *turn = next;
        changed.notify_one();
        if next != Turn::Stop {
            drop(changed.wait_while(turn, |t| *t != Turn::Main).unwrap());
        }
    };
    hand_over(Turn::Peer { counted: false }); // the peer has started
    let samples = (0..reps)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..round_trips {
                hand_over(Turn::Peer { counted: true });
                tally.tick();
            }
            Sample {
                ops: 2 * round_trips,
                elapsed: start.elapsed(),
            }
        })
        .collect();
    hand_over(Turn::Stop);
    peer.join().unwrap();
    samples
}

/// Ping-pong between the main thread and a peer thread through two
/// rendezvous channels (`sync_channel(0)`): each message is one switch.
pub fn mpsc_ping_pong(per_rep: u64, reps: usize, tally: &impl Tally) -> Vec<Sample> {
    let round_trips = per_rep.div_ceil(2).max(1);
    let (to_peer, from_main) = mpsc::sync_channel::<Token>(0);
    let (to_main, from_peer) = mpsc::sync_channel::<Token>(0);
    let task = tally.clone();
    let peer = std::thread::spawn(move || {
        for token in from_main {
            if token.counted {
                task.tick();
            }
            to_main.send(token).unwrap();
        }
    });
    let round_trip = |counted| {
        to_peer.send(Token { left: 0, counted }).unwrap();
        black_box(from_peer.recv().unwrap());
    };
    round_trip(false); // the peer has started
    let samples = (0..reps)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..round_trips {
                round_trip(true);
                tally.tick();
            }
            Sample {
                ops: 2 * round_trips,
                elapsed: start.elapsed(),
            }
        })
        .collect();
    drop(to_peer);
    peer.join().unwrap();
    samples
}

/// A token passed around a ring of `threads` OS threads (64 KiB stacks), each
/// blocked on its own `mpsc` channel: every hand-off is one switch. The main
/// thread injects `per_rep` hops (at least one) and takes the token back:
/// `per_rep + 1` switches.
///
/// # Errors
///
/// When a thread cannot be spawned (the ones that were are stopped first).
pub fn thread_ring(
    threads: usize,
    per_rep: u64,
    reps: usize,
    tally: &impl Tally,
) -> Result<Vec<Sample>, String> {
    assert!(threads >= 1, "at least one thread");
    let hops = per_rep.max(1);
    let (senders, mut receivers): (Vec<_>, Vec<_>) = (0..threads)
        .map(|_| mpsc::channel::<Option<Token>>())
        .unzip();
    let (to_main, done) = mpsc::channel::<Token>();
    let mut handles = Vec::with_capacity(threads);
    let mut failure = None;
    for (i, inbox) in receivers.drain(..).enumerate() {
        let next = senders[(i + 1) % threads].clone();
        let (to_main, task) = (to_main.clone(), tally.clone());
        let spawned = std::thread::Builder::new()
            .stack_size(RING_THREAD_STACK)
            .spawn(move || {
                while let Ok(Some(token)) = inbox.recv() {
                    if token.counted {
                        task.tick();
                    }
                    if token.left <= 1 {
                        to_main.send(token).unwrap();
                    } else {
                        let _ = next.send(Some(Token {
                            left: token.left - 1,
                            ..token
                        }));
                    }
                }
                let _ = next.send(None); // pass the stop on
            });
        match spawned {
            Ok(handle) => handles.push(handle),
            Err(e) => {
                failure = Some(format!("only {i} of {threads} threads started: {e}"));
                break;
            }
        }
    }
    let first = &senders[0];
    let stop = || {
        let _ = first.send(None);
        for handle in handles {
            handle.join().unwrap();
        }
    };
    if let Some(failure) = failure {
        stop();
        return Err(failure);
    }
    let lap = |token: Token| {
        first.send(Some(token)).unwrap();
        done.recv().unwrap();
    };
    lap(Token {
        left: threads as u64,
        counted: false,
    }); // every thread has started and waits
    let samples = (0..reps)
        .map(|_| {
            let start = Instant::now();
            lap(Token {
                left: hops,
                counted: true,
            });
            tally.tick();
            Sample {
                ops: hops + 1,
                elapsed: start.elapsed(),
            }
        })
        .collect();
    stop();
    Ok(samples)
}

/// `std::thread::spawn` + `join` of an empty thread, one at a time.
pub fn thread_spawn_join(per_rep: u64, reps: usize, tally: &impl Tally) -> Vec<Sample> {
    let count = per_rep.max(1);
    (0..reps)
        .map(|_| {
            let start = Instant::now();
            for i in 0..count {
                let task = tally.clone();
                let thread = std::thread::spawn(move || {
                    task.tick();
                    black_box(i)
                });
                black_box(thread.join().unwrap());
            }
            Sample {
                ops: count,
                elapsed: start.elapsed(),
            }
        })
        .collect()
}
