//! `Barrier`: a meeting point that releases a group of greenlets together.

use std::cell::Cell;
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use super::wait_queue::WaitQueue;

struct Inner {
    /// How many arrivals release a generation (at least one).
    parties: usize,
    /// How many of the current generation have arrived and wait.
    arrived: Cell<usize>,
    /// Counts the generations released so far.
    generation: Cell<u64>,
    waiters: WaitQueue<()>,
}

/// A meeting point for a fixed number of greenlets (and the main context):
/// each [`wait`](Self::wait) blocks until `n` have arrived, then all go on
/// together, as [`std::sync::Barrier`].
///
/// The `n`-th arrival releases the others (in the order they arrived) and is
/// the *leader* of its generation: exactly one [`BarrierWaitResult`] of each
/// generation says [`is_leader`](BarrierWaitResult::is_leader). The barrier
/// is then ready for the next generation. A waiter that times out, or is
/// killed, before its generation is complete leaves it: the generation still
/// needs `n` arrivals. A `Barrier` is a cheap handle: clones share one
/// barrier.
///
/// # Examples
///
/// ```
/// use std::{cell::RefCell, rc::Rc};
/// use greenlet::sync::Barrier;
///
/// let barrier = Barrier::new(3);
/// let log = Rc::new(RefCell::new(Vec::new()));
/// let gs: Vec<_> = (0..3)
///     .map(|i| {
///         let (barrier, log) = (barrier.clone(), log.clone());
///         greenlet::spawn(move || {
///             log.borrow_mut().push(format!("{i} arrives"));
///             let leader = barrier.wait().is_leader();
///             log.borrow_mut().push(format!("{i} goes on"));
///             leader
///         })
///     })
///     .collect();
/// let leaders = gs.into_iter().filter_map(|g| g.join().ok()).filter(|&l| l).count();
/// assert_eq!(leaders, 1);
/// // Nobody went on before all had arrived.
/// assert!(log.borrow()[..3].iter().all(|line| line.ends_with("arrives")));
/// ```
#[derive(Clone)]
pub struct Barrier {
    inner: Rc<Inner>,
}

/// What [`Barrier::wait`] returns: whether this waiter was its generation's
/// leader.
///
/// # Examples
///
/// ```
/// let barrier = greenlet::sync::Barrier::new(1);
/// assert!(barrier.wait().is_leader());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BarrierWaitResult {
    leader: bool,
}

impl BarrierWaitResult {
    /// Whether this waiter was the one that completed its generation (the
    /// last to arrive). Exactly one waiter of each generation is.
    ///
    /// # Examples
    ///
    /// ```
    /// let barrier = greenlet::sync::Barrier::new(2);
    /// let other = {
    ///     let barrier = barrier.clone();
    ///     greenlet::spawn(move || barrier.wait().is_leader())
    /// };
    /// let me = barrier.wait().is_leader(); // the main context runs `other`
    /// assert!(me != other.join().unwrap());
    /// ```
    pub fn is_leader(&self) -> bool {
        self.leader
    }
}

/// One arrival in a generation: leaves it again when the waiter gives up
/// (times out, or unwinds) before the generation is complete.
struct Arrival<'a> {
    inner: &'a Inner,
    generation: u64,
}

impl Arrival<'_> {
    /// Whether the generation this arrival belongs to has been released.
    fn released(&self) -> bool {
        self.inner.generation.get() != self.generation
    }
}

impl Drop for Arrival<'_> {
    fn drop(&mut self) {
        if !self.released() {
            self.inner.arrived.set(self.inner.arrived.get() - 1);
        }
    }
}

