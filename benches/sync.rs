//! Synchronisation primitives against their std baselines, in the same run.
//!
//! `cargo bench --bench sync`

mod common;
#[path = "../examples/switch_cost/handoff.rs"]
mod handoff;
#[allow(dead_code)] // the report's other measurements
#[path = "../examples/switch_cost/measure.rs"]
mod measure;
#[allow(dead_code)]
#[path = "../examples/switch_cost/tokio_tasks.rs"]
mod tokio_tasks;

use std::hint::black_box;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use greenlet::sync::{Channel, Event, Mutex, PriorityQueue, Queue, RwLock, Semaphore};
use measure::{NoTally, Sample};

fn mutex(c: &mut Criterion) {
    let mut group = c.benchmark_group("mutex_uncontended");
    let green = Mutex::new(0u64);
    group.bench_function("greenlet", |b| {
        b.iter(|| {
            *green.lock() += 1;
        })
    });
    let std_mutex = std::sync::Mutex::new(0u64);
    group.bench_function("std", |b| {
        b.iter(|| {
            *std_mutex.lock().unwrap() += 1;
        })
    });
    group.finish();
}

/// `RwLock` read and write, uncontended, against `std::sync::RwLock`.
fn rwlock(c: &mut Criterion) {
    let mut group = c.benchmark_group("rwlock_uncontended");
    let green = RwLock::new(0u64);
    let std_lock = std::sync::RwLock::new(0u64);
    group.bench_function("greenlet_read", |b| b.iter(|| black_box(*green.read())));
    group.bench_function("std_read", |b| {
        b.iter(|| black_box(*std_lock.read().unwrap()))
    });
    group.bench_function("greenlet_write", |b| b.iter(|| *green.write() += 1));
    group.bench_function("std_write", |b| b.iter(|| *std_lock.write().unwrap() += 1));
    group.finish();
}

/// A put and a get on a `PriorityQueue` holding 100 items, against a push
/// and a pop on `std::collections::BinaryHeap` (of `Reverse`, smallest
/// first, as the queue) holding as many; and a FIFO `Queue`'s put and get,
/// the share of the queue core.
fn priority_queue(c: &mut Criterion) {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    const HELD: u64 = 100;
    let mut group = c.benchmark_group("priority_queue_put_get");
    let queue = PriorityQueue::unbounded();
    let mut heap = BinaryHeap::new();
    for n in 0..HELD {
        queue.put(n * 7 % HELD).unwrap();
        heap.push(Reverse(n * 7 % HELD));
    }
    let mut n = 0u64;
    group.bench_function("greenlet", |b| {
        b.iter(|| {
            n = n.wrapping_add(37);
            queue.put(n % HELD).unwrap();
            black_box(queue.get().unwrap())
        })
    });
    // The queue core's share: the same put and get on a FIFO `Queue`.
    let fifo = Queue::unbounded();
    for n in 0..HELD {
        fifo.put(n).unwrap();
    }
    group.bench_function("greenlet_fifo_queue", |b| {
        b.iter(|| {
            n = n.wrapping_add(37);
            fifo.put(n % HELD).unwrap();
            black_box(fifo.get().unwrap())
        })
    });
    group.bench_function("std_binary_heap", |b| {
        b.iter(|| {
            n = n.wrapping_add(37);
            heap.push(Reverse(n % HELD));
            black_box(heap.pop().unwrap())
        })
    });
    group.finish();
}

