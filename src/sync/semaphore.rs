//! `Semaphore`: a count of permits that greenlets acquire and release.

use std::cell::Cell;
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use super::wait_queue::{WaitError, WaitQueue};

struct Inner {
    permits: Cell<usize>,
    /// `Some(n)` for [`Semaphore::bounded`]: never more than `n` free.
    bound: Option<usize>,
    waiters: WaitQueue<()>,
}

impl Inner {
    /// Gives one permit back: to the first waiter if any (hand-off keeps the
    /// order FIFO), else to the count.
    fn give_back(&self) {
        if self.waiters.notify_one(()).is_err() {
            self.permits.set(self.permits.get() + 1);
        }
    }
}

/// The error of releasing a [`Semaphore::bounded`] semaphore that already has
/// all its permits.
///
/// # Examples
///
/// ```
/// let sem = greenlet::sync::Semaphore::bounded(1);
/// assert!(sem.release().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverRelease;

impl fmt::Display for OverRelease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("semaphore released more times than it was acquired")
    }
}

impl std::error::Error for OverRelease {}

/// A counting semaphore for greenlets: gevent's `Semaphore` and
/// `BoundedSemaphore`.
///
/// Waiters get permits in the order they asked (a release hands its permit
/// straight to the first waiter, so a newcomer cannot overtake). A waiter
/// that is killed or times out leaves the queue, and a permit handed to it
/// that it had not taken yet passes to the next waiter. Clones share the
/// permits.
///
/// # Examples
///
/// ```
/// use std::{cell::Cell, rc::Rc, time::Duration};
/// use greenlet::sync::Semaphore;
///
/// // At most two greenlets in the section at once.
/// let sem = Semaphore::new(2);
/// let inside = Rc::new(Cell::new(0));
/// let most = Rc::new(Cell::new(0));
/// let gs: Vec<_> = (0..6)
///     .map(|_| {
///         let (sem, inside, most) = (sem.clone(), inside.clone(), most.clone());
///         greenlet::spawn(move || {
///             let _permit = sem.access();
///             inside.set(inside.get() + 1);
///             most.set(most.get().max(inside.get()));
///             greenlet::sleep(Duration::from_millis(1));
///             inside.set(inside.get() - 1);
///         })
///     })
///     .collect();
/// greenlet::joinall(gs);
/// assert_eq!(most.get(), 2);
/// ```
#[derive(Clone)]
pub struct Semaphore {
    inner: Rc<Inner>,
}

impl Semaphore {
    fn with(permits: usize, bound: Option<usize>) -> Semaphore {
        Semaphore {
            inner: Rc::new(Inner {
                permits: Cell::new(permits),
                bound,
                waiters: WaitQueue::new(),
            }),
        }
    }

    /// A semaphore with `permits` free permits and no bound: releasing adds
    /// a permit even past the initial count.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = greenlet::sync::Semaphore::new(3);
    /// assert_eq!(sem.available(), 3);
    /// ```
    pub fn new(permits: usize) -> Semaphore {
        Semaphore::with(permits, None)
    }

    /// A semaphore with `permits` permits that can never have more free:
    /// releasing one too many is an error (gevent's `BoundedSemaphore`).
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = greenlet::sync::Semaphore::bounded(1);
    /// sem.acquire();
    /// sem.release().unwrap();
    /// assert!(sem.release().is_err());
    /// ```
    pub fn bounded(permits: usize) -> Semaphore {
        Semaphore::with(permits, Some(permits))
    }

    /// Takes a permit, waiting (FIFO) while there is none.
    ///
    /// # Panics
    ///
    /// Unwinds the caller if it is killed or its timeout expires while it
    /// waits; a permit handed to it meanwhile passes to the next waiter. In
    /// the main context, panics with the deadlock report when no greenlet
    /// could ever release one.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = greenlet::sync::Semaphore::new(1);
    /// sem.acquire();
    /// assert_eq!(sem.available(), 0);
    /// ```
    #[inline(always)]
    #[track_caller]
    pub fn acquire(&self) {
        if !self.try_acquire() {
            let _ = self
                .inner
                .waiters
                .wait("Semaphore::acquire", None, |()| self.inner.give_back());
        }
    }

