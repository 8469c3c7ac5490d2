//! The hub: one per OS thread, holding every greenlet of that thread, the
//! ready queue, the timers and the reactor, and the loop that runs them.
//!
//! The loop runs on the thread's own stack, the *main context*, whenever it
//! blocks. A greenlet that blocks records what it waits for here and suspends
//! back to the loop, which resumes the next ready greenlet: a switch from one
//! greenlet to another is two stack switches (greenlet → loop → greenlet).
//! The main context takes part in the ready queue like a greenlet, under the
//! key [`MAIN`], so it is woken in FIFO order too.
//!
//! # Turns
//!
//! A turn runs the contexts that were ready when it began, in FIFO order (one
//! that yields goes to the back, for the next turn), then fires due timers,
//! then polls I/O: without waiting if anything is ready, otherwise until the
//! earliest timer. When nothing is ready, no timer is armed and no I/O is
//! awaited, nothing can ever wake the main context: that is a deadlock, and
//! it panics with a report instead of hanging.
//!
//! # Wake-ups
//!
//! Every time a context blocks it gets a fresh *wait id*, and every record of
//! its wait (a timer, a join list) carries that id. A wake-up whose id is no
//! longer the context's current one is stale and ignored, so a context woken
//! by one source (a kill, a timeout) is never resumed again by another. Stale
//! records are dropped lazily, never searched for.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt::Write as _;
use std::mem;
use std::rc::Rc;
use std::time::Instant;

use corosensei::{Coroutine, CoroutineResult};
use slab::Slab;

use super::context::{self, GreenletCoroutine, Header, Running, Unwind};
use super::reactor::Reactor;
use super::timer::{TimerHeap, TimerId};
use crate::stack;

/// The key of the main context in wait records.
pub(crate) const MAIN: usize = usize::MAX;

/// One wait of one context: stale once that context has been woken since.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Waiter {
    key: usize,
    wait: u64,
}

/// What a context is blocked on, for the deadlock report: `what` names the
/// call, `target` the greenlet it concerns, if any.
#[derive(Clone, Copy, Debug)]
pub(crate) struct WaitReason {
    pub(crate) what: &'static str,
    pub(crate) target: Option<u64>,
}

impl WaitReason {
    pub(crate) const fn on(what: &'static str) -> Self {
        WaitReason { what, target: None }
    }
}

/// What the hub needs of a greenlet's shared allocation (whose typed half
/// holds the result for the handle).
pub(crate) trait TaskShared {
    fn header(&self) -> &Header;
    /// Records the outcome of a greenlet that never ran its body: killed
    /// before it started (`None`), or unable to start (`Some(message)`).
    fn set_unstarted_outcome(&self, failure: Option<String>);
}

/// What a timer does when it fires.
#[derive(Debug)]
enum TimerAction {
    /// Wakes a sleeper, or starts a greenlet spawned for later.
    Wake(Waiter),
    /// Expires a timeout of the context at `key` (with greenlet id `id`).
    Timeout { key: usize, id: u64, timeout: u64 },
}

pub(crate) struct Task {
    shared: Rc<dyn TaskShared>,
    /// The body, until the greenlet starts: an unstarted greenlet has no stack.
    body: Option<Box<dyn FnOnce()>>,
    /// The coroutine once started; `None` while the loop is running it.
    coroutine: Option<GreenletCoroutine>,
    stack_size: usize,
    /// The current wait id; 0 while running.
    wait: u64,
    reason: WaitReason,
    /// Contexts waiting for this greenlet to finish.
    joiners: Vec<Waiter>,
}

/// What the loop should do next.
enum Next {
    Main,
    Greenlet(usize),
}

/// A thread's hub.
pub(crate) struct Hub {
    tasks: Slab<Task>,
    ready: VecDeque<Waiter>,
    /// Entries of the ready queue that belong to the current turn.
    turn_left: usize,
    timers: TimerHeap<TimerAction>,
    reactor: Reactor,
    next_wait: u64,
    next_greenlet_id: u64,
    next_timeout_id: u64,
    /// The main context's current wait id; 0 while it runs.
    main_wait: u64,
    main_reason: WaitReason,
    /// Contexts waiting in `run()` for every greenlet to finish.
    idle_waiters: Vec<Waiter>,
}

thread_local! {
    static HUB: RefCell<Hub> = const { RefCell::new(Hub::new()) };
}

/// Runs `f` on this thread's hub. `f` must not switch, and must not drop
/// anything whose destructor could call back into the hub.
///
/// # Panics
///
/// Panics if called again from inside `f`, or while the thread's hub is
/// being destroyed.
#[inline]
pub(crate) fn with_hub<R>(f: impl FnOnce(&mut Hub) -> R) -> R {
    HUB.with(|hub| f(&mut hub.borrow_mut()))
}