/// One message each way between two greenlets (or two threads), per iter.
fn queue_ping_pong(c: &mut Criterion) {
    let mut group = c.benchmark_group("queue_ping_pong");
    common::raw_corosensei_round_trip(&mut group);
    group.bench_function("greenlet_queue", |b| {
        b.iter_custom(|iters| {
            let (ping, pong) = (Queue::unbounded(), Queue::unbounded());
            let peer = {
                let (ping, pong) = (ping.clone(), pong.clone());
                greenlet::spawn(move || {
                    for _ in 0..iters {
                        let v: u64 = ping.get().unwrap();
                        pong.put(v + 1).unwrap();
                    }
                })
            };
            let start = Instant::now();
            for i in 0..iters {
                ping.put(i).unwrap();
                black_box(pong.get().unwrap());
            }
            let elapsed = start.elapsed();
            peer.join().unwrap();
            elapsed
        })
    });
    group.bench_function("std_mpsc_threads", |b| {
        b.iter_custom(|iters| {
            let (to_peer, from_main) = mpsc::channel::<u64>();
            let (to_main, from_peer) = mpsc::channel::<u64>();
            let peer = std::thread::spawn(move || {
                for v in from_main {
                    to_main.send(v + 1).unwrap();
                }
            });
            let start = Instant::now();
            for i in 0..iters {
                to_peer.send(i).unwrap();
                black_box(from_peer.recv().unwrap());
            }
            let elapsed = start.elapsed();
            drop(to_peer);
            peer.join().unwrap();
            elapsed
        })
    });
    group.finish();
}

/// Setting an Event that 10,000 greenlets wait on, until all have run.
fn event_wake_10000(c: &mut Criterion) {
    let mut group = c.benchmark_group("event_wake");
    group.sample_size(20);
    group.bench_function("10000_waiters", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let event = Event::new();
                let waiters: Vec<_> = (0..10_000)
                    .map(|_| {
                        let event = event.clone();
                        greenlet::spawn(move || event.wait())
                    })
                    .collect();
                greenlet::yield_now(); // all wait
                let start = Instant::now();
                event.set();
                greenlet::joinall(waiters);
                total += start.elapsed();
            }
            total
        })
    });
    group.finish();
}

/// The time of `iters` operations from one sample of a measurement that
/// rounds up (to whole rounds), scaled back to `iters`.
fn scaled(iters: u64, sample: Sample) -> Duration {
    sample.elapsed.mul_f64(iters as f64 / sample.ops as f64)
}

/// One hand-off between two tasks (one makes the other ready and blocks; the
/// other runs next), through each primitive, beside `yield_now` between two
/// greenlets and tokio's `mpsc` between two `current_thread` tasks. The
/// switch-cost report's `handoff.rs` and `tokio_tasks.rs` do the measuring.
fn handoff(c: &mut Criterion) {
    let mut group = c.benchmark_group("handoff");
    let t = &NoTally;
    let green = |iters, sample: Result<Vec<Sample>, String>| {
        scaled(iters, sample.expect("both greenlets run")[0])
    };
    group.bench_function("greenlet_yield_now_2", |b| {
        b.iter_custom(|iters| green(iters, measure::yield_ring(2, iters, 1, t)))
    });
    group.bench_function("greenlet_queue", |b| {
        b.iter_custom(|iters| green(iters, handoff::greenlet_handoff::<Queue<u64>>(iters, 1, t)))
    });
    group.bench_function("greenlet_channel", |b| {
        b.iter_custom(|iters| {
            green(
                iters,
                handoff::greenlet_handoff::<Channel<u64>>(iters, 1, t),
            )
        })
    });
    group.bench_function("greenlet_event", |b| {
        b.iter_custom(|iters| green(iters, handoff::greenlet_handoff::<Event>(iters, 1, t)))
    });
    group.bench_function("greenlet_semaphore", |b| {
        b.iter_custom(|iters| green(iters, handoff::greenlet_handoff::<Semaphore>(iters, 1, t)))
    });
    group.bench_function("tokio_yield_now_2", |b| {
        b.iter_custom(|iters| scaled(iters, tokio_tasks::yield_ring(2, iters, 1, t)[0]))
    });
    group.bench_function("tokio_mpsc", |b| {
        b.iter_custom(|iters| scaled(iters, tokio_tasks::mpsc_handoff(iters, 1, t)[0]))
    });
    group.finish();
}

criterion_group!(
    benches,
    mutex,
    rwlock,
    priority_queue,
    queue_ping_pong,
    handoff,
    event_wake_10000
);
criterion_main!(benches);
