//! The loop that runs contexts: on the main context until it is woken
//! ([`run_until_main_woken`]), or one turn for a host loop
//! ([`run_one_turn`]); the workers that run greenlets' bodies; and the
//! hub's teardown at thread exit.
//!
//! A greenlet runs on a *worker*, a coroutine that runs the body of one
//! greenlet after another: when a body ends, the worker suspends with
//! [`Request::Finished`] and waits, idle, for the next greenlet to start,
//! so that starting one costs a switch instead of a coroutine built and torn
//! down.

use std::cell::RefCell;
use std::mem;
use std::panic::{self, AssertUnwindSafe};

use corosensei::{Coroutine, CoroutineResult};

use super::context::{self, GreenletCoroutine, InLoop, Request, Running};
use super::greenlet::log_destructor_panic;
use super::scheduler::{HUB, Hub, IDLE_WORKERS, Next, Task, with_hub};
use super::task;
use crate::monitor;
use crate::stack::{self, PooledStack};

/// Makes a worker coroutine on `stack`. Each time it is resumed to start a
/// greenlet (the running one), it runs that greenlet's body and then
/// suspends with [`Request::Finished`]; resumed with `false` instead, it
/// returns.
fn new_worker(stack: PooledStack) -> GreenletCoroutine {
    Coroutine::with_stack(stack, |yielder, mut go_on: bool| {
        while go_on {
            // SAFETY: `yielder` is the one corosensei handed to this very
            // coroutine's body, which is about to run the current greenlet.
            unsafe { context::started(yielder) };
            context::run_current();
            go_on = yielder.suspend(Request::Finished);
        }
    })
}

/// Ends an idle worker: it returns, and its stack goes back to the pool.
pub(super) fn retire(mut worker: GreenletCoroutine) {
    match worker.resume(false) {
        CoroutineResult::Return(()) => stack::give(worker.into_stack()),
        CoroutineResult::Yield(_) => unreachable!("an idle worker returns when resumed"),
    }
}

/// Runs the loop on the main context until the main context is woken.
///
/// # Panics
///
/// Panics with the deadlock report when nothing can ever wake it.
pub(crate) fn run_until_main_woken() {
    HUB.with(|hub| {
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
                Ok(Next::Main) => return,
                Ok(Next::Stale(task)) => {
                    drop(borrowed);
                    drop(task);
                }
                Err(report) => {
                    drop(borrowed);
                    panic!("{report}");
                }
            }
        }
    })
}

/// Requeues the greenlet in `requeue`, if any, and picks the next context
/// to run.
#[inline(always)]
fn next_to_run(hub: &mut Hub, mut requeue: Option<Task>, may_wait: bool) -> Result<Next, String> {
    loop {
        if let Some(next) = hub.pop_in_turn(&mut requeue) {
            return Ok(next);
        }
        if hub.begin_turn(may_wait, &mut requeue).is_err() {
            return Err(hub.deadlock_report());
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
    let request = match unsafe { header.resume() } {
        Some(request) => request,
        None => {
            // Only a started greenlet has a worker: a finished one is no
            // longer in the task table, so it is never run.
            if !start_greenlet(hub, &task) {
                return None;
            }
            // SAFETY: as above.
            unsafe { header.resume() }.expect("a started greenlet has a worker")
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

/// Gives a greenlet that has not started its worker: an idle one, or a new
/// one on a stack from the pool. Returns `false` (the greenlet removed) when
/// no stack can be had.
#[inline(never)]
fn start_greenlet(hub: &RefCell<Hub>, task: &Task) -> bool {
    let header = task.header();
    header.started.set(true);
    if header.stack_size() == crate::DEFAULT_STACK_SIZE
        && let Some(worker) = hub.borrow_mut().idle_workers.pop()
    {
        // The worker has a stack already: the one reserved at spawn is not
        // needed.
        stack::release(header.stack_size());
        // SAFETY: this is the loop, on the main context.
        unsafe { header.set_coroutine(worker) };
        return true;
    }
    match stack::take_reserved(header.stack_size()) {
        Ok(stack) => {
            // SAFETY: this is the loop, on the main context.
            unsafe { header.set_coroutine(Box::new(new_worker(stack))) };
            true
        }
        Err(e) => {
            fail_to_start(task.clone(), e);
            false
        }
    }
}

/// Removes a finished greenlet from the hub, and keeps its worker for the
/// next greenlet to start or retires it.
#[inline(never)]
fn finish(hub: &RefCell<Hub>, task: Task) {
    let header = task.header();
    log::debug!("{} finished", header.describe());
    // SAFETY: this is the loop, on the main context.
    let boxed = unsafe { header.take_coroutine() }.expect("a finished greenlet has its worker");
    let (unkept, finished) = {
        let mut hub = hub.borrow_mut();
        let unkept = if header.stack_size() == crate::DEFAULT_STACK_SIZE
            && hub.idle_workers.len() < IDLE_WORKERS
        {
            hub.idle_workers.push(boxed);
            None
        } else {
            Some(boxed)
        };
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
    HUB.with(|hub| {
        let _in_loop = InLoop::enter();
        let _ = hub.borrow_mut().begin_turn(false, &mut None);
        let mut ran = 0;
        loop {
            let next = hub.borrow_mut().pop_in_turn(&mut None);
            match next {
                None => {
                    hub.borrow().watch.idle();
                    return ran;
                }
                // The main context is not blocked here; a stale wake-up of
                // it has nothing to resume.
                Some(Next::Main) => {}
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
/// [`JoinError::Killed`]: super::JoinError::Killed
pub(super) struct Teardown;

impl Drop for Teardown {
    fn drop(&mut self) {
        let on_a_greenlet = context::in_greenlet();
        context::close();
        if on_a_greenlet {
            abandon();
        } else {
            tear_down_greenlets();
            let mut old = replace_hub();
            for worker in old.idle_workers.drain(..) {
                retire(*worker);
            }
            monitor::unregister(old.watch);
            drop(old);
        }
        context::drop_main_locals();
        task::close_free_lists();
    }
}

/// Unwinds or discards every greenlet of the hub, repeatedly, until none is
/// left.
fn tear_down_greenlets() {
    loop {
        let tasks: Vec<Task> = with_hub(|hub| hub.tasks.drain().collect());
        if tasks.is_empty() {
            break;
        }
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
                        stack::release(header.stack_size()); // issue 7: its reserved stack
                    }
                    task.discard_body(None);
                }
            }
            context::drop_locals(&header.locals, |payload| {
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
/// greenlet killed and leaks them, their stacks and the hub's workers.
#[cold]
fn abandon() {
    let old = replace_hub();
    for (_, task) in &old.tasks {
        end_at_exit(task);
    }
    monitor::unregister(old.watch);
    log::debug!(
        "the process exits from inside a greenlet: {} greenlets are left as they are",
        old.tasks.len()
    );
    // The running greenlet's stack is among the ones this leaks: this very
    // code runs on it.
    mem::forget(old);
}
