//! The orders in which a queue's buffer gives its items out: first in,
//! first out for [`Queue`](super::Queue), last in, first out for
//! [`LifoQueue`](super::LifoQueue), smallest first for
//! [`PriorityQueue`](super::PriorityQueue). Plain data structures: the
//! waiting is the buffer's (`buffer.rs`).

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

/// The names of a queue type's blocking calls, for wait reasons and
/// deadlock reports.
pub(super) struct Names {
    pub(super) get: &'static str,
    pub(super) put: &'static str,
    pub(super) peek: &'static str,
    pub(super) join: &'static str,
}

/// The items of a queue's buffer, in the order the queue gives them out.
pub(super) trait Order: Default {
    type Item;

    /// The queue type's wait reasons.
    const NAMES: Names;

    fn len(&self) -> usize;

    /// A new item, put by a putter.
    fn push(&mut self, item: Self::Item);

    /// An item that was given out and came back (its getter left without
    /// it): it comes out before every item pushed, as if it had not left.
    fn restore(&mut self, item: Self::Item);

    /// Takes the item that comes out next.
    fn pop(&mut self) -> Option<Self::Item>;

    /// The item that comes out next, left in place.
    fn front(&self) -> Option<&Self::Item>;
}

/// First in, first out.
pub(super) struct Fifo<T>(VecDeque<T>);

impl<T> Default for Fifo<T> {
    fn default() -> Self {
        Fifo(VecDeque::new())
    }
}

impl<T> Order for Fifo<T> {
    type Item = T;

    const NAMES: Names = Names {
        get: "Queue::get",
        put: "Queue::put",
        peek: "Queue::peek",
        join: "Queue::join",
    };

    #[inline]
    fn len(&self) -> usize {
        self.0.len()
    }

    #[inline]
    fn push(&mut self, item: T) {
        self.0.push_back(item);
    }

    fn restore(&mut self, item: T) {
        self.0.push_front(item);
    }

    #[inline]
    fn pop(&mut self) -> Option<T> {
        self.0.pop_front()
    }

    fn front(&self) -> Option<&T> {
        self.0.front()
    }
}

/// Last in, first out: a stack.
pub(super) struct Lifo<T>(Vec<T>);

impl<T> Default for Lifo<T> {
    fn default() -> Self {
        Lifo(Vec::new())
    }
}

impl<T> Order for Lifo<T> {
    type Item = T;

    const NAMES: Names = Names {
        get: "LifoQueue::get",
        put: "LifoQueue::put",
        peek: "LifoQueue::peek",
        join: "LifoQueue::join",
    };

    fn len(&self) -> usize {
        self.0.len()
    }

    fn push(&mut self, item: T) {
        self.0.push(item);
    }

    /// On top: the next get takes it.
    fn restore(&mut self, item: T) {
        self.0.push(item);
    }

    fn pop(&mut self) -> Option<T> {
        self.0.pop()
    }

    fn front(&self) -> Option<&T> {
        self.0.last()
    }
}

/// Smallest first, as Python's `heapq`; equal items in the order they were
/// pushed (a restored item before them all).
///
/// # Invariant
///
/// `next_pushed` counts up from `SPLIT` and `next_restored` down from just
/// below it, so a restored item's sequence number is below every pushed
/// one's, and a later restore's below an earlier one's.
pub(super) struct Priority<T> {
    heap: BinaryHeap<Entry<T>>,
    next_pushed: u64,
    next_restored: u64,
}

/// Where the sequence numbers of pushed and restored items part: half of
/// the range each, more than any queue will use.
const SPLIT: u64 = 1 << 63;

impl<T: Ord> Default for Priority<T> {
    fn default() -> Self {
        Priority {
            heap: BinaryHeap::new(),
            next_pushed: SPLIT,
            next_restored: SPLIT - 1,
        }
    }
}

/// An item in the heap, with the sequence number that orders equal items.
/// Reversed, so that std's max-heap gives the smallest item first.
struct Entry<T> {
    item: T,
    seq: u64,
}

impl<T: Ord> Ord for Entry<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .item
            .cmp(&self.item)
            .then_with(|| other.seq.cmp(&self.seq))
    }
}

impl<T: Ord> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T: Ord> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl<T: Ord> Eq for Entry<T> {}

impl<T: Ord> Order for Priority<T> {
    type Item = T;

    const NAMES: Names = Names {
        get: "PriorityQueue::get",
        put: "PriorityQueue::put",
        peek: "PriorityQueue::peek",
        join: "PriorityQueue::join",
    };

    fn len(&self) -> usize {
        self.heap.len()
    }

    fn push(&mut self, item: T) {
        let seq = self.next_pushed;
        self.next_pushed += 1;
        self.heap.push(Entry { item, seq });
    }

    fn restore(&mut self, item: T) {
        let seq = self.next_restored;
        self.next_restored -= 1;
        self.heap.push(Entry { item, seq });
    }

    fn pop(&mut self) -> Option<T> {
        self.heap.pop().map(|entry| entry.item)
    }

    fn front(&self) -> Option<&T> {
        self.heap.peek().map(|entry| &entry.item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain<O: Order>(order: &mut O) -> Vec<O::Item> {
        std::iter::from_fn(|| order.pop()).collect()
    }

    #[test]
    fn fifo_gives_items_in_push_order_and_a_restored_one_first() {
        let mut fifo = Fifo::default();
        for n in 1..=3 {
            fifo.push(n);
        }
        fifo.restore(0);
        assert_eq!(fifo.front(), Some(&0));
        assert_eq!(fifo.len(), 4);
        assert_eq!(drain(&mut fifo), [0, 1, 2, 3]);
    }

    #[test]
    fn lifo_gives_the_last_pushed_first_and_a_restored_one_next() {
        let mut lifo = Lifo::default();
        for n in 1..=3 {
            lifo.push(n);
        }
        assert_eq!(lifo.front(), Some(&3));
        assert_eq!(lifo.pop(), Some(3));
        lifo.restore(3);
        assert_eq!(drain(&mut lifo), [3, 2, 1]);
    }

    /// Ordered by `key` only, so that equal items can be told apart.
    #[derive(Debug, PartialEq, Eq)]
    struct Job {
        key: u8,
        name: &'static str,
    }

    impl Ord for Job {
        fn cmp(&self, other: &Self) -> Ordering {
            self.key.cmp(&other.key)
        }
    }

    impl PartialOrd for Job {
        fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
            Some(self.cmp(other))
        }
    }

    #[test]
    fn priority_gives_the_smallest_first_and_equal_items_in_push_order() {
        let mut heap = Priority::default();
        for (key, name) in [(2, "b1"), (1, "a1"), (3, "c"), (2, "b2"), (1, "a2")] {
            heap.push(Job { key, name });
        }
        assert_eq!(heap.front().map(|j| j.name), Some("a1"));
        let names: Vec<_> = drain(&mut heap).into_iter().map(|j| j.name).collect();
        assert_eq!(names, ["a1", "a2", "b1", "b2", "c"]);
    }

    #[test]
    fn priority_puts_restored_items_before_equal_pushed_ones_latest_first() {
        let mut heap = Priority::default();
        heap.push(Job {
            key: 1,
            name: "pushed",
        });
        heap.push(Job {
            key: 0,
            name: "smaller",
        });
        heap.restore(Job {
            key: 1,
            name: "restored first",
        });
        heap.restore(Job {
            key: 1,
            name: "restored last",
        });
        let names: Vec<_> = drain(&mut heap).into_iter().map(|j| j.name).collect();
        assert_eq!(
            names,
            ["smaller", "restored last", "restored first", "pushed"]
        );
    }
}
