//! Stacks at scale and at their limits: 100,000 greenlets alive at once,
//! the named stack-overflow report, running out of memory mappings, and
//! memory given back after a spike. Each test that depends on the state of
//! the process (its mappings, its memory, a fatal signal) runs in a child
//! copy of this binary.

mod util;

use std::cell::Cell;
use std::os::unix::process::ExitStatusExt;
use std::process::Output;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use greenlet::sync::Event;
use greenlet::{Builder, Generator, MIN_STACK_SIZE};

/// The environment variable that selects the `mprotect` guard fallback in a
/// child.
const MPROTECT_ENV: &str = "GREENLET_TEST_MPROTECT";

/// The environment variable that makes a child do the stack helper's work
/// itself.
const NO_HELPER_ENV: &str = "GREENLET_TEST_NO_STACK_HELPER";

/// In a child: applies the guard and helper choices its parent asked for.
fn child_setup() {
    greenlet::__private::force_mprotect_guards(std::env::var_os(MPROTECT_ENV).is_some());
    greenlet::__private::use_stack_helper(std::env::var_os(NO_HELPER_ENV).is_none());
}

/// The env of a child, with the `mprotect` fallback forced or not.
fn guards(mprotect: bool) -> Vec<(&'static str, &'static str)> {
    if mprotect {
        vec![(MPROTECT_ENV, "1")]
    } else {
        vec![]
    }
}

/// Runs `test` in a child with `env`, and checks that it succeeded and
/// printed `needle` (which the child prints at its end, once all its
/// assertions held).
fn assert_child_prints(test: &str, env: &[(&str, &str)], needle: &str) {
    let out = util::run_in_child(test, env);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains(needle), "{stdout}");
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Keeps `n` greenlets alive at once, all started and blocked on one event,
/// then wakes them all and checks that each completes.
fn hold_alive(n: usize) -> usize {
    let event = Rc::new(Event::new());
    let gs: Vec<_> = (0..n)
        .map(|i| {
            let event = event.clone();
            Builder::new()
                .stack_size(MIN_STACK_SIZE)
                .spawn(move || {
                    event.wait();
                    i
                })
                .unwrap()
        })
        .collect();
    greenlet::sleep(Duration::from_millis(1)); // every one starts and waits
    assert!(gs.iter().all(|g| !g.is_finished()));
    let maps = util::mapping_count();
    event.set();
    let sum: usize = greenlet::joinall(gs).into_iter().map(Result::unwrap).sum();
    assert_eq!(sum, n * (n - 1) / 2);
    maps
}

fn hundred_thousand_alive(test: &str, env: &[(&str, &str)]) {
    const N: usize = 100_000;
    if util::is_child() {
        child_setup();
        let before = util::mapping_count();
        let during = hold_alive(N);
        println!("mappings: {before} before, {during} with {N} greenlets alive");
        // Far above the ~32,700 stacks that one mapping pair each allows.
        assert!(during - before < 1_000, "stacks share mappings");
        return;
    }
    assert_child_prints(test, env, "greenlets alive");
}

#[test]
fn a_hundred_thousand_greenlets_alive_at_once_all_complete() {
    hundred_thousand_alive(
        "a_hundred_thousand_greenlets_alive_at_once_all_complete",
        &[],
    );
}

/// The same burst with every thread prefaulting nothing and releasing its
/// stacks itself, as where the helper thread cannot be started.
#[test]
fn a_hundred_thousand_alive_without_the_stack_helper() {
    hundred_thousand_alive(
        "a_hundred_thousand_alive_without_the_stack_helper",
        &[(NO_HELPER_ENV, "1")],
    );
}

/// The `mprotect` fallback costs two mappings per stack, so it holds fewer:
/// thousands, checked against that cost.
#[test]
fn mprotect_guards_cost_two_mappings_per_stack_and_work() {
    const N: usize = 3_000;
    if util::is_child() {
        child_setup();
        let before = util::mapping_count();
        let during = hold_alive(N);
        println!("mappings: {before} before, {during} with {N} greenlets alive");
        assert!(during - before >= 2 * N, "each guard splits the mapping");
        return;
    }
    assert_child_prints(
        "mprotect_guards_cost_two_mappings_per_stack_and_work",
        &guards(true),
        "greenlets alive",
    );
}

