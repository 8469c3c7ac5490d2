//! The `greenlet_local!` values of one context, and how they are dropped
//! when it ends.

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;

/// A context's `greenlet_local!` values, by the address of their key, in
/// the order they were made.
pub(crate) type LocalMap = Vec<(usize, Rc<dyn std::any::Any>)>;

/// How many times [`drop_locals`] looks again for values that destructors
/// made meanwhile (as `PTHREAD_DESTRUCTOR_ITERATIONS`).
const LOCAL_DROP_ROUNDS: usize = 4;

/// Drops the `greenlet_local!` values in `cell`, the last made first, each
/// on its own: a panicking destructor is handed to `caught` and the others
/// still run. Values that destructors make meanwhile are dropped too, for a
/// few rounds; any left after those are leaked (and logged).
///
/// If `caught` unwinds (corosensei's unwinding of a greenlet torn down at
/// thread exit, which must pass), the values not dropped yet are put back
/// into `cell` first, for the teardown to drop.
pub(crate) fn drop_locals(
    cell: &Cell<Option<Box<LocalMap>>>,
    caught: impl Fn(Box<dyn std::any::Any + Send>),
) {
    for _ in 0..LOCAL_DROP_ROUNDS {
        let Some(mut map) = cell.take() else {
            return;
        };
        while let Some((_, value)) = map.pop() {
            if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| drop(value))) {
                let guard = PutBack {
                    cell,
                    map: Some(map),
                };
                caught(payload);
                map = guard.defuse();
            }
        }
    }
    if let Some(map) = cell.take() {
        log::warn!(
            "greenlet: {} greenlet_local! values made by destructors of others were leaked",
            map.len()
        );
        std::mem::forget(map);
    }
}

/// Puts the values of a local map not dropped yet back into its cell if
/// [`drop_locals`] is unwound.
struct PutBack<'a> {
    cell: &'a Cell<Option<Box<LocalMap>>>,
    map: Option<Box<LocalMap>>,
}

impl PutBack<'_> {
    fn defuse(mut self) -> Box<LocalMap> {
        self.map.take().expect("defused once")
    }
}

impl Drop for PutBack<'_> {
    fn drop(&mut self) {
        if let Some(mut map) = self.map.take() {
            if let Some(newer) = self.cell.take() {
                map.extend(*newer);
            }
            self.cell.set(Some(map));
        }
    }
}
