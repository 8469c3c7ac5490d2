//! The signal plumbing of the stack-overflow report: the SIGSEGV/SIGBUS
//! handler, its chaining to the handler installed before it, and the
//! alternate signal stack it runs on.

use std::ffi::c_void;
use std::marker::PhantomData;
use std::mem;
use std::ptr;
use std::sync::{Once, OnceLock};

use super::page::PAGE;
use crate::stack::overflow;

/// An alternate signal stack that this thread installed because it had
/// none: the overflow handler runs on it. Dropping it (at thread exit)
/// uninstalls and unmaps it.
#[derive(Debug)]
pub(in crate::stack) struct AltStack {
    // # Invariant
    // `map .. map + ALT_STACK_LEN` is a mapping this value owns: a guard page,
    // then the signal stack installed for this thread with `sigaltstack`.
    map: usize,
    _thread_bound: PhantomData<*const ()>,
}

/// The alternate signal stack: a guard page and 64 KiB.
const ALT_STACK_LEN: usize = PAGE + 64 * 1024;

impl AltStack {
    /// Installs an alternate signal stack on this thread if it has none (the
    /// threads std starts already have one), and returns it to be dropped
    /// when the thread exits.
    pub(in crate::stack) fn ensure() -> Option<AltStack> {
        // SAFETY: an all-zero `stack_t` is a valid value.
        let mut current: libc::stack_t = unsafe { mem::zeroed() };
        // SAFETY: queries this thread's alternate stack into `current`.
        if unsafe { libc::sigaltstack(ptr::null(), &mut current) } != 0
            || current.ss_flags & libc::SS_DISABLE == 0
        {
            return None; // one is installed (or the query failed: leave it)
        }
        // SAFETY: a fresh private anonymous mapping; it aliases nothing.
        let map = unsafe {
            libc::mmap(
                ptr::null_mut(),
                ALT_STACK_LEN,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if map == libc::MAP_FAILED {
            return None;
        }
        // SAFETY: the lowest page of the mapping just made.
        unsafe { libc::mprotect(map, PAGE, libc::PROT_NONE) };
        let stack = libc::stack_t {
            ss_sp: (map as usize + PAGE) as *mut c_void,
            ss_flags: 0,
            ss_size: ALT_STACK_LEN - PAGE,
        };
        // SAFETY: `stack` is the mapping just made, which lives until this
        // value is dropped, and drop uninstalls it first.
        if unsafe { libc::sigaltstack(&stack, ptr::null_mut()) } != 0 {
            // SAFETY: the mapping just made, not installed.
            unsafe { libc::munmap(map, ALT_STACK_LEN) };
            return None;
        }
        Some(AltStack {
            map: map as usize,
            _thread_bound: PhantomData,
        })
    }
}

impl Drop for AltStack {
    fn drop(&mut self) {
        let disable = libc::stack_t {
            ss_sp: ptr::null_mut(),
            ss_flags: libc::SS_DISABLE,
            ss_size: 0,
        };
        // SAFETY: uninstalls this thread's alternate stack (ours, since the
        // value is bound to the thread that installed it); we are not running
        // on it, so this cannot fail with EPERM.
        if unsafe { libc::sigaltstack(&disable, ptr::null_mut()) } == 0 {
            // SAFETY: the mapping this value owns, no longer installed.
            unsafe { libc::munmap(self.map as *mut c_void, ALT_STACK_LEN) };
        }
    }
}

/// The handlers that were installed for SIGSEGV and SIGBUS before ours.
static PREVIOUS_SEGV: OnceLock<libc::sigaction> = OnceLock::new();
static PREVIOUS_BUS: OnceLock<libc::sigaction> = OnceLock::new();

/// Installs the overflow handler for SIGSEGV and SIGBUS, once per process,
/// on the alternate signal stack, remembering the previous handlers.
///
/// Logs outside the `Once`: a logger that spawns a greenlet maps the first
/// region of stacks, which comes back here, and must find the `Once`
/// complete rather than re-enter it (which waits for ever).
pub(super) fn install_overflow_handler() {
    static INSTALLED: Once = Once::new();
    let mut installed_here = false;
    INSTALLED.call_once(|| {
        for (signal, previous) in [
            (libc::SIGSEGV, &PREVIOUS_SEGV),
            (libc::SIGBUS, &PREVIOUS_BUS),
        ] {
            // SAFETY: an all-zero `sigaction` is a valid value.
            let mut old: libc::sigaction = unsafe { mem::zeroed() };
            // SAFETY: queries the current action into `old`.
            if unsafe { libc::sigaction(signal, ptr::null(), &mut old) } != 0 {
                continue;
            }
            let _ = previous.set(old); // recorded before ours can run
            // SAFETY: as above.
            let mut action: libc::sigaction = unsafe { mem::zeroed() };
            action.sa_sigaction = on_fault as *const () as libc::sighandler_t;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            // SAFETY: `sa_mask` is a valid sigset_t to empty, and `action`
            // names a handler that is async-signal-safe (see `on_fault`).
            unsafe {
                libc::sigemptyset(&mut action.sa_mask);
                libc::sigaction(signal, &action, ptr::null_mut());
            }
        }
        installed_here = true;
    });
    if installed_here {
        log::debug!("installed the stack-overflow handler");
    }
}

/// The SIGSEGV/SIGBUS handler. A fault in the guard page of one of the
/// faulting thread's own stacks prints which greenlet or generator
/// overflowed, and aborts; any other signal (a fault in another thread's
/// guard page too: a wild pointer, no overflow) goes to the previous
/// handler, as if we were not there.
///
/// Async-signal-safe: it reads atomics, this thread's token and the
/// thread-local pointer to the running greenlet, formats into a buffer on
/// its own stack, and calls `write(2)` and `abort(3)`, or the previous
/// handler (see [`call_previous`]). It neither allocates nor locks.
extern "C" fn on_fault(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut c_void) {
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler. The
    // address is meaningful for a fault raised by the kernel (si_code > 0),
    // not for one sent with kill/raise.
    let fault = unsafe {
        match (*info).si_code > 0 {
            true => Some((*info).si_addr() as usize),
            false => None,
        }
    };
    if let Some(hit) = fault.and_then(overflow::guard_hit) {
        // The identity is read while the greenlet that faulted (if any)
        // still runs, and used only to format the report before we abort:
        // the process never returns to it.
        overflow::with_running(|running| {
            let mut buffer = overflow::ReportBuffer::new();
            let report = overflow::report(&mut buffer, hit, running);
            // SAFETY: writes the bytes of `report` to stderr, with the
            // system call itself: the C library's `write` may be the
            // `patch` feature's, which must not switch in a signal handler.
            unsafe {
                libc::syscall(
                    libc::SYS_write,
                    libc::STDERR_FILENO,
                    report.as_ptr(),
                    report.len(),
                )
            };
        });
        std::process::abort();
    }
    let previous = match signal {
        libc::SIGBUS => PREVIOUS_BUS.get(),
        _ => PREVIOUS_SEGV.get(),
    };
    // SAFETY: forwards the signal exactly as the kernel delivered it.
    unsafe { chain(signal, info, context, previous) };
}

/// Hands a signal that is not ours to the handler installed before ours.
///
/// # Safety
///
/// Called only from `on_fault`, with the arguments the kernel passed to it.
unsafe fn chain(
    signal: libc::c_int,
    info: *mut libc::siginfo_t,
    context: *mut c_void,
    previous: Option<&libc::sigaction>,
) {
    let Some(previous) = previous else {
        // SAFETY: restores the default action; the fault happens again when
        // the handler returns, and kills the process as it would have.
        unsafe { restore_default(signal, info) };
        return;
    };
    let handler = previous.sa_sigaction;
    if handler == libc::SIG_DFL || handler == libc::SIG_IGN {
        // SAFETY: puts the previous action back, so that the fault (which
        // recurs when we return) or the re-raised signal meets it.
        unsafe {
            libc::sigaction(signal, previous, ptr::null_mut());
            if (*info).si_code <= 0 {
                libc::raise(signal);
            }
        }
    } else {
        // SAFETY: `previous` names a handler, and the arguments are the
        // kernel's (this function's contract).
        unsafe { call_previous(signal, info, context, previous) };
    }
}

/// Calls the handler installed before ours as the kernel would have
/// delivered the signal to it: its action reset to the default first if it
/// asked for `SA_RESETHAND`, and its `sa_mask` blocked while it runs, with
/// the signal itself unless it asked for `SA_NODEFER`. The thread's mask is
/// restored when it returns.
///
/// Async-signal-safe: `sigaction`, `pthread_sigmask`, `sigemptyset`,
/// `sigaddset` and `sigismember` are all on POSIX's list, and none of them
/// sets `errno` with these arguments.
///
/// # Safety
///
/// As [`chain`], with `previous` naming a handler (neither `SIG_DFL` nor
/// `SIG_IGN`).
unsafe fn call_previous(
    signal: libc::c_int,
    info: *mut libc::siginfo_t,
    context: *mut c_void,
    previous: &libc::sigaction,
) {
    if previous.sa_flags & libc::SA_RESETHAND != 0 {
        // The kernel would have reset the action so before the handler ran.
        set_default(signal);
    }
    // Ours runs with `signal` blocked (no SA_NODEFER) and nothing else
    // added, so this thread's mask is the interrupted one and `signal`: add
    // the handler's mask, and take `signal` out again for SA_NODEFER.
    // SAFETY: an all-zero `sigset_t` is a valid value to fill.
    let mut saved: libc::sigset_t = unsafe { mem::zeroed() };
    // SAFETY: blocks the signals of a valid `sigset_t` for this thread and
    // keeps its mask before in `saved`.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &previous.sa_mask, &mut saved) };
    // SAFETY: reads a valid `sigset_t`.
    let masked = unsafe { libc::sigismember(&previous.sa_mask, signal) } == 1;
    if previous.sa_flags & libc::SA_NODEFER != 0 && !masked {
        // SAFETY: an all-zero `sigset_t` is a valid value to fill.
        let mut only: libc::sigset_t = unsafe { mem::zeroed() };
        // SAFETY: fills `only` with `signal` alone, a valid signal number,
        // and unblocks it for this thread.
        unsafe {
            libc::sigemptyset(&mut only);
            libc::sigaddset(&mut only, signal);
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &only, ptr::null_mut());
        }
    }
    let handler = previous.sa_sigaction;
    if previous.sa_flags & libc::SA_SIGINFO != 0 {
        // SAFETY: an SA_SIGINFO handler has this signature; we call it as
        // the kernel would have.
        unsafe {
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut c_void) =
                mem::transmute(handler);
            f(signal, info, context);
        }
    } else {
        // SAFETY: a plain handler has this signature.
        unsafe {
            let f: extern "C" fn(libc::c_int) = mem::transmute(handler);
            f(signal);
        }
    }
    // SAFETY: puts back the mask kept above, a valid `sigset_t`.
    unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &saved, ptr::null_mut()) };
}

/// Restores the default action of `signal`, re-raising it if it did not come
/// from a fault.
///
/// # Safety
///
/// As [`chain`].
unsafe fn restore_default(signal: libc::c_int, info: *mut libc::siginfo_t) {
    set_default(signal);
    // SAFETY: `info` is the kernel's (this function's contract); raising a
    // signal is async-signal-safe.
    unsafe {
        if (*info).si_code <= 0 {
            libc::raise(signal);
        }
    }
}

/// Sets the action of `signal` to the default one. Async-signal-safe.
fn set_default(signal: libc::c_int) {
    // SAFETY: an all-zero sigaction is the default action (SIG_DFL is 0),
    // with no flags and an empty mask; `sigaction` only reads it.
    unsafe {
        let action: libc::sigaction = mem::zeroed();
        libc::sigaction(signal, &action, ptr::null_mut());
    }
}