/// Recurses without bound, 1 KiB of stack per call.
fn recurse(depth: u64) -> u64 {
    let pad = std::hint::black_box([depth; 128]);
    if depth == u64::MAX {
        return 0;
    }
    recurse(depth + 1).wrapping_add(pad[7])
}

/// Runs `overflow` in a child that must die by SIGABRT with `message` on
/// stderr.
fn assert_overflow_reported(test: &str, mprotect: bool, overflow: fn(), message: &str) {
    if util::is_child() {
        child_setup();
        overflow();
        println!("the child survived its overflow");
        return;
    }
    let out = util::run_in_child(test, &guards(mprotect));
    let (stdout, stderr) = text(&out);
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGABRT),
        "{:?}\n{stdout}\n{stderr}",
        out.status
    );
    assert!(stderr.contains(message), "{message:?} in:\n{stderr}");
}

fn overflow_named_greenlet() {
    let g = Builder::new()
        .name("deep")
        .stack_size(MIN_STACK_SIZE)
        .spawn(|| recurse(0))
        .unwrap();
    let _ = g.join();
}

#[test]
fn a_greenlet_overflow_is_reported_by_name_and_aborts() {
    assert_overflow_reported(
        "a_greenlet_overflow_is_reported_by_name_and_aborts",
        false,
        overflow_named_greenlet,
        "greenlet 'deep' (id 1) has overflowed its stack of 64 KiB",
    );
}

#[test]
fn an_overflow_past_an_mprotect_guard_is_reported_too() {
    assert_overflow_reported(
        "an_overflow_past_an_mprotect_guard_is_reported_too",
        true,
        overflow_named_greenlet,
        "greenlet 'deep' (id 1) has overflowed its stack of 64 KiB",
    );
}

/// Greenlets spawned together get stacks carved in one batch, whose guards
/// are installed together: the last one's guard works too.
#[test]
fn an_overflow_on_a_stack_carved_in_a_batch_is_reported() {
    assert_overflow_reported(
        "an_overflow_on_a_stack_carved_in_a_batch_is_reported",
        false,
        || {
            let gs: Vec<_> = (0..40)
                .map(|i| {
                    Builder::new()
                        .name(format!("g{i}"))
                        .stack_size(MIN_STACK_SIZE)
                        .spawn(move || {
                            if i == 39 {
                                recurse(0);
                            }
                            greenlet::sleep(Duration::from_millis(100));
                        })
                        .unwrap()
                })
                .collect();
            let _ = greenlet::joinall(gs);
        },
        "greenlet 'g39' (id 40) has overflowed its stack of 64 KiB",
    );
}

#[test]
fn an_unnamed_greenlet_overflow_is_reported_by_id() {
    assert_overflow_reported(
        "an_unnamed_greenlet_overflow_is_reported_by_id",
        false,
        || {
            let quiet = greenlet::spawn(|| 1); // takes id 1
            let g = greenlet::spawn(|| recurse(0));
            assert_eq!(quiet.join().unwrap(), 1);
            let _ = g.join();
        },
        "greenlet 2 has overflowed its stack of 256 KiB",
    );
}

#[test]
fn a_generator_overflow_is_reported() {
    assert_overflow_reported(
        "a_generator_overflow_is_reported",
        false,
        || {
            let mut g: Generator<(), (), u64> =
                Generator::with_stack_size(MIN_STACK_SIZE, |_, ()| recurse(0)).unwrap();
            g.send(());
        },
        "a generator has overflowed its stack of 64 KiB",
    );
}

