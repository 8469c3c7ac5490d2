//! The blocking monitor: a watchdog thread that warns when a greenlet holds
//! its hub too long without switching (gevent's `max_blocking_time`).
//!
//! A greenlet that computes for a long time, or calls a blocking function
//! that is not green (a std socket, `std::thread::sleep`, a mutex held by
//! another thread), stops every other greenlet of its thread. Turn the
//! monitor on with [`set_max_blocking_time`], and each such episode is
//! logged once with `log::warn!`, naming the greenlet and how long it has
//! held the hub so far:
//!
//! ```text
//! greenlet: greenlet 'parser' (id 7) has held the hub of thread 'main' for 212 ms without switching (limit 100 ms)
//! ```
//!
//! # Implementation notes
//!
//! Each hub publishes, on every switch to a greenlet, one word into a slot
//! the watchdog can read: the greenlet's id and the low bits of its wait id,
//! which change on every switch. That is a single relaxed store on the switch
//! path, made whether or not the monitor is on (a branch would cost as much).
//! While the hub waits for I/O or timers, or runs the main context, the slot
//! says *idle*: only greenlets are watched. The watchdog samples every slot
//! four times per limit; a slot that keeps one value for longer than the
//! limit is an episode. Names of greenlets spawned while the monitor is on
//! are known to it; others are named by id.
//!
//! The application's logger runs on the watchdog thread. Each warning is
//! formatted before it is logged, with no lock of the monitor held, and a
//! panic in the logger is caught: the watchdog lives on, and later episodes
//! are still reported.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// The slot value of a hub that runs no greenlet.
const IDLE: u64 = 0;
/// Bits of a slot that hold the greenlet's id (its low bits); the wait id
/// is shifted past them.
const ID_BITS: u32 = 40;

/// One hub's slot.
#[derive(Debug)]
pub(crate) struct Watch {
    beat: AtomicU64,
    in_use: AtomicBool,
    /// The hub's thread, for messages.
    thread: Mutex<String>,
    /// Named greenlets spawned on this hub while the monitor is on.
    names: Mutex<Vec<(u64, String)>>,
}

impl Watch {
    const fn new() -> Self {
        Watch {
            beat: AtomicU64::new(IDLE),
            in_use: AtomicBool::new(false),
            thread: Mutex::new(String::new()),
            names: Mutex::new(Vec::new()),
        }
    }

    /// Publishes that the greenlet `id` is about to run, woken with wait id
    /// `wait`: the whole cost of the monitor on the switch path.
    #[inline(always)]
    pub(crate) fn running(&self, id: u64, wait: u64) {
        // The shift drops all but the low 24 bits of the wait id, which
        // change on every switch, and the exclusive or keeps every change of
        // them a change of the beat, whatever the id: one instruction fewer
        // than masking.
        let beat = wait.wrapping_shl(ID_BITS) ^ id;
        self.beat.store(beat, Ordering::Relaxed);
    }

    /// Publishes that the hub runs no greenlet.
    #[inline]
    pub(crate) fn idle(&self) {
        self.beat.store(IDLE, Ordering::Relaxed);
    }

    /// Remembers the name of a greenlet spawned on this hub, if the monitor
    /// is on.
    pub(crate) fn named(&self, id: u64, name: &str) {
        if LIMIT_MS.load(Ordering::Relaxed) != 0 {
            lock(&self.names).push((id, name.to_owned()));
        }
    }

    /// Forgets the name of a finished greenlet.
    pub(crate) fn forget(&self, id: u64) {
        let mut names = lock(&self.names);
        if let Some(i) = names.iter().position(|&(n, _)| n == id) {
            names.swap_remove(i);
        }
    }

    fn describe(&self, id: u64) -> String {
        match lock(&self.names).iter().find(|&&(n, _)| n == id) {
            Some((_, name)) => format!("greenlet '{name}' (id {id})"),
            None => format!("greenlet {id}"),
        }
    }
}

/// The slot of hubs that have not registered (a hub registers on first use).
pub(crate) static UNWATCHED: Watch = Watch::new();

/// Every slot ever handed out: a thread's slot is recycled after it exits.
static WATCHES: Mutex<Vec<&'static Watch>> = Mutex::new(Vec::new());

/// The limit in milliseconds; 0 when the monitor is off.
static LIMIT_MS: AtomicU64 = AtomicU64::new(0);
static WATCHDOG_STARTED: AtomicBool = AtomicBool::new(false);

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves valid data behind.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A slot for the calling thread's hub, from the slots of exited threads or
/// a new one.
pub(crate) fn register() -> &'static Watch {
    let mut watches = lock(&WATCHES);
    let watch = match watches.iter().find(|w| !w.in_use.load(Ordering::Relaxed)) {
        Some(&watch) => watch,
        None => {
            // Kept for the life of the process (and recycled), so that the
            // watchdog can read it without synchronising with thread exit.
            let watch: &'static Watch = Box::leak(Box::new(Watch::new()));
            watches.push(watch);
            watch
        }
    };
    watch.in_use.store(true, Ordering::Relaxed);
    watch.idle();
    *lock(&watch.thread) = std::thread::current().name().map_or_else(
        || format!("{:?}", std::thread::current().id()),
        String::from,
    );
    watch
}

