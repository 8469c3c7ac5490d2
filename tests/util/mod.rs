//! Helpers shared by the integration tests.
#![allow(dead_code)] // each test binary uses its own subset

use std::cell::Cell;
use std::process::{Command, Output};
use std::rc::Rc;

/// Counts how many times its tokens are dropped.
#[derive(Clone, Debug, Default)]
pub struct DropCounter(Rc<Cell<usize>>);

impl DropCounter {
    pub fn new() -> Self {
        Self::default()
    }

    /// A value that adds one to the count when dropped.
    pub fn token(&self) -> DropToken {
        DropToken(self.0.clone())
    }

    pub fn count(&self) -> usize {
        self.0.get()
    }
}

#[derive(Debug)]
pub struct DropToken(Rc<Cell<usize>>);

impl Drop for DropToken {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

/// A seeded xorshift64* generator for the stress tests: the same seed, the
/// same sequence, so a failing run repeats.
///
/// # Panics
///
/// Panics if `seed` is 0, where xorshift stays forever.
pub fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
    assert_ne!(seed, 0, "xorshift needs a seed other than 0");
    move || {
        seed ^= seed >> 12;
        seed ^= seed << 25;
        seed ^= seed >> 27;
        seed.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// The environment variable that tells a re-executed test binary it is the child.
pub const CHILD_ENV: &str = "GREENLET_TEST_CHILD";

/// True inside a child started by [`run_in_child`].
pub fn is_child() -> bool {
    std::env::var_os(CHILD_ENV).is_some()
}

/// Runs the test named `test` alone in a fresh copy of this test binary, with
/// `env` added, and returns its output. The child sees [`is_child`] true.
pub fn run_in_child(test: &str, env: &[(&str, &str)]) -> Output {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut cmd = Command::new(exe);
    cmd.args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1");
    for (key, value) in env {
        cmd.env(key, value);
    }
    cmd.output().expect("the test binary runs again as a child")
}

/// A field of `/proc/self/status` in KiB, such as `VmSize` or `VmRSS`.
pub fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"));
    line[field.len() + 1..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .expect("a number of kB")
}

/// How many memory mappings this process has (lines of `/proc/self/maps`).
pub fn mapping_count() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .expect("/proc/self/maps")
        .lines()
        .count()
}

/// A `log` logger that keeps every record, for tests that check what the
/// library logs. Install it with [`capture_logs`]; records from every thread
/// of the test binary land in one list, so match on something unique.
pub struct CapturedLogs;

static RECORDS: std::sync::Mutex<Vec<(log::Level, String)>> = std::sync::Mutex::new(Vec::new());

impl log::Log for CapturedLogs {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }

    fn log(&self, record: &log::Record) {
        let line = record.args().to_string();
        RECORDS.lock().unwrap().push((record.level(), line));
    }

    fn flush(&self) {}
}

/// Installs [`CapturedLogs`] (once per process) at `Debug` level.
pub fn capture_logs() {
    static LOGGER: CapturedLogs = CapturedLogs;
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        log::set_logger(&LOGGER).expect("no other logger");
        log::set_max_level(log::LevelFilter::Debug);
    });
}

/// The captured records at `level` that contain `needle`.
pub fn logged(level: log::Level, needle: &str) -> Vec<String> {
    RECORDS
        .lock()
        .unwrap()
        .iter()
        .filter(|(l, line)| *l == level && line.contains(needle))
        .map(|(_, line)| line.clone())
        .collect()
}

/// Checks that `churn` maps nothing new once `warm_up` has run: in a child
/// copy of the test named `test` (so no other test's mappings are counted),
/// the number of mappings and `VmSize` must be the same before and after.
pub fn assert_churn_maps_nothing(test: &str, warm_up: impl FnOnce(), churn: impl FnOnce()) {
    if is_child() {
        warm_up();
        let (size, maps) = (status_kib("VmSize"), mapping_count());
        churn();
        let (size_after, maps_after) = (status_kib("VmSize"), mapping_count());
        println!("VmSize {size} -> {size_after} kB, mappings {maps} -> {maps_after}");
        assert_eq!(maps_after, maps, "no new mappings");
        assert_eq!(size_after, size, "no growth in mapped memory");
        return;
    }
    let out = run_in_child(test, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("VmSize"), "the child measured: {stdout}");
}

