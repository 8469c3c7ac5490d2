//! Which context is running (the main context or a greenlet), and the switch
//! out of a greenlet.
//!
//! This is the only module of the hub with `unsafe` code. A blocking call deep
//! inside a greenlet must suspend that greenlet's coroutine without having
//! been handed its yielder, so the hub keeps, per thread, a pointer to the
//! running greenlet's [`Header`], and the header keeps a pointer to the
//! greenlet's yielder. Both pointers are dereferenced only while that very
//! greenlet runs.

use std::cell::{Cell, UnsafeCell};
use std::mem::ManuallyDrop;
use std::panic::{self, AssertUnwindSafe};
use std::ptr;
use std::rc::Rc;

use super::task::{self, Vtable};

/// What a greenlet asks of the loop when it suspends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Request {
    /// `yield_now`: put it at the back of the ready queue. The loop does the
    /// bookkeeping, so the hottest switch touches the hub once, not twice.
    Requeue,
    /// It has recorded its wait in the hub itself: nothing to do.
    Parked,
    /// The greenlet's body has ended: its coroutine (a *worker*) is free to
    /// run the body of the next greenlet that starts.
    Finished,
}

/// The coroutine type of a greenlet: a worker that runs greenlet bodies one
/// after another on one stack. It is resumed with `true` to go on (to start
/// the greenlet that is then the running one, or to wake the one it runs,
/// which learns why from its header) or with `false` to return when idle,
/// and suspends with a [`Request`].
pub(crate) type GreenletCoroutine =
    corosensei::Coroutine<bool, Request, (), crate::stack::PooledStack>;

pub(crate) type GreenletYielder = corosensei::Yielder<bool, Request>;

/// A greenlet's name, shared with the [`Current`](super::Current) values
/// that report it. `Rc<String>` rather than `Rc<str>`: one word in the
/// header instead of two, and the builder's `String` is kept, not copied.
pub(crate) type Name = Rc<String>;

/// A worker coroutine, boxed so that moving it is one word.
pub(crate) type CoroutineBox = Box<GreenletCoroutine>;

/// Why a blocking call must unwind instead of returning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unwind {
    /// The greenlet was killed.
    Kill,
    /// The timeout with this id expired.
    Timeout(u64),
}

/// The contexts waiting for a greenlet to finish: the first (the usual
/// only one) inline, in the allocation the header points at.
struct JoinList {
    first: Waiter,
    more: Vec<Waiter>,
}

/// One wait of one context: stale once that context has been woken since.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Waiter {
    /// The hub key of the context (`MAIN` for the main context).
    pub(crate) key: usize,
    pub(crate) wait: u64,
}

/// What a context is blocked on, for the deadlock report: `what` names the
/// call, `target` the id of the greenlet it concerns, or 0 for none (greenlet
/// ids start at 1).
#[derive(Clone, Copy, Debug)]
pub(crate) struct WaitReason {
    pub(crate) what: &'static str,
    pub(crate) target: u64,
}

impl WaitReason {
    pub(crate) const fn on(what: &'static str) -> Self {
        WaitReason { what, target: 0 }
    }
}

