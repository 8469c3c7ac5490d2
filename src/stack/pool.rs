//! The per-thread pool of stacks: size classes, reservations, and the
//! regions each class carves its stacks from.
//!
//! # Reservations
//!
//! A greenlet gets its stack only when it first runs, yet `Builder::spawn`
//! must be the call that fails when no stack can be had. So spawning
//! *reserves* a slot ([`reserve`]): it counts against the slots the class's
//! regions hold, mapping a new region when none is left, which is where the
//! mapping budget is checked. Starting takes a reserved slot
//! ([`take_reserved`]), installing its guard the first time it is used; a
//! greenlet killed before it starts gives its reservation back
//! ([`release`]). A generator does both at once ([`take`]).
//!
//! # Free slots
//!
//! Each size class keeps its free slots in lists, releases their memory
//! beyond a high-water mark, and lends batches to the stack helper: see
//! `class.rs`. Regions are unmapped only when the thread exits.
//!
//! # Logging
//!
//! Nothing is logged while the pool is borrowed: a logger may spawn a
//! greenlet, which borrows the pool again. So `grow` logs, and lets
//! `guard_kind` and `Region::map` log, between its borrows, and the stack
//! helper, which a batch starts inside the borrow, has its failure to start
//! logged after it (`log_start_failure`).
//!
//! # Cost
//!
//! The pool is a `thread_local!` with a `const` initialiser and no
//! destructor (a separate guard empties it at thread exit), so reaching it
//! is a plain thread-local load. The size class used last lives inline in
//! it; another size is found by a search and swapped in, which only a
//! program alternating sizes pays for. Reserving, taking and giving back a
//! pooled stack each borrow the pool once, compare one size, and touch a
//! counter and the end of a `Vec`: no search, no system call.

use std::cell::RefCell;
use std::io;
use std::mem::{self, ManuallyDrop};

use super::budget;
use super::class::Class;
use super::size::{DEFAULT_STACK_SIZE, check_stack_size, usable_size};
use super::sys::{
    AltStack, Lender, PAGE, Region, RegionStack, Slot, guard_kind, log_start_failure,
};

/// A thread's stacks, by size.
struct Pool {
    /// The class used last, inline: the next use is almost always the same,
    /// and finding it then costs one comparison.
    current: Class,
    /// The other classes.
    others: Vec<Class>,
    /// Set once the thread has a region: the exit guard is registered and
    /// the thread has an alternate signal stack.
    armed: bool,
    /// Set at thread exit: regions are unmapped as soon as they are unused.
    exiting: bool,
    altstack: Option<AltStack>,
}

thread_local! {
    // `ManuallyDrop`: no TLS destructor, so each access is a plain
    // thread-local load and the pool is never "destroyed" (a stack dropped
    // late at thread exit can still come back). `Teardown` empties it.
    static POOL: ManuallyDrop<RefCell<Pool>> = const {
        ManuallyDrop::new(RefCell::new(Pool {
            current: Class::new(DEFAULT_STACK_SIZE),
            others: Vec::new(),
            armed: false,
            exiting: false,
            altstack: None,
        }))
    };
    static TEARDOWN: Teardown = const { Teardown };
}

impl Pool {
    /// The class of stacks of `size` usable bytes, made if new.
    #[inline(always)]
    fn class(&mut self, size: usize) -> &mut Class {
        if self.current.size() != size {
            self.switch_to(size);
        }
        &mut self.current
    }

    /// Makes the class of `size` the current one.
    #[cold]
    #[inline(never)]
    fn switch_to(&mut self, size: usize) {
        let index = match self.others.iter().position(|c| c.size() == size) {
            Some(index) => index,
            None => {
                self.others.push(Class::new(size));
                self.others.len() - 1
            }
        };
        mem::swap(&mut self.current, &mut self.others[index]);
    }