/// As [`run_in_child`], but kills the child if it has not finished within
/// `limit` (a hang), and says so in the returned flag.
pub fn run_in_child_bounded(
    test: &str,
    limit: std::time::Duration,
) -> (std::process::Output, bool) {
    use std::process::Stdio;
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut child = Command::new(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the test binary runs again as a child");
    let start = std::time::Instant::now();
    let mut hung = false;
    while child.try_wait().expect("the child's status").is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            hung = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    (child.wait_with_output().expect("the child's output"), hung)
}

/// How a child started by [`run_child`] ended, and what it printed.
#[derive(Debug)]
pub struct ChildRun {
    pub stdout: String,
    pub stderr: String,
    pub status: std::process::ExitStatus,
}

impl ChildRun {
    /// The exit code, or a failed test if a signal killed the child.
    pub fn code(&self) -> i32 {
        self.status
            .code()
            .unwrap_or_else(|| panic!("the child died by a signal: {self}"))
    }

    /// The signal that killed the child, if one did.
    pub fn signal(&self) -> Option<i32> {
        std::os::unix::process::ExitStatusExt::signal(&self.status)
    }
}

impl std::fmt::Display for ChildRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// Runs the test named `test` in a child (see [`run_in_child_bounded`]),
/// and fails the calling test if the child has not finished within `limit`.
pub fn run_child(test: &str, limit: std::time::Duration) -> ChildRun {
    let (out, hung) = run_in_child_bounded(test, limit);
    let run = ChildRun {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        status: out.status,
    };
    assert!(!hung, "the child hung: {run}");
    run
}

/// As [`run_child`], and fails the calling test unless the child passed and
/// printed `needle`; returns its standard output.
pub fn assert_child_passes(test: &str, limit: std::time::Duration, needle: &str) -> String {
    let run = run_child(test, limit);
    assert!(run.status.success(), "the child failed: {run}");
    assert!(run.stdout.contains(needle), "no {needle:?} in: {run}");
    run.stdout
}

/// Serves `connections` echo connections, one greenlet each: `accept`
/// returns the next connection (TCP or Unix), echoed until the peer closes.
pub fn spawn_echo_server<S: 'static>(
    connections: usize,
    mut accept: impl FnMut() -> S + 'static,
) -> greenlet::Greenlet<()>
where
    for<'a> &'a S: std::io::Read + std::io::Write,
{
    greenlet::spawn(move || {
        let handlers: Vec<_> = (0..connections)
            .map(|_| {
                let stream = accept();
                greenlet::spawn(move || {
                    std::io::copy(&mut &stream, &mut &stream).unwrap();
                })
            })
            .collect();
        for h in handlers {
            h.join().unwrap();
        }
    })
}

/// The client's side of one echo round trip: sends `i` as five digits and
/// checks that the same five bytes come back.
pub fn echo_numbered(stream: &mut (impl std::io::Read + std::io::Write), i: usize) {
    let msg = format!("{i:05}");
    stream.write_all(msg.as_bytes()).unwrap();
    let mut back = [0u8; 5];
    stream.read_exact(&mut back).unwrap();
    assert_eq!(&back, msg.as_bytes());
}

/// A fresh directory of this test's own, removed (with its sockets) on drop.
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("greenlet-test-{}-{tag}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir); // left over by a killed run
        std::fs::create_dir(&dir).unwrap();
        TempDir(dir)
    }

    pub fn join(&self, name: &str) -> std::path::PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A greenlet that counts its turns: it adds one and yields, `turns` times
/// at most. A blocking call that switches lets it tick; one that returns at
/// once (a non-blocking call) does not.
pub struct Ticker {
    ticks: Rc<Cell<usize>>,
    greenlet: greenlet::Greenlet<()>,
}

impl Ticker {
    pub fn spawn(turns: usize) -> Ticker {
        let ticks = Rc::new(Cell::new(0));
        let t = ticks.clone();
        let greenlet = greenlet::spawn(move || {
            for _ in 0..turns {
                t.set(t.get() + 1);
                greenlet::yield_now();
            }
        });
        Ticker { ticks, greenlet }
    }

    pub fn ticks(&self) -> usize {
        self.ticks.get()
    }

    /// Lets it finish its turns, and returns how many it counted.
    pub fn join(self) -> usize {
        self.greenlet.join().unwrap();
        self.ticks.get()
    }
}

/// A greenlet that sleeps `every` and counts, until stopped or `max` ticks:
/// how a test shows that something else did not stall the hub. It also
/// keeps the worst gap between two ticks, for tests that print it.
pub struct SleepTicker {
    ticks: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    worst_gap: Rc<Cell<std::time::Duration>>,
    stop: Rc<Cell<bool>>,
    greenlet: greenlet::Greenlet<()>,
}

impl SleepTicker {
    pub fn spawn(every: std::time::Duration, max: usize) -> SleepTicker {
        use std::sync::atomic::Ordering::SeqCst;
        let ticks = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let worst_gap = Rc::new(Cell::new(std::time::Duration::ZERO));
        let stop = Rc::new(Cell::new(false));
        let (t, w, s) = (ticks.clone(), worst_gap.clone(), stop.clone());
        let greenlet = greenlet::spawn(move || {
            let mut last = std::time::Instant::now();
            for _ in 0..max {
                if s.get() {
                    break;
                }
                greenlet::sleep(every);
                let now = std::time::Instant::now();
                w.set(w.get().max(now - last));
                last = now;
                t.fetch_add(1, SeqCst);
            }
        });
        SleepTicker {
            ticks,
            worst_gap,
            stop,
            greenlet,
        }
    }

