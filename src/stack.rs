//! Coroutine stacks and the per-thread pool that recycles them.
//!
//! Every generator (and, later, every greenlet) runs on its own stack: an
//! `mmap`ed region with a guard page below it, so an overflow faults instead
//! of scribbling over the heap. Mapping and unmapping costs two system calls
//! and a page fault per touched page (about 12 µs here), which is two orders
//! of magnitude more than everything else a generator does. So a finished
//! generator's stack goes back to a small pool on its thread, and the next
//! generator of the same size takes it from there: in the steady state,
//! creating a generator makes no system call at all.
//!
//! # Implementation notes
//!
//! The pool keeps one free list per size, because a program usually uses one
//! or two sizes. It holds at most [`POOL_HIGH_WATER`] stacks per size; a stack
//! returned beyond that is unmapped, so a spike of generators does not pin its
//! memory for ever. The pool lives in a `thread_local!` with a `const`
//! initialiser (no lazy-init check on the hot path) and dies with its thread,
//! unmapping what it holds.

use std::cell::RefCell;
use std::io;

use corosensei::stack::{DefaultStack, Stack};

/// The stack type every coroutine of this crate runs on.
pub(crate) type PooledStack = DefaultStack;

/// The usable size of a stack when none is chosen: 256 KiB.
///
/// Only the pages a body touches become resident (usually one or two), so a
/// generous size costs address space, not memory. It leaves room for a panic
/// with a backtrace, which needs far more stack than most bodies do (see
/// `design.md`).
pub const DEFAULT_STACK_SIZE: usize = 256 * 1024;

/// The smallest usable stack size; smaller requests are rounded up to it.
///
/// A body that panics needs this much to print its message and backtrace
/// (measured in `tests/generator.rs`, `panic_on_smallest_stack`).
pub const MIN_STACK_SIZE: usize = 64 * 1024;

/// Stacks of one size kept for reuse, per thread, at most.
pub(crate) const POOL_HIGH_WATER: usize = 1024;

const PAGE_SIZE: usize = 4096;

/// Free stacks of one usable size.
struct SizeClass {
    size: usize,
    free: Vec<PooledStack>,
}

/// A thread's free stacks, by size.
struct StackPool {
    classes: Vec<SizeClass>,
    /// How many stacks this thread has mapped, ever.
    mapped: u64,
}

thread_local! {
    static POOL: RefCell<StackPool> = const {
        RefCell::new(StackPool { classes: Vec::new(), mapped: 0 })
    };
}

/// Rounds a requested size up to what a stack of that request really holds.
pub(crate) fn usable_size(requested: usize) -> usize {
    requested.max(MIN_STACK_SIZE).next_multiple_of(PAGE_SIZE)
}

/// The usable size of `stack`: from its base down to its guard page.
fn size_of(stack: &PooledStack) -> usize {
    stack.base().get() - stack.limit().get() - PAGE_SIZE
}

/// Takes a stack of at least `requested` usable bytes from this thread's pool,
/// or maps a new one when the pool has none of that size.
///
/// # Errors
///
/// Returns the kernel's error when a new mapping is refused (`ENOMEM`, for
/// example when `vm.max_map_count` is reached).
pub(crate) fn take(requested: usize) -> io::Result<PooledStack> {
    let size = usable_size(requested);
    let pooled = POOL.try_with(|pool| {
        let mut pool = pool.borrow_mut();
        let free = pool.classes.iter_mut().find(|c| c.size == size);
        let stack = free.and_then(|class| class.free.pop());
        if stack.is_none() {
            pool.mapped += 1;
        }
        stack
    });
    match pooled {
        Ok(Some(stack)) => Ok(stack),
        _ => {
            log::debug!("mapping a new coroutine stack of {} KiB", size / 1024);
            DefaultStack::new(size)
        }
    }
}

/// Gives a stack whose coroutine has finished back to this thread's pool.
///
/// The stack is unmapped instead when the pool already holds
/// [`POOL_HIGH_WATER`] stacks of its size, or when the thread is exiting.
pub(crate) fn give(stack: PooledStack) {
    let size = size_of(&stack);
    // A stack that does not fit the pool is dropped (unmapped) here, outside
    // the borrow, because dropping it may log.
    let _unpooled = POOL.try_with(move |pool| {
        let mut pool = pool.borrow_mut();
        let class = match pool.classes.iter().position(|c| c.size == size) {
            Some(i) => &mut pool.classes[i],
            None => {
                pool.classes.push(SizeClass {
                    size,
                    free: Vec::new(),
                });
                pool.classes.last_mut().expect("just pushed")
            }
        };
        if class.free.len() < POOL_HIGH_WATER {
            class.free.push(stack);
            None
        } else {
            Some(stack)
        }
    });
}

/// How many stacks this thread has mapped since it started.
#[cfg(test)]
pub(crate) fn mapped_count() -> u64 {
    POOL.with(|pool| pool.borrow().mapped)
}

/// How many free stacks this thread's pool holds, over all sizes.
#[cfg(test)]
pub(crate) fn pooled_count() -> usize {
    POOL.with(|pool| pool.borrow().classes.iter().map(|c| c.free.len()).sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_round_up_to_pages_and_the_minimum() {
        assert_eq!(usable_size(0), MIN_STACK_SIZE);
        assert_eq!(usable_size(MIN_STACK_SIZE + 1), MIN_STACK_SIZE + PAGE_SIZE);
        assert_eq!(usable_size(DEFAULT_STACK_SIZE), DEFAULT_STACK_SIZE);
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
    fn the_pool_stops_at_its_high_water_mark() {
        let size = 3 * MIN_STACK_SIZE; // a size no other test uses
        let stacks: Vec<_> = (0..POOL_HIGH_WATER + 10)
            .map(|_| take(size).unwrap())
            .collect();
        let before = pooled_count();
        stacks.into_iter().for_each(give);
        assert_eq!(pooled_count(), before + POOL_HIGH_WATER);
    }
}
