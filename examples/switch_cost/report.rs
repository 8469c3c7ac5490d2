//! The figures of one run, and the two ways of showing them: the table on
//! stdout and the JSON of `--json`.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::measure::Sample;
use crate::memory::Footprint;

/// Nanoseconds per operation over the repetitions of one measurement.
#[derive(Clone, Copy, Debug)]
pub struct Stats {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    /// Operations timed in each repetition.
    pub ops_per_rep: u64,
    pub reps: usize,
}

impl Stats {
    /// The median, min and max of `samples` (at least one).
    pub fn of(samples: &[Sample]) -> Stats {
        let mut ns: Vec<f64> = samples.iter().map(Sample::ns_per_op).collect();
        ns.sort_by(f64::total_cmp);
        let mid = ns.len() / 2;
        let median = if ns.len() % 2 == 1 {
            ns[mid]
        } else {
            (ns[mid - 1] + ns[mid]) / 2.0
        };
        Stats {
            median,
            min: ns[0],
            max: ns[ns.len() - 1],
            ops_per_rep: samples[0].ops,
            reps: samples.len(),
        }
    }

    fn to_json(self) -> Value {
        json!({
            "median_ns": self.median, "min_ns": self.min, "max_ns": self.max,
            "ops_per_rep": self.ops_per_rep, "reps": self.reps,
        })
    }
}

/// A measurement's result: its statistics, or why it could not be taken.
pub type Outcome = Result<Stats, String>;

/// Who performs the switches of a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runner {
    Coroutine,
    Greenlet,
    /// Tasks on a tokio `current_thread` runtime.
    Tokio,
    Thread,
}

impl Runner {
    fn name(self) -> &'static str {
        match self {
            Runner::Coroutine => "coroutine",
            Runner::Greenlet => "greenlet",
            Runner::Tokio => "tokio",
            Runner::Thread => "thread",
        }
    }

    /// The key of the `yield_now` between two tasks of this kind, which the
    /// hand-offs of this kind are compared with.
    fn yield_now_key(self) -> Option<&'static str> {
        match self {
            Runner::Greenlet => Some("yield_now_2"),
            Runner::Tokio => Some("tokio_yield_now_2"),
            Runner::Coroutine | Runner::Thread => None,
        }
    }
}

/// One line of the table.
#[derive(Debug)]
pub struct Row {
    pub key: &'static str,
    pub label: String,
    pub runner: Runner,
    pub outcome: Outcome,
}

/// Memory per idle task of one kind.
#[derive(Debug)]
pub struct Memory {
    pub key: &'static str,
    pub label: &'static str,
    pub tasks: usize,
    pub footprint: Result<Footprint, String>,
}

/// One curve of the plot: ns per switch against concurrent tasks.
#[derive(Debug)]
pub struct Series {
    pub key: &'static str,
    pub label: &'static str,
    pub points: Vec<(usize, Outcome)>,
}

/// Where the run happened.
#[derive(Debug)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub kernel: String,
    pub date: String,
}

impl Machine {
    /// Reads the CPU model from `/proc/cpuinfo` and the kernel release from
    /// `/proc/sys/kernel/osrelease`.
    pub fn this_one() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map_or("unknown CPU", |(_, model)| model.trim())
            .to_string();
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map_or_else(|_| "unknown".to_string(), |k| format!("Linux {}", k.trim()));
        Machine {
            cpu,
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            kernel,
            date: today(),
        }
    }
}

/// Today's date (UTC) as `YYYY-MM-DD` (Howard Hinnant's `civil_from_days`).
fn today() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// Everything one run measured.
#[derive(Debug)]
pub struct Report {
    pub machine: Machine,
    pub quick: bool,
    pub switches: Vec<Row>,
    /// Hand-offs between two tasks, each compared with `yield_now` between
    /// two tasks of its kind (a row of `switches`).
    pub handoffs: Vec<Row>,
    pub spawns: Vec<Row>,
    /// Round trips across threads, each greenlet row set against its
    /// tokio peer (see [`tokio_peer`]).
    pub cross_thread: Vec<Row>,
    pub memory: Vec<Memory>,
    pub scaling: Vec<Series>,
    pub svg: Option<String>,
    pub took: Duration,
}

