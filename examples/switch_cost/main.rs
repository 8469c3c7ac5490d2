//! The switch-cost report: what a switch between greenlets costs on this
//! machine, next to raw corosensei, tokio tasks and OS threads, in one run.
//!
//! ```sh
//! cargo run --release --example switch_cost            # about half a minute
//! cargo run --release --example switch_cost -- --quick # a few seconds, rough
//! cargo run --release --example switch_cost -- --json --out /tmp/plot.svg
//! ```
//!
//! It prints a table (ns per switch: median of several repetitions, min and
//! max; ratios against OS threads; hand-offs between two tasks through each
//! primitive against `yield_now`; round trips across threads against
//! tokio's; the machine) and writes the scaling curves
//! to `switch_cost.svg` (or `--out PATH`). With `--json` the figures go to
//! stdout as JSON instead of the table. A progress line on stderr (when it is
//! a terminal) says what is being measured.
//!
//! A switch is one transfer of control from one task to another: a resume
//! that comes back, a `yield_now`, one message handed over. Compare the
//! ratios: the machine this runs on may be noisy, but both sides of a ratio
//! come from the same run.

mod cross_thread;
mod handoff;
mod measure;
mod memory;
mod plan;
mod plot;
mod report;
mod threads;
mod tokio_tasks;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Instant;

use greenlet::sync::{Channel, Event, Queue, Semaphore};
use measure::{NoTally, Sample};
use plan::{Options, Plan, Progress, USAGE, options};
use report::{Machine, Memory, Report, Row, Runner, Series, Stats, group};

/// A measurement to calibrate: `run(per_rep, reps)`.
type Run<'a> = Box<dyn FnMut(u64, usize) -> Result<Vec<Sample>, String> + 'a>;