/// As [`with_hub`], but `None` once the thread's hub has been destroyed.
pub(crate) fn try_with_hub<R>(f: impl FnOnce(&mut Hub) -> R) -> Option<R> {
    HUB.try_with(|hub| f(&mut hub.borrow_mut())).ok()
}

impl Hub {
    const fn new() -> Self {
        Hub {
            tasks: Slab::new(),
            ready: VecDeque::new(),
            turn_left: 0,
            timers: TimerHeap::new(),
            reactor: Reactor::new(),
            next_wait: 0,
            next_greenlet_id: 0,
            next_timeout_id: 0,
            main_wait: 0,
            main_reason: WaitReason::on("nothing"),
            idle_waiters: Vec::new(),
        }
    }

    pub(crate) fn next_greenlet_id(&mut self) -> u64 {
        self.next_greenlet_id += 1;
        self.next_greenlet_id
    }

    fn fresh_wait(&mut self) -> u64 {
        self.next_wait += 1;
        self.next_wait
    }

    /// Adds a greenlet that will run `body`: at once (at the back of the ready
    /// queue) when `start_at` is `None`, otherwise when that time comes.
    pub(crate) fn insert(
        &mut self,
        shared: Rc<dyn TaskShared>,
        body: Box<dyn FnOnce()>,
        stack_size: usize,
        start_at: Option<Instant>,
    ) {
        let key = self.tasks.insert(Task {
            shared,
            body: Some(body),
            coroutine: None,
            stack_size,
            wait: 0,
            reason: WaitReason::on("start"),
            joiners: Vec::new(),
        });
        let task = &self.tasks[key];
        task.shared.header().key.set(key);
        log::debug!("spawned {}", task.shared.header().describe());
        match start_at {
            None => {
                let me = self.park(key, WaitReason::on("start"));
                self.ready.push_back(me);
            }
            Some(at) => {
                let me = self.park(key, WaitReason::on("spawn_later"));
                self.timers.insert(at, TimerAction::Wake(me));
            }
        }
    }

    /// Records that the context at `key` blocks for `reason`, and returns the
    /// record a waker needs.
    pub(crate) fn park(&mut self, key: usize, reason: WaitReason) -> Waiter {
        let wait = self.fresh_wait();
        if key == MAIN {
            self.main_wait = wait;
            self.main_reason = reason;
        } else {
            let task = &mut self.tasks[key];
            task.wait = wait;
            task.reason = reason;
        }
        Waiter { key, wait }
    }

    /// The current wait id of the context at `key`, if it still exists.
    fn wait_slot(&mut self, key: usize) -> Option<&mut u64> {
        if key == MAIN {
            Some(&mut self.main_wait)
        } else {
            self.tasks.get_mut(key).map(|t| &mut t.wait)
        }
    }

    /// Makes the waiting context ready, unless the wait is stale. Returns
    /// whether it was woken.
    pub(crate) fn wake(&mut self, waiter: Waiter) -> bool {
        let fresh = self.next_wait + 1;
        match self.wait_slot(waiter.key) {
            Some(wait) if *wait == waiter.wait && *wait != 0 => *wait = fresh,
            _ => return false,
        }
        self.next_wait = fresh;
        self.ready.push_back(Waiter {
            key: waiter.key,
            wait: fresh,
        });
        true
    }

    /// Makes the context at `key` ready whatever it waits for, so that it
    /// sees its pending unwind. Does nothing to a context that is running.
    fn interrupt(&mut self, key: usize) {
        let Some(&mut wait) = self.wait_slot(key) else {
            return;
        };
        if wait != 0 {
            self.wake(Waiter { key, wait });
        }
    }

    /// Puts a context that has just parked at the back of the ready queue.
    pub(crate) fn push_ready(&mut self, waiter: Waiter) {
        self.ready.push_back(waiter);
    }

    /// Adds `waiter` to those woken when the greenlet at `key` finishes.
    pub(crate) fn add_joiner(&mut self, key: usize, waiter: Waiter) {
        self.tasks[key].joiners.push(waiter);
    }

