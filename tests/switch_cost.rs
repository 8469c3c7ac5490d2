//! The switch-cost report (`examples/switch_cost`): its measuring functions
//! (greenlets, hand-offs, tokio tasks, OS threads, round trips across threads)
//! claim (the tasks count them), a point whose
//! greenlets cannot start fails cleanly, and the program's `--quick --json`
//! output and SVG plot are well formed. Nothing here asserts a timing.

#[path = "../examples/switch_cost/cross_thread.rs"]
mod cross_thread;
#[path = "../examples/switch_cost/handoff.rs"]
mod handoff;
#[allow(dead_code)] // the report uses what the tests do not
#[path = "../examples/switch_cost/measure.rs"]
mod measure;
#[allow(dead_code)]
#[path = "../examples/switch_cost/memory.rs"]
mod memory;
#[path = "../examples/switch_cost/plot.rs"]
mod plot;
#[allow(dead_code)]
#[path = "../examples/switch_cost/report.rs"]
mod report;
#[path = "../examples/switch_cost/threads.rs"]
mod threads;
#[path = "../examples/switch_cost/tokio_tasks.rs"]
mod tokio_tasks;
mod util;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use greenlet::sync::{Channel, Event, Queue, Semaphore};
use measure::{Sample, Tally};
use serde_json::Value;

/// A tally that counts what the tasks report.
#[derive(Clone, Debug, Default)]
struct Counter(Arc<AtomicU64>);

