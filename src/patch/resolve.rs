//! `getaddrinfo` on the thread pool: inside a greenlet, a name lookup
//! waits on a pool thread, so only the greenlet that asked waits and the
//! hub runs the others (gevent's threadpool resolver). `freeaddrinfo`,
//! `getnameinfo` and `gethostbyname` are not patched: the list this
//! `getaddrinfo` returns is libc's own, freed by libc's `freeaddrinfo`.

use std::ffi::{CStr, CString, c_char, c_int};
use std::panic::{self, AssertUnwindSafe};
use std::sync::OnceLock;

use libc::addrinfo;

use super::{errno, in_hub, set_errno};

/// The C library's `getaddrinfo`.
type GetAddrInfo = unsafe extern "C" fn(
    node: *const c_char,
    service: *const c_char,
    hints: *const addrinfo,
    res: *mut *mut addrinfo,
) -> c_int;

/// The C library's `getaddrinfo`, looked up once; `None` where the dynamic
/// linker cannot find it (`dlsym` answers null: no dynamic linking).
///
/// Unlike the socket calls, a lookup is no system call: it reads
/// `/etc/hosts`, loads NSS modules and talks to DNS servers, so the real
/// one is libc's function itself. The name `getaddrinfo` resolves to ours
/// inside this executable, so it is found with `dlsym(RTLD_NEXT, …)`: the
/// search starts after the object that calls `dlsym` (the executable this
/// library is linked into), so it finds libc's definition, never ours.
fn real_getaddrinfo() -> Option<GetAddrInfo> {
    static REAL: OnceLock<Option<GetAddrInfo>> = OnceLock::new();
    *REAL.get_or_init(|| {
        // SAFETY: a lookup of a symbol by a valid, NUL-terminated name.
        let symbol = unsafe { libc::dlsym(libc::RTLD_NEXT, c"getaddrinfo".as_ptr()) };
        // SAFETY: a non-null `getaddrinfo` is the C library's function, of
        // this type (POSIX's prototype); an `Option` of a function pointer
        // is null for `None`, as `dlsym` answers when it finds nothing.
        unsafe { std::mem::transmute::<*mut libc::c_void, Option<GetAddrInfo>>(symbol) }
    })
}

/// Calls the C library's `getaddrinfo` with the caller's arguments; without
/// one, fails with `EAI_SYSTEM` and `ENOSYS`.
///
/// # Safety
///
/// `getaddrinfo`'s contract.
unsafe fn call_real(
    node: *const c_char,
    service: *const c_char,
    hints: *const addrinfo,
    res: *mut *mut addrinfo,
) -> c_int {
    match real_getaddrinfo() {
        // SAFETY: the caller's arguments, under the same contract.
        Some(real) => unsafe { real(node, service, hints, res) },
        None => {
            set_errno(libc::ENOSYS);
            libc::EAI_SYSTEM
        }
    }
}

/// A result list of the C library's `getaddrinfo`, freed by its
/// `freeaddrinfo` when dropped: a lookup whose greenlet was killed before
/// the answer came frees it on the pool thread, where the answer is
/// dropped.
///
/// # Invariant
///
/// The pointer is a list `getaddrinfo` returned, owned by nobody else.
struct AddrInfoList(*mut addrinfo);

// SAFETY: the list is plain memory from `malloc`, owned by this value
// alone; `freeaddrinfo` may free it on any thread.
unsafe impl Send for AddrInfoList {}

impl AddrInfoList {
    /// Hands the list to the caller, who frees it with `freeaddrinfo`.
    fn into_raw(self) -> *mut addrinfo {
        std::mem::ManuallyDrop::new(self).0
    }
}

impl Drop for AddrInfoList {
    fn drop(&mut self) {
        // SAFETY: the list `getaddrinfo` returned, owned by this value
        // (see the invariant), freed once.
        unsafe { libc::freeaddrinfo(self.0) }
    }
}

/// The caller's hints, copied (the fields a caller may set; POSIX wants
/// the others zero).
#[derive(Clone, Copy)]
struct Hints {
    flags: c_int,
    family: c_int,
    socktype: c_int,
    protocol: c_int,
}

impl Hints {
    fn to_addrinfo(self) -> addrinfo {
        // SAFETY: an all-zero addrinfo is valid (null pointers, zero
        // lengths).
        let mut hints: addrinfo = unsafe { std::mem::zeroed() };
        hints.ai_flags = self.flags;
        hints.ai_family = self.family;
        hints.ai_socktype = self.socktype;
        hints.ai_protocol = self.protocol;
        hints
    }
}

