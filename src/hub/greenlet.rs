//! Greenlets: spawning, joining, killing, and the handles to them.

use std::fmt;
use std::io;
use std::panic::Location;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::blocking::{block_until, raise_pending};
use super::context;
use super::header::{Header, Name};
use super::scheduler::Start;
use super::task::{TaskRef, TypedTask};
use super::thread::with_hub;
use super::unwind::JoinError;
use super::wait::{Unwind, WaitReason};

/// A handle to a greenlet: a green thread of this OS thread, run by the hub.
///
/// Dropping the handle detaches the greenlet: it keeps running, and drops
/// its own result when it ends (a panic in that destructor is logged as the
/// greenlet's). Dropping the handle of a finished greenlet drops its result
/// there. Handles cannot leave their thread:
///
/// ```compile_fail
/// let g = greenlet::spawn(|| ());
/// std::thread::spawn(move || g.join());
/// ```
///
/// # Examples
///
/// ```
/// let g = greenlet::spawn(|| 6 * 7);
/// assert!(!g.is_finished()); // spawn only queues it
/// assert_eq!(g.join().unwrap(), 42);
/// ```
pub struct Greenlet<T> {
    shared: TypedTask<T>,
}

impl<T> Greenlet<T> {
    /// Waits for the greenlet to finish and returns its result.
    ///
    /// Called from the main context, `join` runs the hub until the greenlet
    /// is done; called from a greenlet, it suspends the caller meanwhile.
    ///
    /// # Errors
    ///
    /// - [`JoinError::Panicked`] with the payload if the greenlet panicked,
    ///   or if it could not start because no stack could be allocated (the
    ///   payload is then a `String` naming the cause).
    /// - [`JoinError::Killed`] if it was killed.
    ///
    /// # Panics
    ///
    /// - Panics if a greenlet joins itself, and, in the main context, with
    ///   the deadlock report if nothing can ever finish the greenlet.
    /// - Unwinds the caller if it is killed, or its timeout expires, while
    ///   it waits.
    ///
    /// # Examples
    ///
    /// ```
    /// let inner = greenlet::spawn(|| "inner");
    /// let outer = greenlet::spawn(move || inner.join().unwrap().len());
    /// assert_eq!(outer.join().unwrap(), 5);
    /// ```
    #[track_caller]
    #[inline]
    pub fn join(self) -> Result<T, JoinError> {
        if !self.is_finished() {
            self.wait_as("join");
        }
        self.shared
            .outcome()
            .take()
            .expect("a finished greenlet has an outcome")
    }

    /// Kills the greenlet and waits until it is dead.
    ///
    /// - A greenlet that has not started never runs: its closure is dropped.
    /// - A started one unwinds from the blocking call it is suspended in, so
    ///   its destructors run. Code that catches that unwinding cannot keep it
    ///   alive: its next blocking call unwinds again.
    /// - Killing a finished greenlet does nothing.
    /// - A greenlet that kills itself unwinds at once.
    ///
    /// Its [`join`](Self::join) then returns [`JoinError::Killed`].
    ///
    /// # Panics
    ///
    /// Unwinds the caller if it is itself killed, or its timeout expires,
    /// while it waits. While the thread is unwinding, `kill` requests the
    /// kill and returns without waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let sleeper = greenlet::spawn(|| greenlet::sleep(Duration::from_secs(3600)));
    /// greenlet::yield_now(); // let it start sleeping
    /// sleeper.kill();
    /// assert!(sleeper.is_finished());
    /// assert!(sleeper.join().unwrap_err().is_killed());
    /// ```
    #[track_caller]
    pub fn kill(&self) {
        kill(self.shared.header());
    }

    /// Waits for the greenlet to finish, without taking its result: the
    /// handle stays, for [`join`](Self::join) or [`kill`](Self::kill).
    ///
    /// # Panics
    ///
    /// As [`join`](Self::join).
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenlet::spawn(|| 6 * 7);
    /// g.wait();
    /// assert!(g.is_finished());
    /// assert_eq!(g.join().unwrap(), 42); // at once
    /// ```
    #[track_caller]
    pub fn wait(&self) {
        self.wait_as("wait");
    }

