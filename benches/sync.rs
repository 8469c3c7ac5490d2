//! Synchronisation primitives against their std baselines, in the same run.
//!
//! `cargo bench --bench sync`

mod common;

use std::hint::black_box;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use greenlet::sync::{Event, Mutex, Queue};

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

criterion_group!(benches, mutex, queue_ping_pong, event_wake_10000);
criterion_main!(benches);
