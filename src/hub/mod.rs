//! The gevent-like scheduler: greenlets, the per-thread hub, timers and
//! timeouts.
//!
//! The files form layers; each calls only those below it (design.md, The
//! hub's layers):
//!
//! 1. records, plain data: `wait` (wait records, unwind requests), `timer`,
//!    `locals`, `unwind` (unwinding payloads, the join error), `main_wait`,
//!    `records` (the thread's wait ids);
//! 2. a greenlet's block: `header`, `body`, `task`, and `ready` (the ring
//!    of ready tasks);
//! 3. the switch: `context`;
//! 4. the reactor: `reactor`;
//! 5. the scheduler: `scheduler` (the `Hub`, its turn, its I/O side);
//! 6. carriers and the thread's hub: `carrier`, `thread`;
//! 7. the loop: `run`;
//! 8. the calls: `blocking`, then `io_source`, `greenlet`, `timeout`.
//!
//! The rest of the crate uses the hub through the items re-exported below
//! only: `block_until` and a [`Waiter`] that wakes itself, `IoSource`,
//! `KillHandle` and the greenlet-locals' map. (The stack layer's overflow
//! handler names the running greenlet through a function the hub lends it.)

mod blocking;
mod body;
mod carrier;
mod context;
mod greenlet;
mod handle;
mod header;
mod inbox;
mod io_source;
mod locals;
mod main_wait;
mod names;
mod reactor;
mod ready;
mod records;
mod run;
mod scheduler;
mod spin;
mod task;
mod thread;
mod timeout;
mod timer;
mod unwind;
mod wait;

#[allow(deprecated)]
pub use blocking::run_until_idle;
pub use blocking::{run, run_once, sleep, yield_now};
pub use greenlet::{
    Builder, Current, Greenlet, current, joinall, joinall_timeout, killall, run_info, spawn,
    spawn_later,
};
pub use handle::Handle;
pub use timeout::{Timeout, with_timeout};
pub use unwind::{Elapsed, JoinError};

pub(crate) use blocking::{block_until, is_unwind_request, shielded};
pub(crate) use context::with_locals;
#[cfg(feature = "patch")]
pub(crate) use context::{in_greenlet, is_closed};
pub(crate) use greenlet::KillHandle;
pub(crate) use handle::{CrossWaker, block_cross};
pub(crate) use io_source::IoSource;
#[cfg(feature = "patch")]
pub(crate) use io_source::revoke_waits_on;
pub(crate) use names::ObjectName;
pub(crate) use reactor::Direction;
#[cfg(feature = "patch")]
pub(crate) use thread::main_runs_hub;
pub(crate) use unwind::{log_destructor_panic, panic_message};
pub(crate) use wait::{WaitReason, Waiter};
