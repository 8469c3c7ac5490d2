//! The loop that runs contexts: on the main context until it is woken
//! ([`run_until_main_woken`]), or one turn for a host loop
//! ([`run_one_turn`]), starting and finishing greenlets on their carriers.

use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe};

use super::carrier::{new_carrier, retire};
use super::context::{self, InLoop};
use super::header::Request;
use super::scheduler::{Hub, Next, Task};
use super::thread::{with_hub, with_hub_cell};
use super::unwind::log_destructor_panic;
use crate::stack;

/// Runs the loop on the main context until the main context is woken.
///
/// # Panics
///
/// Panics with the deadlock report when nothing can ever wake it, at the
/// location of the user's call that blocked (the blocking calls are
/// `#[track_caller]` down to here).
#[track_caller]
pub(crate) fn run_until_main_woken() {
    if let Err(report) = run_main_loop() {
        panic!("{report}");
    }
}

/// [`run_until_main_woken`]'s loop; the deadlock report if nothing can ever
/// wake the main context.
fn run_main_loop() -> Result<(), String> {
    with_hub_cell(|hub| {
        let _in_loop = InLoop::enter();
        // A greenlet that asked to be requeued: done in the same borrow of
        // the hub as picking the next one, so a yield borrows it once.
        let mut requeue: Option<Task> = None;
        loop {
            // The borrow ends in each arm, so that the arm is reached
            // straight from where the next context was found.
            let mut borrowed = hub.borrow_mut();
            match next_to_run(&mut borrowed, requeue.take(), true) {
                Ok(Next::Greenlet(task)) => {
                    drop(borrowed);
                    requeue = run_greenlet(hub, task);
                }
                Ok(Next::Main) => return Ok(()),
                Ok(Next::Run) => {
                    let callbacks = borrowed.take_callbacks();
                    drop(borrowed);
                    run_callbacks(callbacks);
                }
                Ok(Next::Stale(task)) => {
                    drop(borrowed);
                    drop(task);
                }
                Err(report) => return Err(report),
            }
        }
    })
}

/// Requeues the greenlet in `requeue`, if any, and picks the next context
/// to run.
#[inline(always)]
fn next_to_run(hub: &mut Hub, mut requeue: Option<Task>, may_wait: bool) -> Result<Next, String> {
    loop {
        if let Some(next) = hub.pop_in_turn(&mut requeue, true) {
            return Ok(next);
        }
        match hub.begin_turn(may_wait, &mut requeue) {
            Ok(false) => {}
            Ok(true) => return Ok(Next::Run),
            Err(()) => return Err(hub.deadlock_report()),
        }
    }
}

/// Resumes the greenlet until it blocks or finishes, starting it first if it
/// has not started. Returns the task back when it asks to be requeued (it
/// called `yield_now`); the caller does that.
///
/// Inlined into the loops, so that the loop goes on after the switch back
/// without returning through a call frame (a mispredicted return).
#[inline(always)]
fn run_greenlet(hub: &RefCell<Hub>, task: Task) -> Option<Task> {
    let header = task.header();
    // SAFETY: this is the loop, on the main context, and `task` keeps the
    // header alive until the resume returns.
    let request = match unsafe { context::resume(header) } {
        Some(request) => request,
        None => {
            // Only a started greenlet has a carrier: a finished one is no
            // longer in the task table, so it is never run.
            if !start_greenlet(hub, &task) {
                return None;
            }
            // SAFETY: as above.
            unsafe { context::resume(header) }.expect("a started greenlet has a carrier")
        }
    };
    match request {
        Request::Requeue => Some(task),
        Request::Parked => None,
        Request::Finished => {
            finish(hub, task);
            None
        }
    }
}

