//! `UnixDatagram`: a green Unix-domain datagram socket with the shape of
//! `std::os::unix::net`.

use std::io;
use std::net::Shutdown;
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use crate::net::impls::socket_traits;
use crate::net::socket::Socket;

/// A Unix-domain datagram socket, like
/// [`std::os::unix::net::UnixDatagram`], whose blocking calls switch
/// greenlets.
///
/// A receive that finds no datagram suspends the calling greenlet until one
/// arrives (in the main context it runs the hub meanwhile). A send waits the
/// same way while the receiver's queue is full. Datagrams keep their
/// boundaries and, unlike UDP's, are never lost or reordered.
///
/// # Errors
///
/// As std's: a datagram longer than the buffer is truncated (the rest is
/// lost), and in [non-blocking mode](Self::set_nonblocking) a call that
/// would wait is `WouldBlock`. An expired read or write timeout is
/// `TimedOut`, as with every green socket (std's is `WouldBlock`, the
/// kernel's `EAGAIN`).
///
/// # Implementation notes
///
/// A send to a named socket ([`send_to`](Self::send_to)) whose queue is full
/// waits for this socket to turn writable, which Linux signals when the
/// receiver takes one of this socket's own datagrams; a write timeout bounds
/// the wait. A connected socket ([`send`](Self::send)) is woken whenever its
/// peer's queue has room.
///
/// # Examples
///
/// ```
/// use greenlet::net::UnixDatagram;
///
/// let (a, b) = UnixDatagram::pair()?;
/// let echo = greenlet::spawn(move || -> std::io::Result<()> {
///     let mut buf = [0; 64];
///     let n = b.recv(&mut buf)?;
///     b.send(&buf[..n])?;
///     Ok(())
/// });
/// a.send(b"hello")?;
/// let mut buf = [0; 64];
/// let n = a.recv(&mut buf)?; // runs the echo greenlet meanwhile
/// assert_eq!(&buf[..n], b"hello");
/// echo.join().unwrap()?;
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// Like every greenlet type, a socket stays on the thread that made it:
///
/// ```compile_fail
/// let (a, _b) = greenlet::net::UnixDatagram::pair().unwrap();
/// std::thread::spawn(move || drop(a));
/// ```
pub struct UnixDatagram(Socket<std::os::unix::net::UnixDatagram>);

impl UnixDatagram {
    fn adopt(socket: std::os::unix::net::UnixDatagram) -> io::Result<UnixDatagram> {
        Socket::from_std(socket).map(UnixDatagram)
    }

    /// Receives with `op`, waiting for a datagram.
    ///
    /// Once this side is shut down for reading, the kernel answers a
    /// non-blocking receive with `EAGAIN` (and epoll reports nothing more)
    /// but a blocking one at once, with end of file or a datagram still
    /// queued. That is std's answer, so a blocking call asks the kernel the
    /// blocking way then: it does not wait.
    #[track_caller]
    fn receive<R>(
        &self,
        mut op: impl FnMut(&std::os::unix::net::UnixDatagram) -> io::Result<R>,
    ) -> io::Result<R> {
        self.0.read(|s| match op(s) {
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock
                    && self.0.is_read_shut_down()
                    && !self.0.is_nonblocking() =>
            {
                s.set_nonblocking(false)?;
                let result = op(s);
                s.set_nonblocking(true).and(result)
            }
            result => result,
        })
    }

    /// Makes a socket bound to `path`, creating the socket file there.
    ///
    /// # Errors
    ///
    /// `AddrInUse` when a file exists at `path` already, or the kernel's
    /// other errors (such as `NotFound` for a missing directory).
    ///
    /// # Examples
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("greenlet-doc-dgram-bind-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let socket = greenlet::net::UnixDatagram::bind(&path)?;
    /// assert_eq!(socket.local_addr()?.as_pathname(), Some(path.as_path()));
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixDatagram> {
        UnixDatagram::adopt(std::os::unix::net::UnixDatagram::bind(path)?)
    }

    /// Makes a socket bound to `addr`, which may be a path or (on Linux) an
    /// abstract name.
    ///
    /// # Errors
    ///
    /// As [`bind`](Self::bind).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::unix::net::SocketAddr;
    ///
    /// let path = std::env::temp_dir().join(format!("greenlet-doc-dgram-bind-addr-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let socket = greenlet::net::UnixDatagram::bind_addr(&SocketAddr::from_pathname(&path)?)?;
    /// assert_eq!(socket.local_addr()?.as_pathname(), Some(path.as_path()));
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind_addr(addr: &SocketAddr) -> io::Result<UnixDatagram> {
        UnixDatagram::adopt(std::os::unix::net::UnixDatagram::bind_addr(addr)?)
    }

    /// Makes a socket bound to no address: it may send, and receive the
    /// replies of a peer it [connected](Self::connect) to.
    ///
    /// # Errors
    ///
    /// The kernel's error, such as `EMFILE` when out of descriptors.
    ///
    /// # Examples
    ///
    /// ```
    /// let socket = greenlet::net::UnixDatagram::unbound()?;
    /// assert!(socket.local_addr()?.is_unnamed());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn unbound() -> io::Result<UnixDatagram> {
        UnixDatagram::adopt(std::os::unix::net::UnixDatagram::unbound()?)
    }

