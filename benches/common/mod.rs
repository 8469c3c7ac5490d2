//! The baseline every bench group measures beside its own figures.

use std::hint::black_box;

use corosensei::stack::DefaultStack;
use corosensei::{Coroutine, CoroutineResult};
use criterion::BenchmarkGroup;
use criterion::measurement::WallTime;
use greenlet::DEFAULT_STACK_SIZE;

/// Adds `corosensei_resume_suspend` to `group`: one raw round trip into a
/// coroutine and back (two stack switches), the floor for any switch here.
pub fn raw_corosensei_round_trip(group: &mut BenchmarkGroup<'_, WallTime>) {
    let mut raw: Coroutine<u64, u64, ()> = Coroutine::with_stack(
        DefaultStack::new(DEFAULT_STACK_SIZE).unwrap(),
        |y, mut x: u64| loop {
            x = y.suspend(x.wrapping_add(1));
        },
    );
    group.bench_function("corosensei_resume_suspend", |b| {
        b.iter(|| match raw.resume(black_box(1)) {
            CoroutineResult::Yield(v) => v,
            CoroutineResult::Return(()) => unreachable!(),
        })
    });
}
