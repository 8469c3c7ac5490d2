//! What a greenlet's unwinding carries, and what its handle reports: the
//! payloads of a kill ([`GreenletExit`]) and of an expired timeout
//! ([`Elapsed`]), and the error of a join ([`JoinError`]).

use std::any::Any;
use std::fmt;

/// The unwinding payload of a killed greenlet (Python's `GreenletExit`).
#[derive(Debug)]
pub(crate) struct GreenletExit;

/// Why [`Greenlet::join`](crate::Greenlet::join) has no value to return.
///
/// # Examples
///
/// ```
/// let g = greenlet::spawn(|| -> u32 { panic!("no luck") });
/// let err = g.join().unwrap_err();
/// assert!(err.is_panic());
/// assert_eq!(err.to_string(), "greenlet panicked: no luck");
/// ```
pub enum JoinError {
    /// The greenlet panicked; this is the panic's payload. The panic was also
    /// logged with `log::error!`.
    Panicked(Box<dyn Any + Send>),
    /// The greenlet was killed (possibly before it started).
    Killed,
}

impl JoinError {
    /// True for [`JoinError::Panicked`].
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenlet::spawn(|| panic!("boom"));
    /// assert!(g.join().unwrap_err().is_panic());
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self, JoinError::Panicked(_))
    }

    /// True for [`JoinError::Killed`].
    ///
    /// # Examples
    ///
    /// ```
    /// let g = greenlet::spawn(|| ());
    /// g.kill(); // before it ever ran
    /// assert!(g.join().unwrap_err().is_killed());
    /// ```
    pub fn is_killed(&self) -> bool {
        matches!(self, JoinError::Killed)
    }
}

/// The message of a panic payload, when it has one.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else if let Some(e) = payload.downcast_ref::<Elapsed>() {
        e.message()
    } else {
        "Box<dyn Any>"
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::Panicked(p) => f
                .debug_tuple("Panicked")
                .field(&panic_message(&**p))
                .finish(),
            JoinError::Killed => f.write_str("Killed"),
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::Panicked(p) => write!(f, "greenlet panicked: {}", panic_message(&**p)),
            JoinError::Killed => f.write_str("greenlet was killed"),
        }
    }
}

impl std::error::Error for JoinError {}

/// Logs a panic out of the destructor of `what`, a value of `owner`'s that
/// the library dropped: it stays with its owner, never reaching the
/// context that happened to drop it.
pub(crate) fn log_destructor_panic(owner: &str, what: &str, payload: &(dyn Any + Send)) {
    log::error!(
        "{owner}: the destructor of {what} panicked: {}",
        panic_message(payload)
    );
}

/// The error of [`with_timeout`](crate::with_timeout): the deadline passed while the closure was
/// blocked.
///
/// It is also the unwinding payload that an expired [`Timeout`](crate::Timeout) raises in the
/// blocked call.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let err = greenlet::with_timeout(Duration::from_millis(5), || {
///     greenlet::sleep(Duration::from_secs(60))
/// })
/// .unwrap_err();
/// assert_eq!(err.to_string(), "deadline has elapsed");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Elapsed {
    /// Which timeout expired.
    id: u64,
}

impl Elapsed {
    pub(crate) fn new(id: u64) -> Self {
        Elapsed { id }
    }

    /// Which timeout expired.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    pub(crate) fn message(&self) -> &'static str {
        "deadline has elapsed"
    }
}

impl fmt::Debug for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Elapsed")
    }
}

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for Elapsed {}
