//! Blocking: the one way a context waits, and the public calls built on it
//! (`yield_now`, `sleep`, `run`, `run_once`).
//!
//! A blocking call in a greenlet records its wait in the hub and suspends to
//! the loop. The same call in the main context records its wait and runs the
//! loop itself until it is woken. Either way it first and last checks for a
//! pending kill or timeout, and unwinds if there is one.

use std::cell::Cell;
use std::panic;
use std::time::{Duration, Instant};

use super::context;
use super::header::{Header, Request};
use super::reactor::Direction;
use super::records;
use super::scheduler::Hub;
use super::thread::with_hub;
use super::timer::TimerId;
use super::unwind::{Elapsed, GreenletExit};
use super::wait::{MAIN, Unwind, WaitReason, Waiter};
use crate::monitor;

/// The timer of a wait with a deadline, cancelled however the wait ends
/// (woken early, killed, timed out elsewhere), so that no stale timer keeps
/// the loop's fast path off or makes the deadlock check think something can
/// still wake.
struct DeadlineTimer(Cell<Option<TimerId>>);

impl DeadlineTimer {
    fn new() -> Self {
        DeadlineTimer(Cell::new(None))
    }

    /// Arms the timer for `me` at `deadline`.
    fn arm(&self, hub: &mut Hub, deadline: Instant, me: Waiter) {
        self.0.set(Some(hub.wake_at(deadline, me)));
    }
}

impl Drop for DeadlineTimer {
    fn drop(&mut self) {
        if let Some(timer) = self.0.take() {
            with_hub(|hub| hub.cancel_timer(timer));
        }
    }
}

/// The hub key of the running context.
pub(crate) fn current_key() -> usize {
    context::with_current(|header| header.map_or(MAIN, |h| h.key()))
}

/// Runs `f` with the running context's pending unwind (a kill or an expired
/// timeout) set aside, so that its blocking calls wait instead of unwinding,
/// then puts it back (merged with any requested meanwhile) and unwinds if
/// one is pending. `on_unwind` runs when there is one at the start, and each
/// time one comes during `f` (it interrupts the wait it comes in: `f` runs
/// again from the start). What a scope's owner does to wait for its
/// children.
#[track_caller]
pub(crate) fn shielded<R>(mut f: impl FnMut() -> R, mut on_unwind: impl FnMut()) -> R {
    let mut set_aside = context::take_pending();
    if set_aside.is_some() {
        on_unwind();
    }
    let result = loop {
        match panic::catch_unwind(panic::AssertUnwindSafe(&mut f)) {
            Ok(result) => break result,
            Err(payload) if is_unwind_request(&*payload) => {
                // A kill or timeout that came during the wait: keep it for
                // later, and wait again.
                if let Some(unwind) = context::take_pending() {
                    set_aside = Some(Unwind::merge(set_aside, unwind));
                }
                on_unwind();
            }
            Err(payload) => {
                context::restore_pending(set_aside);
                panic::resume_unwind(payload);
            }
        }
    };
    context::restore_pending(set_aside);
    raise_pending();
    result
}

/// Whether `payload` is a kill's or an expired timeout's, not a panic.
pub(crate) fn is_unwind_request(payload: &(dyn std::any::Any + Send)) -> bool {
    payload.is::<GreenletExit>() || payload.is::<Elapsed>()
}

/// Unwinds the running context if a kill or a timeout is pending for it.
///
/// Nothing happens while the thread is already unwinding: a second unwinding
/// from a destructor would abort the process.
#[inline]
pub(crate) fn raise_pending() {
    if let Some(unwind) = context::pending()
        && !std::thread::panicking()
    {
        raise(unwind);
    }
}

/// [`raise_pending`] for the running greenlet of `header`, known to be
/// running and not unwinding (a blocking call checked that first).
#[inline(always)]
fn raise_pending_of(header: &Header) {
    if header.has_pending() {
        raise_pending_cold();
    }
}

