//! Regions of guarded stack slots, and the stacks lent to coroutines.
//!
//! # Layout
//!
//! A [`Region`] is one anonymous `mmap`, cut into `slots` slots of `stride`
//! bytes. Slot `i` spans `start + i * stride .. start + (i + 1) * stride`: its
//! lowest page is the guard, the rest is the stack, which grows down from
//! the top of the slot. A guard is installed with
//! `madvise(MADV_GUARD_INSTALL)` (Linux 6.13+), which marks the page inside
//! the mapping without splitting it, so a region of any number of stacks
//! stays one kernel mapping. Where the kernel lacks it, the guard is an
//! `mprotect(PROT_NONE)` page, which splits the mapping: two mappings per
//! stack, as corosensei's `DefaultStack` costs.
//!
//! A [`Slot`] is the exclusive right to one guarded slot, a [`RegionStack`]
//! is a slot lent to a coroutine, and a region is only unmapped when every
//! slot it carved has been handed back to it.

use std::ffi::c_void;
use std::io;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::num::NonZeroUsize;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};

use corosensei::stack::valgrind::ValgrindStackRegistration;
use corosensei::stack::{Stack, StackPointer};

use super::page::{PAGE, check_page_size};
use super::signal::install_overflow_handler;
use crate::stack::overflow;

/// `madvise` advice: install guard pages in the range (Linux 6.13+).
const MADV_GUARD_INSTALL: libc::c_int = 102;

/// How the guard page of each stack is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::stack) enum GuardKind {
    /// `madvise(MADV_GUARD_INSTALL)`: no extra kernel mapping.
    Madvise,
    /// `mprotect(PROT_NONE)`: two kernel mappings per stack.
    Mprotect,
}

/// Set by tests (through `__private`) to use `mprotect` guards even where
/// the kernel has `MADV_GUARD_INSTALL`.
static FORCE_MPROTECT: AtomicBool = AtomicBool::new(false);

/// What the probe found: 0 not probed yet, 1 `Madvise`, 2 `Mprotect`.
static PROBED: AtomicU8 = AtomicU8::new(0);

/// Makes every region made from now on use `mprotect` guards (or, with
/// `false`, lets the kernel's support decide again).
pub(crate) fn force_mprotect_guards(force: bool) {
    FORCE_MPROTECT.store(force, Ordering::Relaxed);
}

/// How guards are made on this machine: probed once, by installing a guard
/// in a scratch mapping.
pub(in crate::stack) fn guard_kind() -> GuardKind {
    if FORCE_MPROTECT.load(Ordering::Relaxed) {
        return GuardKind::Mprotect;
    }
    match PROBED.load(Ordering::Relaxed) {
        1 => GuardKind::Madvise,
        2 => GuardKind::Mprotect,
        _ => {
            let kind = probe_guard_install();
            let code = if kind == GuardKind::Madvise { 1 } else { 2 };
            PROBED.store(code, Ordering::Relaxed);
            log::debug!("stack guards: {kind:?}");
            kind
        }
    }
}

