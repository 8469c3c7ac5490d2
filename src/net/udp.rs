//! Green UDP: `UdpSocket` with std's shape, whose blocking calls switch
//! greenlets instead of blocking the thread.

use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::rc::Rc;
use std::time::Duration;

use super::addr::each_addr;
use crate::hub::{Direction, IoSource};

/// A UDP socket, like [`std::net::UdpSocket`], whose blocking calls switch
/// greenlets.
///
/// A receive that finds no datagram suspends the calling greenlet until one
/// arrives (in the main context it runs the hub meanwhile), so many sockets
/// are served concurrently on one thread by plain blocking code. Sending
/// rarely waits, but when the socket's send buffer is full it waits the same
/// way.
///
/// # Errors
///
/// As std's: a datagram longer than the buffer is truncated (the rest is
/// lost), an expired read or write timeout is `TimedOut`, and on a connected
/// socket an ICMP "port unreachable" from the peer shows up as
/// `ConnectionRefused` on a later call.
///
/// # Examples
///
/// ```
/// use greenlet::net::UdpSocket;
///
/// let server = UdpSocket::bind("127.0.0.1:0")?;
/// let addr = server.local_addr()?;
/// let echo = greenlet::spawn(move || -> std::io::Result<()> {
///     let mut buf = [0; 64];
///     let (n, from) = server.recv_from(&mut buf)?;
///     server.send_to(&buf[..n], from)?;
///     Ok(())
/// });
/// let client = UdpSocket::bind("127.0.0.1:0")?;
/// client.send_to(b"hello", addr)?;
/// let mut buf = [0; 64];
/// let (n, from) = client.recv_from(&mut buf)?; // runs the echo greenlet meanwhile
/// assert_eq!(&buf[..n], b"hello");
/// assert_eq!(from, addr);
/// echo.join().unwrap()?;
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// Like every greenlet type, a socket stays on the thread that made it:
///
/// ```compile_fail
/// let s = greenlet::net::UdpSocket::bind("127.0.0.1:0").unwrap();
/// std::thread::spawn(move || drop(s));
/// ```
pub struct UdpSocket {
    // Shared by `try_clone`: one registration, one set of timeouts.
    inner: Rc<IoSource<mio::net::UdpSocket>>,
}