/// [`raise_pending`] out of line, for the inlined wait's rare case.
#[cold]
#[inline(never)]
fn raise_pending_cold() {
    raise_pending();
}

#[cold]
#[inline(never)]
fn raise(unwind: Unwind) -> ! {
    match unwind {
        Unwind::Kill => panic::resume_unwind(Box::new(GreenletExit)),
        Unwind::Timeout(id) => panic::resume_unwind(Box::new(Elapsed::new(id))),
    }
}

/// Blocks the running context until a waker uses the record that `register`
/// stores, or a kill or timeout interrupts it (then it unwinds).
///
/// # Panics
///
/// As [`block_until`].
#[inline]
#[track_caller]
pub(crate) fn block(reason: WaitReason, register: impl FnOnce(Waiter)) {
    block_until(reason, None, register);
}

/// Blocks the running context until a waker wakes the [`Waiter`] that
/// `register` stores (see [`Waiter::wake`]), or `deadline` passes (`None`:
/// no deadline), or a kill or timeout interrupts it (then it unwinds): the
/// one way to wait, for the hub's calls and the sync primitives alike. The
/// deadline's timer is cancelled however the wait ends. `register` runs
/// outside the hub's borrow: it may borrow the hub itself (to wait for
/// I/O), but must not switch.
///
/// A greenlet parks without borrowing the hub: its wait id is the thread's
/// record (see `records.rs`), its reason goes into its own header.
///
/// Once the hub is closed (at thread exit), nothing can wake the wait: it
/// blocks the thread until the deadline instead (see [`wait_closed`]).
///
/// # Panics
///
/// - Panics while the thread is unwinding (a blocking call in a destructor
///   during a panic, kill or timeout): switching then would let other
///   greenlets see `std::thread::panicking()`. Inside a destructor that
///   panic aborts the process, loudly.
/// - In the main context, panics with the deadlock report when nothing can
///   ever wake it (also for a wait without deadline once the hub is
///   closed).
///
/// # Implementation notes
///
/// Inlined into its caller, with what a greenlet does before it suspends
/// (the checks and records, [`park_registered`]), so that the caller can be
/// inlined in turn and the greenlet is resumed in its caller's frame. A
/// greenlet resumed inside a function returns through that function's frame,
/// a return the CPU mispredicts (its return-address stack holds the loop's
/// calls, not the greenlet's), and the next switch's return after it too; a
/// call made just before the switch costs about as much. Measured on a
/// `Queue` hand-off (`examples/switch_cost`): 43–45 ns with the whole wait
/// in a frame of its own, 40 ns with only the parking records out of line,
/// 26–29 ns with nothing out of line but the slow paths (a deadline, the
/// main context, an unwinding thread).
#[inline(always)]
#[track_caller]
pub(crate) fn block_until(
    reason: WaitReason,
    deadline: Option<Instant>,
    register: impl FnOnce(Waiter),
) {
    if std::thread::panicking() {
        cannot_block_while_unwinding(reason);
    }
    if !context::in_greenlet() {
        block_main_raising(reason, deadline, register);
        return;
    }
    let Some(deadline) = deadline else {
        // Without a deadline no timer is armed, and none needs cancelling.
        // (Both closures read the one reason through `at`: moving a copy
        // into each cost a hand-off 5 more instructions.)
        let at = &reason;
        context::suspend_current(
            Request::Parked,
            move |header| {
                park_registered(header, *at, register);
            },
            move |header| resumed(header, *at),
        );
        return;
    };
    block_greenlet_until(reason, deadline, register);
}

/// The greenlet's side of a wait, before it suspends: unwinds if a kill or
/// timeout is pending, else records the wait and hands `register` its
/// record, which it returns. Inlined (see [`block_until`]).
#[inline(always)]
fn park_registered(header: &Header, reason: WaitReason, register: impl FnOnce(Waiter)) -> Waiter {
    raise_pending_of(header);
    let me = park(header, reason);
    register(me);
    me
}

