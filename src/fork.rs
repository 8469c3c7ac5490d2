//! Telling a process made by `fork` from the one it was forked from, without
//! a system call.
//!
//! A child made by `fork` inherits its parent's memory, so a hub's state
//! looks the same in both; but descriptors such as an epoll instance are
//! shared with the parent, not copied. Whatever holds one remembers the
//! [`ForkGeneration`] it was made in, and checks it before use: one relaxed
//! atomic load, where `getpid` would be a system call each time.
//!
//! # Implementation notes
//!
//! A `pthread_atfork` child handler, installed before the first generation
//! is taken, counts the forks: it runs in the child, on the forking thread,
//! before `fork` returns. A child made without libc's `fork` (a raw `clone`
//! system call) is not seen; `vfork` and `posix_spawn` children only `exec`.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// How many `fork`s lie between the process that installed the handler and
/// this one. Each process has its own copy: a child's handler adds one to
/// the count it inherited.
static FORKS: AtomicUsize = AtomicUsize::new(0);

/// Set once the child handler is installed.
static COUNTING: AtomicBool = AtomicBool::new(false);

/// Which process in a line of forks something was made in: take it with
/// [`current`](Self::current) when making it, and check it with
/// [`is_current`](Self::is_current) before each use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ForkGeneration(usize);

impl ForkGeneration {
    /// This process's generation, after making sure forks are counted from
    /// now on.
    ///
    /// # Errors
    ///
    /// `pthread_atfork`'s error (`ENOMEM`) the first time, if it fails.
    pub(crate) fn current() -> io::Result<Self> {
        if !COUNTING.load(Ordering::Acquire) {
            // Two threads may both get here at first; a second handler only
            // counts each fork twice, which changes no comparison.
            // SAFETY: `count_fork` is a valid handler for the life of the
            // process (it is in this binary, never unloaded before exit), and
            // async-signal-safe: it only adds to an atomic.
            let code = unsafe { libc::pthread_atfork(None, None, Some(count_fork)) };
            if code != 0 {
                return Err(io::Error::from_raw_os_error(code));
            }
            COUNTING.store(true, Ordering::Release);
        }
        Ok(ForkGeneration(FORKS.load(Ordering::Relaxed)))
    }

    /// Whether this is still the process the generation was taken in: false
    /// in a child forked since (or a child of one).
    #[inline]
    pub(crate) fn is_current(self) -> bool {
        // Relaxed: the handler ran on this very thread, before `fork`
        // returned; no other thread of the child existed yet.
        FORKS.load(Ordering::Relaxed) == self.0
    }
}

/// The `pthread_atfork` child handler.
extern "C" fn count_fork() {
    FORKS.fetch_add(1, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generation_stays_current_without_a_fork() {
        let made_in = ForkGeneration::current().unwrap();
        assert!(made_in.is_current());
        assert_eq!(ForkGeneration::current().unwrap(), made_in);
    }

    #[test]
    fn a_forked_child_is_told_from_its_parent() {
        let made_in = ForkGeneration::current().unwrap();
        // SAFETY: the child only loads an atomic and leaves with `_exit`,
        // both async-signal-safe, so locks held by other threads at the fork
        // do not matter.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", io::Error::last_os_error());
        if pid == 0 {
            let code = if made_in.is_current() { 1 } else { 0 };
            // SAFETY: as above.
            unsafe { libc::_exit(code) };
        }
        let mut status = 0;
        // SAFETY: waits for our own child, which exits at once.
        assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
        assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
        assert!(made_in.is_current(), "the parent is unchanged");
    }
}
