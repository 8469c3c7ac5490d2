//! The hub's timers: a binary heap keyed by `(deadline, sequence)`, with lazy
//! cancellation.
//!
//! Most timers never fire: a timeout is cancelled as soon as the call it
//! guards returns. Removing an entry from the middle of a heap is O(n), so a
//! cancelled timer stays in the heap and is only marked dead in a slab; it is
//! skipped (and its slab slot freed) when it reaches the top. Insertion is
//! O(log n), cancellation O(1). Equal deadlines fire in insertion order
//! because the sequence number breaks ties.
//!
//! Most timers of a program have one of a few durations (every `sleep(1 s)`
//! of a million greenlets, every read timeout of a server), so their
//! deadlines arrive in order. A timer whose deadline is no earlier than the
//! last one so placed goes to the back of a sorted run (a `VecDeque`)
//! instead of the heap: O(1) to insert and to pop, where a heap of a million
//! entries costs about 600 instructions a pop. The earliest timer is the
//! earlier of the two fronts.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::time::Instant;

use slab::Slab;

/// Identifies one armed timer, for [`TimerHeap::cancel`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TimerId {
    slot: usize,
    seq: u64,
}

impl TimerId {
    /// Names no timer: cancelling it does nothing.
    pub(crate) const NONE: TimerId = TimerId {
        slot: usize::MAX,
        seq: u64::MAX,
    };
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    deadline: Instant,
    seq: u64,
    slot: usize,
}

/// An armed timer's slot: its sequence number (to tell it from a later timer
/// that reuses the slot) and its action, `None` once cancelled.
#[derive(Debug)]
struct Armed<A> {
    seq: u64,
    action: Option<A>,
}

/// Timers that carry an action of type `A` to perform when they fire.
#[derive(Debug)]
pub(crate) struct TimerHeap<A> {
    heap: BinaryHeap<Reverse<Entry>>,
    /// Entries in `(deadline, seq)` order, each no earlier than the one
    /// before it.
    sorted: VecDeque<Entry>,
    /// One slot per heap entry; freed when the entry leaves the heap.
    slots: Slab<Armed<A>>,
    next_seq: u64,
    live: usize,
}

impl<A> TimerHeap<A> {
    pub(crate) const fn new() -> Self {
        TimerHeap {
            heap: BinaryHeap::new(),
            sorted: VecDeque::new(),
            slots: Slab::new(),
            next_seq: 0,
            live: 0,
        }
    }

    /// An empty heap whose sequence numbers continue after `old`'s, so that
    /// no [`TimerId`] of `old` names one of its timers.
    pub(crate) fn continuing(old: &Self) -> Self {
        let mut timers = Self::new();
        timers.next_seq = old.next_seq;
        timers
    }

    /// Arms a timer that fires `action` at `deadline`.
    pub(crate) fn insert(&mut self, deadline: Instant, action: A) -> TimerId {
        let seq = self.next_seq;
        self.next_seq += 1;
        let slot = self.slots.insert(Armed {
            seq,
            action: Some(action),
        });
        let entry = Entry {
            deadline,
            seq,
            slot,
        };
        // `seq` grows with every insert, so an entry no earlier than the
        // back of the run keeps it in `(deadline, seq)` order.
        if self
            .sorted
            .back()
            .is_none_or(|last| last.deadline <= deadline)
        {
            self.sorted.push_back(entry);
        } else {
            self.heap.push(Reverse(entry));
        }
        self.live += 1;
        TimerId { slot, seq }
    }

    /// Disarms a timer. Cancelling one that already fired or was cancelled
    /// does nothing.
    pub(crate) fn cancel(&mut self, id: TimerId) {
        if let Some(armed) = self.slots.get_mut(id.slot)
            && armed.seq == id.seq
            && armed.action.take().is_some()
        {
            self.live -= 1;
        }
    }

    /// How many timers are armed (not fired, not cancelled).
    pub(crate) fn len(&self) -> usize {
        self.live
    }

