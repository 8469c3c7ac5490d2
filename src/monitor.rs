//! The blocking monitor: a watchdog thread that warns when a greenlet holds
//! its hub too long without switching (gevent's `max_blocking_time`).
//!
//! A greenlet that computes for a long time, or calls a blocking function
//! that is not green (a std socket, `std::thread::sleep`, a mutex held by
//! another thread), stops every other greenlet of its thread. Turn the
//! monitor on with [`set_max_blocking_time`], and each such episode is
//! logged with `log::warn!` twice: once when it crosses the limit, naming the
//! greenlet, how long it has held the hub so far and where it last blocked
//! (the call it was resumed from, such as a green `sleep` or a socket's
//! `read`), and once when it ends, with its full length:
//!
//! ```text
//! greenlet: greenlet 'parser' (id 7) has held the hub of thread 'main' for 112 ms without switching (limit 100 ms); it last blocked at src/parse.rs:10:5
//! greenlet: greenlet 'parser' (id 7) held the hub of thread 'main' for 1204 ms in all without switching (limit 100 ms, sampled every 25 ms); it last blocked at src/parse.rs:10:5
//! ```
//!
//! The place is the blocking call the greenlet was resumed from: the code
//! that holds the hub runs after it. A greenlet that has not blocked since
//! it started is placed at its spawn site (`it has not blocked since it was
//! spawned at src/main.rs:3:13`). [`yield_now`](crate::yield_now) records no
//! place (it is the hot path): a greenlet resumed from one keeps the place
//! of its last blocking call (or its spawn site), unless another greenlet of
//! its hub has been resumed from a blocking call or started since; then it
//! is said to be `resumed from a yield_now`, with no place.
//!
//! The length is measured at the watchdog's resolution: it samples four
//! times per limit, so both the moment an episode is seen to begin and the
//! moment it is seen to end are late by up to a quarter of the limit (the
//! `sampled every` figure; more on a loaded machine), and the length may be
//! off by that much either way. It is never less than the limit. An episode
//! still under way when the monitor is turned off gets no second record.
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
//! limit is an episode; the first sample that finds the slot changed ends
//! it. Names of greenlets spawned while the monitor is on are known to it;
//! others are named by id.
//!
//! The place is published into the slot too, by the greenlet itself, with
//! its id, so that the watchdog can tell whose place it is: when it starts
//! (its spawn site) and each time it is resumed from a blocking call (the
//! call's `#[track_caller]` location, see `block_until`). That is two more
//! relaxed stores on that path, and none on the switch of `yield_now`. The
//! greenlet reaches the slot through a thread-local set when its hub
//! registers, without borrowing the hub.
//!
//! The application's logger runs on the watchdog thread. Each warning is
//! formatted before it is logged, with no lock of the monitor held, and a
//! panic in the logger is caught: the watchdog lives on, and later episodes
//! are still reported.

use std::cell::Cell;
use std::panic::Location;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// The slot value of a hub that runs no greenlet.
const IDLE: u64 = 0;
/// Bits of a slot that hold the greenlet's id (its low bits); the wait id
/// is shifted past them.
const ID_BITS: u32 = 40;
/// The greenlet id's bits of a slot.
const ID_MASK: u64 = (1 << ID_BITS) - 1;
/// Set in [`Watch::at_id`] when the place is the greenlet's spawn site.
const SPAWN_SITE: u64 = 1 << 63;

/// One hub's slot.
#[derive(Debug)]
pub(crate) struct Watch {
    beat: AtomicU64,
    /// Where the greenlet [`at_id`](Self::at_id) names last blocked, or was
    /// spawned.
    ///
    /// # Invariant
    ///
    /// Null, or made from a `&'static Location<'static>`: [`register`]
    /// stores null, and [`Watch::publish`] its location.
    at: AtomicPtr<Location<'static>>,
    /// The id of the greenlet that published `at`, with [`SPAWN_SITE`] set
    /// when `at` is its spawn site.
    at_id: AtomicU64,
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
            at: AtomicPtr::new(ptr::null_mut()),
            at_id: AtomicU64::new(0),
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

    /// Publishes that the greenlet `id` (with [`SPAWN_SITE`] if `at` is its
    /// spawn site) runs from `at` on.
    #[inline(always)]
    fn publish(&self, id: u64, at: &'static Location<'static>) {
        // Stored before the id, though nothing orders them: the watchdog
        // reads the two only once the slot has held still for the limit, and
        // a mixed pair would name a wrong place, never an invalid one.
        self.at
            .store(ptr::from_ref(at).cast_mut(), Ordering::Relaxed);
        self.at_id.store(id, Ordering::Relaxed);
    }