impl Barrier {
    /// A barrier that releases every `n` waiters together. `n` of 0 acts
    /// as 1 (as [`std::sync::Barrier`]): every wait returns at once, as
    /// leader.
    ///
    /// # Examples
    ///
    /// ```
    /// let barrier = greenlet::sync::Barrier::new(4);
    /// assert_eq!(barrier.parties(), 4);
    /// ```
    pub fn new(n: usize) -> Barrier {
        Barrier {
            inner: Rc::new(Inner {
                parties: n.max(1),
                arrived: Cell::new(0),
                generation: Cell::new(0),
                waiters: WaitQueue::new(),
            }),
        }
    }

    /// Waits until `n` waiters (this one included) have arrived; the last to
    /// arrive releases the others and returns at once, as leader.
    ///
    /// # Panics
    ///
    /// Unwinds the caller if it is killed or its timeout expires while it
    /// waits; it leaves its generation then, unless that was complete
    /// already. In the main context, panics with the deadlock report when no
    /// greenlet could ever arrive. As every blocking call, panics if it must
    /// wait while the thread is unwinding.
    ///
    /// # Examples
    ///
    /// ```
    /// let barrier = greenlet::sync::Barrier::new(2);
    /// let other = {
    ///     let barrier = barrier.clone();
    ///     greenlet::spawn(move || barrier.wait())
    /// };
    /// barrier.wait();
    /// other.join().unwrap();
    /// ```
    #[track_caller]
    pub fn wait(&self) -> BarrierWaitResult {
        self.arrive(None)
            .expect("a wait without a timeout ends released")
    }

    /// Waits as [`wait`](Self::wait), at most `timeout`; `None` when the
    /// time ran out first. A waiter that times out leaves its generation,
    /// which still needs `n` arrivals.
    ///
    /// # Panics
    ///
    /// As [`wait`](Self::wait).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let barrier = greenlet::sync::Barrier::new(2);
    /// assert!(barrier.wait_timeout(Duration::from_millis(3)).is_none());
    /// assert_eq!(barrier.waiting(), 0, "the timed-out waiter left");
    /// ```
    #[track_caller]
    pub fn wait_timeout(&self, timeout: Duration) -> Option<BarrierWaitResult> {
        self.arrive(Some(timeout))
    }

    /// How many waiters release a generation: the `n` of [`new`](Self::new)
    /// (1 for 0).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(greenlet::sync::Barrier::new(0).parties(), 1);
    /// ```
    pub fn parties(&self) -> usize {
        self.inner.parties
    }

    /// How many waiters of the current generation have arrived and wait.
    ///
    /// # Examples
    ///
    /// ```
    /// let barrier = greenlet::sync::Barrier::new(3);
    /// let early = {
    ///     let barrier = barrier.clone();
    ///     greenlet::spawn(move || barrier.wait())
    /// };
    /// greenlet::yield_now(); // it arrives and waits
    /// assert_eq!(barrier.waiting(), 1);
    /// early.kill();
    /// assert_eq!(barrier.waiting(), 0, "the killed waiter left");
    /// ```
    pub fn waiting(&self) -> usize {
        self.inner.arrived.get()
    }

    #[track_caller]
    fn arrive(&self, timeout: Option<Duration>) -> Option<BarrierWaitResult> {
        let inner = &*self.inner;
        let arrived = inner.arrived.get() + 1;
        if arrived == inner.parties {
            inner.arrived.set(0);
            inner.generation.set(inner.generation.get() + 1);
            inner.waiters.notify_all(&());
            return Some(BarrierWaitResult { leader: true });
        }
        inner.arrived.set(arrived);
        let arrival = Arrival {
            inner,
            generation: inner.generation.get(),
        };
        let result = inner.waiters.wait("Barrier::wait", timeout, |()| {});
        // Timed out, but counted in a generation released meanwhile (its
        // timer woke it first, so the release could not): released too.
        let released = result.is_ok() || arrival.released();
        drop(arrival); // leaves the generation if it was not released
        released.then_some(BarrierWaitResult { leader: false })
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier")
            .field("parties", &self.inner.parties)
            .field("waiting", &self.waiting())
            .finish()
    }
}
