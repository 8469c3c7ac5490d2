//! Scoped greenlets, as `std::thread::scope`: greenlets that may borrow
//! from the stack of the context that made the scope, because the scope
//! does not end until every one of them has finished.
//!
//! # Soundness
//!
//! A scoped greenlet's closure borrows for `'scope`, shorter than the
//! caller's frame; the greenlet itself runs on a stack of its own, resumed
//! by the hub at any later switch. Its closure is given to the hub with the
//! lifetime erased (the one `unsafe` here), which is sound only if no
//! scoped greenlet can run, or be dropped, once [`scope`] has returned or
//! unwound past its frame. So [`scope`] leaves only when every greenlet of
//! the scope has finished:
//!
//! - The caller's closure runs under `catch_unwind`: if it panics, or is
//!   killed or timed out (its wait unwinds), the unwinding stops in `scope`,
//!   which then waits for the children before it resumes the unwinding. It
//!   never switches while unwinding: the catch ends the unwinding first.
//! - It waits with its own pending kill or timeout set aside (see
//!   `hub::shielded`), so that its waits block instead of unwinding; if the
//!   owner was killed or timed out, it kills the children first. A kill or
//!   timeout arriving during the wait kills the children too, and is
//!   raised once they have finished.
//! - If the wait panics (the main context's deadlock report: the children
//!   wait on something nothing will ever do), the scope kills the children,
//!   which wakes them to unwind, waits again, and then raises the report.
//! - At thread exit the hub tears greenlets down newest first: children,
//!   spawned while their owner ran, are unwound before the owner's stack.
//!
//! A child that is killed unwinds and ends; if its destructors block, they
//! are interrupted in turn (a kill is final), so every wait ends.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe, Location};
use std::rc::Rc;

use crate::hub::{KillHandle, is_unwind_request, panic_message, shielded};
use crate::{Greenlet, JoinError};

/// What a scoped greenlet hands back: its value, or its panic's payload.
type Outcome<T> = Option<Result<T, Box<dyn Any + Send>>>;

/// A scope's children, as the scope sees them (no borrowed types: the
/// scope's own drop must not need `'scope`).
struct Child {
    greenlet: KillHandle,
    /// Set when the child panics, cleared when `join` takes the panic.
    unhandled_panic: Rc<Cell<bool>>,
}

/// A scope of greenlets, made by [`scope`]: greenlets spawned with
/// [`Scope::spawn`] may borrow anything that outlives the scope.
///
/// # Examples
///
/// ```
/// let counts = [1, 2, 3];
/// let total = greenlet::scope(|s| {
///     let handles: Vec<_> = counts.iter().map(|n| s.spawn(move || n * 10)).collect();
///     handles.into_iter().map(|h| h.join().unwrap()).sum::<i32>()
/// });
/// assert_eq!(total, 60);
/// ```
pub struct Scope<'scope, 'env: 'scope> {
    children: RefCell<Vec<Child>>,
    /// The user's `scope` call, where the owner's wait for the children is
    /// reported.
    at: &'static Location<'static>,
    /// Invariant in `'scope` and `'env`, as `std::thread::Scope`.
    scope: PhantomData<&'scope mut &'scope ()>,
    env: PhantomData<&'env mut &'env ()>,
}

/// The handle of a scoped greenlet: [`join`](Self::join) it for its result.
/// Dropping it detaches the greenlet, which the scope still waits for.
///
/// # Examples
///
/// ```
/// let word = String::from("scoped");
/// greenlet::scope(|s| {
///     let h = s.spawn(|| word.len());
///     assert_eq!(h.join().unwrap(), 6);
/// });
/// ```
pub struct ScopedJoinHandle<'scope, T> {
    greenlet: Greenlet<()>,
    outcome: Rc<RefCell<Outcome<T>>>,
    unhandled_panic: Rc<Cell<bool>>,
    scope: PhantomData<&'scope ()>,
}

