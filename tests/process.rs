//! `greenlet::process`: real children, their output and exit codes, green
//! pipes, waits that never stall the hub, and no zombie left behind. Every
//! loop is bounded in count and time; nothing asserts on elapsed time (a
//! ticker greenlet's ticks show that the hub ran).

mod util;

use std::cell::Cell;
use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::rc::Rc;
use std::time::{Duration, Instant};

use greenlet::process::{Command, Stdio};
use util::{DropCounter, SleepTicker};

/// The state letter of `/proc/<pid>/stat` (`Z` for a zombie), or `None`
/// once the process is gone (reaped).
fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = stat.rfind(')')?;
    stat[after_name + 1..].trim_start().chars().next()
}

/// Waits (green sleeps of 5 ms, ten seconds at most) until the process
/// `pid` is gone; returns its last state, `None` when it is gone.
fn wait_gone(pid: u32) -> Option<char> {
    let deadline = Instant::now() + Duration::from_secs(10);
    for _ in 0..2000 {
        if proc_state(pid).is_none() || Instant::now() > deadline {
            break;
        }
        greenlet::sleep(Duration::from_millis(5));
    }
    proc_state(pid)
}

#[test]
fn output_and_exit_codes() {
    let out = Command::new("echo")
        .args(["hello", "world"])
        .output()
        .unwrap();
    assert_eq!(out.stdout, b"hello world\n");
    assert!(out.stderr.is_empty());
    assert_eq!(out.status.code(), Some(0));

    let status = Command::new("sh").args(["-c", "exit 42"]).status().unwrap();
    assert_eq!(status.code(), Some(42));

    let out = Command::new("sh")
        .args(["-c", "echo partial; kill -TERM $$"])
        .output()
        .unwrap();
    assert_eq!(out.stdout, b"partial\n");
    assert_eq!(out.status.code(), None);
    assert_eq!(out.status.signal(), Some(libc::SIGTERM));
}

#[test]
fn a_missing_program_is_not_found() {
    let err = Command::new("greenlet-no-such-program")
        .output()
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
}

#[test]
fn env_and_current_dir_reach_the_child() {
    let out = Command::new("sh")
        .args(["-c", "echo $GREENLET_A-${GREENLET_B-unset}-$(pwd)"])
        .env("GREENLET_A", "a")
        .envs([("GREENLET_B", "b")])
        .env_remove("GREENLET_B")
        .current_dir("/")
        .output()
        .unwrap();
    assert_eq!(out.stdout, b"a-unset-/\n");
}

#[test]
fn stdin_flows_through_cat_and_tr() {
    for (program, args, expect) in [
        ("cat", &[][..], &b"line one\nline two\n"[..]),
        ("tr", &["a-z", "A-Z"][..], &b"LINE ONE\nLINE TWO\n"[..]),
    ] {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let writer = greenlet::spawn(move || stdin.write_all(b"line one\nline two\n"));
        let mut got = Vec::new();
        child
            .stdout
            .as_mut()
            .unwrap()
            .read_to_end(&mut got)
            .unwrap();
        writer.join().unwrap().unwrap();
        assert_eq!(got, expect, "{program}");
        assert!(child.wait().unwrap().success());
    }
}

#[test]
fn wait_timeout_returns_none_then_the_status() {
    let mut child = Command::new("sleep").arg("0.3").spawn().unwrap();
    assert_eq!(child.wait_timeout(Duration::from_millis(10)).unwrap(), None);
    assert!(child.try_wait().unwrap().is_none(), "still running");
    let status = child.wait_timeout(Duration::from_secs(20)).unwrap();
    assert!(status.expect("exited within 20 s").success());
    // Reaped: the status again, at once.
    assert!(child.try_wait().unwrap().unwrap().success());
    assert!(child.wait().unwrap().success());
}

#[test]
fn kill_ends_a_running_child() {
    let mut child = Command::new("sleep").arg("30").spawn().unwrap();
    let pid = child.id();
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert_eq!(proc_state(pid), None, "reaped");
    child.kill().unwrap(); // reaped already: nothing to do, as std
}

#[test]
fn a_hundred_children_from_a_hundred_greenlets_leave_no_zombie() {
    let greenlets: Vec<_> = (0..100)
        .map(|i| {
            greenlet::spawn(move || {
                let mut child = Command::new("sh")
                    .args(["-c", &format!("exit {}", i % 7)])
                    .spawn()
                    .unwrap();
                let pid = child.id();
                (pid, i % 7, child.wait().unwrap().code())
            })
        })
        .collect();
    let results: Vec<_> = greenlet::joinall(greenlets)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    for (pid, expect, code) in results {
        assert_eq!(code, Some(expect));
        assert_ne!(proc_state(pid), Some('Z'), "child {pid} is a zombie");
    }
}