/// Runs callbacks sent by other threads (a `Handle`'s spawns), in the
/// order they came. A panic in one is logged and the others run.
#[cold]
#[inline(never)]
fn run_callbacks(callbacks: Vec<super::scheduler::Callback>) {
    for callback in callbacks {
        if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(callback)) {
            log::error!(
                "greenlet: a callback sent by another thread panicked: {}",
                super::unwind::panic_message(&*payload)
            );
        }
    }
}

/// Gives a greenlet that has not started its carrier: an idle one, or a new
/// one on a stack from the pool. Returns `false` (the greenlet removed) when
/// no stack can be had.
#[inline(never)]
fn start_greenlet(hub: &RefCell<Hub>, task: &Task) -> bool {
    let header = task.header();
    header.started.set(true);
    if header.stack_size() == crate::DEFAULT_STACK_SIZE
        && let Some(carrier) = hub.borrow_mut().take_idle_carrier()
    {
        // The carrier has a stack already: the one reserved at spawn is not
        // needed.
        stack::release(header.stack_size());
        // SAFETY: this is the loop, on the main context.
        unsafe { header.set_coroutine(carrier) };
        return true;
    }
    match stack::take_reserved(header.stack_size()) {
        Ok(stack) => {
            // SAFETY: this is the loop, on the main context.
            unsafe { header.set_coroutine(Box::new(new_carrier(stack))) };
            true
        }
        Err(e) => {
            fail_to_start(task.clone(), e);
            false
        }
    }
}

/// Removes a finished greenlet from the hub, and keeps its carrier for the
/// next greenlet to start or retires it.
#[inline(never)]
fn finish(hub: &RefCell<Hub>, task: Task) {
    let header = task.header();
    log::debug!("{} finished", header.describe());
    // SAFETY: this is the loop, on the main context.
    let boxed = unsafe { header.take_coroutine() }.expect("a finished greenlet has its carrier");
    let (unkept, finished) = {
        let mut hub = hub.borrow_mut();
        let unkept = hub.keep_idle_carrier(boxed, header.stack_size());
        (unkept, hub.remove(header.key()))
    };
    if let Some(boxed) = unkept {
        retire(*boxed);
    }
    // Its greenlet_local! values, and its result if detached, were dropped
    // by the greenlet itself (see `end_body`): dropping the task runs
    // no code of the user's.
    drop(finished);
}

#[cold]
fn fail_to_start(task: Task, error: std::io::Error) {
    let header = task.header();
    let message = format!(
        "greenlet: cannot allocate a stack of {} KiB for {}: {error}",
        stack::usable_size(header.stack_size()) / 1024,
        header.describe()
    );
    log::error!("{message}");
    let removed = with_hub(|hub| hub.remove(header.key()));
    // The closure's destructors run here, in the loop: a panic there is
    // the greenlet's, never the main context's.
    if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| task.discard_body(Some(message))))
    {
        log_destructor_panic(&header.describe(), "its closure", &*payload);
    }
    drop(removed);
}

/// Runs one turn for a host loop: fires due timers, polls I/O without
/// waiting, then runs what is ready. Returns how many greenlets ran.
pub(crate) fn run_one_turn() -> usize {
    with_hub_cell(|hub| {
        let _in_loop = InLoop::enter();
        if hub.borrow_mut().begin_turn(false, &mut None) == Ok(true) {
            let callbacks = hub.borrow_mut().take_callbacks();
            run_callbacks(callbacks);
        }
        let mut ran = 0;
        loop {
            let next = hub.borrow_mut().pop_in_turn(&mut None, false);
            match next {
                None => {
                    hub.borrow().watch_idle();
                    return ran;
                }
                // The main context is not blocked here; a stale wake-up of
                // it has nothing to resume. (Callbacks come from a turn's
                // beginning, above.)
                Some(Next::Main | Next::Run) => {}
                Some(Next::Stale(task)) => drop(task),
                Some(Next::Greenlet(task)) => {
                    if let Some(task) = run_greenlet(hub, task) {
                        hub.borrow_mut().requeue(task);
                    }
                    ran += 1;
                }
            }
        }
    })
}
