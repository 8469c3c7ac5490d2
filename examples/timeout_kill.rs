//! `with_timeout`, `kill` and `spawn_later`, each showing that destructors
//! run when a greenlet is interrupted: Rust's answer to `finally`.
//!
//! Run it with `cargo run --example timeout_kill`.

use std::time::Duration;

/// Prints when it is dropped, like a `finally:` block.
struct Finally(&'static str);

impl Drop for Finally {
    fn drop(&mut self) {
        println!("  finally: {}", self.0);
    }
}

fn main() {
    println!("with_timeout: a 10 s sleep under a 50 ms timeout");
    let result = greenlet::with_timeout(Duration::from_millis(50), || {
        let _finally = Finally("the sleeper's guard dropped");
        greenlet::sleep(Duration::from_secs(10));
        "woke up"
    });
    println!("  result: {result:?}");

    println!("kill: a greenlet sleeping for an hour");
    let sleeper = greenlet::spawn(|| {
        let _finally = Finally("the killed greenlet's guard dropped");
        greenlet::sleep(Duration::from_secs(3600));
    });
    greenlet::sleep(Duration::from_millis(10)); // let it start and block
    sleeper.kill(); // returns once the greenlet is dead
    println!("  join: {:?}", sleeper.join());

    println!("spawn_later: one starts in 20 ms, one is killed before it starts");
    let later = greenlet::spawn_later(Duration::from_millis(20), || "ran after 20 ms");
    let never = greenlet::spawn_later(Duration::from_millis(20), || {
        println!("  this never prints");
    });
    never.kill();
    println!("  killed before start: {:?}", never.join());
    println!("  later: {:?}", later.join());
}
