//! This thread's hub: the thread-local that holds it, the way every layer
//! above reaches it ([`with_hub`], [`Waiter::wake`]), and its teardown at
//! thread exit.

use std::cell::RefCell;
use std::mem::{self, ManuallyDrop};

use super::carrier::retire;
use super::context::{self, Running};
use super::locals::drop_locals;
use super::scheduler::{Hub, Task};
use super::task;
use super::unwind::log_destructor_panic;
use super::wait::Waiter;
use crate::stack;

thread_local! {
    // `ManuallyDrop` keeps the hub free of a TLS destructor, so that every
    // access is a plain thread-local load, and so that it is never in a
    // "destroyed" state: `Teardown` empties it at thread exit instead.
    static HUB: ManuallyDrop<RefCell<Hub>> =
        const { ManuallyDrop::new(RefCell::new(Hub::new(arm_teardown))) };
    static TEARDOWN: Teardown = const { Teardown };
}

/// Registers this thread's [`Teardown`]: the hub calls it when first used
/// in a way that allocates (spawning, the main context blocking, arming a
/// timeout, registering a source).
fn arm_teardown() {
    TEARDOWN.with(|_| {});
}

/// Runs `f` on this thread's hub. `f` must not switch, and must not drop
/// anything whose destructor could call back into the hub.
///
/// # Panics
///
/// Panics if called again from inside `f`.
#[inline(always)]
pub(crate) fn with_hub<R>(f: impl FnOnce(&mut Hub) -> R) -> R {
    HUB.with(|hub| f(&mut hub.borrow_mut()))
}

/// Runs `f` with this thread's hub cell, for the loop, which borrows it
/// around each switch rather than across.
#[inline(always)]
pub(super) fn with_hub_cell<R>(f: impl FnOnce(&RefCell<Hub>) -> R) -> R {
    HUB.with(|hub| f(hub))
}

/// Whether the main context may run the hub inside a blocking call made
/// outside the library (the `patch` feature's calls, gevent's main
/// greenlet): this thread's hub has greenlets to run meanwhile, and the
/// call is not made by the hub's own loop (nor by anything it called) or
/// while the thread unwinds. Plain threads, which have no greenlets, are
/// left alone.
#[cfg(feature = "patch")]
pub(crate) fn main_runs_hub() -> bool {
    !context::in_loop()
        && !std::thread::panicking()
        && HUB.with(|hub| hub.try_borrow().is_ok_and(|hub| !hub.is_empty()))
}

impl Waiter {
    /// Makes the context that waits as `self` ready, unless the wait is
    /// stale (it was woken, timed out or killed since). Returns whether it
    /// was woken. The one call the layers above the hub (the sync
    /// primitives) make to wake a context.
    #[inline]
    pub(crate) fn wake(self) -> bool {
        with_hub(|hub| hub.wake(self))
    }

    /// Whether the wait is still going on: false once it was woken, timed
    /// out or killed. For lists of waiters that prune stale entries.
    pub(crate) fn is_live(self) -> bool {
        with_hub(|hub| hub.is_live(self))
    }
}

/// At thread exit, closes the hub for good, unwinds every greenlet still
/// suspended so that its destructors run, drops the bodies of those never
/// started, and empties the hub.
///
/// # After the teardown
///
/// The hub is *closed* from the moment it starts (see `context::close`): no
/// greenlet runs any more on this thread. So what other thread-locals'
/// destructors (or the destructors run here) do with the library is still
/// well defined: a greenlet spawned then is killed at once, a blocking call
/// blocks the thread (a sleep sleeps, green sockets wait with a poller of
/// their own), every greenlet torn down reports [`JoinError::Killed`], and
/// ids keep counting (see `Hub::successor`).
///
/// # When it runs on a coroutine's stack
///
/// `std::process::exit` called inside a greenlet runs the thread's TLS
/// destructors, this one included, on that greenlet's stack. Nothing that
/// stack belongs to may be freed then, nor any other greenlet resumed: the
/// hub is abandoned instead of emptied, its greenlets marked killed and
/// leaked with their stacks, as `exit` leaves other threads' stacks (the
/// process is ending).
///
/// [`JoinError::Killed`]: crate::JoinError::Killed
struct Teardown;

impl Drop for Teardown {
    fn drop(&mut self) {
        let on_a_greenlet = context::in_greenlet();
        context::close();
        // Other threads can no longer reach the hub; what they sent and it
        // never took is dropped (their closures: on this thread, now).
        drop(with_hub(Hub::close_remote));
        if on_a_greenlet {
            abandon();
        } else {
            tear_down_greenlets();
            let (carriers, tasks) = replace_hub().dismantle();
            debug_assert!(tasks.is_empty(), "every greenlet was torn down");
            for carrier in carriers {
                retire(*carrier);
            }
        }
        context::drop_main_locals();
        task::close_free_lists();
    }
}

/// Unwinds or discards every greenlet of the hub, repeatedly, until none is
/// left.
fn tear_down_greenlets() {
    loop {
        let mut tasks: Vec<Task> = with_hub(Hub::take_tasks);
        if tasks.is_empty() {
            break;
        }
        // Newest first: a scoped greenlet (spawned while its scope's owner
        // ran, so with a larger id) unwinds before the owner whose stack it
        // may borrow from (see `scope.rs`).
        tasks.sort_unstable_by_key(|task| std::cmp::Reverse(task.header().id));
        // Every one is finished and killed before any destructor runs: a
        // destructor may kill or join any of them.
        for task in &tasks {
            end_at_exit(task);
        }
        for task in tasks {
            let header = task.header();
            // SAFETY: thread exit, on the main context: no greenlet runs.
            match unsafe { header.take_coroutine() } {
                Some(coroutine) => {
                    log::debug!("unwinding {} at thread exit", header.describe());
                    // SAFETY: the coroutine resumed (to unwind) while the
                    // guard lives is this header's greenlet's, and `task`
                    // keeps the header alive past it.
                    let _running = unsafe { Running::enter(header) };
                    drop(coroutine); // corosensei unwinds a suspended coroutine
                }
                None => {
                    if !header.started.get() {
                        stack::release(header.stack_size()); // its stack, reserved at spawn
                    }
                    task.discard_body(None);
                }
            }
            drop_locals(&header.locals, |payload| {
                log_destructor_panic(&header.describe(), "a greenlet_local! value", &*payload);
            });
        }
    }
}

/// Replaces the hub torn down with its successor, and returns it.
fn replace_hub() -> Hub {
    with_hub(|hub| {
        let next = hub.successor();
        mem::replace(hub, next)
    })
}

/// Marks a greenlet taken out of the hub at thread exit as finished and
/// killed, so that joining or killing it from then on returns at once.
fn end_at_exit(task: &Task) {
    let header = task.header();
    header.tearing_down.set(true);
    header.finished.set(true);
    header.wait.set(0); // its records are stale
    task.set_killed();
}

/// The teardown on a greenlet's stack (see [`Teardown`]): marks every
/// greenlet killed and leaks them, their stacks and the hub's carriers.
#[cold]
fn abandon() {
    let (carriers, tasks) = replace_hub().dismantle();
    for task in &tasks {
        end_at_exit(task);
    }
    log::debug!(
        "the process exits from inside a greenlet: {} greenlets are left as they are",
        tasks.len()
    );
    // The running greenlet's stack is among the ones this leaks: this very
    // code runs on it.
    mem::forget(tasks);
    mem::forget(carriers);
}