    /// Every class.
    #[cfg(test)]
    fn classes(&self) -> impl Iterator<Item = &Class> {
        std::iter::once(&self.current).chain(&self.others)
    }

    /// At thread exit: unmaps the regions of every class none of whose
    /// stacks is reserved or in use.
    fn unmap_unused(&mut self) {
        for class in std::iter::once(&mut self.current).chain(&mut self.others) {
            if class.is_unused() {
                class.unmap();
            }
        }
        self.others.retain(|c| !c.is_unused());
        if self.others.is_empty() {
            self.others = Vec::new(); // frees the buffer: the thread is ending
        }
    }
}

/// Reserves a stack of at least `requested` usable bytes, for a greenlet
/// that will [`take_reserved`] it when it starts (or [`release`] it).
///
/// # Errors
///
/// - [`io::ErrorKind::InvalidInput`] for a size above 1 GiB.
/// - [`io::ErrorKind::OutOfMemory`] when a new region is needed and does not
///   fit in the mapping budget, or another error when the kernel refuses
///   it; either message names `vm.max_map_count`, the current count, and
///   the ways out.
#[inline]
pub(crate) fn reserve(requested: usize) -> io::Result<()> {
    let size = usable_size(check_stack_size(requested)?);
    let reserved = POOL.with(|pool| pool.borrow_mut().class(size).try_reserve());
    if reserved { Ok(()) } else { grow(size) }
}

/// Maps a new region for the class of `size`, within the budget, and
/// reserves one of its slots.
#[cold]
#[inline(never)]
fn grow(size: usize) -> io::Result<()> {
    let guard = guard_kind();
    let wanted = POOL.with(|pool| pool.borrow_mut().class(size).next_region_slots(guard));
    let stride = size + PAGE;
    let slots = budget::plan(wanted, stride, guard)?;
    let region = Region::map(stride, slots, guard)
        .map_err(|e| budget::refused(e, stride.saturating_mul(slots)))?;
    log::debug!("mapped {region:?} for stacks of {} KiB", size / 1024);
    let arm = POOL.with(|pool| {
        let mut pool = pool.borrow_mut();
        pool.class(size).add_region(region);
        !mem::replace(&mut pool.armed, true)
    });
    if arm {
        // The thread's first region: it needs an alternate signal stack for
        // the overflow handler, and its regions unmapped when it exits.
        let altstack = AltStack::ensure();
        TEARDOWN.with(|_| {});
        POOL.with(|pool| pool.borrow_mut().altstack = altstack);
    }
    Ok(())
}

/// Takes the stack that [`reserve`] reserved for `requested` bytes.
///
/// # Errors
///
/// The kernel's error if it refuses to install the guard page of a slot used
/// for the first time (out of memory for page tables). The reservation is
/// given back then.
#[inline]
pub(crate) fn take_reserved(requested: usize) -> io::Result<PooledStack> {
    let size = usable_size(requested);
    let slot = POOL.with(|pool| pool.borrow_mut().class(size).take_free());
    match slot {
        Some(slot) => Ok(slot.into_stack()),
        None => carve(size),
    }
}

/// Finds a slot for a reservation of the class of `size` when no free slot
/// is at hand (see [`Class::find_slot`]).
#[cold]
#[inline(never)]
fn carve(size: usize) -> io::Result<PooledStack> {
    let slot = POOL.with(|pool| pool.borrow_mut().class(size).find_slot());
    log_start_failure(); // a batch may have started the helper: no borrow now
    slot.map(Slot::into_stack)
}

/// Takes a stack of at least `requested` usable bytes: [`reserve`], then
/// [`take_reserved`].
///
/// # Errors
///
/// As those two.
pub(crate) fn take(requested: usize) -> io::Result<PooledStack> {
    reserve(requested)?;
    take_reserved(requested)
}

