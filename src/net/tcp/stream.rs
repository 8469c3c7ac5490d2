//! `TcpStream`: a green TCP connection with std's shape.

use std::io;
use std::net::{Shutdown, SocketAddr};
use std::time::{Duration, Instant};

use crate::net::ToSocketAddrs;
use crate::net::addr::each_addr;
use crate::net::impls::{socket_traits, stream_io};
use crate::net::socket::Socket;

/// A TCP stream between a local and a remote socket, like
/// [`std::net::TcpStream`], whose blocking calls switch greenlets.
///
/// Reads and writes that would block suspend the calling greenlet until the
/// socket is ready (in the main context they run the hub meanwhile), so many
/// connections are served concurrently on one thread by plain blocking code.
/// `Read` and `Write` work as with std, also on `&TcpStream`, so
/// `BufReader`, `BufWriter` and `io::copy` work unchanged.
///
/// # Errors
///
/// As std's: end of stream is `Ok(0)`, a reset peer `ConnectionReset`, a
/// write to a closed peer `BrokenPipe` (Rust programs ignore `SIGPIPE`), and
/// in [non-blocking mode](Self::set_nonblocking) a call that would wait
/// `WouldBlock`. An expired read or write timeout is `TimedOut` (std's is
/// `WouldBlock` on Unix, where the kernel reports it as `EAGAIN`).
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use greenlet::net::{TcpListener, TcpStream};
///
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let addr = listener.local_addr()?;
/// let server = greenlet::spawn(move || -> std::io::Result<()> {
///     let (mut conn, _) = listener.accept()?;
///     let mut buf = [0; 5];
///     conn.read_exact(&mut buf)?;
///     conn.write_all(&buf)
/// });
/// let mut client = TcpStream::connect(addr)?;
/// client.write_all(b"hello")?;
/// let mut echoed = [0; 5];
/// client.read_exact(&mut echoed)?; // runs the server greenlet meanwhile
/// assert_eq!(&echoed, b"hello");
/// server.join().unwrap()?;
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// Like every greenlet type, a stream stays on the thread that made it:
///
/// ```compile_fail
/// let s = greenlet::net::TcpStream::connect("127.0.0.1:9").unwrap();
/// std::thread::spawn(move || drop(s));
/// ```
pub struct TcpStream(Socket<mio::net::TcpStream>);

impl TcpStream {
    /// Registers a connected (or connecting) non-blocking stream.
    pub(super) fn new(stream: mio::net::TcpStream) -> io::Result<TcpStream> {
        Socket::new(stream).map(TcpStream)
    }

    #[track_caller]
    fn connect_until(addr: SocketAddr, deadline: Option<Instant>) -> io::Result<TcpStream> {
        let stream = TcpStream::new(mio::net::TcpStream::connect(addr)?)?;
        // The connection is in progress: it is made (or failed) once the
        // socket turns writable.
        stream
            .0
            .wait_connected(deadline, mio::net::TcpStream::peer_addr)?;
        Ok(stream)
    }