/// [`block_until`] in a greenlet, with a deadline: arms a timer, cancelled
/// however the wait ends.
#[inline(never)]
fn block_greenlet_until(reason: WaitReason, deadline: Instant, register: impl FnOnce(Waiter)) {
    let timer = DeadlineTimer::new();
    let armed = &timer;
    context::suspend_current(
        Request::Parked,
        move |header| {
            let me = park_registered(header, reason, register);
            with_hub(|hub| armed.arm(hub, deadline, me));
        },
        move |header| resumed(header, reason),
    );
}

/// [`block_until`] in the main context: checks for a pending unwind before
/// and after the wait.
#[inline(never)]
#[track_caller]
fn block_main_raising(
    reason: WaitReason,
    deadline: Option<Instant>,
    register: impl FnOnce(Waiter),
) {
    raise_pending();
    block_main(reason, deadline, register);
    raise_pending();
}

/// What a greenlet does first when it is resumed from a wait for `reason`:
/// publishes the wait's location for the blocking monitor (where the
/// greenlet runs from now on), then unwinds if a kill or timeout is pending.
#[inline(always)]
fn resumed(header: &Header, reason: WaitReason) {
    monitor::resumed_from(header.id, reason.location);
    raise_pending_of(header);
}

/// Records that the running greenlet `header` blocks for `reason`, and
/// returns the record that wakes it.
#[inline(always)]
fn park(header: &Header, reason: WaitReason) -> Waiter {
    let wait = records::fresh_wait();
    header.wait.set(wait);
    header.set_reason(reason);
    Waiter {
        key: header.key(),
        wait,
    }
}

#[cold]
#[inline(never)]
fn cannot_block_while_unwinding(reason: WaitReason) -> ! {
    panic!(
        "greenlet: cannot block in {} while the thread is unwinding",
        reason.what
    );
}

/// The main context's side of [`block_until`]: it records its wait and runs
/// the loop until it is woken.
#[track_caller]
fn block_main(reason: WaitReason, deadline: Option<Instant>, register: impl FnOnce(Waiter)) {
    if context::is_closed() {
        wait_closed(reason, deadline);
        return;
    }
    let (me, nested) = with_hub(|hub| hub.park_main(reason));
    // A wait nested in the loop (made by a logger the loop called) sets
    // the main context's outer wait aside until it ends, however it ends.
    // (`then_some` would make, and drop, an `Unnest` when not nested.)
    let _unnest = if nested { Some(Unnest) } else { None };
    register(me);
    let timer = DeadlineTimer::new();
    if let Some(deadline) = deadline {
        with_hub(|hub| timer.arm(hub, deadline, me));
    }
    super::run::run_until_main_woken();
}

/// Restores the main context's outer wait when a nested one ends.
struct Unnest;

impl Drop for Unnest {
    fn drop(&mut self) {
        with_hub(Hub::unnest_main_wait);
    }
}

/// A wait once the hub is closed: the teardown at thread exit has begun,
/// no greenlet runs any more and no waker can be reached, so the thread
/// itself sleeps until `deadline`, as std's blocking calls do.
///
/// # Panics
///
/// Without a deadline, panics with the deadlock report's first words:
/// nothing could ever end the wait.
#[cold]
#[inline(never)]
fn wait_closed(reason: WaitReason, deadline: Option<Instant>) {
    let Some(deadline) = deadline else {
        panic!(
            "greenlet: this operation would block forever: the hub of this thread has been \
             torn down at thread exit, so nothing can end the wait on {} \
             (a blocking call without a timeout in a destructor run at thread exit?)",
            reason.what
        );
    };
    let left = deadline.saturating_duration_since(Instant::now());
    if !left.is_zero() {
        std::thread::sleep(left);
    }
}