#[test]
fn a_generator_overflow_inside_a_greenlet_names_the_greenlet() {
    assert_overflow_reported(
        "a_generator_overflow_inside_a_greenlet_names_the_greenlet",
        false,
        || {
            let g = Builder::new()
                .name("host")
                .spawn(|| {
                    let mut g: Generator<(), (), u64> =
                        Generator::with_stack_size(MIN_STACK_SIZE, |_, ()| recurse(0)).unwrap();
                    g.send(());
                })
                .unwrap();
            let _ = g.join();
        },
        "a generator in greenlet 'host' (id 1) has overflowed its stack of 64 KiB",
    );
}

/// A thread without an alternate signal stack (one started by C code, here
/// a std thread that turned its own off) gets ours with its first stacks, so
/// its overflows are reported too.
#[test]
fn a_thread_without_an_alternate_stack_gets_one() {
    assert_overflow_reported(
        "a_thread_without_an_alternate_stack_gets_one",
        false,
        || {
            let t = std::thread::spawn(|| {
                let off = libc::stack_t {
                    ss_sp: std::ptr::null_mut(),
                    ss_flags: libc::SS_DISABLE,
                    ss_size: 0,
                };
                // SAFETY: turns this thread's alternate signal stack off.
                assert_eq!(unsafe { libc::sigaltstack(&off, std::ptr::null_mut()) }, 0);
                overflow_named_greenlet();
            });
            let _ = t.join();
        },
        "greenlet 'deep' (id 1) has overflowed its stack of 64 KiB",
    );
}

/// A fault that is not in one of our guard pages goes to the handler that
/// was there before ours: here the default action, death by SIGSEGV.
#[test]
fn a_fault_outside_our_guards_is_still_a_plain_sigsegv() {
    if util::is_child() {
        // Our handler is installed with the first region of stacks.
        greenlet::spawn(|| ()).join().unwrap();
        // SAFETY: maps one inaccessible page, then writes to it on purpose.
        unsafe {
            let page = libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            assert_ne!(page, libc::MAP_FAILED);
            std::ptr::write_volatile(page.cast::<u8>(), 1);
        }
        println!("the child survived its fault");
        return;
    }
    let out = util::run_in_child("a_fault_outside_our_guards_is_still_a_plain_sigsegv", &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGSEGV),
        "{stdout}\n{stderr}"
    );
    assert!(!stderr.contains("overflowed"), "{stderr}");
}

/// A thread's own stack overflow still reaches std's handler, behind ours.
#[test]
fn a_thread_stack_overflow_still_gets_the_std_report() {
    if util::is_child() {
        greenlet::spawn(|| ()).join().unwrap(); // installs our handler
        let t = std::thread::Builder::new()
            .name("deep-thread".into())
            .stack_size(256 * 1024)
            .spawn(|| recurse(0))
            .unwrap();
        let _ = t.join();
        println!("the child survived its overflow");
        return;
    }
    let out = util::run_in_child("a_thread_stack_overflow_still_gets_the_std_report", &[]);
    let (stdout, stderr) = text(&out);
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGABRT),
        "{stdout}\n{stderr}"
    );
    assert!(
        stderr.contains("thread 'deep-thread'") && stderr.contains("has overflowed its stack"),
        "{stderr}"
    );
    assert!(!stderr.contains("greenlet"), "{stderr}");
}

