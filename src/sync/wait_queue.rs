//! The FIFO queue of blocked contexts that every synchronisation primitive
//! is built on, with hand-off: a waker gives a value (a permit, the lock, a
//! queue item) to one particular waiter, and a waiter that is killed or
//! times out before it takes its value passes it on.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use crate::hub::{WaitReason, Waiter, block_until};

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
/// Every entry of `waiting` belongs to a context blocked in
/// [`wait`](Self::wait): each way out of it (a value, a timeout, a spurious
/// wake-up, unwinding) removes its entry, unless a waker already popped it.
/// So an empty queue means that nobody waits, and a primitive may let a
/// newcomer take a free permit or item without overtaking anyone.
///
/// A waker that pops a waiter it could wake puts the value in `handed`
/// under that waiter's record (unique: a wait id is never reused), and the
/// waiter takes it out as it resumes, or passes it on if it unwinds first.
/// Nothing is allocated per wait once the two have grown to the most
/// waiters seen.
pub(crate) struct WaitQueue<T> {
    inner: RefCell<Inner<T>>,
}

struct Inner<T> {
    waiting: Fifo,
    /// Values handed over and not taken yet, by wait id: most often one,
    /// kept inline as `handed`, under the wait id `handed_to` (0, which no
    /// wait has, exactly while `handed` is `None`). A bare id to compare
    /// is cheaper than a tagged pair.
    handed_to: u64,
    handed: Option<T>,
    more_handed: Vec<(u64, T)>,
}

impl<T> Inner<T> {
    /// Removes the entry of the wait `me`, if a waker has not popped it.
    #[cold]
    fn forget(&mut self, me: u64) {
        self.waiting.remove(me);
    }

    /// Records `value` as handed to `waiter`.
    #[inline]
    fn hand(&mut self, waiter: Waiter, value: T) {
        if self.handed_to == 0 {
            self.handed_to = waiter.wait_id();
            self.handed = Some(value);
        } else {
            self.more_handed.push((waiter.wait_id(), value));
        }
    }

    /// Takes the value handed to the wait `me`, if any.
    #[inline]
    fn take_handed(&mut self, me: u64) -> Option<T> {
        if self.handed_to == me {
            self.handed_to = 0;
            self.handed.take()
        } else {
            self.take_more_handed(me)
        }
    }

    #[cold]
    fn take_more_handed(&mut self, me: u64) -> Option<T> {
        let at = self.more_handed.iter().position(|&(wait, _)| wait == me)?;
        Some(self.more_handed.swap_remove(at).1)
    }
}

/// The waiting contexts in FIFO order, the first kept inline: most queues
/// have at most one waiter, which then costs no ring arithmetic.
///
/// # Invariant
///
/// `first` is `None` only while `rest` is empty.
struct Fifo {
    first: Option<Waiter>,
    rest: VecDeque<Waiter>,
}

impl Fifo {
    const fn new() -> Self {
        Fifo {
            first: None,
            rest: VecDeque::new(),
        }
    }

    fn len(&self) -> usize {
        usize::from(self.first.is_some()) + self.rest.len()
    }

    #[inline]
    fn push_back(&mut self, waiter: Waiter) {
        if self.first.is_none() {
            self.first = Some(waiter);
        } else {
            self.rest.push_back(waiter);
        }
    }

    #[inline]
    fn pop_front(&mut self) -> Option<Waiter> {
        let first = self.first.take()?;
        // Checked first: the lone waiter's case then writes nothing more.
        if !self.rest.is_empty() {
            self.first = self.rest.pop_front();
        }
        Some(first)
    }

    /// Removes the waiter of the wait `id`, wherever it is.
    fn remove(&mut self, id: u64) {
        if self.first.is_some_and(|w| w.wait_id() == id) {
            self.first = self.rest.pop_front();
        } else {
            self.rest.retain(|w| w.wait_id() != id);
        }
    }
}

impl<T> WaitQueue<T> {
    pub(crate) const fn new() -> Self {
        WaitQueue {
            inner: RefCell::new(Inner {
                waiting: Fifo::new(),
                handed_to: 0,
                handed: None,
                more_handed: Vec::new(),
            }),
        }
    }

