//! How much the report measures (the full run or `--quick`), its command
//! line, and the progress line it shows while it runs.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::measure::Sample;
use crate::report::{Outcome, Stats};

/// The help of the command line.
pub const USAGE: &str = "\
usage: switch_cost [--quick] [--json] [--out PATH]
  --quick     a rough run of a few seconds (for CI)
  --json      the figures as JSON on stdout instead of the table
  --out PATH  where to write the SVG plot (default: switch_cost.svg)";

/// How much to measure: the full run or `--quick`.
pub struct Plan {
    pub quick: bool,
    /// Timed repetitions of each one-switch and spawn measurement.
    pub reps: usize,
    /// Timed repetitions at each scaling point.
    pub scaling_reps: usize,
    /// The aim for one repetition's duration.
    pub target: Duration,
    /// The largest batch of greenlets spawned before they are joined.
    pub spawn_batch: u64,
    /// Idle tasks of each kind in the memory measurement.
    pub memory_tasks: usize,
    pub thread_points: &'static [usize],
    pub greenlet_points: &'static [usize],
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

    /// The progress line's steps: the one-switch, hand-off, spawn,
    /// cross-thread and memory rows, then each point of the OS-thread curve and of the four
    /// curves at the greenlet points.
    pub fn steps(&self) -> usize {
        7 + 5 + 3 + 4 + 2 + self.thread_points.len() + 4 * self.greenlet_points.len()
    }

    /// Calibrates `run(per_rep, reps)` so that a repetition takes about the
    /// target (never more than `max` operations), then takes the samples.
    pub fn timed(
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
pub struct Progress {
    pub on: bool,
    pub step: usize,
    pub total: usize,
    pub start: Instant,
}

impl Progress {
    pub fn show(&mut self, what: &str) {
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

    pub fn clear(&self) {
        if self.on {
            eprint!("\r\x1b[2K");
        }
    }
}

/// The command line: `--quick`, `--json`, `--out PATH`.
pub struct Options {
    pub plan: Plan,
    pub json: bool,
    pub out: PathBuf,
}

pub fn options(args: &[String]) -> Result<Options, String> {
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
