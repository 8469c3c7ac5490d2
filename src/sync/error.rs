//! The errors of putting into and getting from a [`Queue`](super::Queue) or
//! a [`Channel`](super::Channel).

use std::fmt;

/// The error of putting an item into a [`Queue`](super::Queue) or a
/// [`Channel`](super::Channel): the item comes back with it.
///
/// Its `Debug` form names the variant only, so that `T` need not be
/// `Debug`.
///
/// # Examples
///
/// ```
/// use greenlet::sync::{PutError, Queue};
///
/// let queue = Queue::bounded(1);
/// queue.put("first")?;
/// let err = queue.try_put("second").unwrap_err();
/// assert!(matches!(err, PutError::Full(_)));
/// assert_eq!(err.to_string(), "no room to put the item");
/// assert_eq!(err.into_inner(), "second");
/// # Ok::<(), PutError<&str>>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub enum PutError<T> {
    /// There was no room for the item (a full [`Queue`](super::Queue), or
    /// no getter waiting on a [`Channel`](super::Channel)), and the call
    /// does not wait.
    Full(T),
    /// The queue or channel is closed: it takes no more items.
    Closed(T),
    /// The timeout passed before there was room for the item.
    TimedOut(T),
}

impl<T> PutError<T> {
    /// The item that was not put.
    ///
    /// # Examples
    ///
    /// ```
    /// let queue = greenlet::sync::Queue::unbounded();
    /// queue.close();
    /// assert_eq!(queue.put(7).unwrap_err().into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            PutError::Full(item) | PutError::Closed(item) | PutError::TimedOut(item) => item,
        }
    }
}

impl<T> fmt::Debug for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PutError::Full(_) => "Full(..)",
            PutError::Closed(_) => "Closed(..)",
            PutError::TimedOut(_) => "TimedOut(..)",
        })
    }
}

impl<T> fmt::Display for PutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PutError::Full(_) => "no room to put the item",
            PutError::Closed(_) => "put on a closed queue or channel",
            PutError::TimedOut(_) => "timed out waiting to put",
        })
    }
}

impl<T> std::error::Error for PutError<T> {}

/// The error of getting an item from a [`Queue`](super::Queue) or a
/// [`Channel`](super::Channel).
///
/// # Examples
///
/// ```
/// use greenlet::sync::{GetError, Queue};
///
/// let queue = Queue::<u32>::unbounded();
/// assert_eq!(queue.try_get(), Err(GetError::Empty));
/// queue.close();
/// assert_eq!(queue.try_get(), Err(GetError::Closed));
/// assert_eq!(GetError::Empty.to_string(), "no item to get");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GetError {
    /// There was no item (in a [`Queue`](super::Queue), or offered by a
    /// waiting putter of a [`Channel`](super::Channel)), and the call does
    /// not wait.
    Empty,
    /// The queue or channel is closed and holds no item: none will come.
    Closed,
    /// The timeout passed before an item came.
    TimedOut,
}

impl fmt::Display for GetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GetError::Empty => "no item to get",
            GetError::Closed => "get from a closed and empty queue or channel",
            GetError::TimedOut => "timed out waiting to get",
        })
    }
}

impl std::error::Error for GetError {}
