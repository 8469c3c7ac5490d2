//! The stack helper: one background thread per process that makes the
//! kernel's per-page work on stacks happen off the threads running
//! greenlets.
//!
//! The first touch of a fresh stack page costs a page fault (about 2 µs on
//! the machines we measure: a trap, a zeroed page, a memory-cgroup charge),
//! and releasing pages costs their unmapping and a TLB flush. When a pool
//! knows it will need hundreds of fresh stacks at once (a burst of spawns),
//! or gives hundreds back, it hands them to the helper in a [`Batch`]: the
//! helper prefaults the top page of each (`MADV_POPULATE_WRITE`) or releases
//! their memory (`MADV_DONTNEED`), on the other core, while the owning
//! thread goes on running greenlets.
//!
//! # Safety by ownership
//!
//! A [`Batch`] owns its [`Slot`]s: no coroutine can run on them and their
//! region cannot be unmapped while the helper works on them (a region is
//! unmapped only when all its slots are back). The owner gets them back
//! with [`Batch::into_slots`], which waits for the helper, and dropping a
//! batch waits too. The helper itself sees only addresses.
//!
//! # A panicking logger
//!
//! The helper logs (when the kernel refuses to prefault), so the
//! application's logger runs on it and may panic. Each job is served under
//! `catch_unwind` and marked done however it ends: the helper lives on, and
//! no batch waits for ever.

use std::ffi::c_void;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, OnceLock};

use super::page::PAGE;
use super::region::Slot;
use crate::fork::ForkGeneration;

/// `madvise` advice: fault the range in, writable (Linux 5.14+).
const MADV_POPULATE_WRITE: libc::c_int = 23;

/// Cleared by tests (through `__private`) to do every batch's work inline.
static ENABLED: AtomicBool = AtomicBool::new(true);

/// Cleared when the kernel refuses `MADV_POPULATE_WRITE`: prefaulting is
/// then left to the page faults.
static POPULATE: AtomicBool = AtomicBool::new(true);

/// Set by tests (through `__private`): how many of the next prefaults fail
/// as if the kernel had refused `MADV_POPULATE_WRITE`.
static REFUSE_POPULATE: AtomicUsize = AtomicUsize::new(0);

/// Makes the next `n` prefaults fail as if the kernel had refused
/// `MADV_POPULATE_WRITE` (which turns prefaulting off for the process), to
/// test that path.
pub(crate) fn refuse_populate(n: usize) {
    REFUSE_POPULATE.store(n, Ordering::Relaxed);
}

/// Set by unit tests to hold the helper thread before its next job, so that
/// batches stay lent.
#[cfg(test)]
pub(in crate::stack) static PAUSED: AtomicBool = AtomicBool::new(false);

/// Lets batches go to the helper thread (`true`, the default) or does their
/// work on the calling thread. For tests of both paths.
pub(crate) fn use_stack_helper(enabled: bool) {
    ENABLED.store(enabled, Ordering::Relaxed);
}

/// What the helper does to the pages of a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Work {
    /// Fault in the top page of each slot, where a new stack starts.
    Prefault,
    /// Give the memory of each slot (above its guard) back to the kernel.
    Release,
}

/// A job for the helper thread: address ranges and what to do to them.
struct Job {
    ranges: Vec<(usize, usize)>,
    work: Work,
    done: Arc<AtomicBool>,
}

/// Sets a job's `done` flag when dropped: however the job ends.
struct MarkDone<'a>(&'a AtomicBool);

impl Drop for MarkDone<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