    /// Waits up to `timeout` for the greenlet to finish; returns whether it
    /// has. Unlike `with_timeout(d, move || g.join())`, the handle stays
    /// whatever happens.
    ///
    /// # Panics
    ///
    /// As [`join`](Self::join) (with no deadlock report: the timeout ends
    /// the wait).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let g = greenlet::spawn(|| greenlet::sleep(Duration::from_secs(60)));
    /// assert!(!g.wait_timeout(Duration::from_millis(5))); // still running
    /// g.kill();
    /// assert!(g.wait_timeout(Duration::ZERO));
    /// ```
    #[track_caller]
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let header = self.shared.header();
        check_not_self(header);
        wait_finished_until(header, "wait_timeout", deadline_after(timeout))
    }

    /// Kills the greenlet and waits up to `timeout` for it to die; returns
    /// whether it has. A greenlet whose destructors block may take longer:
    /// it goes on dying after a `false`.
    ///
    /// # Panics
    ///
    /// As [`kill`](Self::kill).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let g = greenlet::spawn(|| greenlet::sleep(Duration::from_secs(60)));
    /// greenlet::yield_now(); // let it start sleeping
    /// assert!(g.kill_timeout(Duration::from_secs(1)));
    /// assert!(g.join().unwrap_err().is_killed());
    /// ```
    #[track_caller]
    pub fn kill_timeout(&self, timeout: Duration) -> bool {
        let header = self.shared.header();
        request_kill(header);
        header.finished.get()
            || (!std::thread::panicking()
                && wait_finished_until(header, "kill_timeout", deadline_after(timeout)))
    }

    /// `join`'s and `wait`'s wait, recorded as `what`.
    #[track_caller]
    #[inline(never)]
    fn wait_as(&self, what: &'static str) {
        let header = self.shared.header();
        check_not_self(header);
        wait_finished(header, what);
    }

    /// The greenlet's id: unique on its thread, counting from 1 (the main
    /// context is 0).
    ///
    /// # Examples
    ///
    /// ```
    /// let a = greenlet::spawn(|| ());
    /// let b = greenlet::spawn(|| ());
    /// assert!(b.id() > a.id() && a.id() > 0);
    /// ```
    pub fn id(&self) -> u64 {
        self.shared.header().id
    }

    /// The name given with [`Builder::name`], if any.
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenlet::Builder::new().name("worker").spawn(|| ())?;
    /// assert_eq!(g.name(), Some("worker"));
    /// assert_eq!(greenlet::spawn(|| ()).name(), None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.shared.header().name.as_deref().map(String::as_str)
    }

    /// True once the greenlet has returned, panicked or been killed.
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenlet::spawn(|| ());
    /// assert!(!g.is_finished());
    /// greenlet::yield_now();
    /// assert!(g.is_finished());
    /// ```
    pub fn is_finished(&self) -> bool {
        self.shared.header().finished.get()
    }

    /// Adds a `greenlet::wait` watching for the greenlet to finish (woken
    /// with its joiners). Stale waits of earlier calls are pruned as
    /// `Waiter::time_to_prune` says.
    pub(crate) fn watch(&self, waiter: super::wait::Waiter) {
        let header = self.shared.header();
        if super::wait::Waiter::time_to_prune(header.joiner_count()) {
            header.retain_joiners(|w| with_hub(|hub| hub.is_live(w)));
        }
        header.add_joiner(waiter);
    }

    /// A type-erased handle to this greenlet, for groups.
    pub(crate) fn kill_handle(&self) -> KillHandle
    where
        T: 'static,
    {
        KillHandle {
            task: self.shared.task().clone(),
        }
    }
}

/// Dropping the handle detaches the greenlet. If it has finished, its
/// result is dropped here; otherwise the greenlet drops it itself when it
/// ends, so that its destructor never runs in the hub's loop.
impl<T> Drop for Greenlet<T> {
    #[inline]
    fn drop(&mut self) {
        let header = self.shared.header();
        if header.finished.get() {
            drop(self.shared.outcome().take()); // none left after `join`
        } else {
            // Its outcome is recorded, if at all, as it finishes: the
            // greenlet drops it instead.
            header.detached.set(true);
        }
    }
}

