//! Seeds 003 and 004: a writer and a reader talking through a queue, as
//! greenlets instead of processes (the seed sleeps 1 s; here 50 ms).
//!
//! ```python
//! def write_task(q):
//!     n = 1
//!     while n < 5:
//!         print("write, %d" % n)
//!         q.put(n)
//!         time.sleep(1)
//!         n += 1
//!     print("write_task end")
//!
//! def read_task(q):
//!     n = 1
//!     while n < 5:
//!         print("read, %d" % q.get())
//!         time.sleep(1)
//!         n += 1
//!     print("read_task end")
//! ```
//!
//! Run it with `cargo run --example queue_rw`.

use std::time::Duration;

use greenlet::sync::Queue;

const PAUSE: Duration = Duration::from_millis(50);

fn write_task(q: Queue<u32>) {
    for n in 1..5 {
        println!("write, {n}");
        q.put(n).expect("the queue stays open");
        greenlet::sleep(PAUSE);
    }
    println!("write_task end");
}

fn read_task(q: Queue<u32>) {
    for _ in 1..5 {
        println!("read, {}", q.get().expect("the queue stays open"));
        greenlet::sleep(PAUSE);
    }
    println!("read_task end");
}

fn main() {
    let q = Queue::unbounded();
    let pw = greenlet::spawn({
        let q = q.clone();
        move || write_task(q)
    });
    let pr = greenlet::spawn(move || read_task(q));
    pw.join().unwrap();
    pr.join().unwrap();
    println!("DONE");
}
