//! Timeouts: interrupting the blocking call of a context that waits too long.

use std::fmt;
use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::blocking::current_key;
use super::context;
use super::thread::with_hub;
use super::timer::TimerId;
use super::unwind::Elapsed;
use super::wait::MAIN;

/// A timeout for the context that starts it, without a closure: gevent's
/// `with Timeout(seconds):`.
///
/// If the context is still inside the guard's scope when `duration` passes,
/// the blocking call it is in (or its next one) unwinds with an [`Elapsed`]
/// payload. Dropping the guard disarms it. [`with_timeout`] is the same
/// thing that also catches the unwinding; with a bare guard, an expiry that
/// nobody catches ends the greenlet (its `join` returns
/// [`JoinError::Panicked`](crate::JoinError::Panicked) with the `Elapsed`
/// payload).
///
/// # Implementation notes
///
/// The expiry interrupts a context only where it switches: a loop that never
/// blocks cannot be interrupted. Code that catches the unwinding inside the
/// guard's scope does not stop it: the next blocking call there unwinds
/// again, until the guard is dropped.
///
/// # Examples
///
/// ```
/// use std::panic::{self, AssertUnwindSafe};
/// use std::time::Duration;
/// use greenlet::{Elapsed, Timeout};
///
/// let result = panic::catch_unwind(AssertUnwindSafe(|| {
///     let _timeout = Timeout::start(Duration::from_millis(5));
///     greenlet::sleep(Duration::from_secs(60)); // interrupted after 5 ms
/// }));
/// assert!(result.unwrap_err().is::<Elapsed>());
/// ```
pub struct Timeout {
    id: u64,
    timer: TimerId,
    /// The context it interrupts: `MAIN` or a greenlet's key and id.
    key: usize,
    greenlet_id: u64,
    _not_send: PhantomData<Rc<()>>,
}

impl Timeout {
    /// Arms a timeout of `duration` for the running context.
    ///
    /// A duration too long to add to `Instant::now()` never expires, and
    /// neither does a timeout started once the hub is torn down at thread
    /// exit (from another thread-local's destructor), where blocking calls
    /// block the thread and nothing can interrupt them.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let timeout = greenlet::Timeout::start(Duration::from_secs(1));
    /// greenlet::sleep(Duration::from_millis(1)); // well within the limit
    /// drop(timeout); // disarmed
    /// ```
    pub fn start(duration: Duration) -> Timeout {
        let key = current_key();
        let greenlet_id = super::greenlet::current().id();
        // "Never" is far enough: a timer that never fires is still armed.
        let deadline = Instant::now()
            .checked_add(duration)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600));
        let (id, timer) = with_hub(|hub| hub.arm_timeout(key, greenlet_id, deadline));
        Timeout {
            id,
            timer,
            key,
            greenlet_id,
            _not_send: PhantomData,
        }
    }
}

impl Drop for Timeout {
    fn drop(&mut self) {
        if self.key == MAIN {
            context::clear_main_timeout(self.id);
        }
        let (timer, key, greenlet_id, id) = (self.timer, self.key, self.greenlet_id, self.id);
        with_hub(|hub| {
            hub.cancel_timer(timer);
            if let Some(header) = hub.header(key, greenlet_id) {
                header.clear_timeout(id);
            }
        });
    }
}

impl fmt::Debug for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timeout").finish_non_exhaustive()
    }
}

/// Runs `f`; if it is still blocked after `duration`, the blocking call it is
/// in unwinds and `with_timeout` returns `Err(Elapsed)`.
///
/// Nested timeouts each fire only their own: an inner one that expires is
/// caught by its own `with_timeout`, and an outer one unwinds through every
/// inner scope to its own. Destructors inside `f` run on the way out.
///
/// # Errors
///
/// Returns [`Elapsed`] if the deadline passed while `f` was blocked.
///
/// # Panics
///
/// Passes on any other panic of `f`, and a kill of the running greenlet.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let quick = greenlet::with_timeout(Duration::from_secs(1), || 7);
/// assert_eq!(quick, Ok(7));
///
/// let slow = greenlet::with_timeout(Duration::from_millis(5), || {
///     greenlet::sleep(Duration::from_secs(60));
/// });
/// assert!(slow.is_err());
/// ```
#[track_caller]
pub fn with_timeout<T>(duration: Duration, f: impl FnOnce() -> T) -> Result<T, Elapsed> {
    let guard = Timeout::start(duration);
    let id = guard.id;
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    drop(guard);
    match result {
        Ok(value) => Ok(value),
        Err(payload) => match payload.downcast::<Elapsed>() {
            Ok(elapsed) if elapsed.id() == id => Err(*elapsed),
            Ok(other) => panic::resume_unwind(other),
            Err(payload) => panic::resume_unwind(payload),
        },
    }
}
