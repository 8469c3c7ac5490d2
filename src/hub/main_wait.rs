//! The main context's wait: its wait id, why it waits, whether on I/O, and
//! the waits that a wait nested in them set aside.
//!
//! # Nested waits
//!
//! The hub's loop runs on the main context, and what it runs there (a
//! logger, for one) may block. That wait runs a loop of its own, nested in
//! the first, while the main context's outer wait (or none, in a host
//! loop's turn) is still going on. The outer wait is set aside here
//! meanwhile: a wake-up meant for it, or its ready entry already queued, is
//! recorded instead of being taken for stale, and when the nested wait
//! ends the outer one is restored, made ready if it was woken.

use std::cell::Cell;
use std::mem;

use super::wait::WaitReason;

/// How deep waits of the main context may nest inside the hub's loop (a
/// logger that blocks on each record the loop logs would recurse for ever).
const MAX_NESTED_WAITS: usize = 16;

/// A wait of the main context that a wait nested in it set aside.
#[derive(Clone, Copy, Debug)]
struct OuterWait {
    wait: u64,
    reason: WaitReason,
    /// Parked on I/O (still counted in the hub's `io_waiting` until woken).
    io_wait: bool,
    /// Woken while the nested wait lasted: made ready when it ends.
    woken: bool,
}

/// The main context's wait.
///
/// # Invariant
///
/// `wait` is the wait id of the main context's innermost wait (0 while it
/// runs), the only one a ready entry or a waker may match directly; each of
/// `outer` was set aside by the wait nested in it, innermost last, and is
/// matched only through [`MainWait::wake_outer`] until it is restored.
#[derive(Debug)]
pub(crate) struct MainWait {
    wait: Cell<u64>,
    reason: WaitReason,
    /// Parked on I/O: counted in the hub's `io_waiting` until it is woken.
    io_wait: Cell<bool>,
    outer: Vec<OuterWait>,
}

impl MainWait {
    pub(crate) const fn new() -> Self {
        MainWait {
            wait: Cell::new(0),
            reason: WaitReason::on("nothing"),
            io_wait: Cell::new(false),
            outer: Vec::new(),
        }
    }

    /// The current wait id (0 while the main context runs).
    #[inline(always)]
    pub(crate) fn wait(&self) -> &Cell<u64> {
        &self.wait
    }

    /// Whether the current wait is parked on I/O.
    #[inline(always)]
    pub(crate) fn io_wait(&self) -> &Cell<bool> {
        &self.io_wait
    }

    /// Records a new wait `wait` for `reason`. If it is `nested` in the
    /// hub's loop, the current one is set aside first; `queued(id)` tells
    /// whether a ready entry of the main context with wait id `id` is
    /// queued already (then it counts as woken).
    ///
    /// # Panics
    ///
    /// Panics if waits nest too deep.
    pub(crate) fn park(
        &mut self,
        wait: u64,
        reason: WaitReason,
        nested: bool,
        queued: impl FnOnce(u64) -> bool,
    ) {
        if nested {
            self.set_aside(queued);
        }
        self.wait.set(wait);
        self.reason = reason;
    }

    #[cold]
    fn set_aside(&mut self, queued: impl FnOnce(u64) -> bool) {
        assert!(
            self.outer.len() < MAX_NESTED_WAITS,
            "greenlet: blocking calls nested {MAX_NESTED_WAITS} deep inside the hub's loop \
             (a logger that blocks on every record the loop logs?)"
        );
        let wait = self.wait.get();
        self.outer.push(OuterWait {
            wait,
            reason: self.reason,
            io_wait: self.io_wait.replace(false),
            woken: wait != 0 && queued(wait),
        });
    }

    /// Restores the wait the innermost nested one set aside, when that one
    /// ends. If it was woken meanwhile, it gets the wait id `fresh()` and
    /// that is returned, for the caller to make it ready with.
    ///
    /// # Panics
    ///
    /// Panics if no wait was set aside.
    #[cold]
    pub(crate) fn restore(&mut self, fresh: impl FnOnce() -> u64) -> Option<u64> {
        let outer = self.outer.pop().expect("a nested wait to end");
        self.reason = outer.reason;
        if outer.woken {
            self.io_wait.set(false);
            let wait = fresh();
            self.wait.set(wait);
            Some(wait)
        } else {
            self.wait.set(outer.wait);
            self.io_wait.set(outer.io_wait);
            None
        }
    }

    /// Whether any wait is set aside.
    #[inline]
    pub(crate) fn has_outer(&self) -> bool {
        !self.outer.is_empty()
    }

    /// Wakes the wait set aside whose id is `wait`, if any: `None` if there
    /// is none, else whether it was parked on I/O (no longer counted then).
    #[cold]
    #[inline(never)]
    pub(crate) fn wake_outer(&mut self, wait: u64) -> Option<bool> {
        let outer = self
            .outer
            .iter_mut()
            .find(|o| o.wait == wait && o.wait != 0 && !o.woken)?;
        outer.woken = true;
        Some(mem::take(&mut outer.io_wait))
    }

    /// Whether `wait` names a wait of the main context still going on: the
    /// current one, or one set aside and not woken.
    pub(crate) fn waits(&self, wait: u64) -> bool {
        self.wait.get() == wait || self.outer.iter().any(|o| o.wait == wait && !o.woken)
    }

    /// Why the main context waits, innermost first (for the deadlock
    /// report).
    pub(crate) fn reasons(&self) -> impl Iterator<Item = WaitReason> + '_ {
        std::iter::once(self.reason).chain(self.outer.iter().rev().map(|o| o.reason))
    }
}
