//! `TcpListener` and its `Incoming` iterator, with std's shapes.

use std::io;
use std::net::SocketAddr;

use super::stream::TcpStream;
use crate::net::ToSocketAddrs;
use crate::net::addr::each_addr;
use crate::net::impls::{incoming, socket_traits};
use crate::net::socket::Socket;

/// A TCP listener, like [`std::net::TcpListener`], whose `accept` switches
/// greenlets while it waits.
///
/// # Examples
///
/// ```
/// use greenlet::net::{TcpListener, TcpStream};
///
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let addr = listener.local_addr()?;
/// let client = greenlet::spawn(move || TcpStream::connect(addr).map(|_| ()));
/// let (_conn, peer) = listener.accept()?; // runs the client greenlet meanwhile
/// assert!(peer.ip().is_loopback());
/// client.join().unwrap()?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct TcpListener(Socket<mio::net::TcpListener>);

impl TcpListener {
    /// Binds a listener to the first address that works.
    ///
    /// # Errors
    ///
    /// The error of the last address tried, such as `AddrInUse`.
    ///
    /// # Examples
    ///
    /// ```
    /// let listener = greenlet::net::TcpListener::bind("127.0.0.1:0")?;
    /// assert_ne!(listener.local_addr()?.port(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        let listener = each_addr(addr, std::net::TcpListener::bind)?;
        Socket::from_std(listener).map(TcpListener)
    }

    /// Accepts a connection, waiting (and letting other greenlets run) until
    /// one arrives.
    ///
    /// A failed accept switches before it returns its error, so that std's
    /// loop that logs the error and accepts again does not starve the other
    /// greenlets, timers and timeouts of its hub: after running out of
    /// resources (`EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`) it sleeps 10 ms,
    /// so the loop does not spin either; after any other error it yields.
    /// In [non-blocking mode](Self::set_nonblocking) it never switches.
    /// [`StreamServer`](crate::server::StreamServer) backs off longer, and
    /// logs.
    ///
    /// # Errors
    ///
    /// The kernel's error, such as `EMFILE` when out of descriptors, and
    /// `WouldBlock` in [non-blocking mode](Self::set_nonblocking) when no
    /// connection is waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// let listener = greenlet::net::TcpListener::bind("127.0.0.1:0")?;
    /// let _client = greenlet::net::TcpStream::connect(listener.local_addr()?)?;
    /// let (stream, _) = listener.accept()?;
    /// assert_eq!(stream.local_addr()?, listener.local_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        self.0.accept(
            |l| l.accept(),
            |(stream, addr)| Ok((TcpStream::new(stream)?, addr)),
        )
    }

    /// As [`accept`](Self::accept), without the pause after a failure: for
    /// the servers, which back off by themselves.
    #[track_caller]
    pub(crate) fn accept_unpaused(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, addr) = self.0.read(|l| l.accept())?;
        Ok((TcpStream::new(stream)?, addr))
    }

    /// Takes over a bound std listener, as `From` does, returning the
    /// kernel's error instead of panicking.
    pub(crate) fn try_from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        Socket::from_std(listener).map(TcpListener)
    }

    /// An endless iterator of accepted connections, as std's. Each item is
    /// [`accept`](Self::accept)'s, so an error has switched before it is
    /// returned.
    ///
    /// # Examples
    ///
    /// ```
    /// let listener = greenlet::net::TcpListener::bind("127.0.0.1:0")?;
    /// let _client = greenlet::net::TcpStream::connect(listener.local_addr()?)?;
    /// let first = listener.incoming().next().unwrap()?;
    /// assert!(first.peer_addr().is_ok());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The local address.
    ///
    /// # Errors
    ///
    /// The kernel's error.
    ///
    /// # Examples
    ///
    /// ```
    /// let listener = greenlet::net::TcpListener::bind("127.0.0.1:0")?;
    /// assert!(listener.local_addr()?.ip().is_loopback());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.get().local_addr()
    }

    /// Another handle to the same listener: either may accept. The clones
    /// share one registration and one blocking mode; the socket closes when
    /// the last is dropped.
    ///
    /// # Errors
    ///
    /// None today; the `Result` keeps std's signature.
    ///
    /// # Examples
    ///
    /// ```
    /// let listener = greenlet::net::TcpListener::bind("127.0.0.1:0")?;
    /// let clone = listener.try_clone()?;
    /// let _client = greenlet::net::TcpStream::connect(listener.local_addr()?)?;
    /// let (stream, _) = clone.accept()?;
    /// assert_eq!(stream.local_addr()?, listener.local_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_clone(&self) -> io::Result<TcpListener> {
        self.0.try_clone().map(TcpListener)
    }

    /// Sets the IP time-to-live of accepted sockets.
    ///
    /// # Errors
    ///
    /// The kernel's error.
    ///
    /// # Examples
    ///
    /// ```
    /// let listener = greenlet::net::TcpListener::bind("127.0.0.1:0")?;
    /// listener.set_ttl(100)?;
    /// assert_eq!(listener.ttl()?, 100);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.0.get().set_ttl(ttl)
    }

    /// The IP time-to-live.
    ///
    /// # Errors
    ///
    /// The kernel's error.
    ///
    /// # Examples
    ///
    /// ```
    /// let listener = greenlet::net::TcpListener::bind("127.0.0.1:0")?;
    /// assert!(listener.ttl()? > 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.0.get().ttl()
    }

    /// Takes the socket's pending error (`SO_ERROR`).
    ///
    /// # Errors
    ///
    /// The kernel's error from reading it.
    ///
    /// # Examples
    ///
    /// ```
    /// let listener = greenlet::net::TcpListener::bind("127.0.0.1:0")?;
    /// assert!(listener.take_error()?.is_none());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.0.take_error()
    }

    /// Moves the listener into or out of non-blocking mode. In non-blocking
    /// mode [`accept`](Self::accept) returns `WouldBlock` at once when no
    /// connection is waiting, as std's: no other greenlet runs meanwhile.
    /// The accepted streams start in blocking mode, as with std on Linux.
    ///
    /// # Errors
    ///
    /// None today; the `Result` keeps std's signature.
    ///
    /// # Examples
    ///
    /// ```
    /// let listener = greenlet::net::TcpListener::bind("127.0.0.1:0")?;
    /// listener.set_nonblocking(true)?;
    /// let err = listener.accept().unwrap_err(); // nobody connects
    /// assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.0.set_nonblocking(nonblocking)
    }

    /// Converts back into a blocking [`std::net::TcpListener`], leaving the
    /// hub.
    ///
    /// # Errors
    ///
    /// `Other` if clones made by [`try_clone`](Self::try_clone) are still
    /// alive, or the kernel's error when switching back to blocking mode.
    ///
    /// # Examples
    ///
    /// ```
    /// let listener = greenlet::net::TcpListener::bind("127.0.0.1:0")?;
    /// let addr = listener.local_addr()?;
    /// assert_eq!(listener.into_std()?.local_addr()?, addr);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_std(self) -> io::Result<std::net::TcpListener> {
        self.0.into_std()
    }
}

socket_traits!(TcpListener, std::net::TcpListener, debug { "addr" => local_addr });
incoming!(Incoming, TcpListener, TcpStream);