/// Gives back the slot of a hub whose thread is exiting.
pub(crate) fn unregister(watch: &'static Watch) {
    if std::ptr::eq(watch, &UNWATCHED) {
        return;
    }
    watch.idle();
    lock(&watch.names).clear();
    let _watches = lock(&WATCHES); // not handed out again while it is cleared
    watch.in_use.store(false, Ordering::Relaxed);
}

/// Turns the blocking monitor on, with `limit` as the longest time a
/// greenlet may hold its hub without switching, or off with
/// `Duration::ZERO`. Off by default.
///
/// The first call that turns it on starts the watchdog thread, which then
/// lives as long as the process. Each greenlet that holds its hub longer
/// than `limit` is reported once per episode with `log::warn!`. The main
/// context is not watched.
///
/// # Panics
///
/// Panics if the watchdog thread cannot be started.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// greenlet::monitor::set_max_blocking_time(Duration::from_millis(100));
/// assert_eq!(greenlet::monitor::max_blocking_time(), Some(Duration::from_millis(100)));
/// greenlet::monitor::set_max_blocking_time(Duration::ZERO); // off again
/// assert_eq!(greenlet::monitor::max_blocking_time(), None);
/// ```
#[track_caller]
pub fn set_max_blocking_time(limit: Duration) {
    let ms = u64::try_from(limit.as_millis()).unwrap_or(u64::MAX);
    let ms = if limit.is_zero() { 0 } else { ms.max(1) };
    LIMIT_MS.store(ms, Ordering::Relaxed);
    if ms != 0 && !WATCHDOG_STARTED.swap(true, Ordering::Relaxed) {
        std::thread::Builder::new()
            .name("greenlet-monitor".into())
            .spawn(watchdog)
            .expect("greenlet: cannot start the blocking monitor's thread");
    }
}

/// The limit set with [`set_max_blocking_time`], or `None` while the monitor
/// is off.
///
/// # Examples
///
/// ```
/// assert_eq!(greenlet::monitor::max_blocking_time(), None);
/// ```
pub fn max_blocking_time() -> Option<Duration> {
    match LIMIT_MS.load(Ordering::Relaxed) {
        0 => None,
        ms => Some(Duration::from_millis(ms)),
    }
}

/// What the watchdog last saw in one slot.
#[derive(Clone, Copy)]
struct Seen {
    beat: u64,
    since: Instant,
    reported: bool,
}

fn watchdog() {
    let mut seen: Vec<Option<Seen>> = Vec::new();
    loop {
        let limit = match LIMIT_MS.load(Ordering::Relaxed) {
            0 => {
                seen.clear();
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
            ms => Duration::from_millis(ms),
        };
        std::thread::sleep(limit / 4);
        let watches: Vec<&'static Watch> = lock(&WATCHES).clone();
        seen.resize(watches.len(), None);
        let now = Instant::now();
        for (watch, seen) in watches.iter().zip(&mut seen) {
            let beat = watch.beat.load(Ordering::Relaxed);
            match seen {
                Some(s) if s.beat == beat => {
                    let held = now - s.since;
                    if beat != IDLE && !s.reported && held >= limit {
                        s.reported = true;
                        report(watch, beat & ((1 << ID_BITS) - 1), held, limit);
                    }
                }
                _ => {
                    *seen = Some(Seen {
                        beat,
                        since: now,
                        reported: false,
                    })
                }
            }
        }
    }
}

/// Logs an episode. The message is formatted first and logged with no lock
/// held, as the logger may take them again (spawning a greenlet registers a
/// hub); a panic in the logger is caught, so that the watchdog lives on and
/// reports the next episodes.
fn report(watch: &Watch, id: u64, held: Duration, limit: Duration) {
    let thread = lock(&watch.thread).clone();
    let message = format!(
        "greenlet: {} has held the hub of thread '{thread}' for {} ms without switching (limit {} ms)",
        watch.describe(id),
        held.as_millis(),
        limit.as_millis()
    );
    if let Err(payload) = std::panic::catch_unwind(|| log::warn!("{message}")) {
        // The panic hook has reported it. Dropping the payload could panic
        // again (a payload with a panicking `Drop`): leaking one box per
        // panic is the smaller risk.
        std::mem::forget(payload);
    }
}
