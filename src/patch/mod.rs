//! `patch` (a cargo feature, off by default): gevent's monkey patching for
//! Rust. The library defines the C library's blocking socket and sleep
//! calls itself, so that code written against `std::net` and
//! `std::thread::sleep`, and crates built on them, switch greenlets instead
//! of blocking the hub.
//!
//! # What is patched
//!
//! - `calls.rs`: `read`, `write`, `readv`, `writev`, `recv`, `recvfrom`,
//!   `recvmsg`, `send`, `sendto`, `sendmsg`, `connect`, `accept`,
//!   `accept4`, `nanosleep` and `clock_nanosleep`;
//! - `poll.rs`: `poll` (waits on many descriptors; none is a sleep) and
//!   `close` (wakes this thread's greenlets waiting on the descriptor,
//!   whose calls fail with `EBADF`);
//! - `resolve.rs`: `getaddrinfo`, run on the default thread pool;
//! - `fortify.rs` (glibc): `__read_chk`, `__recv_chk`, `__recvfrom_chk`
//!   and `__poll_chk`, which check their length and call the above.
//!
//! README's "`patch`" section lists what is not patched and why.
//!
//! # When a call switches
//!
//! Inside a greenlet, and in the main context of a thread that has
//! greenlets (gevent's main greenlet: the hub runs them while it waits),
//! while the hub is open, on a socket in blocking mode (no `O_NONBLOCK`;
//! `poll` on any descriptor epoll takes). Everywhere else (a thread without
//! greenlets, the hub's own loop and whatever it calls, a thread that is
//! unwinding, a regular file or pipe, a socket the caller made
//! non-blocking) the call goes straight to the kernel. A switching call
//! honours the socket's `SO_RCVTIMEO`/`SO_SNDTIMEO`: when it passes, the
//! call fails with `EAGAIN` (`EINPROGRESS` for `connect`), as the kernel's
//! does.
//!
//! # How
//!
//! The real calls are raw system calls (`libc::syscall`), not
//! `dlsym(RTLD_NEXT, …)`: a system call needs no lookup, cannot find this
//! library's own definition again, and works in a static binary. Only
//! `getaddrinfo`, which is no system call, is found with `dlsym`.
//!
//! A receive or send in a greenlet first tries the call with
//! `MSG_DONTWAIT`: on a ready socket that is the whole cost (one system
//! call, as unpatched), and a descriptor that is no socket answers
//! `ENOTSOCK`, whereupon the caller's own call is made. On `EAGAIN`, a
//! blocking socket is waited on (switching) until ready: a send tries
//! again with `MSG_DONTWAIT`, so the socket's flags never change; a
//! receive (and `accept`) then makes the caller's blocking call, which
//! returns at once. `connect` sets `O_NONBLOCK` for the call only.
//! (Another thread or process taking the data between the wake-up and the
//! call would make that call block.)
//!
//! # Kills and timeouts
//!
//! A kill or an expired timeout cannot unwind through a C call (std
//! declares these functions `extern "C"`). A patched call interrupted that
//! way fails with `ECANCELED` instead, which std's I/O reports as an error
//! (not retried as `EINTR` would be), and the greenlet unwinds at its next
//! blocking call of the library. A patched `nanosleep` returns early with
//! no time left, so `std::thread::sleep` returns.

use std::ffi::c_int;
use std::os::fd::BorrowedFd;
use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use libc::{socklen_t, ssize_t, timespec};

use crate::hub::{
    Direction, in_greenlet as context_in_greenlet, is_closed as hub_is_closed, main_runs_hub,
};
use crate::io::Watch;

mod calls;
mod poll;
// glibc's `__*_chk` variants exist only there (with `__chk_fail`).
#[cfg(target_env = "gnu")]
mod fortify;
mod real;
mod resolve;

use real::errno;

fn set_errno(e: c_int) {
    // SAFETY: as `errno`.
    unsafe { *libc::__errno_location() = e }
}

/// Whether calls may switch here (see the module's docs): in a greenlet
/// of an open hub, or in the main context of a thread that has greenlets
/// (outside the hub's loop); never while the thread unwinds.
fn in_hub() -> bool {
    if hub_is_closed() || std::thread::panicking() {
        return false;
    }
    context_in_greenlet() || main_runs_hub()
}