/// Everything the hub and the handles know about one greenlet. It lives in
/// the greenlet's shared allocation (with its body and its outcome), so its
/// address is stable and the hub needs no table lookup to switch to it.
///
/// The fields the switch touches come first, and the rest is packed, so that
/// the greenlet's allocation stays small.
pub(crate) struct Header {
    /// How many `TaskRef`s point at the greenlet's allocation.
    pub(super) refs: Cell<u32>,
    /// The functions that know the greenlet's types.
    pub(super) vtable: &'static Vtable,
    pub(crate) id: u64,
    /// The current wait id; 0 while running.
    pub(crate) wait: Cell<u64>,
    /// The greenlet's slot in the hub's task table, while it is alive.
    key: Cell<u32>,
    /// The pending unwind, encoded by [`encode`].
    pending: Cell<u64>,
    // # Invariant
    // Null until the greenlet's coroutine starts; from then on it points at
    // the yielder on the base of that coroutine's stack, which lives until
    // the coroutine finishes.
    yielder: Cell<*const GreenletYielder>,
    // # Invariant
    // The worker coroutine running the greenlet, from its start until it
    // finishes. Only the main context touches it (through the methods
    // below), never while a greenlet runs: so a borrow of it lasts at most
    // one resume of that coroutine and no two borrows overlap. It stays in
    // place across the resume: taking it out and putting it back would cost
    // a switch several instructions.
    coroutine: UnsafeCell<Option<CoroutineBox>>,
    /// Contexts waiting for this greenlet to finish: boxed, as most
    /// greenlets have none, to keep the header small.
    joiners: Cell<Option<Box<JoinList>>>,
    /// The greenlet's name, if it was given one: a thin pointer, to keep
    /// the header small.
    pub(crate) name: Option<Name>,
    /// The requested stack size (at most 1 GiB, checked by the builder).
    stack_size: u32,
    pub(crate) started: Cell<bool>,
    pub(crate) finished: Cell<bool>,
    /// Set when the greenlet's handle is dropped before its outcome is
    /// known: the greenlet then drops its outcome itself, as it ends.
    pub(crate) detached: Cell<bool>,
    /// Parked on I/O: counted in the hub's `io_waiting` until it is woken.
    pub(crate) io_wait: Cell<bool>,
    /// Set before the coroutine is dropped at thread exit, so that the
    /// greenlet lets corosensei's unwinding pass instead of catching it.
    pub(crate) tearing_down: Cell<bool>,
    /// The greenlet's `greenlet_local!` values, dropped when it ends.
    pub(crate) locals: Cell<Option<Box<LocalMap>>>,
}

/// Greenlet-local values, keyed by the address of their `greenlet_local!`
/// static.
pub(crate) type LocalMap = Vec<(usize, Rc<dyn std::any::Any>)>;

/// [`Header::pending`] when no unwind is pending.
const NO_UNWIND: u64 = 0;
/// [`Header::pending`] for a kill; any other value is a timeout id (timeout
/// ids count from 1 and never reach it).
const KILL: u64 = u64::MAX;

fn encode(unwind: Option<Unwind>) -> u64 {
    match unwind {
        None => NO_UNWIND,
        Some(Unwind::Kill) => KILL,
        Some(Unwind::Timeout(id)) => id,
    }
}

fn decode(pending: u64) -> Option<Unwind> {
    match pending {
        NO_UNWIND => None,
        KILL => Some(Unwind::Kill),
        id => Some(Unwind::Timeout(id)),
    }
}

impl Header {
    /// A new greenlet's header. Only `TypedTask::new` makes headers: every
    /// header is the start of a greenlet's allocation (see `task`).
    ///
    /// # Panics
    ///
    /// Panics if `stack_size` does not fit in a `u32` (the builder caps it at
    /// 1 GiB first).
    #[inline]
    pub(super) fn new(
        id: u64,
        name: Option<Name>,
        stack_size: usize,
        vtable: &'static Vtable,
    ) -> Self {
        Header {
            refs: Cell::new(1),
            vtable,
            id,
            wait: Cell::new(0),
            key: Cell::new(u32::MAX),
            pending: Cell::new(NO_UNWIND),
            yielder: Cell::new(ptr::null()),
            coroutine: UnsafeCell::new(None),
            joiners: Cell::new(None),
            name,
            stack_size: u32::try_from(stack_size).expect("stack size checked by the builder"),
            started: Cell::new(false),
            finished: Cell::new(false),
            detached: Cell::new(false),
            io_wait: Cell::new(false),
            tearing_down: Cell::new(false),
            locals: Cell::new(None),
        }
    }

    /// The stack size requested for the greenlet.
    pub(crate) fn stack_size(&self) -> usize {
        self.stack_size as usize
    }

    /// Gives the greenlet the worker that runs it, when it starts.
    ///
    /// # Safety
    ///
    /// Only the main context calls this, while no greenlet runs (see the
    /// invariant of `coroutine`).
    #[inline(always)]
    pub(crate) unsafe fn set_coroutine(&self, worker: CoroutineBox) {
        debug_assert!(!in_greenlet(), "only the main context starts greenlets");
        // SAFETY: no greenlet runs (the caller's promise), so by the
        // invariant of `coroutine` no borrow of it is live.
        let slot = unsafe { &mut *self.coroutine.get() };
        // A greenlet starts once: there is no worker to drop.
        debug_assert!(slot.is_none(), "a greenlet starts once");
        if let Some(old) = slot.replace(worker) {
            drop_worker(old);
        }
    }

