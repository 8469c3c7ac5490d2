//! The blocking monitor: one warning per episode of a greenlet holding its
//! hub too long, naming it; none for a hub that switches or waits.

mod util;

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