/// Gives back a reservation of `requested` bytes that was never taken.
pub(crate) fn release(requested: usize) {
    let size = usable_size(requested);
    POOL.with(|pool| {
        let mut pool = pool.borrow_mut();
        pool.class(size).release();
        if pool.exiting {
            pool.unmap_unused();
        }
    });
}

/// Gives a stack whose coroutine has finished back to its pool. (Dropping
/// it does the same.)
#[inline]
pub(crate) fn give(stack: PooledStack) {
    drop(stack);
}

/// The pool as the lender of the stacks it hands out.
pub(crate) struct Pooled;

impl Lender for Pooled {
    #[inline]
    fn take_back(slot: Slot) {
        give_slot(slot);
    }
}

/// A stack from this thread's pool, which takes it back when dropped.
pub(crate) type PooledStack = RegionStack<Pooled>;

/// Takes back the slot of a dropped [`PooledStack`].
#[inline]
pub(super) fn give_slot(slot: Slot) {
    let spilled = POOL.with(|pool| {
        let mut pool = pool.borrow_mut();
        let spilled = pool.class(slot.usable()).give(slot);
        if pool.exiting {
            pool.unmap_unused();
        }
        spilled
    });
    if spilled {
        log_start_failure(); // a batch may have started the helper: no borrow now
    }
}

/// Unmaps the thread's regions at its exit, as soon as none of their stacks
/// is in use (at once, unless a coroutine outlives this guard), and frees
/// its alternate signal stack.
struct Teardown;

impl Drop for Teardown {
    fn drop(&mut self) {
        let altstack = POOL.with(|pool| {
            let mut pool = pool.borrow_mut();
            pool.exiting = true;
            pool.unmap_unused();
            pool.altstack.take()
        });
        drop(altstack);
    }
}

/// How many stacks this thread has carved since it started.
#[cfg(test)]
pub(crate) fn mapped_count() -> u64 {
    POOL.with(|pool| pool.borrow().classes().map(Class::carved_ever).sum())
}

/// How many free stacks this thread's pool holds, over all sizes.
#[cfg(test)]
pub(crate) fn pooled_count() -> usize {
    POOL.with(|pool| pool.borrow().classes().map(Class::free).sum())
}

/// How many free stacks of `size` are resident (not released).
#[cfg(test)]
fn resident_count(size: usize) -> usize {
    POOL.with(|pool| pool.borrow_mut().class(size).resident())
}

#[cfg(test)]
mod tests {
    use corosensei::stack::Stack;

    use super::super::class::{FIRST_REGION_SLOTS, LENT_BATCHES, POOL_HIGH_WATER, RELEASE_BATCH};
    use super::super::size::{MAX_STACK_SIZE, MIN_STACK_SIZE};
    use super::*;

    fn size_of(stack: &PooledStack) -> usize {
        stack.base().get() - stack.limit().get() - PAGE
    }

    #[test]
    fn a_given_stack_is_taken_again() {
        let stack = take(DEFAULT_STACK_SIZE).unwrap();
        assert_eq!(size_of(&stack), DEFAULT_STACK_SIZE);
        let base = stack.base();
        let before = pooled_count();
        give(stack);
        assert_eq!(pooled_count(), before + 1);
        let again = take(DEFAULT_STACK_SIZE).unwrap();
        assert_eq!(again.base(), base, "the pooled stack is reused");
        give(again);
    }

    #[test]
    fn sizes_do_not_mix() {
        let small = take(MIN_STACK_SIZE).unwrap();
        let small_base = small.base();
        give(small);
        let big = take(4 * MIN_STACK_SIZE).unwrap();
        assert_ne!(big.base(), small_base);
        assert_eq!(size_of(&big), 4 * MIN_STACK_SIZE);
        give(big);
    }

