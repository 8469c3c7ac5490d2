//! The hub's I/O reactor: one `mio::Poll` per hub, and the registrations of
//! the sources that greenlets wait on.
//!
//! The loop waits here whenever no greenlet is ready, for at most the time
//! until the earliest timer, so sleeping and waiting for I/O are the same
//! system call (`epoll_wait`).
//!
//! # Readiness
//!
//! Sources are registered once, edge-triggered, for both directions. Each
//! registration remembers, per direction, whether an operation proved it not
//! ready (`WouldBlock`, or a short read or write on a stream, which drains or
//! fills the kernel's buffer); its next event makes it ready again. An I/O
//! call tries its operation unless the direction is known not ready, and
//! otherwise records itself as a waiter and suspends. Nothing can poll
//! between an operation and that record (one thread), so the next edge wakes
//! it: no wake-up is lost. An event wakes every waiter of its direction, and
//! each retries; a spurious event only costs a retry that returns
//! `WouldBlock` again.
//!
//! # After `fork`
//!
//! A forked child inherits the hub, but its epoll instance is the parent's,
//! not a copy: an `EPOLL_CTL_DEL` made by the child would remove the
//! parent's registration, and either could take the other's events. So the
//! poller remembers the [`ForkGeneration`] it was made in. In a child, the
//! first use forgets the inherited one (closing only the child's copy of
//! its descriptor, never deleting from it) and makes a new one with every
//! live registration in it again, readiness unknown: worth a try.

use std::collections::BTreeMap;
use std::io;
use std::os::fd::RawFd;
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Interest, Token};
use slab::Slab;

use super::wait::Waiter;
use crate::fork::ForkGeneration;

/// Which way a waiter waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Read,
    Write,
}

/// One registered source, what is known of its readiness, and the contexts
/// waiting on it.
#[derive(Debug)]
struct Registration {
    /// The source's descriptor, registered under this registration's token.
    fd: RawFd,
    /// False once an operation proved the direction not ready (`WouldBlock`,
    /// or a short read or write); true again at its next event.
    read_ready: bool,
    write_ready: bool,
    /// End of stream or an error seen by an event: a state, not an edge, so
    /// it is never cleared (a read returns `Ok(0)` or the error at once, and
    /// no further event would announce it).
    read_closed: bool,
    write_closed: bool,
    readers: Vec<Waiter>,
    writers: Vec<Waiter>,
    /// The descriptor a one-off wait is for (`io::wait_readable`, the
    /// `patch` feature's calls), which [`Reactor::revoke`] looks up: the
    /// caller's own, where `fd` may be a duplicate of it.
    watched: Option<RawFd>,
    /// Taken out of epoll by [`Reactor::revoke`] because the watched
    /// descriptor was closed: `fd` may name another file now, so nothing
    /// touches it again.
    revoked: bool,
}

impl Registration {
    /// A new registration of `fd`: readiness unknown, so worth a try.
    fn new(fd: RawFd) -> Self {
        Registration {
            fd,
            read_ready: true,
            write_ready: true,
            read_closed: false,
            write_closed: false,
            readers: Vec::new(),
            writers: Vec::new(),
            watched: None,
            revoked: false,
        }
    }
}

/// An epoll instance, its event buffer, and the process it was made in.
#[derive(Debug)]
struct Poller {
    poll: mio::Poll,
    events: mio::Events,
    made_in: ForkGeneration,
}

/// A lazily created [`Poller`] and the registrations.
#[derive(Debug, Default)]
pub(crate) struct Reactor {
    // # Invariant
    //
    // Every registration is in `poller`'s epoll instance when that was made
    // in this process (see the module's "After `fork`").
    poller: Option<Poller>,
    registrations: Slab<Registration>,
    /// The registrations of one-off waits, by the descriptor watched.
    watched: BTreeMap<RawFd, Vec<usize>>,
}

/// Sources are registered for both directions, edge-triggered.
const INTEREST: Interest = Interest::READABLE.add(Interest::WRITABLE);

/// Waiter lists are pruned of stale entries when they grow past this.
const PRUNE_AT: usize = 16;

impl Reactor {
    pub(crate) const fn new() -> Self {
        Reactor {
            poller: None,
            registrations: Slab::new(),
            watched: BTreeMap::new(),
        }
    }

