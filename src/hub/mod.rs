//! The gevent-like scheduler: greenlets, the per-thread hub, timers and
//! timeouts.
//!
//! The files form layers; each calls only those below it (design.md, The
//! hub's layers):
//!
//! 1. plain data: `wait` (wait records), `timer`, `ready`, `main_wait`,
//!    `locals`, `unwind` (unwinding payloads and the join error);
//! 2. a greenlet's block: `header`, `body`, `task`;
//! 3. the switch: `context`;
//! 4. the reactor: `reactor`;
//! 5. the scheduler: `scheduler` (the `Hub` and its turn);
//! 6. the thread's hub and its carriers: `carrier`, `thread`;
//! 7. the loop: `run`;
//! 8. the calls: `blocking`, `io_source`, `timeout`, `greenlet`.

mod blocking;
mod body;
mod carrier;
mod context;
mod greenlet;
mod header;
mod io_source;
mod locals;
mod main_wait;
mod reactor;
mod ready;
mod records;
mod run;
mod scheduler;
mod task;
mod thread;
mod timeout;
mod timer;
mod unwind;
mod wait;

#[allow(deprecated)]
pub use blocking::run_until_idle;
pub use blocking::{run, run_once, sleep, yield_now};
pub use greenlet::{Builder, Current, Greenlet, current, joinall, spawn, spawn_later};
pub use timeout::{Timeout, with_timeout};
pub use unwind::{Elapsed, JoinError};

pub(crate) use blocking::block_until;
pub(crate) use context::{with_locals, with_running_greenlet};
pub(crate) use greenlet::KillHandle;
pub(crate) use io_source::IoSource;
pub(crate) use reactor::Direction;
pub(crate) use wait::{WaitReason, Waiter};
