//! The hub: one per OS thread, holding every greenlet of that thread, the
//! ready queue, the timers and the reactor, and the loop that runs them.
//!
//! The loop runs on the thread's own stack, the *main context*, whenever it
//! blocks. A greenlet that blocks records what it waits for here and suspends
//! back to the loop, which resumes the next ready greenlet: a switch from one
//! greenlet to another is two stack switches (greenlet → loop → greenlet).
//! The main context takes part in the ready queue like a greenlet, under the
//! key `MAIN`, so it is woken in FIFO order too.
//!
//! A turn (see `turn.rs`) runs the contexts that were ready when it began,
//! then fires due timers and polls I/O. Picking the next context is here,
//! the rest of a turn in `turn.rs`. The fields of [`Hub`] are private to
//! this module and `turn.rs`, which state their invariants; the layers above
//! (the thread's hub and its teardown in `thread.rs`, the loop in `run.rs`,
//! the carriers in `carrier.rs`) call its methods.
//!
//! # Wake-ups
//!
//! Every time a context blocks it gets a fresh *wait id*, and every record of
//! its wait (a timer, a join list) carries that id. A wake-up whose id is no
//! longer the context's current one is stale and ignored, so a context woken
//! by one source (a kill, a timeout) is never resumed again by another. Stale
//! records are dropped lazily, never searched for.

use std::cell::Cell;
use std::mem;
use std::sync::Arc;
use std::time::Instant;

use super::context;
use super::header::{CoroutineBox, Header};
use super::main_wait::MainWait;
use super::reactor::Reactor;
use super::ready::{Ready, ReadyQueue};
use super::records::WAIT_STEP;
use super::spin::Spin;
use super::task::TaskRef;
use super::timer::{TimerHeap, TimerId};
use super::wait::{MAIN, Unwind, WaitReason, Waiter};
use crate::monitor::{self, Watch};
use crate::stack;

mod io;
mod remote;
mod report;
mod turn;

pub(crate) use remote::{Callback, Message, Remote};

pub(crate) type Task = TaskRef;

/// What a timer does when it fires.
#[derive(Debug)]
pub(super) enum TimerAction {
    /// Wakes a sleeper, or starts a greenlet spawned for later.
    Wake(Waiter),
    /// Expires a timeout of the context at `key` (with greenlet id `id`).
    Timeout { key: usize, id: u64, timeout: u64 },
}

/// When a spawned greenlet starts.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Start {
    /// At the back of the ready queue.
    Now,
    /// When a timer fires at this time.
    At(Instant),
    /// Never on its own (a delay too long to represent): only a kill ends
    /// it.
    Never,
}

/// What the loop should do next.
pub(crate) enum Next {
    Main,
    /// Callbacks sent by other threads wait, to run outside the hub's
    /// borrow (see [`Hub::take_callbacks`]).
    Run,
    Greenlet(Task),
    /// A stale entry of the ready queue whose task nothing else refers to:
    /// dropped by the caller outside the hub's borrow, because dropping it
    /// may run user destructors (of the greenlet's unclaimed outcome).
    Stale(Task),
}

/// A live context, as [`Hub::context`] finds it.
struct Context<'a> {
    /// Its current wait id.
    wait: &'a Cell<u64>,
    /// Whether it is parked on I/O (counted in `Hub::io_waiting`).
    io_wait: &'a Cell<bool>,
    /// Its task (`None` for the main context): what a ready entry holds.
    task: Option<&'a Task>,
}

