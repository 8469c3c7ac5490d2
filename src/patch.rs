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

/// The kernel's calls, made directly.
mod real {
    use super::*;

    pub(super) fn read(fd: c_int, buf: *mut c_void, count: size_t) -> ssize_t {
        // SAFETY: the caller's arguments, passed on unchanged to the kernel,
        // which checks them.
        unsafe { libc::syscall(libc::SYS_read, fd, buf, count) as ssize_t }
    }

    pub(super) fn write(fd: c_int, buf: *const c_void, count: size_t) -> ssize_t {
        // SAFETY: as `read`.
        unsafe { libc::syscall(libc::SYS_write, fd, buf, count) as ssize_t }
    }

    pub(super) fn recvfrom(
        fd: c_int,
        buf: *mut c_void,
        len: size_t,
        flags: c_int,
        addr: *mut sockaddr,
        addrlen: *mut socklen_t,
    ) -> ssize_t {
        // SAFETY: as `read`.
        unsafe { libc::syscall(libc::SYS_recvfrom, fd, buf, len, flags, addr, addrlen) as ssize_t }
    }

    pub(super) fn sendto(
        fd: c_int,
        buf: *const c_void,
        len: size_t,
        flags: c_int,
        addr: *const sockaddr,
        addrlen: socklen_t,
    ) -> ssize_t {
        // SAFETY: as `read`.
        unsafe { libc::syscall(libc::SYS_sendto, fd, buf, len, flags, addr, addrlen) as ssize_t }
    }

    pub(super) fn readv(fd: c_int, iov: *const libc::iovec, count: c_int) -> ssize_t {
        // SAFETY: as `read`.
        unsafe { libc::syscall(libc::SYS_readv, fd, iov, count) as ssize_t }
    }

    pub(super) fn writev(fd: c_int, iov: *const libc::iovec, count: c_int) -> ssize_t {
        // SAFETY: as `read`.
        unsafe { libc::syscall(libc::SYS_writev, fd, iov, count) as ssize_t }
    }

    pub(super) fn recvmsg(fd: c_int, msg: *mut libc::msghdr, flags: c_int) -> ssize_t {
        // SAFETY: as `read`.
        unsafe { libc::syscall(libc::SYS_recvmsg, fd, msg, flags) as ssize_t }
    }

    pub(super) fn sendmsg(fd: c_int, msg: *const libc::msghdr, flags: c_int) -> ssize_t {
        // SAFETY: as `read`.
        unsafe { libc::syscall(libc::SYS_sendmsg, fd, msg, flags) as ssize_t }
    }

    pub(super) fn connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
        // SAFETY: as `read`.
        unsafe { libc::syscall(libc::SYS_connect, fd, addr, len) as c_int }
    }

    pub(super) fn accept4(
        fd: c_int,
        addr: *mut sockaddr,
        len: *mut socklen_t,
        flags: c_int,
    ) -> c_int {
        // SAFETY: as `read`.
        unsafe { libc::syscall(libc::SYS_accept4, fd, addr, len, flags) as c_int }
    }

    pub(super) fn nanosleep(req: *const timespec, rem: *mut timespec) -> c_int {
        // SAFETY: as `read`.
        unsafe { libc::syscall(libc::SYS_nanosleep, req, rem) as c_int }
    }

    /// Returns the error number itself, as `clock_nanosleep` does.
    pub(super) fn clock_nanosleep(
        clock: libc::clockid_t,
        flags: c_int,
        req: *const timespec,
        rem: *mut timespec,
    ) -> c_int {
        // SAFETY: as `read`.
        let r = unsafe { libc::syscall(libc::SYS_clock_nanosleep, clock, flags, req, rem) };
        if r == 0 { 0 } else { errno() }
    }
}

fn errno() -> c_int {
    // SAFETY: the calling thread's errno, always valid.
    unsafe { *libc::__errno_location() }
}

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
        let n = real::sendto(
            fd,
            rest,
            len - sent,
            flags | libc::MSG_DONTWAIT,
            addr,
            addrlen,
        );
        if n >= 0 {
            sent += n as usize;
            if !all || sent == len {
                return sent as ssize_t;
            }
            continue;
        }
        let e = errno();
        if e != libc::EAGAIN {
            return if sent > 0 { sent as ssize_t } else { -1 };
        }
        if let Err(e) = wait(fd, false, deadline) {
            if sent > 0 {
                return sent as ssize_t;
            }
            set_errno(e);
            return -1;
        }
    }
}

/// `read(2)`, switching greenlets on a blocking socket.
///
/// # Safety
///
/// The C library's contract for `read`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn read(fd: c_int, buf: *mut c_void, count: size_t) -> ssize_t {
    if switches(fd) {
        green_recv(
            fd,
            buf,
            count,
            0,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    } else {
        real::read(fd, buf, count)
    }
}

