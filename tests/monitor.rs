//! The blocking monitor: one warning per episode of a greenlet holding its
//! hub too long, naming it; none for a hub that switches or waits.

mod util;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use util::{capture_logs, logged};

/// Busy-loops (without switching) for `d`.
fn spin_for(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

#[test]
fn a_greenlet_that_holds_the_hub_is_reported_once_by_name() {
    capture_logs();
    greenlet::monitor::set_max_blocking_time(Duration::from_millis(100));

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
    // Give the watchdog (sampling every 25 ms) a bounded while to have run
    // after the episode, then check: it names the hog, once.
    std::thread::sleep(Duration::from_millis(100));

    let warnings = logged(log::Level::Warn, "has held the hub");
    assert_eq!(
        logged(log::Level::Warn, "greenlet 'hog'").len(),
        1,
        "one warning for the hog: {warnings:?}"
    );
    let hog_warning = &logged(log::Level::Warn, "greenlet 'hog'")[0];
    assert!(
        hog_warning.contains(&format!("(id {hog_id})")) && hog_warning.contains("limit 100 ms"),
        "{hog_warning}"
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

/// The watchdog's warnings, as [`PanicOnFirstWarning`] got them.
static WARNINGS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// A logger that keeps the watchdog's warnings and panics on the first.
struct PanicOnFirstWarning;

impl log::Log for PanicOnFirstWarning {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }

    fn log(&self, record: &log::Record) {
        let from_watchdog = std::thread::current().name() == Some("greenlet-monitor");
        if record.level() != log::Level::Warn || !from_watchdog {
            return;
        }
        let first = {
            let mut warnings = WARNINGS.lock().unwrap();
            warnings.push(record.args().to_string());
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
