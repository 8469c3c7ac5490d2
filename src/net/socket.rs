//! The core every green socket is a thin newtype over.
//!
//! A [`Socket`] owns a non-blocking socket of mio's or std's, registered
//! with this thread's hub through an [`IoSource`], and does what every green
//! socket does alike: the calls that wait (the try → `WouldBlock` → wait →
//! retry loop), timeouts, the blocking mode, `try_clone`, `take_error` and
//! the conversions to and from std's types and descriptors. The public types
//! in `tcp/`, `unix/` and `udp.rs` add their own inherent methods, one line
//! each over [`Socket::get`], [`Socket::read`] or [`Socket::write`]; the
//! trait impls they share are generated once by the macros in `impls.rs`.
//!
//! Ground rules: this file knows no public socket type, and only this file
//! touches the [`IoSource`] of a socket.

use std::cell::Cell;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::accept::pause_after_failed_accept;
use crate::hub::{Direction, IoSource};

/// What the core needs of a socket type it wraps, beyond its descriptor.
pub(crate) trait Inner: AsRawFd + AsFd + From<OwnedFd> + Into<OwnedFd> {
    /// std's type for the same kind of socket.
    type Std: AsFd + From<OwnedFd> + Into<OwnedFd>;

    /// Takes the socket's pending error (`SO_ERROR`).
    fn take_error(&self) -> io::Result<Option<io::Error>>;

    /// Sets the descriptor's own `O_NONBLOCK`, through std's type.
    fn set_std_nonblocking(socket: &Self::Std, nonblocking: bool) -> io::Result<()>;
}

/// Implements [`Inner`] for each `inner => std` pair.
macro_rules! impl_inner {
    ($($inner:ty => $std:ty),* $(,)?) => {$(
        impl Inner for $inner {
            type Std = $std;

            fn take_error(&self) -> io::Result<Option<io::Error>> {
                <$inner>::take_error(self)
            }

            fn set_std_nonblocking(socket: &$std, nonblocking: bool) -> io::Result<()> {
                socket.set_nonblocking(nonblocking)
            }
        }
    )*};
}

impl_inner! {
    mio::net::TcpStream => std::net::TcpStream,
    mio::net::TcpListener => std::net::TcpListener,
    mio::net::UdpSocket => std::net::UdpSocket,
    mio::net::UnixStream => std::os::unix::net::UnixStream,
    mio::net::UnixListener => std::os::unix::net::UnixListener,
    // std's own type: `send_to_addr` and `connect_addr` are std's alone,
    // and a datagram socket needs no non-blocking `connect` or `accept`.
    std::os::unix::net::UnixDatagram => std::os::unix::net::UnixDatagram,
}

/// A socket registered with this thread's hub: what every green socket type
/// wraps.
#[derive(Debug)]
pub(crate) struct Socket<S> {
    /// Shared by `try_clone`, as the handles std's `try_clone` makes share
    /// the socket's options and its open file description.
    shared: Rc<Shared<S>>,
}

/// What the handles of one socket share.
#[derive(Debug)]
struct Shared<S> {
    /// One registration, one set of timeouts, one blocking mode.
    source: IoSource<S>,
    /// This side was shut down for reading through one of the handles.
    read_shut_down: Cell<bool>,
}

impl<S: Inner> Socket<S> {
    /// Registers `inner`, which must be in non-blocking mode.
    ///
    /// # Errors
    ///
    /// The kernel's error from registering it with epoll.
    pub(crate) fn new(inner: S) -> io::Result<Socket<S>> {
        Ok(Socket {
            shared: Rc::new(Shared {
                source: IoSource::new(inner)?,
                read_shut_down: Cell::new(false),
            }),
        })
    }

    /// Takes over a std socket: switches it to non-blocking mode and
    /// registers it.
    ///
    /// # Errors
    ///
    /// The kernel's error from either step.
    pub(crate) fn from_std(socket: S::Std) -> io::Result<Socket<S>> {
        S::set_std_nonblocking(&socket, true)?;
        Socket::new(S::from(socket.into()))
    }

    /// As [`from_std`](Self::from_std), for the `From` impls, which cannot
    /// fail.
    ///
    /// # Panics
    ///
    /// Panics with the kernel's error, naming `what`.
    pub(crate) fn adopt(socket: S::Std, what: &str) -> Socket<S> {
        Socket::from_std(socket)
            .unwrap_or_else(|e| panic!("greenlet: cannot register a {what}: {e}"))
    }

    /// The wrapped socket, for calls that never wait.
    pub(crate) fn get(&self) -> &S {
        self.shared.source.get()
    }

    /// Runs `op` until it does not return `WouldBlock`, waiting for the
    /// socket to turn readable between attempts (see [`IoSource::io`]).
    ///
    /// # Errors
    ///
    /// `op`'s error; `TimedOut` when the read timeout passes first;
    /// `WouldBlock` in non-blocking mode.
    #[track_caller]
    pub(crate) fn read<R>(&self, op: impl FnMut(&S) -> io::Result<R>) -> io::Result<R> {
        self.shared.source.io(Direction::Read, op)
    }

