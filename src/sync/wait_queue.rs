//! The FIFO queue of blocked contexts that every synchronisation primitive
//! is built on, with hand-off: a waker gives a value (a permit, the lock, a
//! queue item) to one particular waiter, and a waiter that is killed or
//! times out before it takes its value passes it on.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use slab::Slab;

use crate::hub::{WaitReason, Waiter, wait_until};

/// One waiting context: the record that wakes it, and the key of the slot
/// where a waker puts what it hands over.
struct Entry {
    waiter: Waiter,
    slot: usize,
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
///
/// Each waiting context owns one slot of `slots` from the start of its
/// wait to its end, and only its entry names that slot. The slots are kept
/// in the queue rather than allocated per wait, so that a hand-off
/// allocates nothing once the slab has grown to the most waiters seen.
pub(crate) struct WaitQueue<T> {
    inner: RefCell<Inner<T>>,
}

struct Inner<T> {
    entries: VecDeque<Entry>,
    slots: Slab<Option<T>>,
}

impl<T> Inner<T> {
    /// Removes the entry that names `slot`, if a waker has not popped it.
    fn forget(&mut self, slot: usize) {
        self.entries.retain(|entry| entry.slot != slot);
    }
}

impl<T> WaitQueue<T> {
    pub(crate) const fn new() -> Self {
        WaitQueue {
            inner: RefCell::new(Inner {
                entries: VecDeque::new(),
                slots: Slab::new(),
            }),
        }
    }

    /// How many contexts wait.
    pub(crate) fn len(&self) -> usize {
        self.inner.borrow().entries.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.inner.borrow().entries.is_empty()
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
    #[inline]
    pub(crate) fn wait(
        &self,
        what: &'static str,
        timeout: Option<Duration>,
        pass_on: impl FnOnce(T),
    ) -> Result<T, WaitError> {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let slot = self.inner.borrow_mut().slots.insert(None);
        let guard = Leave {
            queue: self,
            slot,
            pass_on: Some(pass_on),
        };
        loop {
            wait_until(WaitReason::on(what), deadline, |me| {
                self.inner
                    .borrow_mut()
                    .entries
                    .push_back(Entry { waiter: me, slot });
            });
            let mut inner = self.inner.borrow_mut();
            if let Some(value) = inner.slots[slot].take() {
                inner.slots.remove(slot);
                drop(inner);
                guard.defuse();
                return Ok(value);
            }
            // Woken without a value: our entry is stale now (its wait id is
            // spent), whether the deadline passed or the wake-up was
            // spurious.
            inner.forget(slot);
            if deadline.is_some_and(|d| Instant::now() >= d) {
                inner.slots.remove(slot);
                drop(inner);
                guard.defuse();
                return Err(WaitError::TimedOut);
            }
        }
    }

    /// Hands `value` to the first waiter still waiting, and wakes it.
    ///
    /// # Errors
    ///
    /// Gives `value` back when nobody waits.
    #[inline]
    pub(crate) fn notify_one(&self, value: T) -> Result<(), T> {
        let mut inner = self.inner.borrow_mut();
        loop {
            let Some(entry) = inner.entries.pop_front() else {
                return Err(value);
            };
            if entry.waiter.wake() {
                inner.slots[entry.slot] = Some(value);
                return Ok(());
            }
            // A stale entry: its context left (kill, timeout) or was woken.
        }
    }
}

impl<T: Clone> WaitQueue<T> {
    /// Hands a clone of `value` to every waiter still waiting, in FIFO order,
    /// and returns how many were woken.
    pub(crate) fn notify_all(&self, value: &T) -> usize {
        let mut inner = self.inner.borrow_mut();
        let entries = std::mem::take(&mut inner.entries);
        let mut woken = 0;
        for entry in entries {
            if entry.waiter.wake() {
                inner.slots[entry.slot] = Some(value.clone());
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

/// When the waiting context unwinds: removes its entry and its slot, and
/// gives a value handed to it but never taken to `pass_on`.
struct Leave<'a, T, F: FnOnce(T)> {
    queue: &'a WaitQueue<T>,
    slot: usize,
    pass_on: Option<F>,
}

impl<T, F: FnOnce(T)> Leave<'_, T, F> {
    /// The wait ended normally: its slot is gone already.
    #[inline(always)]
    fn defuse(mut self) {
        let pass_on = self.pass_on.take();
        // Nothing left to do on drop: skip the call (`pass_on` is dropped
        // here, and has no destructor in the primitives' use).
        std::mem::forget(self);
        drop(pass_on);
    }
}

impl<T, F: FnOnce(T)> Drop for Leave<'_, T, F> {
    fn drop(&mut self) {
        if let Some(pass_on) = self.pass_on.take() {
            let value = {
                let mut inner = self.queue.inner.borrow_mut();
                inner.forget(self.slot);
                inner.slots.remove(self.slot)
            };
            if let Some(value) = value {
                pass_on(value);
            }
        }
    }
}
