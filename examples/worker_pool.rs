//! Seed 002's `multiprocessing.Pool(processes=4)` (listings 12-7 and 12-8),
//! on a `greenlet::threadpool::ThreadPool` of four OS threads: `map` blocks
//! until every result is back; `imap` is `map_async`, starting every task
//! at once and handing back an object to collect the results from later.
//!
//! Standard output is what the seed's interpreter session shows (CI diffs
//! it with `examples/expected/worker_pool.txt`).
//!
//! Run it with `cargo run --example worker_pool`.

use greenlet::threadpool::ThreadPool;

fn adder(a: u64) -> u64 {
    a + a
}

fn main() {
    let pool1 = ThreadPool::new(4);
    // This method blocks until all tasks return (only the calling greenlet
    // waits; here the main context, which runs the hub meanwhile).
    println!("{:?}", pool1.map(adder, 0..10));
    // This one returns at once, with every task started; collecting waits.
    let results = pool1.imap(adder, 0..10);
    println!("{:?}", results.collect::<Vec<_>>());
}
