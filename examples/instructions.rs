//! Instructions per operation on the switch path, counted by callgrind:
//! figures the shared machine's noise cannot move, to set beside the
//! switch-cost report's times.
//!
//! ```text
//! cargo run --release --example instructions            # every case
//! cargo run --release --example instructions -- queue   # some cases
//! ```
//!
//! Each case runs twice under `valgrind --tool=callgrind`, with `n` and
//! `2n` operations; the difference of the two totals, divided by `n`, is the
//! cost of one operation without the start-up's. The cases:
//!
//! - `yield`: a `yield_now` switch between two greenlets;
//! - `queue`, `channel`, `event`, `semaphore`: a hand-off between two
//!   greenlets (a put, a set or a release, and the waiting getter runs), in a
//!   ping-pong whose getters are always waiting first, as in the switch-cost
//!   report;
//! - `channel_put_waits`: the same through a `Channel` whose putter runs
//!   first, so that each put waits for its getter;
//! - `spawn`: a spawn + join, in batches of 10,000;
//! - `generator`: a `Generator::send` + `yield_` round trip.
//!
//! Run with `--run CASE N` it only runs the case, for valgrind.

use std::hint::black_box;
use std::process::{Command, ExitCode};
use std::rc::Rc;

use greenlet::sync::{Channel, Event, Queue, Semaphore};
use greenlet::{Generator, GeneratorState};

/// The cases: name, what one operation is, and how many a round of `run`
/// makes per count (a ping-pong round is two hand-offs).
const CASES: [(&str, &str, u64); 8] = [
    ("yield", "a yield_now switch", 2),
    ("queue", "a Queue hand-off", 2),
    ("channel", "a Channel hand-off", 2),
    ("event", "an Event wake-up", 2),
    ("semaphore", "a Semaphore hand-off", 2),
    ("channel_put_waits", "a Channel hand-off, putter waiting", 2),
    ("spawn", "a spawn + join", 1),
    ("generator", "a Generator send + yield_", 1),
];

/// Spawns the greenlet of each loop body, `$pong` first (so that it waits
/// before the first `$ping` hands over) unless `$ping_first`, and joins
/// both. The bodies are written out in each greenlet's loop, as a user's
/// would be: a wait called through a closure of its own would resume inside
/// that closure's frame (see design.md, The switch path).
macro_rules! ping_pong {
    ($rounds:expr, $ping_first:expr, $ping:expr, $pong:expr) => {{
        let rounds: u64 = $rounds;
        let spawn_ping = move || {
            greenlet::spawn(move || {
                for _ in 0..rounds {
                    $ping
                }
            })
        };
        let spawn_pong = move || {
            greenlet::spawn(move || {
                for _ in 0..rounds {
                    $pong
                }
            })
        };
        let (ping, pong) = if $ping_first {
            let ping = spawn_ping();
            (ping, spawn_pong())
        } else {
            let pong = spawn_pong();
            (spawn_ping(), pong)
        };
        ping.join().expect("the ping greenlet finishes");
        pong.join().expect("the pong greenlet finishes");
    }};
}

/// Hand-offs there and back through two queues or channels.
macro_rules! handoffs {
    ($open:expr, $rounds:expr, $ping_first:expr) => {{
        let (there, back) = ($open, $open);
        let (there2, back2) = (there.clone(), back.clone());
        ping_pong!(
            $rounds,
            $ping_first,
            {
                there.put(1u64).expect("open");
                black_box(back.get().expect("open"));
            },
            {
                let v = there2.get().expect("open");
                back2.put(v + 1).expect("open");
            }
        );
    }};
}

