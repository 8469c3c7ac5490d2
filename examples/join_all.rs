//! Seed 004's section 2.3 ("线程阻塞": the main thread waits with `join`):
//! five greenlets joined after the loop that spawns them sleep at once;
//! joined inside the loop, they run one after the other. The Python
//! original is `examples/expected/join_all.py`.
//!
//! ```python
//! def test():
//!     print(threading.current_thread())
//!     time.sleep(5)
//!
//! thread_list = []
//! for i in range(5):
//!     th = threading.Thread(target=test)
//!     th.start()
//!     thread_list.append(th)      # or th.join() here: one at a time
//! for th in thread_list:
//!     th.join()
//! print('主线程结束')              # "the main thread ends"
//! ```
//!
//! The seed sleeps 5 s; here each greenlet sleeps 50 ms. Each has a name
//! (the seed prints the thread's repr, with its address), and main says when
//! each `join` returns, so stdout shows the order. The totals, about 0.05 s
//! and 0.25 s, are timings and go to stderr.
//!
//! Run it with `cargo run --example join_all`.

use std::time::{Duration, Instant};

use greenlet::{Builder, Greenlet};

fn test() {
    println!("{}", greenlet::current().name().unwrap_or("?"));
    greenlet::sleep(Duration::from_millis(50));
}

/// Spawns `test` as a greenlet named `test-N`. It starts once main blocks.
fn spawn_test(n: u32) -> Greenlet<()> {
    Builder::new()
        .name(format!("test-{n}"))
        .spawn(test)
        .expect("a valid builder")
}

/// All five are spawned before the first `join`: at that `join` they all
/// start, in the order spawned, and sleep at the same time.
fn join_after_the_loop() {
    let thread_list: Vec<_> = (1..=5).map(spawn_test).collect();
    for th in thread_list {
        let name = th.name().unwrap_or("?").to_owned();
        th.join().unwrap();
        println!("joined {name}");
    }
    println!("主线程结束");
}

/// Each `join` waits for its greenlet before the loop spawns the next, so
/// the five sleeps come one after another.
fn join_inside_the_loop() {
    for n in 1..=5 {
        let th = spawn_test(n);
        let name = th.name().unwrap_or("?").to_owned();
        th.join().unwrap();
        println!("joined {name}");
    }
    println!("主线程结束");
}

fn main() {
    let runs: [(&str, fn()); 2] = [
        ("join after the loop", join_after_the_loop),
        ("join inside the loop", join_inside_the_loop),
    ];
    for (name, run) in runs {
        println!("{name}:");
        let start = Instant::now();
        run();
        let took = start.elapsed().as_secs_f64();
        eprintln!("{name}: five sleeps of 0.05 s took {took:.2} s");
    }
}
