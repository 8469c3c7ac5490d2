//! Seeds 000, 003 and 004's `multiprocessing.Pool(4)` running five tasks,
//! with a `greenlet::pool::Pool` of four greenlets: the fifth task starts
//! only when one of the first four has finished.
//!
//! The seed sleeps `random.random() * 3` seconds per task; here each task
//! sleeps a fixed, scaled-down stand-in (0–500 ms), and prints the duration
//! it planned rather than a measured one, so that the output is the same on
//! every run (CI diffs it with `examples/expected/pool.txt`).
//!
//! Run it with `cargo run --example pool`.

use std::time::Duration;

use greenlet::pool::Pool;

/// How long each task sleeps, in milliseconds: fixed stand-ins for the
/// seed's random durations.
/// Chosen so that the events (task ends at 100, 200, 310, 400 and 500 ms)
/// are at least 90 ms apart: a busy shared machine can stall a process for
/// tens of milliseconds, and the printed order must not depend on that.
const DURATIONS_MS: [u64; 5] = [400, 200, 500, 100, 210];

fn long_time_task(i: usize) {
    println!("Run task {i}...");
    let ms = DURATIONS_MS[i];
    greenlet::sleep(Duration::from_millis(ms));
    println!("Task {i} runs {:.2} seconds.", ms as f64 / 1000.0);
}

fn main() {
    println!("Parent greenlet started.");
    let pool = Pool::new(4);
    for i in 0..5 {
        // The fifth `spawn` waits here until a slot frees (task 3, at 100 ms).
        pool.spawn(move || long_time_task(i));
    }
    println!("Waiting for all greenlets done...");
    pool.join();
    println!("All greenlets done.");
}
