//! The kernel's mapping budget, `vm.max_map_count`, checked before a region
//! is mapped, and the error that explains it when it runs out.
//!
//! Failing at the cap itself is dangerous: a process whose `mmap` was
//! refused for lack of mappings may then fail to allocate the very message
//! that reports it. So a region is only mapped while [`HEADROOM`] mappings
//! stay free for the rest of the process (its heap, its threads), and the
//! error is formatted while they are.

use std::fs::File;
use std::io::{self, Read};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::sys::GuardKind;

/// Mappings left free for the rest of the process when stacks are mapped.
pub(crate) const HEADROOM: usize = 1024;

/// The kernel's default `vm.max_map_count`, assumed when it cannot be read.
const DEFAULT_MAX_MAP_COUNT: usize = 65530;

/// A limit set by tests in place of the kernel's; 0 for none.
static LIMIT_OVERRIDE: AtomicUsize = AtomicUsize::new(0);

/// Makes the allocator believe that `vm.max_map_count` is `limit` (or, with
/// `None`, read it again from the kernel).
pub(crate) fn set_max_map_count(limit: Option<usize>) {
    LIMIT_OVERRIDE.store(limit.unwrap_or(0), Ordering::Relaxed);
}

/// The mapping limit: the test override, or `/proc/sys/vm/max_map_count`
/// (read each time: an administrator may raise it while we run).
pub(super) fn max_map_count() -> usize {
    match LIMIT_OVERRIDE.load(Ordering::Relaxed) {
        0 => std::fs::read_to_string("/proc/sys/vm/max_map_count")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(DEFAULT_MAX_MAP_COUNT),
        limit => limit,
    }
}

