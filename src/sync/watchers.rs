//! Contexts watching an object for readiness without taking anything from
//! it: the waits of `greenlet::wait` and `iwait` (see `many.rs`), which
//! register one wait on several objects. Woken all at once when the object
//! becomes ready; entries whose wait has ended elsewhere are stale and
//! pruned as the list grows.

use std::cell::RefCell;
use std::mem;

use crate::hub::Waiter;

/// The contexts watching one object.
#[derive(Debug, Default)]
pub(crate) struct Watchers(RefCell<Vec<Waiter>>);

impl Watchers {
    pub(crate) const fn new() -> Self {
        Watchers(RefCell::new(Vec::new()))
    }

    /// How many entries the list holds, stale ones included.
    pub(crate) fn len(&self) -> usize {
        self.0.borrow().len()
    }

    /// Adds a watching wait.
    pub(crate) fn add(&self, waiter: Waiter) {
        let mut list = self.0.borrow_mut();
        // Stale entries go when `Waiter::time_to_prune` says.
        if Waiter::time_to_prune(list.len()) {
            list.retain(|w| w.is_live());
        }
        list.push(waiter);
    }

    /// Wakes every watcher (stale ones are ignored by the hub).
    #[inline]
    pub(crate) fn wake_all(&self) {
        // Checked inline: most objects have no watchers, and the call
        // would save registers before it could find that out.
        if !self.0.borrow().is_empty() {
            self.wake_listed();
        }
    }

    #[inline(never)]
    fn wake_listed(&self) {
        // Taken out first: a woken context runs later, but waking borrows
        // the hub, and nothing here may be borrowed meanwhile.
        let list = mem::take(&mut *self.0.borrow_mut());
        for waiter in list {
            waiter.wake();
        }
    }
}