    /// Opens a TCP connection to a remote host, trying each address in turn.
    ///
    /// # Errors
    ///
    /// The error of the last address tried (for example `ConnectionRefused`),
    /// or `InvalidInput` when `addr` resolves to nothing.
    ///
    /// # Implementation notes
    ///
    /// Neither connecting nor resolving blocks the hub: IP literals are
    /// parsed in place, and host names resolved on the default thread pool
    /// (see [`ToSocketAddrs`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let listener = greenlet::net::TcpListener::bind("127.0.0.1:0")?;
    /// let stream = greenlet::net::TcpStream::connect(listener.local_addr()?)?;
    /// assert_eq!(stream.peer_addr()?, listener.local_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        each_addr(addr, |addr| TcpStream::connect_until(addr, None))
    }

    /// Opens a TCP connection to `addr`, giving up after `timeout`.
    ///
    /// # Errors
    ///
    /// `TimedOut` when the connection is not made in time, `InvalidInput` for
    /// a zero timeout (as std), or the connection's own error.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let listener = greenlet::net::TcpListener::bind("127.0.0.1:0")?;
    /// let addr = listener.local_addr()?;
    /// let stream = greenlet::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    /// assert_eq!(stream.peer_addr()?, addr);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        if timeout.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot set a 0 duration timeout",
            ));
        }
        TcpStream::connect_until(*addr, Instant::now().checked_add(timeout))
    }

    /// The remote address.
    ///
    /// # Errors
    ///
    /// `NotConnected` once the connection is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// let listener = greenlet::net::TcpListener::bind("127.0.0.1:0")?;
    /// let stream = greenlet::net::TcpStream::connect(listener.local_addr()?)?;
    /// assert_eq!(stream.peer_addr()?, listener.local_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.get().peer_addr()
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
    /// let stream = greenlet::net::TcpStream::connect(listener.local_addr()?)?;
    /// assert!(stream.local_addr()?.ip().is_loopback());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.get().local_addr()
    }

    /// Shuts down the read half, the write half or both. A greenlet blocked
    /// reading this stream (through a clone) wakes up and reads `Ok(0)`.
    ///
    /// # Errors
    ///
    /// The kernel's error, such as `NotConnected`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Read;
    /// use std::net::Shutdown;
    ///
    /// let listener = greenlet::net::TcpListener::bind("127.0.0.1:0")?;
    /// let client = greenlet::net::TcpStream::connect(listener.local_addr()?)?;
    /// let (mut server, _) = listener.accept()?;
    /// client.shutdown(Shutdown::Write)?;
    /// assert_eq!(server.read(&mut [0; 8])?, 0); // the peer sees end of stream
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.0.get().shutdown(how)
    }

    /// Reads into `buf` without removing the data from the socket's queue:
    /// the next read returns it again. Waits (letting other greenlets run)
    /// until there is something to read.
    ///
    /// # Errors
    ///
    /// As a read: `TimedOut` when the read timeout passes first, or the
    /// kernel's error. At end of stream it returns `Ok(0)`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{Read, Write};
    ///
    /// let listener = greenlet::net::TcpListener::bind("127.0.0.1:0")?;
    /// let mut client = greenlet::net::TcpStream::connect(listener.local_addr()?)?;
    /// let (mut server, _) = listener.accept()?;
    /// client.write_all(b"look")?;
    /// let mut buf = [0; 4];
    /// assert_eq!(server.peek(&mut buf)?, 4);
    /// server.read_exact(&mut buf)?; // still there
    /// assert_eq!(&buf, b"look");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(|s| s.peek(buf))
    }

    /// Sets `TCP_NODELAY`.
    ///
    /// # Errors
    ///
    /// The kernel's error.
    ///
    /// # Examples
    ///
    /// ```
    /// let listener = greenlet::net::TcpListener::bind("127.0.0.1:0")?;
    /// let stream = greenlet::net::TcpStream::connect(listener.local_addr()?)?;
    /// stream.set_nodelay(true)?;
    /// assert!(stream.nodelay()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.0.get().set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    ///
    /// # Errors
    ///
    /// The kernel's error.
    ///
    /// # Examples
    ///
    /// ```
    /// let listener = greenlet::net::TcpListener::bind("127.0.0.1:0")?;
    /// let stream = greenlet::net::TcpStream::connect(listener.local_addr()?)?;
    /// assert!(!stream.nodelay()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn nodelay(&self) -> io::Result<bool> {
        self.0.get().nodelay()
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
    /// let listener = greenlet::net::TcpListener::bind("127.0.0.1:0")?;
    /// let stream = greenlet::net::TcpStream::connect(listener.local_addr()?)?;
    /// stream.set_ttl(42)?;
    /// assert_eq!(stream.ttl()?, 42);
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
    /// let stream = greenlet::net::TcpStream::connect(listener.local_addr()?)?;
    /// assert!(stream.ttl()? > 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn ttl(&self) -> io::Result<u32> {
        self.0.get().ttl()
    }

    /// Another handle to the same stream: one greenlet may read while
    /// another writes. The clones share one registration, one set of
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
    /// use std::io::{Read, Write};
    ///
    /// let listener = greenlet::net::TcpListener::bind("127.0.0.1:0")?;
    /// let client = greenlet::net::TcpStream::connect(listener.local_addr()?)?;
    /// let (mut server, _) = listener.accept()?;
    /// let mut writer = client.try_clone()?;
    /// let w = greenlet::spawn(move || writer.write_all(b"ping"));
    /// let mut got = [0; 4];
    /// server.read_exact(&mut got)?;
    /// w.join().unwrap()?;
    /// assert_eq!(&got, b"ping");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_clone(&self) -> io::Result<TcpStream> {
        self.0.try_clone().map(TcpStream)
    }

    /// Sets the read timeout: a read that waits longer returns `TimedOut`.
    /// `None` waits for ever.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a zero duration, as std.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Read;
    /// use std::time::Duration;
    ///
    /// let listener = greenlet::net::TcpListener::bind("127.0.0.1:0")?;
    /// let mut stream = greenlet::net::TcpStream::connect(listener.local_addr()?)?;
    /// stream.set_read_timeout(Some(Duration::from_millis(10)))?;
    /// let err = stream.read(&mut [0; 8]).unwrap_err(); // nobody writes
    /// assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.0.set_read_timeout(timeout)
    }

    /// Sets the write timeout: a write that waits longer returns `TimedOut`.
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
    /// let listener = greenlet::net::TcpListener::bind("127.0.0.1:0")?;
    /// let stream = greenlet::net::TcpStream::connect(listener.local_addr()?)?;
    /// stream.set_write_timeout(Some(Duration::from_secs(1)))?;
    /// assert_eq!(stream.write_timeout()?, Some(Duration::from_secs(1)));
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
    /// let listener = greenlet::net::TcpListener::bind("127.0.0.1:0")?;
    /// let stream = greenlet::net::TcpStream::connect(listener.local_addr()?)?;
    /// assert_eq!(stream.read_timeout()?, None);
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
    /// let listener = greenlet::net::TcpListener::bind("127.0.0.1:0")?;
    /// let stream = greenlet::net::TcpStream::connect(listener.local_addr()?)?;
    /// assert_eq!(stream.write_timeout()?, None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        self.0.write_timeout()
    }

    /// Moves the stream into or out of non-blocking mode. In non-blocking
    /// mode a read or write that would wait returns `WouldBlock` at once, as
    /// std's: no other greenlet runs meanwhile. The clones made by
    /// [`try_clone`](Self::try_clone) share the mode.
    ///
    /// # Errors
    ///
    /// None today; the `Result` keeps std's signature.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{ErrorKind, Read};
    ///
    /// let listener = greenlet::net::TcpListener::bind("127.0.0.1:0")?;
    /// let mut stream = greenlet::net::TcpStream::connect(listener.local_addr()?)?;
    /// stream.set_nonblocking(true)?;
    /// let err = stream.read(&mut [0; 8]).unwrap_err(); // nothing to read yet
    /// assert_eq!(err.kind(), ErrorKind::WouldBlock);
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
    /// let listener = greenlet::net::TcpListener::bind("127.0.0.1:0")?;
    /// let stream = greenlet::net::TcpStream::connect(listener.local_addr()?)?;
    /// assert!(stream.take_error()?.is_none());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.0.take_error()
    }

    /// Converts back into a blocking [`std::net::TcpStream`], leaving the
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
    /// let listener = greenlet::net::TcpListener::bind("127.0.0.1:0")?;
    /// let stream = greenlet::net::TcpStream::connect(listener.local_addr()?)?;
    /// let std_stream: std::net::TcpStream = stream.into_std()?;
    /// assert_eq!(std_stream.peer_addr()?, listener.local_addr()?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_std(self) -> io::Result<std::net::TcpStream> {
        self.0.into_std()
    }
}

socket_traits!(TcpStream, std::net::TcpStream, debug { "local" => local_addr, "peer" => peer_addr });
stream_io!(TcpStream);