/// With the mapping limit lowered, spawning fails cleanly with a message
/// that explains it, and nothing else is lost: the greenlets already
/// spawned complete, and spawning works again once stacks are free.
fn out_of_mappings(test: &str, mprotect: bool) {
    if util::is_child() {
        child_setup();
        // Room for three regions with `madvise` guards (16 + 32 + 64 stacks),
        // or for about 40 stacks with `mprotect` guards.
        let room = if mprotect { 80 } else { 3 };
        let limit = util::mapping_count() + greenlet::__private::MAPPING_HEADROOM + room;
        greenlet::__private::set_max_map_count(Some(limit));
        let event = Rc::new(Event::new());
        let mut gs = Vec::new();
        let error = loop {
            assert!(gs.len() < 100_000, "the lowered limit is never reached");
            let event = event.clone();
            match Builder::new()
                .stack_size(MIN_STACK_SIZE)
                .spawn(move || event.wait())
            {
                Ok(g) => gs.push(g),
                Err(e) => break e,
            }
        };
        let message = error.to_string();
        assert_eq!(error.kind(), std::io::ErrorKind::OutOfMemory, "{message}");
        for needle in [
            "vm.max_map_count",
            &format!("vm.max_map_count is {limit}"),
            "memory mappings",
            "sysctl -w vm.max_map_count=",
        ] {
            assert!(message.contains(needle), "{needle:?} in {message}");
        }
        // `spawn` panics with the same message; a generator fails alike.
        let panic = std::panic::catch_unwind(|| greenlet::spawn(|| ())).unwrap_err();
        let text = panic.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(text.contains("vm.max_map_count"), "{text}");
        assert!(Generator::<(), ()>::with_stack_size(MIN_STACK_SIZE, |_, ()| ()).is_err());
        // Nothing is lost: every greenlet spawned before runs to the end.
        let spawned = gs.len();
        greenlet::sleep(Duration::from_millis(1));
        event.set();
        for g in gs {
            g.join().unwrap();
        }
        // Their stacks are free again: spawning works, without a new region.
        let again: Vec<_> = (0..spawned)
            .map(|_| {
                Builder::new()
                    .stack_size(MIN_STACK_SIZE)
                    .spawn(|| 1)
                    .unwrap()
            })
            .collect();
        let sum: usize = greenlet::joinall(again)
            .into_iter()
            .map(Result::unwrap)
            .sum();
        assert_eq!(sum, spawned);
        println!("{spawned} greenlets before the limit; error: {message}");
        return;
    }
    assert_child_prints(test, &guards(mprotect), "greenlets before the limit");
}

#[test]
fn running_out_of_mappings_fails_spawn_with_a_clear_error() {
    out_of_mappings(
        "running_out_of_mappings_fails_spawn_with_a_clear_error",
        false,
    );
}

#[test]
fn running_out_of_mappings_with_mprotect_guards_fails_alike() {
    out_of_mappings(
        "running_out_of_mappings_with_mprotect_guards_fails_alike",
        true,
    );
}

