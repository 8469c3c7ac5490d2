//! How an accept loop answers a failed `accept`: at once, or after a delay
//! that doubles while the failures go on (gevent's `StreamServer`: 10 ms,
//! doubling to 1 s).
//!
//! Plain data, unit-tested here; the accept loop sleeps and logs.

use std::io;
use std::time::Duration;

use crate::net::is_out_of_resources;

/// The first delay of an episode of failures.
pub(crate) const FIRST_DELAY: Duration = Duration::from_millis(10);

/// The longest delay: the doubling stops there.
pub(crate) const MAX_DELAY: Duration = Duration::from_secs(1);

/// What to do after a failed `accept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    /// A failure of one connection (`ECONNABORTED`, `EPERM`, …): yield and
    /// accept the next.
    Retry,
    /// A failure that accepting again at once would repeat: sleep `delay`
    /// first. `first` is true on the first failure of an episode, the one
    /// to log.
    Sleep {
        /// How long to sleep.
        delay: Duration,
        /// The episode starts with this failure.
        first: bool,
        /// The listener itself is unusable (`EBADF`, `EINVAL`,
        /// `ENOTSOCK`), not short of resources.
        fatal: bool,
    },
}

/// The state of an accept loop's back-off: an episode runs from the first
/// failure that sleeps to the next accepted connection.
#[derive(Debug)]
pub(crate) struct Backoff {
    /// The delay of the next sleep.
    next: Duration,
    /// Failures that slept in the current episode (0: no episode).
    failures: u64,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            next: FIRST_DELAY,
            failures: 0,
        }
    }
}

impl Backoff {
    /// The answer to `e`, counting it in the episode if it sleeps.
    pub(crate) fn failed(&mut self, e: &io::Error) -> Answer {
        let fatal = is_fatal(e);
        if !fatal && !is_out_of_resources(e) {
            return Answer::Retry;
        }
        let delay = self.next;
        self.next = (self.next * 2).min(MAX_DELAY);
        self.failures += 1;
        Answer::Sleep {
            delay,
            first: self.failures == 1,
            fatal,
        }
    }

    /// Ends the episode, if any: returns how many failures it had.
    pub(crate) fn succeeded(&mut self) -> Option<u64> {
        let failures = std::mem::take(&mut self.failures);
        self.next = FIRST_DELAY;
        (failures > 0).then_some(failures)
    }
}

/// Errors that say the listener is unusable: gevent's `fatal_errors`.
fn is_fatal(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EBADF | libc::EINVAL | libc::ENOTSOCK)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(errno: i32) -> io::Error {
        io::Error::from_raw_os_error(errno)
    }

    #[test]
    fn connection_errors_retry_at_once() {
        let mut backoff = Backoff::default();
        for errno in [libc::ECONNABORTED, libc::EPERM, libc::EPROTO] {
            assert_eq!(backoff.failed(&os(errno)), Answer::Retry);
        }
        assert_eq!(backoff.succeeded(), None);
    }

    #[test]
    fn out_of_descriptors_doubles_from_10_ms_to_1_s_then_resets() {
        let mut backoff = Backoff::default();
        let delays: Vec<_> = (0..9)
            .map(|_| match backoff.failed(&os(libc::EMFILE)) {
                Answer::Sleep { delay, .. } => delay.as_millis(),
                Answer::Retry => panic!("EMFILE must back off"),
            })
            .collect();
        assert_eq!(delays, [10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
        assert_eq!(backoff.succeeded(), Some(9));
        assert_eq!(
            backoff.failed(&os(libc::ENFILE)),
            Answer::Sleep {
                delay: FIRST_DELAY,
                first: true,
                fatal: false
            }
        );
    }

    #[test]
    fn only_the_first_failure_of_an_episode_is_first() {
        let mut backoff = Backoff::default();
        let firsts: Vec<bool> = [libc::ENOBUFS, libc::ENOMEM, libc::EMFILE]
            .iter()
            .map(|&errno| {
                matches!(
                    backoff.failed(&os(errno)),
                    Answer::Sleep { first: true, .. }
                )
            })
            .collect();
        assert_eq!(firsts, [true, false, false]);
        assert!(matches!(
            backoff.failed(&os(libc::EBADF)),
            Answer::Sleep { fatal: true, .. }
        ));
    }
}
