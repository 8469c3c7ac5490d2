//! `Mutex`: a value that one greenlet at a time may use.

use std::cell::{Cell, RefCell, RefMut};
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::time::Duration;

use super::wait_queue::{WaitError, WaitQueue};

/// Whether the lock is held, and who waits for it.
struct LockState {
    locked: Cell<bool>,
    waiters: WaitQueue<()>,
}

impl LockState {
    /// Takes the lock if it is free and nobody waits for it.
    fn try_take(&self) -> bool {
        if !self.locked.get() && self.waiters.is_empty() {
            self.locked.set(true);
            true
        } else {
            false
        }
    }

    /// Gives the lock up: straight to the first waiter if any (it stays
    /// locked, so a newcomer cannot overtake), else frees it.
    fn unlock(&self) {
        if self.waiters.notify_one(()).is_err() {
            self.locked.set(false);
        }
    }

    /// Waits (FIFO) until the lock is handed over, or `timeout` passes;
    /// returns whether this context holds the lock now.
    #[track_caller]
    fn wait(&self, timeout: Option<Duration>) -> bool {
        // Killed or timed out (an outer timeout) after the lock was handed
        // over but before taking it: hand it on.
        let pass_on = |()| self.unlock();
        match self.waiters.wait("Mutex::lock", timeout, pass_on) {
            Ok(()) => true,
            Err(WaitError::TimedOut) => false,
        }
    }
}

/// A mutual-exclusion lock for greenlets around a value of type `T`: gevent's
/// `Lock`, shaped like [`std::sync::Mutex`].
///
/// [`lock`](Self::lock) suspends the calling greenlet (or, in the main
/// context, runs the hub) while another holds the lock, and returns a
/// [`MutexGuard`] through which the value is used; dropping the guard
/// unlocks. Waiters get the lock in the order they asked: unlocking hands it
/// straight to the first waiter, so a newcomer cannot overtake. A waiter that
/// is killed or times out leaves the queue, and a lock handed to it that it
/// had not taken yet passes to the next waiter.
///
/// A `Mutex` is not [`Clone`]: share it as [`std::sync::Mutex`] is shared,
/// here with an [`Rc`](std::rc::Rc), since greenlets stay on their thread.
///
/// # Implementation notes
///
/// - **No poisoning.** A guard dropped by unwinding (a panic, but also a
///   [`kill`](crate::Greenlet::kill) or an expired
///   [`with_timeout`](crate::with_timeout)) unlocks like any other, and the
///   next locker gets the value as it was left. Greenlets are killed and
///   time out through their guards routinely, as in gevent, whose `Lock`
///   does not poison either; poisoning would turn every such routine
///   cancellation into an error for every later user of the lock. Code that
///   must keep its value consistent across an unwinding should make its
///   changes in an order that leaves it consistent at each blocking call, or
///   restore it in a destructor.
/// - **No `unsafe`.** The value lives in a [`RefCell`], and the guard holds
///   its [`RefMut`]. The lock state lets only one guard exist at a time, so
///   that borrow never fails; the guard releases the borrow before it
///   unlocks.
/// - **Not reentrant.** Locking a mutex that the same context holds waits
///   for ever; in the main context that is reported as a deadlock.
///
/// # Examples
///
/// ```
/// use std::{rc::Rc, time::Duration};
/// use greenlet::sync::Mutex;
///
/// let log = Rc::new(Mutex::new(Vec::new()));
/// let writers: Vec<_> = (0..3)
///     .map(|i| {
///         let log = log.clone();
///         greenlet::spawn(move || {
///             let mut log = log.lock();
///             log.push(format!("{i} begins"));
///             greenlet::sleep(Duration::from_millis(1)); // others wait
///             log.push(format!("{i} ends"));
///         })
///     })
///     .collect();
/// greenlet::joinall(writers);
/// assert_eq!(
///     *log.lock(),
///     ["0 begins", "0 ends", "1 begins", "1 ends", "2 begins", "2 ends"]
/// );
/// ```
pub struct Mutex<T: ?Sized> {
    state: LockState,
    value: RefCell<T>,
}

impl<T> Mutex<T> {
    /// A new, unlocked mutex around `value`.
    ///
    /// # Examples
    ///
    /// ```
    /// let mutex = greenlet::sync::Mutex::new(5);
    /// assert!(!mutex.is_locked());
    /// ```
    pub const fn new(value: T) -> Mutex<T> {
        Mutex {
            state: LockState {
                locked: Cell::new(false),
                waiters: WaitQueue::new(),
            },
            value: RefCell::new(value),
        }
    }