/// `write(2)`, switching greenlets on a blocking socket.
///
/// # Safety
///
/// The C library's contract for `write`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn write(fd: c_int, buf: *const c_void, count: size_t) -> ssize_t {
    if switches(fd) {
        green_send(fd, buf, count, 0, std::ptr::null(), 0)
    } else {
        real::write(fd, buf, count)
    }
}

/// `recv(2)`, switching greenlets on a blocking socket (unless the caller
/// asks for `MSG_DONTWAIT`).
///
/// # Safety
///
/// The C library's contract for `recv`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn recv(fd: c_int, buf: *mut c_void, len: size_t, flags: c_int) -> ssize_t {
    // SAFETY: the same contract, with no address wanted.
    unsafe {
        recvfrom(
            fd,
            buf,
            len,
            flags,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    }
}

/// `recvfrom(2)`, switching greenlets on a blocking socket.
///
/// # Safety
///
/// The C library's contract for `recvfrom`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn recvfrom(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    flags: c_int,
    addr: *mut sockaddr,
    addrlen: *mut socklen_t,
) -> ssize_t {
    if flags & libc::MSG_DONTWAIT == 0 && switches(fd) {
        green_recv(fd, buf, len, flags, addr, addrlen)
    } else {
        real::recvfrom(fd, buf, len, flags, addr, addrlen)
    }
}

/// `send(2)`, switching greenlets on a blocking socket.
///
/// # Safety
///
/// The C library's contract for `send`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn send(fd: c_int, buf: *const c_void, len: size_t, flags: c_int) -> ssize_t {
    // SAFETY: the same contract, with no address given.
    unsafe { sendto(fd, buf, len, flags, std::ptr::null(), 0) }
}

/// `sendto(2)`, switching greenlets on a blocking socket.
///
/// # Safety
///
/// The C library's contract for `sendto`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sendto(
    fd: c_int,
    buf: *const c_void,
    len: size_t,
    flags: c_int,
    addr: *const sockaddr,
    addrlen: socklen_t,
) -> ssize_t {
    if flags & libc::MSG_DONTWAIT == 0 && switches(fd) {
        green_send(fd, buf, len, flags, addr, addrlen)
    } else {
        real::sendto(fd, buf, len, flags, addr, addrlen)
    }
}

/// `readv(2)`, switching greenlets on a blocking socket.
///
/// # Safety
///
/// The C library's contract for `readv`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn readv(fd: c_int, iov: *const libc::iovec, count: c_int) -> ssize_t {
    if switches(fd)
        && let Err(e) = wait_readable(fd)
    {
        return fail(e);
    }
    real::readv(fd, iov, count)
}

/// `recvmsg(2)`, switching greenlets on a blocking socket.
///
/// # Safety
///
/// The C library's contract for `recvmsg`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn recvmsg(fd: c_int, msg: *mut libc::msghdr, flags: c_int) -> ssize_t {
    if flags & libc::MSG_DONTWAIT == 0
        && switches(fd)
        && let Err(e) = wait_readable(fd)
    {
        return fail(e);
    }
    real::recvmsg(fd, msg, flags)
}

/// `sendmsg(2)`, switching greenlets while a blocking socket is full. It
/// sends with `MSG_DONTWAIT` once there is room, and may then send part of
/// the message, as a blocking call interrupted by a signal may: callers of
/// stream sockets (std's `write_all_vectored`) send the rest.
///
/// # Safety
///
/// The C library's contract for `sendmsg`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sendmsg(fd: c_int, msg: *const libc::msghdr, flags: c_int) -> ssize_t {
    if flags & libc::MSG_DONTWAIT != 0 || !switches(fd) {
        return real::sendmsg(fd, msg, flags);
    }
    let deadline = deadline(fd, libc::SO_SNDTIMEO);
    loop {
        let n = real::sendmsg(fd, msg, flags | libc::MSG_DONTWAIT);
        if n >= 0 || errno() != libc::EAGAIN {
            return n;
        }
        if let Err(e) = wait(fd, false, deadline) {
            return fail(e);
        }
    }
}

/// `writev(2)`, switching greenlets while a blocking socket is full: a
/// [`sendmsg`] of the same buffers (which, unlike `writev`, takes
/// `MSG_DONTWAIT`).
///
/// # Safety
///
/// The C library's contract for `writev`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn writev(fd: c_int, iov: *const libc::iovec, count: c_int) -> ssize_t {
    if !switches(fd) {
        return real::writev(fd, iov, count);
    }
    // SAFETY: an all-zero msghdr is valid (no address, no control data).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov.cast_mut();
    msg.msg_iovlen = count as _;
    // SAFETY: the caller's buffers, as `writev`'s contract gives them.
    unsafe { sendmsg(fd, &msg, 0) }
}

