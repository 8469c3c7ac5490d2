//! Seed 002's 12-3, `threading.Barrier(5, timeout=10)`, with greenlets:
//! five greenlets meet at a common stopping point, then go on together.
//! A second barrier that only four reach shows the timeout.
//!
//! Run it with `cargo run --example barrier`.

use std::time::Duration;

use greenlet::sync::Barrier;

fn main() {
    // Five greenlets arriving 10 ms apart; none goes on before the fifth.
    let b = Barrier::new(5);
    let party: Vec<_> = (0..5u64)
        .map(|i| {
            let b = b.clone();
            greenlet::spawn(move || {
                greenlet::sleep(Duration::from_millis(10 * (i + 1)));
                println!("greenlet {i} reached the barrier");
                let result = b.wait();
                let role = if result.is_leader() {
                    " (the leader)"
                } else {
                    ""
                };
                println!("greenlet {i} passed{role}");
            })
        })
        .collect();
    greenlet::joinall(party);

    // Only four of five arrive: each gives up after its timeout.
    let b = Barrier::new(5);
    let party: Vec<_> = (0..4u64)
        .map(|i| {
            let b = b.clone();
            greenlet::spawn(move || match b.wait_timeout(Duration::from_millis(50)) {
                Some(_) => println!("greenlet {i} passed"),
                None => println!("greenlet {i} timed out: only 4 of 5 came"),
            })
        })
        .collect();
    greenlet::joinall(party);
}