/// Blocks the running context until the source at `token` may be ready for
/// `direction`, or `deadline` passes. The caller retries its operation.
///
/// # Errors
///
/// While the thread is unwinding (an I/O call in a destructor during a panic,
/// kill or timeout), returns an error instead of switching.
#[track_caller]
pub(crate) fn wait_io(
    token: usize,
    direction: Direction,
    deadline: Option<Instant>,
) -> std::io::Result<()> {
    if std::thread::panicking() {
        return Err(std::io::Error::other(
            "greenlet: cannot wait for I/O while the thread is unwinding",
        ));
    }
    let what = match direction {
        Direction::Read => "I/O (readable)",
        Direction::Write => "I/O (writable)",
    };
    block_until(WaitReason::on(what), deadline, |me| {
        with_hub(|hub| hub.wait_io(token, direction, me));
    });
    Ok(())
}

/// Parks the running context until any of `sources` (tokens of registered
/// sources, each with its direction) may be ready, or `deadline` passes:
/// [`wait_io`] for many, as `poll` waits.
///
/// # Errors
///
/// An error instead of waiting while the thread is unwinding.
///
/// # Panics
///
/// As [`wait_io`].
#[cfg(feature = "patch")]
#[track_caller]
pub(crate) fn wait_io_any(
    sources: &[(usize, Direction)],
    deadline: Option<Instant>,
) -> std::io::Result<()> {
    if std::thread::panicking() {
        return Err(std::io::Error::other(
            "greenlet: cannot wait for I/O while the thread is unwinding",
        ));
    }
    block_until(WaitReason::on("I/O (poll)"), deadline, |me| {
        with_hub(|hub| {
            for &(token, direction) in sources {
                hub.wait_io(token, direction, me);
            }
        });
    });
    Ok(())
}

/// Moves the running context to the back of the ready queue, so that every
/// greenlet ready now runs first: gevent's `sleep(0)`.
///
/// Called from the main context it runs the greenlets that are ready, in
/// FIFO order, and returns after them. While the thread is unwinding it
/// returns at once.
///
/// # Panics
///
/// Unwinds the calling greenlet if it was killed or its timeout expired
/// (that unwinding is caught by `join` and [`with_timeout`](crate::with_timeout),
/// not by user code).
///
/// # Examples
///
/// ```
/// use std::{cell::RefCell, rc::Rc};
///
/// let log = Rc::new(RefCell::new(Vec::new()));
/// let handles: Vec<_> = ["a", "b"]
///     .into_iter()
///     .map(|name| {
///         let log = log.clone();
///         greenlet::spawn(move || {
///             for i in 0..2 {
///                 log.borrow_mut().push(format!("{name}{i}"));
///                 greenlet::yield_now();
///             }
///         })
///     })
///     .collect();
/// greenlet::joinall(handles);
/// assert_eq!(*log.borrow(), ["a0", "b0", "a1", "b1"]);
/// ```
#[inline]
#[track_caller]
pub fn yield_now() {
    // Inlined into the caller, so that the greenlet resumes without
    // returning through a call frame (a mispredicted return).
    if !context::try_requeue_current(raise_pending) {
        yield_now_slow();
    }
}

/// `yield_now` in the main context, or with an unwind pending or under way.
#[cold]
#[inline(never)]
fn yield_now_slow() {
    if std::thread::panicking() {
        return;
    }
    raise_pending();
    if !context::suspend_current(Request::Requeue, |_| {}, |_| {}) {
        if !context::is_closed() {
            block(WaitReason::on("yield_now"), |me| {
                with_hub(|hub| hub.push_ready(me))
            });
        }
        return;
    }
    raise_pending();
}