/// Whether `header` is the running greenlet's.
fn is_current(header: &Header) -> bool {
    context::with_current(|h| h.is_some_and(|h| std::ptr::eq(h, header)))
}

/// Panics if the running greenlet would wait for itself to finish.
#[track_caller]
fn check_not_self(header: &Header) {
    assert!(
        header.finished.get() || !is_current(header),
        "greenlet: {} cannot join or wait for itself",
        header.describe()
    );
}

/// Blocks until the greenlet of `header` has finished.
#[track_caller]
fn wait_finished(header: &Header, what: &'static str) {
    wait_finished_until(header, what, None);
}

/// Blocks until the greenlet of `header` has finished or `deadline`
/// passes; returns whether it has finished.
#[track_caller]
fn wait_finished_until(header: &Header, what: &'static str, deadline: Option<Instant>) -> bool {
    wait_finished_located(header, what, deadline, Location::caller())
}

/// [`wait_finished_until`], reported at `at`.
#[track_caller]
fn wait_finished_located(
    header: &Header,
    what: &'static str,
    deadline: Option<Instant>,
    at: &'static Location<'static>,
) -> bool {
    while !header.finished.get() {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return false;
        }
        let reason = WaitReason::on_greenlet(what, header.id).located(at);
        block_until(reason, deadline, |me| header.add_joiner(me));
    }
    true
}

/// The deadline `timeout` from now; `None` (for ever) if it cannot be
/// represented.
fn deadline_after(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

/// [`Greenlet::kill`], on the greenlet's header.
#[track_caller]
fn kill(header: &Header) {
    request_kill(header);
    if !header.finished.get() && !std::thread::panicking() {
        wait_finished(header, "kill");
    }
}

/// Starts killing the greenlet of `header` without waiting for it to die:
/// one that has not started is removed at once (its closure dropped), one
/// that has gets a pending kill. The running greenlet unwinds at once.
fn request_kill(header: &Header) {
    if header.finished.get() {
        return;
    }
    if is_current(header) {
        header.request_unwind(Unwind::Kill);
        raise_pending();
        return;
    }
    let unstarted = with_hub(|hub| hub.kill(header.key()));
    if let Some(task) = unstarted {
        // Outside the hub: a logger, and the closure's captures, may call
        // back into it.
        log::debug!("killed {} before it started", header.describe());
        task.discard_body(None);
    }
}

/// A type-erased handle to a greenlet that can kill it and wait for it
/// without consuming a [`Greenlet`]: what a group keeps of its members.
#[derive(Clone)]
pub(crate) struct KillHandle {
    task: TaskRef,
}

impl KillHandle {
    pub(crate) fn id(&self) -> u64 {
        self.task.header().id
    }

    /// As [`Greenlet::kill`].
    #[track_caller]
    pub(crate) fn kill(&self) {
        kill(self.task.header());
    }

    /// True once the greenlet has finished.
    pub(crate) fn is_finished(&self) -> bool {
        self.task.header().finished.get()
    }

    /// Starts the kill without waiting (see `request_kill`).
    pub(crate) fn request_kill(&self) {
        request_kill(self.task.header());
    }

    /// Blocks until the greenlet has finished (at once if it has).
    #[track_caller]
    pub(crate) fn wait(&self) {
        wait_finished(self.task.header(), "join");
    }

    /// As [`Self::wait`], reporting the wait as `what` at `at` (a scope's
    /// owner, waiting for its children in a closure of the library).
    #[track_caller]
    pub(crate) fn wait_as(&self, what: &'static str, at: &'static Location<'static>) {
        wait_finished_located(self.task.header(), what, None, at);
    }
}

impl fmt::Debug for KillHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KillHandle")
            .field("id", &self.id())
            .finish()
    }
}

impl<T> fmt::Debug for Greenlet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Greenlet")
            .field("id", &self.id())
            .field("name", &self.name())
            .field("finished", &self.is_finished())
            .field("waiting", &self.shared.header().joiner_count())
            .finish()
    }
}

