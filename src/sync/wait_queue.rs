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
///
/// The lone waiter and its value, the common case, live in `Cell`s: a
/// hand-off then checks no borrow flag (three `RefCell` borrows cost a
/// `Queue` hand-off 10 of its instructions). Nothing here runs code of the
/// user's while a list is borrowed, so the `RefCell`s of the rest are never
/// borrowed twice.
pub(crate) struct WaitQueue<T> {
    waiting: Fifo,
    handed: Handed<T>,
}

/// Values handed over and not taken yet, by wait id: most often one, kept
/// inline in `value` under the wait id `to`.
///
/// # Invariant
///
/// `to` is 0 (which no wait has) exactly while `value` is `None`.
struct Handed<T> {
    to: Cell<u64>,
    value: Cell<Option<T>>,
    more: RefCell<Vec<(u64, T)>>,
}

impl<T> Handed<T> {
    const fn new() -> Self {
        Handed {
            to: Cell::new(0),
            value: Cell::new(None),
            more: RefCell::new(Vec::new()),
        }
    }

    /// Records `value` as handed to `waiter`.
    #[inline]
    fn hand(&self, waiter: Waiter, value: T) {
        if self.to.get() == 0 {
            self.to.set(waiter.wait_id());
            self.value.set(Some(value));
        } else {
            self.more.borrow_mut().push((waiter.wait_id(), value));
        }
    }

    /// Takes the value handed to the wait `me`, if any.
    #[inline]
    fn take(&self, me: u64) -> Option<T> {
        if self.to.get() == me {
            self.to.set(0);
            self.value.take()
        } else {
            self.take_more(me)
        }
    }

    #[cold]
    fn take_more(&self, me: u64) -> Option<T> {
        let mut more = self.more.borrow_mut();
        let at = more.iter().position(|&(wait, _)| wait == me)?;
        Some(more.swap_remove(at).1)
    }
}

/// The waiting contexts in FIFO order, the first kept inline: most queues
/// have at most one waiter, which then costs no ring arithmetic.
///
/// # Invariant
///
/// `len` counts the waiters; `first` holds the first of them (`None` exactly
/// while there is none) and `rest` the others, in order.
struct Fifo {
    first: Cell<Option<Waiter>>,
    len: Cell<usize>,
    rest: RefCell<VecDeque<Waiter>>,
}

impl Fifo {
    const fn new() -> Self {
        Fifo {
            first: Cell::new(None),
            len: Cell::new(0),
            rest: RefCell::new(VecDeque::new()),
        }
    }

    fn len(&self) -> usize {
        self.len.get()
    }

    #[inline]
    fn push_back(&self, waiter: Waiter) {
        let len = self.len.get();
        if len == 0 {
            self.first.set(Some(waiter));
        } else {
            self.rest.borrow_mut().push_back(waiter);
        }
        self.len.set(len + 1);
    }

    #[inline]
    fn pop_front(&self) -> Option<Waiter> {
        let first = self.first.take()?;
        let len = self.len.get();
        self.len.set(len - 1);
        // Checked first: the lone waiter's case then touches no list.
        if len > 1 {
            self.first.set(self.rest.borrow_mut().pop_front());
        }
        Some(first)
    }

    /// Removes the waiter of the wait `id`, wherever it is.
    fn remove(&self, id: u64) {
        let mut rest = self.rest.borrow_mut();
        if self.first.get().is_some_and(|w| w.wait_id() == id) {
            self.first.set(rest.pop_front());
            self.len.set(self.len.get() - 1);
        } else {
            let before = rest.len();
            rest.retain(|w| w.wait_id() != id);
            self.len.set(self.len.get() - (before - rest.len()));
        }
    }
}

impl<T> WaitQueue<T> {
    pub(crate) const fn new() -> Self {
        WaitQueue {
            waiting: Fifo::new(),
            handed: Handed::new(),
        }
    }

    /// How many contexts wait.
    pub(crate) fn len(&self) -> usize {
        self.waiting.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.waiting.len() == 0
    }

    /// Removes the entry of the wait `me`, if a waker has not popped it.
    #[cold]
    fn forget(&self, me: u64) {
        self.waiting.remove(me);
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
        let guard = Leave {
            queue: self,
            me: Cell::new(0),
            pass_on: Some(pass_on),
        };
        loop {
            block_until(WaitReason::on(what).at(self), deadline, |waiter| {
                guard.me.set(waiter.wait_id());
                self.waiting.push_back(waiter);
            });
            let wait = guard.me.get();
            if let Some(value) = self.handed.take(wait) {
                guard.defuse();
                return Ok(value);
            }
            // Woken without a value: our entry is stale now (its wait id is
            // spent), whether the deadline passed or the wake-up was
            // spurious.
            self.forget(wait);
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
        let Some(waiter) = self.waiting.pop_front() else {
            return Err(value);
        };
        if waiter.wake() {
            self.handed.hand(waiter, value);
            return Ok(());
        }
        self.notify_after_stale(value)
    }

    /// [`Self::notify_one`] after a stale entry (its context left, killed
    /// or timed out, or was woken by something else): tries the next ones.
    #[cold]
    #[inline(never)]
    fn notify_after_stale(&self, value: T) -> Result<(), T> {
        while let Some(waiter) = self.waiting.pop_front() {
            if waiter.wake() {
                self.handed.hand(waiter, value);
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
        let mut woken = 0;
        // One by one from the front (waking runs no code that could queue
        // a waiter meanwhile): the lone waiter's case moves no list.
        while let Some(waiter) = self.waiting.pop_front() {
            if waiter.wake() {
                self.handed.hand(waiter, value.clone());
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
    me: Cell<u64>,
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
        self.queue.forget(me);
        if let Some(value) = self.queue.handed.take(me) {
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
        let fifo = Fifo::new();
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
        let fifo = Fifo::new();
        for wait in 1..=4 {
            fifo.push_back(waiter(wait));
        }
        fifo.remove(1);
        fifo.remove(3);
        fifo.remove(9); // absent: nothing happens
        assert_eq!(fifo.len(), 2);
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
        let handed = Handed::<u32>::new();
        for wait in 1..=3 {
            handed.hand(waiter(wait), wait as u32 * 10);
        }
        assert_eq!(handed.take(2), Some(20));
        assert_eq!(handed.take(2), None);
        assert_eq!(handed.take(1), Some(10));
        assert_eq!(handed.take(3), Some(30));
        assert_eq!(handed.take(4), None);
    }
}
