//! A pool task's outcome, shared by the pool thread that runs it and the
//! [`JoinHandle`] that waits for it.

use std::fmt;
use std::marker::PhantomData;
use std::panic;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;

use crate::JoinError;
use crate::hub::{CrossWaker, WaitReason, block_cross, log_destructor_panic};

/// The outcome of a task, and who waits for it.
struct State<T> {
    outcome: Option<thread::Result<T>>,
    waiter: Option<CrossWaker>,
    /// The handle is gone: nobody will read the outcome, which is dropped
    /// as soon as it arrives.
    abandoned: bool,
}

/// The meeting point of a task's thread and its handle.
pub(super) struct Slot<T> {
    state: Mutex<State<T>>,
}

impl<T> Slot<T> {
    pub(super) fn new() -> Arc<Self> {
        Arc::new(Slot {
            state: Mutex::new(State {
                outcome: None,
                waiter: None,
                abandoned: false,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // Nothing panics while the lock is held (outcomes are moved, never
        // dropped, under it).
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Called by the pool thread with the task's outcome: hands it to the
    /// handle and wakes the waiter, or drops it if the handle is gone.
    /// `done` runs once the thread has nothing left to do for the task but
    /// to deliver it, before the handle can see the outcome: a waiter may
    /// queue its next task as soon as it does, and the pool counts on this
    /// thread to take it. (`done` takes the pool's lock under the slot's;
    /// the pool never takes a slot's.)
    pub(super) fn complete(&self, outcome: thread::Result<T>, done: &dyn Fn()) {
        let mut state = self.lock();
        if state.abandoned {
            drop(state);
            drop_late(outcome);
            done();
            return;
        }
        done();
        state.outcome = Some(outcome);
        let waiter = state.waiter.take();
        drop(state);
        if let Some(waiter) = waiter {
            waiter.wake();
        }
    }
}

/// Drops an outcome nobody reads, on the pool thread: a panic in its
/// destructor is logged, and the thread goes on.
fn drop_late<T>(outcome: thread::Result<T>) {
    if let Err(payload) = panic::catch_unwind(panic::AssertUnwindSafe(|| drop(outcome))) {
        log_destructor_panic(
            "greenlet: a pool task whose handle was gone",
            "its result",
            &*payload,
        );
    }
}

/// A task running on a [`ThreadPool`](super::ThreadPool): wait for its
/// outcome with [`join`](Self::join). Dropping the handle detaches the
/// task: it still runs, and what it returns is dropped when it finishes.
///
/// The handle is `Send` when `T` is, so a greenlet of another thread can
/// join it.
///
/// # Examples
///
/// ```
/// let pool = greenlet::threadpool::ThreadPool::new(2);
/// let task = pool.spawn(|| (1..=20u64).product::<u64>());
/// assert_eq!(task.join().unwrap(), 2_432_902_008_176_640_000);
/// ```
pub struct JoinHandle<T> {
    slot: Arc<Slot<T>>,
    /// `!Sync`: one waiter at a time.
    _not_sync: PhantomData<std::cell::Cell<()>>,
}

impl<T> JoinHandle<T> {
    pub(super) fn new(slot: Arc<Slot<T>>) -> Self {
        JoinHandle {
            slot,
            _not_sync: PhantomData,
        }
    }

    /// Waits for the task to finish and returns what it returned. Only the
    /// calling greenlet waits; in the main context, the hub runs the other
    /// greenlets meanwhile.
    ///
    /// # Errors
    ///
    /// [`JoinError::Panicked`] with the panic's payload if the task
    /// panicked (or, with a message, if no pool thread could be started to
    /// run it).
    ///
    /// # Panics
    ///
    /// As every blocking call: a kill or an expired timeout of the waiting
    /// greenlet unwinds it at once (the task goes on, and its result is
    /// dropped when it arrives); a call while the thread unwinds panics.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = greenlet::threadpool::ThreadPool::new(1);
    /// let task = pool.spawn(|| panic!("boom"));
    /// assert!(task.join().unwrap_err().is_panic());
    /// ```
    #[track_caller]
    pub fn join(self) -> Result<T, JoinError> {
        loop {
            if let Some(outcome) = self.slot.lock().outcome.take() {
                return outcome.map_err(JoinError::Panicked);
            }
            block_cross(
                WaitReason::on("threadpool::JoinHandle::join"),
                None,
                |waker| {
                    let mut state = self.slot.lock();
                    if state.outcome.is_some() {
                        drop(state);
                        waker.wake();
                    } else {
                        state.waiter = Some(waker);
                    }
                },
            );
        }
    }

    /// Whether the task has finished (its outcome waits to be joined).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = greenlet::threadpool::ThreadPool::new(1);
    /// let task = pool.spawn(|| 7);
    /// while !task.is_finished() {
    ///     greenlet::sleep(std::time::Duration::from_millis(1));
    /// }
    /// assert_eq!(task.join().unwrap(), 7);
    /// ```
    pub fn is_finished(&self) -> bool {
        self.slot.lock().outcome.is_some()
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        let mut state = self.slot.lock();
        state.abandoned = true;
        let waiter = state.waiter.take();
        let outcome = state.outcome.take();
        drop(state);
        drop(waiter);
        drop(outcome);
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}
