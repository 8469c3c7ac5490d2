//! `Condvar`: greenlets waiting, with a [`Mutex`](super::Mutex) unlocked,
//! until another notifies them.

use std::fmt;
use std::time::{Duration, Instant};

use super::mutex::MutexGuard;
use super::wait_queue::{WaitError, WaitQueue};

/// Whether a [`Condvar::wait_timeout`] (or
/// [`wait_timeout_while`](Condvar::wait_timeout_while)) returned because
/// its time ran out, as [`std::sync::WaitTimeoutResult`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use greenlet::sync::{Condvar, Mutex};
///
/// let (mutex, condvar) = (Mutex::new(()), Condvar::new());
/// let (_guard, result) = condvar.wait_timeout(mutex.lock(), Duration::from_millis(1));
/// assert!(result.timed_out());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// Whether the time ran out (for
    /// [`wait_timeout_while`](Condvar::wait_timeout_while): with the
    /// condition still true).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use greenlet::sync::{Condvar, Mutex};
    ///
    /// let (mutex, condvar) = (Mutex::new(1), Condvar::new());
    /// let guard = mutex.lock();
    /// let (_, result) = condvar.wait_timeout_while(guard, Duration::from_millis(1), |n| *n > 5);
    /// assert!(!result.timed_out(), "the condition was false at once");
    /// ```
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

/// A condition variable for greenlets, used with the crate's
/// [`Mutex`](super::Mutex), shaped like [`std::sync::Condvar`].
///
/// [`wait`](Self::wait) unlocks the mutex, suspends the caller until
/// [`notify_one`](Self::notify_one) or [`notify_all`](Self::notify_all)
/// wakes it, and locks the mutex again before it returns. Waiters are woken
/// in the order they began waiting. There are no spurious wake-ups (a wait
/// ends with a notification, its timeout, or unwinding), but the condition
/// may have changed again before the woken waiter relocks:
/// [`wait_while`](Self::wait_while) checks it in a loop. A notification
/// when nobody waits is lost, as std's is.
///
/// A `Condvar` is not [`Clone`]: share it beside its mutex, with an
/// [`Rc`](std::rc::Rc). Use one condvar with one mutex at a time; nothing
/// checks it.
///
/// # Killed while waiting
///
/// A waiter that is killed (or whose outer timeout expires) while it waits
/// for a notification unwinds **without relocking** the mutex: it cannot
/// wait while it unwinds, and it need not, since it gave its guard to
/// `wait` and no frame of the caller holds one. If a
/// [`notify_one`](Self::notify_one) was handed to it and it had not taken
/// it yet, the notification passes to the next waiter, so none is lost (a
/// [`notify_all`](Self::notify_all) reached every waiter already). A waiter killed after its notification,
/// while it relocks, leaves the mutex's queue as any locker does.
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
/// use greenlet::sync::{Condvar, Mutex};
///
/// let pair = Rc::new((Mutex::new(false), Condvar::new()));
/// let starter = {
///     let pair = pair.clone();
///     greenlet::spawn(move || {
///         let (started, condvar) = &*pair;
///         *started.lock() = true;
///         condvar.notify_one();
///     })
/// };
/// let (started, condvar) = &*pair;
/// let mut guard = started.lock();
/// while !*guard {
///     guard = condvar.wait(guard); // the starter runs meanwhile
/// }
/// drop(guard);
/// starter.join().unwrap();
/// ```
pub struct Condvar {
    /// Waiters, handed `true` by [`notify_one`](Self::notify_one) (a
    /// notification to pass on if its waiter leaves without it) and `false`
    /// by [`notify_all`](Self::notify_all) (every waiter had one).
    waiters: WaitQueue<bool>,
}