/// Runs `f` with a [`Scope`] whose greenlets may borrow from the caller's
/// stack, and returns `f`'s result once every greenlet spawned in the scope
/// has finished: `std::thread::scope` for greenlets.
///
/// # Panics
///
/// - Panics with `f`'s panic, once every child has finished.
/// - Panics if a child panicked and nobody took its panic with
///   [`ScopedJoinHandle::join`], once every child has finished.
/// - If the calling greenlet is killed or times out while the children run,
///   the children are killed and waited for, then the caller unwinds.
///
/// The borrow rules are std's: a child cannot outlive the scope,
///
/// ```compile_fail
/// let mut escaped = None;
/// greenlet::scope(|s| {
///     escaped = Some(s.spawn(|| ()));
/// });
/// ```
///
/// and two children cannot share a `&mut`:
///
/// ```compile_fail
/// let mut n = 0;
/// greenlet::scope(|s| {
///     s.spawn(|| n += 1);
///     s.spawn(|| n += 1);
/// });
/// ```
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let mut words = vec!["a".to_string(), "bb".to_string()];
/// let total = greenlet::scope(|s| {
///     let h = s.spawn(|| words.iter().map(|w| w.len()).sum::<usize>()); // borrows `words`
///     s.spawn(|| greenlet::sleep(Duration::from_millis(1)));
///     h.join().unwrap()
/// }); // every greenlet of the scope has finished here
/// words.push("ccc".into()); // the borrow has ended
/// assert_eq!(total, 3);
/// ```
#[track_caller]
pub fn scope<'env, F, T>(f: F) -> T
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
{
    let scope = Scope {
        children: RefCell::new(Vec::new()),
        at: Location::caller(),
        scope: PhantomData,
        env: PhantomData,
    };
    let result = panic::catch_unwind(AssertUnwindSafe(|| f(&scope)));
    scope.wait_children();
    let value = match result {
        Ok(value) => value,
        Err(payload) => panic::resume_unwind(payload),
    };
    if scope
        .children
        .borrow()
        .iter()
        .any(|c| c.unhandled_panic.get())
    {
        panic!("greenlet: a scoped greenlet panicked");
    }
    value
}

