//! Green UDP: `UdpSocket` with std's shape, whose blocking calls switch
//! greenlets instead of blocking the thread.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use super::addr::{ToSocketAddrs, each_addr, lookup_host};
use super::impls::socket_traits;
use super::socket::Socket;

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
/// lost), in [non-blocking mode](Self::set_nonblocking) a call that would
/// wait is `WouldBlock`, and on a connected socket an ICMP "port
/// unreachable" from the peer shows up as `ConnectionRefused` on a later
/// call. An expired read or write timeout is `TimedOut` (std's is
/// `WouldBlock` on Unix, the kernel's `EAGAIN`).
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
pub struct UdpSocket(Socket<mio::net::UdpSocket>);

impl UdpSocket {
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
            Socket::new(mio::net::UdpSocket::bind(addr)?).map(UdpSocket)
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
    #[track_caller]
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.0.read(|s| s.recv_from(buf))
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
    #[track_caller]
    pub fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.0.read(|s| s.peek_from(buf))
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
    #[track_caller]
    pub fn send_to<A: ToSocketAddrs>(&self, buf: &[u8], addr: A) -> io::Result<usize> {
        let Some(addr) = lookup_host(addr)?.next() else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "no addresses to send data to",
            ));
        };
        self.0.write(|s| s.send_to(buf, addr))
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
        each_addr(addr, |addr| self.0.get().connect(addr))
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
    #[track_caller]
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(|s| s.send(buf))
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
    #[track_caller]
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(|s| s.recv(buf))
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
    #[track_caller]
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(|s| s.peek(buf))
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
        self.0.get().local_addr()
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
        self.0.get().peer_addr()
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
        self.0.set_read_timeout(timeout)
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
        self.0.set_write_timeout(timeout)
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
        self.0.read_timeout()
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
        self.0.write_timeout()
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
    /// let socket = greenlet::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert!(socket.ttl()? > 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.0.get().ttl()
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
        self.0.get().set_broadcast(broadcast)
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
        self.0.get().broadcast()
    }

    /// Moves the socket into or out of non-blocking mode. In non-blocking
    /// mode a receive (or a send) that would wait returns `WouldBlock` at
    /// once, as std's: no other greenlet runs meanwhile. The clones made by
    /// [`try_clone`](Self::try_clone) share the mode.
    ///
    /// # Errors
    ///
    /// None today; the `Result` keeps std's signature.
    ///
    /// # Examples
    ///
    /// ```
    /// let socket = greenlet::net::UdpSocket::bind("127.0.0.1:0")?;
    /// socket.set_nonblocking(true)?;
    /// let err = socket.recv_from(&mut [0; 8]).unwrap_err(); // nobody sends
    /// assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.0.set_nonblocking(nonblocking)
    }

    /// Joins the IPv4 multicast group `multiaddr` on the interface whose
    /// address is `interface` (`Ipv4Addr::UNSPECIFIED`: the kernel picks
    /// one by its routes).
    ///
    /// # Errors
    ///
    /// The kernel's error, such as `ENODEV` when no interface fits (no
    /// multicast route) or `InvalidInput` for an address that is no group.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::Ipv4Addr;
    ///
    /// let socket = greenlet::net::UdpSocket::bind("0.0.0.0:0")?;
    /// let group = Ipv4Addr::new(224, 0, 0, 123);
    /// socket.join_multicast_v4(&group, &Ipv4Addr::LOCALHOST)?;
    /// socket.leave_multicast_v4(&group, &Ipv4Addr::LOCALHOST)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn join_multicast_v4(&self, multiaddr: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        self.0.get().join_multicast_v4(multiaddr, interface)
    }

    /// Leaves an IPv4 multicast group joined by
    /// [`join_multicast_v4`](Self::join_multicast_v4).
    ///
    /// # Errors
    ///
    /// The kernel's error, such as `AddrNotAvailable` for a group this
    /// socket has not joined on that interface.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::Ipv4Addr;
    ///
    /// let socket = greenlet::net::UdpSocket::bind("0.0.0.0:0")?;
    /// let group = Ipv4Addr::new(224, 0, 0, 124);
    /// let err = socket.leave_multicast_v4(&group, &Ipv4Addr::LOCALHOST).unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::AddrNotAvailable); // never joined
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn leave_multicast_v4(&self, multiaddr: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        self.0.get().leave_multicast_v4(multiaddr, interface)
    }

    /// Joins the IPv6 multicast group `multiaddr` on the interface of index
    /// `interface` (0: the kernel picks one by its routes).
    ///
    /// # Errors
    ///
    /// The kernel's error, such as `ENODEV` when no interface fits.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::Ipv6Addr;
    ///
    /// // Hosts without IPv6 cannot bind `[::]`.
    /// if let Ok(socket) = greenlet::net::UdpSocket::bind("[::]:0") {
    ///     let group: Ipv6Addr = "ff02::123".parse().unwrap();
    ///     if socket.join_multicast_v6(&group, 0).is_ok() {
    ///         socket.leave_multicast_v6(&group, 0)?;
    ///     }
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn join_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.0.get().join_multicast_v6(multiaddr, interface)
    }

    /// Leaves an IPv6 multicast group joined by
    /// [`join_multicast_v6`](Self::join_multicast_v6).
    ///
    /// # Errors
    ///
    /// The kernel's error, such as `AddrNotAvailable` for a group this
    /// socket has not joined on that interface.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::Ipv6Addr;
    ///
    /// if let Ok(socket) = greenlet::net::UdpSocket::bind("[::]:0") {
    ///     let group: Ipv6Addr = "ff02::124".parse().unwrap();
    ///     assert!(socket.leave_multicast_v6(&group, 0).is_err()); // never joined
    /// }
    /// ```
    pub fn leave_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.0.get().leave_multicast_v6(multiaddr, interface)
    }

    /// Sets `IP_MULTICAST_LOOP`: whether IPv4 multicast datagrams this
    /// socket sends are delivered to the local host's members too.
    ///
    /// # Errors
    ///
    /// The kernel's error.
    ///
    /// # Examples
    ///
    /// ```
    /// let socket = greenlet::net::UdpSocket::bind("127.0.0.1:0")?;
    /// socket.set_multicast_loop_v4(false)?;
    /// assert!(!socket.multicast_loop_v4()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_multicast_loop_v4(&self, multicast_loop_v4: bool) -> io::Result<()> {
        self.0.get().set_multicast_loop_v4(multicast_loop_v4)
    }

    /// Whether `IP_MULTICAST_LOOP` is set (it is by default).
    ///
    /// # Errors
    ///
    /// The kernel's error.
    ///
    /// # Examples
    ///
    /// ```
    /// let socket = greenlet::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert!(socket.multicast_loop_v4()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn multicast_loop_v4(&self) -> io::Result<bool> {
        self.0.get().multicast_loop_v4()
    }

    /// Sets `IP_MULTICAST_TTL`, the time-to-live of the IPv4 multicast
    /// datagrams this socket sends (1 by default: they stay on the local
    /// network).
    ///
    /// # Errors
    ///
    /// The kernel's error, such as `InvalidInput` above 255.
    ///
    /// # Examples
    ///
    /// ```
    /// let socket = greenlet::net::UdpSocket::bind("127.0.0.1:0")?;
    /// socket.set_multicast_ttl_v4(8)?;
    /// assert_eq!(socket.multicast_ttl_v4()?, 8);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_multicast_ttl_v4(&self, multicast_ttl_v4: u32) -> io::Result<()> {
        self.0.get().set_multicast_ttl_v4(multicast_ttl_v4)
    }

    /// The value of `IP_MULTICAST_TTL`.
    ///
    /// # Errors
    ///
    /// The kernel's error.
    ///
    /// # Examples
    ///
    /// ```
    /// let socket = greenlet::net::UdpSocket::bind("127.0.0.1:0")?;
    /// assert_eq!(socket.multicast_ttl_v4()?, 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn multicast_ttl_v4(&self) -> io::Result<u32> {
        self.0.get().multicast_ttl_v4()
    }

    /// Sets `IPV6_MULTICAST_LOOP`: whether IPv6 multicast datagrams this
    /// socket sends are delivered to the local host's members too.
    ///
    /// # Errors
    ///
    /// The kernel's error, such as `ENOPROTOOPT` on an IPv4 socket.
    ///
    /// # Examples
    ///
    /// ```
    /// if let Ok(socket) = greenlet::net::UdpSocket::bind("[::1]:0") {
    ///     socket.set_multicast_loop_v6(false)?;
    ///     assert!(!socket.multicast_loop_v6()?);
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_multicast_loop_v6(&self, multicast_loop_v6: bool) -> io::Result<()> {
        self.0.get().set_multicast_loop_v6(multicast_loop_v6)
    }

    /// Whether `IPV6_MULTICAST_LOOP` is set (it is by default).
    ///
    /// # Errors
    ///
    /// The kernel's error, such as `ENOPROTOOPT` on an IPv4 socket.
    ///
    /// # Examples
    ///
    /// ```
    /// if let Ok(socket) = greenlet::net::UdpSocket::bind("[::1]:0") {
    ///     assert!(socket.multicast_loop_v6()?);
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn multicast_loop_v6(&self) -> io::Result<bool> {
        self.0.get().multicast_loop_v6()
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
        self.0.take_error()
    }

    /// Another handle to the same socket: one greenlet may receive while
    /// another sends. The clones share one registration, one set of
    /// timeouts and one blocking mode (as std's share the socket's options);
    /// the socket closes when the last is dropped.
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
        self.0.try_clone().map(UdpSocket)
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
        self.0.into_std()
    }
}

socket_traits!(UdpSocket, std::net::UdpSocket, debug { "local" => local_addr, "peer" => peer_addr });
