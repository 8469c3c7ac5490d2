//! Python-style generators: `send`, `yield`, `close` and `yield from`, on
//! stackful coroutines.

use std::cell::Cell;
use std::fmt;
use std::io;
use std::iter::FusedIterator;
use std::panic::{self, AssertUnwindSafe};
use std::thread;

use corosensei::{Coroutine, CoroutineResult};

use crate::stack::{self, PooledStack};

/// What one [`Generator::send`] gave back: a yielded value, or the body's
/// return value.
///
/// # Examples
///
/// ```
/// use greenlet::{Generator, GeneratorState};
///
/// let mut g = Generator::new(|co, ()| {
///     co.yield_('a');
///     7
/// });
/// assert_eq!(g.send(()), GeneratorState::Yielded('a'));
/// assert_eq!(g.send(()), GeneratorState::Complete(7));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GeneratorState<Y, R> {
    /// The body called [`Yielder::yield_`] with this value and is suspended.
    Yielded(Y),
    /// The body returned this value; the generator is now closed.
    Complete(R),
}

/// Where a generator is in its life, as Python's
/// `inspect.getgeneratorstate` tells it.
///
/// # Examples
///
/// ```
/// use greenlet::{Generator, GeneratorStatus};
///
/// let mut g: Generator<(), u8> = Generator::new(|co, ()| co.yield_(1));
/// assert_eq!(g.status(), GeneratorStatus::Created);
/// g.send(());
/// assert_eq!(g.status(), GeneratorStatus::Suspended);
/// g.close();
/// assert_eq!(g.status(), GeneratorStatus::Closed);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GeneratorStatus {
    /// Made but not started: the first [`Generator::send`] starts the body.
    Created,
    /// Suspended in [`Yielder::yield_`], waiting for the next send.
    Suspended,
    /// Running its body (only seen while a send is in progress).
    Running,
    /// Returned, panicked or closed. It can never run again.
    Closed,
}

/// The former name of [`GeneratorStatus`]: beside [`GeneratorState`] (what
/// a send returns) the two names were easy to confuse.
///
/// # Examples
///
/// ```
/// # #![allow(deprecated)]
/// assert_eq!(greenlet::State::Closed, greenlet::GeneratorStatus::Closed);
/// ```
#[deprecated(since = "0.1.0", note = "renamed `GeneratorStatus`")]
pub type State = GeneratorStatus;

/// The handle a generator's body uses to yield values and receive sent ones.
///
/// A body gets `&Yielder<S, Y>` as its first argument. It cannot be moved out
/// of the body or to another thread.
///
/// # Examples
///
/// ```
/// use greenlet::{Generator, GeneratorState, Yielder};
///
/// let mut echo = Generator::new(|co: &Yielder<String, usize>, first: String| {
///     let second = co.yield_(first.len());
///     second.len()
/// });
/// assert_eq!(echo.send("four".into()), GeneratorState::Yielded(4));
/// assert_eq!(echo.send("seven!!".into()), GeneratorState::Complete(7));
/// ```
#[repr(transparent)]
pub struct Yielder<S, Y> {
    // # Invariant
    // `repr(transparent)` over corosensei's yielder, so that `&corosensei::Yielder`
    // can be viewed as `&Yielder` (see `Yielder::wrap`).
    inner: corosensei::Yielder<S, Y>,
}

impl<S, Y> Yielder<S, Y> {
    fn wrap(inner: &corosensei::Yielder<S, Y>) -> &Self {
        // SAFETY: `Yielder` is `repr(transparent)` over `corosensei::Yielder`
        // with the same type parameters, so both have one layout, and the
        // returned reference keeps the lifetime of `inner`.
        unsafe { &*(inner as *const corosensei::Yielder<S, Y>).cast::<Self>() }
    }