impl Job {
    /// Does the job and marks it done, even if the application's logger
    /// panics in it (the only code of the job that can): the batch's owner
    /// waits for `done`, and the helper must live on for the next jobs.
    ///
    /// # Safety
    ///
    /// As [`Job::run`].
    unsafe fn serve(&self) {
        let served = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let _done = MarkDone(&self.done);
            // SAFETY: this function's contract is `run`'s.
            unsafe { self.run() };
        }));
        if let Err(payload) = served {
            // The panic hook has reported it. Dropping the payload could
            // panic again (a payload with a panicking `Drop`): leaking one
            // box per panic is the smaller risk.
            std::mem::forget(payload);
        }
    }

    /// Does the job's system calls.
    ///
    /// # Safety
    ///
    /// Every range must lie inside slots owned by a [`Batch`] that is alive
    /// (and so does not let its slots be used or its region unmapped) until
    /// `done` is set.
    unsafe fn run(&self) {
        let advice = match self.work {
            Work::Prefault if !POPULATE.load(Ordering::Relaxed) => return,
            Work::Prefault => MADV_POPULATE_WRITE,
            Work::Release => libc::MADV_DONTNEED,
        };
        for &(start, len) in &self.ranges {
            let refused = self.work == Work::Prefault
                && REFUSE_POPULATE
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                    .is_ok();
            let rc = if refused {
                -1
            } else {
                // SAFETY: by this function's contract the range belongs to
                // slots that nothing runs on and whose region stays mapped.
                // Both advices keep the contents' meaning: POPULATE_WRITE
                // faults in zero pages, DONTNEED drops pages no stack uses.
                unsafe { libc::madvise(start as *mut c_void, len, advice) }
            };
            if rc != 0 && self.work == Work::Prefault {
                let error = match refused {
                    true => std::io::Error::from_raw_os_error(libc::ENOMEM),
                    false => std::io::Error::last_os_error(),
                };
                // Too old a kernel, or no memory now: the pages will be
                // faulted in when used, as without the helper.
                POPULATE.store(false, Ordering::Relaxed);
                log::debug!("stack prefaulting off: {error}");
                return;
            }
        }
    }
}

/// The helper thread, reached through its queue.
struct Helper {
    queue: Mutex<Sender<Job>>,
    /// The process that started it: a child made by `fork` has no helper
    /// thread, though it inherits this.
    made_in: ForkGeneration,
}

impl Helper {
    /// Whether the helper thread runs in this process (not in the parent of
    /// a forked child).
    fn is_here(&self) -> bool {
        self.made_in.is_current()
    }
}

/// The helper thread, once [`helper`] has tried to start it.
static HELPER: OnceLock<Option<Helper>> = OnceLock::new();

/// Why the helper thread could not be started, until
/// [`log_start_failure`] logs it.
static START_FAILURE: Mutex<Option<std::io::Error>> = Mutex::new(None);

/// The helper thread, started on first use; `None` if it could not be
/// started.
///
/// Nothing is logged here: the helper is started by a pool that lends it a
/// batch, inside the pool's borrow and inside `get_or_init`, where a logger
/// that spawns a greenlet would find the pool borrowed (or re-enter the
/// `OnceLock`). The pool calls [`log_start_failure`] once its borrow ends.
fn helper() -> Option<&'static Helper> {
    HELPER.get_or_init(start_helper).as_ref()
}