#[test]
fn a_ticker_ticks_while_a_child_is_waited_for() {
    let ticker = SleepTicker::spawn(Duration::from_millis(1), 100_000);
    let mut child = Command::new("sleep").arg("0.2").spawn().unwrap();
    assert!(child.wait().unwrap().success());
    let ticks = ticker.stop();
    assert!(ticks >= 20, "only {ticks} ticks while the child slept");
}

#[test]
fn a_ticker_ticks_while_a_greenlet_waits_for_output() {
    let ticker = SleepTicker::spawn(Duration::from_millis(1), 100_000);
    let waiter = greenlet::spawn(|| {
        Command::new("sh")
            .args(["-c", "sleep 0.2; echo late"])
            .output()
            .unwrap()
    });
    assert_eq!(waiter.join().unwrap().stdout, b"late\n");
    let ticks = ticker.stop();
    assert!(ticks >= 20, "only {ticks} ticks while the child slept");
}

#[test]
fn megabytes_through_stdout_and_stderr_at_once_do_not_deadlock() {
    // Standard error first: a parent that read standard output to its end
    // before the other would never see the child finish.
    const SIZE: usize = 4 << 20;
    let script =
        format!("head -c {SIZE} /dev/zero | tr '\\0' e >&2; head -c {SIZE} /dev/zero | tr '\\0' o");
    let out = Command::new("sh").args(["-c", &script]).output().unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout.len(), SIZE);
    assert_eq!(out.stderr.len(), SIZE);
    assert!(out.stdout.iter().all(|&b| b == b'o'));
    assert!(out.stderr.iter().all(|&b| b == b'e'));
}

#[test]
fn a_killed_waiter_runs_its_destructors_and_the_child_is_reaped_later() {
    let drops = DropCounter::new();
    let pid = Rc::new(Cell::new(0));
    let (token, seen) = (drops.token(), pid.clone());
    let waiter = greenlet::spawn(move || {
        let _token = token;
        let mut child = Command::new("sleep").arg("0.1").spawn().unwrap();
        seen.set(child.id());
        child.wait().unwrap();
        unreachable!("killed while it waits");
    });
    for _ in 0..100 {
        if pid.get() != 0 {
            break;
        }
        greenlet::yield_now();
    }
    let pid = pid.get();
    assert_ne!(pid, 0, "the waiter spawned its child");
    waiter.kill();
    assert!(waiter.join().unwrap_err().is_killed());
    assert_eq!(drops.count(), 1, "the waiter's destructors ran");
    assert_eq!(wait_gone(pid), None, "the child was reaped");
}

#[test]
fn a_timed_out_wait_leaves_the_child_to_wait_for_again() {
    let mut child = Command::new("sleep").arg("0.1").spawn().unwrap();
    let timed_out = greenlet::with_timeout(Duration::from_millis(5), || child.wait());
    assert!(timed_out.is_err());
    assert!(child.wait().unwrap().success());
}

#[test]
fn a_dropped_child_runs_on_and_is_reaped() {
    let dir = util::TempDir::new("process-drop");
    let marker = dir.join("done");
    let script = format!("sleep 0.05; echo done > {}", marker.display());
    let child = Command::new("sh").args(["-c", &script]).spawn().unwrap();
    let pid = child.id();
    drop(child); // not killed, as std's
    assert_eq!(wait_gone(pid), None, "the child was reaped");
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "done\n");
}

#[test]
fn a_std_child_turns_green() {
    let std_child = std::process::Command::new("echo")
        .arg("from std")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let child = greenlet::process::Child::from_std(std_child).unwrap();
    assert_eq!(child.wait_with_output().unwrap().stdout, b"from std\n");
}

#[test]
fn a_pipeline_through_into_std() {
    let mut producer = Command::new("printf")
        .arg("c\\nb\\na\\n")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = producer.stdout.take().unwrap().into_std().unwrap();
    let sorted = Command::new("sort").stdin(stdout).output().unwrap();
    assert_eq!(sorted.stdout, b"a\nb\nc\n");
    assert!(producer.wait().unwrap().success());
}

/// The kernel's version, from `/proc/sys/kernel/osrelease`.
fn kernel_at_least(major: u32, minor: u32) -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|p| p.parse().ok());
    let version: (u32, u32) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    version >= (major, minor)
}