    /// Suspends the body, handing `value` to the caller of
    /// [`Generator::send`], and returns the value of the next send.
    ///
    /// This is Python's `sent = yield value`.
    ///
    /// # Panics
    ///
    /// - When the generator is closed or dropped while suspended here, this
    ///   call unwinds the body so that its destructors run. Catching that
    ///   unwinding does not stop it: the next `yield_` unwinds again.
    /// - Panics, without suspending, if the body is unwinding: a destructor
    ///   called `yield_` during a panic of the body, or while [`close`] or
    ///   drop unwinds it (Python's `finally: yield x`, where Python raises
    ///   `RuntimeError: generator ignored GeneratorExit`). A body cannot
    ///   suspend halfway through unwinding, since the thread would stay
    ///   marked as panicking for its caller. Such a panic inside a destructor
    ///   aborts the process, as any panic escaping a destructor during
    ///   unwinding does, unless the destructor catches it
    ///   ([`catch_unwind`](std::panic::catch_unwind)). A generator driven
    ///   from a destructor while the thread is already panicking for another
    ///   reason yields normally; there, a yield during its own body's
    ///   unwinding is not told apart from one in a destructor of the body.
    ///
    /// [`close`]: Generator::close
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::{Generator, GeneratorState};
    ///
    /// let mut acc = Generator::new(|co, mut total: i32| loop {
    ///     total += co.yield_(total);
    /// });
    /// assert_eq!(acc.send(1), GeneratorState::Yielded(1));
    /// assert_eq!(acc.send(2), GeneratorState::Yielded(3));
    /// assert_eq!(acc.send(4), GeneratorState::Yielded(7));
    /// # let _: &Generator<i32, i32, ()> = &acc;
    /// ```
    #[inline]
    #[track_caller]
    pub fn yield_(&self, value: Y) -> S {
        if thread::panicking() && !SENT_WHILE_PANICKING.get() {
            yield_while_unwinding();
        }
        self.inner.suspend(value)
    }

    /// Delegates to `inner` until it completes, and returns its return value:
    /// Python's `result = yield from inner`.
    ///
    /// `inner` is sent `first` (where Python sends `None`). Every value it
    /// yields is yielded by this generator, and every value sent to this
    /// generator goes on to `inner`. `inner` may be new or already started.
    ///
    /// # Panics
    ///
    /// Panics if `inner` is already closed (it has no return value left to
    /// give), and passes on any panic of `inner`'s body.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::{Generator, GeneratorState};
    ///
    /// let mut outer = Generator::new(|co, first: u32| {
    ///     let inner = Generator::new(|co, n: u32| co.yield_(n * 10) + 1);
    ///     let got = co.yield_from(inner, first);
    ///     got * 2
    /// });
    /// assert_eq!(outer.send(4), GeneratorState::Yielded(40));
    /// assert_eq!(outer.send(5), GeneratorState::Complete(12));
    /// ```
    #[track_caller]
    pub fn yield_from<R2>(&self, mut inner: Generator<S, Y, R2>, first: S) -> R2 {
        let mut sent = first;
        loop {
            match inner.send(sent) {
                GeneratorState::Yielded(value) => sent = self.yield_(value),
                GeneratorState::Complete(result) => return result,
            }
        }
    }
}

impl<S, Y> fmt::Debug for Yielder<S, Y> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Yielder").finish_non_exhaustive()
    }
}

thread_local! {
    /// True while a body runs that was resumed by a [`Generator::send`] made
    /// while the thread was already panicking (from a destructor during
    /// unwinding): there, [`Yielder::yield_`] sees `thread::panicking()` but
    /// the body is not the one unwinding.
    ///
    /// # Invariant
    ///
    /// Changed only by a [`SentWhilePanickingScope`]: true around such a
    /// resumption, false around a forced unwind made while panicking. It is
    /// false whenever a send starts while the thread is not panicking, since
    /// code run by a body resumed while panicking cannot end that panic (it
    /// belongs to the caller's stack): every send nested in it starts while
    /// panicking too. So a send or `yield_` made while not panicking never
    /// touches it, and `yield_` reads it only when `thread::panicking()` is
    /// true.
    static SENT_WHILE_PANICKING: Cell<bool> = const { Cell::new(false) };
}

/// Sets [`SENT_WHILE_PANICKING`] for its lifetime: to true around a send
/// made while panicking, to false around a forced unwind made while
/// panicking. Dropped, it restores the value it found, so scopes nest.
struct SentWhilePanickingScope {
    outer: bool,
}

impl SentWhilePanickingScope {
    #[cold]
    fn new(value: bool) -> Self {
        SentWhilePanickingScope {
            outer: SENT_WHILE_PANICKING.replace(value),
        }
    }
}

impl Drop for SentWhilePanickingScope {
    fn drop(&mut self) {
        SENT_WHILE_PANICKING.set(self.outer);
    }
}

#[cold]
#[inline(never)]
#[track_caller]
fn yield_while_unwinding() -> ! {
    panic!(
        "greenlet: yield_() while the generator's body unwinds (a destructor yielded \
         during a panic of the body, or during close() or drop): a generator \
         cannot suspend halfway through unwinding"
    )
}