    /// Takes the greenlet's worker out: when its body has finished, or to
    /// unwind it at thread exit.
    ///
    /// # Safety
    ///
    /// As for [`Self::set_coroutine`].
    #[inline(always)]
    pub(crate) unsafe fn take_coroutine(&self) -> Option<CoroutineBox> {
        debug_assert!(!in_greenlet(), "only the main context takes a worker");
        // SAFETY: as in `set_coroutine`.
        unsafe { (*self.coroutine.get()).take() }
    }

    /// Resumes the greenlet's worker, in place, with the greenlet marked as
    /// the running one, until it suspends; returns what it asks of the
    /// loop. Returns `None` at once if the greenlet has no worker (it has
    /// not started).
    ///
    /// # Safety
    ///
    /// Only the hub's loop calls this, on the main context (no greenlet
    /// running), and the header must stay alive until it returns.
    #[inline(always)]
    pub(crate) unsafe fn resume(&self) -> Option<Request> {
        // SAFETY: no greenlet runs (the caller's promise), so by the
        // invariant of `coroutine` no other borrow of it is live, and none
        // is made while this one lasts: the greenlet resumed below does not
        // touch it, and the loop is not reentered until it suspends.
        let worker = unsafe { (*self.coroutine.get()).as_deref_mut()? };
        log::trace!("switch to {}", self.describe());
        // SAFETY: `worker` runs this header's greenlet, and the caller keeps
        // the header alive until after the guard is dropped.
        let _running = unsafe { Running::enter(self) };
        match worker.resume(true) {
            corosensei::CoroutineResult::Yield(request) => Some(request),
            corosensei::CoroutineResult::Return(()) => {
                unreachable!("a worker returns only when idle")
            }
        }
    }

    /// The greenlet's slot in the hub's task table, while it is alive.
    #[inline(always)]
    pub(crate) fn key(&self) -> usize {
        self.key.get() as usize
    }

    /// Records the greenlet's slot in the hub's task table.
    ///
    /// # Panics
    ///
    /// Panics if `key` does not fit in 32 bits: four billion greenlets
    /// alive at once, far beyond any machine's memory.
    #[inline]
    pub(crate) fn set_key(&self, key: usize) {
        self.key
            .set(u32::try_from(key).expect("greenlet: fewer than 2^32 greenlets alive"));
    }

    /// Adds a context to those woken when the greenlet finishes.
    pub(crate) fn add_joiner(&self, waiter: Waiter) {
        let list = match self.joiners.take() {
            None => JoinList {
                first: waiter,
                more: Vec::new(),
            },
            Some(mut list) => {
                list.more.push(waiter);
                *list
            }
        };
        self.joiners.set(Some(Box::new(list)));
    }

    /// Takes the contexts waiting for the greenlet to finish, first come
    /// first: none for most greenlets.
    #[inline]
    pub(crate) fn take_joiners(&self) -> Option<impl Iterator<Item = Waiter>> {
        let list = self.joiners.take()?;
        Some(std::iter::once(list.first).chain(list.more))
    }

    /// A greenlet's name for messages: `greenlet 'name' (id 3)` or
    /// `greenlet 3`.
    pub(crate) fn describe(&self) -> String {
        match &self.name {
            Some(name) => format!("greenlet '{name}' (id {})", self.id),
            None => format!("greenlet {}", self.id),
        }
    }

    pub(crate) fn pending(&self) -> Option<Unwind> {
        decode(self.pending.get())
    }

    /// Records an unwind request. A kill is final; among timeouts the
    /// outermost (the oldest, smallest id) wins, because unwinding to it also
    /// leaves every inner scope.
    pub(crate) fn request_unwind(&self, unwind: Unwind) {
        self.pending
            .set(encode(Some(merge(self.pending(), unwind))));
    }