impl<'scope, 'env> Scope<'scope, 'env> {
    /// Spawns a greenlet in the scope. It may borrow anything that outlives
    /// the scope; the scope waits for it to finish. As [`spawn`](crate::spawn),
    /// it runs when the caller next blocks or yields.
    ///
    /// # Panics
    ///
    /// As [`spawn`](crate::spawn), when no stack can be reserved.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut hits = 0;
    /// greenlet::scope(|s| {
    ///     s.spawn(|| hits += 1); // a `&mut` for one child
    /// });
    /// assert_eq!(hits, 1);
    /// ```
    #[track_caller]
    pub fn spawn<F, T>(&'scope self, f: F) -> ScopedJoinHandle<'scope, T>
    where
        F: FnOnce() -> T + 'scope,
        T: 'scope,
    {
        let outcome: Rc<RefCell<Outcome<T>>> = Rc::new(RefCell::new(None));
        let unhandled_panic = Rc::new(Cell::new(false));
        let (result, panicked) = (outcome.clone(), unhandled_panic.clone());
        let body = move || {
            let value = match panic::catch_unwind(AssertUnwindSafe(f)) {
                Ok(value) => Ok(value),
                Err(payload) if is_unwind_request(&*payload) => panic::resume_unwind(payload),
                Err(payload) => {
                    let me = crate::current();
                    let who = match me.name() {
                        Some(name) => format!("greenlet '{name}' (id {})", me.id()),
                        None => format!("greenlet {}", me.id()),
                    };
                    log::error!("scoped {who} panicked: {}", panic_message(&*payload));
                    panicked.set(true);
                    Err(payload)
                }
            };
            *result.borrow_mut() = Some(value);
        };
        let body: Box<dyn FnOnce() + 'scope> = Box::new(body);
        // SAFETY: the erased lifetime is `'scope`: `scope` does not return or
        // unwind until this greenlet has finished (the module's soundness
        // argument), and the body, and everything it borrows, is dropped by
        // then: a finished greenlet holds no body.
        let body: Box<dyn FnOnce() + 'static> = unsafe { std::mem::transmute(body) };
        let greenlet = crate::spawn(body);
        self.children.borrow_mut().push(Child {
            greenlet: greenlet.kill_handle(),
            unhandled_panic: unhandled_panic.clone(),
        });
        ScopedJoinHandle {
            greenlet,
            outcome,
            unhandled_panic,
            scope: PhantomData,
        }
    }

    /// Kills every child without waiting (each unwinds at its next switch).
    fn kill_children(&self) {
        let children: Vec<KillHandle> = self
            .children
            .borrow()
            .iter()
            .map(|c| c.greenlet.clone())
            .collect();
        for child in children {
            child.request_kill();
        }
    }

    /// Waits until every child has finished, whatever happens to the
    /// caller meanwhile (see the module's soundness argument).
    #[track_caller]
    fn wait_children(&self) {
        // A panic of the wait itself, raised once every child has finished.
        let mut failed = None;
        loop {
            let waited = panic::catch_unwind(AssertUnwindSafe(|| {
                shielded(
                    || {
                        // Children may spawn more children: look again
                        // until none is left running.
                        while let Some(child) = self.running_child() {
                            child.wait_as("scope", self.at);
                        }
                    },
                    // The owner is killed or timed out: so are they.
                    || self.kill_children(),
                )
            }));
            match waited {
                Ok(()) => match failed {
                    None => return,
                    Some(payload) => panic::resume_unwind(payload),
                },
                // Set aside and raised by `shielded` once all had finished:
                // the owner was killed or timed out meanwhile. Every child
                // has finished; let it unwind.
                Err(payload) if is_unwind_request(&*payload) => {
                    if self.running_child().is_none() {
                        panic::resume_unwind(payload);
                    }
                    self.kill_children();
                }
                // A panic in the wait (the deadlock report): end the
                // children, wait again, then raise it.
                Err(payload) => {
                    self.kill_children();
                    failed.get_or_insert(payload);
                }
            }
        }
    }

    fn running_child(&self) -> Option<KillHandle> {
        self.children
            .borrow()
            .iter()
            .find(|c| !c.greenlet.is_finished())
            .map(|c| c.greenlet.clone())
    }
}

impl<'scope, T> ScopedJoinHandle<'scope, T> {
    /// Waits for the greenlet to finish and returns its result.
    ///
    /// # Errors
    ///
    /// [`JoinError::Panicked`] with the payload if it panicked (the scope
    /// then does not panic for it), [`JoinError::Killed`] if it was killed.
    ///
    /// # Panics
    ///
    /// As [`Greenlet::join`].
    ///
    /// # Examples
    ///
    /// ```
    /// greenlet::scope(|s| {
    ///     let h = s.spawn(|| panic!("boom"));
    ///     assert!(h.join().unwrap_err().is_panic()); // handled: scope does not panic
    /// });
    /// ```
    #[track_caller]
    pub fn join(self) -> Result<T, JoinError> {
        self.greenlet.join()?;
        match self.outcome.borrow_mut().take() {
            Some(Ok(value)) => Ok(value),
            Some(Err(payload)) => {
                self.unhandled_panic.set(false);
                Err(JoinError::Panicked(payload))
            }
            None => Err(JoinError::Killed),
        }
    }

    /// The greenlet's handle, to wait, kill or name it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// greenlet::scope(|s| {
    ///     let h = s.spawn(|| greenlet::sleep(Duration::from_secs(60)));
    ///     assert!(!h.greenlet().wait_timeout(Duration::from_millis(1)));
    ///     h.greenlet().kill();
    ///     assert!(h.join().unwrap_err().is_killed());
    /// });
    /// ```
    pub fn greenlet(&self) -> &Greenlet<()> {
        &self.greenlet
    }

    /// True once the greenlet has finished.
    ///
    /// # Examples
    ///
    /// ```
    /// greenlet::scope(|s| {
    ///     let h = s.spawn(|| ());
    ///     greenlet::yield_now();
    ///     assert!(h.is_finished());
    /// });
    /// ```
    pub fn is_finished(&self) -> bool {
        self.greenlet.is_finished()
    }
}

impl fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("children", &self.children.borrow().len())
            .finish()
    }
}

impl<T> fmt::Debug for ScopedJoinHandle<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopedJoinHandle")
            .field("greenlet", &self.greenlet)
            .finish()
    }
}
