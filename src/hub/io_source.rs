//! A source registered with this thread's reactor, and the retry loop that
//! every green I/O call is built on.

use std::cell::Cell;
use std::io;
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, RawFd};
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::blocking::wait_io;
#[cfg(feature = "patch")]
use super::blocking::wait_io_any;
use super::context;
use super::reactor::Direction;
use super::thread::with_hub;
#[cfg(feature = "patch")]
use super::thread::with_hub_cell;

/// The token of a source made once the hub was closed: registered nowhere.
const UNREGISTERED: usize = usize::MAX;

/// An I/O source (a non-blocking socket, or any descriptor) registered with
/// this thread's reactor until dropped, with the read and write timeouts of
/// the calls made on it.
///
/// # Non-blocking mode
///
/// The descriptor is always in non-blocking mode underneath; what
/// [`set_nonblocking`](Self::set_nonblocking) sets is how calls on the
/// source behave. In non-blocking mode a call makes one attempt and returns
/// its `WouldBlock` instead of waiting, as a std socket in non-blocking mode
/// does: no greenlet is switched to and the hub does not turn.
///
/// # After the hub
///
/// Once the hub is closed at thread exit (see `context::close`), or for a
/// source registered with a hub since torn down, no greenlet can be
/// switched to: a call that would block waits for its descriptor with a
/// poller of its own, blocking the thread as std's sockets do, timeouts
/// included.
#[derive(Debug)]
pub(crate) struct IoSource<S> {
    /// `None` only after `into_inner`.
    source: Option<S>,
    /// The source's descriptor, which its hub watches.
    fd: RawFd,
    token: usize,
    read_timeout: Cell<Option<Duration>>,
    write_timeout: Cell<Option<Duration>>,
    /// Calls return `WouldBlock` instead of waiting.
    nonblocking: Cell<bool>,
    /// Registered with this thread's reactor: it must stay on this thread.
    _not_send: PhantomData<Rc<()>>,
}

impl<S: AsRawFd> IoSource<S> {
    /// Registers the descriptor of `source`, which must be in non-blocking
    /// mode (once the hub is closed, it is registered nowhere).
    ///
    /// # Errors
    ///
    /// The kernel's error from registering it with epoll.
    pub(crate) fn new(source: S) -> io::Result<Self> {
        let fd = source.as_raw_fd();
        let token = if context::is_closed() {
            UNREGISTERED
        } else {
            with_hub(|hub| hub.register(fd))?
        };
        Ok(Self::with_token(source, fd, token))
    }

    /// Registers the descriptor of `source` for a one-off wait on
    /// `watched` (the same descriptor, or one it duplicates): a `close` of
    /// `watched` by the `patch` feature wakes the wait, which then fails
    /// with `EBADF` (see [`revoke_waits_on`]).
    ///
    /// # Errors
    ///
    /// The kernel's error from registering it with epoll.
    pub(crate) fn new_watched(source: S, watched: RawFd) -> io::Result<Self> {
        let fd = source.as_raw_fd();
        let token = if context::is_closed() {
            UNREGISTERED
        } else {
            with_hub(|hub| hub.register_watched(fd, watched))?
        };
        Ok(Self::with_token(source, fd, token))
    }

    fn with_token(source: S, fd: RawFd, token: usize) -> Self {
        IoSource {
            source: Some(source),
            fd,
            token,
            read_timeout: Cell::new(None),
            write_timeout: Cell::new(None),
            nonblocking: Cell::new(false),
            _not_send: PhantomData,
        }
    }

    /// Whether the watched descriptor was closed while registered (see
    /// [`new_watched`](Self::new_watched)).
    pub(crate) fn is_revoked(&self) -> bool {
        with_hub(|hub| hub.io_revoked(self.token))
    }

    pub(crate) fn get(&self) -> &S {
        self.source.as_ref().expect("a live source")
    }

    /// Runs `op` until it returns anything but `WouldBlock` or `Interrupted`,
    /// waiting for `direction` between attempts, for at most the timeout of
    /// that direction.
    ///
    /// # Errors
    ///
    /// `op`'s error; `TimedOut` when the timeout passes first; an error when
    /// the call would have to wait while the thread is unwinding.
    #[track_caller]
    pub(crate) fn io<R>(
        &self,
        direction: Direction,
        op: impl FnMut(&S) -> io::Result<R>,
    ) -> io::Result<R> {
        self.io_until(direction, self.deadline(direction), op)
    }

    /// As [`io`](Self::io), with an explicit deadline (`None`: none).
    #[track_caller]
    pub(crate) fn io_until<R>(
        &self,
        direction: Direction,
        deadline: Option<Instant>,
        op: impl FnMut(&S) -> io::Result<R>,
    ) -> io::Result<R> {
        self.io_tracked(direction, deadline, op, |_| false)
    }

