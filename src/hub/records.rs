//! The thread's wait ids, kept apart from the hub so that parking a greenlet
//! needs no borrow of the hub: a parking greenlet takes a fresh wait id
//! here, never reused on the thread (odd ones: the hub gives the even
//! ones).

use std::cell::Cell;

thread_local! {
    /// The wait id the next greenlet to park takes.
    static NEXT_WAIT: Cell<u64> = const { Cell::new(1) };
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
