//! `patch` (a cargo feature, off by default): gevent's monkey patching for
//! Rust. The library defines the C library's blocking socket and sleep
//! calls itself, so that code written against `std::net` and
//! `std::thread::sleep`, and crates built on them, switch greenlets instead
//! of blocking the hub.
//!
//! # What is patched (this increment)
//!
//! `read`, `write`, `readv`, `writev`, `recv`, `recvfrom`, `recvmsg`,
//! `send`, `sendto`, `sendmsg`, `connect`, `accept`, `accept4`,
//! `nanosleep` and `clock_nanosleep`. The rest of the list (`poll`,
//! `close`, `getaddrinfo`) is not patched yet: those calls still block the
//! hub.
//!
//! # When a call switches
//!
//! Only inside a greenlet, on a socket in blocking mode (no `O_NONBLOCK`),
//! while the hub is open. Everywhere else (a thread without greenlets, the
//! main context and the hub's own loop, a regular file or pipe, a socket
//! the caller made non-blocking) the call goes straight to the kernel. A
//! switching call honours the socket's `SO_RCVTIMEO`/`SO_SNDTIMEO`: when
//! it passes, the call fails with `EAGAIN` (`EINPROGRESS` for `connect`),
//! as the kernel's does.
//!
//! # How
//!
//! The real calls are raw system calls (`libc::syscall`), not
//! `dlsym(RTLD_NEXT, …)`: a system call needs no lookup, cannot find this
//! library's own definition again, and works in a static binary. A socket
//! is written with `MSG_DONTWAIT`, so its flags never change; a receive
//! (and `accept`) waits until the socket is readable, then makes the
//! caller's blocking call, which returns at once; `connect` sets
//! `O_NONBLOCK` for the call only. (Another thread or process taking the
//! data between the wake-up and the call would make that call block.)
//!
//! # Kills and timeouts
//!
//! A kill or an expired timeout cannot unwind through a C call (std
//! declares these functions `extern "C"`). A patched call interrupted that
//! way fails with `ECANCELED` instead, which std's I/O reports as an error
//! (not retried as `EINTR` would be), and the greenlet unwinds at its next
//! blocking call of the library. A patched `nanosleep` returns early with
//! no time left, so `std::thread::sleep` returns.

use std::ffi::{c_int, c_void};
use std::os::fd::BorrowedFd;
use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use libc::{size_t, sockaddr, socklen_t, ssize_t, timespec};

use crate::hub::{in_greenlet as context_in_greenlet, is_closed as hub_is_closed};

mod calls;
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

/// Whether a call on `fd` should switch greenlets: in a greenlet of an open
/// hub, on a socket in blocking mode.
fn switches(fd: c_int) -> bool {
    if !context_in_greenlet() || hub_is_closed() {
        return false;
    }
    // SAFETY: `st` is written by the kernel before it is read.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a valid stat buffer.
    if unsafe { libc::fstat(fd, &mut st) } != 0 || st.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        return false;
    }
    // SAFETY: F_GETFL reads the descriptor's flags.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    flags >= 0 && flags & libc::O_NONBLOCK == 0
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
/// at the deadline, `ECANCELED` if the greenlet is killed or times out
/// meanwhile (it cannot unwind through a C call).
fn wait(fd: c_int, read: bool, deadline: Option<Instant>) -> Result<(), c_int> {
    let timeout = match deadline {
        Some(d) => match d.checked_duration_since(Instant::now()) {
            Some(left) if !left.is_zero() => Some(left),
            _ => return Err(libc::EAGAIN),
        },
        None => None,
    };
    // SAFETY: the caller's descriptor, open for the length of its call.
    let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    let waited = panic::catch_unwind(AssertUnwindSafe(|| {
        if read {
            crate::io::wait_readable(fd, timeout)
        } else {
            crate::io::wait_writable(fd, timeout)
        }
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
    // SAFETY: one valid pollfd, no waiting.
    let ready = unsafe { libc::poll(&mut entry, 1, 0) };
    ready > 0
}

/// A blocking receive that switches while nothing has arrived: it waits
/// until the socket is readable, then makes the caller's blocking call,
/// which returns at once. (Not `MSG_DONTWAIT`: once a socket is shut down
/// for reading, the kernel answers a non-blocking receive with `EAGAIN`
/// for ever, but a blocking one at once, with end of file.)
fn green_recv(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    flags: c_int,
    addr: *mut sockaddr,
    addrlen: *mut socklen_t,
) -> ssize_t {
    match wait_readable(fd) {
        Ok(()) => real::recvfrom(fd, buf, len, flags, addr, addrlen),
        Err(e) => fail(e),
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

/// A blocking send that switches while the socket is full; on a stream
/// socket it sends everything, as the kernel's blocking send does.
fn green_send(
    fd: c_int,
    buf: *const c_void,
    len: size_t,
    flags: c_int,
    addr: *const sockaddr,
    addrlen: socklen_t,
) -> ssize_t {
    let deadline = deadline(fd, libc::SO_SNDTIMEO);
    let all = is_stream(fd);
    let mut sent: usize = 0;
    loop {
        // SAFETY: `sent <= len`: within the caller's buffer.
        let rest = unsafe { buf.cast::<u8>().add(sent) }.cast::<c_void>();
        let n = send_when_room(fd, deadline, || {
            real::sendto(
                fd,
                rest,
                len - sent,
                flags | libc::MSG_DONTWAIT,
                addr,
                addrlen,
            )
        });
        if n < 0 {
            // What was sent before the error is the call's result.
            return if sent > 0 { sent as ssize_t } else { -1 };
        }
        sent += n as usize;
        if !all || sent == len {
            return sent as ssize_t;
        }
    }
}

/// Makes `send`, a non-blocking send, until it does not answer `EAGAIN`,
/// switching while the socket is full (until `deadline`): its result, or
/// -1 with `errno` set.
fn send_when_room(
    fd: c_int,
    deadline: Option<Instant>,
    mut send: impl FnMut() -> ssize_t,
) -> ssize_t {
    loop {
        let n = send();
        if n >= 0 || errno() != libc::EAGAIN {
            return n;
        }
        if let Err(e) = wait(fd, false, deadline) {
            return fail(e);
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