/// `connect(2)`, switching greenlets while a blocking socket connects.
///
/// # Safety
///
/// The C library's contract for `connect`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    if !switches(fd) {
        return real::connect(fd, addr, len);
    }
    // SAFETY: reads and sets the descriptor's flags: non-blocking for the
    // call only.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    // SAFETY: as above.
    unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) };
    let r = real::connect(fd, addr, len);
    let e = errno();
    // SAFETY: as above: the caller's flags back.
    unsafe { libc::fcntl(fd, libc::F_SETFL, flags) };
    if r == 0 {
        return 0;
    }
    if e != libc::EINPROGRESS {
        set_errno(e);
        return -1;
    }
    if let Err(e) = wait(fd, false, deadline(fd, libc::SO_SNDTIMEO)) {
        set_errno(if e == libc::EAGAIN {
            libc::EINPROGRESS
        } else {
            e
        });
        return -1;
    }
    let mut error: c_int = 0;
    let mut size = std::mem::size_of::<c_int>() as socklen_t;
    // SAFETY: `error` and `size` are valid for SO_ERROR's size.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&raw mut error).cast(),
            &mut size,
        )
    };
    if r != 0 {
        return -1;
    }
    if error != 0 {
        set_errno(error);
        return -1;
    }
    0
}

/// `accept(2)`: [`accept4`] without flags.
///
/// # Safety
///
/// The C library's contract for `accept`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accept(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int {
    // SAFETY: the same contract.
    unsafe { accept4(fd, addr, len, 0) }
}

/// `accept4(2)`, switching greenlets until a blocking listener has a
/// connection. (Another process accepting on the same listener between the
/// wake-up and the accept would make the accept block.)
///
/// # Safety
///
/// The C library's contract for `accept4`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accept4(
    fd: c_int,
    addr: *mut sockaddr,
    len: *mut socklen_t,
    flags: c_int,
) -> c_int {
    if switches(fd) {
        let deadline = deadline(fd, libc::SO_RCVTIMEO);
        while !ready_now(fd, libc::POLLIN) {
            if let Err(e) = wait(fd, true, deadline) {
                set_errno(e);
                return -1;
            }
        }
    }
    real::accept4(fd, addr, len, flags)
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

/// `nanosleep(2)`, a green sleep inside a greenlet.
///
/// # Safety
///
/// The C library's contract for `nanosleep`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nanosleep(req: *const timespec, rem: *mut timespec) -> c_int {
    if !context_in_greenlet() || hub_is_closed() || req.is_null() {
        return real::nanosleep(req, rem);
    }
    // SAFETY: the caller's request, valid by the contract.
    let Some(duration) = duration_of(unsafe { &*req }) else {
        set_errno(libc::EINVAL);
        return -1;
    };
    if !green_sleep(duration) && !rem.is_null() {
        // Cut short by a kill or timeout: nothing left, so std's sleep
        // returns and the greenlet unwinds at its next blocking call.
        // SAFETY: the caller's `rem`, valid by the contract.
        unsafe {
            *rem = timespec {
                tv_sec: 0,
                tv_nsec: 0,
            }
        };
    }
    0
}

/// `clock_nanosleep(2)`, a green sleep inside a greenlet (relative sleeps,
/// and absolute ones on the monotonic or real-time clock).
///
/// # Safety
///
/// The C library's contract for `clock_nanosleep`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn clock_nanosleep(
    clock: libc::clockid_t,
    flags: c_int,
    req: *const timespec,
    rem: *mut timespec,
) -> c_int {
    let known = clock == libc::CLOCK_MONOTONIC || clock == libc::CLOCK_REALTIME;
    if !context_in_greenlet() || hub_is_closed() || req.is_null() || !known {
        return real::clock_nanosleep(clock, flags, req, rem);
    }
    // SAFETY: the caller's request, valid by the contract.
    let req = unsafe { &*req };
    let Some(mut duration) = duration_of(req) else {
        return libc::EINVAL;
    };
    if flags & libc::TIMER_ABSTIME != 0 {
        let mut now = timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `now` is a valid timespec to write.
        unsafe { libc::clock_gettime(clock, &mut now) };
        let now = duration_of(&now).unwrap_or_default();
        duration = duration.saturating_sub(now);
    }
    if !green_sleep(duration) && !rem.is_null() && flags & libc::TIMER_ABSTIME == 0 {
        // SAFETY: the caller's `rem`, valid by the contract.
        unsafe {
            *rem = timespec {
                tv_sec: 0,
                tv_nsec: 0,
            }
        };
    }
    0
}
