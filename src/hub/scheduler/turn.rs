//! The slow half of a turn of the hub's loop: firing timers, polling I/O,
//! and the deadlock report. (The fast half, picking the next context while
//! nothing else needs doing, is inlined into the loop from `scheduler.rs`.)
//!
//! A turn runs the contexts that were ready when it began, in FIFO order (one
//! that yields goes to the back, for the next turn), then fires due timers,
//! then polls I/O: without waiting if anything is ready, otherwise until the
//! earliest timer. Each turn first takes what other threads sent (when the
//! hub has an inbox, see `remote.rs`). When nothing is ready, no timer is
//! armed, no I/O is awaited and no other thread holds the inbox, nothing can
//! ever wake the main context: that is a deadlock, and it panics with a
//! report instead of hanging.

use std::mem;
use std::time::Instant;

use super::{Hub, TimerAction};
use crate::hub::context;
use crate::hub::wait::{MAIN, Unwind};

impl Hub {
    /// Whether a turn can end without the slow half: the common case, with
    /// no timer to fire, no I/O awaited and no inbox to look into.
    #[inline(always)]
    pub(super) fn quiet(&self) -> bool {
        self.timers.len() == 0 && self.io_waiting == 0
    }

    fn fire_due_timers(&mut self) {
        if self.timers.len() == 0 {
            return;
        }
        let now = Instant::now();
        while let Some(action) = self.timers.pop_due(now) {
            match action {
                TimerAction::Wake(waiter) => {
                    self.wake(waiter);
                }
                TimerAction::Timeout { key, id, timeout } => {
                    if key == MAIN {
                        context::request_main_unwind(Unwind::Timeout(timeout));
                    } else if let Some(header) = self.header(key, id) {
                        header.request_unwind(Unwind::Timeout(timeout));
                    } else {
                        continue;
                    }
                    self.interrupt(key);
                }
            }
        }
    }

    #[inline(never)]
    pub(super) fn begin_turn_slow(&mut self, may_wait: bool) -> Result<bool, ()> {
        loop {
            self.take_messages();
            self.fire_due_timers();
            let idle = self.ready.is_empty() && self.callbacks.is_empty() && may_wait;
            if !idle && self.io_parked() == 0 {
                break;
            }
            // Poll: without waiting if anything is ready (or the caller may
            // not wait), otherwise until the earliest timer.
            let timeout = if idle {
                match self.timers.next_deadline() {
                    Some(deadline) => Some(deadline.saturating_duration_since(Instant::now())),
                    None if self.io_parked() > 0 || self.remote_may_wake() => None,
                    None => return Err(()),
                }
            } else {
                Some(std::time::Duration::ZERO)
            };
            if idle {
                // Messages that came since the look above: take them first.
                if let Some(remote) = &self.remote {
                    let spun = remote.spin_for_pending(self.spin.limit());
                    self.spin.spun(spun);
                    if spun || !remote.may_sleep() {
                        continue;
                    }
                }
                self.watch.idle();
            }
            let mut woken = mem::take(&mut self.woken);
            let slept = (idle && self.remote.is_some()).then(Instant::now);
            self.reactor.poll_into(timeout, &mut woken);
            if let (Some(slept), Some(remote)) = (slept, &self.remote) {
                remote.awake();
                self.spin.slept(slept.elapsed(), remote.is_pending());
            }
            for waiter in woken.drain(..) {
                self.wake(waiter);
            }
            self.woken = woken;
            if !idle {
                break;
            }
            // Woken from a wait: fire what came due meanwhile, but do not
            // poll again at once (that would be a wasted system call).
            self.take_messages();
            self.fire_due_timers();
            if !self.ready.is_empty() || !self.callbacks.is_empty() {
                break;
            }
        }
        self.ready.begin_turn(0);
        Ok(!self.callbacks.is_empty())
    }
}
