//! Seed 001's generator examples: an endless `fib()` read with `next`, then
//! `mygen(4)` driven by alternating `send(None)` and `next`, which the seed
//! uses to show that the two are the same thing.
//!
//! ```python
//! def fib():
//!     prev, curr = 0, 1
//!     while True:
//!         yield curr
//!         curr, prev = prev + curr, curr
//!
//! def mygen(n):
//!     now = 0
//!     while now < n:
//!         yield now
//!         now += 1
//! ```
//!
//! Run it with `cargo run --example fib`.

use greenlet::{Generator, GeneratorState};

fn fib() -> Generator<(), u64> {
    Generator::new(|co, ()| {
        let (mut prev, mut curr) = (0, 1);
        loop {
            co.yield_(curr);
            (curr, prev) = (prev + curr, curr);
        }
    })
}

fn mygen(n: u32) -> Generator<(), u32> {
    Generator::new(move |co, ()| {
        for now in 0..n {
            co.yield_(now);
        }
    })
}

fn main() {
    // `for i in range(10): print(next(f))`: a `Generator<(), _>` is an Iterator.
    for value in fib().take(10) {
        println!("{value}");
    }

    // `send(None)` and `next()` both resume the body with "nothing".
    let mut g = mygen(4);
    let sent = |g: &mut Generator<(), u32>| match g.send(()) {
        GeneratorState::Yielded(now) => now,
        GeneratorState::Complete(()) => panic!("StopIteration"),
    };
    println!("{}", sent(&mut g)); // gen.send(None)
    println!("{}", g.next().expect("a value")); // next(gen)
    println!("{}", sent(&mut g)); // gen.send(None)
    println!("{}", g.next().expect("a value")); // next(gen)
}