fn probe_guard_install() -> GuardKind {
    // SAFETY: a fresh private anonymous mapping at an address of the kernel's
    // choosing; it aliases nothing.
    let scratch = unsafe {
        libc::mmap(
            ptr::null_mut(),
            PAGE,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if scratch == libc::MAP_FAILED {
        return GuardKind::Mprotect;
    }
    // SAFETY: `scratch` is the page just mapped, which nothing else uses.
    let installed = unsafe { libc::madvise(scratch, PAGE, MADV_GUARD_INSTALL) } == 0;
    // SAFETY: unmaps the scratch page, which nothing refers to.
    unsafe { libc::munmap(scratch, PAGE) };
    if installed {
        GuardKind::Madvise
    } else {
        GuardKind::Mprotect
    }
}

/// One `mmap`ed region of equal slots.
///
/// Dropping a region without unmapping it ([`unmap_regions`]) leaks its
/// mapping (which is always safe); the pool unmaps its regions when its
/// thread exits.
pub(in crate::stack) struct Region {
    // # Invariant
    // `start .. start + stride * slots` is a private anonymous mapping that
    // this region owns, and that stays mapped as long as the region lives.
    // Slots `0 .. carved` have their guard installed and belong to exactly
    // one `Slot` each (given out by `carve`); slots `carved ..` are not
    // referenced by anything. With `GuardKind::Mprotect`, every slot's guard
    // was installed when the region was mapped.
    start: NonZeroUsize,
    stride: usize,
    slots: usize,
    carved: usize,
    guard: GuardKind,
    /// The index of the region in the overflow handler's registry, if it
    /// found room for it.
    registered: Option<usize>,
    /// The carved slots' registrations with valgrind, which are no-ops when
    /// not running under it.
    valgrind: Vec<ValgrindStackRegistration>,
}

impl Region {
    /// Maps a region of `slots` slots of `stride` bytes each (a multiple of
    /// [`PAGE`], guard included), with guards made the `guard` way.
    ///
    /// # Errors
    ///
    /// The kernel's error if it refuses the mapping or, for `mprotect`
    /// guards, one of the guards (nothing stays mapped then).
    ///
    /// # Panics
    ///
    /// Panics if `stride` is not a multiple of the page size above one page,
    /// if `slots` is 0, or if the kernel's page size is not [`PAGE`].
    pub(in crate::stack) fn map(
        stride: usize,
        slots: usize,
        guard: GuardKind,
    ) -> io::Result<Region> {
        assert!(stride > PAGE && stride % PAGE == 0 && slots > 0);
        check_page_size();
        install_overflow_handler();
        let len = stride
            .checked_mul(slots)
            .ok_or(io::ErrorKind::OutOfMemory)?;
        // SAFETY: a fresh private anonymous mapping at an address of the
        // kernel's choosing; it aliases nothing. `MAP_NORESERVE` because only
        // the pages the stacks touch are ever committed.
        let start = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if start == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        // A transparent huge page would make a whole 2 MiB resident for one
        // touched stack page. (Kernels since 6.7 already exclude MAP_STACK
        // mappings.) Advice only: its failure changes nothing.
        // SAFETY: the range is the mapping just made, which nothing else uses.
        unsafe { libc::madvise(start, len, libc::MADV_NOHUGEPAGE) };
        let mut region = Region {
            start: NonZeroUsize::new(start as usize).expect("mmap never returns null"),
            stride,
            slots,
            carved: 0,
            guard,
            registered: None,
            valgrind: Vec::new(),
        };
        if guard == GuardKind::Mprotect {
            for i in 0..slots {
                let page = region.start.get() + i * stride;
                // SAFETY: `page` is the lowest page of slot `i` of the
                // mapping just made, which nothing refers to yet.
                let rc = unsafe { libc::mprotect(page as *mut c_void, PAGE, libc::PROT_NONE) };
                if rc != 0 {
                    let error = io::Error::last_os_error();
                    region.unmap_all();
                    return Err(error);
                }
            }
        }
        region.registered = overflow::register(region.start.get(), len, stride);
        Ok(region)
    }

    /// The number of slots of the region.
    pub(in crate::stack) fn slots(&self) -> usize {
        self.slots
    }

    /// Carves up to `n` (at least one) of the next slots, installing their
    /// guards, and appends them to `out`. Returns how many it carved: 0 when
    /// every slot is carved.
    ///
    /// With `madvise` guards, the guards of a batch are installed with one
    /// `process_madvise` call where the kernel allows it.
    ///
    /// # Errors
    ///
    /// The kernel's error if it refuses a guard (out of memory for page
    /// tables) before any slot is carved; the slots stay uncarved.
    pub(in crate::stack) fn carve(&mut self, n: usize, out: &mut Vec<Slot>) -> io::Result<usize> {
        let n = n.clamp(1, MAX_BATCH).min(self.slots - self.carved);
        let first = self.start.get() + self.carved * self.stride;
        let guarded = match self.guard {
            GuardKind::Mprotect => n, // installed when the region was mapped
            GuardKind::Madvise if n == 0 => 0,
            GuardKind::Madvise => install_guards(first, self.stride, n)?,
        };
        for i in 0..guarded {
            let limit = first + i * self.stride;
            self.valgrind.push(ValgrindStackRegistration::new(
                limit as *mut u8,
                self.stride,
            ));
            out.push(Slot {
                base: NonZeroUsize::new(limit + self.stride).expect("above the region's start"),
                len: self.stride,
                _thread_bound: PhantomData,
            });
        }
        self.carved += guarded;
        Ok(guarded)
    }

    /// Unmaps the whole mapping.
    ///
    /// Only called when no `Slot` of the region exists (all were taken back
    /// by `unmap_regions`, or none was carved), on a region that is then
    /// dropped.
    fn unmap_all(&mut self) {
        if let Some(index) = self.registered.take() {
            overflow::deregister(index);
        }
        self.valgrind.clear();
        // SAFETY: the region owns this mapping (invariant) and no slot of it
        // is in use (see above); the region is dropped right after.
        unsafe { libc::munmap(self.start.get() as *mut c_void, self.stride * self.slots) };
    }
}

/// The most slots carved at once.
const MAX_BATCH: usize = 256;

/// `process_madvise`'s pid file descriptor for the calling thread itself
/// (Linux 6.15+).
const PIDFD_SELF_THREAD: libc::c_int = -10000;

/// Set by tests (through `__private`): how many of the next guard
/// installations fail as if the kernel had no memory for page tables.
static REFUSE_GUARDS: AtomicUsize = AtomicUsize::new(0);

/// Makes the next `n` guard installations fail with `ENOMEM`, as the kernel
/// does when it has no memory for page tables, to test that path.
pub(crate) fn refuse_guards(n: usize) {
    REFUSE_GUARDS.store(n, Ordering::Relaxed);
}

/// Cleared when `process_madvise` cannot install our guards.
static BATCH_GUARDS: AtomicBool = AtomicBool::new(true);

/// Installs guard pages at the bottom of the `n` (at most [`MAX_BATCH`])
/// slots of `stride` bytes from `first`, all uncarved slots of a live
/// region, and returns how many it installed (all, unless the kernel fails).
///
/// # Errors
///
/// The kernel's error, when not even the first guard could be installed.
fn install_guards(first: usize, stride: usize, n: usize) -> io::Result<usize> {
    if REFUSE_GUARDS
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
        .is_ok()
    {
        return Err(io::Error::from_raw_os_error(libc::ENOMEM));
    }
    let mut done = if n > 1 {
        install_guards_at_once(first, stride, n)
    } else {
        0
    };
    while done < n {
        let page = first + done * stride;
        // SAFETY: the lowest page of an uncarved slot of a live region, which
        // nothing refers to (invariant of `Region`).
        if unsafe { libc::madvise(page as *mut c_void, PAGE, MADV_GUARD_INSTALL) } != 0 {
            return match done {
                0 => Err(io::Error::last_os_error()),
                _ => Ok(done),
            };
        }
        done += 1;
    }
    Ok(done)
}

/// As [`install_guards`], in one `process_madvise` call, and returns how
/// many guards it installed: 0 where the kernel cannot (before Linux 6.15,
/// which lets a thread name itself with `PIDFD_SELF_THREAD`).
fn install_guards_at_once(first: usize, stride: usize, n: usize) -> usize {
    if !BATCH_GUARDS.load(Ordering::Relaxed) {
        return 0;
    }
    let mut iov = [libc::iovec {
        iov_base: ptr::null_mut(),
        iov_len: 0,
    }; MAX_BATCH];
    for (i, v) in iov[..n].iter_mut().enumerate() {
        v.iov_base = (first + i * stride) as *mut c_void;
        v.iov_len = PAGE;
    }
    // SAFETY: each iovec names the lowest page of an uncarved slot of a live
    // region, which nothing refers to (invariant of `Region`).
    let advised = unsafe {
        libc::syscall(
            libc::SYS_process_madvise,
            PIDFD_SELF_THREAD,
            iov.as_ptr(),
            n,
            MADV_GUARD_INSTALL,
            0,
        )
    };
    if advised < 0 {
        BATCH_GUARDS.store(false, Ordering::Relaxed); // one guard at a time
        return 0;
    }
    advised as usize / PAGE
}

/// Unmaps every region of `regions` whose carved slots are all in `free`,
/// and gives back the regions it could not unmap, with their slots. At
/// thread exit that is none, unless a coroutine outlives the pool.
pub(in crate::stack) fn unmap_regions(
    mut regions: Vec<Region>,
    free: Vec<Slot>,
) -> (Vec<Region>, Vec<Slot>) {
    regions.sort_unstable_by_key(|r| r.start);
    let find = |slot: &Slot| {
        let i = regions.partition_point(|r| r.start.get() <= slot.limit());
        let region = &regions[i.checked_sub(1)?];
        let end = region.start.get() + region.carved * region.stride;
        (slot.base.get() <= end).then_some(i - 1)
    };
    let mut back = vec![0; regions.len()];
    for slot in &free {
        if let Some(i) = find(slot) {
            back[i] += 1;
        }
    }
    let complete: Vec<bool> = regions
        .iter()
        .zip(&back)
        .map(|(r, &n)| n == r.carved)
        .collect();
    // Slots are unique: a region whose carved slots are all here has no
    // other, so nothing refers to its memory once these are dropped.
    let kept: Vec<Slot> = free
        .into_iter()
        .filter(|s| !find(s).is_some_and(|i| complete[i]))
        .collect();
    let mut left = Vec::new();
    for (mut region, complete) in regions.into_iter().zip(complete) {
        if complete {
            region.unmap_all();
        } else {
            left.push(region);
        }
    }
    (left, kept)
}

impl std::fmt::Debug for Region {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Region")
            .field("start", &format_args!("{:#x}", self.start))
            .field("stride", &self.stride)
            .field("slots", &self.slots)
            .field("carved", &self.carved)
            .field("guard", &self.guard)
            .finish()
    }
}

/// The exclusive right to one carved slot of a live region of this thread.
///
/// Not `Clone`: a slot has one owner, which is what lets a region check
/// that all its slots are back before it unmaps.
pub(crate) struct Slot {
    // # Invariant
    // `base - len .. base` is slot of a live `Region` of this thread, carved
    // and guarded: the lowest page is the guard, the rest is mapped
    // read/write. No other `Slot` for it exists, and its region outlives it.
    base: NonZeroUsize,
    len: usize,
    /// Slots stay on their thread, with their region's pool.
    _thread_bound: PhantomData<*const ()>,
}

impl Slot {
    /// The usable bytes: the slot without its guard page.
    #[inline]
    pub(in crate::stack) fn usable(&self) -> usize {
        self.len - PAGE
    }

    /// The lowest address of the slot (its guard page).
    #[inline]
    fn limit(&self) -> usize {
        self.base.get() - self.len
    }

    /// Lends the slot to a coroutine; `L` takes it back when the coroutine
    /// drops its stack.
    #[inline]
    pub(in crate::stack) fn into_stack<L: Lender>(self) -> RegionStack<L> {
        RegionStack {
            slot: ManuallyDrop::new(self),
            _lender: PhantomData,
        }
    }

    /// The highest address of the slot: where its stack starts.
    #[inline]
    pub(in crate::stack) fn top(&self) -> usize {
        self.base.get()
    }

    /// The memory of `slots` above their guards, as `(start, len)` runs of
    /// adjacent slots, in address order (`slots` is sorted by address).
    pub(in crate::stack) fn memory_runs(slots: &mut [Slot]) -> Vec<(usize, usize)> {
        slots.sort_unstable_by_key(|s| s.base);
        let mut runs = Vec::new();
        let mut i = 0;
        while i < slots.len() {
            let low = slots[i].limit() + PAGE;
            let mut high = slots[i].base.get();
            i += 1;
            while i < slots.len() && slots[i].limit() == high {
                high = slots[i].base.get();
                i += 1;
            }
            runs.push((low, high - low));
        }
        runs
    }

    /// Gives the pages of `slots` back to the kernel (`MADV_DONTNEED`): they
    /// read as zeros and cost no memory until touched again. The guards and
    /// the address ranges stay. Adjacent slots are released together, in
    /// one system call per run.
    pub(in crate::stack) fn release_memory(slots: &mut [Slot]) {
        for (low, len) in Slot::memory_runs(slots) {
            // SAFETY: `low .. low + len` covers whole slots owned by these
            // `Slot`s (from above the lowest one's guard): no coroutine runs
            // on them and nothing else refers to their memory. Guards inside
            // the run survive MADV_DONTNEED.
            unsafe { libc::madvise(low as *mut c_void, len, libc::MADV_DONTNEED) };
        }
    }
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Slot({:#x}, {} KiB)", self.base, self.usable() / 1024)
    }
}

/// Who takes a slot back when the stack lent from it is dropped: the pool,
/// a layer above, which this layer never calls by name.
pub(crate) trait Lender {
    /// Takes back the slot of a dropped stack.
    fn take_back(slot: Slot);
}

/// A stack lent to a coroutine: one slot of a region. Dropping it gives the
/// slot back to its lender `L` (its thread's pool).
pub(crate) struct RegionStack<L: Lender> {
    // Dropped only by handing the slot back, in `Drop`.
    slot: ManuallyDrop<Slot>,
    _lender: PhantomData<L>,
}

impl<L: Lender> Drop for RegionStack<L> {
    fn drop(&mut self) {
        // SAFETY: the slot is taken out once, here, and `self` is never used
        // again.
        let slot = unsafe { ManuallyDrop::take(&mut self.slot) };
        L::take_back(slot);
    }
}

// SAFETY: the stack is the read/write part of a slot of a live region: above
// a guard page installed when the slot was carved, which `limit` includes.
// Both ends are page-aligned, hence aligned to `STACK_ALIGNMENT`, and the
// usable part is at least `MIN_STACK_SIZE` (`usable_size` rounds up to it).
// The region outlives the slot (invariant of `Slot`), hence the coroutine
// on it.
unsafe impl<L: Lender> Stack for RegionStack<L> {
    #[inline]
    fn base(&self) -> StackPointer {
        self.slot.base
    }

    #[inline]
    fn limit(&self) -> StackPointer {
        NonZeroUsize::new(self.slot.limit()).expect("a slot lies above address 0")
    }
}

impl<L: Lender> std::fmt::Debug for RegionStack<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RegionStack").field(&*self.slot).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_region_is_unmapped_only_with_all_its_slots() {
        let stride = 16 * PAGE;
        let kind = guard_kind();
        let mut a = Region::map(stride, 4, kind).unwrap();
        let mut b = Region::map(stride, 4, kind).unwrap();
        let (mut from_a, mut from_b) = (Vec::new(), Vec::new());
        assert_eq!(a.carve(3, &mut from_a).unwrap(), 3);
        assert_eq!(b.carve(10, &mut from_b).unwrap(), 4, "at most the region");
        assert_eq!(b.carve(1, &mut from_b).unwrap(), 0, "all carved");
        let in_use = from_b.pop().unwrap();
        let mut free = from_a;
        free.extend(from_b);
        let (left, kept) = unmap_regions(vec![a, b], free);
        assert_eq!(left.len(), 1, "the region with a slot in use stays");
        assert_eq!(kept.len(), 3, "with its free slots");
        let mut free = kept;
        free.push(in_use);
        let (left, kept) = unmap_regions(left, free);
        assert!(left.is_empty() && kept.is_empty());
    }

    #[test]
    fn carved_slots_are_writable_above_their_guard() {
        let stride = 16 * PAGE;
        for kind in [guard_kind(), GuardKind::Mprotect] {
            let mut region = Region::map(stride, 8, kind).unwrap();
            let mut slots = Vec::new();
            region.carve(8, &mut slots).unwrap();
            for slot in &slots {
                let stack = slot.usable();
                assert_eq!(stack, 15 * PAGE);
                // SAFETY: the slot's usable part is mapped read/write and
                // owned by `slot`, which no coroutine uses.
                unsafe {
                    let low = (slot.limit() + PAGE) as *mut u8;
                    low.write_volatile(1);
                    low.add(stack - 1).write_volatile(2);
                }
            }
            Slot::release_memory(&mut slots);
            for slot in &slots {
                // SAFETY: as above; released memory reads as zeros.
                let byte = unsafe { ((slot.limit() + PAGE) as *const u8).read_volatile() };
                assert_eq!(byte, 0, "released pages read as zeros");
            }
            let (left, _) = unmap_regions(vec![region], slots);
            assert!(left.is_empty());
        }
    }
}
