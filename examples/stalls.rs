//! What a blocking call costs the other greenlets: a ticker greenlet sleeps
//! 2 ms in a loop while another greenlet makes the call, first with std's
//! blocking version, then with the library's. The table shows the ticker's
//! worst gap between two ticks: how long every other greenlet stalled.
//!
//! ```sh
//! cargo run --release --example stalls              # reads a 400 MB file too
//! cargo run --release --example stalls -- --small   # a 40 MB file
//! ```
//!
//! The slow name lookup (a resolver answering in 300 ms) needs a fake DNS
//! server in a mount namespace of its own: `tests/dns.rs` measures it and
//! prints the same figures (`cargo test --test dns -- --nocapture`).

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Runs `call` in a greenlet beside a ticker and returns the ticker's worst
/// gap between ticks, and how many ticks it made, while `call` ran.
fn stall(call: impl FnOnce() + 'static) -> (Duration, usize) {
    let done = Rc::new(Cell::new(false));
    let ticker = {
        let done = done.clone();
        greenlet::spawn(move || {
            let (mut worst, mut ticks) = (Duration::ZERO, 0);
            let mut last = Instant::now();
            while !done.get() {
                greenlet::sleep(Duration::from_millis(2));
                worst = worst.max(last.elapsed());
                last = Instant::now();
                ticks += 1;
            }
            (worst, ticks)
        })
    };
    greenlet::yield_now(); // the ticker is sleeping now
    let caller = greenlet::spawn(move || {
        call();
        done.set(true);
    });
    caller.join().unwrap();
    ticker.join().unwrap()
}

fn row(what: &str, std_way: impl FnOnce() + 'static, green_way: impl FnOnce() + 'static) {
    let (std_gap, std_ticks) = stall(std_way);
    let (green_gap, green_ticks) = stall(green_way);
    println!(
        "{what:<44} {:>8.1} ms ({std_ticks:>3} ticks) {:>8.1} ms ({green_ticks:>3} ticks)",
        std_gap.as_secs_f64() * 1e3,
        green_gap.as_secs_f64() * 1e3,
    );
}

fn main() -> std::io::Result<()> {
    let small = std::env::args().any(|a| a == "--small");
    let megabytes = if small { 40 } else { 400 };
    let path = std::env::temp_dir().join(format!("greenlet-stalls-{}", std::process::id()));
    std::fs::write(&path, vec![7u8; megabytes << 20])?;

    println!(
        "{:<44} {:>22} {:>22}",
        "call in a greenlet", "std: worst stall", "greenlet: worst stall"
    );
    row(
        "sleep 200 ms (threadpool::apply)",
        || std::thread::sleep(Duration::from_millis(200)),
        || greenlet::threadpool::apply(|| std::thread::sleep(Duration::from_millis(200))),
    );
    let (a, b) = (path.clone(), path.clone());
    row(
        &format!("read a {megabytes} MB file (greenlet::fs::read)"),
        move || drop(std::fs::read(a).unwrap()),
        move || drop(greenlet::fs::read(b).unwrap()),
    );
    row(
        "recv a thread's result, 200 ms (sync::mpsc)",
        || {
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(200));
                tx.send(1).unwrap();
            });
            rx.recv().unwrap();
        },
        || {
            let (tx, rx) = greenlet::sync::mpsc::channel();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(200));
                tx.send(1).unwrap();
            });
            rx.recv().unwrap();
        },
    );
    row(
        "await a thread's oneshot, 200 ms (block_on)",
        || {
            let (tx, rx) = std::sync::mpsc::channel::<()>();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(200));
                tx.send(()).unwrap();
            });
            rx.recv().unwrap();
        },
        || {
            let (tx, rx) = futures_channel::oneshot::channel();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(200));
                tx.send(()).unwrap();
            });
            greenlet::block_on(rx).unwrap();
        },
    );
    std::fs::remove_file(&path)
}