    /// Forgets the expiry of timeout `id`, once it has been caught.
    pub(crate) fn clear_timeout(&self, id: u64) {
        if self.pending() == Some(Unwind::Timeout(id)) {
            self.pending.set(NO_UNWIND);
        }
    }

    /// Forgets a pending kill once the greenlet's body has ended: the kill
    /// has done its work, and the destructors of the greenlet's locals and
    /// result may block as in any greenlet (a new kill interrupts them).
    #[inline(always)]
    pub(crate) fn clear_kill(&self) {
        if self.pending.get() == KILL {
            self.pending.set(NO_UNWIND);
        }
    }
}

/// Drops a worker out of line, keeping its drop glue off the callers' paths.
#[cold]
#[inline(never)]
fn drop_worker(worker: CoroutineBox) {
    drop(worker);
}

impl std::fmt::Debug for Header {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

fn merge(old: Option<Unwind>, new: Unwind) -> Unwind {
    match (old, new) {
        (Some(Unwind::Kill), _) | (_, Unwind::Kill) => Unwind::Kill,
        (Some(Unwind::Timeout(a)), Unwind::Timeout(b)) => Unwind::Timeout(a.min(b)),
        (None, new) => new,
    }
}

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

/// How many times [`drop_locals`] looks again for values that destructors
/// made meanwhile (as `PTHREAD_DESTRUCTOR_ITERATIONS`).
const LOCAL_DROP_ROUNDS: usize = 4;

/// Drops the `greenlet_local!` values in `cell`, the last made first, each
/// on its own: a panicking destructor is handed to `caught` and the others
/// still run. Values that destructors make meanwhile are dropped too, for a
/// few rounds; any left after those are leaked (and logged).
///
/// If `caught` unwinds (corosensei's unwinding of a greenlet torn down at
/// thread exit, which must pass), the values not dropped yet are put back
/// into `cell` first, for the teardown to drop.
pub(crate) fn drop_locals(
    cell: &Cell<Option<Box<LocalMap>>>,
    caught: impl Fn(Box<dyn std::any::Any + Send>),
) {
    for _ in 0..LOCAL_DROP_ROUNDS {
        let Some(mut map) = cell.take() else {
            return;
        };
        while let Some((_, value)) = map.pop() {
            if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| drop(value))) {
                let guard = PutBack {
                    cell,
                    map: Some(map),
                };
                caught(payload);
                map = guard.defuse();
            }
        }
    }
    if let Some(map) = cell.take() {
        log::warn!(
            "greenlet: {} greenlet_local! values made by destructors of others were leaked",
            map.len()
        );
        std::mem::forget(map);
    }
}

/// Puts the values of a local map not dropped yet back into its cell if
/// [`drop_locals`] is unwound.
struct PutBack<'a> {
    cell: &'a Cell<Option<Box<LocalMap>>>,
    map: Option<Box<LocalMap>>,
}

impl PutBack<'_> {
    fn defuse(mut self) -> Box<LocalMap> {
        self.map.take().expect("defused once")
    }
}

impl Drop for PutBack<'_> {
    fn drop(&mut self) {
        if let Some(mut map) = self.map.take() {
            if let Some(newer) = self.cell.take() {
                map.extend(*newer);
            }
            self.cell.set(Some(map));
        }
    }
}