/// After a spike of greenlets that each used a lot of stack, the memory of
/// the stacks beyond the pool's high-water mark goes back to the kernel:
/// at once without the helper thread, shortly after with it.
fn spike_given_back(test: &str, env: &[(&str, &str)]) {
    const N: usize = 4_000;
    const TOUCH: usize = 64 * 1024; // of a 256 KiB stack
    if util::is_child() {
        child_setup();
        let event = Rc::new(Event::new());
        let before = util::status_kib("VmRSS");
        let gs: Vec<_> = (0..N)
            .map(|_| {
                let event = event.clone();
                Builder::new()
                    .spawn(move || {
                        let used = std::hint::black_box([1u8; TOUCH]);
                        event.wait();
                        used[TOUCH - 1]
                    })
                    .unwrap()
            })
            .collect();
        greenlet::sleep(Duration::from_millis(1));
        let spike = util::status_kib("VmRSS");
        event.set();
        for g in gs {
            assert_eq!(g.join().unwrap(), 1);
        }
        let touched = (N * TOUCH / 1024) as u64;
        assert!(spike - before > touched * 9 / 10, "the spike is resident");
        // What stays is the pool's high-water mark of 1,024 stacks, plus at
        // most one batch of 256 waiting for release, and a little heap.
        let per_greenlet = (spike - before) / N as u64;
        let kept = (1024 + 256) * per_greenlet + 16 * 1024;
        // The helper releases batches in the background: give it up to 5 s.
        let mut after = util::status_kib("VmRSS");
        for _ in 0..500 {
            if after - before <= kept {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
            after = util::status_kib("VmRSS");
        }
        println!("VmRSS: {before} kB before, {spike} kB at the spike, {after} kB after");
        assert!(
            after - before <= kept,
            "the spike's memory beyond the pool went back ({kept} kB may stay)"
        );
        return;
    }
    assert_child_prints(test, env, "after");
}

#[test]
fn memory_of_a_spike_is_given_back() {
    spike_given_back("memory_of_a_spike_is_given_back", &[]);
}

#[test]
fn memory_of_a_spike_is_given_back_without_the_stack_helper() {
    spike_given_back(
        "memory_of_a_spike_is_given_back_without_the_stack_helper",
        &[(NO_HELPER_ENV, "1")],
    );
}

/// When the kernel refuses the guard page of a greenlet's stack as it
/// starts, the greenlet never runs: its body is dropped, `join` reports why,
/// and the next greenlet starts normally.
#[test]
fn a_greenlet_whose_guard_is_refused_fails_to_start_cleanly() {
    const TEST: &str = "a_greenlet_whose_guard_is_refused_fails_to_start_cleanly";
    if util::is_child() {
        let size = 3 * MIN_STACK_SIZE; // a new size class: nothing carved yet
        let drops = util::DropCounter::new();
        let guard = drops.token();
        greenlet::__private::refuse_guards(1);
        let g = Builder::new()
            .name("unlucky")
            .stack_size(size)
            .spawn(move || {
                let _guard = guard;
                unreachable!("a greenlet without a stack never runs")
            })
            .expect("spawning only reserves the stack");
        let err = g.join().unwrap_err();
        assert!(err.is_panic(), "{err}");
        let message = err.to_string();
        assert!(
            message.contains("cannot allocate a stack of 192 KiB for greenlet 'unlucky'"),
            "{message}"
        );
        assert!(message.contains("memory"), "the kernel's reason: {message}");
        assert_eq!(drops.count(), 1, "the body was dropped");
        let next = Builder::new().stack_size(size).spawn(|| 7).unwrap();
        assert_eq!(next.join().unwrap(), 7, "the next greenlet starts");
        println!("refused: {message}");
        return;
    }
    if !guard_install_supported() {
        return; // mprotect guards are all made when a region is mapped
    }
    assert_child_prints(TEST, &[], "refused:");
}

/// Whether the kernel has `MADV_GUARD_INSTALL` (Linux 6.13+), the guards a
/// stack gets when it is first used; older kernels use `mprotect` guards,
/// all made when a region is mapped.
fn guard_install_supported() -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut numbers = release
        .split(['.', '-'])
        .map(|n| n.parse::<u32>().unwrap_or(0));
    let (major, minor) = (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0));
    (major, minor) >= (6, 13)
}

/// The names of this process's threads.
fn thread_names() -> Vec<String> {
    let tasks = std::fs::read_dir("/proc/self/task").expect("/proc/self/task");
    tasks
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim().to_string())
        .collect()
}

/// The stack helper thread starts only at a burst of spawns, not for a few
/// greenlets, and once started it serves every later burst.
#[test]
fn the_stack_helper_starts_only_for_a_burst() {
    const TEST: &str = "the_stack_helper_starts_only_for_a_burst";
    if util::is_child() {
        let few: Vec<_> = (0..100).map(|i| greenlet::spawn(move || i)).collect();
        assert_eq!(greenlet::joinall(few).len(), 100);
        let before = thread_names();
        assert!(
            !before.iter().any(|n| n == "greenlet-stacks"),
            "no helper for 100 greenlets: {before:?}"
        );
        burst(5_000);
        let after = thread_names();
        let helpers = after.iter().filter(|n| *n == "greenlet-stacks").count();
        assert_eq!(helpers, 1, "one helper for the burst: {after:?}");
        println!("threads: {before:?} then {after:?}");
        return;
    }
    assert_child_prints(TEST, &[], "threads:");
}

