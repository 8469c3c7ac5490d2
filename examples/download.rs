//! Seed 000's two "downloads", as greenlets instead of processes.
//!
//! ```python
//! def download_task(filename):
//!     print('开始下载%s...' % filename)
//!     time_to_download = randint(5, 10)
//!     sleep(time_to_download)
//!     print('%s下载完成! 耗费了%d秒' % (filename, time_to_download))
//! ```
//!
//! The seed sleeps 5–10 s; here each download takes 0.5–1.0 s. Both sleep at
//! once on one thread, so the total is about the longer one, not the sum.
//!
//! Run it with `cargo run --example download`.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A duration of 500–1000 ms, drawn from the clock (the seed uses `randint`).
fn random_duration(salt: u64) -> Duration {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    let mixed =
        (nanos ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    Duration::from_millis(500 + (mixed >> 33) % 501)
}

fn download_task(filename: &'static str, salt: u64) -> Duration {
    println!("开始下载{filename}...");
    let time_to_download = random_duration(salt);
    greenlet::sleep(time_to_download); // other greenlets run meanwhile
    println!(
        "{filename}下载完成! 耗费了{:.2}秒",
        time_to_download.as_secs_f64()
    );
    time_to_download
}

fn main() {
    let start = Instant::now();
    let p1 = greenlet::spawn(|| download_task("Python从入门到住院.pdf", 1));
    let p2 = greenlet::spawn(|| download_task("Peking Hot.avi", 2));
    let longer = p1.join().unwrap().max(p2.join().unwrap());
    let total = start.elapsed();
    println!("总共耗费了{:.2}秒.", total.as_secs_f64());
    println!(
        "(the longer download took {:.2} s: they overlapped)",
        longer.as_secs_f64()
    );
}
