//! Synchronisation between greenlets: every blocking call here suspends the
//! calling greenlet (or, in the main context, runs the hub) until it can go
//! on, and wakes waiters in FIFO order.

mod event;
mod semaphore;
mod wait_queue;

pub use event::Event;
pub use semaphore::{OverRelease, Semaphore, SemaphoreGuard};
