//! The FIFO queue of blocked contexts that every synchronisation primitive
//! is built on, with hand-off: a waker gives a value (a permit, the lock, a
//! queue item) to one particular waiter, and a waiter that is killed or
//! times out before it takes its value passes it on.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::hub::{WaitReason, Waiter, block_until, with_hub};

/// One waiting context: where the hub finds it, and where a waker puts what
/// it hands over.
struct Entry<T> {
    waiter: Waiter,
    slot: Rc<Cell<Option<T>>>,
}

/// Why a wait ended without a value.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum WaitError {
    /// The deadline passed first.
    TimedOut,
}

/// A FIFO queue of contexts waiting for a value of type `T`.
///
/// # Invariant
///
/// Every entry belongs to a context blocked in [`wait`](Self::wait): each
/// way out of it (a value, a timeout, a spurious wake-up, unwinding) removes
/// its entry, unless a waker already popped it. So an empty queue means
/// that nobody waits, and a primitive may let a newcomer take a free
/// permit or item without overtaking anyone.
pub(crate) struct WaitQueue<T> {
    entries: RefCell<VecDeque<Entry<T>>>,
}

impl<T> WaitQueue<T> {
    pub(crate) const fn new() -> Self {
        WaitQueue {
            entries: RefCell::new(VecDeque::new()),
        }
    }

    /// How many contexts wait.
    pub(crate) fn len(&self) -> usize {
        self.entries.borrow().len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.borrow().is_empty()
    }

    /// Blocks the running context at the back of the queue until a waker
    /// hands it a value, or `timeout` passes (`None`: no limit).
    ///
    /// If the context unwinds (killed, or an outer timeout) after a value
    /// was handed to it but before it took it, `pass_on` receives the value,
    /// to give it to the next waiter or keep it.
    ///
    /// # Errors
    ///
    /// [`WaitError::TimedOut`] when the timeout passes first.
    ///
    /// # Panics
    ///
    /// As every blocking call: while the thread is unwinding it cannot wait;
    /// a kill or an expired outer timeout unwinds it.
    pub(crate) fn wait(
        &self,
        what: &'static str,
        timeout: Option<Duration>,
        pass_on: impl FnOnce(T),
    ) -> Result<T, WaitError> {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let slot = Rc::new(Cell::new(None));
        let guard = PassOn {
            queue: self,
            slot: &slot,
            pass_on: Some(pass_on),
        };
        loop {
            block_until(WaitReason::on(what), deadline, |_, me| {
                self.entries.borrow_mut().push_back(Entry {
                    waiter: me,
                    slot: slot.clone(),
                });
            });
            if let Some(value) = slot.take() {
                guard.defuse();
                return Ok(value);
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                guard.defuse();
                self.forget(&slot);
                return Err(WaitError::TimedOut);
            }
            // Woken without a value and in time: a spurious wake-up. Our old
            // entry is stale now (its wait id is spent); wait again.
            self.forget(&slot);
        }
    }

    /// Hands `value` to the first waiter still waiting, and wakes it.
    ///
    /// # Errors
    ///
    /// Gives `value` back when nobody waits.
    pub(crate) fn notify_one(&self, value: T) -> Result<(), T> {
        loop {
            let Some(entry) = self.entries.borrow_mut().pop_front() else {
                return Err(value);
            };
            if with_hub(|hub| hub.wake(entry.waiter)) {
                entry.slot.set(Some(value));
                return Ok(());
            }
            // A stale entry: its context left (kill, timeout) or was woken.
        }
    }

    /// Removes the entry whose slot is `slot`, if a waker has not met it.
    fn forget(&self, slot: &Rc<Cell<Option<T>>>) {
        self.entries
            .borrow_mut()
            .retain(|entry| !Rc::ptr_eq(&entry.slot, slot));
    }
}

impl<T: Clone> WaitQueue<T> {
    /// Hands a clone of `value` to every waiter still waiting, in FIFO order,
    /// and returns how many were woken.
    pub(crate) fn notify_all(&self, value: &T) -> usize {
        let entries = std::mem::take(&mut *self.entries.borrow_mut());
        let mut woken = 0;
        for entry in entries {
            if with_hub(|hub| hub.wake(entry.waiter)) {
                entry.slot.set(Some(value.clone()));
                woken += 1;
            }
        }
        woken
    }
}

impl<T> fmt::Debug for WaitQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitQueue")
            .field("waiting", &self.len())
            .finish()
    }
}

/// When the waiting context unwinds: removes its entry, and gives a value
/// handed to it but never taken to `pass_on`.
struct PassOn<'a, T, F: FnOnce(T)> {
    queue: &'a WaitQueue<T>,
    slot: &'a Rc<Cell<Option<T>>>,
    pass_on: Option<F>,
}

impl<T, F: FnOnce(T)> PassOn<'_, T, F> {
    fn defuse(mut self) {
        self.pass_on = None;
    }
}

impl<T, F: FnOnce(T)> Drop for PassOn<'_, T, F> {
    fn drop(&mut self) {
        if let Some(pass_on) = self.pass_on.take() {
            self.queue.forget(self.slot);
            if let Some(value) = self.slot.take() {
                pass_on(value);
            }
        }
    }
}