/// A headline ratio: what, how many times cheaper, the target.
type Ratio = (&'static str, Option<f64>, Option<f64>);

impl Report {
    /// The cheapest median among the OS-thread rows of `rows`: the baseline.
    fn thread_baseline(rows: &[Row]) -> Option<f64> {
        rows.iter()
            .filter(|r| r.runner == Runner::Thread)
            .filter_map(|r| r.outcome.as_ref().ok().map(|s| s.median))
            .min_by(f64::total_cmp)
    }

    fn median(rows: &[Row], key: &str) -> Option<f64> {
        let row = rows.iter().find(|r| r.key == key)?;
        row.outcome.as_ref().ok().map(|s| s.median)
    }

    /// How many times a `yield_now` between two tasks of its kind the
    /// hand-off `row` costs.
    fn times_yield_now(&self, row: &Row) -> Option<f64> {
        let handoff = row.outcome.as_ref().ok()?.median;
        Some(handoff / Self::median(&self.switches, row.runner.yield_now_key()?)?)
    }

    /// How many times its tokio peer's time the cross-thread row `row`
    /// takes (at most 1: as cheap as tokio, or cheaper).
    fn times_tokio(&self, row: &Row) -> Option<f64> {
        let ours = row.outcome.as_ref().ok()?.median;
        Some(ours / Self::median(&self.cross_thread, tokio_peer(row.key)?)?)
    }

    /// Resident bytes per task of kind `key`, with its kernel stack too if
    /// `kernel`.
    fn memory(&self, key: &str, kernel: bool) -> Option<f64> {
        let m = self.memory.iter().find(|m| m.key == key)?;
        let f = m.footprint.as_ref().ok()?;
        Some(f.resident + if kernel { f.kernel_stack } else { 0.0 })
    }

    /// Greenlet `yield_now` against each OS-thread ping-pong, spawn + join
    /// against `thread::spawn` + `join`, memory per thread against per
    /// greenlet (resident, then with kernel stacks).
    pub fn ratios(&self) -> [Ratio; 5] {
        let over = |a: Option<f64>, b: Option<f64>| Some(a? / b?);
        let switch = |key| Self::median(&self.switches, key);
        let spawn = |key| Self::median(&self.spawns, key);
        let yield_now = switch("yield_now_2");
        [
            (
                "yield_now (2 greenlets) vs Mutex+Condvar ping-pong",
                over(switch("threads_condvar"), yield_now),
                Some(300.0),
            ),
            (
                "yield_now (2 greenlets) vs mpsc rendezvous ping-pong",
                over(switch("threads_mpsc"), yield_now),
                Some(300.0),
            ),
            (
                "greenlet spawn+join vs thread::spawn+join",
                over(spawn("thread_spawn_join"), spawn("greenlet_spawn_join")),
                Some(300.0),
            ),
            (
                "memory per idle greenlet vs per parked thread",
                over(self.memory("thread", false), self.memory("greenlet", false)),
                None,
            ),
            (
                "the same, with kernel stacks",
                over(self.memory("thread", true), self.memory("greenlet", true)),
                None,
            ),
        ]
    }

    /// The machine-readable figures of `--json`.
    pub fn to_json(&self) -> Value {
        // Each row, with the ratio `versus` names and gives.
        let rows = |rows: &[Row], versus: &str, ratio: &dyn Fn(&Row) -> Option<f64>| {
            rows.iter()
                .map(|r| match &r.outcome {
                    Ok(s) => json!({
                        "key": r.key, "label": r.label, "runner": r.runner.name(),
                        "stats": s.to_json(), versus: ratio(r),
                    }),
                    Err(e) => json!({
                        "key": r.key, "label": r.label, "runner": r.runner.name(), "failed": e,
                    }),
                })
                .collect::<Vec<Value>>()
        };
        let cheaper = "times_cheaper_than_threads";
        let than_threads = |rows: &[Row]| {
            let baseline = Self::thread_baseline(rows);
            move |r: &Row| Some(baseline? / r.outcome.as_ref().ok()?.median)
        };
        let memory: Vec<Value> = self
            .memory
            .iter()
            .map(|m| match &m.footprint {
                Ok(f) => json!({
                    "key": m.key, "label": m.label, "tasks": m.tasks,
                    "resident_bytes_per_task": f.resident,
                    "kernel_stack_bytes_per_task": f.kernel_stack,
                }),
                Err(e) => json!({"key": m.key, "label": m.label, "tasks": m.tasks, "failed": e}),
            })
            .collect();
        let scaling: Vec<Value> = self
            .scaling
            .iter()
            .map(|s| {
                let points: Vec<Value> = s
                    .points
                    .iter()
                    .map(|(tasks, outcome)| match outcome {
                        Ok(stats) => json!({"tasks": tasks, "stats": stats.to_json()}),
                        Err(e) => json!({"tasks": tasks, "failed": e}),
                    })
                    .collect();
                json!({"key": s.key, "label": s.label, "points": points})
            })
            .collect();
        let ratios: Vec<Value> = self
            .ratios()
            .iter()
            .map(|(what, times, target)| json!({"what": what, "times": times, "target": target}))
            .collect();
        let m = &self.machine;
        json!({
            "machine": {"cpu": m.cpu, "cores": m.cores, "kernel": m.kernel, "date": m.date},
            "quick": self.quick,
            "seconds": self.took.as_secs_f64(),
            "switch": rows(&self.switches, cheaper, &than_threads(&self.switches)),
            "handoff": rows(&self.handoffs, "times_yield_now", &|r| self.times_yield_now(r)),
            "spawn_join": rows(&self.spawns, cheaper, &than_threads(&self.spawns)),
            "cross_thread": rows(&self.cross_thread, "times_tokio", &|r| self.times_tokio(r)),
            "memory": memory,
            "scaling": scaling,
            "ratios": ratios,
            "svg": self.svg,
        })
    }

    /// The table on stdout.
    pub fn to_table(&self) -> String {
        let m = &self.machine;
        let mut out = String::new();
        let w = &mut out;
        let _ = writeln!(
            w,
            "greenlet switch-cost report, {}\n{}, {} cores, {}{}\n",
            m.date,
            m.cpu,
            m.cores,
            m.kernel,
            if self.quick { " (--quick: rough)" } else { "" }
        );
        let cheaper = |rows: &[Row]| {
            let baseline = Self::thread_baseline(rows);
            move |row: &Row, median: f64| match baseline {
                Some(b) if row.runner != Runner::Thread => {
                    format!("{}x cheaper", ratio(b / median))
                }
                Some(b) if median == b => "baseline".to_string(),
                _ => String::new(),
            }
        };
        let switches = ("One switch", "ns/switch", "vs OS threads");
        table_rows(w, switches, &self.switches, cheaper(&self.switches));
        let handoffs = ("Hand-off between two tasks", "ns/hand-off", "vs yield_now");
        let _ = writeln!(
            w,
            "A hand-off makes the other task ready and blocks; it runs next. Each is set against\n\
             yield_now between two tasks of its kind (target for greenlets: at most 3x)."
        );
        table_rows(w, handoffs, &self.handoffs, |row, _| {
            self.times_yield_now(row)
                .map_or_else(String::new, |t| format!("{}x", ratio(t)))
        });
        let spawns = ("Spawn + join", "ns/task", "vs OS threads");
        table_rows(w, spawns, &self.spawns, cheaper(&self.spawns));
        let across = ("Across threads", "ns/round trip", "vs tokio");
        let _ = writeln!(
            w,
            "A round trip through another OS thread, the hub's thread asleep meanwhile. Each greenlet\n\
             row is set against tokio's (current_thread runtime) in time (target: at most 1x)."
        );
        table_rows(w, across, &self.cross_thread, |row, _| {
            self.times_tokio(row)
                .map_or_else(String::new, |t| format!("{}x", ratio(t)))
        });
        let _ = writeln!(
            w,
            "{:<52}{:>12}{:>20}",
            "Memory per idle task", "bytes (RSS)", "+ kernel stack"
        );
        for mem in &self.memory {
            let label = format!("  {}, {} of them", mem.label, group(mem.tasks as f64));
            match &mem.footprint {
                Ok(f) => {
                    let (rss, kernel) = (group(f.resident), group(f.kernel_stack));
                    _ = writeln!(w, "{label:<52}{rss:>12}{kernel:>20}")
                }
                Err(e) => _ = writeln!(w, "{label:<52}{:>12}  {e}", "failed"),
            }
        }
        let _ = writeln!(
            w,
            "\nScaling: ns per switch (median) against concurrent tasks"
        );
        let _ = write!(w, "{:>10}", "tasks");
        for s in &self.scaling {
            let _ = write!(w, "{:>26}", s.label);
        }
        let _ = writeln!(w);
        let mut tasks: Vec<usize> = self
            .scaling
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.0))
            .collect();
        tasks.sort_unstable();
        tasks.dedup();
        let mut failures = Vec::new();
        for n in tasks {
            let _ = write!(w, "{:>10}", group(n as f64));
            for s in &self.scaling {
                let cell = match s.points.iter().find(|p| p.0 == n) {
                    Some((_, Ok(stats))) => ns(stats.median),
                    Some((_, Err(e))) => {
                        failures.push(format!("{} at {}: {e}", s.label, group(n as f64)));
                        "failed".to_string()
                    }
                    None => "-".to_string(),
                };
                let _ = write!(w, "{cell:>26}");
            }
            let _ = writeln!(w);
        }
        for failure in failures {
            let _ = writeln!(w, "  failed: {failure}");
        }
        let _ = writeln!(w, "\nRatios (same run)");
        for (what, times, target) in self.ratios() {
            let figure = times.map_or("n/a".to_string(), |t| format!("{}x", ratio(t)));
            let verdict = match (times, target) {
                (Some(t), Some(goal)) if t >= goal => format!("  (target {goal}x: met)"),
                (_, Some(goal)) => format!("  (target {goal}x: NOT met)"),
                _ => String::new(),
            };
            let _ = writeln!(w, "  {what:<54}{figure:>9}{verdict}");
        }
        let _ = writeln!(w, "\nTook {:.1} s.", self.took.as_secs_f64());
        out
    }
}