/// A thread's hub.
pub(crate) struct Hub {
    /// Every greenlet that has not finished, for kills, timeouts, the
    /// deadlock report and thread exit.
    tasks: slab::Slab<Task>,
    ready: ReadyQueue,
    timers: TimerHeap<TimerAction>,
    reactor: Reactor,
    /// The last wait id the hub gave (to a wake-up, a requeue, a start):
    /// even, while parking greenlets take odd ones (see `WAIT_STEP`).
    next_wait: u64,
    next_greenlet_id: u64,
    next_timeout_id: u64,
    /// The main context's wait.
    main: MainWait,
    /// Contexts waiting in `run()` for every greenlet to finish.
    idle_waiters: Vec<Waiter>,
    /// Whether this thread's [`Teardown`] guard is registered.
    teardown_armed: bool,
    /// Contexts parked on I/O (each counted until it is woken), plus one
    /// once the hub has an inbox: while it is not 0, every turn takes the
    /// slow half (see `turn.rs`), which polls while contexts wait for I/O
    /// ([`Self::io_parked`]) and looks into the inbox.
    io_waiting: usize,
    /// Scratch list of the waiters a poll wakes.
    woken: Vec<Waiter>,
    /// Carriers (of the default stack size) whose greenlet has finished,
    /// for the next greenlets to start: starting one costs a switch instead
    /// of a new coroutine.
    idle_carriers: Vec<CoroutineBox>,
    /// Registers the thread's teardown when the hub is first used (the
    /// thread-local that holds the hub owns the teardown, a layer above).
    on_first_use: fn(),
    /// This hub's slot in the blocking monitor: written on every switch.
    watch: &'static Watch,
    /// The inbox other threads reach the hub by, once asked for (see
    /// `remote.rs`): while there is one, every turn looks into it.
    remote: Option<Arc<Remote>>,
    /// Scratch list of the messages a turn takes from the inbox.
    messages: Vec<Message>,
    /// Callbacks taken from the inbox, for the loop to run.
    callbacks: Vec<Callback>,
    /// How long an idle turn spins for the inbox before it sleeps.
    spin: Spin,
}

/// How many idle carriers the hub keeps at most; more go back to the stack
/// pool.
const IDLE_CARRIERS: usize = 64;

/// Advances the hub's counter of wait ids and returns the new one.
#[inline(always)]
fn next_even_wait(next_wait: &mut u64) -> u64 {
    *next_wait += WAIT_STEP;
    *next_wait
}

impl Hub {
    /// An empty hub; `on_first_use` is called once, when it is first used
    /// in a way that needs a teardown at thread exit.
    pub(super) const fn new(on_first_use: fn()) -> Self {
        Hub {
            tasks: slab::Slab::new(),
            ready: ReadyQueue::new(),
            timers: TimerHeap::new(),
            reactor: Reactor::new(),
            next_wait: 0,
            next_greenlet_id: 0,
            next_timeout_id: 0,
            main: MainWait::new(),
            idle_waiters: Vec::new(),
            teardown_armed: false,
            io_waiting: 0,
            woken: Vec::new(),
            idle_carriers: Vec::new(),
            on_first_use,
            watch: &monitor::UNWATCHED,
            remote: None,
            messages: Vec::new(),
            callbacks: Vec::new(),
            spin: Spin::new(),
        }
    }

    /// Registers this thread's [`Teardown`] guard, which empties the hub at
    /// thread exit. Called by every way into the hub that can allocate:
    /// spawning, the main context blocking, arming a timeout.
    #[inline]
    fn arm_teardown(&mut self) {
        if !self.teardown_armed {
            self.teardown_armed = true;
            (self.on_first_use)();
            self.watch = monitor::register();
        }
    }

    /// The hub that replaces this one when it is torn down at thread exit:
    /// empty, never armed again, and with the counters of ids carried on,
    /// so that no id of a record made before (a wait, a timer, a timeout,
    /// a greenlet) is ever given again to a new one.
    pub(super) fn successor(&self) -> Hub {
        let mut next = Hub::new(self.on_first_use);
        next.next_wait = self.next_wait;
        next.next_greenlet_id = self.next_greenlet_id;
        next.next_timeout_id = self.next_timeout_id;
        next.teardown_armed = true;
        next.timers = TimerHeap::continuing(&self.timers);
        next
    }

    pub(crate) fn next_greenlet_id(&mut self) -> u64 {
        self.next_greenlet_id += 1;
        self.next_greenlet_id
    }

    /// A wait id never given before on this thread (see `next_wait`).
    #[inline(always)]
    fn fresh_wait(&mut self) -> u64 {
        next_even_wait(&mut self.next_wait)
    }

    /// Adds a greenlet, to start as `start` says. Inlined into `spawn`,
    /// which has the registers to spare: a call cost it 20 instructions.
    #[inline(always)]
    pub(crate) fn insert(&mut self, task: Task, start: Start) {
        self.arm_teardown();
        let header = task.header();
        let key = self.tasks.vacant_key();
        header.set_key(key);
        if let Some(name) = &header.name {
            self.watch.named(header.id, name);
        }
        let wait = self.fresh_wait();
        header.wait.set(wait);
        if let Start::Now = start {
            self.ready.push(Some(task.clone()), wait);
        } else {
            self.start_later(Waiter { key, wait }, start);
        }
        self.tasks.insert(task);
    }

