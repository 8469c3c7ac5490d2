//! The consumer/producer pair from seed 000's "coroutines" section, ported
//! from Python's generator to `greenlet::Generator`.
//!
//! ```python
//! def consumer():
//!     r = ''
//!     while True:
//!         n = yield r
//!         if not n:
//!             return
//!         print('[CONSUMER] Consuming %s...' % n)
//!         r = '200 OK'
//! ```
//!
//! Run it with `cargo run --release --example producer_consumer`.

use greenlet::{Generator, GeneratorState, Yielder};

/// Python's `consumer()`: `None` becomes `Option::None`.
fn consumer() -> Generator<Option<u32>, &'static str> {
    Generator::new(|co: &Yielder<Option<u32>, &'static str>, _first| {
        let mut r = "";
        loop {
            // `n = yield r`: hand `r` to the producer, wait for the next `n`.
            let Some(n) = co.yield_(r) else {
                return;
            };
            println!("[CONSUMER] Consuming {n}...");
            r = "200 OK";
        }
    })
}

/// Python's `produce(c)`.
fn produce(c: &mut Generator<Option<u32>, &'static str>) {
    c.send(None); // start the consumer: it runs up to its first `yield`
    for n in 1..=5 {
        println!("[PRODUCER] Producing {n}...");
        let GeneratorState::Yielded(r) = c.send(Some(n)) else {
            unreachable!("the consumer only returns when sent None");
        };
        println!("[PRODUCER] Consumer return: {r}");
    }
    c.close();
}

fn main() {
    let mut c = consumer();
    produce(&mut c);
}