/// Whether `fd` is in blocking mode (no `O_NONBLOCK`); false for a
/// descriptor that is not open.
fn is_blocking(fd: c_int) -> bool {
    // SAFETY: F_GETFL reads the descriptor's flags.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    flags >= 0 && flags & libc::O_NONBLOCK == 0
}

/// Whether a call on `fd` should switch greenlets: in a greenlet of an open
/// hub, on a socket in blocking mode. (The receives and sends ask the
/// kernel instead: see [`green_receive`].)
fn switches(fd: c_int) -> bool {
    if !in_hub() {
        return false;
    }
    // SAFETY: `st` is written by the kernel before it is read.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a valid stat buffer.
    let is_socket =
        unsafe { libc::fstat(fd, &mut st) } == 0 && st.st_mode & libc::S_IFMT == libc::S_IFSOCK;
    is_socket && is_blocking(fd)
}

/// A socket option that is a `timeval` (`SO_RCVTIMEO`, `SO_SNDTIMEO`), as
/// a deadline from now; `None` for none.
fn deadline(fd: c_int, option: c_int) -> Option<Instant> {
    let mut tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 0,
    };
    let mut len = std::mem::size_of::<libc::timeval>() as socklen_t;
    // SAFETY: `tv` and `len` are valid for the option's size.
    let r =
        unsafe { libc::getsockopt(fd, libc::SOL_SOCKET, option, (&raw mut tv).cast(), &mut len) };
    if r != 0 || (tv.tv_sec == 0 && tv.tv_usec == 0) {
        return None;
    }
    let timeout = Duration::new(tv.tv_sec as u64, tv.tv_usec as u32 * 1000);
    Instant::now().checked_add(timeout)
}

/// Whether the socket is a stream socket (whose blocking writes write all).
fn is_stream(fd: c_int) -> bool {
    let mut kind: c_int = 0;
    let mut len = std::mem::size_of::<c_int>() as socklen_t;
    // SAFETY: `kind` and `len` are valid for the option's size.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_TYPE,
            (&raw mut kind).cast(),
            &mut len,
        )
    };
    r == 0 && kind == libc::SOCK_STREAM
}

/// Waits, switching greenlets, until `fd` is readable (`read`) or writable,
/// or `deadline` passes. The error number to fail with otherwise: `EAGAIN`
/// at the deadline, `EBADF` if the descriptor is closed meanwhile,
/// `ECANCELED` if the greenlet is killed or times out meanwhile (it cannot
/// unwind through a C call).
fn wait(fd: c_int, read: bool, deadline: Option<Instant>) -> Result<(), c_int> {
    if deadline.is_some_and(|d| Instant::now() >= d) {
        return Err(libc::EAGAIN);
    }
    // SAFETY: the caller's descriptor, open for the length of its call.
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    let direction = if read {
        Direction::Read
    } else {
        Direction::Write
    };
    let waited = panic::catch_unwind(AssertUnwindSafe(|| {
        Watch::new(fd)?.wait(direction, deadline)
    }));
    match waited {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::TimedOut => Err(libc::EAGAIN),
        Ok(Err(e)) => Err(e.raw_os_error().unwrap_or(libc::EIO)),
        Err(_unwinding) => Err(libc::ECANCELED),
    }
}

/// Whether `fd` is ready for `events` now (or in error, or hung up), by a
/// `poll` that does not wait.
fn ready_now(fd: c_int, events: libc::c_short) -> bool {
    let mut entry = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    real::poll(&mut entry, 1, 0) > 0
}

/// A receive in a greenlet (`in_hub`), made by `call` with the flags it is
/// given: `None` if `fd` is not a socket, for the caller to make its own
/// call; otherwise the receive's result (-1 with `errno` set).
///
/// The first try is `call(flags | MSG_DONTWAIT)`, which on a socket with
/// data is the whole cost; a non-socket answers `ENOTSOCK`. While nothing
/// has arrived on a blocking socket, it waits (switching) until the socket
/// is readable and then makes the caller's own blocking call, which returns
/// at once. (That last call is not `MSG_DONTWAIT`: once a socket is shut
/// down for reading, the kernel answers a non-blocking receive with
/// `EAGAIN` for ever, but a blocking one at once, with end of file.)
/// `flags` must not hold `MSG_WAITALL`, with which that call could block.
fn green_receive(
    fd: c_int,
    flags: c_int,
    mut call: impl FnMut(c_int) -> ssize_t,
) -> Option<ssize_t> {
    debug_assert_eq!(flags & libc::MSG_WAITALL, 0);
    let n = call(flags | libc::MSG_DONTWAIT);
    if n >= 0 {
        return Some(n);
    }
    match errno() {
        libc::ENOTSOCK => return None,
        // `is_blocking` leaves `errno` as it is on success.
        libc::EAGAIN if is_blocking(fd) => {}
        _ => return Some(-1),
    }
    Some(match wait_readable(fd) {
        Ok(()) => call(flags),
        Err(e) => fail(e),
    })
}

