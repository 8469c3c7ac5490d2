//! Blocking: the one way a context waits, and the public calls built on it
//! (`yield_now`, `sleep`, `run`, `run_until_idle`).
//!
//! A blocking call in a greenlet records its wait in the hub and suspends to
//! the loop. The same call in the main context records its wait and runs the
//! loop itself until it is woken. Either way it first and last checks for a
//! pending kill or timeout, and unwinds if there is one.

use std::cell::Cell;
use std::panic;
use std::time::{Duration, Instant};

use super::context::{self, Request, Unwind, WaitReason, Waiter};
use super::greenlet::GreenletExit;
use super::reactor::Direction;
use super::scheduler::{Hub, MAIN, with_hub};
use super::timeout::Elapsed;
use super::timer::TimerId;

/// The timer of a wait with a deadline, cancelled however the wait ends
/// (woken early, killed, timed out elsewhere), so that no stale timer keeps
/// the loop's fast path off or makes the deadlock check think something can
/// still wake.
struct DeadlineTimer(Cell<Option<TimerId>>);

impl DeadlineTimer {
    fn new() -> Self {
        DeadlineTimer(Cell::new(None))
    }

    /// Arms the timer for `me` at `deadline`, if there is one.
    fn arm(&self, hub: &mut Hub, deadline: Option<Instant>, me: Waiter) {
        if let Some(deadline) = deadline {
            self.0.set(Some(hub.wake_at(deadline, me)));
        }
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

/// Unwinds the running context if a kill or a timeout is pending for it.
///
/// Nothing happens while the thread is already unwinding: a second unwinding
/// from a destructor would abort the process.
#[inline]
pub(crate) fn raise_pending() {
    if let Some(unwind) = context::pending()
        && !std::thread::panicking()
    {
        match unwind {
            Unwind::Kill => panic::resume_unwind(Box::new(GreenletExit)),
            Unwind::Timeout(id) => panic::resume_unwind(Box::new(Elapsed::new(id))),
        }
    }
}

/// Blocks the running context until a waker uses the record that `register`
/// stores, or a kill or timeout interrupts it (then it unwinds).
///
/// # Panics
///
/// - Panics while the thread is unwinding (a blocking call in a destructor
///   during a panic, kill or timeout): switching then would let other
///   greenlets see `std::thread::panicking()`. Inside a destructor that
///   panic aborts the process, loudly.
/// - In the main context, panics with the deadlock report when nothing can
///   ever wake it.
pub(crate) fn block(reason: WaitReason, register: impl FnOnce(&mut Hub, Waiter)) {
    if std::thread::panicking() {
        panic!(
            "greenlet: cannot block in {} while the thread is unwinding",
            reason.what
        );
    }
    raise_pending();
    let mut register = Some(register);
    let suspended = context::suspend_current(Request::Parked, |header| {
        with_hub(|hub| {
            let me = hub.park_greenlet(header, reason);
            register.take().expect("parked once")(hub, me);
        });
    });
    if let Some(register) = register.filter(|_| !suspended) {
        with_hub(|hub| {
            let me = hub.park_main(reason);
            register(hub, me);
        });
        super::run::run_until_main_woken();
    }
    raise_pending();
}

/// As [`block`], with a deadline: a timer wakes the context at `deadline`
/// (`None`: no timer), and is cancelled however the wait ends.
pub(crate) fn block_until(
    reason: WaitReason,
    deadline: Option<Instant>,
    register: impl FnOnce(&mut Hub, Waiter),
) {
    let timer = DeadlineTimer::new();
    block(reason, |hub, me| {
        register(hub, me);
        timer.arm(hub, deadline, me);
    });
}

/// Blocks the running context until the source at `token` may be ready for
/// `direction`, or `deadline` passes. The caller retries its operation.
///
/// # Errors
///
/// While the thread is unwinding (an I/O call in a destructor during a panic,
/// kill or timeout), returns an error instead of switching.
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
    block_until(WaitReason::on(what), deadline, |hub, me| {
        hub.wait_io(token, direction, me);
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
    if !context::suspend_current(Request::Requeue, |_| {}) {
        block(WaitReason::on("yield_now"), Hub::push_ready);
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
pub fn sleep(duration: Duration) {
    if duration.is_zero() {
        return yield_now();
    }
    if std::thread::panicking() {
        return;
    }
    let deadline = Instant::now().checked_add(duration);
    let timer = DeadlineTimer::new();
    block(WaitReason::on("sleep"), |hub, me| {
        timer.arm(hub, deadline, me)
    });
    // Only the timer holds this wait's record (a kill or a timeout unwinds
    // out of `block` instead), and it fires at the deadline rounded up to
    // the millisecond: no need to read the clock again.
    debug_assert!(
        deadline.is_some_and(|d| Instant::now() >= d),
        "greenlet: a sleep woke before its deadline"
    );
}

/// Runs the hub until no greenlet is left: gevent's `wait()`.
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
pub fn run() {
    assert!(
        !context::in_greenlet(),
        "greenlet: run() waits for every greenlet and cannot be called from one"
    );
    while !with_hub(|hub| hub.is_empty()) {
        block(
            WaitReason::on("run (every greenlet to finish)"),
            |hub, me| {
                hub.add_idle_waiter(me);
            },
        );
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
///     greenlet::run_until_idle(); // the host does its own work between calls
///     turns += 1;
/// }
/// assert_eq!(turns, 2);
/// assert_eq!(g.join().unwrap(), "done");
/// ```
pub fn run_until_idle() -> usize {
    assert!(
        !context::in_greenlet(),
        "greenlet: run_until_idle() is for the main context, not for a greenlet"
    );
    super::run::run_one_turn()
}