/// Spawns a burst of `n` greenlets with small stacks and joins them all.
fn burst(n: usize) {
    let gs: Vec<_> = (0..n)
        .map(|i| {
            Builder::new()
                .stack_size(MIN_STACK_SIZE)
                .spawn(move || {
                    greenlet::yield_now();
                    i
                })
                .unwrap()
        })
        .collect();
    let sum: usize = greenlet::joinall(gs).into_iter().map(Result::unwrap).sum();
    assert_eq!(sum, n * (n - 1) / 2);
}

/// A child made by `fork` after the stack helper started has no helper
/// thread: its bursts are prefaulted and released inline instead of waiting
/// for ever on a thread that does not exist.
#[test]
fn a_forked_child_does_without_the_stack_helper() {
    const TEST: &str = "a_forked_child_does_without_the_stack_helper";
    if util::is_child() {
        burst(5_000); // starts the helper, lends it batches both ways
        // SAFETY: the forked child only runs greenlets on this thread and
        // leaves with `_exit`, touching nothing another thread may have
        // held locked at the fork but the allocator (which glibc resets).
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
        if pid == 0 {
            burst(5_000);
            burst(5_000);
            // SAFETY: ends the forked child at once, as documented above.
            unsafe { libc::_exit(0) };
        }
        // Bounded: 20 s at most, then the child is killed and the test fails.
        let mut status = 0;
        let mut reaped = false;
        for _ in 0..2_000 {
            // SAFETY: waits for our own child without blocking.
            reaped = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) } == pid;
            if reaped {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        if !reaped || !libc::WIFEXITED(status) {
            // SAFETY: kills and reaps our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            panic!("the forked child hung or crashed (status {status})");
        }
        assert_eq!(libc::WEXITSTATUS(status), 0);
        println!("forked child done");
        return;
    }
    assert_child_prints(TEST, &[], "forked child done");
}

/// Runs `test` in a child bounded to a minute (a hang is a failure), and
/// checks that it succeeded and printed `needle`.
fn assert_child_finishes(test: &str, needle: &str) {
    util::assert_child_passes(test, Duration::from_secs(60), needle);
}

thread_local! {
    /// Set on the threads where [`SpawningLogger`] spawns: those that run
    /// greenlets.
    static SPAWN_FROM_LOGS: Cell<bool> = const { Cell::new(false) };
    /// How many calls of [`SpawningLogger::log`] are under way on this
    /// thread.
    static LOG_DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// A logger that uses the library: it spawns a greenlet for each record of
/// the stack layer (`greenlet::stack::…`) it gets on a thread that runs
/// greenlets. Nested records (logged while it spawns) spawn too, up to
/// three deep: a plain "not while logging" flag would hide the records
/// logged from inside the library's own initialisation, which the first
/// spawn's own records start.
struct SpawningLogger;

impl log::Log for SpawningLogger {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }

    fn log(&self, record: &log::Record) {
        let from_stacks = record.target().starts_with("greenlet::stack");
        if !from_stacks || !SPAWN_FROM_LOGS.with(Cell::get) {
            return;
        }
        let depth = LOG_DEPTH.with(|d| d.replace(d.get() + 1));
        if depth < 3 {
            drop(greenlet::spawn(|| ())); // detached: runs at the next switch
        }
        LOG_DEPTH.with(|d| d.set(depth));
    }

    fn flush(&self) {}
}

/// A logger that spawns greenlets from inside the library's own logging
/// (which the first spawn of the process does: the guard probe, the
/// overflow handler's installation, the first region) must not hang it.
#[test]
fn a_logger_that_spawns_greenlets_does_not_hang_the_first_spawn() {
    const TEST: &str = "a_logger_that_spawns_greenlets_does_not_hang_the_first_spawn";
    if util::is_child() {
        static LOGGER: SpawningLogger = SpawningLogger;
        log::set_logger(&LOGGER).expect("the child's only logger");
        log::set_max_level(log::LevelFilter::Debug);
        SPAWN_FROM_LOGS.with(|s| s.set(true));
        let g = greenlet::spawn(|| 7);
        assert_eq!(g.join().unwrap(), 7);
        println!("spawned and joined");
        return;
    }
    assert_child_finishes(TEST, "spawned and joined");
}

