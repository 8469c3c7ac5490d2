//! Recognising a stack overflow from inside the SIGSEGV handler, and the
//! report it prints.
//!
//! The handler (in `sys/signal.rs`) may run at any instruction of any thread, so
//! everything here is async-signal-safe: the regions are found in a
//! fixed-size table of atomics, each entry read as a seqlock with a bounded
//! number of tries, and the report is formatted into a buffer on the
//! handler's stack, without allocating or locking.

use std::cell::Cell;
use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicUsize, Ordering, fence};

use super::sys::PAGE;

/// How many regions (of all threads at once) the table can hold. A region
/// that finds no room still works; its overflows are reported as a plain
/// SIGSEGV by the previous handler.
const MAX_REGIONS: usize = 4096;

/// One region in the table: written by one thread at a time, the one that
/// claimed it, and read by the handler on any thread (which may have
/// interrupted that very writer) as a seqlock.
struct Entry {
    // # Invariant
    // - `start` is FREE when no thread has claimed the entry, FILLING while
    //   the thread that claimed it fills or empties it, and otherwise the
    //   start of a registered region whose `len`, `stride` and `owner` are
    //   the ones registered with it.
    // - `seq` is odd while the claiming thread writes the other fields, and
    //   even otherwise. It only grows, by two per registration and per
    //   removal: a reader that finds the same even `seq` before and after
    //   reading the fields has read one registration whole, never the
    //   fields of two (nor the same start registered again, ABA).
    seq: AtomicUsize,
    start: AtomicUsize,
    len: AtomicUsize,
    stride: AtomicUsize,
    /// The [`thread_token`] of the thread whose stacks the region holds.
    owner: AtomicUsize,
}

const FREE: usize = 0;
const FILLING: usize = 1;

/// How many times the handler reads an entry that is being written before
/// it gives up on it. Bounded: the writer may be the very thread the
/// signal interrupted, which cannot finish until the handler returns.
const READ_TRIES: usize = 64;

static REGIONS: [Entry; MAX_REGIONS] = [const {
    Entry {
        seq: AtomicUsize::new(0),
        start: AtomicUsize::new(FREE),
        len: AtomicUsize::new(0),
        stride: AtomicUsize::new(0),
        owner: AtomicUsize::new(0),
    }
}; MAX_REGIONS];

/// How many entries have ever been used: the handler looks no further.
static USED: AtomicUsize = AtomicUsize::new(0);

/// A registered region, as read whole from its entry.
#[derive(Clone, Copy, Debug)]
struct Registration {
    start: usize,
    len: usize,
    stride: usize,
    owner: usize,
}

thread_local! {
    /// This thread's token, once it has registered a region; 0 before.
    /// `const`, with no destructor: the handler reads it with a plain
    /// thread-local load.
    static THREAD_TOKEN: Cell<usize> = const { Cell::new(0) };
}

/// The next thread token: tokens are never reused, unlike thread ids.
static NEXT_TOKEN: AtomicUsize = AtomicUsize::new(1);

/// The calling thread's token, given it on first use: the owner recorded
/// with each region it registers. Its stacks (and their guard pages) are
/// only ever run on by this thread.
fn thread_token() -> usize {
    THREAD_TOKEN.with(|token| {
        if token.get() == 0 {
            token.set(NEXT_TOKEN.fetch_add(1, Ordering::Relaxed));
        }
        token.get()
    })
}

impl Entry {
    /// Writes the entry's fields with `write`, `seq` odd meanwhile. Only
    /// the thread that claimed the entry (set `start` from FREE to FILLING)
    /// calls it.
    fn write(&self, write: impl FnOnce(&Entry)) {
        let seq = self.seq.load(Ordering::Relaxed);
        self.seq.store(seq + 1, Ordering::Relaxed);
        fence(Ordering::Release); // the odd `seq` before any field
        write(self);
        self.seq.store(seq + 2, Ordering::Release);
    }

