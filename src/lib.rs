//! Green threads and generators in the style of Python's gevent.
//!
//! `greenlet` runs blocking-style code concurrently on one OS thread, on
//! stackful coroutines ([`corosensei`]), without `async` colouring:
//!
//! - [`Generator`]: Python's `send`/`yield` generator, with `close`,
//!   `yield from` and [`Iterator`].
//! - Greenlets and the per-thread hub: [`spawn`], [`Greenlet::join`],
//!   [`Greenlet::kill`], [`sleep`], [`yield_now`], [`with_timeout`]. The
//!   thread's own stack is gevent's main greenlet: a blocking call from
//!   `main()` runs the hub, so no `run` wrapper is needed.
//! - [`net`] and [`io`]: sockets with std's shapes whose blocking calls switch
//!   greenlets, and waiting for any descriptor.
//! - [`server`]: gevent's `StreamServer`, a greenlet per connection with
//!   a connection limit, back-off on accept errors and a graceful stop; and
//!   one hub per core, each thread with its own `SO_REUSEPORT` listener.
//! - [`signal`]: waiting for Unix signals (`SIGINT`, `SIGTERM`, …) in one
//!   greenlet while the others run.
//! - [`sync`], [`pool`] and [`greenlet_local!`]: events, locks (mutex,
//!   reader-writer, condition variables), semaphores, barriers, queues
//!   (FIFO, LIFO, priority), channels, pools and greenlet-local values, all
//!   FIFO.
//! - Threads: [`threadpool`] and [`fs`] make blocking calls (files, name
//!   lookups, C libraries) on a pool of OS threads, [`Handle`] spawns
//!   greenlets on a hub from other threads, and [`block_on`] awaits a
//!   runtime-agnostic future, each waiting in the calling greenlet only.
//! - [`process`]: child processes with std's shapes, whose waits and pipes
//!   switch greenlets (Python's `subprocess`).
//! - [`monitor`]: a watchdog that warns when a greenlet holds its hub too
//!   long without switching.
//!
//! # Examples
//!
//! The consumer/producer pair of Python's coroutine tutorial:
//!
//! ```
//! use greenlet::{Generator, GeneratorState, Yielder};
//!
//! let mut consumer = Generator::new(|co: &Yielder<u32, &str>, _first: u32| {
//!     let mut reply = "";
//!     loop {
//!         let n = co.yield_(reply);
//!         if n == 0 {
//!             return;
//!         }
//!         println!("[CONSUMER] Consuming {n}...");
//!         reply = "200 OK";
//!     }
//! });
//! consumer.send(0); // start it: runs up to the first yield
//! for n in 1..=2 {
//!     println!("[PRODUCER] Producing {n}...");
//!     let reply = consumer.send(n);
//!     assert_eq!(reply, GeneratorState::Yielded("200 OK"));
//! }
//! consumer.close();
//! ```
//!
//! It prints:
//!
//! ```text
//! [PRODUCER] Producing 1...
//! [CONSUMER] Consuming 1...
//! [PRODUCER] Producing 2...
//! [CONSUMER] Consuming 2...
//! ```
//!
//! # Threads of its own
//!
//! Greenlets never leave the thread that spawned them. The library starts
//! three background threads, each only when needed: the [`monitor`]'s
//! watchdog, once a limit is set; `greenlet-stacks`, at the first burst
//! of hundreds of spawns, which prefaults the new stacks' first pages and
//! releases spilled ones while your thread goes on (see [`MIN_STACK_SIZE`]
//! for stack sizes); and `greenlet-reaper`, when a [`process::Child`] is
//! first dropped before its process exited, which reaps such children.
//! The only code of yours they run is your `log` backend, with the records
//! the first two log (the reaper logs nothing); a panic in it is caught,
//! and both threads go on.
//!
//! # Loggers
//!
//! The library logs with [`log`]: `trace!` on every switch, `debug!` on a
//! greenlet's life (spawned, finished, killed, torn down), `error!` when a
//! greenlet panics. It never logs while it holds a borrow, a lock or a
//! `Once`, so a logger may itself use the library: send its records over a
//! green socket, hand them to a greenlet through a queue, or spawn one.
//! Records of switches and of finished greenlets are logged by the hub's
//! loop on the main context; a blocking call the logger makes there waits
//! in a loop nested in it (the main context's own wait is kept meanwhile),
//! up to 16 deep: a logger that blocks on every record at `trace` level
//! should not.
//!
//! # Thread exit, process exit and `fork`
//!
//! - When a thread exits, its hub is torn down: greenlets still suspended
//!   unwind (their destructors run), unstarted ones are dropped, and
//!   `join` on any of them returns [`JoinError::Killed`]. From then on no
//!   greenlet runs on that thread, yet other thread-locals' destructors may
//!   still use the library: a greenlet spawned then is killed at once, a
//!   blocking call blocks the thread (a `sleep` sleeps; a green socket
//!   waits with a poller of its own), `greenlet_local!` values are made
//!   and dropped on each use.
//! - `std::process::exit` may be called from a greenlet, as from a thread:
//!   the other greenlets are not unwound (as other threads' stacks are not),
//!   the process exits with the status given.
//!
//! `design.md` in the repository explains the architecture: the modules, the
//! stack strategy and how Python's generator semantics map onto this crate's.
#![deny(missing_docs, missing_debug_implementations)]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]
#![doc(test(attr(deny(warnings))))]