    /// The poller, if one was made in this process. One inherited across a
    /// `fork` is dropped, which closes the child's copy of its descriptor
    /// and leaves the parent's registrations alone.
    fn live_poller(&mut self) -> Option<&mut Poller> {
        if self
            .poller
            .as_ref()
            .is_some_and(|p| !p.made_in.is_current())
        {
            self.poller = None;
        }
        self.poller.as_mut()
    }

    /// The poller, made now if there is none in this process: with every
    /// registration in it, each worth a try again (none on the hub's first
    /// use; after a `fork`, those inherited).
    ///
    /// # Errors
    ///
    /// The kernel's error from creating the epoll instance or registering a
    /// descriptor in it, or `pthread_atfork`'s; the next call tries again.
    fn poller(&mut self) -> io::Result<&mut Poller> {
        if self.live_poller().is_none() {
            let made_in = ForkGeneration::current()?;
            let poll = mio::Poll::new()?;
            for (token, registration) in &mut self.registrations {
                if registration.revoked {
                    continue;
                }
                poll.registry().register(
                    &mut SourceFd(&registration.fd),
                    Token(token),
                    INTEREST,
                )?;
                registration.read_ready = true;
                registration.write_ready = true;
            }
            self.poller = Some(Poller {
                poll,
                events: mio::Events::with_capacity(1024),
                made_in,
            });
        }
        Ok(self.poller.as_mut().expect("made above"))
    }

    /// Registers the descriptor `fd` for both directions, edge-triggered,
    /// and returns its token. `fd` must stay open until
    /// [`deregister`](Self::deregister).
    ///
    /// # Errors
    ///
    /// The kernel's error from `epoll_ctl` (for example `EEXIST` when the
    /// descriptor is registered already) or from creating the epoll instance.
    pub(crate) fn register(&mut self, fd: RawFd) -> io::Result<usize> {
        let token = self.registrations.vacant_key();
        self.poller()?
            .poll
            .registry()
            .register(&mut SourceFd(&fd), Token(token), INTEREST)?;
        self.registrations.insert(Registration::new(fd));
        Ok(token)
    }

    /// Registers `fd` as [`register`](Self::register) does, for a one-off
    /// wait on `watched` (`fd` itself, or a duplicate of it): closing
    /// `watched` with the `patch` feature's `close` then revokes it.
    ///
    /// # Errors
    ///
    /// As [`register`](Self::register).
    pub(crate) fn register_watched(&mut self, fd: RawFd, watched: RawFd) -> io::Result<usize> {
        let token = self.register(fd)?;
        self.registrations[token].watched = Some(watched);
        self.watched.entry(watched).or_default().push(token);
        Ok(token)
    }

    /// Takes every one-off wait on `fd` out of epoll before `fd` is
    /// closed, and returns their waiters, to be woken: each finds its
    /// registration revoked ([`is_revoked`](Self::is_revoked)) and fails
    /// without touching the descriptor, whose number the kernel may give
    /// to the next file opened.
    #[cfg(feature = "patch")]
    pub(crate) fn revoke(&mut self, fd: RawFd) -> Vec<Waiter> {
        let Some(tokens) = self.watched.remove(&fd) else {
            return Vec::new();
        };
        let mut woken = Vec::new();
        for token in tokens {
            let registration = &mut self.registrations[token];
            registration.watched = None;
            registration.revoked = true;
            registration.read_closed = true;
            registration.write_closed = true;
            woken.append(&mut registration.readers);
            woken.append(&mut registration.writers);
            let registered = registration.fd;
            if let Some(poller) = self.live_poller() {
                // Open still (this runs before the close).
                let _ = poller
                    .poll
                    .registry()
                    .deregister(&mut SourceFd(&registered));
            }
        }
        woken
    }

    /// Whether the registration at `token` was revoked (see
    /// [`revoke`](Self::revoke)).
    pub(crate) fn is_revoked(&self, token: usize) -> bool {
        self.registrations.get(token).is_some_and(|r| r.revoked)
    }

