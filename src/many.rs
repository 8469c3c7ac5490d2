//! Waiting on many objects at once: gevent's `wait` and `iwait` (tokio's
//! `select!` and `JoinSet::join_next` serve the same need).
//!
//! One wait is registered with every object not ready yet; the first that
//! becomes ready wakes it, and the caller looks at them all again. Readiness
//! is level-triggered and taken from nothing: a queue that "has an item"
//! may be emptied by another greenlet before the caller gets it.

use std::fmt;
use std::time::{Duration, Instant};

use crate::hub::{WaitReason, Waiter, block_until};
use crate::sync::{AsyncResult, Event, LifoQueue, PriorityQueue, Queue};
use crate::{Greenlet, ScopedJoinHandle};

/// Something [`wait`] and [`iwait`] can watch: a greenlet (ready once
/// finished), an [`Event`] (once set), an [`AsyncResult`] (once it has a
/// value), a [`Queue`], [`LifoQueue`] or [`PriorityQueue`] (while it has an
/// item, or once it is closed), a scoped greenlet's handle. Sealed: the
/// library implements it.
///
/// # Examples
///
/// ```
/// use greenlet::Waitable;
/// use greenlet::sync::Event;
///
/// let event = Event::new();
/// assert!(!event.is_ready());
/// event.set();
/// assert!(event.is_ready());
/// ```
pub trait Waitable: private::Watch {
    /// Whether waiting on it now would end at once.
    fn is_ready(&self) -> bool;
}

pub(crate) mod private {
    /// How a [`Waitable`](super::Waitable) wakes a wait on many: it keeps
    /// the watcher and wakes it when it becomes ready (stale waiters are
    /// ignored by the hub). Not nameable outside the crate: the trait is
    /// sealed.
    pub trait Watch {
        fn watch(&self, watcher: Watcher);
    }

    /// A wait on many, as the objects it watches see it.
    #[derive(Debug)]
    pub struct Watcher(pub(crate) crate::hub::Waiter);
}

use private::Watcher;

/// Waits until `count` of `objects` are ready (all of them for `None`), or
/// `timeout` passes (`None`: no limit), and returns the indices of those
/// ready then, in index order: gevent's `wait(objects, timeout, count)`.
/// With a timeout, fewer than `count` may be returned. Nothing is taken
/// from the objects.
///
/// # Panics
///
/// As every blocking call: unwinds if the caller is killed or its own
/// timeout expires; in the main context, the deadlock report if nothing can
/// ever make enough of them ready.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use greenlet::sync::Event;
///
/// let fast = greenlet::spawn(|| greenlet::sleep(Duration::from_millis(1)));
/// let slow = greenlet::spawn(|| greenlet::sleep(Duration::from_secs(60)));
/// let never = Event::new();
/// let ready = greenlet::wait(&[&slow, &fast, &never], Some(1), None);
/// assert_eq!(ready, [1]); // the first to finish
/// assert_eq!(greenlet::wait(&[&slow, &never], None, Some(Duration::from_millis(1))), []);
/// slow.kill();
/// ```
#[track_caller]
pub fn wait(
    objects: &[&dyn Waitable],
    count: Option<usize>,
    timeout: Option<Duration>,
) -> Vec<usize> {
    let want = count.unwrap_or(objects.len()).min(objects.len());
    let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
    loop {
        let ready: Vec<usize> = (0..objects.len())
            .filter(|&i| objects[i].is_ready())
            .collect();
        if ready.len() >= want || deadline.is_some_and(|d| Instant::now() >= d) {
            return ready;
        }
        block_until(WaitReason::on("wait (on many)"), deadline, |me| {
            watch_all(objects, &[], me);
        });
    }
}