/// The tokio row a greenlet row of the cross-thread section is set
/// against.
fn tokio_peer(key: &str) -> Option<&'static str> {
    match key {
        "apply" => Some("tokio_spawn_blocking"),
        "cross_wake" => Some("tokio_cross_spawn"),
        _ => None,
    }
}

/// A section of the table: `(title, unit, versus)` over median, min, max
/// and the column `versus`, filled by `versus_cell(row, median)`.
fn table_rows(
    w: &mut String,
    (title, unit, versus): (&str, &str, &str),
    rows: &[Row],
    versus_cell: impl Fn(&Row, f64) -> String,
) {
    let _ = writeln!(
        w,
        "{title:<52}{:>12}{:>10}{:>10}{versus:>18}",
        format!("{unit} median"),
        "min",
        "max",
    );
    for row in rows {
        let label = format!("  {}", row.label);
        match &row.outcome {
            Ok(s) => {
                let cell = versus_cell(row, s.median);
                let _ = writeln!(
                    w,
                    "{label:<52}{:>12}{:>10}{:>10}{cell:>18}",
                    ns(s.median),
                    ns(s.min),
                    ns(s.max)
                );
            }
            Err(e) => _ = writeln!(w, "{label:<52}{:>12}  {e}", "failed"),
        }
    }
    let _ = writeln!(w);
}

/// Nanoseconds with three significant figures, or grouped when large.
pub fn ns(x: f64) -> String {
    match x {
        x if x < 10.0 => format!("{x:.2}"),
        x if x < 100.0 => format!("{x:.1}"),
        x => group(x),
    }
}

/// A ratio: one decimal below 10, whole above.
fn ratio(x: f64) -> String {
    if x < 0.1 {
        format!("{x:.3}")
    } else if x < 10.0 {
        format!("{x:.1}")
    } else {
        group(x)
    }
}

/// `x` rounded to a whole number, with thousands separated by commas.
pub fn group(x: f64) -> String {
    let digits = format!("{:.0}", x.round());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}
