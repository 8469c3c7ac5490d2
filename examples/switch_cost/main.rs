//! The switch-cost report: what a switch between greenlets costs on this
//! machine, next to raw corosensei and to OS threads, in one run.
//!
//! ```sh
//! cargo run --release --example switch_cost            # about half a minute
//! cargo run --release --example switch_cost -- --quick # a few seconds, rough
//! cargo run --release --example switch_cost -- --json --out /tmp/plot.svg
//! ```
//!
//! It prints a table (ns per switch: median of several repetitions, min and
//! max; ratios against OS threads; the machine) and writes the scaling curves
//! to `switch_cost.svg` (or `--out PATH`). With `--json` the figures go to
//! stdout as JSON instead of the table. A progress line on stderr (when it is
//! a terminal) says what is being measured.
//!
//! A switch is one transfer of control from one task to another: a resume
//! that comes back, a `yield_now`, one message handed over. Compare the
//! ratios: the machine this runs on may be noisy, but both sides of a ratio
//! come from the same run.

mod measure;
mod memory;
mod plot;
mod report;
mod threads;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use greenlet::sync::{Channel, Queue};
use measure::{NoTally, Sample, Token};
use report::{Machine, Memory, Outcome, Report, Row, Runner, Series, Stats, group};

const USAGE: &str = "\
usage: switch_cost [--quick] [--json] [--out PATH]
  --quick     a rough run of a few seconds (for CI)
  --json      the figures as JSON on stdout instead of the table
  --out PATH  where to write the SVG plot (default: switch_cost.svg)";

/// How much to measure: the full run or `--quick`.
struct Plan {
    quick: bool,
    /// Timed repetitions of each one-switch and spawn measurement.
    reps: usize,
    /// Timed repetitions at each scaling point.
    scaling_reps: usize,
    /// The aim for one repetition's duration.
    target: Duration,
    /// The largest batch of greenlets spawned before they are joined.
    spawn_batch: u64,
    /// Idle tasks of each kind in the memory measurement.
    memory_tasks: usize,
    thread_points: &'static [usize],
    greenlet_points: &'static [usize],
}

impl Plan {
    fn full() -> Plan {
        Plan {
            quick: false,
            reps: 7,
            scaling_reps: 5,
            target: Duration::from_millis(40),
            spawn_batch: 100_000,
            memory_tasks: 10_000,
            thread_points: &[2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000],
            greenlet_points: &[
                2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000,
                100_000,
            ],
        }
    }

    fn quick() -> Plan {
        Plan {
            quick: true,
            reps: 3,
            scaling_reps: 3,
            target: Duration::from_millis(4),
            spawn_batch: 10_000,
            memory_tasks: 1_000,
            thread_points: &[2, 10, 100, 1_000],
            greenlet_points: &[2, 10, 100, 1_000, 10_000],
        }
    }

    fn steps(&self) -> usize {
        8 + 2 + 2 + self.thread_points.len() + 2 * self.greenlet_points.len()
    }

    /// Calibrates `run(per_rep, reps)` so that a repetition takes about the
    /// target (never more than `max` operations), then takes the samples.
    fn timed(
        &self,
        probe: u64,
        max: u64,
        mut run: impl FnMut(u64, usize) -> Result<Vec<Sample>, String>,
    ) -> Outcome {
        let goal = self.target.as_secs_f64();
        let mut ops = probe.clamp(1, max);
        let secs_per_op = loop {
            let sample = run(ops, 1)?[0];
            let secs = sample.elapsed.as_secs_f64();
            if secs >= goal / 8.0 || ops >= max {
                break secs / sample.ops as f64;
            }
            ops = ops.saturating_mul(8).min(max);
        };
        let per_rep = ((goal / secs_per_op.max(1e-12)) as u64).clamp(1, max);
        Ok(Stats::of(&run(per_rep, self.reps)?))
    }
}

/// The `\r`-updated line on stderr, when stderr is a terminal.
struct Progress {
    on: bool,
    step: usize,
    total: usize,
    start: Instant,
}

impl Progress {
    fn show(&mut self, what: &str) {
        self.step += 1;
        if self.on {
            eprint!(
                "\r\x1b[2K[{:>2}/{}] {:>5.1} s  {what}",
                self.step,
                self.total,
                self.start.elapsed().as_secs_f64()
            );
        }
    }

    fn clear(&self) {
        if self.on {
            eprint!("\r\x1b[2K");
        }
    }
}

/// A measurement to calibrate: `run(per_rep, reps)`.
type Run<'a> = Box<dyn FnMut(u64, usize) -> Result<Vec<Sample>, String> + 'a>;

fn one_switch(plan: &Plan, progress: &mut Progress) -> Vec<Row> {
    let t = &NoTally;
    let table: [(&str, &str, Runner, u64, Run); 8] = [
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
            "queue_ping_pong",
            "Queue ping-pong, 2 greenlets",
            Runner::Greenlet,
            1_000,
            Box::new(|n, r| measure::greenlet_ping_pong::<Queue<Token>>(n, r, t)),
        ),
        (
            "channel_ping_pong",
            "Channel ping-pong, 2 greenlets",
            Runner::Greenlet,
            1_000,
            Box::new(|n, r| measure::greenlet_ping_pong::<Channel<Token>>(n, r, t)),
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
    table
        .into_iter()
        .map(|(key, label, runner, probe, run)| {
            progress.show(&format!("one switch: {label}"));
            Row {
                key,
                label: label.to_string(),
                runner,
                outcome: plan.timed(probe, u64::MAX, run),
            }
        })
        .collect()
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
            key: "thread_spawn_join",
            label: "std::thread::spawn + join".to_string(),
            runner: Runner::Thread,
            outcome: os,
        },
    ]
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

fn scaling(plan: &Plan, progress: &mut Progress, switches: &[Row]) -> Vec<Series> {
    let t = &NoTally;
    let guess = |key: &str| {
        let row = switches.iter().find(|r| r.key == key);
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
            guess("queue_ping_pong"),
            |n, p, r| measure::greenlet_ring(n, p, r, t),
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

/// The command line: `--quick`, `--json`, `--out PATH`.
struct Options {
    plan: Plan,
    json: bool,
    out: PathBuf,
}

fn options(args: &[String]) -> Result<Options, String> {
    let (mut quick, mut json, mut out) = (false, false, PathBuf::from("switch_cost.svg"));
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--json" => json = true,
            "--out" => out = args.next().ok_or("--out needs a path")?.into(),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let plan = if quick { Plan::quick() } else { Plan::full() };
    Ok(Options { plan, json, out })
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
    let spawns = spawn_join(&plan, &mut progress);
    let scaling = scaling(&plan, &mut progress, &switches);
    let memory = memory(&plan, &mut progress);
    progress.clear();

    let machine = Machine::this_one();
    let plotted = plot::write_svg(&out, &scaling, &machine);
    let shown = std::fs::canonicalize(&out).unwrap_or_else(|_| out.clone());
    let report = Report {
        machine,
        quick: plan.quick,
        switches,
        spawns,
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