    #[test]
    fn stacks_beyond_the_high_water_mark_are_released_but_kept() {
        let size = 3 * MIN_STACK_SIZE; // a size no other test uses
        let n = POOL_HIGH_WATER + 2 * RELEASE_BATCH + 10;
        let stacks: Vec<_> = (0..n).map(|_| take(size).unwrap()).collect();
        let carved = mapped_count();
        stacks.into_iter().for_each(give);
        assert_eq!(
            resident_count(size),
            POOL_HIGH_WATER + 10,
            "two batches released"
        );
        // Every slot is still there for the next spike.
        let again: Vec<_> = (0..n).map(|_| take(size).unwrap()).collect();
        assert_eq!(mapped_count(), carved, "no new slot was carved");
        again.into_iter().for_each(give);
    }

    #[test]
    fn a_burst_of_reservations_is_prefaulted_by_the_helper() {
        let size = 7 * MIN_STACK_SIZE; // a size no other test uses
        let n = 4 * LENT_BATCHES * RELEASE_BATCH;
        for _ in 0..n {
            reserve(size).unwrap();
        }
        let first = take_reserved(size).unwrap();
        let lent = POOL.with(|pool| pool.borrow_mut().class(size).lent_batches());
        assert!(lent > 0, "a burst lends batches to the helper");
        let mut stacks = vec![first];
        stacks.extend((1..n).map(|_| take_reserved(size).unwrap()));
        let mut bases: Vec<_> = stacks.iter().map(|s| s.base().get()).collect();
        bases.sort_unstable();
        bases.dedup();
        assert_eq!(bases.len(), n, "every stack has a slot of its own");
        for stack in &stacks {
            assert_eq!(size_of(stack), size);
        }
        let counts = POOL.with(|pool| pool.borrow_mut().class(size).carved_and_committed());
        assert_eq!(counts, (n, n));
        stacks.into_iter().for_each(give);
        POOL.with(|pool| {
            let mut pool = pool.borrow_mut();
            let class = pool.class(size);
            assert_eq!(class.free(), n, "every slot came back to the pool");
            assert!(class.is_unused());
        });
    }

    #[test]
    fn a_stack_lent_for_release_is_waited_for_when_no_other_is_free() {
        use std::sync::atomic::Ordering;
        let size = 9 * MIN_STACK_SIZE; // a size no other test uses
        let n = POOL_HIGH_WATER + 2 * RELEASE_BATCH + 10;
        let stacks: Vec<_> = (0..n).map(|_| take(size).unwrap()).collect();
        let carved = mapped_count();
        super::super::sys::HELPER_PAUSED.store(true, Ordering::Release);
        // Whatever happens below, the helper goes on within 100 ms.
        let resume = std::thread::spawn(|| {
            std::thread::sleep(std::time::Duration::from_millis(100));
            super::super::sys::HELPER_PAUSED.store(false, Ordering::Release);
        });
        stacks.into_iter().for_each(give);
        let resident = POOL_HIGH_WATER + 10;
        let mut again: Vec<_> = (0..resident).map(|_| take(size).unwrap()).collect();
        let lent = POOL.with(|pool| pool.borrow_mut().class(size).lent_batches());
        // Both release batches are lent (unless the helper thread could not
        // start, when they were released inline).
        assert!(lent == 2 || lent == 0, "{lent} batches lent");
        // No slot is free now but the lent ones: taking waits for them.
        again.extend((resident..n).map(|_| take(size).unwrap()));
        assert_eq!(mapped_count(), carved, "no new slot was carved");
        again.into_iter().for_each(give);
        resume.join().unwrap();
    }

    #[test]
    fn a_released_reservation_is_reserved_again() {
        let size = 5 * MIN_STACK_SIZE;
        for _ in 0..3 * FIRST_REGION_SLOTS {
            reserve(size).unwrap();
            release(size);
        }
        let regions = POOL.with(|pool| pool.borrow_mut().class(size).regions());
        assert_eq!(regions, 1, "reservations are counted, not leaked");
    }

    #[test]
    fn a_reservation_above_the_limit_is_refused() {
        let err = reserve(MAX_STACK_SIZE + 1).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }
}