/// How many records [`PanicOnHelperLogger`] got from the stack helper.
static HELPER_RECORDS: AtomicUsize = AtomicUsize::new(0);

/// A logger that panics when the stack helper thread logs.
struct PanicOnHelperLogger;

impl log::Log for PanicOnHelperLogger {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }

    fn log(&self, record: &log::Record) {
        if std::thread::current().name() == Some("greenlet-stacks") {
            HELPER_RECORDS.fetch_add(1, Ordering::Relaxed);
            panic!("a logger that panics on {:?}", record.args());
        }
    }

    fn flush(&self) {}
}

/// A logger that panics on the stack helper thread (here when the kernel
/// refuses to prefault) neither kills the helper nor strands the batch it
/// was working on: the burst completes, and the helper serves the next.
#[test]
fn a_panicking_logger_does_not_stop_the_stack_helper() {
    const TEST: &str = "a_panicking_logger_does_not_stop_the_stack_helper";
    if util::is_child() {
        static LOGGER: PanicOnHelperLogger = PanicOnHelperLogger;
        log::set_logger(&LOGGER).expect("the child's only logger");
        log::set_max_level(log::LevelFilter::Debug);
        greenlet::__private::refuse_populate(1);
        burst(5_000); // the helper's first prefault fails, and it logs
        let logged = HELPER_RECORDS.load(Ordering::Relaxed);
        assert!(logged >= 1, "the helper logged the refusal");
        burst(5_000); // waits for the batches released after the first
        let threads = thread_names();
        assert!(
            threads.iter().any(|n| n == "greenlet-stacks"),
            "the helper lives on: {threads:?}"
        );
        println!("two bursts done, {logged} record(s) from the helper");
        return;
    }
    assert_child_finishes(TEST, "two bursts done");
}

/// The page size the stacks are laid out in.
const PAGE: usize = 4096;

/// Whether `address` lies in one of this process's mappings.
fn is_mapped(address: usize) -> bool {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("/proc/self/maps");
    maps.lines().any(|line| {
        let range = line.split(' ').next().unwrap_or_default();
        let (low, high) = range.split_once('-').unwrap_or_default();
        let low = usize::from_str_radix(low, 16).unwrap_or(usize::MAX);
        let high = usize::from_str_radix(high, 16).unwrap_or(0);
        (low..high).contains(&address)
    })
}

/// A wild write into the guard page of a stack of *another* thread is a
/// plain SIGSEGV, not an overflow of the greenlet that made it.
#[test]
fn a_fault_in_another_threads_guard_is_not_reported_as_an_overflow() {
    const TEST: &str = "a_fault_in_another_threads_guard_is_not_reported_as_an_overflow";
    if util::is_child() {
        let (guard_tx, guard_rx) = std::sync::mpsc::channel::<usize>();
        let (_keep_tx, keep_rx) = std::sync::mpsc::channel::<()>();
        // Thread A: a greenlet that publishes its stack's guard page and
        // stays alive (blocking its thread) until the process dies.
        std::thread::spawn(move || {
            let g = Builder::new()
                .name("owner")
                .stack_size(MIN_STACK_SIZE)
                .spawn(move || {
                    let local = 0u8;
                    let here = std::hint::black_box(&local) as *const u8 as usize;
                    // The body's first frames lie in the top page of the
                    // slot, so its top is the first page boundary above
                    // them; the guard is the slot's lowest page, one
                    // stride (usable size and guard) below its top.
                    let top = (here / PAGE + 1) * PAGE;
                    guard_tx.send(top - (MIN_STACK_SIZE + PAGE)).unwrap();
                    let _ = keep_rx.recv();
                })
                .unwrap();
            let _ = g.join();
        });
        let guard = guard_rx.recv().expect("thread A's guard page");
        assert!(is_mapped(guard), "{guard:#x} is in A's region");
        // Thread B (this one), inside a greenlet of its own.
        let g = Builder::new()
            .name("wild")
            .stack_size(MIN_STACK_SIZE)
            .spawn(move || {
                // SAFETY: writes into thread A's guard page on purpose; the
                // process dies of it.
                unsafe { std::ptr::write_volatile(guard as *mut u8, 1) };
            })
            .unwrap();
        let _ = g.join();
        println!("the child survived its fault");
        return;
    }
    let run = util::run_child(TEST, Duration::from_secs(60));
    assert_eq!(run.signal(), Some(libc::SIGSEGV), "{run}");
    assert!(!run.stderr.contains("has overflowed"), "{run}");
}

