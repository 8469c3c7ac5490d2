//! The hub's I/O reactor: one `mio::Poll` per hub.
//!
//! The loop waits here whenever no greenlet is ready, for at most the time
//! until the earliest timer, so sleeping and waiting for I/O are the same
//! system call (`epoll_wait`). Socket registrations arrive with the green
//! sockets; until then the reactor only waits.

use std::io;
use std::time::{Duration, Instant};

/// A lazily created `mio::Poll` and its event buffer.
#[derive(Debug, Default)]
pub(crate) struct Reactor {
    poll: Option<(mio::Poll, mio::Events)>,
    /// Registrations that greenlets wait on: each can wake someone.
    interest: usize,
}

impl Reactor {
    pub(crate) const fn new() -> Self {
        Reactor {
            poll: None,
            interest: 0,
        }
    }

    /// True when some greenlet waits for I/O, so polling may wake it.
    pub(crate) fn has_interest(&self) -> bool {
        self.interest > 0
    }

    /// Blocks the thread until I/O is ready or `deadline` passes (for ever
    /// when `None`).
    ///
    /// # Panics
    ///
    /// Panics if the kernel refuses to create the epoll instance, or if
    /// `epoll_wait` fails with anything but `EINTR`: the hub cannot go on.
    pub(crate) fn wait(&mut self, deadline: Option<Instant>) {
        let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        self.poll_for(timeout);
    }

    fn poll_for(&mut self, timeout: Option<Duration>) {
        let (poll, events) = self.poll.get_or_insert_with(|| {
            let poll = mio::Poll::new().expect("greenlet: cannot create the hub's epoll instance");
            (poll, mio::Events::with_capacity(256))
        });
        match poll.poll(events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => panic!("greenlet: the hub's epoll_wait failed: {e}"),
        }
    }
}