/// Starts the helper thread, which does the jobs of its queue in order,
/// for the life of the process. Keeps the error, if any, for
/// [`log_start_failure`].
fn start_helper() -> Option<Helper> {
    let made_in = match ForkGeneration::current() {
        Ok(generation) => generation,
        Err(e) => {
            *START_FAILURE.lock().unwrap_or_else(|e| e.into_inner()) = Some(e);
            return None;
        }
    };
    let (tx, rx) = mpsc::channel::<Job>();
    let spawned = std::thread::Builder::new()
        .name("greenlet-stacks".into())
        .spawn(move || {
            for job in rx {
                #[cfg(test)]
                while PAUSED.load(Ordering::Acquire) {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                // SAFETY: every job was sent by `Batch::send`, whose batch
                // owns the slots and waits for `done`.
                unsafe { job.serve() };
            }
        });
    match spawned {
        Ok(_) => Some(Helper {
            queue: Mutex::new(tx),
            made_in,
        }),
        Err(e) => {
            *START_FAILURE.lock().unwrap_or_else(|e| e.into_inner()) = Some(e);
            None
        }
    }
}

/// Logs why the helper thread could not be started, once, if it could not.
/// Called by the pool where it holds no borrow; a plain load where the
/// helper was not needed or started.
pub(in crate::stack) fn log_start_failure() {
    if !matches!(HELPER.get(), Some(None)) {
        return;
    }
    let failure = START_FAILURE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take();
    if let Some(e) = failure {
        log::debug!("no stack helper thread: {e}");
    }
}

/// Slots lent to the helper thread.
pub(in crate::stack) struct Batch {
    slots: Vec<Slot>,
    work: Work,
    done: Arc<AtomicBool>,
}

impl Batch {
    /// Hands `slots`, freshly carved, to the helper to fault in the top page
    /// of each. Gives them back at once where there is no helper (or
    /// prefaulting is off): they are faulted in when used then.
    pub(in crate::stack) fn prefault(slots: Vec<Slot>) -> Result<Batch, Vec<Slot>> {
        if !POPULATE.load(Ordering::Relaxed) {
            return Err(slots);
        }
        let ranges = slots.iter().map(|s| (s.top() - PAGE, PAGE)).collect();
        Batch::send(slots, ranges, Work::Prefault).map_err(|(slots, _)| slots)
    }

    /// Hands `slots`, all free, to the helper to release their memory; where
    /// there is no helper, releases it on this thread. Either way the slots
    /// keep their guards and address ranges.
    pub(in crate::stack) fn release(mut slots: Vec<Slot>) -> Result<Batch, Vec<Slot>> {
        let ranges = Slot::memory_runs(&mut slots);
        Batch::send(slots, ranges, Work::Release).map_err(|(mut slots, _)| {
            Slot::release_memory(&mut slots);
            slots
        })
    }

    fn send(
        slots: Vec<Slot>,
        ranges: Vec<(usize, usize)>,
        work: Work,
    ) -> Result<Batch, (Vec<Slot>, Job)> {
        let done = Arc::new(AtomicBool::new(false));
        let job = Job {
            ranges,
            work,
            done: done.clone(),
        };
        let helper = match helper() {
            Some(helper) if ENABLED.load(Ordering::Relaxed) && helper.is_here() => helper,
            _ => return Err((slots, job)),
        };
        let sent = helper
            .queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(job);
        match sent {
            Ok(()) => Ok(Batch { slots, work, done }),
            Err(mpsc::SendError(job)) => Err((slots, job)),
        }
    }

    /// Whether the helper has finished with the batch.
    #[inline]
    pub(in crate::stack) fn is_done(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    /// How many slots the batch holds.
    #[cfg(test)]
    pub(in crate::stack) fn len(&self) -> usize {
        self.slots.len()
    }

    /// The batch's slots, once the helper has finished with them (waiting
    /// for it if need be).
    pub(in crate::stack) fn into_slots(mut self) -> Vec<Slot> {
        self.wait();
        std::mem::take(&mut self.slots)
    }

    /// Waits for the helper to finish with the batch: at most the time its
    /// system calls and those of the batches queued before it take (from
    /// any thread), as the helper does nothing else. In a child made
    /// by `fork` while the batch was lent, where the helper thread does not
    /// exist, does the batch's work itself instead.
    fn wait(&mut self) {
        let mut spins = 0u32;
        while !self.is_done() {
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else if helper().is_some_and(Helper::is_here) {
                std::thread::sleep(std::time::Duration::from_micros(20));
            } else {
                if self.work == Work::Release {
                    Slot::release_memory(&mut self.slots);
                }
                self.done.store(true, Ordering::Release);
            }
        }
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        // The slots must not go back to their region (which could then be
        // unmapped) while the helper still works on them.
        self.wait();
    }
}

impl std::fmt::Debug for Batch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch")
            .field("slots", &self.slots.len())
            .field("done", &self.is_done())
            .finish()
    }
}
