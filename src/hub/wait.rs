//! The records of a wait, shared by every layer of the hub: who waits
//! ([`Waiter`]), on what ([`WaitReason`]), and why a wait must unwind instead
//! of returning ([`Unwind`]). Plain data: nothing here touches the hub.

use std::panic::Location;

/// The hub key of the main context in a [`Waiter`] (greenlets have the keys
/// of their slots in the task table).
pub(crate) const MAIN: usize = usize::MAX;

/// Why a blocking call must unwind instead of returning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unwind {
    /// The greenlet was killed.
    Kill,
    /// The timeout with this id expired.
    Timeout(u64),
}

impl Unwind {
    /// The unwind that wins when `new` is requested while `old` is pending:
    /// a kill beats any timeout, and of two timeouts the outer one (the one
    /// armed first, with the smaller id) wins.
    pub(crate) fn merge(old: Option<Unwind>, new: Unwind) -> Unwind {
        match (old, new) {
            (Some(Unwind::Kill), _) | (_, Unwind::Kill) => Unwind::Kill,
            (Some(Unwind::Timeout(a)), Unwind::Timeout(b)) => Unwind::Timeout(a.min(b)),
            (None, new) => new,
        }
    }
}

/// One wait of one context: stale once that context has been woken since.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Waiter {
    /// The hub key of the context (`MAIN` for the main context).
    pub(super) key: usize,
    /// The wait id, unique per hub; stale once the context has been woken.
    pub(super) wait: u64,
}

/// What a context is blocked on, for `run_info` and the deadlock report:
/// `what` names the call, `target` the id of the greenlet it concerns (0 for
/// none: greenlet ids start at 1), `object` the address of the object it
/// waits on (0 for none; `names.rs` may know a name for it), and `location`
/// the user's call that blocked (the blocking calls are `#[track_caller]`
/// down to here).
#[derive(Clone, Copy, Debug)]
pub(crate) struct WaitReason {
    pub(super) what: &'static str,
    pub(super) target: u64,
    pub(super) object: usize,
    pub(super) location: &'static Location<'static>,
}

impl WaitReason {
    /// A wait in the call `what`, made at the caller's location.
    #[track_caller]
    #[inline(always)]
    pub(crate) const fn on(what: &'static str) -> Self {
        WaitReason {
            what,
            target: 0,
            object: 0,
            location: Location::caller(),
        }
    }

    /// A wait in `what` for the greenlet `id`.
    #[track_caller]
    #[inline(always)]
    pub(crate) const fn on_greenlet(what: &'static str, id: u64) -> Self {
        WaitReason {
            target: id,
            ..WaitReason::on(what)
        }
    }

    /// The same wait, on the object at `address`.
    #[inline(always)]
    pub(crate) fn at<T: ?Sized>(self, address: *const T) -> Self {
        WaitReason {
            object: address.cast::<()>() as usize,
            ..self
        }
    }

    /// The same wait, reported at `location` instead (for a wait made in a
    /// closure on the user's behalf, which `#[track_caller]` cannot see
    /// through).
    #[inline(always)]
    pub(crate) fn located(self, location: &'static Location<'static>) -> Self {
        WaitReason { location, ..self }
    }

    /// Where the wait was made.
    pub(crate) fn location(&self) -> &'static Location<'static> {
        self.location
    }
}

impl Waiter {
    /// The wait's id: unique on the thread, so it alone names the wait.
    #[inline(always)]
    pub(crate) fn wait_id(self) -> u64 {
        self.wait
    }

    /// Whether a list of watching waits (stale ones among them, which only
    /// wake-ups would find) is due for pruning before it grows past `len`:
    /// at each power of two from 16 on, so that it stays within twice its
    /// live entries at an amortised constant cost.
    #[inline]
    pub(crate) fn time_to_prune(len: usize) -> bool {
        len >= 16 && len.is_power_of_two()
    }

    /// A record of the wait `wait` of the context at `key`, for the unit
    /// tests of the code that keeps records (they are made by parking).
    #[cfg(test)]
    pub(crate) const fn for_test(key: usize, wait: u64) -> Waiter {
        Waiter { key, wait }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kill_beats_timeouts_and_the_outermost_timeout_wins() {
        let merge = Unwind::merge;
        assert_eq!(merge(None, Unwind::Timeout(5)), Unwind::Timeout(5));
        assert_eq!(
            merge(Some(Unwind::Timeout(5)), Unwind::Timeout(2)),
            Unwind::Timeout(2)
        );
        assert_eq!(
            merge(Some(Unwind::Timeout(2)), Unwind::Timeout(5)),
            Unwind::Timeout(2)
        );
        assert_eq!(merge(Some(Unwind::Timeout(2)), Unwind::Kill), Unwind::Kill);
        assert_eq!(merge(Some(Unwind::Kill), Unwind::Timeout(1)), Unwind::Kill);
    }
}