    /// Takes a permit if one is free and nobody waits for one; never blocks.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = greenlet::sync::Semaphore::new(1);
    /// assert!(sem.try_acquire());
    /// assert!(!sem.try_acquire());
    /// ```
    pub fn try_acquire(&self) -> bool {
        let free = self.inner.permits.get();
        if free > 0 && self.inner.waiters.is_empty() {
            self.inner.permits.set(free - 1);
            true
        } else {
            false
        }
    }

    /// Takes a permit, waiting at most `timeout`; returns whether it got one.
    ///
    /// # Panics
    ///
    /// As [`acquire`](Self::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let sem = greenlet::sync::Semaphore::new(0);
    /// assert!(!sem.acquire_timeout(Duration::from_millis(3)));
    /// ```
    #[track_caller]
    pub fn acquire_timeout(&self, timeout: Duration) -> bool {
        if self.try_acquire() {
            return true;
        }
        let inner = self.inner.clone();
        match self
            .inner
            .waiters
            .wait("Semaphore::acquire", Some(timeout), move |()| {
                inner.give_back()
            }) {
            Ok(()) => true,
            Err(WaitError::TimedOut) => false,
        }
    }

    /// Returns a permit: to the first waiter, else to the count.
    ///
    /// # Errors
    ///
    /// [`OverRelease`] for a [`bounded`](Self::bounded) semaphore whose
    /// permits are all free already; nothing changes then.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = greenlet::sync::Semaphore::new(0);
    /// sem.release()?;
    /// assert_eq!(sem.available(), 1);
    /// # Ok::<(), greenlet::sync::OverRelease>(())
    /// ```
    pub fn release(&self) -> Result<(), OverRelease> {
        let inner = &self.inner;
        if inner.waiters.is_empty() && inner.bound.is_some_and(|b| inner.permits.get() >= b) {
            return Err(OverRelease);
        }
        inner.give_back();
        Ok(())
    }

    /// Takes a permit (as [`acquire`](Self::acquire)) and returns a guard
    /// that releases it when dropped, unwinding included.
    ///
    /// # Panics
    ///
    /// As [`acquire`](Self::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = greenlet::sync::Semaphore::new(1);
    /// {
    ///     let _permit = sem.access();
    ///     assert_eq!(sem.available(), 0);
    /// }
    /// assert_eq!(sem.available(), 1);
    /// ```
    #[track_caller]
    pub fn access(&self) -> SemaphoreGuard<'_> {
        self.acquire();
        SemaphoreGuard { semaphore: self }
    }

    /// How many permits are free now.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = greenlet::sync::Semaphore::new(2);
    /// sem.acquire();
    /// assert_eq!(sem.available(), 1);
    /// ```
    pub fn available(&self) -> usize {
        self.inner.permits.get()
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("available", &self.available())
            .field("bound", &self.inner.bound)
            .field("waiting", &self.inner.waiters.len())
            .finish()
    }
}

/// A permit of a [`Semaphore`], released when dropped.
///
/// # Examples
///
/// ```
/// let sem = greenlet::sync::Semaphore::new(1);
/// let permit = sem.access();
/// drop(permit);
/// assert_eq!(sem.available(), 1);
/// ```
#[must_use = "the permit is released as soon as the guard is dropped"]
pub struct SemaphoreGuard<'a> {
    semaphore: &'a Semaphore,
}

impl Drop for SemaphoreGuard<'_> {
    fn drop(&mut self) {
        self.semaphore.inner.give_back();
    }
}

impl fmt::Debug for SemaphoreGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SemaphoreGuard").finish_non_exhaustive()
    }
}