/// How many mappings the process has: the lines of `/proc/self/maps`,
/// counted through a buffer on the stack (this must work near the cap).
pub(super) fn mapping_count() -> io::Result<usize> {
    let mut maps = File::open("/proc/self/maps")?;
    let mut buffer = [0u8; 8192];
    let mut lines = 0;
    loop {
        match maps.read(&mut buffer) {
            Ok(0) => return Ok(lines),
            Ok(n) => lines += buffer[..n].iter().filter(|&&b| b == b'\n').count(),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// How many mappings a region of `slots` stacks costs.
pub(super) fn region_cost(slots: usize, guard: GuardKind) -> usize {
    match guard {
        GuardKind::Madvise => 1,
        // Each guard splits the mapping: guard, stack, guard, stack...
        GuardKind::Mprotect => 1 + 2 * slots,
    }
}

/// The mapping count at the last reading of `/proc/self/maps`, plus what
/// regions mapped since cost (0: never read).
static ESTIMATE: AtomicUsize = AtomicUsize::new(0);
/// The limit at the last reading (0: never read).
static KNOWN_LIMIT: AtomicUsize = AtomicUsize::new(0);
/// Regions mapped since the last reading.
static SINCE_READING: AtomicUsize = AtomicUsize::new(0);
/// The count is read again after this many regions, even far from the limit.
const READ_EVERY: usize = 16;

/// How many of the `wanted` stacks of `stride` bytes a new region may hold
/// within the budget (at least one).
///
/// Reading `/proc/self/maps` costs tens of microseconds, so it is read again
/// only near the limit (within twice the headroom), every [`READ_EVERY`]
/// regions, or when a test has lowered the limit; otherwise the last count
/// plus what this allocator mapped since is precise enough.
///
/// # Errors
///
/// [`io::ErrorKind::OutOfMemory`], with the message of [`exhausted`], when
/// not even one fits.
pub(super) fn plan(wanted: usize, stride: usize, guard: GuardKind) -> io::Result<usize> {
    let (mut count, mut limit) = (
        ESTIMATE.load(Ordering::Relaxed),
        KNOWN_LIMIT.load(Ordering::Relaxed),
    );
    let stale = count == 0
        || LIMIT_OVERRIDE.load(Ordering::Relaxed) != 0
        || SINCE_READING.load(Ordering::Relaxed) >= READ_EVERY
        || count + region_cost(wanted, guard) + 2 * HEADROOM > limit;
    if stale {
        limit = max_map_count();
        // Unreadable /proc (a sandbox): let the kernel decide.
        let Ok(read) = mapping_count() else {
            return Ok(wanted);
        };
        count = read;
        KNOWN_LIMIT.store(limit, Ordering::Relaxed);
        SINCE_READING.store(0, Ordering::Relaxed);
    }
    let free = limit.saturating_sub(count + HEADROOM);
    let fits = match guard {
        GuardKind::Madvise if region_cost(wanted, guard) <= free => wanted,
        GuardKind::Madvise => 0,
        GuardKind::Mprotect => wanted.min(free.saturating_sub(region_cost(0, guard)) / 2),
    };
    if fits == 0 {
        return Err(exhausted(count, limit, stride, guard));
    }
    ESTIMATE.store(count + region_cost(fits, guard), Ordering::Relaxed);
    SINCE_READING.fetch_add(1, Ordering::Relaxed);
    Ok(fits)
}

/// The error of a region that does not fit in the budget.
pub(super) fn exhausted(count: usize, limit: usize, stride: usize, guard: GuardKind) -> io::Error {
    let (why, ways_out) = match guard {
        GuardKind::Madvise => (
            "stacks share mappings, a region of them each",
            "or use smaller stacks (Builder::stack_size) so that more fit in each region",
        ),
        GuardKind::Mprotect => (
            "each stack costs 2 mappings: its guard page is made with mprotect, for want of MADV_GUARD_INSTALL",
            "or run on Linux 6.13+ (MADV_GUARD_INSTALL), where stacks share mappings; smaller \
             stacks do not help here",
        ),
    };
    io::Error::new(
        io::ErrorKind::OutOfMemory,
        format!(
            "greenlet: cannot map more stacks of {} KiB: the process has {count} memory mappings \
             and vm.max_map_count is {limit}, of which {HEADROOM} are kept free for the rest of \
             the process ({why}). Raise the limit (sysctl -w vm.max_map_count={}), {ways_out}",
            (stride - super::sys::PAGE) / 1024,
            limit.max(count) * 2,
        ),
    )
}

/// The error of a region that the kernel refused.
pub(super) fn refused(error: io::Error, bytes: usize) -> io::Error {
    refused_with(error, bytes, mapping_count().ok(), max_map_count())
}

/// [`refused`], given the count of mappings (if known) and the limit. Near
/// the limit it blames `vm.max_map_count`; well below it, the address space
/// or the memory (the budget check keeps the count from reaching the limit,
/// so a refusal far from it has another cause).
fn refused_with(error: io::Error, bytes: usize, count: Option<usize>, max: usize) -> io::Error {
    let mib = bytes >> 20;
    let message = match count {
        Some(count) if count.saturating_mul(2) < max => format!(
            "greenlet: the kernel refused to map {mib} MiB for stacks ({error}): the process has \
             {count} memory mappings, well below vm.max_map_count ({max}), so it has run out of \
             address space or memory (see `ulimit -v` and vm.overcommit_memory). Use smaller \
             stacks (Builder::stack_size) or fewer greenlets at once"
        ),
        _ => format!(
            "greenlet: the kernel refused to map {mib} MiB for stacks ({error}): the process has \
             {} memory mappings and vm.max_map_count is {max}. Raise the limit \
             (sysctl -w vm.max_map_count=...), or use smaller stacks (Builder::stack_size)",
            count.map_or_else(|| "an unknown number of".into(), |n| n.to_string()),
        ),
    };
    io::Error::new(error.kind(), message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mapping_count_is_the_number_of_maps_lines() {
        let lines = std::fs::read_to_string("/proc/self/maps")
            .unwrap()
            .lines()
            .count();
        let counted = mapping_count().unwrap();
        // Other tests' threads may map meanwhile.
        assert!(counted.abs_diff(lines) < 64, "{counted} vs {lines}");
    }

    #[test]
    fn the_error_names_the_cause_the_count_and_the_ways_out() {
        let message = exhausted(64000, 65530, 64 * 1024 + 4096, GuardKind::Mprotect).to_string();
        for needle in [
            "vm.max_map_count is 65530",
            "64000 memory mappings",
            "sysctl -w vm.max_map_count=131060",
            "stacks of 64 KiB",
            "MADV_GUARD_INSTALL",
        ] {
            assert!(message.contains(needle), "{needle:?} in {message}");
        }
        let message = exhausted(64000, 65530, 64 * 1024 + 4096, GuardKind::Madvise).to_string();
        assert!(message.contains("smaller stacks"), "{message}");
    }

    #[test]
    fn a_refusal_names_the_map_count_only_near_its_limit() {
        let enomem = || io::Error::from_raw_os_error(libc::ENOMEM);
        let near = refused_with(enomem(), 64 << 20, Some(65000), 65530).to_string();
        assert!(near.contains("vm.max_map_count is 65530"), "{near}");
        assert!(near.contains("sysctl -w vm.max_map_count"), "{near}");
        let far = refused_with(enomem(), 64 << 20, Some(44), 65530).to_string();
        assert!(far.contains("well below vm.max_map_count (65530)"), "{far}");
        assert!(
            far.contains("ulimit -v") && far.contains("smaller"),
            "{far}"
        );
        assert!(!far.contains("sysctl"), "{far}");
    }

    #[test]
    fn mprotect_regions_cost_two_mappings_per_stack() {
        assert_eq!(region_cost(100, GuardKind::Madvise), 1);
        assert_eq!(region_cost(100, GuardKind::Mprotect), 201);
    }
}