    /// An unnamed pair of sockets connected to each other.
    ///
    /// # Errors
    ///
    /// The kernel's error, such as `EMFILE` when out of descriptors.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, b) = greenlet::net::UnixDatagram::pair()?;
    /// a.send(b"across")?;
    /// let mut buf = [0; 16];
    /// assert_eq!(b.recv(&mut buf)?, 6);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = std::os::unix::net::UnixDatagram::pair()?;
        Ok((UnixDatagram::adopt(a)?, UnixDatagram::adopt(b)?))
    }

    /// Connects the socket to the one bound at `path`: then
    /// [`send`](Self::send) sends there and [`recv`](Self::recv) receives
    /// only from there. Nothing is sent, so this never waits.
    ///
    /// # Errors
    ///
    /// `NotFound` when nothing is bound at `path`, `ConnectionRefused` when
    /// its socket is gone, or the kernel's other errors.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::UnixDatagram;
    ///
    /// let path = std::env::temp_dir().join(format!("greenlet-doc-dgram-connect-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let server = UnixDatagram::bind(&path)?;
    /// let client = UnixDatagram::unbound()?;
    /// client.connect(&path)?;
    /// assert_eq!(client.peer_addr()?.as_pathname(), Some(path.as_path()));
    /// std::fs::remove_file(&path)?;
    /// # drop(server);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connect<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        self.0.get().connect(path)
    }

    /// Connects the socket to `addr`, which may be a path or (on Linux) an
    /// abstract name.
    ///
    /// # Errors
    ///
    /// As [`connect`](Self::connect).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::UnixDatagram;
    ///
    /// let path = std::env::temp_dir().join(format!("greenlet-doc-dgram-connect-addr-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let server = UnixDatagram::bind(&path)?;
    /// let client = UnixDatagram::unbound()?;
    /// client.connect_addr(&server.local_addr()?)?;
    /// assert_eq!(client.peer_addr()?.as_pathname(), Some(path.as_path()));
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connect_addr(&self, addr: &SocketAddr) -> io::Result<()> {
        self.0.get().connect_addr(addr)
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
    /// let (a, b) = greenlet::net::UnixDatagram::pair()?;
    /// let sender = a.try_clone()?;
    /// let s = greenlet::spawn(move || sender.send(b"ping"));
    /// let mut buf = [0; 8];
    /// assert_eq!(b.recv(&mut buf)?, 4);
    /// s.join().unwrap()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_clone(&self) -> io::Result<UnixDatagram> {
        self.0.try_clone().map(UnixDatagram)
    }

    /// The local address (unnamed unless this socket was bound).
    ///
    /// # Errors
    ///
    /// The kernel's error.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, _b) = greenlet::net::UnixDatagram::pair()?;
    /// assert!(a.local_addr()?.is_unnamed());
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
    /// let socket = greenlet::net::UnixDatagram::unbound()?;
    /// assert_eq!(socket.peer_addr().unwrap_err().kind(), ErrorKind::NotConnected);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.get().peer_addr()
    }

    /// Receives one datagram, waiting (and letting other greenlets run) until
    /// one arrives, and returns its length and its sender's address (unnamed
    /// for an unbound sender). A datagram longer than `buf` is truncated.
    ///
    /// # Errors
    ///
    /// `TimedOut` when the read timeout passes first, `WouldBlock` in
    /// non-blocking mode, or the kernel's error.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::UnixDatagram;
    ///
    /// let path = std::env::temp_dir().join(format!("greenlet-doc-dgram-recv-from-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let server = UnixDatagram::bind(&path)?;
    /// let client = UnixDatagram::unbound()?;
    /// let to = path.clone();
    /// let sender = greenlet::spawn(move || client.send_to(b"hi", &to));
    /// let mut buf = [0; 8];
    /// let (n, from) = server.recv_from(&mut buf)?; // runs the sender meanwhile
    /// assert_eq!((&buf[..n], from.is_unnamed()), (&b"hi"[..], true));
    /// sender.join().unwrap()?;
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.receive(|s| s.recv_from(buf))
    }

    /// Receives one datagram (from the connected peer, when connected),
    /// waiting until one arrives, and returns its length.
    ///
    /// # Errors
    ///
    /// `TimedOut` when the read timeout passes first, `WouldBlock` in
    /// non-blocking mode, or the kernel's error.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, b) = greenlet::net::UnixDatagram::pair()?;
    /// let sender = greenlet::spawn(move || a.send(b"pong"));
    /// let mut buf = [0; 8];
    /// let n = b.recv(&mut buf)?; // runs the sender meanwhile
    /// assert_eq!(&buf[..n], b"pong");
    /// sender.join().unwrap()?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.receive(|s| s.recv(buf))
    }

    /// Sends one datagram to the socket bound at `path` and returns the
    /// number of bytes sent.
    ///
    /// # Errors
    ///
    /// `NotFound` or `ConnectionRefused` when no socket is bound there,
    /// `TimedOut` when the write timeout passes while the receiver's queue
    /// is full, `WouldBlock` then in non-blocking mode, or the kernel's
    /// other errors (such as `EMSGSIZE` for a datagram that is too long).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::UnixDatagram;
    ///
    /// let path = std::env::temp_dir().join(format!("greenlet-doc-dgram-send-to-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let server = UnixDatagram::bind(&path)?;
    /// assert_eq!(UnixDatagram::unbound()?.send_to(b"data", &path)?, 4);
    /// assert_eq!(server.recv(&mut [0; 8])?, 4);
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn send_to<P: AsRef<Path>>(&self, buf: &[u8], path: P) -> io::Result<usize> {
        let path = path.as_ref();
        self.0.write(|s| s.send_to(buf, path))
    }

    /// Sends one datagram to `addr`, which may be a path or (on Linux) an
    /// abstract name.
    ///
    /// # Errors
    ///
    /// As [`send_to`](Self::send_to).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::UnixDatagram;
    ///
    /// let path = std::env::temp_dir().join(format!("greenlet-doc-dgram-send-to-addr-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let server = UnixDatagram::bind(&path)?;
    /// UnixDatagram::unbound()?.send_to_addr(b"data", &server.local_addr()?)?;
    /// assert_eq!(server.recv(&mut [0; 8])?, 4);
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn send_to_addr(&self, buf: &[u8], addr: &SocketAddr) -> io::Result<usize> {
        self.0.write(|s| s.send_to_addr(buf, addr))
    }

    /// Sends one datagram to the connected peer, waiting while its queue is
    /// full.
    ///
    /// # Errors
    ///
    /// `NotConnected` when the socket is not connected, `TimedOut` when the
    /// write timeout passes while the peer's queue is full, `WouldBlock`
    /// then in non-blocking mode, or the kernel's other errors.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, b) = greenlet::net::UnixDatagram::pair()?;
    /// assert_eq!(a.send(b"ping")?, 4);
    /// assert_eq!(b.recv(&mut [0; 8])?, 4);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(|s| s.send(buf))
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
    /// let (a, _b) = greenlet::net::UnixDatagram::pair()?;
    /// a.set_read_timeout(Some(Duration::from_millis(10)))?;
    /// let err = a.recv(&mut [0; 8]).unwrap_err(); // nobody sends
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
    /// let (a, _b) = greenlet::net::UnixDatagram::pair()?;
    /// a.set_write_timeout(Some(Duration::from_secs(1)))?;
    /// assert_eq!(a.write_timeout()?, Some(Duration::from_secs(1)));
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
    /// let socket = greenlet::net::UnixDatagram::unbound()?;
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
    /// let socket = greenlet::net::UnixDatagram::unbound()?;
    /// assert_eq!(socket.write_timeout()?, None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        self.0.write_timeout()
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
    /// let (a, _b) = greenlet::net::UnixDatagram::pair()?;
    /// a.set_nonblocking(true)?;
    /// let err = a.recv(&mut [0; 8]).unwrap_err(); // nobody sends
    /// assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.0.set_nonblocking(nonblocking)
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
    /// let socket = greenlet::net::UnixDatagram::unbound()?;
    /// assert!(socket.take_error()?.is_none());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.0.take_error()
    }

    /// Shuts down the receiving half, the sending half or both. A greenlet
    /// blocked receiving on this socket (through a clone) wakes up and
    /// receives `Ok(0)`.
    ///
    /// # Errors
    ///
    /// The kernel's error.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::Shutdown;
    ///
    /// let (a, _b) = greenlet::net::UnixDatagram::pair()?;
    /// a.shutdown(Shutdown::Read)?;
    /// assert_eq!(a.recv(&mut [0; 8])?, 0); // no waiting once shut down
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.0.get().shutdown(how)?;
        if how != Shutdown::Write {
            self.0.set_read_shut_down();
        }
        Ok(())
    }

    /// Converts back into a blocking [`std::os::unix::net::UnixDatagram`],
    /// leaving the hub.
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
    /// let (a, b) = greenlet::net::UnixDatagram::pair()?;
    /// let std_b: std::os::unix::net::UnixDatagram = b.into_std()?;
    /// a.send(b"ok")?;
    /// assert_eq!(std_b.recv(&mut [0; 8])?, 2); // a blocking receive
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixDatagram> {
        self.0.into_std()
    }
}

socket_traits!(UnixDatagram, std::os::unix::net::UnixDatagram, debug { "local" => local_addr, "peer" => peer_addr });