/// What the handler installed before ours saw while it ran, as the exit
/// code of the child: 40, plus 1 if SIGUSR1 was blocked, 2 if SIGSEGV's
/// action was the default, 4 if SIGSEGV was blocked.
extern "C" fn previous_handler(_: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: queries this thread's signal mask and SIGSEGV's action into
    // zeroed values, then ends the process, all async-signal-safe.
    unsafe {
        let mut mask: libc::sigset_t = std::mem::zeroed();
        libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut mask);
        let mut action: libc::sigaction = std::mem::zeroed();
        libc::sigaction(libc::SIGSEGV, std::ptr::null(), &mut action);
        let usr1 = libc::sigismember(&mask, libc::SIGUSR1) == 1;
        let reset = action.sa_sigaction == libc::SIG_DFL;
        let segv = libc::sigismember(&mask, libc::SIGSEGV) == 1;
        libc::_exit(40 + i32::from(usr1) + 2 * i32::from(reset) + 4 * i32::from(segv));
    }
}

/// In a child: installs [`previous_handler`] for SIGSEGV with `flags` (and
/// SIGUSR1 in its mask if `mask_usr1`) before any stack exists, then ours
/// (with the first greenlet), then raises a SIGSEGV that is no fault, for
/// ours to pass on. In the parent: returns the child's exit code.
fn previous_handler_sees(test: &str, flags: libc::c_int, mask_usr1: bool) -> Option<i32> {
    if util::is_child() {
        // SAFETY: installs `previous_handler`, which is async-signal-safe.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = previous_handler as *const () as libc::sighandler_t;
            action.sa_flags = libc::SA_SIGINFO | flags;
            libc::sigemptyset(&mut action.sa_mask);
            if mask_usr1 {
                libc::sigaddset(&mut action.sa_mask, libc::SIGUSR1);
            }
            assert_eq!(
                libc::sigaction(libc::SIGSEGV, &action, std::ptr::null_mut()),
                0
            );
        }
        greenlet::spawn(|| ()).join().unwrap(); // installs ours, chaining
        // SAFETY: a SIGSEGV that is no fault, for the handlers to pass on.
        unsafe { libc::raise(libc::SIGSEGV) };
        println!("the child survived its signal");
        return None;
    }
    Some(util::run_child(test, Duration::from_secs(60)).code())
}

/// A signal that is not ours reaches the previous handler as the kernel
/// would have delivered it: with its `sa_mask` and the signal blocked, and
/// its action reset to the default first when it asked for `SA_RESETHAND`.
#[test]
fn the_previous_handler_runs_with_its_mask_and_reset() {
    const TEST: &str = "the_previous_handler_runs_with_its_mask_and_reset";
    if let Some(code) = previous_handler_sees(TEST, libc::SA_RESETHAND, true) {
        assert_eq!(code, 40 + 1 + 2 + 4, "SIGUSR1 and SIGSEGV blocked, reset");
    }
}

/// With `SA_NODEFER`, the previous handler runs with its signal unblocked.
#[test]
fn the_previous_handler_runs_unblocked_for_sa_nodefer() {
    const TEST: &str = "the_previous_handler_runs_unblocked_for_sa_nodefer";
    if let Some(code) = previous_handler_sees(TEST, libc::SA_NODEFER, false) {
        assert_eq!(code, 40, "nothing blocked, the action kept");
    }
}