/// The indices of `objects` as each becomes ready, each once, until all
/// have or `timeout` (for the whole iteration; `None`: no limit) passes:
/// gevent's `iwait`. Of several ready together, the lowest index comes
/// first.
///
/// # Panics
///
/// `next` panics as [`wait`] does.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let gs: Vec<_> = [30u64, 10, 20]
///     .into_iter()
///     .map(|ms| greenlet::spawn(move || greenlet::sleep(Duration::from_millis(ms))))
///     .collect();
/// let objects: Vec<&dyn greenlet::Waitable> = gs.iter().map(|g| g as _).collect();
/// let order: Vec<usize> = greenlet::iwait(&objects, None).collect();
/// assert_eq!(order, [1, 2, 0]); // as they finished
/// ```
pub fn iwait<'a>(objects: &'a [&'a dyn Waitable], timeout: Option<Duration>) -> Iwait<'a> {
    Iwait {
        objects,
        yielded: vec![false; objects.len()],
        left: objects.len(),
        deadline: timeout.and_then(|t| Instant::now().checked_add(t)),
    }
}

/// The iterator of [`iwait`]: each index once, as its object becomes
/// ready.
///
/// # Examples
///
/// ```
/// use greenlet::sync::Event;
///
/// let (a, b) = (Event::new(), Event::new());
/// b.set();
/// let objects: [&dyn greenlet::Waitable; 2] = [&a, &b];
/// let mut ready = greenlet::iwait(&objects, None);
/// assert_eq!(ready.next(), Some(1)); // b was set already
/// a.set();
/// assert_eq!(ready.next(), Some(0));
/// assert_eq!(ready.next(), None); // every one has come
/// ```
pub struct Iwait<'a> {
    objects: &'a [&'a dyn Waitable],
    /// Which indices have been yielded.
    yielded: Vec<bool>,
    left: usize,
    deadline: Option<Instant>,
}

impl Iterator for Iwait<'_> {
    type Item = usize;

    #[track_caller]
    fn next(&mut self) -> Option<usize> {
        loop {
            if self.left == 0 {
                return None;
            }
            let ready =
                (0..self.objects.len()).find(|&i| !self.yielded[i] && self.objects[i].is_ready());
            if let Some(i) = ready {
                self.yielded[i] = true;
                self.left -= 1;
                return Some(i);
            }
            if self.deadline.is_some_and(|d| Instant::now() >= d) {
                return None;
            }
            block_until(WaitReason::on("iwait"), self.deadline, |me| {
                watch_all(self.objects, &self.yielded, me);
            });
        }
    }
}

impl fmt::Debug for Iwait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iwait").field("left", &self.left).finish()
    }
}

/// Registers `me` with every object not yet `skip`ped.
fn watch_all(objects: &[&dyn Waitable], skip: &[bool], me: Waiter) {
    for (i, object) in objects.iter().enumerate() {
        if !skip.get(i).copied().unwrap_or(false) {
            object.watch(Watcher(me));
        }
    }
}

impl<T> private::Watch for Greenlet<T> {
    fn watch(&self, watcher: Watcher) {
        Greenlet::watch(self, watcher.0);
    }
}

impl<T> Waitable for Greenlet<T> {
    fn is_ready(&self) -> bool {
        self.is_finished()
    }
}

impl<T> private::Watch for ScopedJoinHandle<'_, T> {
    fn watch(&self, watcher: Watcher) {
        self.greenlet().watch(watcher.0);
    }
}

impl<T> Waitable for ScopedJoinHandle<'_, T> {
    fn is_ready(&self) -> bool {
        self.is_finished()
    }
}

impl private::Watch for Event {
    fn watch(&self, watcher: Watcher) {
        Event::watch(self, watcher.0);
    }
}

impl Waitable for Event {
    fn is_ready(&self) -> bool {
        self.is_set()
    }
}

impl<T> private::Watch for AsyncResult<T> {
    fn watch(&self, watcher: Watcher) {
        AsyncResult::watch(self, watcher.0);
    }
}

impl<T> Waitable for AsyncResult<T> {
    fn is_ready(&self) -> bool {
        self.is_set()
    }
}

/// A queue type is ready while it has an item, or once it is closed (a get
/// then returns at once).
macro_rules! waitable_queue {
    ($($queue:ident $(where T: $bound:path)?),*) => {$(
        impl<T $(: $bound)?> private::Watch for $queue<T> {
            fn watch(&self, watcher: Watcher) {
                $queue::watch(self, watcher.0);
            }
        }

        impl<T $(: $bound)?> Waitable for $queue<T> {
            fn is_ready(&self) -> bool {
                !self.is_empty() || self.is_closed()
            }
        }
    )*};
}

waitable_queue!(Queue, LifoQueue, PriorityQueue where T: Ord);
