//! Waiting for any file descriptor: gevent's `wait_read` and `wait_write`.
//!
//! For pipes, terminals, or another library's sockets: the calling greenlet
//! waits (the main context runs the hub) until the descriptor is ready, and
//! then the caller does its own non-blocking I/O.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
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
/// timeout: epoll forgets closed descriptors silently.
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
    match IoSource::new(fd) {
        Ok(source) => source.wait_once(direction, deadline),
        // Registered already (it is one of ours, or watched elsewhere):
        // watch a duplicate, which epoll keys apart.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            IoSource::new(fd.try_clone_to_owned()?)?.wait_once(direction, deadline)
        }
        Err(e) => Err(e),
    }
}
