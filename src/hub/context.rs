//! Which context is running (the main context or a greenlet), the switch
//! into a greenlet and out of it, and the per-thread state of the contexts
//! (pending unwinds of the main context, its `greenlet_local!` values, the
//! hub's closing at thread exit).
//!
//! A blocking call deep inside a greenlet must suspend that greenlet's
//! coroutine without having been handed its yielder, so the hub keeps, per
//! thread, a pointer to the running greenlet's [`Header`], and the header
//! keeps a pointer to the greenlet's yielder. Both pointers are dereferenced
//! only while that very greenlet runs.

use std::cell::Cell;
use std::mem::ManuallyDrop;
use std::ptr;

use super::header::{GreenletYielder, Header, Request};
use super::locals::{LocalMap, drop_locals};
use super::unwind::log_destructor_panic;
use super::wait::Unwind;

thread_local! {
    // # Invariant
    // Non-null only while the greenlet whose header it points at is running:
    // `Running::enter` sets it just before resuming the greenlet and its drop
    // clears it as soon as the resume returns. The hub keeps the header alive
    // (in the task table) until the greenlet's coroutine has finished.
    static CURRENT: Cell<*const Header> = const { Cell::new(ptr::null()) };

    /// The main context's pending unwind (only timeouts reach it).
    static MAIN_PENDING: Cell<Option<Unwind>> = const { Cell::new(None) };

    /// The main context's `greenlet_local!` values, dropped by the hub's
    /// teardown at thread exit. `ManuallyDrop`: no TLS destructor, so they
    /// can still be reached from other thread-locals' destructors.
    static MAIN_LOCALS: ManuallyDrop<Cell<Option<Box<LocalMap>>>> =
        const { ManuallyDrop::new(Cell::new(None)) };

    /// How many loops run on the main context: more than one when a
    /// blocking call is made by code the loop itself runs (a logger).
    static LOOP_DEPTH: Cell<u32> = const { Cell::new(0) };

    /// Set once the hub's teardown has begun at thread exit: from then on no
    /// greenlet runs on this thread, and blocking calls block the thread.
    static CLOSED: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` on the running context's local map cell.
///
/// Once the hub is closed (at thread exit), the main context's values are
/// not kept: each access makes its value afresh and drops it after use, so
/// that nothing outlives the thread.
pub(crate) fn with_locals<R>(f: impl FnOnce(&Cell<Option<Box<LocalMap>>>) -> R) -> R {
    with_current(|header| match header {
        Some(header) => f(&header.locals),
        None => {
            let result = MAIN_LOCALS.with(|locals| f(locals));
            if is_closed() {
                drop_main_locals();
            }
            result
        }
    })
}

/// Drops the main context's `greenlet_local!` values (at thread exit, or
/// after each use once the hub is closed). A panicking destructor is logged.
pub(crate) fn drop_main_locals() {
    MAIN_LOCALS.with(|locals| {
        drop_locals(locals, |payload| {
            log_destructor_panic(
                "greenlet: the main context",
                "a greenlet_local! value",
                &*payload,
            );
        });
    });
}

/// Whether the hub's loop runs on the main context: a wait the main
/// context makes then is nested in it (see `main_wait.rs`).
#[inline]
pub(crate) fn in_loop() -> bool {
    LOOP_DEPTH.with(Cell::get) > 0
}

/// Counts a loop running on the main context while it lives.
pub(crate) struct InLoop(());

impl InLoop {
    #[inline(always)]
    pub(crate) fn enter() -> InLoop {
        LOOP_DEPTH.with(|depth| depth.set(depth.get() + 1));
        InLoop(())
    }
}

impl Drop for InLoop {
    #[inline(always)]
    fn drop(&mut self) {
        LOOP_DEPTH.with(|depth| depth.set(depth.get() - 1));
    }
}

/// Whether the hub of this thread is closed: its teardown at thread exit
/// has begun, no greenlet runs any more, and a blocking call blocks the
/// thread (see `blocking.rs`).
#[inline]
pub(crate) fn is_closed() -> bool {
    CLOSED.with(Cell::get)
}

/// Closes the hub of this thread for good (at thread exit). If a greenlet
/// is running (its teardown runs on that greenlet's stack: the process is
/// exiting from inside it), it is no longer treated as running: what runs
/// from now on on this thread is the main context's, which never switches.
pub(crate) fn close() {
    CLOSED.with(|closed| closed.set(true));
    // Null is always a valid value of CURRENT (see its invariant).
    CURRENT.with(|current| current.set(ptr::null()));
}

/// Runs `f` with the running greenlet's header, or `None` in the main context.
#[inline(always)]
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&Header>) -> R) -> R {
    let header = CURRENT.with(Cell::get);
    // SAFETY: by the invariant of CURRENT, a non-null pointer names the
    // greenlet that is running now, on this thread, and its header stays alive
    // until its coroutine finishes, which cannot happen while `f` runs on it.
    f(unsafe { header.as_ref() })
}

/// True when a greenlet (not the main context) is running.
#[inline]
pub(crate) fn in_greenlet() -> bool {
    !CURRENT.with(Cell::get).is_null()
}

/// Marks a greenlet as running until dropped: the hub's loop holds one
/// across each resume.
pub(crate) struct Running(());

impl Running {
    /// Makes `header`'s greenlet the running one.
    ///
    /// # Safety
    ///
    /// `header` must belong to the greenlet that is resumed while the returned
    /// guard lives, and stay alive until that greenlet's coroutine finishes.
    #[inline(always)]
    pub(crate) unsafe fn enter(header: &Header) -> Running {
        CURRENT.with(|c| c.set(header));
        Running(())
    }
}

impl Drop for Running {
    #[inline(always)]
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(ptr::null()));
    }
}

/// Resumes the greenlet of `header`, marked as the running one, until it
/// suspends, and returns what it asks of the loop; `None` at once if it has
/// no carrier (it has not started).
///
/// # Safety
///
/// Only the hub's loop calls this, on the main context, and `header` must
/// stay alive until it returns.
#[inline(always)]
pub(crate) unsafe fn resume(header: &Header) -> Option<Request> {
    // SAFETY: the caller keeps the header alive until after the guard is
    // dropped, and the greenlet resumed while it lives is this header's.
    let _running = unsafe { Running::enter(header) };
    // SAFETY: the caller's promise, and the greenlet is marked running.
    unsafe { header.resume() }
}

/// Called by a carrier before it runs a greenlet's body: remembers its
/// yielder in the greenlet's header.
///
/// # Safety
///
/// `yielder` must be the one corosensei handed to the body of the carrier
/// coroutine that is about to run the greenlet, so that it lives as long as
/// that coroutine runs.
pub(crate) unsafe fn started(yielder: &GreenletYielder) {
    with_current(|header| {
        let header = header.expect("a greenlet starts only through the hub's loop");
        // SAFETY: the caller's promise is the one `set_yielder` asks for.
        unsafe { header.set_yielder(yielder) };
    });
}

/// Suspends the running greenlet back to the hub's loop with `request`,
/// after `park` has recorded (with the greenlet's header) what will wake it,
/// and calls `resumed` with the header when the loop resumes it. In the main
/// context it returns `false` at once, without calling either: the main
/// context has no coroutine to suspend.
#[inline(always)]
pub(crate) fn suspend_current(
    request: Request,
    park: impl FnOnce(&Header),
    resumed: impl FnOnce(&Header),
) -> bool {
    let running = CURRENT.with(Cell::get);
    if running.is_null() {
        return false;
    }
    // SAFETY: by the invariant of CURRENT, a non-null pointer is the running
    // greenlet's header, alive until its coroutine finishes; it is still
    // running while `park` runs and when it suspends below.
    let header = unsafe { &*running };
    park(header);
    let yielder = header.yielder();
    debug_assert!(!yielder.is_null(), "a running greenlet has started");
    // SAFETY: by the invariant of `Header::yielder`, the running greenlet's
    // yielder, set when it started, points at the base of its stack, which
    // is alive while it runs. We are running on that greenlet now (possibly
    // inside a generator nested in it, which corosensei supports).
    unsafe { (*yielder).suspend(request) };
    resumed(header);
    true
}

/// The fast path of `yield_now`: in a greenlet that is not unwinding and has
/// no unwind pending, suspends it with [`Request::Requeue`] and returns
/// `true` once it is resumed, after `raise` if an unwind is pending then.
/// Returns `false` at once, having done nothing, in every other case.
#[inline(always)]
pub(crate) fn try_requeue_current(raise: impl FnOnce()) -> bool {
    let running = CURRENT.with(Cell::get);
    if running.is_null() {
        return false;
    }
    // SAFETY: by the invariant of CURRENT, a non-null pointer is the running
    // greenlet's header, alive until its coroutine finishes; this greenlet
    // is still running when it is resumed below, so the reference stays
    // valid across the switch.
    let header = unsafe { &*running };
    if header.has_pending() || std::thread::panicking() {
        return false;
    }
    let yielder = header.yielder();
    debug_assert!(!yielder.is_null(), "a running greenlet has started");
    // SAFETY: by the invariant of `Header::yielder`, the running greenlet's
    // yielder, set when it started, points at the base of its stack, which
    // is alive while it runs, and we are running on that greenlet now.
    unsafe { (*yielder).suspend(Request::Requeue) };
    if header.has_pending() {
        raise();
    }
    true
}

/// The running context's pending unwind request.
#[inline]
pub(crate) fn pending() -> Option<Unwind> {
    with_current(|header| match header {
        Some(header) => header.pending(),
        None => MAIN_PENDING.with(Cell::get),
    })
}

/// Takes the running context's pending unwind request, leaving none: a
/// scope's owner sets it aside while it waits for its children.
pub(crate) fn take_pending() -> Option<Unwind> {
    with_current(|header| match header {
        Some(header) => header.take_pending(),
        None => MAIN_PENDING.with(Cell::take),
    })
}

/// Puts back an unwind request taken with [`take_pending`], merged with any
/// made since.
pub(crate) fn restore_pending(unwind: Option<Unwind>) {
    let Some(unwind) = unwind else { return };
    with_current(|header| match header {
        Some(header) => header.request_unwind(unwind),
        None => request_main_unwind(unwind),
    });
}

/// Records an unwind request for the main context.
pub(crate) fn request_main_unwind(unwind: Unwind) {
    MAIN_PENDING.with(|p| p.set(Some(Unwind::merge(p.get(), unwind))));
}

/// Forgets the main context's expired timeout `id`, once caught.
pub(crate) fn clear_main_timeout(id: u64) {
    MAIN_PENDING.with(|p| {
        if p.get() == Some(Unwind::Timeout(id)) {
            p.set(None);
        }
    });
}

/// Calls `f` with the running greenlet's id, name and yielder address (the
/// yielder lies at the base of the greenlet's own stack), or `None` in the
/// main context: the stack layer's `Identify` (`stack/overflow.rs`),
/// for the overflow handler, which must not allocate or lock. The name is
/// borrowed for the call only.
pub(crate) fn identify_running(f: &mut dyn FnMut(crate::stack::RunningGreenlet<'_>)) {
    with_current(|header| {
        f(header.map(|header| {
            (
                header.id,
                header.name.as_deref().map(String::as_str),
                header.yielder() as usize,
            )
        }))
    })
}
