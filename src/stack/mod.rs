//! Coroutine stacks: carved out of large regions, each with its own guard
//! page, pooled per thread, and reported by name when they overflow.
//!
//! - `pool.rs`: the per-thread pool and reservations; `class.rs`: the
//!   stacks of one size, their free lists and how a slot is found.
//! - `budget.rs`: the `vm.max_map_count` budget and its error.
//! - `sys/`: the only `unsafe` code: `region.rs` (regions, guards, the
//!   `Stack` impl), `signal.rs` (the signal handler, the alternate stack)
//!   and `helper.rs` (the thread that prefaults and releases stacks in
//!   batches).
//! - `overflow.rs`: recognising our guard pages and the overflow report.

mod budget;
mod class;
mod overflow;
mod pool;
mod sys;

pub use pool::{DEFAULT_STACK_SIZE, MIN_STACK_SIZE};

pub(crate) use overflow::RunningGreenlet;
pub(crate) use pool::{give, release, reserve, take, take_reserved, usable_size};
#[cfg(test)]
pub(crate) use pool::{mapped_count, pooled_count};

/// The stack type every coroutine of this crate runs on.
pub(crate) type PooledStack = sys::RegionStack;

/// Test hooks behind `greenlet::__private`.
pub(crate) mod hooks {
    pub(crate) use super::budget::{HEADROOM, set_max_map_count};
    pub(crate) use super::sys::{
        force_mprotect_guards, refuse_guards, refuse_populate, use_stack_helper,
    };
}
