//! glibc's fortified variants of the patched calls. C code built with
//! `_FORTIFY_SOURCE` calls `__read_chk` where it wrote `read` (and so on)
//! whenever the compiler knows the buffer's size: the variant checks the
//! length against the buffer, then makes the call. Without these
//! definitions, such code would reach glibc's variants, which call glibc's
//! own `read`, not ours, and block the hub.
//!
//! Each aborts through glibc's `__chk_fail` (as glibc's does: "buffer
//! overflow detected") when the length exceeds the buffer, and otherwise
//! calls the plain function by its C name. Those names are declared here,
//! not imported from `calls`: the linker binds them to the executable's
//! definitions: this library's (`read`, `recv`, `recvfrom`, `poll`).

use std::ffi::{c_int, c_void};

use libc::{nfds_t, pollfd, size_t, sockaddr, socklen_t, ssize_t};

unsafe extern "C" {
    /// glibc's report of a failed check: prints "buffer overflow detected"
    /// and aborts.
    fn __chk_fail() -> !;
    fn read(fd: c_int, buf: *mut c_void, count: size_t) -> ssize_t;
    fn recv(fd: c_int, buf: *mut c_void, len: size_t, flags: c_int) -> ssize_t;
    fn recvfrom(
        fd: c_int,
        buf: *mut c_void,
        len: size_t,
        flags: c_int,
        addr: *mut sockaddr,
        addrlen: *mut socklen_t,
    ) -> ssize_t;
    fn poll(fds: *mut pollfd, nfds: nfds_t, timeout: c_int) -> c_int;
}

/// Aborts the process, as glibc does, unless `fits`.
fn check(fits: bool) {
    if !fits {
        // SAFETY: glibc's function takes nothing and never returns.
        unsafe { __chk_fail() }
    }
}

/// glibc's `__read_chk`: `read`, after checking that `nbytes` fits in the
/// `buflen` bytes of `buf`.
///
/// # Safety
///
/// The C library's contract for `read`; `buflen` is the size of `buf`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __read_chk(
    fd: c_int,
    buf: *mut c_void,
    nbytes: size_t,
    buflen: size_t,
) -> ssize_t {
    check(nbytes <= buflen);
    // SAFETY: the caller's arguments, under `read`'s contract.
    unsafe { read(fd, buf, nbytes) }
}

/// glibc's `__recv_chk`: `recv`, after checking that `len` fits in the
/// `buflen` bytes of `buf`.
///
/// # Safety
///
/// The C library's contract for `recv`; `buflen` is the size of `buf`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __recv_chk(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    buflen: size_t,
    flags: c_int,
) -> ssize_t {
    check(len <= buflen);
    // SAFETY: the caller's arguments, under `recv`'s contract.
    unsafe { recv(fd, buf, len, flags) }
}

/// glibc's `__recvfrom_chk`: `recvfrom`, after checking that `len` fits in
/// the `buflen` bytes of `buf`.
///
/// # Safety
///
/// The C library's contract for `recvfrom`; `buflen` is the size of `buf`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __recvfrom_chk(
    fd: c_int,
    buf: *mut c_void,
    len: size_t,
    buflen: size_t,
    flags: c_int,
    addr: *mut sockaddr,
    addrlen: *mut socklen_t,
) -> ssize_t {
    check(len <= buflen);
    // SAFETY: the caller's arguments, under `recvfrom`'s contract.
    unsafe { recvfrom(fd, buf, len, flags, addr, addrlen) }
}

/// glibc's `__poll_chk`: `poll`, after checking that `nfds` entries fit in
/// the `fdslen` bytes of `fds`.
///
/// # Safety
///
/// The C library's contract for `poll`; `fdslen` is the size of `fds` in
/// bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __poll_chk(
    fds: *mut pollfd,
    nfds: nfds_t,
    timeout: c_int,
    fdslen: size_t,
) -> c_int {
    // glibc's own test, in whole entries: `fdslen / sizeof (*fds) < nfds`.
    check((fdslen / std::mem::size_of::<pollfd>()) as nfds_t >= nfds);
    // SAFETY: the caller's arguments, under `poll`'s contract.
    unsafe { poll(fds, nfds, timeout) }
}