/// Configures a greenlet before spawning it: its name and its stack size.
///
/// # Examples
///
/// ```
/// let g = greenlet::Builder::new()
///     .name("parser")
///     .stack_size(1 << 20)
///     .spawn(|| greenlet::current().name().map(String::from))?;
/// assert_eq!(g.join().unwrap().as_deref(), Some("parser"));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Builder {
    name: Option<String>,
    stack_size: Option<usize>,
}

impl Builder {
    /// A builder with no name and the default stack size.
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenlet::Builder::new().spawn(|| 1)?;
    /// assert_eq!(g.join().unwrap(), 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Names the greenlet, for [`Greenlet::name`], [`current`], logs and the
    /// deadlock report.
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenlet::Builder::new().name("g1").spawn(|| ())?;
    /// assert_eq!(g.name(), Some("g1"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the usable stack size in bytes, rounded up to whole pages and to
    /// at least [`MIN_STACK_SIZE`](crate::MIN_STACK_SIZE). The default is
    /// [`DEFAULT_STACK_SIZE`](crate::DEFAULT_STACK_SIZE). A greenlet that
    /// overflows its stack makes the process print `greenlet 'name' (id 3)
    /// has overflowed its stack of 256 KiB` and abort.
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenlet::Builder::new().stack_size(8 << 20).spawn(|| ())?;
    /// g.join().unwrap();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = Some(bytes);
        self
    }

    /// Spawns the greenlet: it is queued at the back of the ready queue and
    /// runs when the current context blocks or yields.
    ///
    /// # Errors
    ///
    /// - [`io::ErrorKind::InvalidInput`] for a stack size above 1 GiB.
    /// - [`io::ErrorKind::OutOfMemory`] (or the kernel's error) when no
    ///   stack can be reserved: more stacks would need a new memory mapping,
    ///   and the process is near `vm.max_map_count` or the kernel refuses
    ///   it. The message names the limit, the current count of mappings,
    ///   and the ways out (raise the limit, or use smaller stacks). Nothing
    ///   else is affected: greenlets already spawned run as before.
    ///
    /// # Implementation notes
    ///
    /// A greenlet gets its stack when it first runs, so spawning allocates
    /// only the closure and reserves a stack (a counter, except when a new
    /// region of stacks must be mapped). If the kernel then refuses the new
    /// stack's guard page (out of memory), the greenlet never runs, the
    /// failure is logged with `log::error!`, and [`Greenlet::join`] returns
    /// [`JoinError::Panicked`] with a message naming the cause.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = greenlet::Builder::new().stack_size(1 << 40).spawn(|| ()).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// ```
    #[track_caller]
    pub fn spawn<T, F>(self, f: F) -> io::Result<Greenlet<T>>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        let stack_size =
            crate::stack::check_stack_size(self.stack_size.unwrap_or(crate::DEFAULT_STACK_SIZE))?;
        spawn_checked(self.name.map(Rc::new), stack_size, Start::Now, f)
    }
}

/// Spawns a greenlet whose stack size has been checked: reserves its stack
/// (taken when it starts) and queues it.
///
/// Once the hub is closed (at thread exit, see `context::close`), no
/// greenlet can run: the new one is killed at once, its closure dropped
/// here, and its `join` returns [`JoinError::Killed`].
///
/// # Errors
///
/// The stack pool's, when no stack can be reserved.
#[inline(always)]
#[track_caller]
fn spawn_checked<T, F>(
    name: Option<Name>,
    stack_size: usize,
    start: Start,
    f: F,
) -> io::Result<Greenlet<T>>
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    let at = Location::caller();
    if context::is_closed() {
        return Ok(spawn_dead(name, stack_size, at, f));
    }
    crate::stack::reserve(stack_size)?;
    Ok(spawn_task(name, stack_size, start, at, f))
}

