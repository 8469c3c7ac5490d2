//! The C library's calls this library defines: each switches greenlets
//! when `switches` says so, and otherwise goes straight to the kernel.

use std::ffi::{c_int, c_void};

use libc::{size_t, sockaddr, socklen_t, ssize_t, timespec};

use super::{
    deadline, duration_of, errno, green_receive, green_receive_all, green_send, green_sleep,
    in_hub, real, set_errno, switches, wait, wait_readable,
};

/// Sends and receives that must not wait.
const DONTWAIT: c_int = libc::MSG_DONTWAIT;

/// `read(2)`, switching greenlets on a blocking socket.
///
/// # Safety
///
/// The C library's contract for `read`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn read(fd: c_int, buf: *mut c_void, count: size_t) -> ssize_t {
    let (addr, addrlen) = (std::ptr::null_mut(), std::ptr::null_mut());
    if in_hub()
        && let Some(n) = green_receive(fd, 0, |f| real::recvfrom(fd, buf, count, f, addr, addrlen))
    {
        return n;
    }
    real::read(fd, buf, count)
}

/// `write(2)`, switching greenlets on a blocking socket.
///
/// # Safety
///
/// The C library's contract for `write`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn write(fd: c_int, buf: *const c_void, count: size_t) -> ssize_t {
    if in_hub()
        && let Some(n) = green_send(fd, count, true, |sent| {
            // SAFETY: `sent <= count`: within the caller's buffer.
            let rest = unsafe { buf.cast::<u8>().add(sent) }.cast();
            real::sendto(fd, rest, count - sent, DONTWAIT, std::ptr::null(), 0)
        })
    {
        return n;
    }
    real::write(fd, buf, count)
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
    if flags & DONTWAIT != 0 || !in_hub() {
        return real::recvfrom(fd, buf, len, flags, addr, addrlen);
    }
    let received = if flags & libc::MSG_WAITALL == 0 {
        green_receive(fd, flags, |f| {
            real::recvfrom(fd, buf, len, f, addr, addrlen)
        })
    } else {
        green_receive_all(fd, len, flags, |got, f| {
            // SAFETY: `got < len`: within the caller's buffer.
            let rest = unsafe { buf.cast::<u8>().add(got) }.cast();
            real::recvfrom(fd, rest, len - got, f, addr, addrlen)
        })
    };
    received.unwrap_or_else(|| real::recvfrom(fd, buf, len, flags, addr, addrlen))
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
    if flags & DONTWAIT == 0
        && in_hub()
        && let Some(n) = green_send(fd, len, true, |sent| {
            // SAFETY: `sent <= len`: within the caller's buffer.
            let rest = unsafe { buf.cast::<u8>().add(sent) }.cast();
            real::sendto(fd, rest, len - sent, flags | DONTWAIT, addr, addrlen)
        })
    {
        return n;
    }
    real::sendto(fd, buf, len, flags, addr, addrlen)
}

/// A message header for `count` buffers at `iov`, with no address and no
/// control data: what `readv` and `writev` are as `recvmsg` and `sendmsg`.
fn message(iov: *const libc::iovec, count: c_int) -> libc::msghdr {
    // SAFETY: an all-zero msghdr is valid (no address, no control data).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov.cast_mut();
    msg.msg_iovlen = count as _;
    msg
}

/// `readv(2)`, switching greenlets on a blocking socket (as a `recvmsg`
/// of the same buffers).
///
/// # Safety
///
/// The C library's contract for `readv`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn readv(fd: c_int, iov: *const libc::iovec, count: c_int) -> ssize_t {
    let mut msg = message(iov, count);
    if in_hub()
        && let Some(n) = green_receive(fd, 0, |f| real::recvmsg(fd, &mut msg, f))
    {
        return n;
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
    // With MSG_WAITALL: the kernel's call, which may block the hub.
    if flags & (DONTWAIT | libc::MSG_WAITALL) == 0
        && in_hub()
        && let Some(n) = green_receive(fd, flags, |f| real::recvmsg(fd, msg, f))
    {
        return n;
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
    if flags & DONTWAIT == 0
        && in_hub()
        && let Some(n) = green_send(fd, 0, false, |_| real::sendmsg(fd, msg, flags | DONTWAIT))
    {
        return n;
    }
    real::sendmsg(fd, msg, flags)
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
    let msg = message(iov, count);
    if in_hub()
        && let Some(n) = green_send(fd, 0, false, |_| real::sendmsg(fd, &msg, DONTWAIT))
    {
        return n;
    }
    real::writev(fd, iov, count)
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
    // A listener is readable when a connection waits.
    if switches(fd)
        && let Err(e) = wait_readable(fd)
    {
        set_errno(e);
        return -1;
    }
    real::accept4(fd, addr, len, flags)
}

/// `nanosleep(2)`, a green sleep inside a greenlet.
///
/// # Safety
///
/// The C library's contract for `nanosleep`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nanosleep(req: *const timespec, rem: *mut timespec) -> c_int {
    if req.is_null() || !in_hub() {
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
    if req.is_null() || !known || !in_hub() {
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
