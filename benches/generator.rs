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

criterion_group!(benches, switch, create_run_drop);
criterion_main!(benches);