    /// A read or write of `len` bytes on a stream: as [`io`](Self::io), and
    /// a short transfer (more than 0, fewer than `len` bytes) marks the
    /// direction not ready, since it drained (or filled) the kernel's
    /// buffer. The next call then waits for an event instead of spending a
    /// system call on `WouldBlock`.
    #[track_caller]
    pub(crate) fn io_stream(
        &self,
        direction: Direction,
        len: usize,
        op: impl FnMut(&S) -> io::Result<usize>,
    ) -> io::Result<usize> {
        self.io_tracked(direction, self.deadline(direction), op, |&n| {
            n > 0 && n < len
        })
    }

    /// When a call in `direction` starting now must give up: its timeout
    /// from now (`None`: no timeout, or one too long to represent).
    fn deadline(&self, direction: Direction) -> Option<Instant> {
        self.timeout(direction)
            .and_then(|t| Instant::now().checked_add(t))
    }

    #[track_caller]
    fn io_tracked<R>(
        &self,
        direction: Direction,
        deadline: Option<Instant>,
        mut op: impl FnMut(&S) -> io::Result<R>,
        drained: impl Fn(&R) -> bool,
    ) -> io::Result<R> {
        if self.nonblocking.get() {
            return self.io_once(op);
        }
        loop {
            match with_hub(|hub| hub.io_ready(self.token, direction)) {
                Some(true) => match op(self.get()) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        with_hub(|hub| hub.clear_io_ready(self.token, direction));
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Ok(value) => {
                        if drained(&value) {
                            with_hub(|hub| hub.clear_io_ready(self.token, direction));
                        }
                        return Ok(value);
                    }
                    Err(e) => return Err(e),
                },
                Some(false) => {}
                None => return self.io_without_hub(direction, deadline, op),
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(timed_out());
            }
            if context::is_closed() {
                return self.io_without_hub(direction, deadline, op);
            }
            wait_io(self.token, direction, deadline)?;
        }
    }

    /// [`Self::io`] in non-blocking mode: `op` until it does not return
    /// `Interrupted`. The hub is not asked: its readiness flags stay as they
    /// are (a flag left set costs a later call one `WouldBlock`, never a
    /// missed wake-up).
    fn io_once<R>(&self, mut op: impl FnMut(&S) -> io::Result<R>) -> io::Result<R> {
        loop {
            match op(self.get()) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                result => return result,
            }
        }
    }

    /// [`Self::io`] once the hub is closed or gone (see the type's docs):
    /// `op` until it does not return `WouldBlock`, waiting for the
    /// descriptor in between with a poller of its own.
    #[cold]
    #[inline(never)]
    fn io_without_hub<R>(
        &self,
        direction: Direction,
        deadline: Option<Instant>,
        mut op: impl FnMut(&S) -> io::Result<R>,
    ) -> io::Result<R> {
        loop {
            match op(self.get()) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    wait_without_hub(self.fd, direction, deadline)?;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                result => return result,
            }
        }
    }

    /// Waits once for `direction` (registration reports the current
    /// readiness, so a source that is ready already wakes at once).
    ///
    /// # Errors
    ///
    /// `TimedOut` when `deadline` passes first; `EBADF` when the watched
    /// descriptor was closed meanwhile (see [`new_watched`](Self::new_watched));
    /// an error instead of waiting while the thread is unwinding.
    #[track_caller]
    pub(crate) fn wait_once(
        &self,
        direction: Direction,
        deadline: Option<Instant>,
    ) -> io::Result<()> {
        let hubless =
            context::is_closed() || with_hub(|hub| hub.io_ready(self.token, direction)).is_none();
        if hubless {
            return wait_without_hub(self.fd, direction, deadline);
        }
        wait_io(self.token, direction, deadline)?;
        woken(self.is_revoked(), deadline)
    }

    /// Waits until any of `sources` is ready for its direction, once, as
    /// [`wait_once`](Self::wait_once) does for one.
    ///
    /// # Errors
    ///
    /// `TimedOut` when `deadline` passes first; `EBADF` when a watched
    /// descriptor was closed meanwhile (see [`is_revoked`](Self::is_revoked)
    /// for which); `Unsupported` once the hub is closed (no greenlet can
    /// run: the caller waits some other way); an error instead of waiting
    /// while the thread is unwinding.
    #[cfg(feature = "patch")]
    #[track_caller]
    pub(crate) fn wait_any(
        sources: &[(&IoSource<S>, Direction)],
        deadline: Option<Instant>,
    ) -> io::Result<()> {
        let registered = |s: &IoSource<S>| with_hub(|hub| hub.io_ready(s.token, Direction::Read));
        if context::is_closed() || sources.iter().any(|(s, _)| registered(s).is_none()) {
            return Err(io::ErrorKind::Unsupported.into());
        }
        let tokens: Vec<_> = sources.iter().map(|(s, d)| (s.token, *d)).collect();
        wait_io_any(&tokens, deadline)?;
        woken(sources.iter().any(|(s, _)| s.is_revoked()), deadline)
    }

    /// Waits until a non-blocking `connect` of this stream has completed
    /// (or `deadline` passes): the socket turns writable, then its pending
    /// error says whether it failed, and `peer_addr` whether it is made
    /// (`NotConnected` there means the event was spurious).
    ///
    /// # Errors
    ///
    /// The connection's error, or `TimedOut`.
    #[track_caller]
    pub(crate) fn wait_connected<A>(
        &self,
        deadline: Option<Instant>,
        take_error: impl Fn(&S) -> io::Result<Option<io::Error>>,
        peer_addr: impl Fn(&S) -> io::Result<A>,
    ) -> io::Result<()> {
        self.io_until(Direction::Write, deadline, |s| {
            if let Some(e) = take_error(s)? {
                return Err(e);
            }
            match peer_addr(s) {
                Ok(_) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotConnected => {
                    Err(io::ErrorKind::WouldBlock.into())
                }
                Err(e) => Err(e),
            }
        })
    }

    pub(crate) fn timeout(&self, direction: Direction) -> Option<Duration> {
        match direction {
            Direction::Read => self.read_timeout.get(),
            Direction::Write => self.write_timeout.get(),
        }
    }

    /// Sets the timeout of `direction`, as std's `set_read_timeout`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a zero duration, as std.
    pub(crate) fn set_timeout(
        &self,
        direction: Direction,
        timeout: Option<Duration>,
    ) -> io::Result<()> {
        if timeout == Some(Duration::ZERO) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot set a 0 duration timeout",
            ));
        }
        match direction {
            Direction::Read => self.read_timeout.set(timeout),
            Direction::Write => self.write_timeout.set(timeout),
        }
        Ok(())
    }

    /// Whether calls return `WouldBlock` instead of waiting (see the type's
    /// docs).
    pub(crate) fn set_nonblocking(&self, nonblocking: bool) {
        self.nonblocking.set(nonblocking);
    }

    pub(crate) fn is_nonblocking(&self) -> bool {
        self.nonblocking.get()
    }

    /// Deregisters the source and returns it.
    pub(crate) fn into_inner(mut self) -> S {
        let source = self.source.take().expect("a live source");
        with_hub(|hub| hub.deregister(self.token));
        source
    }
}

