//! Seed 004's `ProcessPoolExecutor` prime check, on a
//! `greenlet::threadpool::ThreadPool`: `map` runs `is_prime` on the pool's
//! OS threads, in parallel, and returns the answers in the numbers' order.
//!
//! Python needs processes to get past its interpreter lock; Rust threads
//! run in parallel already. Standard output is the seed's, line for line
//! (CI diffs it with `examples/expected/primes.txt`); the wall times, with
//! one thread and with every core, go to standard error.
//!
//! Run it with `cargo run --release --example primes`.

use std::time::Instant;

use greenlet::threadpool::ThreadPool;

const PRIMES: [u64; 6] = [
    112272535095293,
    112582705942171,
    112272535095293,
    115280095190773,
    115797848077099,
    1099726899285419,
];

/// Trial division by the odd numbers up to the square root, as the seed.
fn is_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    if n == 2 {
        return true;
    }
    if n % 2 == 0 {
        return false;
    }
    let sqrt_n = (n as f64).sqrt().floor() as u64;
    (3..=sqrt_n).step_by(2).all(|i| n % i != 0)
}

fn main() {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut answers = Vec::new();
    for threads in [1, cores] {
        let pool = ThreadPool::new(threads);
        let start = Instant::now();
        // Blocks only the calling greenlet (here the main context) until
        // every number is checked.
        answers = pool.map(is_prime, PRIMES);
        eprintln!("{threads} thread(s): {:.2?}", start.elapsed());
    }
    for (number, prime) in PRIMES.iter().zip(answers) {
        // Python spells booleans `True` and `False`.
        let prime = if prime { "True" } else { "False" };
        println!("{number} is prime: {prime}");
    }
}
