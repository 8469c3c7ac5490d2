//! Seed 000's Ping/Pong counter, with greenlets instead of processes.
//!
//! ```python
//! counter = 0
//!
//! def sub_task(string):
//!     global counter
//!     while counter < 10:
//!         print(string, end='', flush=True)
//!         counter += 1
//!         sleep(0.01)
//!
//! Process(target=sub_task, args=('Ping', )).start()
//! Process(target=sub_task, args=('Pong', )).start()
//! ```
//!
//! The seed's processes each get a copy of `counter`, so each prints ten
//! times. Greenlets share one thread's memory, so together they stop at ten.
//! They take turns because each sleeps after printing, and timers fire in
//! the order they were set.
//!
//! Run it with `cargo run --example ping_pong`.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

fn sub_task(string: &'static str, counter: Rc<Cell<u32>>) {
    while counter.get() < 10 {
        print!("{string}");
        counter.set(counter.get() + 1);
        greenlet::sleep(Duration::from_millis(10));
    }
}

fn main() {
    let counter = Rc::new(Cell::new(0));
    let ping = greenlet::spawn({
        let counter = counter.clone();
        move || sub_task("Ping", counter)
    });
    let pong = greenlet::spawn({
        let counter = counter.clone();
        move || sub_task("Pong", counter)
    });
    ping.join().unwrap();
    pong.join().unwrap();
    println!();
    println!(
        "counter = {}: one counter shared by both greenlets (the seed's two processes print 20 words)",
        counter.get()
    );
}