    /// The region registered in the entry, read whole; `None` when there
    /// is none, or when the entry was being written at each of
    /// [`READ_TRIES`] tries. Async-signal-safe: loads only.
    fn read(&self) -> Option<Registration> {
        for _ in 0..READ_TRIES {
            let before = self.seq.load(Ordering::Acquire);
            if before % 2 == 0 {
                let read = Registration {
                    start: self.start.load(Ordering::Relaxed),
                    len: self.len.load(Ordering::Relaxed),
                    stride: self.stride.load(Ordering::Relaxed),
                    owner: self.owner.load(Ordering::Relaxed),
                };
                fence(Ordering::Acquire); // the fields before `seq` again
                if self.seq.load(Ordering::Relaxed) == before {
                    return (read.start > FILLING).then_some(read);
                }
            }
            std::hint::spin_loop();
        }
        None
    }
}

/// Records a region of slots of `stride` bytes, each with its guard page at
/// the bottom, whose stacks the calling thread runs. Returns its entry, or
/// `None` when the table is full.
pub(super) fn register(start: usize, len: usize, stride: usize) -> Option<usize> {
    let owner = thread_token();
    for (index, entry) in REGIONS.iter().enumerate() {
        if entry
            .start
            .compare_exchange(FREE, FILLING, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            entry.write(|entry| {
                entry.len.store(len, Ordering::Relaxed);
                entry.stride.store(stride, Ordering::Relaxed);
                entry.owner.store(owner, Ordering::Relaxed);
                entry.start.store(start, Ordering::Relaxed);
            });
            USED.fetch_max(index + 1, Ordering::Release);
            return Some(index);
        }
    }
    // Logged with no borrow or lock held: `Region::map` is called between
    // the pool's borrows.
    log::debug!("the stack-overflow table is full: overflows of a new region go unnamed");
    None
}

/// Forgets the region in entry `index` (before it is unmapped), and gives
/// the entry up.
pub(super) fn deregister(index: usize) {
    let entry = &REGIONS[index];
    entry.write(|entry| entry.start.store(FILLING, Ordering::Relaxed));
    entry.start.store(FREE, Ordering::Release);
}

/// A fault in the guard page of one of our stacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct GuardHit {
    /// The lowest address of the stack's slot (its guard page).
    pub(super) slot: usize,
    /// The slot's length, guard included.
    pub(super) stride: usize,
}

impl GuardHit {
    /// Whether `address` lies in this stack (guard included).
    fn contains(&self, address: usize) -> bool {
        (self.slot..self.slot + self.stride).contains(&address)
    }

    /// The usable size of the stack, in KiB.
    fn usable_kib(&self) -> usize {
        (self.stride - PAGE) / 1024
    }
}

/// The stack of the calling thread whose guard page holds `address`, if it
/// is one of ours. Called by the handler on the thread that faulted.
///
/// A guard page of another thread's stack is no overflow of this thread: a
/// wild pointer hit it, and the running greenlet is not to blame. (Nor can
/// such a page be an overflow of the other thread's stack: that thread
/// would have faulted itself.)
pub(super) fn guard_hit(address: usize) -> Option<GuardHit> {
    let me = THREAD_TOKEN.with(Cell::get);
    locate(address)
        .filter(|&(_, owner)| owner == me)
        .map(|(hit, _)| hit)
}

/// The stack whose guard page holds `address`, among the regions of every
/// thread, and the token of the thread that owns it.
fn locate(address: usize) -> Option<(GuardHit, usize)> {
    let used = USED.load(Ordering::Acquire);
    REGIONS[..used].iter().find_map(|entry| {
        let region = entry.read()?;
        let offset = address.checked_sub(region.start)?;
        if offset >= region.len || offset % region.stride >= PAGE {
            return None;
        }
        let hit = GuardHit {
            slot: region.start + offset - offset % region.stride,
            stride: region.stride,
        };
        Some((hit, region.owner))
    })
}

/// A fixed buffer for the report, on the handler's stack.
pub(super) struct ReportBuffer {
    bytes: [u8; 512],
    len: usize,
}

