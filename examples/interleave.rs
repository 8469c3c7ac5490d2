//! Seed 001's gevent example: three greenlets run `f(5)`. Without a switch
//! they run one after the other; with `sleep(0)` (here `yield_now`) they take
//! turns, in FIFO order.
//!
//! ```python
//! def f(n):
//!     for i in range(n):
//!         print gevent.getcurrent(), i
//!         gevent.sleep(0)      # only in the second run
//!
//! g1 = gevent.spawn(f, 5); g2 = gevent.spawn(f, 5); g3 = gevent.spawn(f, 5)
//! g1.join(); g2.join(); g3.join()
//! ```
//!
//! Run it with `cargo run --example interleave`. The output equals what real
//! gevent printed (`examples/expected/interleave.txt`), with each greenlet
//! shown by name instead of its address.

use greenlet::{Builder, Greenlet};

fn f(n: u32, switch: bool) {
    for i in 0..n {
        let me = greenlet::current();
        println!("{} {i}", me.name().unwrap_or("?"));
        if switch {
            greenlet::yield_now(); // gevent.sleep(0)
        }
    }
}

fn spawn_three(switch: bool) -> [Greenlet<()>; 3] {
    ["g1", "g2", "g3"].map(|name| {
        Builder::new()
            .name(name)
            .spawn(move || f(5, switch))
            .expect("a valid builder")
    })
}

fn main() {
    // Sequential: nothing in f switches, so each greenlet runs to the end.
    let [g1, g2, g3] = spawn_three(false);
    g1.join().unwrap();
    g2.join().unwrap();
    g3.join().unwrap();

    // Round-robin: each sleep(0) goes to the back of the ready queue.
    let [g1, g2, g3] = spawn_three(true);
    g1.join().unwrap();
    g2.join().unwrap();
    g3.join().unwrap();
}
