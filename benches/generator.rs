//! Generator hot paths against raw corosensei, measured in the same run.
//!
//! `cargo bench --bench generator`

mod common;

use std::hint::black_box;

use corosensei::Coroutine;
use corosensei::stack::DefaultStack;
use criterion::{Criterion, criterion_group, criterion_main};
use greenlet::{DEFAULT_STACK_SIZE, Generator, GeneratorState};

/// One round trip: into the body and back out (two stack switches).
fn switch(c: &mut Criterion) {
    let mut group = c.benchmark_group("switch");

    common::raw_corosensei_round_trip(&mut group);

    let mut generator: Generator<u64, u64> = Generator::new(|co, mut x: u64| {
        loop {
            x = co.yield_(x.wrapping_add(1));
        }
    });
    group.bench_function("generator_send_yield", |b| {
        b.iter(|| match generator.send(black_box(1)) {
            GeneratorState::Yielded(v) => v,
            GeneratorState::Complete(()) => unreachable!(),
        })
    });
    group.finish();
}

/// Create a coroutine, run it to completion, and drop it.
fn create_run_drop(c: &mut Criterion) {
    let mut group = c.benchmark_group("create_run_drop");

    group.bench_function("generator_pooled_stack", |b| {
        b.iter(|| {
            let mut g: Generator<u64, (), u64> = Generator::new(|_, x| x + 1);
            g.send(black_box(1))
        })
    });

    // The floor: corosensei with one stack reused by hand, no pool.
    let mut spare = Some(DefaultStack::new(DEFAULT_STACK_SIZE).unwrap());
    group.bench_function("corosensei_reused_stack", |b| {
        b.iter(|| {
            let stack = spare.take().unwrap();
            let mut co: Coroutine<u64, (), u64, _> = Coroutine::with_stack(stack, |_, x| x + 1);
            let result = co.resume(black_box(1));
            spare = Some(co.into_stack());
            result
        })
    });

    // What a stack per coroutine costs: corosensei's default 1 MiB stack.
    group.bench_function("corosensei_fresh_default_stack", |b| {
        b.iter(|| {
            let mut co: Coroutine<u64, (), u64> = Coroutine::new(|_, x| x + 1);
            co.resume(black_box(1))
        })
    });
    group.finish();
}

/// Fresh stacks, none pooled: `n` coroutines made on a new thread, each
/// run up to its first suspension (so its stack's top page is touched) and
/// kept alive together, as a spike of greenlets would be. Per coroutine.
fn fresh_stacks(c: &mut Criterion) {
    const BATCH: u64 = 10_000; // DefaultStack stops near 32,700 (two mappings each)
    let per_coroutine = |iters: u64, make: fn(u64) -> Box<dyn std::any::Any>| {
        let mut left = iters;
        let mut total = std::time::Duration::ZERO;
        while left > 0 {
            let n = left.min(BATCH);
            left -= n;
            total += std::thread::spawn(move || {
                let start = std::time::Instant::now();
                let alive: Vec<_> = (0..n).map(make).collect();
                let elapsed = start.elapsed();
                drop(alive);
                elapsed
            })
            .join()
            .unwrap();
        }
        total
    };
    let mut group = c.benchmark_group("fresh_stack");
    group.sample_size(20);
    group.bench_function("generator_region_slot", |b| {
        b.iter_custom(|iters| {
            per_coroutine(iters, |i| {
                let mut g: Generator<(), u64> = Generator::new(|co, ()| {
                    loop {
                        co.yield_(1);
                    }
                });
                black_box(g.send(()));
                black_box(i);
                Box::new(g)
            })
        })
    });
    group.bench_function("corosensei_default_stack", |b| {
        b.iter_custom(|iters| {
            per_coroutine(iters, |i| {
                let stack = DefaultStack::new(DEFAULT_STACK_SIZE).unwrap();
                let mut co: Coroutine<(), u64, (), _> = Coroutine::with_stack(stack, |co, ()| {
                    loop {
                        co.suspend(1);
                    }
                });
                black_box(co.resume(()));
                black_box(i);
                Box::new(co)
            })
        })
    });
    group.finish();
}

criterion_group!(benches, switch, create_run_drop, fresh_stacks);
criterion_main!(benches);
