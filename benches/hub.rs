//! Hub hot paths, each group with its baselines in the same run.
//!
//! `cargo bench --bench hub`
//!
//! "One switch" is one transfer of control from one task to another: a raw
//! corosensei `resume` + `suspend` pair, one `yield_now` (greenlet → hub →
//! greenlet), or one message across a rendezvous channel between threads.

mod common;
#[allow(dead_code)] // the report's other measurements
#[path = "../examples/switch_cost/measure.rs"]
mod measure;

use std::hint::black_box;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

/// Time of `iters` switches among `tasks` greenlets that each `yield_now`
/// in turn, rounded up to whole rounds and scaled back to `iters`. Spawning
/// and starting the greenlets (mapping their stacks) and their ends are not
/// timed: the switch-cost report's `yield_ring` does the measuring.
fn yield_among(tasks: usize, iters: u64) -> Duration {
    let sample =
        measure::yield_ring(tasks, iters, 1, &measure::NoTally).expect("every greenlet starts")[0];
    sample.elapsed.mul_f64(iters as f64 / sample.ops as f64)
}

fn switch(c: &mut Criterion) {
    let mut group = c.benchmark_group("switch");

    common::raw_corosensei_round_trip(&mut group);

    group.bench_function("greenlet_yield_now_2", |b| {
        b.iter_custom(|iters| yield_among(2, iters))
    });

    // The blocking monitor's whole cost on the switch path is one relaxed
    // store, made whether it is on or off: these two should agree.
    group.bench_function("greenlet_yield_now_2_monitored", |b| {
        greenlet::monitor::set_max_blocking_time(Duration::from_secs(1));
        b.iter_custom(|iters| yield_among(2, iters));
        greenlet::monitor::set_max_blocking_time(Duration::ZERO);
    });

    group.bench_function("os_threads_mpsc_rendezvous", |b| {
        b.iter_custom(|iters| {
            let (to_peer, from_main) = mpsc::sync_channel::<u64>(0);
            let (to_main, from_peer) = mpsc::sync_channel::<u64>(0);
            let peer = std::thread::spawn(move || {
                for v in from_main {
                    to_main.send(v + 1).unwrap();
                }
            });
            let start = Instant::now();
            for i in 0..iters.div_ceil(2) {
                to_peer.send(i).unwrap();
                black_box(from_peer.recv().unwrap());
            }
            let elapsed = start.elapsed();
            drop(to_peer);
            peer.join().unwrap();
            elapsed.mul_f64(iters as f64 / (2 * iters.div_ceil(2)) as f64)
        })
    });
    group.finish();

    let mut group = c.benchmark_group("switch_many");
    group.sample_size(20);
    group.bench_function("greenlet_yield_now_10000", |b| {
        b.iter_custom(|iters| yield_among(10_000, iters))
    });
    group.finish();
}

const BATCH: u64 = 100_000;

/// Time of `iters` greenlets spawned (or spawned for later) and joined, in
/// batches of 100,000.
fn spawn_batches(iters: u64, later: bool) -> Duration {
    let mut left = iters;
    let mut total = Duration::ZERO;
    while left > 0 {
        let n = left.min(BATCH);
        left -= n;
        let start = Instant::now();
        let gs: Vec<_> = (0..n)
            .map(|i| {
                if later {
                    greenlet::spawn_later(Duration::from_micros(i % 1000), move || black_box(i))
                } else {
                    greenlet::spawn(move || black_box(i))
                }
            })
            .collect();
        for g in gs {
            black_box(g.join().unwrap());
        }
        total += start.elapsed();
    }
    total
}

fn spawn_join(c: &mut Criterion) {
    let mut group = c.benchmark_group("spawn_join");
    group.sample_size(20);
    group.bench_function(BenchmarkId::new("greenlet", "batch_100k"), |b| {
        b.iter_custom(|iters| spawn_batches(iters, false))
    });
    group.bench_function("os_thread", |b| {
        b.iter(|| std::thread::spawn(|| black_box(1)).join().unwrap())
    });
    group.finish();

    // Each spawn_later is a timer inserted and fired (it starts the greenlet).
    let mut group = c.benchmark_group("timers");
    group.sample_size(10);
    group.bench_function(BenchmarkId::new("spawn_later", "batch_100k"), |b| {
        b.iter_custom(|iters| spawn_batches(iters, true))
    });
    group.finish();
}

criterion_group!(benches, switch, spawn_join);
criterion_main!(benches);