    /// The earliest deadline among armed timers.
    pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
        self.discard_cancelled_top();
        self.top().map(|(entry, _)| entry.deadline)
    }

    /// Removes and returns the action of the earliest timer due at `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<A> {
        self.discard_cancelled_top();
        let (top, in_run) = self.top()?;
        if top.deadline > now {
            return None;
        }
        let entry = self.pop_top(in_run);
        self.live -= 1;
        self.slots.remove(entry.slot).action
    }

    /// The earliest entry, and whether it heads the sorted run (else the
    /// heap).
    fn top(&self) -> Option<(&Entry, bool)> {
        match (self.heap.peek(), self.sorted.front()) {
            (Some(Reverse(heap)), Some(run)) if heap < run => Some((heap, false)),
            (_, Some(run)) => Some((run, true)),
            (Some(Reverse(heap)), None) => Some((heap, false)),
            (None, None) => None,
        }
    }

    fn pop_top(&mut self, in_run: bool) -> Entry {
        if in_run {
            self.sorted.pop_front().expect("a top")
        } else {
            self.heap.pop().expect("a top").0
        }
    }

    fn discard_cancelled_top(&mut self) {
        while let Some((top, in_run)) = self.top() {
            if self.slots[top.slot].action.is_some() {
                return;
            }
            let entry = self.pop_top(in_run);
            self.slots.remove(entry.slot);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn drain(timers: &mut TimerHeap<&'static str>, now: Instant) -> Vec<&'static str> {
        std::iter::from_fn(|| timers.pop_due(now)).collect()
    }

    #[test]
    fn fires_in_deadline_order_and_ties_in_insertion_order() {
        let t0 = Instant::now();
        let mut timers = TimerHeap::new();
        timers.insert(t0 + Duration::from_millis(20), "late");
        timers.insert(t0 + Duration::from_millis(10), "tie-1");
        timers.insert(t0 + Duration::from_millis(10), "tie-2");
        timers.insert(t0, "now");
        timers.insert(t0 + Duration::from_millis(10), "tie-3");
        assert_eq!(timers.len(), 5);
        assert_eq!(drain(&mut timers, t0), ["now"]);
        assert_eq!(timers.next_deadline(), Some(t0 + Duration::from_millis(10)));
        assert_eq!(
            drain(&mut timers, t0 + Duration::from_millis(15)),
            ["tie-1", "tie-2", "tie-3"]
        );
        assert_eq!(drain(&mut timers, t0 + Duration::from_secs(1)), ["late"]);
        assert_eq!(timers.len(), 0);
        assert_eq!(timers.next_deadline(), None);
    }

    #[test]
    fn cancelling_no_timer_or_an_older_heaps_does_nothing() {
        let t0 = Instant::now();
        let mut old = TimerHeap::new();
        let stale = old.insert(t0, "old");
        let mut timers = TimerHeap::continuing(&old);
        timers.insert(t0, "new");
        timers.cancel(TimerId::NONE);
        timers.cancel(stale); // same slot, an older sequence number
        assert_eq!(timers.len(), 1);
        assert_eq!(drain(&mut timers, t0), ["new"]);
    }

    #[test]
    fn cancelled_timers_never_fire_and_are_discarded_lazily() {
        let t0 = Instant::now();
        let mut timers = TimerHeap::new();
        let a = timers.insert(t0, "a");
        let b = timers.insert(t0 + Duration::from_millis(5), "b");
        timers.insert(t0 + Duration::from_millis(9), "c");
        timers.cancel(a);
        timers.cancel(a); // twice: harmless
        assert_eq!(timers.len(), 2);
        assert_eq!(timers.next_deadline(), Some(t0 + Duration::from_millis(5)));
        timers.cancel(b);
        assert_eq!(drain(&mut timers, t0 + Duration::from_secs(1)), ["c"]);
        assert_eq!(timers.len(), 0);
        assert!(timers.slots.is_empty(), "every slot was freed");
    }

    #[test]
    fn a_stale_id_does_not_cancel_the_timer_that_reused_its_slot() {
        let t0 = Instant::now();
        let mut timers = TimerHeap::new();
        let old = timers.insert(t0, "old");
        assert_eq!(drain(&mut timers, t0), ["old"]);
        let _new = timers.insert(t0, "new"); // reuses the freed slot
        timers.cancel(old);
        assert_eq!(drain(&mut timers, t0), ["new"]);
    }

    #[test]
    fn a_hundred_thousand_timers_fire_in_order() {
        let t0 = Instant::now();
        let mut timers = TimerHeap::new();
        // Deadlines scrambled by a multiplicative hash, every 7th cancelled.
        let mut ids = Vec::new();
        for i in 0..100_000u64 {
            let ms = i.wrapping_mul(2_654_435_761) % 1_000;
            ids.push((i, timers.insert(t0 + Duration::from_millis(ms), ())));
        }
        for (i, id) in &ids {
            if i % 7 == 0 {
                timers.cancel(*id);
            }
        }
        let mut fired = 0;
        let mut last = t0;
        while let Some(deadline) = timers.next_deadline() {
            assert!(deadline >= last);
            last = deadline;
            timers.pop_due(deadline).unwrap();
            fired += 1;
        }
        assert_eq!(fired, 100_000 - 100_000usize.div_ceil(7));
    }

    #[test]
    fn runs_and_heap_interleave_in_deadline_then_insertion_order() {
        // Deadlines mostly in order (runs), sometimes earlier (to the heap),
        // with ties and cancellations: the firing order must be the
        // reference's, `(deadline, insertion)` among the uncancelled.
        let t0 = Instant::now();
        let mut timers = TimerHeap::new();
        let mut expected = Vec::new();
        let mut rng = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let mut last = 0;
        for i in 0..20_000u64 {
            let ms = match next() % 10 {
                0..=5 => last + next() % 3,   // in order, ties included
                6..=8 => next() % (last + 1), // earlier: to the heap
                _ => last,
            };
            last = last.max(ms);
            let id = timers.insert(t0 + Duration::from_millis(ms), i);
            if next() % 7 == 0 {
                timers.cancel(id);
            } else {
                expected.push((ms, i));
            }
        }
        expected.sort_unstable();
        assert_eq!(timers.len(), expected.len());
        let end = t0 + Duration::from_millis(last);
        let fired: Vec<u64> = std::iter::from_fn(|| timers.pop_due(end)).collect();
        let expected: Vec<u64> = expected.into_iter().map(|(_, i)| i).collect();
        assert_eq!(fired, expected);
        assert_eq!(timers.next_deadline(), None);
    }
}