/// Drops the main context's `greenlet_local!` values (at thread exit, or
/// after each use once the hub is closed). A panicking destructor is logged.
pub(crate) fn drop_main_locals() {
    MAIN_LOCALS.with(|locals| {
        drop_locals(locals, |payload| {
            super::greenlet::log_destructor_panic(
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

/// Called by a worker before it runs a greenlet's body: remembers its
/// yielder in the greenlet's header.
///
/// # Safety
///
/// `yielder` must be the one corosensei handed to the body of the worker
/// coroutine that is about to run the greenlet, so that it lives as long as
/// that coroutine runs.
pub(crate) unsafe fn started(yielder: &GreenletYielder) {
    with_current(|header| {
        header
            .expect("a greenlet starts only through the hub's loop")
            .yielder
            .set(yielder);
    });
}

/// Runs the body of the running greenlet: what a worker does after
/// [`started`].
///
/// # Panics
///
/// Panics in the main context (a worker runs only inside a greenlet).
pub(crate) fn run_current() {
    with_current(|header| task::run(header.expect("a worker runs a greenlet")));
}

/// Suspends the running greenlet back to the hub's loop with `request`,
/// after `park` has recorded (with the greenlet's header) what will wake it,
/// and returns when the loop resumes it. In the main context it returns
/// `false` at once, without calling `park`: the main context has no
/// coroutine to suspend.
#[inline(always)]
pub(crate) fn suspend_current(request: Request, park: impl FnOnce(&Header)) -> bool {
    let running = CURRENT.with(Cell::get);
    if running.is_null() {
        return false;
    }
    // SAFETY: by the invariant of CURRENT, a non-null pointer is the running
    // greenlet's header, alive until its coroutine finishes; it is still
    // running while `park` runs and when it suspends below.
    let header = unsafe { &*running };
    park(header);
    let yielder = header.yielder.get();
    debug_assert!(!yielder.is_null(), "a running greenlet has started");
    // SAFETY: by the invariant of `Header::yielder`, the running greenlet's
    // yielder, set when it started, points at the base of its stack, which
    // is alive while it runs. We are running on that greenlet now (possibly
    // inside a generator nested in it, which corosensei supports).
    unsafe { (*yielder).suspend(request) };
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
    if header.pending.get() != NO_UNWIND || std::thread::panicking() {
        return false;
    }
    let yielder = header.yielder.get();
    debug_assert!(!yielder.is_null(), "a running greenlet has started");
    // SAFETY: by the invariant of `Header::yielder`, the running greenlet's
    // yielder, set when it started, points at the base of its stack, which
    // is alive while it runs, and we are running on that greenlet now.
    unsafe { (*yielder).suspend(Request::Requeue) };
    if header.pending.get() != NO_UNWIND {
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

/// Records an unwind request for the main context.
pub(crate) fn request_main_unwind(unwind: Unwind) {
    MAIN_PENDING.with(|p| p.set(Some(merge(p.get(), unwind))));
}

/// Forgets the main context's expired timeout `id`, once caught.
pub(crate) fn clear_main_timeout(id: u64) {
    MAIN_PENDING.with(|p| {
        if p.get() == Some(Unwind::Timeout(id)) {
            p.set(None);
        }
    });
}

// --- issue 7 (stack overflow report): read by the SIGSEGV handler ---
/// The running greenlet's id, name and yielder address (the yielder lies at
/// the base of the greenlet's own stack), or `None` in the main context. For
/// the stack-overflow handler, which must not allocate or lock.
///
/// # Safety
///
/// The name is borrowed from the running greenlet's header, not `'static`:
/// it is valid only until that greenlet stops running. The caller (the
/// signal handler, which aborts afterwards) must not keep it beyond that.
pub(crate) unsafe fn running_greenlet_identity() -> crate::stack::RunningGreenlet<'static> {
    let running = CURRENT.with(Cell::get);
    // SAFETY: by the invariant of CURRENT, a non-null pointer is the running
    // greenlet's header, alive while it runs; the caller keeps the name no
    // longer than that.
    let header: &'static Header = unsafe { running.as_ref()? };
    Some((
        header.id,
        header.name.as_deref().map(String::as_str),
        header.yielder.get() as usize,
    ))
}
// --- end issue 7 ---

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kill_beats_timeouts_and_the_outermost_timeout_wins() {
        assert_eq!(merge(None, Unwind::Timeout(5)), Unwind::Timeout(5));
        assert_eq!(
            merge(Some(Unwind::Timeout(5)), Unwind::Timeout(2)),
            Unwind::Timeout(2)
        );
        assert_eq!(
            merge(Some(Unwind::Timeout(2)), Unwind::Timeout(5)),
            Unwind::Timeout(2)
        );
        assert_eq!(merge(Some(Unwind::Timeout(2)), Unwind::Kill), Unwind::Kill);
        assert_eq!(merge(Some(Unwind::Kill), Unwind::Timeout(1)), Unwind::Kill);
    }
}
