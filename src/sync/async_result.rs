//! `AsyncResult`: a value that is set once and that greenlets wait for.

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use super::wait_queue::WaitQueue;
use super::watchers::Watchers;

struct Inner<T> {
    value: RefCell<Option<T>>,
    waiters: WaitQueue<()>,
    /// `greenlet::wait` calls watching for the value.
    watchers: Watchers,
}

/// The error of setting an [`AsyncResult`] that is set already. The value
/// it has stays; the rejected one is dropped.
///
/// # Examples
///
/// ```
/// let result = greenlet::sync::AsyncResult::new();
/// result.set(1)?;
/// assert!(result.set(2).is_err());
/// # Ok::<(), greenlet::sync::AlreadySet>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlreadySet;

impl fmt::Display for AlreadySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the AsyncResult is set already")
    }
}

impl std::error::Error for AlreadySet {}

/// A value that one greenlet sets, once, and that any number of greenlets
/// (and the main context) wait for: gevent's `AsyncResult`, a one-shot
/// future for greenlets.
///
/// [`set`](Self::set) stores the value and wakes every waiter, in the order
/// they began waiting; each [`get`](Self::get) returns a clone of it, at once
/// once it is set. An `AsyncResult` is a cheap handle: clones share one
/// value.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use greenlet::sync::AsyncResult;
///
/// let answer = AsyncResult::new();
/// let readers: Vec<_> = (0..3)
///     .map(|_| {
///         let answer = answer.clone();
///         greenlet::spawn(move || answer.get())
///     })
///     .collect();
/// let writer = {
///     let answer = answer.clone();
///     greenlet::spawn(move || {
///         greenlet::sleep(Duration::from_millis(1));
///         answer.set(42).unwrap();
///     })
/// };
/// for reader in readers {
///     assert_eq!(reader.join().unwrap(), 42);
/// }
/// writer.join().unwrap();
/// ```
///
/// # Failing
///
/// gevent's `set_exception` is an `AsyncResult<Result<T, E>>` here: the
/// setter stores `Ok` or `Err` (with [`set_error`](Self::set_error) for the
/// latter), and every getter gets a clone of the outcome, so `E` must be
/// [`Clone`]; wrap an error that is not in an [`Rc`](std::rc::Rc). The
/// waiting, the wake-ups and [`AlreadySet`] do not depend on which it is.
///
/// ```
/// use std::rc::Rc;
/// use greenlet::sync::AsyncResult;
///
/// let outcome = AsyncResult::<Result<u32, Rc<std::io::Error>>>::new();
/// let worker = {
///     let outcome = outcome.clone();
///     greenlet::spawn(move || {
///         let err = std::io::Error::other("disk full");
///         outcome.set_error(Rc::new(err)).unwrap();
///     })
/// };
/// let err = outcome.get().unwrap_err(); // runs the worker meanwhile
/// assert_eq!(err.to_string(), "disk full");
/// worker.join().unwrap();
/// ```
pub struct AsyncResult<T> {
    inner: Rc<Inner<T>>,
}

impl<T> AsyncResult<T> {
    /// A new, unset result.
    ///
    /// # Examples
    ///
    /// ```
    /// let result = greenlet::sync::AsyncResult::<u8>::new();
    /// assert!(!result.is_set());
    /// ```
    pub fn new() -> AsyncResult<T> {
        AsyncResult {
            inner: Rc::new(Inner {
                value: RefCell::new(None),
                waiters: WaitQueue::new(),
                watchers: Watchers::new(),
            }),
        }
    }

    /// Stores `value` and wakes every waiter, in FIFO order. It never
    /// blocks.
    ///
    /// # Errors
    ///
    /// [`AlreadySet`] when a value was set before; that value stays and
    /// `value` is dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// let result = greenlet::sync::AsyncResult::new();
    /// result.set("first")?;
    /// assert!(result.set("second").is_err());
    /// assert_eq!(result.get(), "first");
    /// # Ok::<(), greenlet::sync::AlreadySet>(())
    /// ```
    pub fn set(&self, value: T) -> Result<(), AlreadySet> {
        {
            let mut slot = self.inner.value.borrow_mut();
            if slot.is_some() {
                // `value` drops after the borrow ends: its destructor may
                // look at this result.
                drop(slot);
                drop(value);
                return Err(AlreadySet);
            }
            *slot = Some(value);
        }
        self.inner.waiters.notify_all(&());
        self.inner.watchers.wake_all();
        Ok(())
    }

