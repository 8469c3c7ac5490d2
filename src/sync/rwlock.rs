//! `RwLock`: a value that many greenlets may read at once, or one may write.

use std::cell::{Cell, Ref, RefCell, RefMut};
use std::collections::VecDeque;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::rc::Rc;
use std::time::Duration;

use super::wait_queue::WaitQueue;

/// Consecutive waiters of one kind, in arrival order: readers are admitted
/// together, writers one at a time.
struct Batch {
    write: bool,
    waiters: Rc<WaitQueue<()>>,
}

/// The value of [`LockState::holders`] while a writer holds the lock.
const WRITE_LOCKED: usize = usize::MAX;

/// Who holds the lock, and who waits for it.
///
/// # Invariants
///
/// - `holders` counts the read guards out and the read locks handed to
///   waiters that have not run yet, or is [`WRITE_LOCKED`] while the write
///   guard is out or handed to a waiter.
/// - `batches` holds every waiter in arrival order: a batch of readers
///   never follows another (a reader that arrives behind a batch of readers
///   joins it), nor does a batch of writers. A batch can be empty for a
///   moment (its waiters left); [`admit`](Self::admit) drops it as soon as
///   it is first, and it runs after every release while batches wait and
///   after every waiter that leaves.
/// - After `admit`, the first batch (if any) waits for a reason: readers for
///   a writer, a writer for the lock. So no batch means that nobody waits,
///   and a newcomer may take a free lock without overtaking.
/// - `queued` says whether `batches` is non-empty, so that the uncontended
///   calls need not borrow it.
struct LockState {
    holders: Cell<usize>,
    queued: Cell<bool>,
    batches: RefCell<VecDeque<Batch>>,
}

impl LockState {
    #[inline]
    fn try_read(&self) -> bool {
        let holders = self.holders.get();
        let free = holders != WRITE_LOCKED && !self.queued.get();
        if free {
            self.holders.set(holders + 1);
        }
        free
    }

    #[inline]
    fn try_write(&self) -> bool {
        let free = self.holders.get() == 0 && !self.queued.get();
        if free {
            self.holders.set(WRITE_LOCKED);
        }
        free
    }

    #[inline]
    fn release_read(&self) {
        let left = self.holders.get() - 1;
        self.holders.set(left);
        if left == 0 && self.queued.get() {
            self.admit();
        }
    }

    #[inline]
    fn release_write(&self) {
        self.holders.set(0);
        if self.queued.get() {
            self.admit();
        }
    }

    fn is_write_locked(&self) -> bool {
        self.holders.get() == WRITE_LOCKED
    }

    /// How many read locks are out (0 while write-locked).
    fn readers(&self) -> usize {
        if self.is_write_locked() {
            0
        } else {
            self.holders.get()
        }
    }

    /// Hands the lock to the waiters at the front that may have it now: a
    /// whole batch of readers (and the next, if a batch between has gone
    /// empty), or one writer once no reader is left. Drops empty batches on
    /// the way. It only wakes: nothing switches here.
    #[inline(never)]
    fn admit(&self) {
        let mut batches = self.batches.borrow_mut();
        while let Some(front) = batches.front() {
            if front.waiters.is_empty() {
                batches.pop_front();
            } else if !front.write {
                if self.is_write_locked() {
                    break;
                }
                let woken = front.waiters.notify_all(&());
                self.holders.set(self.holders.get() + woken);
                batches.pop_front();
            } else {
                if self.holders.get() != 0 {
                    break;
                }
                // Stale entries (woken meanwhile by a timeout or a kill)
                // are skipped: if none is live, the batch goes.
                if front.waiters.notify_one(()).is_ok() {
                    self.holders.set(WRITE_LOCKED);
                    if front.waiters.is_empty() {
                        batches.pop_front();
                    }
                    break;
                }
                batches.pop_front();
            }
        }
        self.queued.set(!batches.is_empty());
    }

    /// The batch a newcomer waits in: the last one if it is of its kind,
    /// else a new one at the back.
    fn join_batch(&self, write: bool) -> Rc<WaitQueue<()>> {
        let mut batches = self.batches.borrow_mut();
        match batches.back() {
            Some(last) if last.write == write => last.waiters.clone(),
            _ => {
                let waiters = Rc::new(WaitQueue::new());
                batches.push_back(Batch {
                    write,
                    waiters: waiters.clone(),
                });
                self.queued.set(true);
                waiters
            }
        }
    }

