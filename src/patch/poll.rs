//! The calls about descriptors rather than their data: `poll`, which waits
//! for many, and `close`, which must not leave a greenlet waiting on a
//! descriptor that is gone.

use std::ffi::c_int;
use std::os::fd::BorrowedFd;
use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use libc::{nfds_t, pollfd};

use super::{fail, green_sleep, in_hub, real};
use crate::hub::{Direction, revoke_waits_on};
use crate::io::Watch;

/// The events that a read-direction wait covers (errors and hang-ups are
/// always reported, in both).
const READ_EVENTS: libc::c_short = libc::POLLIN | libc::POLLPRI | libc::POLLRDHUP;

/// `poll(2)`: inside a greenlet, a poll that would wait switches greenlets
/// until one of the descriptors is ready or the timeout passes. A poll of
/// no descriptors is a green sleep.
///
/// # Safety
///
/// The C library's contract for `poll`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn poll(fds: *mut pollfd, nfds: nfds_t, timeout: c_int) -> c_int {
    if timeout == 0 || !in_hub() {
        return real::poll(fds, nfds, timeout);
    }
    let wait = u64::try_from(timeout).ok().map(Duration::from_millis);
    if nfds == 0 {
        return match wait {
            Some(wait) => {
                green_sleep(wait);
                0
            }
            None => real::poll(fds, nfds, timeout),
        };
    }
    let deadline = wait.and_then(|wait| Instant::now().checked_add(wait));
    let ready = real::poll(fds, nfds, 0);
    if ready != 0 {
        return ready;
    }
    // SAFETY: `nfds` entries at `fds`, by the contract; the kernel read
    // them just now.
    let entries = unsafe { std::slice::from_raw_parts_mut(fds, nfds as usize) };
    match green_poll(entries, deadline) {
        Some(ready) => ready,
        // Some descriptor cannot be watched: the kernel's poll, blocking.
        None => real::poll(fds, nfds, left_ms(deadline)),
    }
}

/// [`poll`] once nothing is ready: waits, switching, until the kernel's
/// poll finds something or `deadline` passes. `None` if some descriptor
/// cannot be watched by the hub.
fn green_poll(entries: &mut [pollfd], deadline: Option<Instant>) -> Option<c_int> {
    let mut watches = Vec::with_capacity(entries.len());
    for entry in entries.iter() {
        if entry.fd < 0 {
            continue;
        }
        // SAFETY: the caller's open descriptor, for the length of its call.
        let fd = unsafe { BorrowedFd::borrow_raw(entry.fd) };
        watches.push((Watch::new(fd).ok()?, entry.events));
    }
    let mut wanted = Vec::with_capacity(watches.len() * 2);
    for (watch, events) in &watches {
        // Errors and hang-ups wake a read-direction wait: poll reports
        // them whatever was asked.
        if events & libc::POLLOUT == 0 || events & READ_EVENTS != 0 {
            wanted.push((watch, Direction::Read));
        }
        if events & libc::POLLOUT != 0 {
            wanted.push((watch, Direction::Write));
        }
    }
    loop {
        let waited = panic::catch_unwind(AssertUnwindSafe(|| Watch::wait_any(&wanted, deadline)));
        match waited {
            Ok(Ok(())) => {}
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::TimedOut => {
                for entry in entries.iter_mut() {
                    entry.revents = 0;
                }
                return Some(0);
            }
            Ok(Err(e)) if e.raw_os_error() == Some(libc::EBADF) => {
                return Some(closed(entries, &watches));
            }
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::Unsupported => return None,
            Ok(Err(e)) => return Some(fail(e.raw_os_error().unwrap_or(libc::EIO)) as c_int),
            // A kill or timeout of the greenlet: see the module's docs.
            Err(_unwinding) => return Some(fail(libc::ECANCELED) as c_int),
        }
        let ready = real::poll(entries.as_mut_ptr(), entries.len() as nfds_t, 0);
        if ready != 0 {
            return Some(ready);
        }
    }
}

/// The result of a poll some of whose descriptors were closed while it
/// waited: `POLLNVAL` for each of those (as the kernel reports a closed
/// descriptor), the others left unreported; their numbers may name other
/// files now, so they are not polled again.
fn closed(entries: &mut [pollfd], watches: &[(Watch<'_>, libc::c_short)]) -> c_int {
    let mut watches = watches.iter();
    let mut count = 0;
    for entry in entries.iter_mut() {
        entry.revents = 0;
        if entry.fd < 0 {
            continue;
        }
        if watches.next().is_some_and(|(w, _)| w.is_revoked()) {
            entry.revents = libc::POLLNVAL;
            count += 1;
        }
    }
    count
}

/// Milliseconds until `deadline`, rounded up, for the kernel's poll (-1:
/// none).
fn left_ms(deadline: Option<Instant>) -> c_int {
    deadline.map_or(-1, |d| {
        let left = d.saturating_duration_since(Instant::now());
        c_int::try_from(left.as_nanos().div_ceil(1_000_000)).unwrap_or(c_int::MAX)
    })
}

/// `close(2)`. A greenlet of this thread waiting on `fd` in a patched call
/// (or in [`crate::io::wait_readable`]) is woken first, and its call fails
/// with `EBADF`, as it would have had it started after the close; it never
/// touches the descriptor again, whose number the next file opened may
/// take. (Without this, epoll forgets a closed descriptor silently and the
/// waiter would wait for ever.)
///
/// # Safety
///
/// The C library's contract for `close`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn close(fd: c_int) -> c_int {
    revoke_waits_on(fd);
    real::close(fd)
}
