//! A million greenlets alive at once, each sleeping for one second, every one
//! on its own guarded stack.
//!
//! ```text
//! cargo run --release --example million            # 1,000,000
//! cargo run --release --example million -- 100000  # another count
//! ```
//!
//! Each greenlet gets a stack of `MIN_STACK_SIZE` (64 KiB of address space;
//! only the page or so it touches becomes memory) with a guard page below
//! it. The stacks are carved out of a few large mappings, so the process
//! stays far below `vm.max_map_count`, which would otherwise cap it near
//! 32,700 stacks. The default 256 KiB would work too, at the price of four
//! times the address space and page tables.
//!
//! The first touch of each new stack is a page fault of about 2 µs. In a
//! burst like this one the library's `greenlet-stacks` thread takes about
//! half of them on the other core, and later releases the stacks' memory.

use std::time::{Duration, Instant};

fn main() -> std::io::Result<()> {
    let n: usize = match std::env::args().nth(1) {
        Some(arg) => arg.parse().expect("the number of greenlets"),
        None => 1_000_000,
    };
    let start = Instant::now();
    let greenlets = (0..n)
        .map(|_| {
            greenlet::Builder::new()
                .stack_size(greenlet::MIN_STACK_SIZE)
                .spawn(|| greenlet::sleep(Duration::from_secs(1)))
        })
        .collect::<std::io::Result<Vec<_>>>()?;
    let spawned = start.elapsed();
    // The first join runs the hub: every greenlet starts and sleeps, and
    // one second later they all wake and finish.
    for g in greenlets {
        g.join().expect("a sleeper does not fail");
    }
    let wall = start.elapsed();
    println!(
        "{n} greenlets slept 1 s each, all at once: {:.2} s wall ({:.2} s to spawn)",
        wall.as_secs_f64(),
        spawned.as_secs_f64()
    );
    println!(
        "peak resident memory (VmHWM): {} MiB; page tables (VmPTE): {} MiB; {} memory mappings",
        status_kib("VmHWM") / 1024,
        status_kib("VmPTE") / 1024,
        mapping_count()
    );
    Ok(())
}

/// A field of `/proc/self/status` in KiB, or 0 where there is none.
fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// How many memory mappings the process has.
fn mapping_count() -> usize {
    std::fs::read_to_string("/proc/self/maps").map_or(0, |maps| maps.lines().count())
}