/// Calibrates and measures each row of `table`, `(key, label, runner,
/// probe, run)`, showing `what` and the label on the progress line.
fn rows<const N: usize>(
    plan: &Plan,
    progress: &mut Progress,
    what: &str,
    table: [(&'static str, &str, Runner, u64, Run); N],
) -> Vec<Row> {
    table
        .into_iter()
        .map(|(key, label, runner, probe, run)| {
            progress.show(&format!("{what}: {label}"));
            Row {
                key,
                label: label.to_string(),
                runner,
                outcome: plan.timed(probe, u64::MAX, run),
            }
        })
        .collect()
}

fn one_switch(plan: &Plan, progress: &mut Progress) -> Vec<Row> {
    let t = &NoTally;
    let table: [(&str, &str, Runner, u64, Run); 7] = [
        (
            "raw_corosensei",
            "raw corosensei resume + suspend",
            Runner::Coroutine,
            1_000,
            Box::new(|n, r| Ok(measure::raw_corosensei(n, r, t))),
        ),
        (
            "generator_send",
            "Generator::send + yield_",
            Runner::Coroutine,
            1_000,
            Box::new(|n, r| Ok(measure::generator_send(n, r, t))),
        ),
        (
            "yield_now_2",
            "yield_now, 2 greenlets",
            Runner::Greenlet,
            1_000,
            Box::new(|n, r| measure::yield_ring(2, n, r, t)),
        ),
        (
            "yield_now_10000",
            "yield_now, 10,000 greenlets",
            Runner::Greenlet,
            10_000,
            Box::new(|n, r| measure::yield_ring(10_000, n, r, t)),
        ),
        (
            "tokio_yield_now_2",
            "tokio yield_now, 2 tasks (current_thread)",
            Runner::Tokio,
            1_000,
            Box::new(|n, r| Ok(tokio_tasks::yield_ring(2, n, r, t))),
        ),
        (
            "threads_condvar",
            "OS threads: Mutex + Condvar ping-pong",
            Runner::Thread,
            100,
            Box::new(|n, r| Ok(threads::condvar_ping_pong(n, r, t))),
        ),
        (
            "threads_mpsc",
            "OS threads: mpsc rendezvous ping-pong",
            Runner::Thread,
            100,
            Box::new(|n, r| Ok(threads::mpsc_ping_pong(n, r, t))),
        ),
    ];
    rows(plan, progress, "one switch", table)
}

/// Hand-offs between two tasks: one makes the other ready and blocks.
fn handoffs(plan: &Plan, progress: &mut Progress) -> Vec<Row> {
    let t = &NoTally;
    let table: [(&str, &str, Runner, u64, Run); 5] = [
        (
            "queue",
            "Queue: put, the waiting get runs",
            Runner::Greenlet,
            1_000,
            Box::new(|n, r| handoff::greenlet_handoff::<Queue<u64>>(n, r, t)),
        ),
        (
            "channel",
            "Channel: put, the waiting get runs",
            Runner::Greenlet,
            1_000,
            Box::new(|n, r| handoff::greenlet_handoff::<Channel<u64>>(n, r, t)),
        ),
        (
            "event",
            "Event: set, the waiter runs",
            Runner::Greenlet,
            1_000,
            Box::new(|n, r| handoff::greenlet_handoff::<Event>(n, r, t)),
        ),
        (
            "semaphore",
            "Semaphore: release, the waiting acquire runs",
            Runner::Greenlet,
            1_000,
            Box::new(|n, r| handoff::greenlet_handoff::<Semaphore>(n, r, t)),
        ),
        (
            "tokio_mpsc",
            "tokio mpsc: send, the waiting recv runs",
            Runner::Tokio,
            1_000,
            Box::new(|n, r| Ok(tokio_tasks::mpsc_handoff(n, r, t))),
        ),
    ];
    rows(plan, progress, "hand-off", table)
}

fn spawn_join(plan: &Plan, progress: &mut Progress) -> Vec<Row> {
    let t = &NoTally;
    let label = format!(
        "greenlet (batches of up to {})",
        group(plan.spawn_batch as f64)
    );
    progress.show(&format!("spawn + join: {label}"));
    let green = plan.timed(1_000, plan.spawn_batch, |n, r| {
        measure::greenlet_spawn_join(n, r, t)
    });
    let tokio_label = format!(
        "tokio spawn + await (batches of up to {})",
        group(plan.spawn_batch as f64)
    );
    progress.show(&format!("spawn + join: {tokio_label}"));
    let tokio = plan.timed(1_000, plan.spawn_batch, |n, r| {
        Ok(tokio_tasks::spawn_join(n, r, t))
    });
    progress.show("spawn + join: std::thread::spawn");
    let os = plan.timed(10, u64::MAX, |n, r| Ok(threads::thread_spawn_join(n, r, t)));
    vec![
        Row {
            key: "greenlet_spawn_join",
            label,
            runner: Runner::Greenlet,
            outcome: green,
        },
        Row {
            key: "tokio_spawn_join",
            label: tokio_label,
            runner: Runner::Tokio,
            outcome: tokio,
        },
        Row {
            key: "thread_spawn_join",
            label: "std::thread::spawn + join".to_string(),
            runner: Runner::Thread,
            outcome: os,
        },
    ]
}

/// Greenlets meeting OS threads, each beside tokio's equivalent.
fn cross_thread(plan: &Plan, progress: &mut Progress) -> Vec<Row> {
    let t = &NoTally;
    let table: [(&str, &str, Runner, u64, Run); 4] = [
        (
            "apply",
            "threadpool::apply round trip",
            Runner::Greenlet,
            100,
            Box::new(|n, r| Ok(cross_thread::greenlet_apply(n, r, t))),
        ),
        (
            "tokio_spawn_blocking",
            "tokio spawn_blocking + await (current_thread)",
            Runner::Tokio,
            100,
            Box::new(|n, r| Ok(cross_thread::tokio_spawn_blocking(n, r, t))),
        ),
        (
            "cross_wake",
            "cross-thread wake (Handle::spawn → greenlet runs)",
            Runner::Greenlet,
            100,
            Box::new(|n, r| Ok(cross_thread::greenlet_cross_wake(n, r, t))),
        ),
        (
            "tokio_cross_spawn",
            "tokio Handle::spawn from a thread → task runs",
            Runner::Tokio,
            100,
            Box::new(|n, r| Ok(cross_thread::tokio_cross_spawn(n, r, t))),
        ),
    ];
    rows(plan, progress, "across threads", table)
}

fn memory(plan: &Plan, progress: &mut Progress) -> Vec<Memory> {
    let n = plan.memory_tasks;
    let mut measure = |key, label, kind| {
        progress.show(&format!(
            "memory: {} idle {kind} (in a child process)",
            group(n as f64)
        ));
        Memory {
            key,
            label,
            tasks: n,
            footprint: memory::in_child(kind, n),
        }
    };
    vec![
        measure("greenlet", "greenlet waiting on an Event", "greenlets"),
        measure("thread", "OS thread parked on a Condvar", "threads"),
    ]
}

/// One scaling curve: `run(tasks, per_rep, reps)` at each point, each
/// repetition aimed at the plan's target from the previous point's cost
/// (`first_guess` ns at the first point) and covering every task.
fn curve(
    plan: &Plan,
    progress: &mut Progress,
    (key, label): (&'static str, &'static str),
    points: &[usize],
    first_guess: f64,
    run: impl Fn(usize, u64, usize) -> Result<Vec<Sample>, String>,
) -> Series {
    let mut guess_ns = first_guess.max(1.0);
    let points = points
        .iter()
        .map(|&n| {
            progress.show(&format!("scaling: {label}, {} tasks", group(n as f64)));
            let per_rep = ((plan.target.as_nanos() as f64 / guess_ns) as u64).max(n as u64);
            let outcome = run(n, per_rep, plan.scaling_reps).map(|s| Stats::of(&s));
            if let Ok(stats) = &outcome {
                guess_ns = stats.median.max(1.0);
            }
            (n, outcome)
        })
        .collect();
    Series { key, label, points }
}

fn scaling(plan: &Plan, progress: &mut Progress, measured: &[&[Row]]) -> Vec<Series> {
    let t = &NoTally;
    let guess = |key: &str| {
        let row = measured
            .iter()
            .flat_map(|rows| *rows)
            .find(|r| r.key == key);
        row.and_then(|r| r.outcome.as_ref().ok())
            .map_or(1_000.0, |s| s.median)
    };
    let gp = plan.greenlet_points;
    vec![
        curve(
            plan,
            progress,
            ("greenlet_yield_now", "greenlet yield_now"),
            gp,
            guess("yield_now_2"),
            |n, p, r| measure::yield_ring(n, p, r, t),
        ),
        curve(
            plan,
            progress,
            ("greenlet_queue_ring", "greenlet Queue ring"),
            gp,
            guess("queue"),
            |n, p, r| measure::greenlet_ring(n, p, r, t),
        ),
        curve(
            plan,
            progress,
            ("tokio_yield_now", "tokio yield_now"),
            gp,
            guess("tokio_yield_now_2"),
            |n, p, r| Ok(tokio_tasks::yield_ring(n, p, r, t)),
        ),
        curve(
            plan,
            progress,
            ("tokio_mpsc_ring", "tokio mpsc ring"),
            gp,
            guess("tokio_mpsc"),
            |n, p, r| Ok(tokio_tasks::mpsc_ring(n, p, r, t)),
        ),
        curve(
            plan,
            progress,
            ("thread_ring", "OS-thread mpsc ring"),
            plan.thread_points,
            guess("threads_mpsc"),
            |n, p, r| threads::thread_ring(n, p, r, t),
        ),
    ]
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, kind, count] = &args[..] {
        if flag == memory::CHILD_FLAG {
            return memory::child_main(kind, count);
        }
    }
    let Options { plan, json, out } = match options(&args) {
        Ok(options) => options,
        Err(e) if e.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("switch_cost: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let start = Instant::now();
    let mut progress = Progress {
        on: std::io::stderr().is_terminal(),
        step: 0,
        total: plan.steps(),
        start,
    };
    let switches = one_switch(&plan, &mut progress);
    let handoffs = handoffs(&plan, &mut progress);
    let spawns = spawn_join(&plan, &mut progress);
    let cross_thread = cross_thread(&plan, &mut progress);
    let scaling = scaling(&plan, &mut progress, &[&switches, &handoffs]);
    let memory = memory(&plan, &mut progress);
    progress.clear();

    let machine = Machine::this_one();
    let plotted = plot::write_svg(&out, &scaling, &machine);
    let shown = std::fs::canonicalize(&out).unwrap_or_else(|_| out.clone());
    let report = Report {
        machine,
        quick: plan.quick,
        switches,
        handoffs,
        spawns,
        cross_thread,
        memory,
        scaling,
        svg: plotted.is_ok().then(|| shown.display().to_string()),
        took: start.elapsed(),
    };
    let plot_line = match &plotted {
        Ok(()) => format!("Plot: wrote {}", shown.display()),
        Err(e) => format!("Plot: {e}"),
    };
    if json {
        println!("{:#}", report.to_json());
        eprintln!("{plot_line}");
    } else {
        print!("{}", report.to_table());
        println!("{plot_line}");
    }
    if plotted.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
