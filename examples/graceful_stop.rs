//! A service that runs until `SIGINT` (Ctrl-C) or `SIGTERM`, then stops its
//! workers cleanly: the main context waits for the signal while the
//! workers' greenlets go on running.
//!
//! ```sh
//! cargo run --example graceful_stop              # stop it with Ctrl-C or `kill PID`
//! cargo run --example graceful_stop -- --demo    # sends itself SIGTERM after 50 ms
//! ```

use std::process::Command;
use std::time::Duration;

use greenlet::signal::{SIGINT, SIGTERM, Signals};

/// Prints when a worker's stack unwinds, like a `finally:` block.
struct Finally(usize);

impl Drop for Finally {
    fn drop(&mut self) {
        println!("worker {}: stopped cleanly", self.0);
    }
}

fn main() -> std::io::Result<()> {
    let demo = std::env::args().any(|a| a == "--demo");
    // Register first, so that a signal sent from now on is never missed.
    let mut signals = Signals::new(&[SIGINT, SIGTERM])?;
    let workers: Vec<_> = (1..=3)
        .map(|n| {
            greenlet::spawn(move || {
                let _finally = Finally(n);
                loop {
                    greenlet::sleep(Duration::from_millis(10)); // a unit of work
                }
            })
        })
        .collect();
    println!("serving with 3 workers");
    if !demo {
        println!("pid {}: stop it with Ctrl-C or kill", std::process::id());
    }
    if demo {
        let pid = std::process::id().to_string();
        // `kill` runs on the thread pool: the hub never waits for it.
        greenlet::spawn(move || {
            greenlet::sleep(Duration::from_millis(50));
            greenlet::threadpool::apply(move || Command::new("kill").args(["-TERM", &pid]).status())
        });
    }
    let stop = signals.wait()?; // the workers run meanwhile
    let name = if stop == SIGTERM { "SIGTERM" } else { "SIGINT" };
    println!("got {name}: stopping");
    for worker in workers {
        worker.kill(); // returns once its stack has unwound
    }
    println!("stopped");
    Ok(())
}