    /// Waits (FIFO) until a read or write lock is handed over, or `timeout`
    /// passes; returns whether this context holds it now.
    #[track_caller]
    fn wait(&self, write: bool, timeout: Option<Duration>) -> bool {
        let waiters = self.join_batch(write);
        // However the wait ends, the batches behind may go on now: this
        // waiter's batch may be empty, or it was the writer they waited for.
        let _readmit = Readmit(self);
        let (what, pass_on): (_, &dyn Fn(())) = if write {
            ("RwLock::write", &|()| self.release_write())
        } else {
            ("RwLock::read", &|()| self.release_read())
        };
        waiters.wait(what, timeout, pass_on).is_ok()
    }

    fn waiting(&self) -> usize {
        self.batches.borrow().iter().map(|b| b.waiters.len()).sum()
    }
}

/// Runs [`LockState::admit`] when dropped, unwinding included.
struct Readmit<'a>(&'a LockState);

impl Drop for Readmit<'_> {
    fn drop(&mut self) {
        self.0.admit();
    }
}

/// A reader-writer lock for greenlets around a value of type `T`, shaped
/// like [`std::sync::RwLock`]: any number of readers at once, or one writer.
///
/// [`read`](Self::read) and [`write`](Self::write) suspend the calling
/// greenlet (or, in the main context, run the hub) until the lock can be
/// had, and return a guard through which the value is used; dropping the
/// guard releases it.
///
/// # Fairness
///
/// Readers and writers are served in the order they arrive, so neither can
/// starve the other. A reader that arrives while a writer waits queues
/// behind that writer, even if readers hold the lock; readers that queue one
/// after another with no writer between them are admitted together. A
/// release hands the lock straight to the waiters at the front, so a
/// newcomer cannot overtake them. A waiter that is killed or times out
/// leaves the queue without blocking those behind it (readers queued behind
/// a writer that leaves are admitted if readers hold the lock), and a lock
/// handed to it that it had not taken yet passes on.
///
/// # Implementation notes
///
/// - **No poisoning**, as [`Mutex`](super::Mutex): a guard dropped by
///   unwinding (a panic, a kill, an expired timeout) releases like any other.
/// - **No `unsafe`.** The value lives in a [`RefCell`]; read guards hold a
///   [`Ref`], the write guard a [`RefMut`], and the lock state lets those
///   borrows never fail.
/// - **Not reentrant.** A reader that reads again while a writer waits
///   queues behind the writer, which waits for the reader: that waits for
///   ever (in the main context, the deadlock report).
/// - Uncontended calls allocate nothing; a batch of waiters allocates once.
///
/// # Examples
///
/// ```
/// use std::{rc::Rc, time::Duration};
/// use greenlet::sync::RwLock;
///
/// let config = Rc::new(RwLock::new(String::from("v1")));
/// let readers: Vec<_> = (0..3)
///     .map(|_| {
///         let config = config.clone();
///         greenlet::spawn(move || {
///             let config = config.read(); // all three read at once
///             greenlet::sleep(Duration::from_millis(1));
///             config.clone()
///         })
///     })
///     .collect();
/// greenlet::yield_now(); // the readers hold the lock
/// *config.write() = String::from("v2"); // waits for the readers
/// for reader in readers {
///     assert_eq!(reader.join().unwrap(), "v1");
/// }
/// assert_eq!(*config.read(), "v2");
/// ```
pub struct RwLock<T: ?Sized> {
    state: LockState,
    value: RefCell<T>,
}

impl<T> RwLock<T> {
    /// A new, unlocked lock around `value`.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = greenlet::sync::RwLock::new(5);
    /// assert!(!lock.is_locked());
    /// ```
    pub const fn new(value: T) -> RwLock<T> {
        RwLock {
            state: LockState {
                holders: Cell::new(0),
                queued: Cell::new(false),
                batches: RefCell::new(VecDeque::new()),
            },
            value: RefCell::new(value),
        }
    }