    pub fn ticks(&self) -> usize {
        self.ticks.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// The count, for another thread to read.
    pub fn counter(&self) -> std::sync::Arc<std::sync::atomic::AtomicUsize> {
        self.ticks.clone()
    }

    /// The longest time between two ticks so far (from the start for the
    /// first).
    pub fn worst_gap(&self) -> std::time::Duration {
        self.worst_gap.get()
    }

    /// Stops it and returns how many ticks it counted.
    pub fn stop(self) -> usize {
        self.stop_measured().0
    }

    /// Stops it and returns how many ticks it counted and its worst gap.
    pub fn stop_measured(self) -> (usize, std::time::Duration) {
        self.stop.set(true);
        self.greenlet.join().unwrap();
        let ticks = self.ticks.load(std::sync::atomic::Ordering::SeqCst);
        (ticks, self.worst_gap.get())
    }
}

/// Counts drops across threads.
#[derive(Clone, Debug, Default)]
pub struct SyncDropCounter(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl SyncDropCounter {
    pub fn new() -> Self {
        Self::default()
    }

    /// A `Send` value that adds one to the count when dropped.
    pub fn token(&self) -> SyncDropToken {
        SyncDropToken(self.0.clone())
    }

    pub fn count(&self) -> usize {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Waits (cooperatively, 1 ms at a time, at most `tries` times) until
    /// the count reaches `n`; returns the count then.
    pub fn wait_for(&self, n: usize, tries: usize) -> usize {
        for _ in 0..tries {
            if self.count() >= n {
                break;
            }
            greenlet::sleep(std::time::Duration::from_millis(1));
        }
        self.count()
    }
}

#[derive(Debug)]
pub struct SyncDropToken(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl Drop for SyncDropToken {
    fn drop(&mut self) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// The built example binary `name` (cargo test builds the examples).
pub fn example(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap(); // target/<profile>/deps/<test>-…
    let dir = exe.parent().unwrap().parent().unwrap().join("examples");
    let path = dir.join(name);
    assert!(path.exists(), "{} is built by `cargo test`", path.display());
    path
}

/// Waits for the child to exit by itself, for at most `limit`; kills it
/// otherwise (and fails).
pub fn wait_bounded(child: &mut std::process::Child, limit: std::time::Duration) {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if child.try_wait().unwrap().is_some() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = child.kill();
    panic!("the server did not finish within {limit:?}");
}

/// Forks this process and returns the child's pid, or 0 in the child, which
/// must end with [`exit_child`].
///
/// Call it only in a child copy of the test binary ([`is_child`]),
/// which runs this one test on one thread.
pub fn fork() -> libc::pid_t {
    // SAFETY: the process runs this test alone, so no other thread holds a
    // lock the child could need (glibc resets the allocator's); the child
    // leaves through `exit_child`.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    pid
}

/// In a forked child: runs `body` (greenlets and all, on this thread's hub)
/// and leaves with `_exit`, its result as exit code (101 if it panicked), so
/// that nothing of the parent's test harness runs in the child.
pub fn exit_child(body: impl FnOnce() -> i32) -> ! {
    let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).unwrap_or(101);
    // SAFETY: ends the forked child at once, running none of the parent's
    // destructors or exit handlers.
    unsafe { libc::_exit(code) }
}

/// Waits up to 20 s for the forked child `pid` to exit and returns its exit
/// code; kills it and fails if it hangs or dies of a signal. The parent's
/// greenlets do not run meanwhile.
pub fn reap(pid: libc::pid_t) -> i32 {
    let mut status = 0;
    for _ in 0..2_000 {
        // SAFETY: waits for our own child without blocking.
        if unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } == pid {
            assert!(libc::WIFEXITED(status), "the forked child died: {status}");
            return libc::WEXITSTATUS(status);
        }
        block_thread_for(std::time::Duration::from_millis(10));
    }
    // SAFETY: kills and reaps our own child.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, &mut status, 0);
    }
    panic!("the forked child hung");
}

/// The functions the test binary itself defines (`nm --defined-only`'s `T`
/// lines): how the `patch` tests see which C calls the library defines.
pub fn defined_functions() -> Vec<String> {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("nm")
        .arg("--defined-only")
        .arg(&exe)
        .output()
        .expect("nm runs (binutils)");
    assert!(out.status.success(), "nm failed: {out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            let (_, kind, name) = (parts.next()?, parts.next()?, parts.next()?);
            (kind == "T").then(|| name.to_string())
        })
        .collect()
}

/// Blocks the whole thread for `d`, running no greenlet, even in the main
/// context of a thread with greenlets under the `patch` feature (where
/// `std::thread::sleep` runs them): the system call itself.
pub fn block_thread_for(d: std::time::Duration) {
    let span = libc::timespec {
        tv_sec: d.as_secs() as libc::time_t,
        tv_nsec: libc::c_long::from(d.subsec_nanos()),
    };
    // SAFETY: a valid request, and no remainder wanted.
    unsafe {
        libc::syscall(
            libc::SYS_nanosleep,
            &span,
            std::ptr::null_mut::<libc::timespec>(),
        )
    };
}