    /// Consumes the mutex and returns its value. Nobody can hold or wait for
    /// the lock: both borrow the mutex.
    ///
    /// # Examples
    ///
    /// ```
    /// let mutex = greenlet::sync::Mutex::new(String::from("hi"));
    /// mutex.lock().push('!');
    /// assert_eq!(mutex.into_inner(), "hi!");
    /// ```
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Locks the mutex, waiting (FIFO) while another context holds it, and
    /// returns the guard that unlocks it when dropped.
    ///
    /// # Panics
    ///
    /// Unwinds the caller if it is killed or its timeout expires while it
    /// waits; a lock handed to it meanwhile passes to the next waiter. In the
    /// main context, panics with the deadlock report when no greenlet could
    /// ever unlock it (locking a mutex the same context holds, for one). As
    /// every blocking call, panics if it must wait while the thread is
    /// unwinding.
    ///
    /// # Examples
    ///
    /// ```
    /// let mutex = greenlet::sync::Mutex::new(0);
    /// *mutex.lock() += 1;
    /// assert_eq!(*mutex.lock(), 1);
    /// ```
    #[track_caller]
    pub fn lock(&self) -> MutexGuard<'_, T> {
        if !self.state.try_take() {
            // Without a timeout, a wait ends only with the lock or unwinding.
            let _ = self.state.wait(None);
        }
        self.guard()
    }

    /// Locks the mutex if it is free and nobody waits for it; never blocks.
    ///
    /// # Examples
    ///
    /// ```
    /// let mutex = greenlet::sync::Mutex::new(0);
    /// let guard = mutex.try_lock().expect("free");
    /// assert!(mutex.try_lock().is_none());
    /// drop(guard);
    /// assert!(mutex.try_lock().is_some());
    /// ```
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        self.state.try_take().then(|| self.guard())
    }

    /// Locks the mutex as [`lock`](Self::lock), waiting at most `timeout`;
    /// `None` when the time ran out first.
    ///
    /// # Panics
    ///
    /// As [`lock`](Self::lock).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let mutex = greenlet::sync::Mutex::new(0);
    /// let held = mutex.lock();
    /// assert!(mutex.lock_timeout(Duration::from_millis(3)).is_none());
    /// drop(held);
    /// assert!(mutex.lock_timeout(Duration::from_millis(3)).is_some());
    /// ```
    #[track_caller]
    pub fn lock_timeout(&self, timeout: Duration) -> Option<MutexGuard<'_, T>> {
        (self.state.try_take() || self.state.wait(Some(timeout))).then(|| self.guard())
    }

    /// Whether some context holds the lock (or it was handed to a waiter
    /// that has not run yet).
    ///
    /// # Examples
    ///
    /// ```
    /// let mutex = greenlet::sync::Mutex::new(());
    /// let guard = mutex.lock();
    /// assert!(mutex.is_locked());
    /// drop(guard);
    /// assert!(!mutex.is_locked());
    /// ```
    pub fn is_locked(&self) -> bool {
        self.state.locked.get()
    }

    /// The value, through an exclusive borrow: nobody can hold the lock
    /// meanwhile, so no locking is needed.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut mutex = greenlet::sync::Mutex::new(1);
    /// *mutex.get_mut() += 1;
    /// assert_eq!(*mutex.lock(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    /// The guard of a lock just taken.
    fn guard(&self) -> MutexGuard<'_, T> {
        MutexGuard {
            value: self
                .value
                .try_borrow_mut()
                .expect("greenlet: a locked Mutex has no other guard"),
            unlock: Unlock(self),
        }
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Mutex<T> {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Mutex<T> {
        Mutex::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        // The value only when unlocked: a guard may be changing it.
        match self.value.try_borrow() {
            Ok(value) if !self.is_locked() => d.field("data", &&*value),
            _ => d.field("data", &format_args!("<locked>")),
        };
        d.field("waiting", &self.state.waiters.len())
            .finish_non_exhaustive()
    }
}

/// Exclusive access to the value of a locked [`Mutex`]; unlocks it when
/// dropped, unwinding included.
///
/// It dereferences to the value.
///
/// # Examples
///
/// ```
/// let mutex = greenlet::sync::Mutex::new(vec![1]);
/// let mut guard = mutex.lock();
/// guard.push(2);
/// assert_eq!(*guard, [1, 2]);
/// drop(guard);
/// assert!(!mutex.is_locked());
/// ```
#[must_use = "the mutex is unlocked as soon as the guard is dropped"]
pub struct MutexGuard<'a, T: ?Sized> {
    // Fields drop in order: the borrow ends before the lock passes on.
    value: RefMut<'a, T>,
    unlock: Unlock<'a, T>,
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// The mutex this guard locks, to lock it again once the guard is gone
    /// (as [`Condvar`](super::Condvar) does).
    pub(super) fn mutex(&self) -> &'a Mutex<T> {
        self.unlock.0
    }
}

/// Unlocks its mutex when dropped.
struct Unlock<'a, T: ?Sized>(&'a Mutex<T>);

impl<T: ?Sized> Drop for Unlock<'_, T> {
    fn drop(&mut self) {
        self.0.state.unlock();
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}
