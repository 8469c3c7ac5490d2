//! The thread's wait ids and wait reasons: the two records every blocking
//! call writes as it parks, kept apart from the hub so that parking a
//! greenlet needs no borrow of the hub.
//!
//! A parking greenlet takes a fresh wait id here, never reused on the
//! thread (odd ones: the hub gives the even ones). The reason of each
//! greenlet's last wait is kept by task-table key, for the deadlock report
//! alone (not in the greenlet's header, to keep its block small).

use std::cell::{Cell, RefCell};
use std::mem::ManuallyDrop;

use super::wait::WaitReason;

thread_local! {
    /// The wait id the next greenlet to park takes.
    static NEXT_WAIT: Cell<u64> = const { Cell::new(1) };
    // `ManuallyDrop`: no TLS destructor, so every access is a plain load;
    // the hub's teardown empties it at thread exit (`clear_reasons`).
    static REASONS: ManuallyDrop<RefCell<Vec<WaitReason>>> =
        const { ManuallyDrop::new(RefCell::new(Vec::new())) };
}

/// How far apart the wait ids of one counter are: the two counters of a
/// thread (parking greenlets here, the hub's own) keep to odd and even ids,
/// so they never meet, and 0 marks a running context.
pub(crate) const WAIT_STEP: u64 = 2;

/// A wait id never given before on this thread, for a greenlet that parks:
/// odd (1, 3, 5, …; see [`WAIT_STEP`]).
#[inline(always)]
pub(crate) fn fresh_wait() -> u64 {
    NEXT_WAIT.with(|next| {
        let wait = next.get();
        next.set(wait + WAIT_STEP);
        wait
    })
}

/// Records why the greenlet at task-table `key` waits.
#[inline(always)]
pub(crate) fn set_reason(key: usize, reason: WaitReason) {
    REASONS.with(|reasons| {
        let mut reasons = reasons.borrow_mut();
        match reasons.get_mut(key) {
            Some(slot) => *slot = reason,
            None => grow_reasons(&mut reasons, key, reason),
        }
    });
}

#[cold]
#[inline(never)]
fn grow_reasons(reasons: &mut Vec<WaitReason>, key: usize, reason: WaitReason) {
    let len = (key + 1).next_power_of_two();
    reasons.resize(len, WaitReason::on("start"));
    reasons[key] = reason;
}

/// The reason last recorded at `key`, if any (it may be a former
/// greenlet's: the caller checks that the greenlet at `key` has parked).
pub(crate) fn reason(key: usize) -> Option<WaitReason> {
    REASONS.with(|reasons| reasons.borrow().get(key).copied())
}

/// Forgets every reason (at thread exit).
pub(crate) fn clear_reasons() {
    REASONS.with(|reasons| *reasons.borrow_mut() = Vec::new());
}
