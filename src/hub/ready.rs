//! The ready queue: a FIFO of the contexts to run, split into turns.
//!
//! Every switch pushes one entry and pops one, so the queue is a ring of a
//! power-of-two number of slots, indexed by free-running counters masked to
//! the ring: a push or a pop is a few instructions, and the end of the
//! current turn is one more counter, compared with the head in place of a
//! count of the entries left in the turn.

use std::mem;

use super::task::TaskRef;

/// An entry of the ready queue: the context to run (`None` for the main
/// context) and the wait id it was made ready with. It is stale once that
/// is no longer the context's wait id. Holding the task itself spares the
/// loop a lookup in the task table and a reference count on every switch.
#[derive(Default)]
pub(crate) struct Ready {
    pub(crate) task: Option<TaskRef>,
    pub(crate) wait: u64,
}

/// The smallest ring: room for a few contexts before the first growth.
const MIN_SLOTS: usize = 16;

/// A FIFO of [`Ready`] entries, of which those queued before the current
/// turn began are the turn's.
pub(crate) struct ReadyQueue {
    // # Invariant
    // The ring: empty until the first push, from then on a power-of-two
    // number of slots (`grow` makes at least `MIN_SLOTS`, and it never
    // shrinks); those from `head` to `tail` (masked) hold the queue, the
    // others no task. So while an entry is queued, or the current turn
    // counts one, the ring has slots (`pop_front` relies on it).
    slots: Vec<Ready>,
    /// Free-running counts of the entries ever popped and pushed: the
    /// entry at position `i` is in slot `i & (slots.len() - 1)`.
    head: usize,
    tail: usize,
    /// Where the current turn ends: the tail when it began.
    turn_end: usize,
}

impl ReadyQueue {
    pub(crate) const fn new() -> Self {
        ReadyQueue {
            slots: Vec::new(),
            head: 0,
            tail: 0,
            turn_end: 0,
        }
    }

