//! Waiting for any file descriptor: gevent's `wait_read` and `wait_write`.
//!
//! For pipes, terminals, or another library's sockets: the calling greenlet
//! waits (the main context runs the hub) until the descriptor is ready, and
//! then the caller does its own non-blocking I/O.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use crate::hub::{Direction, IoSource};

/// Waits until `fd` is readable (or at end of file, or in error), for at
/// most `timeout` (`None`: for ever).
///
/// The descriptor should be in non-blocking mode, so that the read that
/// follows cannot block the thread if another reader got there first.
///
/// # Errors
///
/// - `TimedOut` when the timeout passes first.
/// - The kernel's error when the descriptor cannot be watched (for example a
///   regular file, which epoll refuses with `EPERM`).
/// - An error instead of waiting while the thread is unwinding.
///
/// # Implementation notes
///
/// The descriptor is registered with the hub's epoll instance for the wait
/// only. Closing it while a greenlet waits on it leaves that greenlet to its
/// timeout: epoll forgets closed descriptors silently. (With the `patch`
/// feature, `close` on the same thread wakes the greenlet, whose wait
/// fails with `EBADF`.)
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use std::os::unix::net::UnixStream;
/// use std::time::Duration;
///
/// let (mut a, mut b) = UnixStream::pair()?;
/// b.set_nonblocking(true)?;
/// let writer = greenlet::spawn(move || a.write_all(b"ready"));
/// greenlet::io::wait_readable(&b, Some(Duration::from_secs(5)))?; // runs the writer
/// let mut got = [0; 5];
/// b.read_exact(&mut got)?;
/// assert_eq!(&got, b"ready");
/// writer.join().unwrap()?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn wait_readable(fd: impl AsFd, timeout: Option<Duration>) -> io::Result<()> {
    wait(fd.as_fd(), Direction::Read, timeout)
}

/// Waits until `fd` is writable (or in error), for at most `timeout`
/// (`None`: for ever).
///
/// # Errors
///
/// As [`wait_readable`].
///
/// # Examples
///
/// ```
/// use std::os::unix::net::UnixStream;
///
/// let (a, _b) = UnixStream::pair()?;
/// greenlet::io::wait_writable(&a, None)?; // an empty socket buffer: at once
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn wait_writable(fd: impl AsFd, timeout: Option<Duration>) -> io::Result<()> {
    wait(fd.as_fd(), Direction::Write, timeout)
}

#[track_caller]
fn wait(fd: BorrowedFd<'_>, direction: Direction, timeout: Option<Duration>) -> io::Result<()> {
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    Watch::new(fd)?.wait(direction, deadline)
}

/// A descriptor watched for a one-off wait ([`wait_readable`], and the
/// `patch` feature's calls): registered with this thread's hub until
/// dropped. Closing it with the `patch` feature's `close` while a greenlet
/// waits on it wakes that greenlet, whose wait fails with `EBADF`.
pub(crate) struct Watch<'fd>(IoSource<Watched<'fd>>);

/// What a [`Watch`] registers: the caller's descriptor, or, when that is
/// registered already (one of the library's own sockets, or watched by
/// another greenlet), a duplicate of it, which epoll keys apart.
enum Watched<'fd> {
    Borrowed(BorrowedFd<'fd>),
    Duplicate(OwnedFd),
}

impl AsRawFd for Watched<'_> {
    fn as_raw_fd(&self) -> RawFd {
        match self {
            Watched::Borrowed(fd) => fd.as_raw_fd(),
            Watched::Duplicate(fd) => fd.as_raw_fd(),
        }
    }
}

impl<'fd> Watch<'fd> {
    /// Registers `fd` (or a duplicate) with this thread's hub.
    ///
    /// # Errors
    ///
    /// The kernel's error when the descriptor cannot be watched (epoll
    /// refuses a regular file with `EPERM`) or duplicated.
    pub(crate) fn new(fd: BorrowedFd<'fd>) -> io::Result<Self> {
        let watched = fd.as_raw_fd();
        match IoSource::new_watched(Watched::Borrowed(fd), watched) {
            Ok(source) => Ok(Watch(source)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let duplicate = Watched::Duplicate(fd.try_clone_to_owned()?);
                Ok(Watch(IoSource::new_watched(duplicate, watched)?))
            }
            Err(e) => Err(e),
        }
    }

    /// Waits once until the descriptor may be ready for `direction`.
    ///
    /// # Errors
    ///
    /// `TimedOut` when `deadline` passes first; `EBADF` when the
    /// descriptor was closed meanwhile; an error instead of waiting while
    /// the thread is unwinding.
    #[track_caller]
    pub(crate) fn wait(&self, direction: Direction, deadline: Option<Instant>) -> io::Result<()> {
        self.0.wait_once(direction, deadline)
    }

    /// Whether the descriptor was closed while watched.
    #[cfg(feature = "patch")]
    pub(crate) fn is_revoked(&self) -> bool {
        self.0.is_revoked()
    }

    /// Waits once until any of `watches` may be ready for its direction.
    ///
    /// # Errors
    ///
    /// As [`wait`](Self::wait) (`EBADF`: [`is_revoked`](Self::is_revoked)
    /// says which), and `Unsupported` once the hub is closed.
    #[cfg(feature = "patch")]
    #[track_caller]
    pub(crate) fn wait_any(
        watches: &[(&Watch<'_>, Direction)],
        deadline: Option<Instant>,
    ) -> io::Result<()> {
        let sources: Vec<_> = watches.iter().map(|(w, d)| (&w.0, *d)).collect();
        IoSource::wait_any(&sources, deadline)
    }
}
