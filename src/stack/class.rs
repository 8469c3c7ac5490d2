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
//!
//! The fields of [`Class`] are private to this file, which states and keeps
//! their invariant; the pool changes a class only through its methods.

use std::collections::VecDeque;
use std::io;
use std::mem;

use super::sys::{Batch, GuardKind, PAGE, Region, Slot, unmap_regions};

/// Free stacks of one size kept resident for reuse, per thread, at most.
pub(super) const POOL_HIGH_WATER: usize = 1024;

/// Free stacks beyond the high-water mark are released this many at a time,
/// and fresh ones are lent to the stack helper for prefaulting this many at
/// a time (the most a region carves with one system call).
pub(super) const RELEASE_BATCH: usize = 256;

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
    // # Invariant
    // `committed <= capacity`, where `capacity` counts the slots of all of
    // `regions`, carved or not; `carved` counts the slots carved from them,
    // and the carved slots neither in a free list (`hot`, `pending`, `cold`)
    // nor in a `lent` batch are the taken ones. Regions before `carving`
    // have every slot carved.
    size: usize,
    /// Slots reserved or taken.
    committed: usize,
    /// Slots in all the class's regions, carved or not.
    capacity: usize,
    hot: Vec<Slot>,
    pending: Vec<Slot>,
    cold: Vec<Slot>,
    /// Free slots lent to the stack helper, oldest first: it finishes them
    /// in this order.
    lent: VecDeque<Batch>,
    regions: Vec<Region>,
    /// The first region that may have uncarved slots.
    carving: usize,
    /// Slots carved from the class's regions: taken, in a free list, or
    /// lent to the helper.
    carved: usize,
    /// Slots carved since the thread started (for tests).
    carved_ever: u64,
}

impl Class {
    /// A class of stacks of `size` usable bytes, with no region yet.
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

    /// The usable size of the class's stacks.
    #[inline(always)]
    pub(super) fn size(&self) -> usize {
        self.size
    }

    /// Reserves a slot if the class's regions have one left, and returns
    /// whether it did.
    #[inline]
    pub(super) fn try_reserve(&mut self) -> bool {
        let room = self.committed < self.capacity;
        self.committed += usize::from(room);
        room
    }

    /// Adds a region just mapped for this class, and reserves one of its
    /// slots for the reservation that found no room.
    pub(super) fn add_region(&mut self, region: Region) {
        self.capacity += region.slots();
        self.regions.push(region);
        self.committed += 1;
    }

    /// Gives back a reservation that was never taken.
    pub(super) fn release(&mut self) {
        self.committed -= 1;
    }

    /// Whether no slot of the class is reserved or taken.
    pub(super) fn is_unused(&self) -> bool {
        self.committed == 0
    }

    /// Takes a free slot for a reservation: the one given back last, if any
    /// is at hand.
    #[inline]
    pub(super) fn take_free(&mut self) -> Option<Slot> {
        self.hot
            .pop()
            .or_else(|| self.pending.pop())
            .or_else(|| self.cold.pop())
    }

    /// Unmaps every region of a class none of whose slots is reserved or
    /// taken, waiting for the helper's batches, and leaves the class empty.
    pub(super) fn unmap(&mut self) {
        debug_assert!(self.is_unused());
        self.take_back_all();
        let mut free = mem::take(&mut self.hot);
        free.append(&mut self.pending);
        free.append(&mut self.cold);
        let (left, kept) = unmap_regions(mem::take(&mut self.regions), free);
        // Nothing is left, as no slot is in use. (Dropping a region that
        // is left would leak its mapping, and a slot its place: safe.)
        drop((left, kept));
        *self = Class::new(self.size);
    }

    fn stride(&self) -> usize {
        self.size + PAGE
    }

    /// How many slots the next region should hold.
    pub(super) fn next_region_slots(&self, guard: GuardKind) -> usize {
        region_slots(self.regions.len(), self.stride(), guard)
    }

    /// Takes back the batches the helper has finished, into `cold`.
    fn take_back_done(&mut self) {
        while self.lent.front().is_some_and(Batch::is_done) {
            let batch = self.lent.pop_front().expect("just checked");
            self.cold.append(&mut batch.into_slots());
        }
    }

    /// Takes back every lent batch, waiting for the helper.
    fn take_back_all(&mut self) {
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
    fn carve_into(&mut self, n: usize, out: &mut Vec<Slot>) -> io::Result<usize> {
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
    fn prefault_ahead(&mut self) {
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

/// What tests of the pool read of a class.
#[cfg(test)]
impl Class {
    /// Free slots: in a free list or lent to the helper.
    pub(super) fn free(&self) -> usize {
        let lent: usize = self.lent.iter().map(Batch::len).sum();
        self.hot.len() + self.pending.len() + self.cold.len() + lent
    }

    /// Free slots that are resident (not released).
    pub(super) fn resident(&self) -> usize {
        self.hot.len() + self.pending.len()
    }

    pub(super) fn carved_ever(&self) -> u64 {
        self.carved_ever
    }

    /// Slots carved, and slots reserved or taken.
    pub(super) fn carved_and_committed(&self) -> (usize, usize) {
        (self.carved, self.committed)
    }

    pub(super) fn lent_batches(&self) -> usize {
        self.lent.len()
    }

    pub(super) fn regions(&self) -> usize {
        self.regions.len()
    }
}

/// How many slots the region that follows `existing` regions of slots of
/// `stride` bytes should hold: twice as many as the one before, from
/// [`FIRST_REGION_SLOTS`] up to [`REGION_MAX_BYTES`] (at least one).
fn region_slots(existing: usize, stride: usize, guard: GuardKind) -> usize {
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
    use crate::stack::size::{DEFAULT_STACK_SIZE, MAX_STACK_SIZE};

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
