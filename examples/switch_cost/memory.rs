//! Memory per idle task: greenlets waiting on an `Event` against parked OS
//! threads. Each kind is measured in a fresh copy of this program (started
//! with [`CHILD_FLAG`]), so that neither sees the other's memory: the growth
//! of its resident set (`VmRSS`), and of the kernel stacks that `VmRSS` does
//! not count.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use greenlet::sync::Event;

use crate::measure::Tally;

/// The hidden flag that makes this program measure one kind and exit:
/// `--memory-child greenlets|threads COUNT`.
pub const CHILD_FLAG: &str = "--memory-child";

/// What one idle task costs, in bytes.
#[derive(Clone, Copy, Debug)]
pub struct Footprint {
    /// The growth of this process's `VmRSS`: the task's user-space pages.
    pub resident: f64,
    /// The growth of the system's `KernelStack` (`/proc/meminfo`): the
    /// kernel stack each thread holds, which `VmRSS` does not count. It is
    /// system-wide, so other processes add noise.
    pub kernel_stack: f64,
}

/// `field` of a `/proc` file of `Name:   N kB` lines, in bytes.
fn proc_bytes(path: &str, field: &str) -> Result<i64, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    text.lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse::<i64>().ok())
        .map(|kib| kib * 1024)
        .ok_or_else(|| format!("no {field} in {path}"))
}

/// This process's `VmRSS` and the system's `KernelStack`, in bytes.
fn reading() -> Result<(i64, i64), String> {
    Ok((
        proc_bytes("/proc/self/status", "VmRSS")?,
        proc_bytes("/proc/meminfo", "KernelStack")?,
    ))
}

/// The growth from `before` to `after`, per task (never below zero).
fn per_task(before: (i64, i64), after: (i64, i64), count: usize) -> Footprint {
    let grown = |a: i64, b: i64| (b - a).max(0) as f64 / count.max(1) as f64;
    Footprint {
        resident: grown(before.0, after.0),
        kernel_stack: grown(before.1, after.1),
    }
}

/// The footprint of a greenlet, with `count` greenlets started and waiting
/// on one `Event` (default stack size). Each greenlet ticks once when it
/// starts.
///
/// # Errors
///
/// When not every greenlet could start (no stack).
pub fn idle_greenlets(count: usize, tally: &impl Tally) -> Result<Footprint, String> {
    greenlet::spawn(|| ()).join().map_err(|e| e.to_string())?; // the hub is set up
    let event = Event::new();
    let mut greenlets = Vec::with_capacity(count);
    let before = reading()?;
    for _ in 0..count {
        let (event, task) = (event.clone(), tally.clone());
        greenlets.push(greenlet::spawn(move || {
            task.tick();
            event.wait();
        }));
    }
    greenlet::yield_now(); // each starts and waits
    let after = reading()?;
    let waiting = greenlets.iter().filter(|g| !g.is_finished()).count();
    event.set();
    let failed = greenlet::joinall(greenlets)
        .into_iter()
        .find_map(Result::err);
    match failed {
        Some(e) => Err(format!("only {waiting} of {count} greenlets started: {e}")),
        None => Ok(per_task(before, after, count)),
    }
}

/// The footprint of an OS thread, with `count` threads (std's default stack
/// size) started and parked on one `Condvar`. Each thread ticks once when it
/// starts.
///
/// # Errors
///
/// When a thread cannot be spawned, or they do not all start within a minute.
pub fn idle_threads(count: usize, tally: &impl Tally) -> Result<Footprint, String> {
    std::thread::spawn(|| ())
        .join()
        .map_err(|_| "a thread panicked")?;
    let release = Arc::new((Mutex::new(false), Condvar::new()));
    let started = Arc::new(AtomicUsize::new(0));
    let mut threads = Vec::with_capacity(count);
    let before = reading()?;
    let mut failure = None;
    for i in 0..count {
        let (release, started, task) = (release.clone(), started.clone(), tally.clone());
        let spawned = std::thread::Builder::new().spawn(move || {
            task.tick();
            started.fetch_add(1, Ordering::SeqCst);
            let (released, changed) = &*release;
            drop(
                changed
                    .wait_while(released.lock().unwrap(), |r| !*r)
                    .unwrap(),
            );
        });
        match spawned {
            Ok(thread) => threads.push(thread),
            Err(e) => {
                failure = Some(format!("only {i} of {count} threads started: {e}"));
                break;
            }
        }
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while failure.is_none() && started.load(Ordering::SeqCst) < count {
        if Instant::now() > deadline {
            failure = Some(format!("{count} threads did not all start within a minute"));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let after = reading()?;
    *release.0.lock().unwrap() = true;
    release.1.notify_all();
    for thread in threads {
        thread.join().map_err(|_| "a thread panicked")?;
    }
    match failure {
        Some(failure) => Err(failure),
        None => Ok(per_task(before, after, count)),
    }
}

/// The child's side: measures `kind` (`greenlets` or `threads`) with
/// `count` tasks and prints `resident=N kernel_stack=N` (bytes per task) on
/// stdout, or the error on
/// stderr with a failing exit code.
pub fn child_main(kind: &str, count: &str) -> std::process::ExitCode {
    let Ok(count) = count.parse::<usize>() else {
        eprintln!("{CHILD_FLAG}: bad count {count:?}");
        return std::process::ExitCode::FAILURE;
    };
    let measured = match kind {
        "greenlets" => idle_greenlets(count, &crate::measure::NoTally),
        "threads" => idle_threads(count, &crate::measure::NoTally),
        _ => Err(format!("{CHILD_FLAG}: unknown kind {kind:?}")),
    };
    match measured {
        Ok(f) => {
            println!("resident={} kernel_stack={}", f.resident, f.kernel_stack);
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The parent's side: runs this program again as a child that measures
/// `kind` with `count` tasks, and returns its footprint per task.
///
/// # Errors
///
/// When the child cannot run or reports a failure.
pub fn in_child(kind: &str, count: usize) -> Result<Footprint, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let out = Command::new(exe)
        .args([CHILD_FLAG, kind, &count.to_string()])
        .output()
        .map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let field = |name: &str| -> Option<f64> {
        let words = stdout.lines().flat_map(str::split_whitespace);
        words
            .filter_map(|w| w.strip_prefix(name)?.strip_prefix('='))
            .find_map(|n| n.parse().ok())
    };
    match (field("resident"), field("kernel_stack")) {
        (Some(resident), Some(kernel_stack)) if out.status.success() => Ok(Footprint {
            resident,
            kernel_stack,
        }),
        _ => Err(format!(
            "the {kind} child failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )),
    }
}