/// Blocks the running context for `duration`, letting other greenlets run.
///
/// `sleep(Duration::ZERO)` is [`yield_now`]. A duration too long to add to
/// `Instant::now()` sleeps for ever. The hub's timers have millisecond
/// resolution, so a sleep lasts at least `duration`, rounded up to the
/// millisecond. While the thread is unwinding, `sleep` returns at once.
///
/// # Panics
///
/// - Unwinds the calling greenlet if it was killed or its timeout expired.
/// - In the main context, panics with the deadlock report if the sleep is
///   for ever and no greenlet could ever wake anything.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// // Two greenlets sleep at once: together they take about 30 ms, not 60.
/// let a = greenlet::spawn(|| greenlet::sleep(Duration::from_millis(30)));
/// let b = greenlet::spawn(|| greenlet::sleep(Duration::from_millis(30)));
/// for result in greenlet::joinall([a, b]) {
///     result.unwrap();
/// }
/// ```
#[track_caller]
pub fn sleep(duration: Duration) {
    if duration.is_zero() {
        return yield_now();
    }
    if std::thread::panicking() {
        return;
    }
    let deadline = Instant::now().checked_add(duration);
    block_until(WaitReason::on("sleep"), deadline, |_| {});
    // Only the timer holds this wait's record (a kill or a timeout unwinds
    // out of `block` instead), and it fires at the deadline rounded up to
    // the millisecond: no need to read the clock again.
    debug_assert!(
        deadline.is_some_and(|d| Instant::now() >= d),
        "greenlet: a sleep woke before its deadline"
    );
}

/// Runs the hub until no greenlet is left: gevent's `wait()`. Greenlets
/// that other threads sent through a [`Handle`](crate::Handle) before it
/// returns are run too.
///
/// # Panics
///
/// - Panics if called from inside a greenlet: it waits for every greenlet,
///   the caller included.
/// - Panics with the deadlock report (`greenlet: this operation would block
///   forever…`) when greenlets are left but none can ever be woken.
///
/// # Examples
///
/// ```
/// use std::{cell::Cell, rc::Rc};
///
/// let done = Rc::new(Cell::new(0));
/// for _ in 0..3 {
///     let done = done.clone();
///     greenlet::spawn(move || done.set(done.get() + 1));
/// }
/// greenlet::run();
/// assert_eq!(done.get(), 3);
/// ```
#[track_caller]
pub fn run() {
    assert!(
        !context::in_greenlet(),
        "greenlet: run() waits for every greenlet and cannot be called from one"
    );
    loop {
        if with_hub(|hub| hub.has_messages()) {
            run_once();
            continue;
        }
        if with_hub(|hub| hub.is_empty()) {
            return;
        }
        block(WaitReason::on("run (every greenlet to finish)"), |me| {
            with_hub(|hub| hub.add_idle_waiter(me));
        });
    }
}

/// Runs one turn of the hub for a host loop, and returns how many greenlets
/// ran.
///
/// It fires the timers that are due, polls I/O without waiting, and then
/// runs each greenlet that is ready, once. It never blocks the thread. A
/// greenlet that yields during the turn runs again on the next call, so a
/// busy greenlet cannot starve the host.
///
/// # Panics
///
/// Panics if called from inside a greenlet.
///
/// # Examples
///
/// ```
/// let g = greenlet::spawn(|| {
///     greenlet::yield_now();
///     "done"
/// });
/// let mut turns = 0;
/// while !g.is_finished() && turns < 1_000 {
///     greenlet::run_once(); // the host does its own work between calls
///     turns += 1;
/// }
/// assert_eq!(turns, 2);
/// assert_eq!(g.join().unwrap(), "done");
/// ```
#[track_caller]
pub fn run_once() -> usize {
    assert!(
        !context::in_greenlet(),
        "greenlet: run_once() is for the main context, not for a greenlet"
    );
    super::run::run_one_turn()
}

/// The former name of [`run_once`], which runs one turn and returns: it
/// never ran "until idle".
///
/// # Panics
///
/// As [`run_once`].
///
/// # Examples
///
/// ```
/// #[allow(deprecated)]
/// let ran = greenlet::run_until_idle();
/// assert_eq!(ran, 0);
/// ```
#[deprecated(
    since = "0.1.0",
    note = "renamed `run_once`: it runs one turn of the hub"
)]
pub fn run_until_idle() -> usize {
    run_once()
}
