//! The stack layer's only `unsafe` code, and nothing else: the memory
//! regions that stacks are carved from, the stacks themselves (corosensei's
//! `unsafe trait Stack`), the signal plumbing of the overflow report, and the
//! helper thread that prefaults and releases stacks in batches.
//!
//! Everything else in `stack/` is safe code over the types re-exported here.

mod helper;
mod page;
mod region;
mod signal;

#[cfg(test)]
pub(super) use helper::PAUSED as HELPER_PAUSED;
pub(super) use helper::{Batch, log_start_failure};
pub(crate) use helper::{refuse_populate, use_stack_helper};
pub(super) use page::PAGE;
pub(crate) use region::{Lender, RegionStack};

pub(super) use region::{GuardKind, Region, Slot, guard_kind, unmap_regions};
pub(crate) use region::{force_mprotect_guards, refuse_guards};
pub(super) use signal::AltStack;