    /// Adds a `greenlet::wait` watching for the value.
    pub(crate) fn watch(&self, waiter: crate::hub::Waiter) {
        self.inner.watchers.add(waiter);
    }

    /// Whether a value is set.
    ///
    /// # Examples
    ///
    /// ```
    /// let result = greenlet::sync::AsyncResult::new();
    /// result.set(()).unwrap();
    /// assert!(result.is_set());
    /// ```
    pub fn is_set(&self) -> bool {
        self.inner.value.borrow().is_some()
    }

    /// Blocks until the value is set or `timeout` passes; returns whether it
    /// is set. It needs no [`Clone`].
    #[track_caller]
    fn wait(&self, timeout: Option<Duration>) -> bool {
        self.is_set()
            || self
                .inner
                .waiters
                .wait("AsyncResult::get", timeout, |()| {})
                .is_ok()
    }
}

impl<T: Clone> AsyncResult<T> {
    /// Blocks until the value is set (at once if it is) and returns a clone
    /// of it.
    ///
    /// # Panics
    ///
    /// Unwinds the caller if it is killed or its timeout expires while it
    /// waits. In the main context, panics with the deadlock report when no
    /// greenlet could ever set the value. As every blocking call, panics if
    /// it must wait while the thread is unwinding.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::sync::AsyncResult;
    ///
    /// let result = AsyncResult::new();
    /// let setter = result.clone();
    /// greenlet::spawn(move || setter.set(String::from("done")).unwrap());
    /// assert_eq!(result.get(), "done"); // the main context runs the setter
    /// ```
    #[track_caller]
    pub fn get(&self) -> T {
        self.wait(None);
        self.try_get()
            .expect("a wait without a timeout ends with the value set")
    }

    /// As [`get`](Self::get), waiting at most `timeout`; `None` when the time
    /// ran out first.
    ///
    /// # Panics
    ///
    /// As [`get`](Self::get).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let result = greenlet::sync::AsyncResult::new();
    /// assert_eq!(result.get_timeout(Duration::from_millis(3)), None);
    /// result.set(7).unwrap();
    /// assert_eq!(result.get_timeout(Duration::from_millis(3)), Some(7));
    /// ```
    #[track_caller]
    pub fn get_timeout(&self, timeout: Duration) -> Option<T> {
        self.wait(Some(timeout));
        self.try_get()
    }

    /// A clone of the value if it is set; never blocks.
    ///
    /// # Examples
    ///
    /// ```
    /// let result = greenlet::sync::AsyncResult::new();
    /// assert_eq!(result.try_get(), None);
    /// result.set(1).unwrap();
    /// assert_eq!(result.try_get(), Some(1));
    /// ```
    pub fn try_get(&self) -> Option<T> {
        self.inner.value.borrow().clone()
    }
}

impl<T, E> AsyncResult<Result<T, E>> {
    /// Fails the result: stores `Err(error)` and wakes every waiter, as
    /// [`set`](Self::set) does (gevent's `set_exception`). See
    /// [Failing](Self#failing).
    ///
    /// # Errors
    ///
    /// [`AlreadySet`] when an outcome was set before; it stays.
    ///
    /// # Examples
    ///
    /// ```
    /// let result = greenlet::sync::AsyncResult::<Result<u8, String>>::new();
    /// result.set_error(String::from("no answer"))?;
    /// assert_eq!(result.get(), Err(String::from("no answer")));
    /// assert!(result.set(Ok(1)).is_err());
    /// # Ok::<(), greenlet::sync::AlreadySet>(())
    /// ```
    pub fn set_error(&self, error: E) -> Result<(), AlreadySet> {
        self.set(Err(error))
    }
}

impl<T> Clone for AsyncResult<T> {
    fn clone(&self) -> AsyncResult<T> {
        AsyncResult {
            inner: self.inner.clone(),
        }
    }
}

impl<T> Default for AsyncResult<T> {
    fn default() -> AsyncResult<T> {
        AsyncResult::new()
    }
}

impl<T: fmt::Debug> fmt::Debug for AsyncResult<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncResult")
            .field("value", &*self.inner.value.borrow())
            .field("waiting", &self.inner.waiters.len())
            .finish()
    }
}