impl ReportBuffer {
    pub(super) fn new() -> Self {
        ReportBuffer {
            bytes: [0; 512],
            len: 0,
        }
    }
}

impl fmt::Write for ReportBuffer {
    /// Appends what fits, and drops the rest (a very long name).
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.bytes.len() - self.len;
        let n = s.len().min(room);
        self.bytes[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

/// The running greenlet as the handler sees it: its id, its name, and the
/// address of its yielder, which lies at the base of its own stack.
pub(crate) type RunningGreenlet<'a> = Option<(u64, Option<&'a str>, usize)>;

/// How the handler learns which greenlet runs: a function of the hub's
/// (a layer above), which calls its argument with the running greenlet.
pub(crate) type Identify = fn(&mut dyn FnMut(RunningGreenlet<'_>));

/// The hub's [`Identify`], once it has run a greenlet. Read by the signal
/// handler: `OnceLock::get` is one atomic load, no lock.
static IDENTIFY: std::sync::OnceLock<Identify> = std::sync::OnceLock::new();

/// Lends the handler the hub's way of naming the running greenlet (the
/// first call wins; every hub passes the same function).
pub(crate) fn set_identify(identify: Identify) {
    let _ = IDENTIFY.set(identify);
}

/// Calls `f` with the running greenlet, or with `None` when none runs or
/// no hub has lent its [`Identify`] yet.
pub(super) fn with_running(mut f: impl FnMut(RunningGreenlet<'_>)) {
    match IDENTIFY.get() {
        Some(identify) => identify(&mut f),
        None => f(None),
    }
}

/// Formats the report of an overflow of the stack of `hit`, knowing which
/// greenlet was running, and returns its bytes.
///
/// - `greenlet 'name' (id 3) has overflowed its stack of 64 KiB` (or
///   `greenlet 3 has…` for an unnamed one) when it is the greenlet's stack;
/// - `a generator in greenlet 'name' (id 3) has overflowed…` when a
///   generator ran inside it;
/// - `a generator has overflowed…` outside any greenlet.
pub(super) fn report<'b>(
    buffer: &'b mut ReportBuffer,
    hit: GuardHit,
    running: RunningGreenlet<'_>,
) -> &'b [u8] {
    buffer.len = 0;
    // Reserve room for the tail, so that a long name cannot cut it off.
    const TAIL: &str = "\nfatal runtime error: stack overflow, aborting\n";
    let body_room = buffer.bytes.len() - TAIL.len() - 64;
    let _ = match running {
        Some((id, name, yielder)) => {
            if !hit.contains(yielder) {
                let _ = buffer.write_str("a generator in ");
            }
            let _ = buffer.write_str("greenlet ");
            match name {
                Some(name) => {
                    let _ = buffer.write_str("'");
                    let _ = buffer.write_str(truncate(name, body_room.saturating_sub(buffer.len)));
                    write!(buffer, "' (id {id})")
                }
                None => write!(buffer, "{id}"),
            }
        }
        None => buffer.write_str("a generator"),
    };
    let _ = write!(
        buffer,
        " has overflowed its stack of {} KiB{TAIL}",
        hit.usable_kib()
    );
    &buffer.bytes[..buffer.len]
}

/// The longest prefix of `s` of at most `max` bytes that ends on a
/// character boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(hit: GuardHit, running: RunningGreenlet<'_>) -> String {
        let mut buffer = ReportBuffer::new();
        String::from_utf8(report(&mut buffer, hit, running).to_vec()).unwrap()
    }

    const HIT: GuardHit = GuardHit {
        slot: 0x10_0000,
        stride: 64 * 1024 + PAGE,
    };

    #[test]
    fn the_report_names_the_greenlet_that_overflowed() {
        let on_its_stack = HIT.slot + HIT.stride - 64;
        assert!(
            text(HIT, Some((7, Some("deep"), on_its_stack)))
                .starts_with("greenlet 'deep' (id 7) has overflowed its stack of 64 KiB\n")
        );
        assert!(
            text(HIT, Some((7, None, on_its_stack)))
                .starts_with("greenlet 7 has overflowed its stack of 64 KiB\n")
        );
    }