/// A generator: a body that runs on its own stack, yields values of type `Y`
/// out, receives values of type `S` in, and finally returns an `R`.
///
/// It follows Python's generators. The first [`send`](Self::send) starts the
/// body with the sent value as its second argument; each later send resumes
/// the body, becoming the return value of its pending
/// [`yield_`](Yielder::yield_). [`close`](Self::close) unwinds a suspended
/// body so that its destructors run, as `finally` blocks do in Python.
/// A `Generator<(), Y, R>` is also an [`Iterator`] over what it yields.
///
/// # Examples
///
/// ```
/// use greenlet::{Generator, GeneratorState, GeneratorStatus, Yielder};
///
/// let mut g: Generator<i64, i64, &'static str> = Generator::new(|co: &Yielder<i64, i64>, first: i64| {
///     let sent = co.yield_(first + 1);
///     co.yield_(sent * 2);
///     "done"
/// });
/// assert_eq!(g.status(), GeneratorStatus::Created);
/// assert_eq!(g.send(1), GeneratorState::Yielded(2));
/// assert_eq!(g.send(5), GeneratorState::Yielded(10));
/// assert_eq!(g.send(0), GeneratorState::Complete("done"));
/// assert_eq!(g.status(), GeneratorStatus::Closed);
/// ```
///
/// A generator stays on the thread that made it:
///
/// ```compile_fail
/// let g: greenlet::Generator<(), ()> = greenlet::Generator::new(|_, ()| ());
/// std::thread::spawn(move || drop(g));
/// ```
///
/// # Implementation notes
///
/// The body's stack comes from a per-thread pool and goes back to it when the
/// generator closes, so creating generators in a loop makes no system call.
/// A stack's size is fixed when the generator is made: [`new`](Self::new)
/// uses [`DEFAULT_STACK_SIZE`](crate::DEFAULT_STACK_SIZE), and
/// [`with_stack_size`](Self::with_stack_size) chooses another. A body that
/// overflows its stack hits a guard page: the process prints `a generator has
/// overflowed its stack of 256 KiB` (naming the greenlet it ran in, if any)
/// and aborts.
pub struct Generator<S, Y, R = ()> {
    /// `None` once closed: the stack has gone back to the pool.
    coroutine: Option<Coroutine<S, Y, R, PooledStack>>,
    state: GeneratorStatus,
}

impl<S: 'static, Y: 'static, R: 'static> Generator<S, Y, R> {
    /// Makes a generator that will run `body` on a stack of
    /// [`DEFAULT_STACK_SIZE`](crate::DEFAULT_STACK_SIZE) bytes.
    ///
    /// Nothing runs until the first [`send`](Self::send), whose value becomes
    /// `body`'s second argument.
    ///
    /// # Panics
    ///
    /// Panics if no stack can be had: the pool has none free and a new region
    /// of stacks would bring the process too near `vm.max_map_count`, or the
    /// kernel refuses it. [`with_stack_size`](Self::with_stack_size) returns
    /// that error instead.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::Generator;
    ///
    /// let squares = Generator::new(|co, ()| {
    ///     for i in 1..=3 {
    ///         co.yield_(i * i);
    ///     }
    /// });
    /// assert_eq!(squares.collect::<Vec<_>>(), [1, 4, 9]);
    /// ```
    #[track_caller]
    pub fn new<F>(body: F) -> Self
    where
        F: FnOnce(&Yielder<S, Y>, S) -> R + 'static,
    {
        match Self::with_stack_size(crate::DEFAULT_STACK_SIZE, body) {
            Ok(generator) => generator,
            Err(e) => panic!("greenlet: cannot allocate a generator stack: {e}"),
        }
    }

    /// Makes a generator whose body runs on a stack of at least `size` bytes.
    ///
    /// The size is rounded up to whole pages and to at least
    /// [`MIN_STACK_SIZE`](crate::MIN_STACK_SIZE). Use it for bodies that
    /// recurse deeply or keep large arrays on the stack.
    ///
    /// # Errors
    ///
    /// - [`io::ErrorKind::InvalidInput`] for a size above 1 GiB.
    /// - [`io::ErrorKind::OutOfMemory`] when no pooled stack of that size is
    ///   free and a new region of stacks would bring the process too near
    ///   `vm.max_map_count`, or the kernel's error when it refuses the region
    ///   (or the new stack's guard page). The message names the limit, the
    ///   current count of mappings and the ways out.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::{Generator, GeneratorState};
    ///
    /// fn depth(n: u64) -> u64 {
    ///     let pad = [n; 64]; // 512 bytes of stack per call
    ///     if n == 0 { 0 } else { 1 + depth(std::hint::black_box(pad)[0] - 1) }
    /// }
    ///
    /// let mut g = Generator::with_stack_size(16 << 20, |_, n: u64| depth(n))?;
    /// assert_eq!(g.send(5_000), GeneratorState::<(), _>::Complete(5_000));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn with_stack_size<F>(size: usize, body: F) -> io::Result<Self>
    where
        F: FnOnce(&Yielder<S, Y>, S) -> R + 'static,
    {
        let stack = stack::take(size)?;
        let coroutine = Coroutine::with_stack(stack, move |yielder, first| {
            body(Yielder::wrap(yielder), first)
        });
        Ok(Generator {
            coroutine: Some(coroutine),
            state: GeneratorStatus::Created,
        })
    }
}