    /// Whether `waiter` names a wait still going on (not woken, timed out
    /// or killed since).
    pub(crate) fn is_live(&self, waiter: Waiter) -> bool {
        Hub::waits(&self.tasks, &self.main, waiter)
    }

    /// [`Self::is_live`] on the two fields it reads, for callers that
    /// borrow others meanwhile.
    fn waits(tasks: &slab::Slab<Task>, main: &MainWait, waiter: Waiter) -> bool {
        if waiter.key == MAIN {
            main.waits(waiter.wait)
        } else {
            tasks.get(waiter.key).map(|t| t.header().wait.get()) == Some(waiter.wait)
        }
    }

    /// Arms the start of a greenlet spawned for later.
    #[cold]
    #[inline(never)]
    fn start_later(&mut self, me: Waiter, start: Start) {
        if let Start::At(at) = start {
            self.timers.insert(at, TimerAction::Wake(me));
        }
    }

    /// Why the greenlet of `header` waits: what it last parked on, or its
    /// start if it has not parked yet (spawned for later, or ready).
    pub(super) fn reason(&self, header: &Header) -> WaitReason {
        header.reason().unwrap_or(WaitReason::on("start"))
    }

    /// Puts the greenlet `task`, which has just yielded, at the back of the
    /// ready queue.
    #[inline(always)]
    pub(super) fn requeue(&mut self, task: Task) {
        let wait = self.requeue_wait(&task);
        self.ready.push(Some(task), wait);
    }

    /// As [`Self::requeue`], right after an entry was popped: the slot it
    /// freed makes room, so the queue need not check for it.
    #[inline(always)]
    pub(super) fn requeue_after_pop(&mut self, task: Task) {
        let wait = self.requeue_wait(&task);
        self.ready.push_after_pop(Some(task), wait);
    }

    /// Gives a greenlet that yields a fresh wait id, for its ready entry.
    #[inline(always)]
    pub(super) fn requeue_wait(&mut self, task: &Task) -> u64 {
        // Only a fresh wait id: its wait reason is read by the deadlock
        // report alone, which never sees a ready context, and it is set
        // again when the greenlet next blocks.
        let wait = self.fresh_wait();
        task.header().wait.set(wait);
        wait
    }

    /// Records that the main context blocks for `reason`. Returns its
    /// waiter, and whether the wait is nested in the hub's loop (see
    /// `main_wait.rs`): the caller then calls [`Self::unnest_main_wait`]
    /// when it ends, however it ends.
    ///
    /// # Panics
    ///
    /// Panics if waits nest too deep in the loop (a logger that blocks on
    /// every record the loop logs).
    pub(crate) fn park_main(&mut self, reason: WaitReason) -> (Waiter, bool) {
        self.arm_teardown();
        let nested = context::in_loop();
        let wait = self.fresh_wait();
        let ready = &self.ready;
        self.main
            .park(wait, reason, nested, |outer| ready.holds_main(outer));
        (Waiter { key: MAIN, wait }, nested)
    }

    /// Restores the main context's outer wait when a nested one ends, ready
    /// if it was woken meanwhile.
    #[cold]
    pub(crate) fn unnest_main_wait(&mut self) {
        let next_wait = &mut self.next_wait;
        let woken = self.main.restore(|| next_even_wait(next_wait));
        if let Some(wait) = woken {
            self.ready.push(None, wait);
        }
    }

    /// Wakes a wait of the main context that a nested one set aside, if
    /// `waiter` names one. Returns whether it did.
    #[cold]
    #[inline(never)]
    fn wake_outer(&mut self, waiter: Waiter) -> bool {
        match self.main.wake_outer(waiter.wait) {
            None => false,
            Some(was_io) => {
                if was_io {
                    self.io_waiting -= 1;
                }
                true
            }
        }
    }

