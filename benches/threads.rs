//! Greenlets meeting OS threads, each group with its baselines in the same
//! run:
//!
//! - `apply_round_trip`: `threadpool::apply(|| x)` from the main context,
//!   against tokio's `spawn_blocking(..).await` on a `current_thread`
//!   runtime and `std::thread::spawn(..).join()`;
//! - `cross_thread_spawn`: from a long-lived other thread, `Handle::spawn`
//!   until the greenlet runs on the hub's thread and signals back, against
//!   tokio's `Handle::spawn` into a `current_thread` runtime, measured the
//!   same way.
//!
//! `cargo bench --bench threads`. The measuring functions are the
//! switch-cost report's (`examples/switch_cost/cross_thread.rs`).

#[path = "../examples/switch_cost/cross_thread.rs"]
mod cross_thread;
#[allow(dead_code)] // the report's other measurements
#[path = "../examples/switch_cost/measure.rs"]
mod measure;
#[allow(dead_code)]
#[path = "../examples/switch_cost/threads.rs"]
mod threads;

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use measure::{NoTally, Sample};

/// The time of `iters` operations, one repetition of `measure`.
fn time(measure: fn(u64, usize, &NoTally) -> Vec<Sample>, iters: u64) -> Duration {
    measure(iters, 1, &NoTally)
        .iter()
        .map(|s| s.elapsed.mul_f64(iters as f64 / s.ops as f64))
        .sum()
}

fn apply_round_trip(c: &mut Criterion) {
    let mut group = c.benchmark_group("apply_round_trip");
    group.bench_function("greenlet_threadpool_apply", |b| {
        b.iter_custom(|iters| time(cross_thread::greenlet_apply, iters))
    });
    group.bench_function("tokio_spawn_blocking_await", |b| {
        b.iter_custom(|iters| time(cross_thread::tokio_spawn_blocking, iters))
    });
    group.bench_function("std_thread_spawn_join", |b| {
        b.iter_custom(|iters| time(threads::thread_spawn_join, iters))
    });
    group.finish();
}

fn cross_thread_spawn(c: &mut Criterion) {
    let mut group = c.benchmark_group("cross_thread_spawn");
    group.bench_function("greenlet_handle_spawn", |b| {
        b.iter_custom(|iters| time(cross_thread::greenlet_cross_wake, iters))
    });
    group.bench_function("tokio_handle_spawn", |b| {
        b.iter_custom(|iters| time(cross_thread::tokio_cross_spawn, iters))
    });
    group.finish();
}

criterion_group!(benches, apply_round_trip, cross_thread_spawn);
criterion_main!(benches);
