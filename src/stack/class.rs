//! The stacks of one size class: its regions, its free lists, the slots it
//! lends to the stack helper, and how it finds a slot for a reservation.
//!
//! # Free slots
//!
//! A slot given back goes to the `hot` list, reused first, while that holds
//! fewer than [`POOL_HIGH_WATER`] slots. Beyond it, slots wait in `pending`
//! and are released in batches of [`RELEASE_BATCH`] with `MADV_DONTNEED`,
//! by the stack helper where there is one, then kept in `cold`: their memory
//! goes back to the kernel, their guards and address ranges stay, for the
//! next spike.

use std::collections::VecDeque;
use std::io;
use std::mem;

use super::pool::{POOL_HIGH_WATER, RELEASE_BATCH};
use super::sys::{Batch, GuardKind, PAGE, Region, Slot};

/// The first region of a class holds this many slots; each next one twice
/// as many as the one before, up to [`REGION_MAX_BYTES`].
pub(super) const FIRST_REGION_SLOTS: usize = 16;

/// Batches of slots a class may have lent to the stack helper at once
/// (prefaulting or releasing). Enough to keep the helper busy while this
/// thread carves and faults in a batch of its own.
pub(super) const LENT_BATCHES: usize = 8;

/// The largest region, in address space (not memory: only touched pages are).
#[cfg(target_pointer_width = "64")]
const REGION_MAX_BYTES: usize = 4 << 30;
#[cfg(not(target_pointer_width = "64"))]
const REGION_MAX_BYTES: usize = 64 << 20;

/// The largest region with `mprotect` guards, in slots: its guards are
/// installed one system call each when it is mapped.
const MPROTECT_REGION_MAX_SLOTS: usize = 1024;

/// The stacks of one usable size.
#[derive(Debug)]
pub(super) struct Class {
    pub(super) size: usize,
    /// Slots reserved or taken. # Invariant: `committed <= capacity`, and the
    /// carved slots neither in a free list nor lent are the taken ones.
    pub(super) committed: usize,
    /// Slots in all the class's regions, carved or not.
    pub(super) capacity: usize,
    pub(super) hot: Vec<Slot>,
    pub(super) pending: Vec<Slot>,
    pub(super) cold: Vec<Slot>,
    /// Free slots lent to the stack helper, oldest first: it finishes them
    /// in this order.
    pub(super) lent: VecDeque<Batch>,
    pub(super) regions: Vec<Region>,
    /// The first region that may have uncarved slots.
    pub(super) carving: usize,
    /// Slots carved from the class's regions: taken, in a free list, or
    /// lent to the helper.
    pub(super) carved: usize,
    /// Slots carved since the thread started (for tests).
    pub(super) carved_ever: u64,
}

impl Class {
    pub(super) const fn new(size: usize) -> Self {
        Class {
            size,
            committed: 0,
            capacity: 0,
            hot: Vec::new(),
            pending: Vec::new(),
            cold: Vec::new(),
            lent: VecDeque::new(),
            regions: Vec::new(),
            carving: 0,
            carved: 0,
            carved_ever: 0,
        }
    }

    fn stride(&self) -> usize {
        self.size + PAGE
    }

    /// How many slots the next region should hold.
    pub(super) fn next_region_slots(&self, guard: GuardKind) -> usize {
        region_slots(self.regions.len(), self.stride(), guard)
    }

    #[cfg(test)]
    pub(super) fn free(&self) -> usize {
        let lent: usize = self.lent.iter().map(Batch::len).sum();
        self.hot.len() + self.pending.len() + self.cold.len() + lent
    }

    /// Takes back the batches the helper has finished, into `cold`.
    pub(super) fn take_back_done(&mut self) {
        while self.lent.front().is_some_and(Batch::is_done) {
            let batch = self.lent.pop_front().expect("just checked");
            self.cold.append(&mut batch.into_slots());
        }
    }

    /// Takes back every lent batch, waiting for the helper.
    pub(super) fn take_back_all(&mut self) {
        for batch in mem::take(&mut self.lent) {
            self.cold.append(&mut batch.into_slots());
        }
    }

    /// Carves up to `n` (at least one, at most a batch) new slots into
    /// `out`, from the first region that has any left. Returns how many.
    ///
    /// # Errors
    ///
    /// The kernel's error if it refuses the first guard.
    ///
    /// # Panics
    ///
    /// Panics if no region has a slot left: callers carve only for
    /// reservations, which imply one.
    pub(super) fn carve_into(&mut self, n: usize, out: &mut Vec<Slot>) -> io::Result<usize> {
        loop {
            let region = self
                .regions
                .get_mut(self.carving)
                .expect("greenlet: a reserved stack has a slot");
            match region.carve(n, out)? {
                0 => self.carving += 1,
                carved => {
                    self.carved += carved;
                    self.carved_ever += carved as u64;
                    return Ok(carved);
                }
            }
        }
    }

