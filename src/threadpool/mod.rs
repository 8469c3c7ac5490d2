//! A pool of OS threads for blocking calls, so that only the calling
//! greenlet waits for them: gevent's `hub.threadpool`, tokio's
//! `spawn_blocking`.
//!
//! A blocking call (a `std::fs` read, `thread::sleep`, a C library, a long
//! computation) made inside a greenlet stops every greenlet of its thread.
//! Made through [`apply`] (or a [`ThreadPool`] of your own), it runs on a
//! pool thread while the hub runs the other greenlets; the calling greenlet
//! (or the main context) waits cooperatively.
//!
//! ```
//! let bytes = greenlet::threadpool::apply(|| std::fs::read("Cargo.toml"))?;
//! assert!(!bytes.is_empty());
//! # Ok::<(), std::io::Error>(())
//! ```

mod pool;
mod task;

use std::sync::OnceLock;

pub use pool::{DEFAULT_KEEP_ALIVE, Imap, ThreadPool};
pub use task::JoinHandle;

/// How many threads the default pool (the one [`apply`] uses) runs at
/// most. gevent's default is 10 and tokio's 512; each is a full OS thread,
/// so the bound stays small, and idle threads leave after
/// [`DEFAULT_KEEP_ALIVE`].
pub const DEFAULT_MAX_THREADS: usize = 16;

/// The process-wide pool that [`apply`], [`crate::fs`] and name lookups
/// ([`crate::net::lookup_host`]) use: at most [`DEFAULT_MAX_THREADS`]
/// threads, started on demand.
///
/// # Examples
///
/// ```
/// let pool = greenlet::threadpool::default_pool();
/// assert_eq!(pool.max_threads(), greenlet::threadpool::DEFAULT_MAX_THREADS);
/// ```
pub fn default_pool() -> &'static ThreadPool {
    static POOL: OnceLock<ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| ThreadPool::new(DEFAULT_MAX_THREADS))
}

/// Runs `f` on the [default pool](default_pool) and returns what it
/// returns. Only the calling greenlet waits; in the main context the hub
/// runs the other greenlets meanwhile.
///
/// # Panics
///
/// A panic in `f` resumes in the caller. As every blocking call, a kill or
/// an expired timeout unwinds the caller at once: `f` cannot be stopped and
/// goes on, and its result is dropped when it arrives.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let ticker = greenlet::spawn(|| {
///     let mut ticks = 0;
///     for _ in 0..5 {
///         greenlet::sleep(Duration::from_millis(2));
///         ticks += 1;
///     }
///     ticks
/// });
/// // Blocks a pool thread, not the hub: the ticker ticks meanwhile.
/// greenlet::threadpool::apply(|| std::thread::sleep(Duration::from_millis(30)));
/// assert!(ticker.join().unwrap() == 5);
/// ```
#[track_caller]
pub fn apply<T, F>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    default_pool().apply(f)
}