/// What a one-off wait that was woken returns: `EBADF` if its descriptor
/// was `revoked` (closed meanwhile), as a call on the closed descriptor
/// would fail; `TimedOut` once `deadline` has passed; otherwise `Ok`.
fn woken(revoked: bool, deadline: Option<Instant>) -> io::Result<()> {
    if revoked {
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    if deadline.is_some_and(|d| Instant::now() >= d) {
        return Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "greenlet: the wait timed out",
        ));
    }
    Ok(())
}

/// Revokes the one-off waits on `fd` of this thread's hub before `fd` is
/// closed (the `patch` feature's `close`), waking their greenlets: each
/// fails with `EBADF` and never touches the descriptor again, whose number
/// the kernel may give to the next file opened. Nothing happens while the
/// hub is busy (the hub closing a descriptor of its own) or has no such
/// waits. Waits on other threads' hubs are not seen.
#[cfg(feature = "patch")]
pub(crate) fn revoke_waits_on(fd: RawFd) {
    with_hub_cell(|cell| {
        if let Ok(mut hub) = cell.try_borrow_mut() {
            hub.revoke(fd);
        }
    });
}

/// The error of an I/O call whose timeout expired.
fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "greenlet: the I/O timeout expired")
}

/// Blocks the thread until `fd` may be ready for `direction` or `deadline`
/// passes, with an epoll instance of its own: for a source whose hub is
/// closed or gone, where no greenlet can be switched to.
///
/// # Errors
///
/// `TimedOut` when the deadline passes first; the kernel's error from
/// epoll.
fn wait_without_hub(fd: RawFd, direction: Direction, deadline: Option<Instant>) -> io::Result<()> {
    let mut poll = mio::Poll::new()?;
    let interest = match direction {
        Direction::Read => mio::Interest::READABLE,
        Direction::Write => mio::Interest::WRITABLE,
    };
    // Registering reports the current readiness: a ready descriptor wakes
    // the poll at once.
    poll.registry()
        .register(&mut mio::unix::SourceFd(&fd), mio::Token(0), interest)?;
    let mut events = mio::Events::with_capacity(1);
    loop {
        let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        match poll.poll(&mut events, timeout) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
            Ok(()) if events.is_empty() => return Err(timed_out()),
            Ok(()) => return Ok(()),
        }
    }
}

impl<S> Drop for IoSource<S> {
    fn drop(&mut self) {
        if self.source.is_some() {
            with_hub(|hub| hub.deregister(self.token));
        }
    }
}