    /// When more than two batches of reservations still need new slots (a
    /// burst of spawns), carves some of them now and lends them to the
    /// helper to fault in their top pages, so that this thread does not
    /// take those faults when the greenlets start.
    pub(super) fn prefault_ahead(&mut self) {
        while self.lent.len() < LENT_BATCHES
            && self.committed.saturating_sub(self.carved) >= 2 * RELEASE_BATCH
        {
            let mut slots = Vec::with_capacity(RELEASE_BATCH);
            if self.carve_into(RELEASE_BATCH, &mut slots).is_err() {
                return; // the carving for the next start reports it
            }
            match Batch::prefault(slots) {
                Ok(batch) => self.lent.push_back(batch),
                Err(mut slots) => {
                    self.cold.append(&mut slots);
                    return;
                }
            }
        }
    }

    /// Takes back a slot that was taken: into `hot`, or beyond the
    /// high-water mark towards release. Returns whether it went beyond
    /// (where a batch may have been lent to the helper).
    #[inline]
    pub(super) fn give(&mut self, slot: Slot) -> bool {
        self.committed -= 1;
        if self.hot.len() < POOL_HIGH_WATER {
            self.hot.push(slot);
            false
        } else {
            self.spill(slot);
            true
        }
    }

    /// Queues a slot beyond the high-water mark for release, releasing the
    /// queue when it is full.
    #[cold]
    #[inline(never)]
    fn spill(&mut self, slot: Slot) {
        self.pending.push(slot);
        if self.pending.len() >= RELEASE_BATCH {
            // The helper releases it, or this thread at once if there is none.
            match Batch::release(mem::take(&mut self.pending)) {
                Ok(batch) => self.lent.push_back(batch),
                Err(mut slots) => self.cold.append(&mut slots),
            }
            self.take_back_done();
        }
    }

    /// Finds a slot for a reservation when no free slot is at hand: one the
    /// helper has finished with, or a new one. New slots are carved for the
    /// other reservations that will soon be taken too (up to a batch, kept
    /// in `cold`), so that their guards cost one system call; in a burst,
    /// more are lent to the helper to prefault.
    ///
    /// # Errors
    ///
    /// The kernel's error if it refuses a new slot's guard; the reservation
    /// is given back then.
    pub(super) fn find_slot(&mut self) -> io::Result<Slot> {
        self.take_back_done();
        if self.cold.is_empty() {
            if self.committed <= self.carved {
                // Every reservation has a slot already (lent slots may even
                // outnumber them), and the free ones are lent: wait for the
                // oldest batch.
                let batch = self.lent.pop_front().expect("a reserved stack has a slot");
                self.cold.append(&mut batch.into_slots());
            } else {
                self.prefault_ahead();
                // No slot is free here, so the reservations not taken yet
                // (this one included) beyond the lent slots need new ones.
                let wanted = self.committed - self.carved;
                let mut cold = mem::take(&mut self.cold);
                let carved = self.carve_into(wanted, &mut cold);
                self.cold = cold;
                if let Err(e) = carved {
                    self.committed -= 1;
                    return Err(e);
                }
            }
        }
        Ok(self.cold.pop().expect("a slot was just found"))
    }
}

/// How many slots the region that follows `existing` regions of slots of
/// `stride` bytes should hold: twice as many as the one before, from
/// [`FIRST_REGION_SLOTS`] up to [`REGION_MAX_BYTES`] (at least one).
pub(super) fn region_slots(existing: usize, stride: usize, guard: GuardKind) -> usize {
    let doublings = existing.min(24) as u32;
    let cap = match guard {
        GuardKind::Madvise => (REGION_MAX_BYTES / stride).max(1),
        GuardKind::Mprotect => MPROTECT_REGION_MAX_SLOTS,
    };
    (FIRST_REGION_SLOTS << doublings).min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::pool::{DEFAULT_STACK_SIZE, MAX_STACK_SIZE};

    #[test]
    fn regions_double_up_to_their_cap() {
        let stride = DEFAULT_STACK_SIZE + PAGE;
        let sizes: Vec<_> = (0..4)
            .map(|n| region_slots(n, stride, GuardKind::Madvise))
            .collect();
        assert_eq!(sizes, [16, 32, 64, 128]);
        let cap = REGION_MAX_BYTES / stride;
        assert_eq!(region_slots(30, stride, GuardKind::Madvise), cap);
        assert_eq!(
            region_slots(0, MAX_STACK_SIZE + PAGE, GuardKind::Madvise),
            3
        );
        assert_eq!(
            region_slots(30, stride, GuardKind::Mprotect),
            MPROTECT_REGION_MAX_SLOTS
        );
    }
}