    /// Consumes the lock and returns its value. Nobody can hold or wait for
    /// the lock: both borrow it.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = greenlet::sync::RwLock::new(vec![1]);
    /// lock.write().push(2);
    /// assert_eq!(lock.into_inner(), [1, 2]);
    /// ```
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Locks for reading, waiting (FIFO) while a writer holds the lock or
    /// waits for it, and returns the guard that releases it when dropped.
    ///
    /// # Panics
    ///
    /// Unwinds the caller if it is killed or its timeout expires while it
    /// waits; a read lock handed to it meanwhile is released, and the
    /// waiters behind it go on as they may. In the main context, panics with
    /// the deadlock report when no greenlet could ever release the lock. As
    /// every blocking call, panics if it must wait while the thread is
    /// unwinding.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = greenlet::sync::RwLock::new(1);
    /// let (a, b) = (lock.read(), lock.read());
    /// assert_eq!(*a + *b, 2);
    /// ```
    #[track_caller]
    pub fn read(&self) -> RwLockReadGuard<'_, T> {
        if !self.state.try_read() {
            // Without a timeout, a wait ends only with the lock or unwinding.
            let _ = self.state.wait(false, None);
        }
        self.read_guard()
    }

    /// Locks for writing, waiting (FIFO) while anyone holds the lock, and
    /// returns the guard that releases it when dropped.
    ///
    /// # Panics
    ///
    /// As [`read`](Self::read); a write lock handed to a waiter that unwinds
    /// passes to the waiters behind it. Writing while the same context holds
    /// a guard waits for ever: in the main context, the deadlock report.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = greenlet::sync::RwLock::new(1);
    /// *lock.write() += 1;
    /// assert_eq!(*lock.read(), 2);
    /// ```
    #[track_caller]
    pub fn write(&self) -> RwLockWriteGuard<'_, T> {
        if !self.state.try_write() {
            let _ = self.state.wait(true, None);
        }
        self.write_guard()
    }

    /// Locks for reading if no writer holds the lock and nobody waits;
    /// never blocks.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = greenlet::sync::RwLock::new(0);
    /// let reader = lock.try_read().expect("free");
    /// assert!(lock.try_read().is_some(), "readers share");
    /// assert!(lock.try_write().is_none());
    /// drop(reader);
    /// ```
    pub fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
        self.state.try_read().then(|| self.read_guard())
    }

    /// Locks for writing if nobody holds the lock or waits; never blocks.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = greenlet::sync::RwLock::new(0);
    /// let writer = lock.try_write().expect("free");
    /// assert!(lock.try_read().is_none());
    /// drop(writer);
    /// assert!(lock.try_write().is_some());
    /// ```
    pub fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
        self.state.try_write().then(|| self.write_guard())
    }

    /// As [`read`](Self::read), waiting at most `timeout`; `None` when the
    /// time ran out first.
    ///
    /// # Panics
    ///
    /// As [`read`](Self::read).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lock = greenlet::sync::RwLock::new(0);
    /// let writer = lock.write();
    /// assert!(lock.read_timeout(Duration::from_millis(2)).is_none());
    /// drop(writer);
    /// assert!(lock.read_timeout(Duration::from_millis(2)).is_some());
    /// ```
    #[track_caller]
    pub fn read_timeout(&self, timeout: Duration) -> Option<RwLockReadGuard<'_, T>> {
        (self.state.try_read() || self.state.wait(false, Some(timeout))).then(|| self.read_guard())
    }

    /// As [`write`](Self::write), waiting at most `timeout`; `None` when the
    /// time ran out first.
    ///
    /// # Panics
    ///
    /// As [`write`](Self::write).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let lock = greenlet::sync::RwLock::new(0);
    /// let reader = lock.read();
    /// assert!(lock.write_timeout(Duration::from_millis(2)).is_none());
    /// drop(reader);
    /// assert!(lock.write_timeout(Duration::from_millis(2)).is_some());
    /// ```
    #[track_caller]
    pub fn write_timeout(&self, timeout: Duration) -> Option<RwLockWriteGuard<'_, T>> {
        (self.state.try_write() || self.state.wait(true, Some(timeout))).then(|| self.write_guard())
    }

    /// Whether some context holds the lock, for reading or writing (or it
    /// was handed to a waiter that has not run yet).
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = greenlet::sync::RwLock::new(());
    /// let reader = lock.read();
    /// assert!(lock.is_locked());
    /// drop(reader);
    /// assert!(!lock.is_locked());
    /// ```
    pub fn is_locked(&self) -> bool {
        self.state.holders.get() != 0
    }

    /// Whether a writer holds the lock (or it was handed to one that has
    /// not run yet).
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = greenlet::sync::RwLock::new(());
    /// let reader = lock.read();
    /// assert!(!lock.is_write_locked());
    /// drop(reader);
    /// let _writer = lock.write();
    /// assert!(lock.is_write_locked());
    /// ```
    pub fn is_write_locked(&self) -> bool {
        self.state.is_write_locked()
    }

    /// How many read locks are held (or handed to readers that have not run
    /// yet).
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = greenlet::sync::RwLock::new(());
    /// let (_a, _b) = (lock.read(), lock.read());
    /// assert_eq!(lock.readers(), 2);
    /// ```
    pub fn readers(&self) -> usize {
        self.state.readers()
    }

    /// The value, through an exclusive borrow: nobody can hold the lock
    /// meanwhile, so no locking is needed.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut lock = greenlet::sync::RwLock::new(1);
    /// *lock.get_mut() += 1;
    /// assert_eq!(*lock.read(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    /// The guard of a read lock just taken.
    fn read_guard(&self) -> RwLockReadGuard<'_, T> {
        RwLockReadGuard {
            value: self
                .value
                .try_borrow()
                .expect("greenlet: a read-locked RwLock has no write guard"),
            _release: ReleaseRead(&self.state),
        }
    }

    /// The guard of a write lock just taken.
    fn write_guard(&self) -> RwLockWriteGuard<'_, T> {
        RwLockWriteGuard {
            value: self
                .value
                .try_borrow_mut()
                .expect("greenlet: a write-locked RwLock has no other guard"),
            _release: ReleaseWrite(&self.state),
        }
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> RwLock<T> {
        RwLock::new(T::default())
    }
}

