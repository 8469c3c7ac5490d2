//! A greenlet's one allocation, and the counted pointers to it that the hub
//! and the handles hold.
//!
//! Spawning is on the hot path (an empty greenlet costs less than 100 ns from
//! spawn to join), so a greenlet is not an `Rc<dyn …>`:
//!
//! - its allocation comes from a per-thread free list of blocks of its size
//!   class, not from the global allocator, whose slow paths cost more than the
//!   rest of a spawn when many greenlets are alive;
//! - the pointer is thin: the header at the start of the allocation carries
//!   the count of references and a table of the functions that know the
//!   typed part (the body, then its outcome).
//!
//! The hub's `unsafe` code is here (the allocation), in `header.rs` (the
//! carrier coroutine kept in place) and in `context.rs` (the pointer to the
//! running greenlet); design.md, Where `unsafe` lives, lists them all.
//!
//! # Invariant
//!
//! Every [`TaskRef`] points at the [`Header`] at offset 0 of a live
//! `TaskBox<T, F>` allocated by [`TypedTask::new`] on this thread, whose
//! `header.refs` counts the `TaskRef`s to it (at least the one at hand), and
//! whose `header.vtable` is `TaskBox<T, F>`'s. The box is dropped and its
//! block freed when the count falls to zero, and never before.

use std::alloc::{self, Layout};
use std::cell::Cell;
use std::marker::PhantomData;
use std::panic::Location;
use std::ptr::{self, NonNull};

use super::body::{drop_detached, end_body, run_body};
use super::header::{Header, Name, Vtable};
use super::unwind::JoinError;

/// The outcome of a greenlet that returns `T`: empty until it ends.
pub(crate) type OutcomeCell<T> = Cell<Option<Result<T, JoinError>>>;

/// A greenlet's allocation. `repr(C)` puts the header at offset 0 and the
/// outcome at the same offset as in [`Prefix<T>`], whatever `F` is.
#[repr(C)]
struct TaskBox<T, F> {
    header: Header,
    outcome: OutcomeCell<T>,
    body: Cell<Option<F>>,
}

/// The part of every `TaskBox<T, _>` that a typed handle reads.
#[repr(C)]
struct Prefix<T> {
    header: Header,
    outcome: OutcomeCell<T>,
}

impl<T, F: FnOnce() -> T> TaskBox<T, F> {
    const VTABLE: &'static Vtable = &Vtable {
        run: Self::run,
        discard_body: Self::discard_body,
        set_killed: Self::set_killed,
        drop_box: Self::drop_box,
        layout: Layout::new::<Self>(),
    };

    /// # Safety
    ///
    /// `header` must be the header of a live `TaskBox<T, F>`.
    unsafe fn run(header: NonNull<Header>) {
        // SAFETY: by the caller's promise the header starts a live box of
        // these very types.
        let this = unsafe { header.cast::<Self>().as_ref() };
        let body = this.body.take().expect("a greenlet starts once");
        let outcome = run_body(&this.header, body);
        // The greenlet's own values end with it, on its own stack; a
        // detached greenlet's result too (nobody can read it).
        end_body(&this.header);
        if this.header.detached.get() {
            drop_detached(&this.header, outcome);
        } else {
            this.outcome.set(Some(outcome));
        }
    }

    /// # Safety
    ///
    /// As for [`Self::run`].
    unsafe fn discard_body(header: NonNull<Header>, failure: Option<String>) {
        // SAFETY: as in `run`.
        let this = unsafe { header.cast::<Self>().as_ref() };
        // The outcome first: the body's destructors may join the greenlet.
        let body = this.body.take();
        this.outcome.set(Some(Err(match failure {
            None => JoinError::Killed,
            Some(message) => JoinError::Panicked(Box::new(message)),
        })));
        drop(body);
    }

    /// # Safety
    ///
    /// As for [`Self::run`].
    unsafe fn set_killed(header: NonNull<Header>) {
        // SAFETY: as in `run`.
        let this = unsafe { header.cast::<Self>().as_ref() };
        if let Some(old) = this.outcome.replace(Some(Err(JoinError::Killed))) {
            this.outcome.set(Some(old)); // it had one: keep it
        }
    }

    /// # Safety
    ///
    /// As for [`Self::run`], and nothing may use the box afterwards.
    unsafe fn drop_box(header: NonNull<Header>) {
        // SAFETY: as in `run`; the caller holds the last reference.
        unsafe { ptr::drop_in_place(header.cast::<Self>().as_ptr()) };
    }
}

/// A counted, thin pointer to a greenlet's allocation (see the module's
/// invariant). Not `Send`: a greenlet never leaves its thread.
pub(crate) struct TaskRef {
    header: NonNull<Header>,
}

impl TaskRef {
    #[inline(always)]
    pub(crate) fn header(&self) -> &Header {
        // SAFETY: by the invariant the box is alive while `self` is.
        unsafe { self.header.as_ref() }
    }

