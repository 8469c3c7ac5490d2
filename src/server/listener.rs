//! What a [`StreamServer`](super::StreamServer) serves on: the library's
//! TCP and Unix listeners, behind one sealed trait.

use std::fmt;
use std::io;

use crate::net::{TcpListener, TcpStream, UnixListener, UnixStream};

mod sealed {
    /// Only the library's listeners are [`Listener`](super::Listener)s.
    pub trait Sealed {}
}

/// A listener a [`StreamServer`](super::StreamServer) can serve on:
/// [`TcpListener`] (the default) or [`UnixListener`]. Sealed: the methods
/// are the library's own.
///
/// # Examples
///
/// ```
/// use greenlet::net::UnixListener;
/// use greenlet::server::{Listener, StreamServer};
///
/// fn serve<L: Listener>(listener: L) -> StreamServer<L> {
///     StreamServer::new(listener, |stream, _peer| drop(stream))
/// }
/// let path = std::env::temp_dir().join(format!("greenlet-doc-listener-{}.sock", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let server = serve(UnixListener::bind(&path)?);
/// assert_eq!(server.local_addr()?.as_pathname(), Some(path.as_path()));
/// std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub trait Listener: sealed::Sealed + 'static {
    /// An accepted connection, as the handler gets it.
    type Stream: 'static;
    /// An address of this kind of socket: the listener's own, and the
    /// peer's that the handler gets.
    type Addr: Clone + fmt::Debug + 'static;

    #[doc(hidden)]
    fn listening_addr(&self) -> io::Result<Self::Addr>;

    #[doc(hidden)]
    fn accept_for_server(&self) -> io::Result<(Self::Stream, Self::Addr)>;

    /// How the server's logs name `addr`.
    #[doc(hidden)]
    fn describe(addr: &Self::Addr) -> String;
}

impl sealed::Sealed for TcpListener {}

impl Listener for TcpListener {
    type Stream = TcpStream;
    type Addr = std::net::SocketAddr;

    fn listening_addr(&self) -> io::Result<Self::Addr> {
        self.local_addr()
    }

    #[track_caller]
    fn accept_for_server(&self) -> io::Result<(TcpStream, Self::Addr)> {
        self.accept_unpaused()
    }

    fn describe(addr: &Self::Addr) -> String {
        addr.to_string()
    }
}

impl sealed::Sealed for UnixListener {}

impl Listener for UnixListener {
    type Stream = UnixStream;
    type Addr = std::os::unix::net::SocketAddr;

    fn listening_addr(&self) -> io::Result<Self::Addr> {
        self.local_addr()
    }

    #[track_caller]
    fn accept_for_server(&self) -> io::Result<(UnixStream, Self::Addr)> {
        self.accept_unpaused()
    }

    fn describe(addr: &Self::Addr) -> String {
        match addr.as_pathname() {
            Some(path) => path.display().to_string(),
            None => format!("{addr:?}"),
        }
    }
}