    /// The context at `key`, if it is alive.
    #[inline]
    fn context(&self, key: usize) -> Option<Context<'_>> {
        // A greenlet first: `MAIN` is beyond the task table's range.
        if let Some(task) = self.tasks.get(key) {
            let header = task.header();
            return Some(Context {
                wait: &header.wait,
                io_wait: &header.io_wait,
                task: Some(task),
            });
        }
        (key == MAIN).then(|| Context {
            wait: self.main.wait(),
            io_wait: self.main.io_wait(),
            task: None,
        })
    }

    /// Puts a context that has just parked at the back of the ready queue.
    #[inline]
    pub(crate) fn push_ready(&mut self, waiter: Waiter) {
        let task = self
            .context(waiter.key)
            .expect("a context that just parked")
            .task
            .cloned();
        self.ready.push(task, waiter.wait);
    }

    /// Makes the waiting context ready, unless the wait is stale. Returns
    /// whether it was woken.
    ///
    /// A context parked on I/O stops being counted as such here, not when
    /// it runs: that keeps the check off the switch path.
    pub(crate) fn wake(&mut self, waiter: Waiter) -> bool {
        debug_assert_ne!(waiter.wait, 0, "a wait record carries a wait id");
        let fresh = self.next_wait + WAIT_STEP;
        let (task, was_io) = match self.context(waiter.key) {
            // Wait records never carry 0, a running context's wait id.
            Some(context) if context.wait.get() == waiter.wait => {
                context.wait.set(fresh);
                (context.task.cloned(), context.io_wait.replace(false))
            }
            _ if waiter.key == MAIN && self.main.has_outer() => {
                return self.wake_outer(waiter);
            }
            _ => return false,
        };
        if was_io {
            self.io_waiting -= 1;
        }
        self.next_wait = fresh;
        self.ready.push(task, fresh);
        true
    }

    /// Makes the context at `key` ready whatever it waits for, so that it
    /// sees its pending unwind. Does nothing to a context that is running.
    pub(super) fn interrupt(&mut self, key: usize) {
        if let Some(wait) = self.context(key).map(|context| context.wait.get())
            && wait != 0
        {
            self.wake(Waiter { key, wait });
        }
    }

    /// Adds `waiter` to those woken when no greenlet is left.
    pub(crate) fn add_idle_waiter(&mut self, waiter: Waiter) {
        self.idle_waiters.push(waiter);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Arms a timer that wakes `waiter` at `deadline`.
    pub(crate) fn wake_at(&mut self, deadline: Instant, waiter: Waiter) -> TimerId {
        self.timers.insert(deadline, TimerAction::Wake(waiter))
    }

    /// Arms a timeout for the context at `key` (`MAIN` or a greenlet with id
    /// `id`) and returns its timeout id and timer. Once the hub is closed
    /// (at thread exit) no timer can fire: none is armed.
    pub(crate) fn arm_timeout(&mut self, key: usize, id: u64, deadline: Instant) -> (u64, TimerId) {
        self.next_timeout_id += 1;
        let timeout = self.next_timeout_id;
        if context::is_closed() {
            return (timeout, TimerId::NONE);
        }
        self.arm_teardown();
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
        let header = self.tasks.get(key)?.header();
        (header.id == id).then_some(header)
    }

    /// Kills the greenlet at `key`. One that never started is removed at once
    /// and returned, for its body to be discarded outside the hub's borrow.
    /// One that started gets a pending kill and is woken to unwind.
    pub(crate) fn kill(&mut self, key: usize) -> Option<Task> {
        let header = self.tasks[key].header();
        if !header.started.get() {
            stack::release(header.stack_size()); // its stack, reserved at spawn
            return Some(self.remove(key));
        }
        header.request_unwind(Unwind::Kill);
        self.interrupt(key);
        None
    }

    /// Removes a finished greenlet and wakes those who wait for it. The
    /// caller drops the returned task outside the hub's borrow. Inlined, as
    /// `insert` is, into the loop's `finish`.
    #[inline(always)]
    pub(super) fn remove(&mut self, key: usize) -> Task {
        let task = self.tasks.remove(key);
        let header = task.header();
        header.finished.set(true);
        header.wait.set(0); // its entries in the ready queue are stale now
        if header.name.is_some() {
            self.watch.forget(header.id);
        }
        if let Some(joiners) = header.take_joiners() {
            for joiner in joiners {
                self.wake(joiner);
            }
        }
        if self.tasks.is_empty() {
            for waiter in mem::take(&mut self.idle_waiters) {
                self.wake(waiter);
            }
        }
        task
    }

    /// An idle carrier for a greenlet of the default stack size to start
    /// on, if the hub keeps one.
    #[inline]
    pub(super) fn take_idle_carrier(&mut self) -> Option<CoroutineBox> {
        self.idle_carriers.pop()
    }

    /// Keeps the carrier of a greenlet that finished, for the next one to
    /// start, if it has the default stack size and the hub keeps fewer than
    /// [`IDLE_CARRIERS`]; gives it back otherwise, to retire.
    #[inline]
    pub(super) fn keep_idle_carrier(
        &mut self,
        carrier: CoroutineBox,
        stack_size: usize,
    ) -> Option<CoroutineBox> {
        if stack_size == crate::DEFAULT_STACK_SIZE && self.idle_carriers.len() < IDLE_CARRIERS {
            self.idle_carriers.push(carrier);
            None
        } else {
            Some(carrier)
        }
    }

    /// Tells the blocking monitor that the loop has nothing to run.
    #[inline]
    pub(super) fn watch_idle(&self) {
        self.watch.idle();
    }

    /// Every greenlet still alive, taken out of the hub (at thread exit).
    pub(super) fn take_tasks(&mut self) -> Vec<Task> {
        self.tasks.drain().collect()
    }

    /// Ends the hub at thread exit: unregisters it from the blocking
    /// monitor and returns its idle carriers, to retire, and the greenlets
    /// left in it.
    pub(super) fn dismantle(mut self) -> (Vec<CoroutineBox>, Vec<Task>) {
        monitor::unregister(self.watch);
        let tasks = self.tasks.drain().collect();
        (mem::take(&mut self.idle_carriers), tasks)
    }

    /// Ends a turn and begins the next: fires due timers, polls I/O, and
    /// counts what is ready. With `may_wait`, waits until something is ready.
    ///
    /// # Errors
    ///
    /// Returns whether callbacks from other threads wait to run (see
    /// [`Self::take_callbacks`]).
    ///
    /// Returns `Err(())` when `may_wait` is set and nothing can ever become
    /// ready: no timer is armed, no I/O is awaited and no other thread can
    /// reach the hub's inbox.
    ///
    /// The greenlet in `requeue`, if any, is requeued first (it belongs to
    /// the new turn). In the common case it is only counted in the turn,
    /// and pushed by [`Self::pop_in_turn`] once a pop has made room for it.
    #[inline(always)]
    pub(super) fn begin_turn(
        &mut self,
        may_wait: bool,
        requeue: &mut Option<Task>,
    ) -> Result<bool, ()> {
        if self.quiet() && !self.ready.is_empty() {
            self.ready.begin_turn(usize::from(requeue.is_some()));
            return Ok(false);
        }
        if let Some(task) = requeue.take() {
            self.requeue(task);
        }
        self.begin_turn_slow(may_wait)
    }

    /// The next context of the current turn to run, or `None` when the turn
    /// is over. Stale entries are skipped. The greenlet in `requeue`, if
    /// any, is requeued as soon as an entry has been popped (it belongs to
    /// the next turn, so the order is the same as if it had been first).
    ///
    /// With `renew`, a turn that ends quietly with something ready is
    /// followed at once by the next, as [`Self::begin_turn`] would begin it,
    /// and its first context is returned: the loop on the main context
    /// then goes from turn to turn without leaving this call.
    #[inline(always)]
    pub(super) fn pop_in_turn(&mut self, requeue: &mut Option<Task>, renew: bool) -> Option<Next> {
        loop {
            let Ready { task, wait } = match self.ready.pop_in_turn() {
                Some(ready) => ready,
                None if renew && self.quiet() => {
                    let then_pushed = usize::from(requeue.is_some());
                    self.ready.begin_turn_and_pop(then_pushed)?
                }
                None => return None,
            };
            if let Some(yielded) = requeue.take() {
                self.requeue_after_pop(yielded);
            }
            match task {
                None => {
                    if self.main.wait().get() == wait {
                        self.main.wait().set(0);
                        self.watch.idle();
                        return Some(Next::Main);
                    }
                }
                Some(task) => {
                    let header = task.header();
                    if header.wait.get() == wait {
                        header.wait.set(0);
                        self.watch.running(header.id, wait);
                        return Some(Next::Greenlet(task));
                    }
                    if task.is_unique() {
                        return Some(Next::Stale(task));
                    }
                }
            }
        }
    }
}