/// [`green_receive`] with `MSG_WAITALL` in `flags`, into `len` bytes:
/// receives without it, switching, until all have arrived, end of file or
/// an error (what arrived before the error is the result), as the
/// kernel's receive does. `call(got, flags)` receives at offset `got`.
fn green_receive_all(
    fd: c_int,
    len: usize,
    flags: c_int,
    mut call: impl FnMut(usize, c_int) -> ssize_t,
) -> Option<ssize_t> {
    let flags = flags & !libc::MSG_WAITALL;
    let mut got: usize = 0;
    loop {
        let n = green_receive(fd, flags, |f| call(got, f))?;
        if n <= 0 {
            return Some(if got > 0 { got as ssize_t } else { n });
        }
        got += n as usize;
        if got >= len || !is_stream(fd) {
            return Some(got as ssize_t);
        }
    }
}

/// Waits, switching, until `fd` is readable now (or hung up), within the
/// socket's `SO_RCVTIMEO`: what every receive does before its blocking
/// call.
fn wait_readable(fd: c_int) -> Result<(), c_int> {
    let deadline = deadline(fd, libc::SO_RCVTIMEO);
    while !ready_now(fd, libc::POLLIN | libc::POLLRDHUP) {
        wait(fd, true, deadline)?;
    }
    Ok(())
}

/// Fails the call with the error number `e`.
fn fail(e: c_int) -> ssize_t {
    set_errno(e);
    -1
}

/// A send of `len` bytes in a greenlet (`in_hub`): `None` if `fd` is not a
/// socket, for the caller to make its own call; otherwise the send's
/// result (-1 with `errno` set).
///
/// `call(sent)` sends from offset `sent` with `MSG_DONTWAIT`, so the
/// socket's flags never change. While a blocking socket is full, it waits
/// (switching, within `SO_SNDTIMEO`); with `whole`, a blocking stream
/// socket is sent everything, as the kernel's blocking send does (what was
/// sent before an error is the result).
fn green_send(
    fd: c_int,
    len: usize,
    whole: bool,
    mut call: impl FnMut(usize) -> ssize_t,
) -> Option<ssize_t> {
    let mut sent: usize = 0;
    let mut deadline_at = None;
    loop {
        let n = call(sent);
        if n >= 0 {
            sent += n as usize;
            if !whole || sent >= len || !is_blocking(fd) || !is_stream(fd) {
                return Some(sent as ssize_t);
            }
            continue;
        }
        let e = errno();
        if e == libc::ENOTSOCK && sent == 0 {
            return None;
        }
        let result = if sent > 0 { sent as ssize_t } else { -1 };
        if e != libc::EAGAIN || !is_blocking(fd) {
            return Some(result);
        }
        let deadline = *deadline_at.get_or_insert_with(|| deadline(fd, libc::SO_SNDTIMEO));
        if let Err(e) = wait(fd, false, deadline) {
            set_errno(e);
            return Some(result);
        }
    }
}

/// The duration of a sleep request.
fn duration_of(req: &timespec) -> Option<Duration> {
    let secs = u64::try_from(req.tv_sec).ok()?;
    let nanos = u32::try_from(req.tv_nsec)
        .ok()
        .filter(|&n| n < 1_000_000_000)?;
    Some(Duration::new(secs, nanos))
}

/// Sleeps in the running greenlet, switching; false if a kill or timeout
/// cut it short.
fn green_sleep(duration: Duration) -> bool {
    panic::catch_unwind(AssertUnwindSafe(|| crate::sleep(duration))).is_ok()
}