/// Spawns a greenlet whose stack is reserved.
#[inline(always)]
fn spawn_task<T, F>(
    name: Option<Name>,
    stack_size: usize,
    start: Start,
    at: &'static Location<'static>,
    f: F,
) -> Greenlet<T>
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    let shared = with_hub(|hub| {
        let shared = TypedTask::new(hub.next_greenlet_id(), name, stack_size, at, f);
        hub.insert(shared.task().clone(), start);
        shared
    });
    // Outside the hub's borrow: a logger may call back into it.
    log::debug!("spawned {}", shared.header().describe());
    Greenlet { shared }
}

/// A greenlet spawned once the hub is closed: killed before it starts.
#[cold]
fn spawn_dead<T, F>(
    name: Option<Name>,
    stack_size: usize,
    at: &'static Location<'static>,
    f: F,
) -> Greenlet<T>
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    let shared = with_hub(|hub| TypedTask::new(hub.next_greenlet_id(), name, stack_size, at, f));
    let header = shared.header();
    header.finished.set(true);
    log::debug!(
        "{} spawned after the hub's teardown at thread exit: it never runs",
        header.describe()
    );
    shared.task().discard_body(None);
    Greenlet { shared }
}

/// Spawns a greenlet that runs `f`, and returns its handle.
///
/// The greenlet is queued at the back of the ready queue: it runs when the
/// current context blocks or yields (for the main context, at its first
/// `join`, `sleep`, `yield_now`, `run`…). It always runs on this thread.
///
/// # Panics
///
/// Panics with the message of [`Builder::spawn`]'s error when no stack can
/// be reserved (the process is near `vm.max_map_count`).
///
/// # Examples
///
/// ```
/// let g = greenlet::spawn(|| "hello from a greenlet");
/// assert_eq!(g.join().unwrap(), "hello from a greenlet");
/// ```
#[track_caller]
pub fn spawn<T, F>(f: F) -> Greenlet<T>
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    spawn_checked(None, crate::DEFAULT_STACK_SIZE, Start::Now, f).unwrap_or_else(|e| panic!("{e}"))
}

/// Spawns a greenlet that starts after `delay`.
///
/// Until then it has no stack. Killing it before then means it never runs.
/// A delay too long to add to `Instant::now()` (such as `Duration::MAX`)
/// means it never starts on its own: only a kill ends it.
///
/// # Panics
///
/// As [`spawn`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let g = greenlet::spawn_later(Duration::from_millis(10), || "later");
/// assert_eq!(g.join().unwrap(), "later");
/// ```
#[track_caller]
pub fn spawn_later<T, F>(delay: Duration, f: F) -> Greenlet<T>
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    // A delay too long to add to the clock is for ever, as for `sleep`.
    let start = match Instant::now().checked_add(delay) {
        Some(at) => Start::At(at),
        None => Start::Never,
    };
    spawn_checked(None, crate::DEFAULT_STACK_SIZE, start, f).unwrap_or_else(|e| panic!("{e}"))
}

/// Joins every greenlet, in order, and returns their results in that order.
///
/// # Panics
///
/// As [`Greenlet::join`].
///
/// # Examples
///
/// ```
/// let gs: Vec<_> = (0..3).map(|i| greenlet::spawn(move || i * 10)).collect();
/// let results: Vec<u32> = greenlet::joinall(gs).into_iter().map(Result::unwrap).collect();
/// assert_eq!(results, [0, 10, 20]);
/// ```
#[track_caller]
pub fn joinall<T, I>(greenlets: I) -> Vec<Result<T, JoinError>>
where
    I: IntoIterator<Item = Greenlet<T>>,
{
    // A loop, not `map(Greenlet::join)`: the caller's location must reach
    // each join.
    let mut results = Vec::new();
    for g in greenlets {
        results.push(g.join());
    }
    results
}

/// Kills every greenlet, then waits until all are dead: gevent's
/// `killall`. Every kill is requested before the first wait, so the
/// greenlets die together instead of one after another.
///
/// # Panics
///
/// As [`Greenlet::kill`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let gs: Vec<_> = (0..3)
///     .map(|_| greenlet::spawn(|| greenlet::sleep(Duration::from_secs(60))))
///     .collect();
/// greenlet::yield_now(); // they start sleeping
/// greenlet::killall(&gs.iter().collect::<Vec<_>>());
/// assert!(gs.iter().all(|g| g.is_finished()));
/// ```
#[track_caller]
pub fn killall<T>(greenlets: &[&Greenlet<T>]) {
    for g in greenlets {
        request_kill(g.shared.header());
    }
    for g in greenlets {
        g.kill();
    }
}