impl Condvar {
    /// A condition variable that nobody waits on.
    ///
    /// # Examples
    ///
    /// ```
    /// let condvar = greenlet::sync::Condvar::new();
    /// condvar.notify_all(); // nobody waits: nothing happens
    /// ```
    pub const fn new() -> Condvar {
        Condvar {
            waiters: WaitQueue::new(),
        }
    }

    /// Unlocks the guard's mutex and waits (FIFO) until notified, then locks
    /// the mutex again (waiting for it as [`Mutex::lock`](super::Mutex::lock)
    /// does) and returns the new guard.
    ///
    /// # Panics
    ///
    /// Unwinds the caller if it is killed or its timeout expires while it
    /// waits; see [Killed while waiting](Self#killed-while-waiting). In the
    /// main context, panics with the deadlock report when no greenlet could
    /// ever notify it. As every blocking call, panics if it must wait while
    /// the thread is unwinding.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::rc::Rc;
    /// use greenlet::sync::{Condvar, Mutex};
    ///
    /// let pair = Rc::new((Mutex::new(0), Condvar::new()));
    /// let waiter = {
    ///     let pair = pair.clone();
    ///     greenlet::spawn(move || {
    ///         let guard = pair.0.lock();
    ///         *pair.1.wait(guard) // the lock is free while it waits
    ///     })
    /// };
    /// greenlet::yield_now(); // the waiter waits
    /// *pair.0.lock() = 7;
    /// pair.1.notify_one();
    /// assert_eq!(waiter.join().unwrap(), 7);
    /// ```
    #[track_caller]
    pub fn wait<'a, T: ?Sized>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        let mutex = guard.mutex();
        // Nothing runs between the unlock and the wait's registration: no
        // notification can slip between them.
        drop(guard);
        // Without a timeout, a wait ends only notified or unwinding.
        let _ = self.wait_notified(None);
        mutex.lock()
    }

    /// Waits as [`wait`](Self::wait) while `condition` returns `true` for
    /// the value, checking it first; returns the guard once it is `false`.
    ///
    /// # Panics
    ///
    /// As [`wait`](Self::wait); and if `condition` panics, with the mutex
    /// locked until the guard drops.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::rc::Rc;
    /// use greenlet::sync::{Condvar, Mutex};
    ///
    /// let pair = Rc::new((Mutex::new(Vec::new()), Condvar::new()));
    /// let producer = {
    ///     let pair = pair.clone();
    ///     greenlet::spawn(move || {
    ///         for n in 1..=3 {
    ///             pair.0.lock().push(n);
    ///             pair.1.notify_all();
    ///             greenlet::yield_now();
    ///         }
    ///     })
    /// };
    /// let full = pair.1.wait_while(pair.0.lock(), |items| items.len() < 3);
    /// assert_eq!(*full, [1, 2, 3]);
    /// drop(full);
    /// producer.join().unwrap();
    /// ```
    #[track_caller]
    pub fn wait_while<'a, T: ?Sized>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: impl FnMut(&mut T) -> bool,
    ) -> MutexGuard<'a, T> {
        while condition(&mut *guard) {
            guard = self.wait(guard);
        }
        guard
    }

    /// As [`wait`](Self::wait), but waits at most `timeout` for a
    /// notification; the result says whether the time ran out. Either way
    /// the mutex is locked again before it returns, which may take longer.
    ///
    /// # Panics
    ///
    /// As [`wait`](Self::wait).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use greenlet::sync::{Condvar, Mutex};
    ///
    /// let (mutex, condvar) = (Mutex::new(0), Condvar::new());
    /// let (guard, result) = condvar.wait_timeout(mutex.lock(), Duration::from_millis(2));
    /// assert!(result.timed_out());
    /// assert_eq!(*guard, 0);
    /// ```
    #[track_caller]
    pub fn wait_timeout<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        timeout: Duration,
    ) -> (MutexGuard<'a, T>, WaitTimeoutResult) {
        let mutex = guard.mutex();
        drop(guard);
        let notified = self.wait_notified(Some(timeout));
        (mutex.lock(), WaitTimeoutResult(!notified))
    }

    /// Waits as [`wait_while`](Self::wait_while), for at most `timeout` in
    /// all; the result says whether the time ran out with the condition
    /// still `true`.
    ///
    /// # Panics
    ///
    /// As [`wait_while`](Self::wait_while).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use greenlet::sync::{Condvar, Mutex};
    ///
    /// let (mutex, condvar) = (Mutex::new(false), Condvar::new());
    /// let (ready, result) =
    ///     condvar.wait_timeout_while(mutex.lock(), Duration::from_millis(2), |ready| !*ready);
    /// assert!(result.timed_out());
    /// assert!(!*ready);
    /// ```
    #[track_caller]
    pub fn wait_timeout_while<'a, T: ?Sized>(
        &self,
        mut guard: MutexGuard<'a, T>,
        timeout: Duration,
        mut condition: impl FnMut(&mut T) -> bool,
    ) -> (MutexGuard<'a, T>, WaitTimeoutResult) {
        let start = Instant::now();
        while condition(&mut *guard) {
            let Some(left) = timeout.checked_sub(start.elapsed()) else {
                return (guard, WaitTimeoutResult(true));
            };
            guard = self.wait_timeout(guard, left).0;
        }
        (guard, WaitTimeoutResult(false))
    }

    /// Wakes the first waiter, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc};
    /// use greenlet::sync::{Condvar, Mutex};
    ///
    /// let pair = Rc::new((Mutex::new(()), Condvar::new()));
    /// let woken = Rc::new(Cell::new(0));
    /// let waiters: Vec<_> = (0..2)
    ///     .map(|_| {
    ///         let (pair, woken) = (pair.clone(), woken.clone());
    ///         greenlet::spawn(move || {
    ///             drop(pair.1.wait(pair.0.lock()));
    ///             woken.set(woken.get() + 1);
    ///         })
    ///     })
    ///     .collect();
    /// greenlet::yield_now(); // both wait
    /// pair.1.notify_one();
    /// greenlet::yield_now();
    /// assert_eq!(woken.get(), 1);
    /// pair.1.notify_one();
    /// greenlet::joinall(waiters);
    /// assert_eq!(woken.get(), 2);
    /// ```
    pub fn notify_one(&self) {
        let _ = self.waiters.notify_one(true);
    }

    /// Wakes every waiter, in the order they began waiting. Each relocks
    /// the mutex in turn.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::rc::Rc;
    /// use greenlet::sync::{Condvar, Mutex};
    ///
    /// let pair = Rc::new((Mutex::new(false), Condvar::new()));
    /// let waiters: Vec<_> = (0..3)
    ///     .map(|_| {
    ///         let pair = pair.clone();
    ///         greenlet::spawn(move || drop(pair.1.wait_while(pair.0.lock(), |go| !*go)))
    ///     })
    ///     .collect();
    /// greenlet::yield_now(); // all wait
    /// *pair.0.lock() = true;
    /// pair.1.notify_all();
    /// greenlet::joinall(waiters);
    /// ```
    pub fn notify_all(&self) {
        self.waiters.notify_all(&false);
    }

    /// Waits (FIFO) for a notification, at most `timeout`; returns whether
    /// one came. A [`notify_one`](Self::notify_one) handed to a waiter that
    /// unwinds before it takes it goes to the next.
    #[track_caller]
    fn wait_notified(&self, timeout: Option<Duration>) -> bool {
        let pass_on = |one: bool| {
            if one {
                self.notify_one();
            }
        };
        match self.waiters.wait("Condvar::wait", timeout, pass_on) {
            Ok(_) => true,
            Err(WaitError::TimedOut) => false,
        }
    }
}

impl Default for Condvar {
    fn default() -> Condvar {
        Condvar::new()
    }
}

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condvar")
            .field("waiting", &self.waiters.len())
            .finish()
    }
}