    #[test]
    fn the_report_tells_a_generator_from_its_greenlet() {
        let elsewhere = HIT.slot + 10 * HIT.stride;
        assert!(
            text(HIT, Some((2, Some("g"), elsewhere))).starts_with(
                "a generator in greenlet 'g' (id 2) has overflowed its stack of 64 KiB"
            )
        );
        assert!(text(HIT, None).starts_with("a generator has overflowed its stack of 64 KiB"));
    }

    #[test]
    fn a_long_name_is_cut_but_the_report_is_whole() {
        let name = "é".repeat(1000);
        let report = text(HIT, Some((1, Some(&name), HIT.slot + PAGE)));
        assert!(report.ends_with("(id 1) has overflowed its stack of 64 KiB\nfatal runtime error: stack overflow, aborting\n"));
    }

    #[test]
    fn only_guard_pages_of_registered_regions_are_ours() {
        let stride = 16 * PAGE;
        // Fake addresses: the table only records numbers.
        let start = 0x7000_0000_0000;
        let index = register(start, 4 * stride, stride).unwrap();
        let hit = GuardHit {
            slot: start + 2 * stride,
            stride,
        };
        assert_eq!(guard_hit(start + 2 * stride + 8), Some(hit));
        assert_eq!(
            guard_hit(start + 2 * stride + PAGE),
            None,
            "above the guard"
        );
        assert_eq!(guard_hit(start + 4 * stride), None, "past the region");
        assert_eq!(guard_hit(start - 1), None, "below the region");
        deregister(index);
        assert_eq!(guard_hit(start + 2 * stride + 8), None, "forgotten");
    }

    #[test]
    fn a_lookup_never_mixes_two_registrations_of_an_entry() {
        use std::sync::Arc;
        use std::sync::atomic::AtomicBool;
        // Two shapes of fake region, registered and removed over and over
        // by two threads, so that entries pass from one shape to the other.
        // 16 pages and a little into either region lies a guard page; with
        // the other shape's stride it still does, of a slot of the wrong
        // size: a lookup that paired the start of one registration with the
        // stride of another says so.
        const SHAPES: [(usize, usize); 2] =
            [(0x5000_0000_0000, 16 * PAGE), (0x5100_0000_0000, 8 * PAGE)];
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = SHAPES
            .into_iter()
            .map(|(start, stride)| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    for _ in 0..5_000_000 {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        if let Some(index) = register(start, 4 * stride, stride) {
                            deregister(index);
                        }
                    }
                })
            })
            .collect();
        let began = std::time::Instant::now();
        for _ in 0..3_000_000 {
            if began.elapsed() > std::time::Duration::from_secs(2) {
                break;
            }
            for (start, stride) in SHAPES {
                let found = locate(start + 16 * PAGE + 8).map(|(hit, _)| hit);
                let right = GuardHit {
                    slot: start + 16 * PAGE,
                    stride,
                };
                assert!(
                    found.is_none() || found == Some(right),
                    "{found:?} mixes two registrations"
                );
            }
        }
        stop.store(true, Ordering::Relaxed);
        writers.into_iter().for_each(|w| w.join().unwrap());
    }

    #[test]
    fn a_guard_page_of_another_threads_region_is_not_ours() {
        let stride = 16 * PAGE;
        let start = 0x5200_0000_0000; // a fake address: the table records numbers
        let address = start + stride + 8;
        let (index, theirs) = std::thread::spawn(move || {
            let index = register(start, 4 * stride, stride).unwrap();
            (index, guard_hit(address))
        })
        .join()
        .unwrap();
        let hit = GuardHit {
            slot: start + stride,
            stride,
        };
        assert_eq!(theirs, Some(hit), "an overflow of the thread's own");
        assert_eq!(guard_hit(address), None, "a wild pointer of another");
        assert_eq!(locate(address).map(|(hit, _)| hit), Some(hit));
        deregister(index);
    }
}