impl<S, Y, R> Generator<S, Y, R> {
    /// Sends `value` into the body and runs it until it yields or returns.
    ///
    /// The first send starts the body, with `value` as its second argument.
    /// Every later send resumes the pending [`Yielder::yield_`], which
    /// returns `value`.
    ///
    /// # Panics
    ///
    /// - Panics if the generator is [`GeneratorStatus::Closed`]: it returned, panicked
    ///   or was closed before. Python raises `StopIteration` there.
    /// - A panic in the body comes out of `send`, and leaves the generator
    ///   closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::{Generator, GeneratorState};
    ///
    /// let mut g = Generator::new(|co, a: i32| {
    ///     let b = co.yield_(a);
    ///     a + b
    /// });
    /// assert_eq!(g.send(2), GeneratorState::Yielded(2));
    /// assert_eq!(g.send(3), GeneratorState::Complete(5));
    /// ```
    #[inline]
    #[track_caller]
    pub fn send(&mut self, value: S) -> GeneratorState<Y, R> {
        if thread::panicking() {
            return self.send_while_panicking(value);
        }
        self.resume(value)
    }

    /// [`send`](Self::send) when the thread is panicking already (a
    /// destructor drives the generator during unwinding): the body may yield,
    /// since the panic is not its own.
    #[cold]
    #[inline(never)]
    #[track_caller]
    fn send_while_panicking(&mut self, value: S) -> GeneratorState<Y, R> {
        let _sent_while_panicking = SentWhilePanickingScope::new(true);
        self.resume(value)
    }

    /// Runs the body until it yields or returns; what [`send`](Self::send)
    /// does.
    #[inline(always)]
    #[track_caller]
    fn resume(&mut self, value: S) -> GeneratorState<Y, R> {
        let Some(coroutine) = self.coroutine.as_mut() else {
            send_on_closed();
        };
        self.state = GeneratorStatus::Running;
        match panic::catch_unwind(AssertUnwindSafe(|| coroutine.resume(value))) {
            Ok(CoroutineResult::Yield(value)) => {
                self.state = GeneratorStatus::Suspended;
                GeneratorState::Yielded(value)
            }
            Ok(CoroutineResult::Return(result)) => {
                self.release_stack();
                GeneratorState::Complete(result)
            }
            Err(payload) => {
                self.release_stack();
                panic::resume_unwind(payload)
            }
        }
    }

    /// Where the generator is in its life.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::{Generator, GeneratorStatus};
    ///
    /// let mut g: Generator<(), ()> = Generator::new(|_, ()| ());
    /// assert_eq!(g.status(), GeneratorStatus::Created);
    /// g.send(());
    /// assert_eq!(g.status(), GeneratorStatus::Closed);
    /// ```
    pub fn status(&self) -> GeneratorStatus {
        self.state
    }