/// A lookup's outcome, from the pool thread: `getaddrinfo`'s result, the
/// `errno` that goes with `EAI_SYSTEM`, and the list on success.
struct Answer {
    code: c_int,
    errno: c_int,
    list: Option<AddrInfoList>,
}

/// Copies a nullable C string.
///
/// # Safety
///
/// `s` is null or a valid NUL-terminated string.
unsafe fn copy(s: *const c_char) -> Option<CString> {
    // SAFETY: as the caller promises.
    (!s.is_null()).then(|| unsafe { CStr::from_ptr(s) }.to_owned())
}

/// Runs the lookup on the default pool with copies of its inputs, waiting
/// (switching greenlets) for its answer: an error if no pool thread could
/// start (the C function itself never panics).
fn on_the_pool(
    node: Option<CString>,
    service: Option<CString>,
    hints: Option<Hints>,
) -> Result<Answer, crate::JoinError> {
    let task = crate::threadpool::default_pool().spawn(move || {
        let hints = hints.map(Hints::to_addrinfo);
        let mut res: *mut addrinfo = std::ptr::null_mut();
        // SAFETY: owned strings and hints that live across the call, and a
        // valid place for the result.
        let code = unsafe {
            call_real(
                node.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
                service.as_ref().map_or(std::ptr::null(), |s| s.as_ptr()),
                hints.as_ref().map_or(std::ptr::null(), |h| h),
                &mut res,
            )
        };
        let errno = errno();
        Answer {
            code,
            errno,
            // The list is set only on success (`res` is untouched else).
            list: (code == 0).then_some(AddrInfoList(res)),
        }
    });
    task.join()
}

/// `getaddrinfo(3)`, on the thread pool inside a greenlet (or in the main
/// context of a thread with greenlets, which run meanwhile): only the
/// calling greenlet waits while the C library's lookup runs on a pool
/// thread, and everything that lookup does (reading `/etc/hosts`, NSS
/// modules, DNS sockets) happens there. Anywhere else (a plain thread, a
/// closed hub) it is the C library's call itself.
///
/// A kill or expired timeout of the waiting greenlet cannot unwind through
/// this C call: the lookup fails with `EAI_SYSTEM` and `errno` set to
/// `ECANCELED`, and the greenlet unwinds at its next blocking call. The
/// lookup goes on, and its result list is freed when it arrives. If no
/// pool thread can start, it fails with `EAI_SYSTEM` and `EAGAIN`. While
/// the thread unwinds (a lookup in a destructor), the lookup is made on
/// the spot. Where the dynamic linker cannot find the C library's
/// function by name, every lookup fails with `EAI_SYSTEM` and `ENOSYS`.
///
/// # Safety
///
/// The C library's contract for `getaddrinfo`: `node` and `service` null
/// or NUL-terminated, `hints` null or a valid `addrinfo`, `res` valid to
/// write; the list it gets is freed with `freeaddrinfo`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn getaddrinfo(
    node: *const c_char,
    service: *const c_char,
    hints: *const addrinfo,
    res: *mut *mut addrinfo,
) -> c_int {
    // While the thread unwinds (a destructor's lookup), a wait would panic:
    // the lookup is made here.
    if res.is_null() || !in_hub() {
        // SAFETY: the caller's arguments, under the same contract.
        return unsafe { call_real(node, service, hints, res) };
    }
    // SAFETY: the caller's strings, valid by the contract.
    let (node, service) = unsafe { (copy(node), copy(service)) };
    // SAFETY: the caller's hints, null or valid by the contract.
    let hints = unsafe { hints.as_ref() }.map(|h| Hints {
        flags: h.ai_flags,
        family: h.ai_family,
        socktype: h.ai_socktype,
        protocol: h.ai_protocol,
    });
    let answer = panic::catch_unwind(AssertUnwindSafe(|| on_the_pool(node, service, hints)));
    match answer {
        Ok(Ok(Answer {
            code: 0,
            list: Some(list),
            ..
        })) => {
            // SAFETY: `res` is valid to write by the contract.
            unsafe { *res = list.into_raw() };
            0
        }
        Ok(Ok(Answer { code, errno, .. })) => {
            if code == libc::EAI_SYSTEM {
                set_errno(errno);
            }
            code
        }
        Ok(Err(_no_thread)) => {
            // As `pthread_create` answers when no thread can start.
            set_errno(libc::EAGAIN);
            libc::EAI_SYSTEM
        }
        Err(_unwinding) => {
            // Killed or timed out while waiting.
            set_errno(libc::ECANCELED);
            libc::EAI_SYSTEM
        }
    }
}