    /// How many contexts wait.
    pub(crate) fn len(&self) -> usize {
        self.inner.borrow().waiting.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.inner.borrow().waiting.first.is_none()
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
    ///
    /// # Implementation notes
    ///
    /// Inlined, as [`block_until`] is, so that the switch sits in the frame
    /// of the primitive's caller (see `block_until`).
    #[inline(always)]
    #[track_caller]
    pub(crate) fn wait(
        &self,
        what: &'static str,
        timeout: Option<Duration>,
        pass_on: impl FnOnce(T),
    ) -> Result<T, WaitError> {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        // The id of the current wait, once registered (0: none yet).
        let me = Cell::new(0);
        let guard = Leave {
            queue: self,
            me: &me,
            pass_on: Some(pass_on),
        };
        loop {
            block_until(WaitReason::on(what).at(self), deadline, |waiter| {
                me.set(waiter.wait_id());
                self.inner.borrow_mut().waiting.push_back(waiter);
            });
            let wait = me.get();
            let mut inner = self.inner.borrow_mut();
            if let Some(value) = inner.take_handed(wait) {
                drop(inner);
                guard.defuse();
                return Ok(value);
            }
            // Woken without a value: our entry is stale now (its wait id is
            // spent), whether the deadline passed or the wake-up was
            // spurious.
            inner.forget(wait);
            drop(inner);
            if deadline.is_some_and(|d| Instant::now() >= d) {
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
    #[inline(always)]
    pub(crate) fn notify_one(&self, value: T) -> Result<(), T> {
        let mut inner = self.inner.borrow_mut();
        let Some(waiter) = inner.waiting.pop_front() else {
            return Err(value);
        };
        if waiter.wake() {
            inner.hand(waiter, value);
            return Ok(());
        }
        drop(inner);
        self.notify_after_stale(value)
    }

    /// [`Self::notify_one`] after a stale entry (its context left, killed
    /// or timed out, or was woken by something else): tries the next ones.
    #[cold]
    #[inline(never)]
    fn notify_after_stale(&self, value: T) -> Result<(), T> {
        let mut inner = self.inner.borrow_mut();
        while let Some(waiter) = inner.waiting.pop_front() {
            if waiter.wake() {
                inner.hand(waiter, value);
                return Ok(());
            }
        }
        Err(value)
    }
}

impl<T: Clone> WaitQueue<T> {
    /// Hands a clone of `value` to every waiter still waiting, in FIFO order,
    /// and returns how many were woken.
    pub(crate) fn notify_all(&self, value: &T) -> usize {
        let mut inner = self.inner.borrow_mut();
        let mut woken = 0;
        // One by one from the front (waking runs no code that could queue
        // a waiter meanwhile): the lone waiter's case moves no list.
        while let Some(waiter) = inner.waiting.pop_front() {
            if waiter.wake() {
                inner.hand(waiter, value.clone());
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
struct Leave<'a, T, F: FnOnce(T)> {
    queue: &'a WaitQueue<T>,
    /// The id of the current wait, once registered (0: none yet).
    me: &'a Cell<u64>,
    pass_on: Option<F>,
}

impl<T, F: FnOnce(T)> Leave<'_, T, F> {
    /// The wait ended normally: nothing is left to clean up.
    #[inline(always)]
    fn defuse(mut self) {
        let pass_on = self.pass_on.take();
        // Skip the drop call (`pass_on` is dropped here, and has no
        // destructor in the primitives' use).
        std::mem::forget(self);
        drop(pass_on);
    }
}

impl<T, F: FnOnce(T)> Drop for Leave<'_, T, F> {
    fn drop(&mut self) {
        let me = self.me.get();
        let Some(pass_on) = self.pass_on.take().filter(|_| me != 0) else {
            return;
        };
        let value = {
            let mut inner = self.queue.inner.borrow_mut();
            inner.forget(me);
            inner.take_handed(me)
        };
        if let Some(value) = value {
            pass_on(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiter(wait: u64) -> Waiter {
        Waiter::for_test(1, wait)
    }

    #[test]
    fn the_fifo_keeps_order_across_its_inline_first_and_the_rest() {
        let mut fifo = Fifo::new();
        assert_eq!(fifo.pop_front(), None);
        for wait in 1..=4 {
            fifo.push_back(waiter(wait));
        }
        assert_eq!(fifo.len(), 4);
        assert_eq!(fifo.pop_front(), Some(waiter(1)));
        fifo.push_back(waiter(5));
        let order: Vec<u64> = std::iter::from_fn(|| fifo.pop_front())
            .map(Waiter::wait_id)
            .collect();
        assert_eq!(order, [2, 3, 4, 5]);
        assert_eq!(fifo.len(), 0);
    }

    #[test]
    fn the_fifo_removes_its_first_or_a_later_waiter_and_keeps_the_others_in_order() {
        let mut fifo = Fifo::new();
        for wait in 1..=4 {
            fifo.push_back(waiter(wait));
        }
        fifo.remove(1);
        fifo.remove(3);
        fifo.remove(9); // absent: nothing happens
        let order: Vec<u64> = std::iter::from_fn(|| fifo.pop_front())
            .map(Waiter::wait_id)
            .collect();
        assert_eq!(order, [2, 4]);
        assert_eq!(fifo.pop_front(), None);
        fifo.push_back(waiter(6));
        assert_eq!(fifo.pop_front(), Some(waiter(6)));
    }

    #[test]
    fn values_handed_to_several_waiters_go_each_to_its_own() {
        let queue = WaitQueue::<u32>::new();
        let mut inner = queue.inner.borrow_mut();
        for wait in 1..=3 {
            inner.hand(waiter(wait), wait as u32 * 10);
        }
        assert_eq!(inner.take_handed(2), Some(20));
        assert_eq!(inner.take_handed(2), None);
        assert_eq!(inner.take_handed(1), Some(10));
        assert_eq!(inner.take_handed(3), Some(30));
        assert_eq!(inner.take_handed(4), None);
    }
}