    /// Adds `waiter` to those woken when no greenlet is left.
    pub(crate) fn add_idle_waiter(&mut self, waiter: Waiter) {
        self.idle_waiters.push(waiter);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Arms a timer that wakes `waiter` at `deadline`.
    pub(crate) fn wake_at(&mut self, deadline: Instant, waiter: Waiter) {
        self.timers.insert(deadline, TimerAction::Wake(waiter));
    }

    /// Arms a timeout for the context at `key` (`MAIN` or a greenlet with id
    /// `id`) and returns its timeout id and timer.
    pub(crate) fn arm_timeout(&mut self, key: usize, id: u64, deadline: Instant) -> (u64, TimerId) {
        self.next_timeout_id += 1;
        let timeout = self.next_timeout_id;
        let timer = self
            .timers
            .insert(deadline, TimerAction::Timeout { key, id, timeout });
        (timeout, timer)
    }

    pub(crate) fn cancel_timer(&mut self, timer: TimerId) {
        self.timers.cancel(timer);
    }

    /// The header of the live greenlet at `key` with id `id`.
    pub(crate) fn header(&self, key: usize, id: u64) -> Option<&Header> {
        let task = self.tasks.get(key)?;
        let header = task.shared.header();
        (header.id == id).then_some(header)
    }

    /// Kills the greenlet at `key`. One that never started is removed at once
    /// and returned, to be dropped (with its body) outside the hub's borrow.
    /// One that started gets a pending kill and is woken to unwind.
    pub(crate) fn kill(&mut self, key: usize) -> Option<Task> {
        let task = &mut self.tasks[key];
        if task.body.is_some() {
            task.shared.set_unstarted_outcome(None);
            log::debug!(
                "killed {} before it started",
                task.shared.header().describe()
            );
            return Some(self.remove(key));
        }
        task.shared.header().request_unwind(Unwind::Kill);
        self.interrupt(key);
        None
    }

    /// Removes a finished greenlet and wakes those who wait for it.
    fn remove(&mut self, key: usize) -> Task {
        let task = self.tasks.remove(key);
        task.shared.header().finished.set(true);
        for &joiner in &task.joiners {
            self.wake(joiner);
        }
        if self.tasks.is_empty() {
            for waiter in mem::take(&mut self.idle_waiters) {
                self.wake(waiter);
            }
        }
        task
    }

    fn fire_due_timers(&mut self) {
        if self.timers.len() == 0 {
            return;
        }
        let now = Instant::now();
        while let Some(action) = self.timers.pop_due(now) {
            match action {
                TimerAction::Wake(waiter) => {
                    self.wake(waiter);
                }
                TimerAction::Timeout { key, id, timeout } => {
                    if key == MAIN {
                        context::request_main_unwind(Unwind::Timeout(timeout));
                    } else if let Some(header) = self.header(key, id) {
                        header.request_unwind(Unwind::Timeout(timeout));
                    } else {
                        continue;
                    }
                    self.interrupt(key);
                }
            }
        }
    }

    /// Ends a turn and begins the next: fires due timers, polls I/O, and
    /// counts what is ready. With `may_wait`, waits until something is ready.
    ///
    /// # Errors
    ///
    /// Returns `Err(())` when `may_wait` is set and nothing can ever become
    /// ready: no timer is armed and no I/O is awaited.
    fn begin_turn(&mut self, may_wait: bool) -> Result<(), ()> {
        loop {
            self.fire_due_timers();
            if !self.ready.is_empty() || !may_wait {
                break;
            }
            let deadline = self.timers.next_deadline();
            if deadline.is_none() && !self.reactor.has_interest() {
                return Err(());
            }
            self.reactor.wait(deadline);
        }
        self.turn_left = self.ready.len();
        Ok(())
    }

    /// The next context of the current turn to run, or `None` when the turn
    /// is over. Stale entries are skipped.
    fn pop_in_turn(&mut self) -> Option<Next> {
        while self.turn_left > 0 {
            self.turn_left -= 1;
            let waiter = self.ready.pop_front()?;
            let wait = self.wait_slot(waiter.key);
            if let Some(wait) = wait
                && *wait == waiter.wait
            {
                *wait = 0;
                return Some(if waiter.key == MAIN {
                    Next::Main
                } else {
                    Next::Greenlet(waiter.key)
                });
            }
        }
        None
    }

    /// Takes the coroutine of the greenlet at `key` out to resume it, making
    /// it first if the greenlet has not started.
    ///
    /// # Errors
    ///
    /// When no stack can be had for a greenlet that has not started, the
    /// greenlet ends with a failure and is returned to be dropped.
    fn take_coroutine(
        &mut self,
        key: usize,
    ) -> Result<(GreenletCoroutine, Rc<dyn TaskShared>), Box<Task>> {
        let task = &mut self.tasks[key];
        if let Some(coroutine) = task.coroutine.take() {
            return Ok((coroutine, task.shared.clone()));
        }
        let body = task.body.take().expect("a task has a body or a coroutine");
        match stack::take(task.stack_size) {
            Ok(stack) => {
                let coroutine = Coroutine::with_stack(stack, move |yielder, ()| {
                    // SAFETY: `yielder` is the one corosensei handed to this
                    // very coroutine's body.
                    unsafe { context::started(yielder) };
                    body();
                });
                Ok((coroutine, task.shared.clone()))
            }
            Err(e) => {
                let header = task.shared.header();
                let message = format!(
                    "greenlet: cannot allocate a stack of {} KiB for {}: {e}",
                    stack::usable_size(task.stack_size) / 1024,
                    header.describe()
                );
                log::error!("{message}");
                task.shared.set_unstarted_outcome(Some(message));
                task.body = Some(body);
                Err(Box::new(self.remove(key)))
            }
        }
    }

    fn put_back(&mut self, key: usize, coroutine: GreenletCoroutine) {
        self.tasks[key].coroutine = Some(coroutine);
    }

    /// The deadlock report: what every blocked context waits on.
    fn deadlock_report(&self) -> String {
        let mut report = String::from(
            "greenlet: this operation would block forever: no greenlet is ready, \
             no timer is armed and no I/O is awaited.\nBlocked:",
        );
        let describe = |reason: &WaitReason| match reason.target {
            Some(id) => format!("{} (greenlet {id})", reason.what),
            None => reason.what.to_string(),
        };
        let _ = write!(report, "\n  main waits on {}", describe(&self.main_reason));
        for (_, task) in &self.tasks {
            let _ = write!(
                report,
                "\n  {} waits on {}",
                task.shared.header().describe(),
                describe(&task.reason)
            );
        }
        report
    }
}

impl Drop for Hub {
    /// At thread exit, unwinds every greenlet still suspended so that its
    /// destructors run, and drops the bodies of those never started.
    fn drop(&mut self) {
        for (_, task) in mem::take(&mut self.tasks) {
            let header = task.shared.header();
            header.tearing_down.set(true);
            if let Some(coroutine) = task.coroutine {
                log::debug!("unwinding {} at thread exit", header.describe());
                // SAFETY: the coroutine resumed (to unwind) while the guard
                // lives is this header's greenlet's, and `task.shared` keeps
                // the header alive past it.
                let _running = unsafe { Running::enter(header) };
                drop(coroutine); // corosensei unwinds a suspended coroutine
            }
        }
    }
}

/// Runs the loop on the main context until the main context is woken.
///
/// # Panics
///
/// Panics with the deadlock report when nothing can ever wake it.
pub(crate) fn run_until_main_woken() {
    loop {
        match with_hub(|hub| next_to_run(hub, true)) {
            Ok(Next::Main) => return,
            Ok(Next::Greenlet(key)) => run_greenlet(key),
            Err(report) => panic!("{report}"),
        }
    }
}

fn next_to_run(hub: &mut Hub, may_wait: bool) -> Result<Next, String> {
    loop {
        if let Some(next) = hub.pop_in_turn() {
            return Ok(next);
        }
        if hub.begin_turn(may_wait).is_err() {
            return Err(hub.deadlock_report());
        }
    }
}

/// Resumes the greenlet at `key` until it blocks or finishes.
fn run_greenlet(key: usize) {
    let (mut coroutine, shared) = match with_hub(|hub| hub.take_coroutine(key)) {
        Ok(taken) => taken,
        Err(failed) => return drop(failed),
    };
    let header = shared.header();
    log::trace!("switch to {}", header.describe());
    let result = {
        // SAFETY: `coroutine` belongs to this header's greenlet, and `shared`
        // keeps the header alive until after the guard is dropped.
        let _running = unsafe { Running::enter(header) };
        coroutine.resume(())
    };
    match result {
        CoroutineResult::Yield(()) => with_hub(|hub| hub.put_back(key, coroutine)),
        CoroutineResult::Return(()) => {
            log::debug!("{} finished", header.describe());
            stack::give(coroutine.into_stack());
            let finished = with_hub(|hub| hub.remove(key));
            drop(finished); // outside the borrow: it may drop the result
        }
    }
}

/// Runs one turn for a host loop: fires due timers, polls I/O without
/// waiting, then runs what is ready. Returns how many greenlets ran.
pub(crate) fn run_one_turn() -> usize {
    with_hub(|hub| {
        let _ = hub.begin_turn(false);
    });
    let mut ran = 0;
    while let Some(next) = with_hub(Hub::pop_in_turn) {
        match next {
            // The main context is not blocked here; a stale wake-up of it
            // has nothing to resume.
            Next::Main => {}
            Next::Greenlet(key) => {
                run_greenlet(key);
                ran += 1;
            }
        }
    }
    ran
}