    /// Deregisters the source at `token` and returns every context that was
    /// waiting on it, to be woken: their next attempt meets the closed
    /// source.
    pub(crate) fn deregister(&mut self, token: usize) -> Vec<Waiter> {
        let Some(mut registration) = self.registrations.try_remove(token) else {
            return Vec::new();
        };
        if let Some(watched) = registration.watched
            && let Some(tokens) = self.watched.get_mut(&watched)
        {
            tokens.retain(|&t| t != token);
            if tokens.is_empty() {
                self.watched.remove(&watched);
            }
        }
        if registration.revoked {
            // Out of epoll already, and its number may be another file's.
        } else if let Some(poller) = self.live_poller() {
            // A source closed by its peer may already be gone from epoll.
            let _ = poller
                .poll
                .registry()
                .deregister(&mut SourceFd(&registration.fd));
        }
        registration.readers.append(&mut registration.writers);
        registration.readers
    }

    /// Whether an operation in `direction` on the source at `token` may
    /// succeed: false only when one proved it would block and no event came
    /// since. `None` if nothing is registered at `token` (a token of a
    /// reactor since torn down, at thread exit).
    pub(crate) fn is_ready(&self, token: usize, direction: Direction) -> Option<bool> {
        let registration = self.registrations.get(token)?;
        Some(match direction {
            Direction::Read => registration.read_ready || registration.read_closed,
            Direction::Write => registration.write_ready || registration.write_closed,
        })
    }

    /// Records that `direction` on the source at `token` would block now;
    /// its next event makes it ready again.
    pub(crate) fn clear_ready(&mut self, token: usize, direction: Direction) {
        if let Some(registration) = self.registrations.get_mut(token) {
            match direction {
                Direction::Read => registration.read_ready = false,
                Direction::Write => registration.write_ready = false,
            }
        }
    }

    /// Records `waiter` as waiting for `direction` on the source at `token`.
    /// `is_live` tells stale entries, pruned when a list grows long.
    pub(crate) fn add_waiter(
        &mut self,
        token: usize,
        direction: Direction,
        waiter: Waiter,
        is_live: impl Fn(&Waiter) -> bool,
    ) {
        let registration = &mut self.registrations[token];
        let list = match direction {
            Direction::Read => &mut registration.readers,
            Direction::Write => &mut registration.writers,
        };
        if list.len() >= PRUNE_AT {
            list.retain(|w| is_live(w));
        }
        list.push(waiter);
    }

    /// An eventfd registered under `token` (one no registration has), whose
    /// `wake` ends a poll: how other threads wake the hub. Its events are
    /// ignored here; the hub looks into its inbox every turn.
    ///
    /// # Errors
    ///
    /// The kernel's, from making the eventfd or the epoll instance.
    pub(crate) fn new_waker(&mut self, token: usize) -> io::Result<mio::Waker> {
        mio::Waker::new(self.poller()?.poll.registry(), Token(token))
    }

    /// Polls for events, waiting at most `timeout` (`None`: for ever), and
    /// adds the waiters of every source that became ready to `woken`.
    ///
    /// # Panics
    ///
    /// Panics if the kernel refuses to create the epoll instance (or, in a
    /// forked child, to register an inherited descriptor in its own), or if
    /// `epoll_wait` fails with anything but `EINTR`: the hub cannot go on.
    pub(crate) fn poll_into(&mut self, timeout: Option<Duration>, woken: &mut Vec<Waiter>) {
        if let Err(e) = self.poller() {
            panic!("greenlet: cannot create the hub's epoll instance: {e}");
        }
        let Poller { poll, events, .. } = self.poller.as_mut().expect("made above");
        match poll.poll(events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return,
            Err(e) => panic!("greenlet: the hub's epoll_wait failed: {e}"),
        }
        for event in events.iter() {
            let Some(registration) = self.registrations.get_mut(event.token().0) else {
                continue; // deregistered since the event was queued
            };
            let failed = event.is_error();
            if failed || event.is_read_closed() {
                registration.read_closed = true;
            }
            if failed || event.is_write_closed() {
                registration.write_closed = true;
            }
            if failed || event.is_readable() || event.is_read_closed() {
                registration.read_ready = true;
                woken.append(&mut registration.readers);
            }
            if failed || event.is_writable() || event.is_write_closed() {
                registration.write_ready = true;
                woken.append(&mut registration.writers);
            }
        }
    }
}