    /// How many entries are queued, in this turn and the next.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.tail.wrapping_sub(self.head)
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.head == self.tail
    }

    /// The mask from a position to its slot.
    #[inline(always)]
    fn mask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    /// Queues an entry at the back, for the next turn.
    #[inline(always)]
    pub(crate) fn push(&mut self, task: Option<TaskRef>, wait: u64) {
        // `>=` where `==` would do (the queue never holds more than its
        // slots): past this test the ring has more slots than entries, so
        // it has slots, and `put` needs no bounds check.
        if self.len() >= self.slots.len() {
            self.grow();
        }
        self.put(task, wait);
    }

    /// As [`Self::push`], right after a pop: the slot the pop freed makes
    /// room, so there is no need to check for it.
    #[inline(always)]
    pub(crate) fn push_after_pop(&mut self, task: Option<TaskRef>, wait: u64) {
        debug_assert!(self.len() < self.slots.len(), "a pop made room");
        self.put(task, wait);
    }

    /// Writes an entry at the tail, where there is room.
    #[inline(always)]
    fn put(&mut self, task: Option<TaskRef>, wait: u64) {
        let mask = self.mask();
        let free = mem::replace(&mut self.slots[self.tail & mask], Ready { task, wait });
        // A slot past the tail holds no task: forgetting what it held skips
        // a test for a task to drop (at worst it would leak one).
        debug_assert!(free.task.is_none(), "a free slot holds no task");
        mem::forget(free);
        self.tail = self.tail.wrapping_add(1);
    }

    /// Pops the front entry if it belongs to the current turn.
    #[inline(always)]
    pub(crate) fn pop_in_turn(&mut self) -> Option<Ready> {
        if self.head == self.turn_end {
            return None;
        }
        Some(self.pop_front())
    }

    /// Unless the queue is empty, begins a turn as [`Self::begin_turn`]
    /// does and pops its first entry.
    #[inline(always)]
    pub(crate) fn begin_turn_and_pop(&mut self, then_pushed: usize) -> Option<Ready> {
        if self.is_empty() {
            return None;
        }
        self.begin_turn(then_pushed);
        Some(self.pop_front())
    }

    /// Pops the front entry. The caller knows that one is queued: the
    /// queue is not empty, or the current turn has an entry left.
    #[inline(always)]
    fn pop_front(&mut self) -> Ready {
        debug_assert!(!self.is_empty(), "an entry to pop");
        // SAFETY: an entry is queued, or the current turn counts one (the
        // callers' check; `begin_turn` counts entries still to come only on
        // a queue that has some): either way an entry was pushed, so by the
        // invariant of `slots` the ring has slots. Said to the compiler, this
        // spares the bounds checks here and in a `push_after_pop` that
        // follows.
        unsafe { std::hint::assert_unchecked(!self.slots.is_empty()) };
        let mask = self.mask();
        let slot = &mut self.slots[self.head & mask];
        self.head = self.head.wrapping_add(1);
        Ready {
            task: slot.task.take(),
            wait: slot.wait,
        }
    }

    /// Whether an entry of the main context made ready with wait id `wait`
    /// is queued. A scan, for the rare wait nested in the hub's loop.
    #[cold]
    pub(crate) fn holds_main(&self, wait: u64) -> bool {
        self.queued()
            .any(|entry| entry.task.is_none() && entry.wait == wait)
    }

    /// The wait ids of every queued entry (stale ones included), for
    /// `run_info`: a context whose current wait id is among them is ready.
    #[cold]
    pub(crate) fn queued_waits(&self) -> std::collections::HashSet<u64> {
        self.queued().map(|entry| entry.wait).collect()
    }

    /// The queued entries, front to back: a scan, for the cold paths.
    fn queued(&self) -> impl Iterator<Item = &Ready> {
        let mask = self.mask();
        (0..self.len()).map(move |i| &self.slots[self.head.wrapping_add(i) & mask])
    }

    /// Begins a turn: every entry queued now belongs to it (including any
    /// left over from the previous turn, which come first), and so do the
    /// next `then_pushed` entries, which the caller pushes after popping
    /// (so that they find room without a check).
    #[inline]
    pub(crate) fn begin_turn(&mut self, then_pushed: usize) {
        // (`pop_front` relies on this.)
        debug_assert!(then_pushed == 0 || !self.is_empty(), "a pop makes room");
        self.turn_end = self.tail.wrapping_add(then_pushed);
    }

    /// Doubles the full ring (or makes the first one). The slots are
    /// reallocated in place where the allocator can; the entries that had
    /// wrapped around to the start of the ring move past its old end.
    #[cold]
    #[inline(never)]
    fn grow(&mut self) {
        let old = self.slots.len();
        let size = (old * 2).max(MIN_SLOTS);
        let head = self.head & self.mask();
        self.slots.resize_with(size, Ready::default);
        if old > 0 {
            // The ring was full: its entries ran from `head` to the old end,
            // then on from slot 0 to `head`.
            let (low, high) = self.slots.split_at_mut(old);
            low[..head].swap_with_slice(&mut high[..head]);
        }
        let in_turn = self.turn_end.wrapping_sub(self.head);
        self.head = head;
        self.tail = head + old;
        self.turn_end = head + in_turn;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The waits of the entries popped until the turn ends.
    fn drain_turn(queue: &mut ReadyQueue) -> Vec<u64> {
        std::iter::from_fn(|| queue.pop_in_turn().map(|r| r.wait)).collect()
    }

    #[test]
    fn fifo_within_and_across_turns_and_growth() {
        let mut queue = ReadyQueue::new();
        assert!(queue.is_empty());
        assert_eq!(drain_turn(&mut queue), Vec::<u64>::new());
        for wait in 0..10 {
            queue.push(None, wait);
        }
        queue.begin_turn(0);
        // Pushed during the turn: for the next one.
        assert_eq!(queue.pop_in_turn().unwrap().wait, 0);
        queue.push(None, 100);
        assert_eq!(drain_turn(&mut queue), (1..10).collect::<Vec<_>>());
        assert_eq!(queue.len(), 1);
        // Wrap around and grow with a turn under way.
        for wait in 101..140 {
            queue.push(None, wait);
        }
        queue.begin_turn(0);
        assert_eq!(queue.pop_in_turn().unwrap().wait, 100);
        for wait in 140..200 {
            queue.push(None, wait);
        }
        assert_eq!(drain_turn(&mut queue), (101..140).collect::<Vec<_>>());
        queue.begin_turn(0);
        assert_eq!(drain_turn(&mut queue), (140..200).collect::<Vec<_>>());
        assert!(queue.is_empty());
    }

    #[test]
    fn an_entry_pushed_after_the_first_pop_can_join_the_turn() {
        let mut queue = ReadyQueue::new();
        for wait in 0..16 {
            queue.push(None, wait);
        }
        // Full ring: the entry counted in the turn goes into the slot the
        // first pop frees.
        queue.begin_turn(1);
        assert_eq!(queue.pop_in_turn().unwrap().wait, 0);
        queue.push_after_pop(None, 16);
        assert_eq!(drain_turn(&mut queue), (1..17).collect::<Vec<_>>());
        assert!(queue.is_empty());
    }

    #[test]
    fn a_turn_begun_early_keeps_the_leftovers_first() {
        let mut queue = ReadyQueue::new();
        for wait in 0..4 {
            queue.push(None, wait);
        }
        queue.begin_turn(0);
        assert_eq!(queue.pop_in_turn().unwrap().wait, 0);
        queue.push(None, 4);
        queue.begin_turn(0);
        assert_eq!(drain_turn(&mut queue), vec![1, 2, 3, 4]);
    }
}