#[test]
fn exits_are_watched_through_a_pidfd() {
    if !kernel_at_least(5, 3) {
        println!("no pidfd_open before Linux 5.3: skipped");
        return;
    }
    let mut child = Command::new("true").spawn().unwrap();
    assert!(greenlet::__private::has_pidfd(&child));
    assert!(child.wait().unwrap().success());
}

#[test]
fn waits_poll_without_a_pidfd() {
    if !util::is_child() {
        util::assert_child_passes(
            "waits_poll_without_a_pidfd",
            Duration::from_secs(60),
            "polled",
        );
        return;
    }
    greenlet::__private::disable_pidfd(true);
    let ticker = SleepTicker::spawn(Duration::from_millis(1), 100_000);
    let mut child = Command::new("sleep").arg("0.2").spawn().unwrap();
    assert!(!greenlet::__private::has_pidfd(&child));
    assert_eq!(child.wait_timeout(Duration::from_millis(10)).unwrap(), None);
    assert!(child.wait().unwrap().success());
    let ticks = ticker.stop();
    assert!(ticks >= 20, "only {ticks} ticks while the child slept");
    let out = Command::new("sh").args(["-c", "exit 5"]).output().unwrap();
    assert_eq!(out.status.code(), Some(5));
    println!("polled");
}

#[test]
fn a_killed_output_call_stops_its_reader_and_the_child_is_reaped() {
    let drops = DropCounter::new();
    let pid = Rc::new(Cell::new(0));
    let (token, seen) = (drops.token(), pid.clone());
    let caller = greenlet::spawn(move || {
        let _token = token;
        let child = Command::new("sh")
            .args(["-c", "sleep 0.1; echo late; echo late >&2"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        seen.set(child.id());
        child.wait_with_output().unwrap();
        unreachable!("killed while it reads");
    });
    for _ in 0..100 {
        if pid.get() != 0 {
            break;
        }
        greenlet::yield_now();
    }
    greenlet::yield_now(); // into its reads
    caller.kill();
    assert!(caller.join().unwrap_err().is_killed());
    assert_eq!(drops.count(), 1, "the caller's destructors ran");
    assert_eq!(wait_gone(pid.get()), None, "the child was reaped");
}

#[test]
fn a_thread_exit_with_a_greenlet_still_waiting_leaves_no_zombie() {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut child = Command::new("sleep").arg("0.1").spawn().unwrap();
        tx.send(child.id()).unwrap();
        // Never joined: torn down with the thread's hub, mid-wait.
        let _waiter = greenlet::spawn(move || child.wait());
        greenlet::yield_now();
    })
    .join()
    .unwrap();
    let pid = rx.recv().unwrap();
    assert_eq!(wait_gone(pid), None, "the child was reaped");
}

/// `cat` echoes 4 MiB, far more than a pipe holds: `communicate` writes and
/// reads at once, where writing first would deadlock with the child.
#[test]
fn communicate_feeds_and_drains_a_child_at_once() {
    const SIZE: usize = 4 << 20;
    let input: Vec<u8> = (0..SIZE).map(|i| (i % 253) as u8).collect();
    let ticker = SleepTicker::spawn(Duration::from_millis(1), 100_000);
    let child = Command::new("sh")
        .args(["-c", "sleep 0.1; cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.communicate(&input).unwrap();
    let ticks = ticker.stop();
    assert!(out.status.success());
    assert!(out.stdout == input, "cat echoed {} bytes", out.stdout.len());
    assert!(out.stderr.is_empty());
    assert!(ticks >= 20, "only {ticks} ticks while the child ran");
}

/// A child that exits without reading its input is no error (Python's
/// `communicate` ignores the broken pipe too); its output and status come
/// back.
#[test]
fn communicate_with_a_child_that_reads_nothing() {
    let child = Command::new("sh")
        .args(["-c", "echo gone >&2; exit 3"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.communicate(&vec![7u8; 1 << 20]).unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(out.stderr, b"gone\n");
    assert!(out.stdout.is_empty());
}

#[test]
fn communicate_input_without_a_piped_stdin_is_invalid() {
    let child = Command::new("true").stdout(Stdio::piped()).spawn().unwrap();
    let err = child.communicate(b"lost").unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    // With no input, the same child's output and status come back.
    let child = Command::new("echo")
        .arg("hi")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    assert_eq!(child.communicate(&[]).unwrap().stdout, b"hi\n");
}