mod fork;
pub mod fs;
mod future;
mod generator;
mod hub;
pub mod io;
mod local;
mod many;
pub mod monitor;
pub mod net;
#[cfg(feature = "patch")]
mod patch;
pub mod pool;
pub mod process;
mod scope;
pub mod server;
pub mod signal;
mod stack;
pub mod sync;
pub mod threadpool;

pub use future::block_on;
#[allow(deprecated)]
pub use generator::State;
pub use generator::{Generator, GeneratorState, GeneratorStatus, Yielder};
#[allow(deprecated)]
pub use hub::run_until_idle;
pub use hub::{
    Builder, Current, Elapsed, Greenlet, Handle, JoinError, Timeout, current, joinall,
    joinall_timeout, killall, run, run_info, run_once, sleep, spawn, spawn_later, with_timeout,
    yield_now,
};
pub use local::GreenletLocal;
pub use many::{Iwait, Waitable, iwait, wait};
pub use scope::{Scope, ScopedJoinHandle, scope};
pub use stack::{DEFAULT_STACK_SIZE, MIN_STACK_SIZE};

/// Test hooks for this crate's own integration tests. **Not part of the
/// API**: hidden, unstable, and free to change in any release.
#[doc(hidden)]
pub mod __private {
    /// Mappings the stack allocator leaves free for the rest of the process.
    ///
    /// ```
    /// assert!(greenlet::__private::MAPPING_HEADROOM > 0);
    /// ```
    pub const MAPPING_HEADROOM: usize = crate::stack::hooks::HEADROOM;

    /// Makes the stack allocator believe that `vm.max_map_count` is `limit`
    /// (`None`: read the kernel's again), to test running out of mappings
    /// without changing the machine.
    ///
    /// ```
    /// greenlet::__private::set_max_map_count(None);
    /// ```
    pub fn set_max_map_count(limit: Option<usize>) {
        crate::stack::hooks::set_max_map_count(limit);
    }

    /// Makes the regions mapped from now on use `mprotect` guard pages, as on
    /// kernels without `MADV_GUARD_INSTALL` (`false`: probe the kernel).
    ///
    /// ```
    /// greenlet::__private::force_mprotect_guards(false);
    /// ```
    pub fn force_mprotect_guards(force: bool) {
        crate::stack::hooks::force_mprotect_guards(force);
    }

    /// Lets the stack helper thread prefault and release stacks in batches
    /// (`true`, the default), or makes every thread do it itself, to test
    /// both ways.
    ///
    /// ```
    /// greenlet::__private::use_stack_helper(true);
    /// ```
    pub fn use_stack_helper(enabled: bool) {
        crate::stack::hooks::use_stack_helper(enabled);
    }

    /// Makes the next `n` guard-page installations (with `MADV_GUARD_INSTALL`)
    /// fail with `ENOMEM`, as when the kernel has no memory for page tables.
    ///
    /// ```
    /// greenlet::__private::refuse_guards(0);
    /// ```
    pub fn refuse_guards(n: usize) {
        crate::stack::hooks::refuse_guards(n);
    }

    /// Makes the next `n` prefaults of the stack helper fail as if the
    /// kernel had refused `MADV_POPULATE_WRITE`, which turns prefaulting off
    /// for the process and is logged by the helper thread.
    ///
    /// ```
    /// greenlet::__private::refuse_populate(0);
    /// ```
    pub fn refuse_populate(n: usize) {
        crate::stack::hooks::refuse_populate(n);
    }

    /// Makes the children spawned from now on have their exit watched by
    /// polling (`true`), as on kernels without `pidfd_open`, or through a
    /// pidfd where the kernel has one (`false`, the default).
    ///
    /// ```
    /// greenlet::__private::disable_pidfd(false);
    /// ```
    pub fn disable_pidfd(disabled: bool) {
        crate::process::disable_pidfd(disabled);
    }

    /// Whether `child`'s exit is watched through a pidfd.
    ///
    /// ```
    /// let mut child = greenlet::process::Command::new("true").spawn().unwrap();
    /// let _ = greenlet::__private::has_pidfd(&child);
    /// child.wait().unwrap();
    /// ```
    pub fn has_pidfd(child: &crate::process::Child) -> bool {
        child.has_pidfd()
    }
}

/// The README's code blocks, run as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
