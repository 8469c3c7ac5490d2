//! The hub's side of I/O: sources registered with the reactor, and the
//! contexts parked on them (counted in `io_waiting`, so that every turn
//! polls while there are any).

use super::Hub;
use crate::hub::reactor::Direction;
use crate::hub::wait::Waiter;

impl Hub {
    /// Registers an I/O source's descriptor with the reactor and returns its
    /// token.
    ///
    /// # Errors
    ///
    /// The kernel's error (see [`Reactor::register`]).
    pub(crate) fn register(&mut self, fd: std::os::fd::RawFd) -> std::io::Result<usize> {
        self.arm_teardown();
        self.reactor.register(fd)
    }

    /// Registers a one-off wait's descriptor (see
    /// [`Reactor::register_watched`]) and returns its token.
    ///
    /// # Errors
    ///
    /// The kernel's error (see [`Reactor::register`]).
    pub(crate) fn register_watched(
        &mut self,
        fd: std::os::fd::RawFd,
        watched: std::os::fd::RawFd,
    ) -> std::io::Result<usize> {
        self.arm_teardown();
        self.reactor.register_watched(fd, watched)
    }

    /// Revokes the one-off waits on `fd`, which is about to be closed, and
    /// wakes their waiters (see [`Reactor::revoke`]).
    #[cfg(feature = "patch")]
    pub(crate) fn revoke(&mut self, fd: std::os::fd::RawFd) {
        for waiter in self.reactor.revoke(fd) {
            self.wake(waiter);
        }
    }

    /// See [`Reactor::is_revoked`].
    pub(crate) fn io_revoked(&self, token: usize) -> bool {
        self.reactor.is_revoked(token)
    }

    /// Deregisters an I/O source and wakes whoever waits on it.
    pub(crate) fn deregister(&mut self, token: usize) {
        for waiter in self.reactor.deregister(token) {
            self.wake(waiter);
        }
    }

    /// See [`Reactor::is_ready`]: `None` when the token is not registered
    /// with this hub (it was registered with a hub since torn down).
    pub(crate) fn io_ready(&self, token: usize, direction: Direction) -> Option<bool> {
        self.reactor.is_ready(token, direction)
    }

    /// See [`Reactor::clear_ready`].
    pub(crate) fn clear_io_ready(&mut self, token: usize, direction: Direction) {
        self.reactor.clear_ready(token, direction);
    }

    /// Records that the context parked as `waiter` waits for `direction` on
    /// the source at `token`.
    pub(crate) fn wait_io(&mut self, token: usize, direction: Direction, waiter: Waiter) {
        let (tasks, main) = (&self.tasks, &self.main);
        let is_live = |w: &Waiter| Hub::waits(tasks, main, *w);
        self.reactor.add_waiter(token, direction, waiter, is_live);
        let context = self
            .context(waiter.key)
            .expect("a context that just parked");
        if !context.io_wait.replace(true) {
            self.io_waiting += 1;
        }
    }
}
