//! The kernel's calls, made directly with `libc::syscall`: what the patched
//! calls do when they do not switch, and after they have waited.

use std::ffi::{c_int, c_void};

use libc::{size_t, sockaddr, socklen_t, ssize_t, timespec};

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

pub(super) fn accept4(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t, flags: c_int) -> c_int {
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

/// `poll` as the `ppoll` system call (which every architecture has):
/// `timeout` in milliseconds, negative for none.
pub(super) fn poll(fds: *mut libc::pollfd, nfds: libc::nfds_t, timeout: c_int) -> c_int {
    let mut span = timespec {
        tv_sec: libc::time_t::from(timeout / 1000),
        tv_nsec: libc::c_long::from(timeout % 1000) * 1_000_000,
    };
    // The kernel writes the time left back into `span`.
    let span: *mut timespec = if timeout < 0 {
        std::ptr::null_mut()
    } else {
        &raw mut span
    };
    // SAFETY: as `read`; no signal mask is given.
    unsafe {
        libc::syscall(
            libc::SYS_ppoll,
            fds,
            nfds,
            span,
            std::ptr::null::<c_void>(),
            0,
        ) as c_int
    }
}

pub(super) fn close(fd: c_int) -> c_int {
    // SAFETY: as `read`.
    unsafe { libc::syscall(libc::SYS_close, fd) as c_int }
}

/// The calling thread's `errno`.
pub(super) fn errno() -> c_int {
    // SAFETY: the calling thread's errno, always valid.
    unsafe { *libc::__errno_location() }
}