/// Waits up to `timeout` for every greenlet to finish; returns whether all
/// have. The handles stay, finished or not: join the finished ones for
/// their results, kill the others.
///
/// # Panics
///
/// As [`Greenlet::wait_timeout`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let quick = greenlet::spawn(|| 1);
/// let slow = greenlet::spawn(|| greenlet::sleep(Duration::from_secs(60)));
/// assert!(!greenlet::joinall_timeout(&[&quick], Duration::ZERO)); // not started yet
/// assert!(greenlet::joinall_timeout(&[&quick], Duration::from_secs(1)));
/// let both = [&slow];
/// assert!(!greenlet::joinall_timeout(&both, Duration::from_millis(5)));
/// slow.kill();
/// assert_eq!(quick.join().unwrap(), 1);
/// ```
#[track_caller]
pub fn joinall_timeout<T>(greenlets: &[&Greenlet<T>], timeout: Duration) -> bool {
    let deadline = deadline_after(timeout);
    // A loop, not a closure: the caller's location must reach each wait.
    for g in greenlets {
        let header = g.shared.header();
        check_not_self(header);
        if !wait_finished_until(header, "joinall_timeout", deadline) {
            return false;
        }
    }
    true
}

/// The running context: a greenlet, or the main context (the thread's own
/// stack), whose id is 0 and whose name is `"main"`.
///
/// # Examples
///
/// ```
/// assert_eq!(greenlet::current().id(), 0);
/// assert_eq!(greenlet::current().name(), Some("main"));
/// let g = greenlet::Builder::new().name("g1").spawn(|| greenlet::current())?;
/// let inside = g.join().unwrap();
/// assert_eq!(inside.name(), Some("g1"));
/// assert!(inside.id() > 0);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Current {
    id: u64,
    name: Option<Name>,
}

impl Current {
    /// The running greenlet's id, or 0 for the main context.
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenlet::spawn(|| greenlet::current().id());
    /// let id = g.id();
    /// assert_eq!(g.join().unwrap(), id);
    /// ```
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The running greenlet's name, `"main"` for the main context, or `None`
    /// for an unnamed greenlet.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(greenlet::spawn(|| greenlet::current().name().map(String::from)).join().unwrap(), None);
    /// ```
    pub fn name(&self) -> Option<&str> {
        if self.id == 0 {
            Some("main")
        } else {
            self.name.as_deref().map(String::as_str)
        }
    }
}

/// Returns the running context.
///
/// # Examples
///
/// ```
/// let me = greenlet::current();
/// assert_eq!((me.id(), me.name()), (0, Some("main")));
/// ```
pub fn current() -> Current {
    context::with_current(|header| match header {
        Some(h) => Current {
            id: h.id,
            name: h.name.clone(),
        },
        None => Current { id: 0, name: None },
    })
}

/// Every context of this thread's hub and what it is doing, one line each:
/// gevent's `format_run_info`. A blocked context's line names the call it
/// blocks in, the object or greenlet it waits on (by name when it has one:
/// see [`Builder::name`] and [`Event::named`](crate::sync::Event::named)),
/// and the source line of that call. The deadlock report is made of the
/// same lines.
///
/// # Examples
///
/// ```
/// use greenlet::sync::Event;
///
/// let ready = Event::named("ready");
/// let waiter = ready.clone();
/// let g = greenlet::Builder::new().name("worker").spawn(move || waiter.wait())?;
/// greenlet::yield_now(); // the worker starts, and waits
/// let info = greenlet::run_info();
/// println!("{info}");
/// assert!(info.contains("main is running"));
/// assert!(info.contains("greenlet 'worker' (id 1) waits on Event::wait on 'ready' at "));
/// ready.set();
/// g.join().unwrap();
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn run_info() -> String {
    with_hub(|hub| hub.run_info())
}