    /// Drops the body of a greenlet that never ran, recording why: killed
    /// (`None`) or unable to start (`Some(message)`).
    pub(crate) fn discard_body(&self, failure: Option<String>) {
        // SAFETY: as in `run`.
        unsafe { (self.header().vtable.discard_body)(self.header, failure) }
    }

    /// Records that the greenlet was killed, unless it has an outcome
    /// already. Runs no code of the user's.
    pub(crate) fn set_killed(&self) {
        // SAFETY: as in `run`.
        unsafe { (self.header().vtable.set_killed)(self.header) }
    }
}

impl TaskRef {
    /// True when this is the only reference to the greenlet's allocation:
    /// dropping it would drop the greenlet's outcome and body.
    #[inline]
    pub(crate) fn is_unique(&self) -> bool {
        self.header().refs.get() == 1
    }
}

impl Clone for TaskRef {
    #[inline(always)]
    fn clone(&self) -> Self {
        let refs = &self.header().refs;
        // A count that wrapped would free the greenlet under its holders.
        refs.set(
            refs.get()
                .checked_add(1)
                .expect("greenlet: too many handles"),
        );
        TaskRef {
            header: self.header,
        }
    }
}

impl Drop for TaskRef {
    #[inline(always)]
    fn drop(&mut self) {
        let refs = &self.header().refs;
        let left = refs.get() - 1;
        refs.set(left);
        if left == 0 {
            release(self.header);
        }
    }
}

/// Runs the body of the greenlet whose header is `header` and records its
/// outcome (once, on its worker's stack).
pub(crate) fn run(header: &Header) {
    // SAFETY: only `TypedTask::new` makes headers, each at the start of a box
    // whose vtable it holds; the caller's borrow keeps the box alive.
    unsafe { (header.vtable.run)(NonNull::from(header)) }
}

/// Drops and frees a box whose last reference is gone.
#[inline(never)]
fn release(header: NonNull<Header>) {
    // SAFETY: the count fell to zero, so nothing else refers to the box; its
    // vtable is its own (by the invariant), read before the box is dropped.
    unsafe {
        let vtable = header.as_ref().vtable;
        (vtable.drop_box)(header);
        deallocate(header.cast(), vtable.layout);
    }
}

/// A [`TaskRef`] that knows the type of the greenlet's result.
pub(crate) struct TypedTask<T> {
    task: TaskRef,
    _outcome: PhantomData<T>,
}

impl<T> TypedTask<T> {
    /// Allocates a greenlet with id `id`, `name`, a stack of `stack_size`
    /// bytes to come, spawned at `spawned_at`, and `body`, and returns a
    /// typed handle to it.
    #[inline(always)]
    pub(crate) fn new<F>(
        id: u64,
        name: Option<Name>,
        stack_size: usize,
        spawned_at: &'static Location<'static>,
        body: F,
    ) -> Self
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        let block = allocate(Layout::new::<TaskBox<T, F>>()).cast::<TaskBox<T, F>>();
        let fields = block.as_ptr();
        // SAFETY: `block` is fresh, and sized and aligned for the box; each
        // field is written once, in place (a box is too big to be built on
        // the stack and copied cheaply).
        unsafe {
            (&raw mut (*fields).header).write(Header::new(
                id,
                name,
                stack_size,
                spawned_at,
                TaskBox::<T, F>::VTABLE,
            ));
            (&raw mut (*fields).outcome).write(Cell::new(None));
            (&raw mut (*fields).body).write(Cell::new(Some(body)));
        }
        TypedTask {
            task: TaskRef {
                header: block.cast(),
            },
            _outcome: PhantomData,
        }
    }

    pub(crate) fn task(&self) -> &TaskRef {
        &self.task
    }

    #[inline(always)]
    pub(crate) fn header(&self) -> &Header {
        self.task.header()
    }

    /// The greenlet's outcome, empty until it ends.
    pub(crate) fn outcome(&self) -> &OutcomeCell<T> {
        // SAFETY: `TypedTask<T>` is made only by `TypedTask::new`, so
        // the box is a `TaskBox<T, _>`, which starts like a `Prefix<T>`
        // (both `repr(C)` with the same first two fields).
        unsafe { &self.task.header.cast::<Prefix<T>>().as_ref().outcome }
    }
}

// ---- The blocks ----
//
// Boxes are allocated in size classes of `GRAIN` bytes. A freed block goes
// onto its class's free list (linked through its first word) for the next
// greenlet of that class; a class keeps at most `KEEP` blocks, and a thread's
// blocks are freed when its hub is torn down at thread exit.

const GRAIN: usize = 16;
const CLASSES: usize = 32;
/// Free blocks kept per class: enough for a batch of 100,000 greenlets to
/// recycle its blocks, at most 16 MiB for the largest class.
const KEEP: u32 = 1 << 17;

