//! The blocking monitor: one warning per episode of a greenlet holding its
//! hub too long, naming it and where it last blocked, and one more when the
//! episode ends, with its length; none for a hub that switches or waits.

mod util;

use std::cell::Cell;
use std::rc::Rc;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use util::{capture_logs, logged};

/// The limit is the process's: the tests that set it take turns.
static MONITOR: Mutex<()> = Mutex::new(());

fn monitor_on(limit: Duration) -> MutexGuard<'static, ()> {
    let guard = MONITOR.lock().unwrap_or_else(PoisonError::into_inner);
    capture_logs();
    greenlet::monitor::set_max_blocking_time(limit);
    guard
}

/// Busy-loops (without switching) for `d`.
fn spin_for(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

#[test]
fn a_greenlet_that_holds_the_hub_is_reported_once_by_name() {
    let _on = monitor_on(Duration::from_millis(100));

    // A hub that switches every millisecond, and one that waits idle, for
    // three limits each: no warning.
    let busy_but_fair = greenlet::Builder::new()
        .name("fair")
        .spawn(|| {
            for _ in 0..300 {
                spin_for(Duration::from_millis(1));
                greenlet::yield_now();
            }
        })
        .unwrap();
    let other = greenlet::spawn(|| {
        for _ in 0..300 {
            greenlet::yield_now();
        }
    });
    busy_but_fair.join().unwrap();
    other.join().unwrap();
    let sleeper = greenlet::Builder::new()
        .name("sleeper")
        .spawn(|| greenlet::sleep(Duration::from_millis(300)))
        .unwrap();
    sleeper.join().unwrap();

    // A hog: three limits without switching, one episode.
    let hog = greenlet::Builder::new()
        .name("hog")
        .spawn(|| spin_for(Duration::from_millis(300)))
        .unwrap();
    let hog_id = hog.id();
    hog.join().unwrap();
    // The watchdog (sampling every 25 ms) ends the episode once it has run
    // after it: wait a bounded while for that record, then check that the
    // hog was warned of once.
    let end = wait_for_warning("greenlet 'hog'", "in all");
    assert!(end.is_some(), "the end of the hog's episode is logged");

    let warnings = logged(log::Level::Warn, "has held the hub");
    let hog_warnings: Vec<_> = warnings
        .iter()
        .filter(|w| w.contains("greenlet 'hog'"))
        .collect();
    assert_eq!(
        hog_warnings.len(),
        1,
        "one warning for the hog: {warnings:?}"
    );
    assert!(
        hog_warnings[0].contains(&format!("(id {hog_id})"))
            && hog_warnings[0].contains("limit 100 ms"),
        "{}",
        hog_warnings[0]
    );
    assert!(
        warnings
            .iter()
            .all(|w| !w.contains("'fair'") && !w.contains("'sleeper'")),
        "no warning for a hub that switches or waits: {warnings:?}"
    );

    greenlet::monitor::set_max_blocking_time(Duration::ZERO);
    assert_eq!(greenlet::monitor::max_blocking_time(), None);
}

/// The first warning that contains both `who` and `what`, waited for up to
/// 10 s.
fn wait_for_warning(who: &str, what: &str) -> Option<String> {
    let start = Instant::now();
    loop {
        let found = logged(log::Level::Warn, who)
            .into_iter()
            .find(|w| w.contains(what));
        if found.is_some() || start.elapsed() > Duration::from_secs(10) {
            return found;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Blocks the thread (no switch) for at least `at_least`, and on until the
/// monitor has warned of `who` or 10 s have passed, so that a watchdog
/// slowed by a loaded machine still sees it.
fn stall(who: &str, at_least: Duration) {
    let start = Instant::now();
    while start.elapsed() < at_least
        || (logged(log::Level::Warn, who).is_empty() && start.elapsed() < Duration::from_secs(10))
    {
        block_thread(Duration::from_millis(10));
    }
}

/// Sleeps the thread with the system call itself: a blocking call the
/// library does not see, with or without the `patch` feature (which makes
/// `std::thread::sleep` in a greenlet switch instead).
fn block_thread(d: Duration) {
    let ts = libc::timespec {
        tv_sec: d.as_secs() as libc::time_t,
        tv_nsec: d.subsec_nanos() as libc::c_long,
    };
    // SAFETY: a valid timespec, and no remainder wanted.
    unsafe {
        libc::syscall(
            libc::SYS_nanosleep,
            &ts,
            std::ptr::null_mut::<libc::timespec>(),
        )
    };
}

/// The length in ms an end-of-episode record reports.
fn length_ms(end: &str) -> u128 {
    let (before, _) = end.split_once(" ms in all").expect("a length");
    before
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .expect("a number of ms")
}

#[test]
fn the_warning_and_the_end_name_the_last_blocking_call() {
    let _on = monitor_on(Duration::from_millis(100));
    let stalled = greenlet::Builder::new()
        .name("sleeps-then-stalls")
        .spawn(|| {
            let line = (line!(), greenlet::sleep(Duration::from_millis(1))).0;
            stall("greenlet 'sleeps-then-stalls'", Duration::from_millis(300));
            line
        })
        .unwrap();
    let id = stalled.id();
    let line = stalled.join().unwrap();
    let place = format!("it last blocked at tests/monitor.rs:{line}:");

    let warning = wait_for_warning("greenlet 'sleeps-then-stalls'", "has held the hub")
        .expect("a warning while it stalls");
    assert!(
        warning.contains(&format!("(id {id})")) && warning.contains(&place),
        "{warning}"
    );
    let end = wait_for_warning("greenlet 'sleeps-then-stalls'", "in all")
        .expect("a record once the episode ends");
    assert!(
        end.contains(&format!("(id {id}) held the hub of thread"))
            && end.contains("limit 100 ms, sampled every 25 ms")
            && end.contains(&place),
        "{end}"
    );
    assert!(length_ms(&end) >= 100, "at least the limit: {end}");
}

/// Stalls before any blocking call, and returns `line`.
fn stalls_at_start(line: u32) -> u32 {
    stall("greenlet 'stalls-at-start'", Duration::from_millis(300));
    line
}

#[test]
fn a_greenlet_that_stalls_at_its_start_is_placed_at_its_spawn_site() {
    let _on = monitor_on(Duration::from_millis(100));
    let stalled = greenlet::Builder::new()
        .name("stalls-at-start")
        .spawn(|| stalls_at_start(line!()))
        .unwrap();
    let line = stalled.join().unwrap();
    let place = format!("it has not blocked since it was spawned at tests/monitor.rs:{line}:");

    let warning = wait_for_warning("greenlet 'stalls-at-start'", "has held the hub")
        .expect("a warning while it stalls");
    assert!(warning.contains(&place), "{warning}");
    let end = wait_for_warning("greenlet 'stalls-at-start'", "in all")
        .expect("a record once the episode ends");
    assert!(end.contains(&place) && length_ms(&end) >= 100, "{end}");
}

/// `yield_now` publishes no place: a greenlet resumed from one after another
/// greenlet has blocked is not given that one's place.
#[test]
fn a_greenlet_resumed_from_yield_now_is_not_given_another_ones_place() {
    let _on = monitor_on(Duration::from_millis(100));
    let other_resumed = Rc::new(Cell::new(false));
    let flag = other_resumed.clone();
    let other = greenlet::spawn(move || {
        greenlet::sleep(Duration::from_millis(5));
        flag.set(true);
    });
    let stalled = greenlet::Builder::new()
        .name("yields-then-stalls")
        .spawn(move || {
            greenlet::sleep(Duration::from_millis(1));
            for _ in 0..1_000_000 {
                if other_resumed.get() {
                    break;
                }
                greenlet::yield_now();
            }
            stall("greenlet 'yields-then-stalls'", Duration::from_millis(300));
        })
        .unwrap();
    stalled.join().unwrap();
    other.join().unwrap();

    let warning = wait_for_warning("greenlet 'yields-then-stalls'", "has held the hub")
        .expect("a warning while it stalls");
    assert!(
        warning.ends_with("; it was resumed from a yield_now"),
        "{warning}"
    );
}

/// The watchdog's warnings that open an episode, as [`PanicOnFirstWarning`]
/// got them.
static WARNINGS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// A logger that keeps the watchdog's warnings and panics on the first.
struct PanicOnFirstWarning;

impl log::Log for PanicOnFirstWarning {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }

    fn log(&self, record: &log::Record) {
        let from_watchdog = std::thread::current().name() == Some("greenlet-monitor");
        let message = record.args().to_string();
        if record.level() != log::Level::Warn || !from_watchdog || !message.contains("has held") {
            return;
        }
        let first = {
            let mut warnings = WARNINGS.lock().unwrap();
            warnings.push(message);
            warnings.len() == 1
        };
        if first {
            panic!("a logger that panics on the first warning");
        }
    }

    fn flush(&self) {}
}

/// Holds the hub without switching until the watchdog has warned `n` times
/// in all, or 10 s have passed.
fn hog_until_warned(name: &str, n: usize) {
    let hog = greenlet::Builder::new()
        .name(name)
        .spawn(move || {
            let start = Instant::now();
            while WARNINGS.lock().unwrap().len() < n && start.elapsed() < Duration::from_secs(10) {
                spin_for(Duration::from_millis(1));
            }
        })
        .unwrap();
    hog.join().unwrap();
}

/// A logger that panics on the watchdog thread does not kill it: the next
/// episode is still reported.
#[test]
fn a_panicking_logger_does_not_stop_the_monitor() {
    const TEST: &str = "a_panicking_logger_does_not_stop_the_monitor";
    if util::is_child() {
        static LOGGER: PanicOnFirstWarning = PanicOnFirstWarning;
        log::set_logger(&LOGGER).expect("the child's only logger");
        log::set_max_level(log::LevelFilter::Warn);
        greenlet::monitor::set_max_blocking_time(Duration::from_millis(50));
        hog_until_warned("first", 1);
        hog_until_warned("second", 2);
        let warnings = WARNINGS.lock().unwrap().clone();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("greenlet 'first'"), "{warnings:?}");
        assert!(warnings[1].contains("greenlet 'second'"), "{warnings:?}");
        println!("both episodes reported: {warnings:?}");
        return;
    }
    util::assert_child_passes(TEST, Duration::from_secs(60), "both episodes reported");
}