    /// Where the greenlet `id` (its low [`ID_BITS`]) runs from, as far as the
    /// slot knows.
    fn place(&self, id: u64) -> Place {
        let at_id = self.at_id.load(Ordering::Relaxed);
        let at = self.at.load(Ordering::Relaxed);
        if at.is_null() || at_id & ID_MASK != id {
            return Place::Yielded;
        }
        // SAFETY: by the invariant of `at`, a non-null pointer was made from
        // a `&'static Location<'static>`, which lives for ever and is never
        // written (shared across threads like any `'static` shared data).
        let at: &'static Location<'static> = unsafe { &*at };
        if at_id & SPAWN_SITE != 0 {
            Place::Spawned(at)
        } else {
            Place::Blocked(at)
        }
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

thread_local! {
    /// The slot of this thread's hub, for its greenlets to publish their
    /// place in without borrowing the hub: set by [`register`], and back to
    /// [`UNWATCHED`] (never watched) by [`unregister`].
    static SLOT: Cell<&'static Watch> = const { Cell::new(&UNWATCHED) };
}

/// Where a greenlet that holds its hub runs from.
#[derive(Clone, Copy, Debug)]
enum Place {
    /// It was resumed from the blocking call made here.
    Blocked(&'static Location<'static>),
    /// It has not blocked since it was spawned here.
    Spawned(&'static Location<'static>),
    /// It was resumed from a `yield_now`, and another greenlet has published
    /// its place since this one last did: its place is not known.
    Yielded,
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Place::Blocked(at) => write!(f, "it last blocked at {at}"),
            Place::Spawned(at) => write!(f, "it has not blocked since it was spawned at {at}"),
            Place::Yielded => f.write_str("it was resumed from a yield_now"),
        }
    }
}

/// Publishes, for the blocking monitor, that the running greenlet `id` of
/// this thread has been resumed from the blocking call made `at`: a
/// thread-local read and two relaxed stores.
#[inline(always)]
pub(crate) fn resumed_from(id: u64, at: &'static Location<'static>) {
    SLOT.with(|slot| slot.get().publish(id, at));
}

/// Publishes, for the blocking monitor, that the greenlet `id` of this
/// thread starts, spawned `at`.
#[inline]
pub(crate) fn starting(id: u64, spawned_at: &'static Location<'static>) {
    SLOT.with(|slot| slot.get().publish(id | SPAWN_SITE, spawned_at));
}

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
    // No place of the slot's former thread is taken for one of this thread.
    watch.at.store(ptr::null_mut(), Ordering::Relaxed);
    SLOT.with(|slot| slot.set(watch));
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
    SLOT.with(|slot| slot.set(&UNWATCHED));
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
/// than `limit` is reported with `log::warn!` when it crosses the limit and
/// once more when the episode ends, with its length and where the greenlet
/// last blocked (see the [module's docs](self)). The main context is not
/// watched.
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
struct Seen {
    beat: u64,
    /// The first sample that saw `beat`.
    since: Instant,
    /// The episode reported for `beat`, to end once the slot changes.
    episode: Option<Episode>,
}

/// An episode that has been warned of, as it was then: its greenlet may
/// have finished, and its name been forgotten, by the time it ends.
struct Episode {
    who: String,
    thread: String,
    place: Place,
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
        seen.resize_with(watches.len(), || None);
        let now = Instant::now();
        for (watch, seen) in watches.iter().zip(&mut seen) {
            let beat = watch.beat.load(Ordering::Relaxed);
            match seen {
                Some(s) if s.beat == beat => {
                    let held = now - s.since;
                    if beat != IDLE && s.episode.is_none() && held >= limit {
                        let id = beat & ID_MASK;
                        let episode = Episode {
                            who: watch.describe(id),
                            thread: lock(&watch.thread).clone(),
                            place: watch.place(id),
                        };
                        log_start(&episode, held, limit);
                        s.episode = Some(episode);
                    }
                }
                _ => {
                    let old = seen.replace(Seen {
                        beat,
                        since: now,
                        episode: None,
                    });
                    if let Some(Seen {
                        since,
                        episode: Some(episode),
                        ..
                    }) = old
                    {
                        log_end(&episode, now - since, limit);
                    }
                }
            }
        }
    }
}

/// Logs an episode that has lasted `held` so far, as it crosses the limit.
fn log_start(episode: &Episode, held: Duration, limit: Duration) {
    log_warning(&format!(
        "greenlet: {} has held the hub of thread '{}' for {} ms without switching \
         (limit {} ms); {}",
        episode.who,
        episode.thread,
        held.as_millis(),
        limit.as_millis(),
        episode.place
    ));
}

/// Logs the end of an episode that lasted `held` (as sampled, see the
/// module's docs).
fn log_end(episode: &Episode, held: Duration, limit: Duration) {
    log_warning(&format!(
        "greenlet: {} held the hub of thread '{}' for {} ms in all without switching \
         (limit {} ms, sampled every {} ms); {}",
        episode.who,
        episode.thread,
        held.as_millis(),
        limit.as_millis(),
        (limit / 4).as_millis(),
        episode.place
    ));
}

/// Logs a message of the watchdog, formatted before with no lock held, as
/// the logger may take them again (spawning a greenlet registers a hub). A
/// panic in the logger is caught, so that the watchdog lives on and reports
/// the next episodes.
fn log_warning(message: &str) {
    if let Err(payload) = std::panic::catch_unwind(|| log::warn!("{message}")) {
        // The panic hook has reported it. Dropping the payload could panic
        // again (a payload with a panicking `Drop`): leaking one box per
        // panic is the smaller risk.
        std::mem::forget(payload);
    }
}