impl UdpSocket {
    fn wrap(socket: mio::net::UdpSocket) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            inner: Rc::new(IoSource::new(socket)?),
        })
    }

    /// Binds a socket to the first address that works.
    ///
    /// # Errors
    ///
    /// The error of the last address tried, such as `AddrInUse`, or
    /// `InvalidInput` when `addr` resolves to nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// let socket = greenlet::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert_ne!(socket.local_addr()?.port(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        each_addr(addr, |addr| {
            UdpSocket::wrap(mio::net::UdpSocket::bind(addr)?)
        })
    }

    /// Receives one datagram, waiting (and letting other greenlets run) until
    /// one arrives, and returns its length and its sender. A datagram longer
    /// than `buf` is truncated.
    ///
    /// # Errors
    ///
    /// `TimedOut` when the read timeout passes first, or the kernel's error.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::UdpSocket;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0")?;
    /// let b = UdpSocket::bind("127.0.0.1:0")?;
    /// a.send_to(b"hi", b.local_addr()?)?;
    /// let mut buf = [0; 8];
    /// let (n, from) = b.recv_from(&mut buf)?;
    /// assert_eq!((&buf[..n], from), (&b"hi"[..], a.local_addr()?));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.io(Direction::Read, |s| s.recv_from(buf))
    }

    /// As [`recv_from`](Self::recv_from), but leaves the datagram queued: the
    /// next receive returns it again.
    ///
    /// # Errors
    ///
    /// `TimedOut` when the read timeout passes first, or the kernel's error.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::UdpSocket;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0")?;
    /// let b = UdpSocket::bind("127.0.0.1:0")?;
    /// a.send_to(b"again", b.local_addr()?)?;
    /// let mut buf = [0; 8];
    /// let (n, _) = b.peek_from(&mut buf)?;
    /// assert_eq!(&buf[..n], b"again");
    /// let (n, _) = b.recv_from(&mut buf)?; // still there
    /// assert_eq!(&buf[..n], b"again");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.inner.io(Direction::Read, |s| s.peek_from(buf))
    }

    /// Sends one datagram to `addr` (its first address, as std) and returns
    /// the number of bytes sent.
    ///
    /// # Errors
    ///
    /// `InvalidInput` when `addr` resolves to nothing, `TimedOut` when the
    /// write timeout passes while the send buffer is full, or the kernel's
    /// error (such as `EMSGSIZE` for a datagram that is too long).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::UdpSocket;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0")?;
    /// let b = UdpSocket::bind("127.0.0.1:0")?;
    /// assert_eq!(a.send_to(b"data", b.local_addr()?)?, 4);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn send_to<A: ToSocketAddrs>(&self, buf: &[u8], addr: A) -> io::Result<usize> {
        let Some(addr) = addr.to_socket_addrs()?.next() else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "no addresses to send data to",
            ));
        };
        self.inner.io(Direction::Write, |s| s.send_to(buf, addr))
    }

    /// Connects the socket to a remote address (the first that works): then
    /// [`send`](Self::send) sends there and [`recv`](Self::recv) receives only
    /// from there. Nothing is sent, so this never waits.
    ///
    /// # Errors
    ///
    /// The error of the last address tried, or `InvalidInput` when `addr`
    /// resolves to nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::UdpSocket;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0")?;
    /// let b = UdpSocket::bind("127.0.0.1:0")?;
    /// a.connect(b.local_addr()?)?;
    /// assert_eq!(a.peer_addr()?, b.local_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        each_addr(addr, |addr| self.inner.get().connect(addr))
    }

    /// Sends one datagram to the connected peer.
    ///
    /// # Errors
    ///
    /// An error when the socket is not connected (`EDESTADDRREQ`),
    /// `TimedOut` when the write timeout passes while the send buffer is
    /// full, or the kernel's error, such as `ConnectionRefused` after the
    /// peer reported its port closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::UdpSocket;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0")?;
    /// let b = UdpSocket::bind("127.0.0.1:0")?;
    /// a.connect(b.local_addr()?)?;
    /// a.send(b"ping")?;
    /// let mut buf = [0; 8];
    /// assert_eq!(b.recv(&mut buf)?, 4);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.inner.io(Direction::Write, |s| s.send(buf))
    }

    /// Receives one datagram (from the connected peer, when connected),
    /// waiting until one arrives, and returns its length.
    ///
    /// # Errors
    ///
    /// `TimedOut` when the read timeout passes first, or the kernel's error,
    /// such as `ConnectionRefused` after the peer reported its port closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::UdpSocket;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0")?;
    /// let b = UdpSocket::bind("127.0.0.1:0")?;
    /// b.connect(a.local_addr()?)?;
    /// let to = b.local_addr()?;
    /// let sender = greenlet::spawn(move || a.send_to(b"pong", to));
    /// let mut buf = [0; 8];
    /// let n = b.recv(&mut buf)?; // runs the sender meanwhile
    /// assert_eq!(&buf[..n], b"pong");
    /// sender.join().unwrap()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.io(Direction::Read, |s| s.recv(buf))
    }

    /// As [`recv`](Self::recv), but leaves the datagram queued.
    ///
    /// # Errors
    ///
    /// `TimedOut` when the read timeout passes first, or the kernel's error.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::UdpSocket;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0")?;
    /// let b = UdpSocket::bind("127.0.0.1:0")?;
    /// a.connect(b.local_addr()?)?;
    /// b.connect(a.local_addr()?)?;
    /// a.send(b"twice")?;
    /// let mut buf = [0; 8];
    /// assert_eq!(b.peek(&mut buf)?, 5);
    /// assert_eq!(b.recv(&mut buf)?, 5);
    /// assert_eq!(&buf[..5], b"twice");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.io(Direction::Read, |s| s.peek(buf))
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
    /// let socket = greenlet::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert!(socket.local_addr()?.ip().is_loopback());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get().local_addr()
    }

    /// The address of the connected peer.
    ///
    /// # Errors
    ///
    /// `NotConnected` when the socket is not connected.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::ErrorKind;
    ///
    /// let socket = greenlet::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert_eq!(socket.peer_addr().unwrap_err().kind(), ErrorKind::NotConnected);
    /// socket.connect("127.0.0.1:9")?;
    /// assert_eq!(socket.peer_addr()?, "127.0.0.1:9".parse().unwrap());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get().peer_addr()
    }

    /// Sets the read timeout: a receive that waits longer returns
    /// `TimedOut`. `None` waits for ever.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a zero duration, as std.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let socket = greenlet::net::UdpSocket::bind("127.0.0.1:0")?;
    /// socket.set_read_timeout(Some(Duration::from_millis(10)))?;
    /// let err = socket.recv_from(&mut [0; 8]).unwrap_err(); // nobody sends
    /// assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.inner.set_timeout(Direction::Read, timeout)
    }

    /// Sets the write timeout: a send that waits longer returns `TimedOut`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a zero duration, as std.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let socket = greenlet::net::UdpSocket::bind("127.0.0.1:0")?;
    /// socket.set_write_timeout(Some(Duration::from_secs(1)))?;
    /// assert_eq!(socket.write_timeout()?, Some(Duration::from_secs(1)));
    /// assert!(socket.set_write_timeout(Some(Duration::ZERO)).is_err());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.inner.set_timeout(Direction::Write, timeout)
    }

    /// The read timeout.
    ///
    /// # Errors
    ///
    /// None today; the `Result` keeps std's signature.
    ///
    /// # Examples
    ///
    /// ```
    /// let socket = greenlet::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert_eq!(socket.read_timeout()?, None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.inner.timeout(Direction::Read))
    }

    /// The write timeout.
    ///
    /// # Errors
    ///
    /// None today; the `Result` keeps std's signature.
    ///
    /// # Examples
    ///
    /// ```
    /// let socket = greenlet::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert_eq!(socket.write_timeout()?, None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.inner.timeout(Direction::Write))
    }

    /// Sets the IP time-to-live.
    ///
    /// # Errors
    ///
    /// The kernel's error.
    ///
    /// # Examples
    ///
    /// ```
    /// let socket = greenlet::net::UdpSocket::bind("127.0.0.1:0")?;
    /// socket.set_ttl(42)?;
    /// assert_eq!(socket.ttl()?, 42);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.inner.get().set_ttl(ttl)
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
    /// let socket = greenlet::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert!(socket.ttl()? > 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.inner.get().ttl()
    }

    /// Sets `SO_BROADCAST`, which allows sending to a broadcast address.
    ///
    /// # Errors
    ///
    /// The kernel's error.
    ///
    /// # Examples
    ///
    /// ```
    /// let socket = greenlet::net::UdpSocket::bind("127.0.0.1:0")?;
    /// socket.set_broadcast(true)?;
    /// assert!(socket.broadcast()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_broadcast(&self, broadcast: bool) -> io::Result<()> {
        self.inner.get().set_broadcast(broadcast)
    }

    /// Whether `SO_BROADCAST` is set.
    ///
    /// # Errors
    ///
    /// The kernel's error.
    ///
    /// # Examples
    ///
    /// ```
    /// let socket = greenlet::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert!(!socket.broadcast()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn broadcast(&self) -> io::Result<bool> {
        self.inner.get().broadcast()
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
    /// let socket = greenlet::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert!(socket.take_error()?.is_none());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.get().take_error()
    }

    /// Another handle to the same socket: one greenlet may receive while
    /// another sends. The clones share one registration and one set of
    /// timeouts; the socket closes when the last is dropped.
    ///
    /// # Errors
    ///
    /// None today; the `Result` keeps std's signature.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::UdpSocket;
    ///
    /// let a = UdpSocket::bind("127.0.0.1:0")?;
    /// let b = UdpSocket::bind("127.0.0.1:0")?;
    /// let to = b.local_addr()?;
    /// let sender = a.try_clone()?;
    /// let s = greenlet::spawn(move || sender.send_to(b"ping", to));
    /// let mut buf = [0; 8];
    /// let (n, from) = b.recv_from(&mut buf)?;
    /// assert_eq!((n, from), (4, a.local_addr()?));
    /// s.join().unwrap()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_clone(&self) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            inner: Rc::clone(&self.inner),
        })
    }

    /// Converts back into a blocking [`std::net::UdpSocket`], leaving the
    /// hub.
    ///
    /// # Errors
    ///
    /// `Other` if clones made by [`try_clone`](Self::try_clone) are still
    /// alive (they share this registration), or the kernel's error when
    /// switching back to blocking mode.
    ///
    /// # Examples
    ///
    /// ```
    /// let socket = greenlet::net::UdpSocket::bind("127.0.0.1:0")?;
    /// let addr = socket.local_addr()?;
    /// let std_socket: std::net::UdpSocket = socket.into_std()?;
    /// assert_eq!(std_socket.local_addr()?, addr);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_std(self) -> io::Result<std::net::UdpSocket> {
        let source = Rc::try_unwrap(self.inner).map_err(|_| {
            io::Error::other("greenlet: into_std on a UdpSocket whose try_clone clones are alive")
        })?;
        let socket = std::net::UdpSocket::from(source.into_inner());
        socket.set_nonblocking(false)?;
        Ok(socket)
    }
}

impl From<std::net::UdpSocket> for UdpSocket {
    /// Takes over a std socket: it is switched to non-blocking mode and
    /// registered with this thread's hub.
    ///
    /// # Panics
    ///
    /// Panics if the socket cannot be switched to non-blocking mode or
    /// registered (the kernel refused: out of memory or descriptors). Use
    /// [`UdpSocket::bind`] to get the error instead.
    fn from(socket: std::net::UdpSocket) -> UdpSocket {
        socket
            .set_nonblocking(true)
            .and_then(|()| UdpSocket::wrap(mio::net::UdpSocket::from_std(socket)))
            .unwrap_or_else(|e| panic!("greenlet: cannot register a UdpSocket: {e}"))
    }
}

impl AsFd for UdpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.get().as_fd()
    }
}

impl AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.get().as_raw_fd()
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("local", &self.local_addr().ok())
            .field("peer", &self.peer_addr().ok())
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}