    /// Accepts a connection: `accept` as [`read`](Self::read) does, then
    /// `register` on what it returned. A failure of either step, in
    /// blocking mode, first lets the hub turn (see
    /// [`pause_after_failed_accept`]): a loop that accepts again at once
    /// cannot starve the other greenlets.
    ///
    /// # Errors
    ///
    /// As [`read`](Self::read), or `register`'s error.
    #[track_caller]
    pub(crate) fn accept<A, T>(
        &self,
        accept: impl FnMut(&S) -> io::Result<A>,
        register: impl FnOnce(A) -> io::Result<T>,
    ) -> io::Result<T> {
        let result = self.read(accept).and_then(register);
        if let Err(e) = &result
            && !self.is_nonblocking()
        {
            pause_after_failed_accept(e);
        }
        result
    }

    /// As [`read`](Self::read), waiting for the socket to turn writable,
    /// for at most the write timeout.
    ///
    /// # Errors
    ///
    /// As [`read`](Self::read).
    #[track_caller]
    pub(crate) fn write<R>(&self, op: impl FnMut(&S) -> io::Result<R>) -> io::Result<R> {
        self.shared.source.io(Direction::Write, op)
    }

    /// Waits until a non-blocking `connect` has completed, or `deadline`
    /// passes (see [`IoSource::wait_connected`]).
    ///
    /// # Errors
    ///
    /// The connection's error, or `TimedOut`.
    #[track_caller]
    pub(crate) fn wait_connected<A>(
        &self,
        deadline: Option<Instant>,
        peer_addr: impl Fn(&S) -> io::Result<A>,
    ) -> io::Result<()> {
        self.shared
            .source
            .wait_connected(deadline, |s| s.take_error(), peer_addr)
    }

    /// Another handle to the same socket, sharing its registration.
    pub(crate) fn try_clone(&self) -> io::Result<Socket<S>> {
        Ok(Socket {
            shared: Rc::clone(&self.shared),
        })
    }

    /// See [`IoSource::set_timeout`].
    pub(crate) fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.shared.source.set_timeout(Direction::Read, timeout)
    }

    /// See [`IoSource::set_timeout`].
    pub(crate) fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.shared.source.set_timeout(Direction::Write, timeout)
    }

    pub(crate) fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.shared.source.timeout(Direction::Read))
    }

    pub(crate) fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.shared.source.timeout(Direction::Write))
    }

    /// Makes calls return `WouldBlock` instead of waiting (`true`), or wait
    /// again (`false`). The descriptor itself stays non-blocking.
    pub(crate) fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.shared.source.set_nonblocking(nonblocking);
        Ok(())
    }

    /// Whether calls return `WouldBlock` instead of waiting.
    pub(crate) fn is_nonblocking(&self) -> bool {
        self.shared.source.is_nonblocking()
    }

    /// Records that this side was shut down for reading (a datagram socket
    /// needs to know: see `UnixDatagram`'s receives).
    pub(crate) fn set_read_shut_down(&self) {
        self.shared.read_shut_down.set(true);
    }

    pub(crate) fn is_read_shut_down(&self) -> bool {
        self.shared.read_shut_down.get()
    }

    pub(crate) fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.get().take_error()
    }

    /// Leaves the hub and returns std's socket, in blocking mode again.
    ///
    /// # Errors
    ///
    /// `Other` while other handles made by `try_clone` are alive (they share
    /// this registration and the descriptor's blocking mode), or the
    /// kernel's error when switching back to blocking mode.
    pub(crate) fn into_std(self) -> io::Result<S::Std> {
        let shared = Rc::try_unwrap(self.shared).map_err(|_| {
            io::Error::other("greenlet: into_std on a socket whose try_clone clones are alive")
        })?;
        let socket = S::Std::from(shared.source.into_inner().into());
        S::set_std_nonblocking(&socket, false)?;
        Ok(socket)
    }

    /// Leaves the hub and returns the descriptor, still in non-blocking
    /// mode. While other handles made by `try_clone` are alive, they keep
    /// the registration and this returns a duplicate of the descriptor, as
    /// std's handles each own one.
    ///
    /// # Panics
    ///
    /// Panics if the descriptor must be duplicated and the kernel refuses
    /// (out of descriptors).
    pub(crate) fn into_fd(self) -> OwnedFd {
        match Rc::try_unwrap(self.shared) {
            Ok(shared) => shared.source.into_inner().into(),
            Err(shared) => shared
                .source
                .get()
                .as_fd()
                .try_clone_to_owned()
                .unwrap_or_else(|e| panic!("greenlet: cannot duplicate a socket: {e}")),
        }
    }
}

/// The calls of byte streams, for the `Read` and `Write` impls.
impl<S: Inner> Socket<S>
where
    for<'a> &'a S: Read + Write,
{
    /// Reads, waiting until there is something to read. A short read marks
    /// the socket not readable (see [`IoSource::io_stream`]).
    ///
    /// # Errors
    ///
    /// As [`read`](Self::read).
    #[track_caller]
    pub(crate) fn read_stream(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.shared
            .source
            .io_stream(Direction::Read, buf.len(), |mut s| s.read(buf))
    }

    #[track_caller]
    pub(crate) fn read_vectored(&self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.read(|mut s| s.read_vectored(bufs))
    }

    /// Writes, waiting until there is room. A short write marks the socket
    /// not writable.
    ///
    /// # Errors
    ///
    /// As [`write`](Self::write).
    #[track_caller]
    pub(crate) fn write_stream(&self, buf: &[u8]) -> io::Result<usize> {
        self.shared
            .source
            .io_stream(Direction::Write, buf.len(), |mut s| s.write(buf))
    }

    #[track_caller]
    pub(crate) fn write_vectored(&self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.write(|mut s| s.write_vectored(bufs))
    }
}
