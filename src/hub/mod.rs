//! The gevent-like scheduler: greenlets, the per-thread hub, timers and
//! timeouts.

mod blocking;
mod context;
mod greenlet;
mod io_source;
mod main_wait;
mod reactor;
mod ready;
mod run;
mod scheduler;
mod task;
mod timeout;
mod timer;
mod turn;

pub use blocking::{run, run_until_idle, sleep, yield_now};
pub use greenlet::{Builder, Current, Greenlet, JoinError, current, joinall, spawn, spawn_later};
pub use timeout::{Elapsed, Timeout, with_timeout};

pub(crate) use blocking::block_until;
pub(crate) use context::{WaitReason, Waiter, running_greenlet_identity, with_locals};
pub(crate) use greenlet::KillHandle;
pub(crate) use io_source::IoSource;
pub(crate) use reactor::Direction;
pub(crate) use scheduler::with_hub;