struct FreeLists {
    heads: [Cell<*mut u8>; CLASSES],
    counts: [Cell<u32>; CLASSES],
    /// Set at thread exit: from then on blocks go back to the allocator.
    closed: Cell<bool>,
}

thread_local! {
    static FREE: FreeLists = const {
        FreeLists {
            heads: [const { Cell::new(ptr::null_mut()) }; CLASSES],
            counts: [const { Cell::new(0) }; CLASSES],
            closed: Cell::new(false),
        }
    };
}

/// The class of `layout`, if it has one, and the layout of that class's
/// blocks.
#[inline(always)]
fn class_of(layout: Layout) -> Option<(usize, Layout)> {
    if layout.align() > GRAIN || layout.size() > GRAIN * CLASSES {
        return None;
    }
    let class = layout.size().div_ceil(GRAIN).max(1) - 1;
    let block = Layout::from_size_align((class + 1) * GRAIN, GRAIN).expect("a valid layout");
    Some((class, block))
}

#[inline(always)]
fn allocate(layout: Layout) -> NonNull<u8> {
    let Some((class, block)) = class_of(layout) else {
        return system_alloc(layout);
    };
    let head = FREE.with(|free| {
        let head = free.heads[class].get();
        if !head.is_null() {
            // SAFETY: a block on a free list is a freed block of this class
            // whose first word links to the next free block.
            free.heads[class].set(unsafe { head.cast::<*mut u8>().read() });
            free.counts[class].set(free.counts[class].get() - 1);
        }
        head
    });
    NonNull::new(head).unwrap_or_else(|| system_alloc(block))
}

/// # Safety
///
/// `block` must come from `allocate(layout)` on this thread, and nothing may
/// use it afterwards.
#[inline(always)]
unsafe fn deallocate(block: NonNull<u8>, layout: Layout) {
    let Some((class, block_layout)) = class_of(layout) else {
        // SAFETY: a block without a class was allocated with its own layout.
        unsafe { alloc::dealloc(block.as_ptr(), layout) };
        return;
    };
    let kept = FREE.with(|free| {
        let count = free.counts[class].get();
        if free.closed.get() || count >= KEEP {
            return false;
        }
        // SAFETY: the block is at least one word long, aligned for it, and
        // no longer used by anyone (the caller's promise).
        unsafe { block.cast::<*mut u8>().write(free.heads[class].get()) };
        free.heads[class].set(block.as_ptr());
        free.counts[class].set(count + 1);
        true
    });
    if !kept {
        // SAFETY: a block of a class was allocated with the class's layout.
        unsafe { alloc::dealloc(block.as_ptr(), block_layout) };
    }
}

fn system_alloc(layout: Layout) -> NonNull<u8> {
    // SAFETY: every box has a nonzero size (it holds a header).
    let block = unsafe { alloc::alloc(layout) };
    NonNull::new(block).unwrap_or_else(|| alloc::handle_alloc_error(layout))
}

/// Frees this thread's free blocks, and makes blocks freed from now on go
/// straight back to the allocator. Called when the hub is torn down at
/// thread exit.
pub(crate) fn close_free_lists() {
    let _ = FREE.try_with(|free| {
        free.closed.set(true);
        for class in 0..CLASSES {
            let block = Layout::from_size_align((class + 1) * GRAIN, GRAIN).expect("valid");
            let mut head = free.heads[class].replace(ptr::null_mut());
            while !head.is_null() {
                // SAFETY: as in `allocate`: a free block links to the next,
                // and was allocated with its class's block layout.
                unsafe {
                    let next = head.cast::<*mut u8>().read();
                    alloc::dealloc(head, block);
                    head = next;
                }
            }
            free.counts[class].set(0);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_round_up_to_the_grain() {
        let of = |size, align| class_of(Layout::from_size_align(size, align).unwrap());
        assert_eq!(of(1, 1).unwrap().0, 0);
        assert_eq!(of(16, 8).unwrap().0, 0);
        assert_eq!(
            of(17, 8).unwrap(),
            (1, Layout::from_size_align(32, 16).unwrap())
        );
        assert_eq!(of(512, 16).unwrap().0, 31);
        assert!(of(513, 8).is_none());
        assert!(of(64, 32).is_none());
    }

    #[test]
    fn freed_blocks_are_reused_lifo() {
        let layout = Layout::from_size_align(100, 8).unwrap();
        let a = allocate(layout);
        let b = allocate(layout);
        // SAFETY: both come from `allocate(layout)` and are not used again.
        unsafe {
            deallocate(a, layout);
            deallocate(b, layout);
        }
        assert_eq!(allocate(layout), b);
        assert_eq!(allocate(layout), a);
        // SAFETY: as above.
        unsafe {
            deallocate(a, layout);
            deallocate(b, layout);
        }
    }
}
