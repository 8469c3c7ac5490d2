//! How long an idle hub with an inbox spins for a message from another
//! thread before it sleeps in `epoll_wait`.
//!
//! Waking a sleeping thread costs a system call on each side and, on a
//! virtual machine whose other CPU is idle, tens of microseconds before it
//! runs. A pool task's result, or the next message of a thread that talks
//! with this hub, often comes sooner than that: spinning catches it with
//! neither. But a hub whose messages come rarely would burn its spins, so
//! the budget adapts: each spin in vain halves it, down to nothing, and a
//! sleep that a message ended within the full budget restores it (a spin
//! would have caught that one).

use std::time::Duration;

/// The most an idle hub spins before it sleeps.
const MAX_SPIN: Duration = Duration::from_micros(50);

/// The budget (see the module's docs). Plain data, the hub's own.
#[derive(Debug)]
pub(crate) struct Spin {
    limit: Duration,
}

impl Spin {
    pub(crate) const fn new() -> Self {
        Spin { limit: MAX_SPIN }
    }

    /// How long to spin this time.
    pub(crate) fn limit(&self) -> Duration {
        self.limit
    }

    /// Records a spin: a message came (`true`), or it was in vain.
    pub(crate) fn spun(&mut self, caught: bool) {
        if !caught {
            self.limit /= 2;
            if self.limit < Duration::from_micros(1) {
                self.limit = Duration::ZERO;
            }
        }
    }

    /// Records a sleep of `slept`, ended by a message from another thread
    /// (`by_message`) or by something else.
    pub(crate) fn slept(&mut self, slept: Duration, by_message: bool) {
        if by_message && slept <= MAX_SPIN {
            self.limit = MAX_SPIN;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spins_in_vain_run_the_budget_out_and_a_quick_message_restores_it() {
        let mut spin = Spin::new();
        assert_eq!(spin.limit(), MAX_SPIN);
        spin.spun(true);
        assert_eq!(spin.limit(), MAX_SPIN, "a caught message keeps it");
        for _ in 0..10 {
            spin.spun(false);
        }
        assert_eq!(spin.limit(), Duration::ZERO, "ten spins in vain: none left");
        spin.slept(Duration::from_millis(5), true);
        assert_eq!(
            spin.limit(),
            Duration::ZERO,
            "a slow message does not restore it"
        );
        spin.slept(Duration::from_micros(10), false);
        assert_eq!(spin.limit(), Duration::ZERO, "nor does a timer");
        spin.slept(Duration::from_micros(10), true);
        assert_eq!(spin.limit(), MAX_SPIN);
    }
}