impl Tally for Counter {
    fn tick(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

/// Runs `measure` with a fresh counter, checks that the tasks counted as
/// many operations as the samples claim, and returns the samples.
fn counted(measure: impl FnOnce(&Counter) -> Vec<Sample>) -> Vec<Sample> {
    let counter = Counter::default();
    let samples = measure(&counter);
    let claimed: u64 = samples.iter().map(|s| s.ops).sum();
    assert_eq!(counter.0.load(Ordering::SeqCst), claimed, "{samples:?}");
    samples
}

/// Each sample's operation count.
fn ops(samples: &[Sample]) -> Vec<u64> {
    samples.iter().map(|s| s.ops).collect()
}

#[test]
fn raw_corosensei_counts_every_resume() {
    let samples = counted(|t| measure::raw_corosensei(1_000, 3, t));
    assert_eq!(ops(&samples), [1_000; 3]);
}

#[test]
fn generator_send_counts_every_send() {
    let samples = counted(|t| measure::generator_send(1_000, 3, t));
    assert_eq!(ops(&samples), [1_000; 3]);
}

#[test]
fn yield_ring_counts_every_yield_in_whole_rounds() {
    for (tasks, per_rep, expected) in [(1, 5, 5), (2, 100, 100), (7, 50, 56), (1_000, 10, 1_000)] {
        let samples = counted(|t| measure::yield_ring(tasks, per_rep, 3, t).unwrap());
        assert_eq!(ops(&samples), [expected; 3], "{tasks} greenlets");
    }
}

#[test]
fn tokio_yield_ring_counts_every_yield_in_whole_rounds() {
    for (tasks, per_rep, expected) in [(1, 5, 5), (2, 100, 100), (7, 50, 56), (1_000, 10, 1_000)] {
        let samples = counted(|t| tokio_tasks::yield_ring(tasks, per_rep, 3, t));
        assert_eq!(ops(&samples), [expected; 3], "{tasks} tasks");
    }
}

#[test]
fn handoffs_count_every_hand_off_both_ways() {
    let samples = counted(|t| handoff::greenlet_handoff::<Queue<u64>>(11, 3, t).unwrap());
    assert_eq!(ops(&samples), [12; 3]); // six rounds
    let samples = counted(|t| handoff::greenlet_handoff::<Channel<u64>>(100, 2, t).unwrap());
    assert_eq!(ops(&samples), [100; 2]);
    let samples = counted(|t| handoff::greenlet_handoff::<Event>(100, 2, t).unwrap());
    assert_eq!(ops(&samples), [100; 2]);
    let samples = counted(|t| handoff::greenlet_handoff::<Semaphore>(1, 2, t).unwrap());
    assert_eq!(ops(&samples), [2; 2]);
    let samples = counted(|t| tokio_tasks::mpsc_handoff(7, 3, t));
    assert_eq!(ops(&samples), [8; 3]);
}

#[test]
fn thread_ping_pongs_count_every_message_both_ways() {
    let samples = counted(|t| threads::condvar_ping_pong(100, 2, t));
    assert_eq!(ops(&samples), [100; 2]);
    let samples = counted(|t| threads::mpsc_ping_pong(7, 2, t));
    assert_eq!(ops(&samples), [8; 2]);
}

#[test]
fn rings_count_every_hop_and_the_way_back() {
    for (tasks, hops) in [(1, 1), (3, 10), (50, 120)] {
        let samples = counted(|t| measure::greenlet_ring(tasks, hops, 3, t).unwrap());
        assert_eq!(ops(&samples), [hops + 1; 3], "{tasks} greenlets");
        let samples = counted(|t| threads::thread_ring(tasks, hops, 3, t).unwrap());
        assert_eq!(ops(&samples), [hops + 1; 3], "{tasks} threads");
        let samples = counted(|t| tokio_tasks::mpsc_ring(tasks, hops, 3, t));
        assert_eq!(ops(&samples), [hops + 1; 3], "{tasks} tokio tasks");
    }
}

#[test]
fn spawn_join_counts_every_task_run() {
    let samples = counted(|t| measure::greenlet_spawn_join(500, 2, t).unwrap());
    assert_eq!(ops(&samples), [500; 2]);
    let samples = counted(|t| tokio_tasks::spawn_join(500, 2, t));
    assert_eq!(ops(&samples), [500; 2]);
    let samples = counted(|t| threads::thread_spawn_join(20, 2, t));
    assert_eq!(ops(&samples), [20; 2]);
}

#[test]
fn cross_thread_round_trips_count_every_task_run() {
    let samples = counted(|t| cross_thread::greenlet_apply(30, 2, t));
    assert_eq!(ops(&samples), [30; 2]);
    let samples = counted(|t| cross_thread::tokio_spawn_blocking(30, 2, t));
    assert_eq!(ops(&samples), [30; 2]);
    let samples = counted(|t| cross_thread::greenlet_cross_wake(30, 2, t));
    assert_eq!(ops(&samples), [30; 2]);
    let samples = counted(|t| cross_thread::tokio_cross_spawn(30, 2, t));
    assert_eq!(ops(&samples), [30; 2]);
}

#[test]
fn idle_tasks_all_start_before_memory_is_read() {
    let counter = Counter::default();
    memory::idle_greenlets(300, &counter).unwrap();
    assert_eq!(counter.0.load(Ordering::SeqCst), 300);
    let counter = Counter::default();
    memory::idle_threads(30, &counter).unwrap();
    assert_eq!(counter.0.load(Ordering::SeqCst), 30);
}

/// With too little address space for every stack (a limit on this child
/// process), the measuring functions report the point as failed, naming the
/// stack, instead of crashing or hanging.
#[test]
fn greenlets_without_stacks_fail_the_point_cleanly() {
    let test = "greenlets_without_stacks_fail_the_point_cleanly";
    if util::is_child() {
        let pid = std::process::id().to_string();
        let limit = util::status_kib("VmSize") * 1024 + 64 * 1024 * 1024;
        let status = Command::new("prlimit")
            .args(["--pid", &pid, &format!("--as={limit}")])
            .status()
            .expect("prlimit (util-linux) runs");
        assert!(status.success(), "prlimit set the address-space limit");
        // 2,000 stacks of 256 KiB need about 500 MiB: far more than is left.
        let yield_err = measure::yield_ring(2_000, 2_000, 1, &Counter::default()).unwrap_err();
        let ring_err = measure::greenlet_ring(2_000, 10, 1, &Counter::default()).unwrap_err();
        for err in [yield_err, ring_err] {
            println!("failed as expected: {err}");
            assert!(err.contains("of 2000 greenlets started"), "{err}");
            assert!(err.contains("stack"), "{err}");
        }
        // Once they are gone, a small point fits again.
        measure::yield_ring(2, 10, 1, &Counter::default()).unwrap();
        return;
    }
    util::assert_child_passes(test, Duration::from_secs(120), "failed as expected");
}

/// The example `switch_cost`, built up to date once per test run (with
/// this test's profile: `cargo test --test switch_cost` alone does not build
/// the examples, and a stale binary would test old code).
fn example() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let mut cargo = Command::new(env!("CARGO"));
            cargo
                .args(["build", "--quiet", "--example", "switch_cost"])
                .current_dir(env!("CARGO_MANIFEST_DIR"));
            if !cfg!(debug_assertions) {
                cargo.arg("--release");
            }
            let status = cargo.status().expect("cargo runs");
            assert!(status.success(), "cargo build --example switch_cost");
            let exe = std::env::current_exe().unwrap(); // target/<profile>/deps/switch_cost-…
            let dir = exe.parent().unwrap().parent().unwrap();
            let path = dir.join("examples/switch_cost");
            assert!(path.exists(), "{} is built", path.display());
            path
        })
        .clone()
}