    /// The former name of [`Self::status`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #![allow(deprecated)]
    /// let g: greenlet::Generator<(), ()> = greenlet::Generator::new(|_, ()| ());
    /// assert_eq!(g.state(), g.status());
    /// ```
    #[deprecated(
        since = "0.1.0",
        note = "renamed `status`, beside the type `GeneratorStatus`"
    )]
    pub fn state(&self) -> GeneratorStatus {
        self.state
    }

    /// Closes the generator, as Python's `close()`.
    ///
    /// A suspended body is unwound from its pending [`Yielder::yield_`], so
    /// every value alive on its stack is dropped: the equivalent of running
    /// its `finally` blocks. A body that never started is dropped without
    /// running. The state becomes [`GeneratorStatus::Closed`], and the stack goes back
    /// to the pool. Closing a closed generator does nothing. Dropping a
    /// generator closes it.
    ///
    /// # Panics
    ///
    /// Passes on a panic raised by a destructor in the body while it unwinds.
    /// A destructor cannot yield then: its [`Yielder::yield_`] panics (where
    /// Python raises `RuntimeError: generator ignored GeneratorExit`).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::{Generator, GeneratorStatus};
    /// use std::{cell::Cell, rc::Rc};
    ///
    /// struct Finally(Rc<Cell<bool>>);
    /// impl Drop for Finally {
    ///     fn drop(&mut self) { self.0.set(true); }
    /// }
    ///
    /// let ran = Rc::new(Cell::new(false));
    /// let flag = ran.clone();
    /// let mut g: Generator<(), ()> = Generator::new(move |co, ()| {
    ///     let _finally = Finally(flag);
    ///     loop { co.yield_(()); }
    /// });
    /// g.send(());
    /// g.close();
    /// assert!(ran.get());
    /// assert_eq!(g.status(), GeneratorStatus::Closed);
    /// ```
    #[track_caller]
    pub fn close(&mut self) {
        self.state = GeneratorStatus::Closed;
        // Taken out first: if a destructor in the body panics while unwinding,
        // the coroutine (finished by then) is dropped with its stack, and the
        // generator is left closed.
        if let Some(mut coroutine) = self.coroutine.take() {
            if thread::panicking() {
                // The body unwinds now, whatever resumed its caller: a
                // `yield_` in its destructors must be refused.
                let _body_unwinds = SentWhilePanickingScope::new(false);
                coroutine.force_unwind();
            } else {
                coroutine.force_unwind();
            }
            stack::give(coroutine.into_stack());
        }
    }

    /// Marks the generator closed and returns its finished coroutine's stack
    /// to the pool.
    fn release_stack(&mut self) {
        self.state = GeneratorStatus::Closed;
        if let Some(coroutine) = self.coroutine.take() {
            stack::give(coroutine.into_stack());
        }
    }
}

#[cold]
#[inline(never)]
#[track_caller]
fn send_on_closed() -> ! {
    panic!("greenlet: send() on a closed generator (it returned, panicked or was closed)")
}

impl<S, Y, R> Drop for Generator<S, Y, R> {
    fn drop(&mut self) {
        self.close();
    }
}

impl<S, Y, R> fmt::Debug for Generator<S, Y, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Generator")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// Iterates over what the body yields; ends when the body returns (its return
/// value is dropped) and stays ended.
///
/// # Examples
///
/// ```
/// use greenlet::Generator;
///
/// let fib = Generator::new(|co, ()| {
///     let (mut a, mut b) = (0u64, 1);
///     loop {
///         co.yield_(b);
///         (a, b) = (b, a + b);
///     }
/// });
/// assert_eq!(fib.take(6).collect::<Vec<_>>(), [1, 1, 2, 3, 5, 8]);
/// ```
impl<Y, R> Iterator for Generator<(), Y, R> {
    type Item = Y;

    fn next(&mut self) -> Option<Y> {
        if self.state == GeneratorStatus::Closed {
            return None;
        }
        match self.send(()) {
            GeneratorState::Yielded(value) => Some(value),
            GeneratorState::Complete(_) => None,
        }
    }
}

impl<Y, R> FusedIterator for Generator<(), Y, R> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steady_state_creation_maps_no_stack() {
        let run_one = || {
            let mut g: Generator<u32, u32, u32> = Generator::new(|co, n| co.yield_(n) + 1);
            assert_eq!(g.send(1), GeneratorState::Yielded(1));
            assert_eq!(g.send(2), GeneratorState::Complete(3));
        };
        let drop_suspended = || {
            let mut g: Generator<(), ()> = Generator::new(|co, ()| {
                loop {
                    co.yield_(());
                }
            });
            g.send(());
        };
        run_one();
        let mapped = stack::mapped_count();
        for _ in 0..1_000 {
            run_one();
            drop_suspended();
        }
        assert_eq!(
            stack::mapped_count(),
            mapped,
            "every stack came from the pool"
        );
    }

    #[test]
    fn a_panicking_body_returns_its_stack_to_the_pool() {
        let mut g: Generator<(), (), ()> = Generator::new(|_, ()| panic!("boom"));
        let pooled = stack::pooled_count();
        assert!(panic::catch_unwind(AssertUnwindSafe(|| g.send(()))).is_err());
        assert_eq!(stack::pooled_count(), pooled + 1);
    }
}
