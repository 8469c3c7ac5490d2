//! Seed 001's `jumping_range`: a value sent into a generator changes what it
//! yields next.
//!
//! ```python
//! def jumping_range(N):
//!     index = 0
//!     while index < N:
//!         jump = yield index
//!         if jump is None:
//!             jump = 1
//!         index += jump
//! ```
//!
//! Run it with `cargo run --example jumping_range`. It prints 0, 2, 3, 2.

use greenlet::{Generator, GeneratorState};

fn jumping_range(n: i64) -> Generator<Option<i64>, i64> {
    Generator::new(move |co, _first: Option<i64>| {
        let mut index = 0;
        while index < n {
            // `jump = yield index`; Python's `next()` sends None.
            let jump = co.yield_(index).unwrap_or(1);
            index += jump;
        }
    })
}

/// Python's `itr.send(value)`, which raises `StopIteration` once the body returns.
fn send(itr: &mut Generator<Option<i64>, i64>, value: Option<i64>) -> i64 {
    match itr.send(value) {
        GeneratorState::Yielded(index) => index,
        GeneratorState::Complete(()) => panic!("StopIteration"),
    }
}

fn main() {
    let mut itr = jumping_range(5);
    println!("{}", send(&mut itr, None)); // next(itr)
    println!("{}", send(&mut itr, Some(2))); // itr.send(2)
    println!("{}", send(&mut itr, None)); // next(itr)
    println!("{}", send(&mut itr, Some(-1))); // itr.send(-1)
}