/// Runs the example with `args`, for at most two minutes, and returns its
/// stdout; fails on a non-zero exit.
fn run_example(args: &[&str]) -> String {
    let mut child = Command::new(example())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("switch_cost {args:?} did not finish within two minutes");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    stdout
}

/// The median of a measured entry, or `None` for a failed one (which must
/// say why).
fn median(entry: &Value) -> Option<f64> {
    if let Some(reason) = entry.get("failed") {
        assert!(reason.as_str().is_some_and(|r| !r.is_empty()), "{entry}");
        return None;
    }
    let median = entry["stats"]["median_ns"].as_f64().expect("a median");
    assert!(median > 0.0, "{entry}");
    Some(median)
}

#[test]
fn quick_json_parses_and_the_svg_holds_every_series() {
    let dir = std::env::temp_dir().join(format!("switch_cost_test_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let svg_path = dir.join("plot.svg");
    let stdout = run_example(&["--quick", "--json", "--out", svg_path.to_str().unwrap()]);
    let report: Value = serde_json::from_str(&stdout).expect("stdout is JSON");

    assert_eq!(report["quick"], true);
    let machine = &report["machine"];
    assert!(machine["cores"].as_u64().unwrap() >= 1);
    for field in ["cpu", "kernel", "date"] {
        assert!(machine[field].as_str().is_some_and(|s| !s.is_empty()));
    }
    let keys = |section: &str| -> Vec<String> {
        let entries = report[section].as_array().unwrap();
        entries
            .iter()
            .map(|e| e["key"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        keys("switch"),
        [
            "raw_corosensei",
            "generator_send",
            "yield_now_2",
            "yield_now_10000",
            "tokio_yield_now_2",
            "threads_condvar",
            "threads_mpsc"
        ]
    );
    assert_eq!(
        keys("handoff"),
        ["queue", "channel", "event", "semaphore", "tokio_mpsc"]
    );
    for entry in report["handoff"].as_array().unwrap() {
        assert!(median(entry).is_some(), "quick points all fit: {entry}");
        let times = entry["times_yield_now"].as_f64();
        assert!(
            times.is_some_and(|t| t > 0.0),
            "a ratio to yield_now: {entry}"
        );
    }
    assert_eq!(
        keys("spawn_join"),
        [
            "greenlet_spawn_join",
            "tokio_spawn_join",
            "thread_spawn_join"
        ]
    );
    assert_eq!(
        keys("cross_thread"),
        [
            "apply",
            "tokio_spawn_blocking",
            "cross_wake",
            "tokio_cross_spawn"
        ]
    );
    for entry in report["cross_thread"].as_array().unwrap() {
        let key = entry["key"].as_str().unwrap();
        let times = entry["times_tokio"].as_f64();
        assert_eq!(
            times.is_some_and(|t| t > 0.0),
            !key.starts_with("tokio"),
            "greenlet rows have a ratio to tokio's: {entry}"
        );
    }
    assert_eq!(keys("memory"), ["greenlet", "thread"]);
    for entry in report["switch"]
        .as_array()
        .unwrap()
        .iter()
        .chain(report["spawn_join"].as_array().unwrap())
        .chain(report["cross_thread"].as_array().unwrap())
    {
        assert!(median(entry).is_some(), "quick points all fit: {entry}");
    }
    for entry in report["memory"].as_array().unwrap() {
        for field in ["resident_bytes_per_task", "kernel_stack_bytes_per_task"] {
            assert!(entry[field].as_f64().is_some_and(|b| b >= 0.0), "{entry}");
        }
    }
    let series = report["scaling"].as_array().unwrap();
    assert_eq!(
        keys("scaling"),
        [
            "greenlet_yield_now",
            "greenlet_queue_ring",
            "tokio_yield_now",
            "tokio_mpsc_ring",
            "thread_ring"
        ]
    );
    for s in series {
        let points = s["points"].as_array().unwrap();
        assert!(points.len() >= 3, "{s}");
        for point in points {
            assert!(median(point).is_some(), "quick points all fit: {point}");
        }
    }
    assert_eq!(report["ratios"].as_array().unwrap().len(), 5);

    assert_eq!(
        report["svg"].as_str().map(PathBuf::from),
        Some(std::fs::canonicalize(&svg_path).unwrap())
    );
    let text = svg_text(&svg_path);
    for s in series {
        let label = s["label"].as_str().unwrap();
        assert!(text.contains(label), "the legend names {label:?}");
    }
    assert!(text.contains("concurrent tasks") && text.contains("ns per switch"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn quick_table_names_the_machine_and_the_plot() {
    let dir = std::env::temp_dir().join(format!("switch_cost_table_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let svg_path = dir.join("table.svg");
    let stdout = run_example(&["--quick", "--out", svg_path.to_str().unwrap()]);
    for needed in [
        "One switch",
        "yield_now, 2 greenlets",
        "tokio yield_now, 2 tasks",
        "OS threads: mpsc rendezvous ping-pong",
        "Hand-off between two tasks",
        "vs yield_now",
        "Queue: put",
        "Channel: put",
        "Event: set",
        "Semaphore: release",
        "tokio mpsc: send",
        "Spawn + join",
        "tokio spawn + await",
        "Across threads",
        "threadpool::apply round trip",
        "cross-thread wake (Handle::spawn → greenlet runs)",
        "tokio spawn_blocking + await",
        "tokio Handle::spawn from a thread",
        "Memory",
        "Scaling",
        "cores",
        "Ratios",
        "Plot: wrote",
    ] {
        assert!(stdout.contains(needed), "{needed:?} in:\n{stdout}");
    }
    assert!(svg_path.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

/// The text of every `<text>` element of the SVG at `path`, which must be
/// well-formed XML with an `<svg>` root.
fn svg_text(path: &std::path::Path) -> String {
    let svg = std::fs::read_to_string(path).expect("the plot was written");
    let doc = roxmltree::Document::parse(&svg).expect("the SVG is well-formed XML");
    assert_eq!(doc.root_element().tag_name().name(), "svg");
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .collect()
}

#[test]
fn plot_names_every_series_and_the_points_left_out() {
    let stats = |median| report::Stats {
        median,
        min: median,
        max: median,
        ops_per_rep: 1,
        reps: 1,
    };
    let series = [
        report::Series {
            key: "a",
            label: "greenlet yield_now",
            points: vec![(2, Ok(stats(20.0))), (50_000, Err("no stack".into()))],
        },
        report::Series {
            key: "b",
            label: "OS-thread <ring> & co",
            points: vec![(2, Ok(stats(4_000.0))), (10, Ok(stats(5_000.0)))],
        },
        report::Series {
            key: "c",
            label: "all failed",
            points: vec![(100_000, Err("no stack".into()))],
        },
    ];
    let machine = report::Machine {
        cpu: "Test CPU".into(),
        cores: 2,
        kernel: "Linux test".into(),
        date: "2026-01-01".into(),
    };
    let path = std::env::temp_dir().join(format!("switch_cost_plot_{}.svg", std::process::id()));
    plot::write_svg(&path, &series, &machine).unwrap();
    let text = svg_text(&path);
    for s in &series {
        assert!(
            text.contains(s.label),
            "the legend names {:?}: {text}",
            s.label
        );
    }
    assert!(text.contains("greenlet yield_now at 50,000"), "{text}");
    assert!(text.contains("all failed at 100,000"), "{text}");
    let _ = std::fs::remove_file(&path);
}
