//! Waiting for a child's exit without blocking the hub.
//!
//! A child's exit is watched through a pidfd (`pidfd_open`, Linux 5.3 and
//! later): the descriptor turns readable when the process exits, so it is
//! registered with this thread's reactor like a socket, and the waiting
//! greenlet is woken by the same `epoll_wait` that serves the sockets and
//! timers. Once it is readable, `waitpid` (std's `try_wait`) reaps the child.
//! Where the kernel has no `pidfd_open` (or a sandbox refuses it), the
//! waiter polls instead: a non-blocking `waitpid`, then a green sleep that
//! doubles from 1 ms up to [`MAX_POLL`].
//!
//! Ground rules: only this file makes the `pidfd_open` system call, and it
//! never reaps a child except through the `std::process::Child` it is given.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::process::{Child as StdChild, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::hub::{Direction, IoSource};

/// The longest pause between two polls of a child without a pidfd.
pub(crate) const MAX_POLL: Duration = Duration::from_millis(50);

/// Set by a test hook: watch every new child by polling, as on kernels
/// without `pidfd_open`.
static PIDFD_DISABLED: AtomicBool = AtomicBool::new(false);

/// Makes the children spawned from now on be watched by polling (`true`),
/// or through a pidfd where the kernel has one (`false`, the default).
pub(crate) fn disable_pidfd(disabled: bool) {
    PIDFD_DISABLED.store(disabled, Ordering::Relaxed);
}

/// How the exit of one child is watched.
#[derive(Debug)]
pub(crate) struct ExitWatch {
    /// The child's pidfd, registered with this thread's hub; `None`: poll.
    pidfd: Option<IoSource<OwnedFd>>,
}

impl ExitWatch {
    /// Watches the child `pid`, through a pidfd if the kernel opens and
    /// registers one, by polling otherwise (the reason is logged at `debug`).
    pub(crate) fn new(pid: u32) -> ExitWatch {
        if PIDFD_DISABLED.load(Ordering::Relaxed) {
            return ExitWatch { pidfd: None };
        }
        match pidfd_open(pid).and_then(IoSource::new) {
            Ok(source) => ExitWatch {
                pidfd: Some(source),
            },
            Err(e) => {
                log::debug!("greenlet: no pidfd for child {pid} ({e}): its waits poll");
                ExitWatch { pidfd: None }
            }
        }
    }

    /// Whether the exit is watched through a pidfd.
    pub(crate) fn has_pidfd(&self) -> bool {
        self.pidfd.is_some()
    }

    /// Reaps `child` once it has exited, waiting (only the calling greenlet)
    /// until then or until `deadline` passes (`None`: for ever).
    ///
    /// Returns `None` when the deadline passes first; one `try_wait` is made
    /// even with a deadline in the past.
    ///
    /// # Errors
    ///
    /// The kernel's error from `waitpid`; an error instead of waiting while
    /// the thread is unwinding.
    #[track_caller]
    pub(crate) fn wait_until(
        &self,
        child: &mut StdChild,
        deadline: Option<Instant>,
    ) -> io::Result<Option<ExitStatus>> {
        let Some(pidfd) = &self.pidfd else {
            return poll_until(child, deadline);
        };
        // The pidfd turns readable, edge-triggered, as the child exits:
        // `try_wait` is the operation, and `None` its `WouldBlock`.
        let reaped = pidfd.io_until(Direction::Read, deadline, |_| match child.try_wait() {
            Ok(Some(status)) => Ok(status),
            Ok(None) => Err(io::ErrorKind::WouldBlock.into()),
            Err(e) => Err(e),
        });
        match reaped {
            Ok(status) => Ok(Some(status)),
            Err(e) if e.kind() == io::ErrorKind::TimedOut && deadline.is_some() => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// [`ExitWatch::wait_until`] without a pidfd: `try_wait`, then a green
/// sleep of 1 ms, doubling up to [`MAX_POLL`] (and never past `deadline`).
fn poll_until(child: &mut StdChild, deadline: Option<Instant>) -> io::Result<Option<ExitStatus>> {
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let now = Instant::now();
        let nap = match deadline {
            Some(d) if now >= d => return Ok(None),
            Some(d) => pause.min(d - now),
            None => pause,
        };
        crate::sleep(nap);
        pause = (pause * 2).min(MAX_POLL);
    }
}

/// Opens a pidfd for the process `pid` (close-on-exec, as the kernel makes
/// every pidfd).
///
/// # Errors
///
/// `ENOSYS` before Linux 5.3, `EPERM` under a seccomp filter that refuses
/// the call, `ESRCH` when there is no such process.
fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    let pid =
        libc::pid_t::try_from(pid).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let flags: libc::c_uint = 0;
    // SAFETY: `pidfd_open` takes a pid and flags by value and reads or
    // writes no memory of ours.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, flags) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = RawFd::try_from(fd).map_err(|_| io::Error::other("greenlet: pidfd out of range"))?;
    // SAFETY: the kernel has just returned this descriptor, open and owned
    // by nothing else; the `OwnedFd` is now its only owner.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
