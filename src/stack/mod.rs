//! Coroutine stacks: carved out of large regions, each with its own guard
//! page, pooled per thread, and reported by name when they overflow.
//!
//! Files call downwards only, in this order:
//!
//! - `pool.rs`: the per-thread pool and reservations, over
//! - `class.rs`: the stacks of one size, their free lists and how a slot is
//!   found, and `budget.rs`: the `vm.max_map_count` budget and its error;
//! - `size.rs`: the default, smallest and largest sizes and the one check
//!   of a requested size;
//! - `sys/`: the only `unsafe` code: `region.rs` (regions, guards, the
//!   `Stack` impl) over `signal.rs` (the signal handler, the alternate
//!   stack), `helper.rs` (the thread that prefaults and releases stacks in
//!   batches), and `page.rs` (the page size) at the bottom;
//! - `overflow.rs`: recognising our guard pages and the overflow report.
//!
//! Nothing calls back up: a `RegionStack` gives its slot back, when
//! dropped, to its `Lender`, a trait of `sys/` that the pool implements.

mod budget;
mod class;
mod overflow;
mod pool;
mod size;
mod sys;

pub use size::{DEFAULT_STACK_SIZE, MIN_STACK_SIZE};

pub(crate) use overflow::{RunningGreenlet, set_identify};
pub(crate) use pool::{give, release, reserve, take, take_reserved};
#[cfg(test)]
pub(crate) use pool::{mapped_count, pooled_count};
pub(crate) use size::check_stack_size;
pub(crate) use size::usable_size;

/// The stack type every coroutine of this crate runs on.
pub(crate) use pool::PooledStack;

/// Test hooks behind `greenlet::__private`.
pub(crate) mod hooks {
    pub(crate) use super::budget::{HEADROOM, set_max_map_count};
    pub(crate) use super::sys::{
        force_mprotect_guards, refuse_guards, refuse_populate, use_stack_helper,
    };
}