fn run(case: &str, n: u64) -> Result<(), String> {
    match case {
        "yield" => ping_pong!(n, true, greenlet::yield_now(), greenlet::yield_now()),
        "queue" => handoffs!(Queue::<u64>::unbounded(), n, false),
        "channel" => handoffs!(Channel::<u64>::new(), n, false),
        "channel_put_waits" => handoffs!(Channel::<u64>::new(), n, true),
        "event" => {
            let (there, back) = (Rc::new(Event::new()), Rc::new(Event::new()));
            let (there2, back2) = (there.clone(), back.clone());
            ping_pong!(
                n,
                false,
                {
                    there.set();
                    back.wait();
                    back.clear();
                },
                {
                    there2.wait();
                    there2.clear();
                    back2.set();
                }
            );
        }
        "semaphore" => {
            let (there, back) = (Rc::new(Semaphore::new(0)), Rc::new(Semaphore::new(0)));
            let (there2, back2) = (there.clone(), back.clone());
            ping_pong!(
                n,
                false,
                {
                    there.release().expect("unbounded");
                    back.acquire();
                },
                {
                    there2.acquire();
                    back2.release().expect("unbounded");
                }
            );
        }
        "spawn" => {
            let mut left = n;
            while left > 0 {
                let batch = left.min(10_000);
                let greenlets: Vec<_> = (0..batch)
                    .map(|i| greenlet::spawn(move || black_box(i)))
                    .collect();
                for g in greenlets {
                    black_box(g.join().expect("a greenlet finishes"));
                }
                left -= batch;
            }
        }
        "generator" => generator_round_trips(n),
        _ => return Err(format!("unknown case {case:?}")),
    }
    Ok(())
}

/// `n` round trips into a generator, in a function of their own: inlined
/// into `run`, the generator's resume was left out of line (74
/// instructions a round trip instead of 54), as it would not be in a
/// user's small loop.
#[inline(never)]
fn generator_round_trips(n: u64) {
    let mut g: Generator<u64, u64, ()> = Generator::new(|co, mut x| {
        loop {
            x = co.yield_(x + 1);
        }
    });
    let mut sum = 0u64;
    for i in 0..n {
        if let GeneratorState::Yielded(v) = g.send(i) {
            sum = sum.wrapping_add(v);
        }
    }
    black_box(sum);
}

/// The instructions callgrind counts for `case` run `n` times.
fn counted(exe: &str, case: &str, n: u64) -> Result<u64, String> {
    let output = Command::new("valgrind")
        .args([
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            exe,
            "--run",
            case,
        ])
        .arg(n.to_string())
        .output()
        .map_err(|e| format!("cannot run valgrind: {e}"))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(format!("valgrind failed on {case}: {stderr}"));
    }
    stderr
        .lines()
        .find_map(|line| line.split("Collected :").nth(1))
        .and_then(|count| count.trim().parse().ok())
        .ok_or_else(|| format!("no instruction count from valgrind for {case}"))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--run") {
        let (Some(case), Some(Ok(n))) = (args.get(2), args.get(3).map(|n| n.parse::<u64>())) else {
            eprintln!("usage: instructions --run CASE N");
            return ExitCode::FAILURE;
        };
        return match run(case, n) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        };
    }
    if cfg!(debug_assertions) {
        eprintln!("instructions: build with --release (a debug build's counts mean nothing)");
        return ExitCode::FAILURE;
    }
    let wanted: Vec<&str> = args[1..].iter().map(String::as_str).collect();
    let exe = std::env::current_exe().expect("the path of this executable");
    let exe = exe.to_str().expect("a UTF-8 path");
    let n = 50_000;
    let mut yield_cost = None;
    println!(
        "{:<40} {:>14} {:>14}",
        "instructions per operation (callgrind)", "", "vs yield_now"
    );
    for (case, what, per_round) in CASES {
        if !wanted.is_empty() && !wanted.contains(&case) {
            continue;
        }
        let counts = counted(exe, case, n).and_then(|one| Ok((one, counted(exe, case, 2 * n)?)));
        let (one, two) = match counts {
            Ok(counts) => counts,
            Err(e) => {
                eprintln!("instructions: {e}");
                return ExitCode::FAILURE;
            }
        };
        let per_op = two.saturating_sub(one) as f64 / (n * per_round) as f64;
        if case == "yield" {
            yield_cost = Some(per_op);
        }
        let ratio = match (yield_cost, case) {
            (Some(y), "queue" | "channel" | "event" | "semaphore" | "channel_put_waits") => {
                format!("{:.2}x", per_op / y)
            }
            _ => String::new(),
        };
        println!("  {what:<38} {per_op:>14.1} {ratio:>14}");
    }
    ExitCode::SUCCESS
}
