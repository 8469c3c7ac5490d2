//! `Event`: a flag that greenlets wait on until it is set.

use std::cell::{Cell, OnceCell};
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use super::Watchers;
use super::wait_queue::{WaitError, WaitQueue};
use crate::hub::{ObjectName, Waiter};

struct Inner {
    set: Cell<bool>,
    waiters: WaitQueue<()>,
    /// The name given with [`Event::named`], registered for `run_info`
    /// under the address of `waiters` (which the waits record).
    name: OnceCell<ObjectName>,
    /// `greenlet::wait` and `iwait` calls watching for the flag.
    watchers: Watchers,
}

/// A flag that greenlets (and the main context) wait on until another sets
/// it: gevent's `Event`.
///
/// [`set`](Self::set) wakes every waiter, in the order they began waiting,
/// and the flag stays set (later waits return at once) until
/// [`clear`](Self::clear). An `Event` is a cheap handle: clones share one
/// flag.
///
/// # Examples
///
/// ```
/// use greenlet::sync::Event;
///
/// let ready = Event::new();
/// let waiter = {
///     let ready = ready.clone();
///     greenlet::spawn(move || {
///         ready.wait();
///         "went"
///     })
/// };
/// greenlet::yield_now(); // the waiter blocks
/// assert!(!waiter.is_finished());
/// ready.set();
/// assert_eq!(waiter.join().unwrap(), "went");
/// ```
#[derive(Clone)]
pub struct Event {
    inner: Rc<Inner>,
}

impl Event {
    /// A new, unset event.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!greenlet::sync::Event::new().is_set());
    /// ```
    pub fn new() -> Event {
        Event {
            inner: Rc::new(Inner {
                set: Cell::new(false),
                waiters: WaitQueue::new(),
                name: OnceCell::new(),
                watchers: Watchers::new(),
            }),
        }
    }

    /// A new, unset event with a name, which [`run_info`](crate::run_info)
    /// and the deadlock report give for the contexts that wait on it
    /// (unnamed events appear by address).
    ///
    /// # Examples
    ///
    /// ```
    /// let done = greenlet::sync::Event::named("done");
    /// assert_eq!(done.name(), Some("done"));
    /// ```
    pub fn named(name: &str) -> Event {
        let event = Event::new();
        let waiters: *const WaitQueue<()> = &event.inner.waiters;
        let _ = event.inner.name.set(ObjectName::new(waiters, name));
        event
    }

    /// The name given with [`named`](Self::named), if any.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(greenlet::sync::Event::new().name(), None);
    /// ```
    pub fn name(&self) -> Option<&str> {
        self.inner.name.get().map(ObjectName::get)
    }

    /// Sets the flag and wakes every waiter, in FIFO order.
    ///
    /// # Examples
    ///
    /// ```
    /// let event = greenlet::sync::Event::new();
    /// event.set();
    /// assert!(event.is_set());
    /// event.wait(); // returns at once
    /// ```
    pub fn set(&self) {
        self.inner.set.set(true);
        self.inner.waiters.notify_all(&());
        self.inner.watchers.wake_all();
    }

    /// Adds a `greenlet::wait` watching for the flag.
    pub(crate) fn watch(&self, waiter: Waiter) {
        self.inner.watchers.add(waiter);
    }

    /// Clears the flag: later waits block until the next [`set`](Self::set).
    /// Waiters already woken by a `set` still return.
    ///
    /// # Examples
    ///
    /// ```
    /// let event = greenlet::sync::Event::new();
    /// event.set();
    /// event.clear();
    /// assert!(!event.is_set());
    /// ```
    pub fn clear(&self) {
        self.inner.set.set(false);
    }

    /// Whether the flag is set.
    ///
    /// # Examples
    ///
    /// ```
    /// let event = greenlet::sync::Event::new();
    /// assert!(!event.is_set());
    /// ```
    pub fn is_set(&self) -> bool {
        self.inner.set.get()
    }

    /// Blocks until the flag is set (at once if it is).
    ///
    /// # Panics
    ///
    /// Unwinds the caller if it is killed or its timeout expires while it
    /// waits. In the main context, panics with the deadlock report when no
    /// greenlet could ever set the event.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::sync::Event;
    ///
    /// let event = Event::new();
    /// let setter = event.clone();
    /// greenlet::spawn(move || setter.set());
    /// event.wait(); // the main context runs the setter meanwhile
    /// ```
    #[inline(always)]
    #[track_caller]
    pub fn wait(&self) {
        if !self.is_set() {
            let _ = self.inner.waiters.wait("Event::wait", None, |()| {});
        }
    }

    /// Blocks until the flag is set or `timeout` passes; returns whether it
    /// was set.
    ///
    /// # Panics
    ///
    /// As [`wait`](Self::wait).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let event = greenlet::sync::Event::new();
    /// assert!(!event.wait_timeout(Duration::from_millis(5)));
    /// event.set();
    /// assert!(event.wait_timeout(Duration::from_millis(5)));
    /// ```
    #[track_caller]
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.is_set()
            || match self
                .inner
                .waiters
                .wait("Event::wait", Some(timeout), |()| {})
            {
                Ok(()) => true,
                Err(WaitError::TimedOut) => false,
            }
    }
}

impl Default for Event {
    fn default() -> Event {
        Event::new()
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("name", &self.name())
            .field("set", &self.is_set())
            .field("waiting", &self.inner.waiters.len())
            .field("watching", &self.inner.watchers.len())
            .finish()
    }
}
