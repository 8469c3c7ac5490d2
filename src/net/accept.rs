//! What a listener does after a failed `accept`: switch, so that a loop
//! that logs the error and accepts again cannot starve the hub.
//!
//! Ground rules: this file knows no socket type; the listeners call
//! [`pause_after_failed_accept`], and `server/` classifies errors with
//! [`is_out_of_resources`].

use std::io;
use std::time::Duration;

/// How long a failed `accept` that ran out of resources sleeps before it
/// returns its error.
pub(crate) const OUT_OF_RESOURCES_PAUSE: Duration = Duration::from_millis(10);

/// Whether `e` says the process or the kernel ran out of something an
/// `accept` needs: descriptors (`EMFILE`, `ENFILE`) or memory (`ENOBUFS`,
/// `ENOMEM`). Such an error lasts until something is freed: accepting
/// again at once fails again.
pub(crate) fn is_out_of_resources(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

/// Lets the hub turn before a failed `accept` returns `e`: sleeps for
/// [`OUT_OF_RESOURCES_PAUSE`] when [`is_out_of_resources`], yields
/// otherwise. Called only for listeners in blocking mode (a non-blocking
/// one never switches).
pub(crate) fn pause_after_failed_accept(e: &io::Error) {
    if is_out_of_resources(e) {
        crate::sleep(OUT_OF_RESOURCES_PAUSE);
    } else {
        crate::yield_now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors_and_memory_are_resources() {
        for errno in [libc::EMFILE, libc::ENFILE, libc::ENOBUFS, libc::ENOMEM] {
            assert!(is_out_of_resources(&io::Error::from_raw_os_error(errno)));
        }
        for errno in [libc::ECONNABORTED, libc::EPERM, libc::EINVAL] {
            assert!(!is_out_of_resources(&io::Error::from_raw_os_error(errno)));
        }
        assert!(!is_out_of_resources(&io::Error::other("no errno")));
    }
}