impl<T> From<T> for RwLock<T> {
    fn from(value: T) -> RwLock<T> {
        RwLock::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwLock");
        // The value unless a writer has (or is handed) the lock.
        match self.value.try_borrow() {
            Ok(value) if !self.is_write_locked() => d.field("data", &&*value),
            _ => d.field("data", &format_args!("<write-locked>")),
        };
        d.field("readers", &self.readers())
            .field("waiting", &self.state.waiting())
            .finish_non_exhaustive()
    }
}

/// Shared access to the value of a read-locked [`RwLock`]; releases the read
/// lock when dropped, unwinding included. It dereferences to the value.
///
/// # Examples
///
/// ```
/// let lock = greenlet::sync::RwLock::new(vec![1, 2]);
/// let guard = lock.read();
/// assert_eq!(guard.len(), 2);
/// drop(guard);
/// assert!(!lock.is_locked());
/// ```
///
/// Like every guard of this crate, it stays on its thread:
///
/// ```compile_fail
/// fn send<S: Send>(_: S) {}
/// let lock = greenlet::sync::RwLock::new(0);
/// send(lock.read());
/// ```
#[must_use = "the read lock is released as soon as the guard is dropped"]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    // Fields drop in order: the borrow ends before the lock passes on.
    value: Ref<'a, T>,
    _release: ReleaseRead<'a>,
}

/// Exclusive access to the value of a write-locked [`RwLock`]; releases the
/// write lock when dropped, unwinding included. It dereferences to the
/// value, mutably too.
///
/// # Examples
///
/// ```
/// let lock = greenlet::sync::RwLock::new(String::new());
/// let mut guard = lock.write();
/// guard.push_str("hi");
/// drop(guard);
/// assert_eq!(*lock.read(), "hi");
/// ```
///
/// Like every guard of this crate, it stays on its thread:
///
/// ```compile_fail
/// fn send<S: Send>(_: S) {}
/// let lock = greenlet::sync::RwLock::new(0);
/// send(lock.write());
/// ```
#[must_use = "the write lock is released as soon as the guard is dropped"]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    value: RefMut<'a, T>,
    _release: ReleaseWrite<'a>,
}

/// Releases a read lock when dropped.
struct ReleaseRead<'a>(&'a LockState);

impl Drop for ReleaseRead<'_> {
    fn drop(&mut self) {
        self.0.release_read();
    }
}

/// Releases the write lock when dropped.
struct ReleaseWrite<'a>(&'a LockState);

impl Drop for ReleaseWrite<'_> {
    fn drop(&mut self) {
        self.0.release_write();
    }
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
