//! Synchronisation between greenlets: every blocking call here suspends the
//! calling greenlet (or, in the main context, runs the hub) until it can go
//! on, and wakes waiters in FIFO order.

mod async_result;
mod barrier;
mod buffer;
mod channel;
mod condvar;
mod error;
mod event;
mod handoff;
mod lifo_queue;
pub mod mpsc;
mod mutex;
mod order;
mod priority_queue;
mod queue;
mod rwlock;
mod semaphore;
mod wait_queue;
mod watchers;

pub use async_result::{AlreadySet, AsyncResult};
pub use barrier::{Barrier, BarrierWaitResult};
pub use channel::Channel;
pub use condvar::{Condvar, WaitTimeoutResult};
pub use error::{GetError, PutError};
pub use event::Event;
pub use lifo_queue::{LifoIter, LifoQueue};
pub use mutex::{Mutex, MutexGuard};
pub use priority_queue::{PriorityIter, PriorityQueue};
pub use queue::{Iter, Queue};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use semaphore::{OverRelease, Semaphore, SemaphoreGuard};

pub(crate) use watchers::Watchers;
