//! `UnixStream`: a green Unix-domain stream socket with the shape of
//! `std::os::unix::net`.

use std::io;
use std::net::Shutdown;
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use crate::net::impls::{socket_traits, stream_io};
use crate::net::socket::Socket;

/// The first pause before retrying a connection refused for a full backlog.
const CONNECT_RETRY_FIRST: Duration = Duration::from_millis(1);
/// The longest pause between those retries.
const CONNECT_RETRY_MAX: Duration = Duration::from_millis(64);

/// A connected Unix-domain stream socket, like
/// [`std::os::unix::net::UnixStream`], whose blocking calls switch greenlets.
///
/// Reads and writes that would block suspend the calling greenlet until the
/// socket is ready (in the main context they run the hub meanwhile). `Read`
/// and `Write` work as with std, also on `&UnixStream`, so `BufReader`,
/// `BufWriter` and `io::copy` work unchanged.
///
/// # Errors
///
/// As std's: end of stream is `Ok(0)`, a write to a closed peer
/// `BrokenPipe` (Rust programs ignore `SIGPIPE`), and in
/// [non-blocking mode](Self::set_nonblocking) a call that would wait
/// `WouldBlock`. An expired read or write timeout is `TimedOut` (std's is
/// `WouldBlock`, the kernel's `EAGAIN`).
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use greenlet::net::{UnixListener, UnixStream};
///
/// let path = std::env::temp_dir().join(format!("greenlet-doc-stream-{}.sock", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let listener = UnixListener::bind(&path)?;
/// let server = greenlet::spawn(move || -> std::io::Result<()> {
///     let (mut conn, _) = listener.accept()?;
///     let mut buf = [0; 5];
///     conn.read_exact(&mut buf)?;
///     conn.write_all(&buf)
/// });
/// let mut client = UnixStream::connect(&path)?;
/// client.write_all(b"hello")?;
/// let mut echoed = [0; 5];
/// client.read_exact(&mut echoed)?; // runs the server greenlet meanwhile
/// assert_eq!(&echoed, b"hello");
/// server.join().unwrap()?;
/// std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// Like every greenlet type, a stream stays on the thread that made it:
///
/// ```compile_fail
/// let (a, _b) = greenlet::net::UnixStream::pair().unwrap();
/// std::thread::spawn(move || drop(a));
/// ```
pub struct UnixStream(Socket<mio::net::UnixStream>);

impl UnixStream {
    /// Registers a connected (or connecting) non-blocking stream.
    pub(super) fn new(stream: mio::net::UnixStream) -> io::Result<UnixStream> {
        Socket::new(stream).map(UnixStream)
    }

    #[track_caller]
    fn connect_with(
        mut connect: impl FnMut() -> io::Result<mio::net::UnixStream>,
    ) -> io::Result<UnixStream> {
        let mut pause = CONNECT_RETRY_FIRST;
        let stream = loop {
            match connect() {
                Ok(stream) => break stream,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // The listener's backlog is full. The kernel refuses at once
                // and gives nothing to wait on, so retry after a pause that
                // lets other greenlets (the accepting one) run. While the
                // thread unwinds nothing can run: fail instead of spinning.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && !std::thread::panicking() => {
                    crate::sleep(pause);
                    pause = (pause * 2).min(CONNECT_RETRY_MAX);
                }
                Err(e) => return Err(e),
            }
        };
        let stream = UnixStream::new(stream)?;
        // Should the connection be in progress, it is made (or failed) once
        // the socket turns writable.
        stream
            .0
            .wait_connected(None, mio::net::UnixStream::peer_addr)?;
        Ok(stream)
    }

    /// Connects to the socket bound at `path`.
    ///
    /// # Errors
    ///
    /// `NotFound` when nothing is bound at `path`, `ConnectionRefused` when
    /// its listener is gone, `PermissionDenied`, or the kernel's other errors.
    ///
    /// # Implementation notes
    ///
    /// When the listener's backlog is full the kernel refuses a non-blocking
    /// connection at once and offers nothing to wait on, so `connect` sleeps
    /// (1 ms, doubling up to 64 ms) and tries again, letting the other
    /// greenlets run meanwhile, until the listener accepts, as std's blocking
    /// `connect` waits.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::{UnixListener, UnixStream};
    ///
    /// let path = std::env::temp_dir().join(format!("greenlet-doc-connect-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let _listener = UnixListener::bind(&path)?;
    /// let stream = UnixStream::connect(&path)?;
    /// assert_eq!(stream.peer_addr()?.as_pathname(), Some(path.as_path()));
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn connect<P: AsRef<Path>>(path: P) -> io::Result<UnixStream> {
        let path = path.as_ref();
        UnixStream::connect_with(|| mio::net::UnixStream::connect(path))
    }

    /// Connects to the socket at `addr`, which may be a path or (on Linux) an
    /// abstract name.
    ///
    /// # Errors
    ///
    /// As [`connect`](Self::connect).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::os::unix::net::SocketAddr;
    /// use greenlet::net::{UnixListener, UnixStream};
    ///
    /// let path = std::env::temp_dir().join(format!("greenlet-doc-connect-addr-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = UnixListener::bind_addr(&SocketAddr::from_pathname(&path)?)?;
    /// let stream = UnixStream::connect_addr(&listener.local_addr()?)?;
    /// assert_eq!(stream.peer_addr()?.as_pathname(), Some(path.as_path()));
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn connect_addr(addr: &SocketAddr) -> io::Result<UnixStream> {
        UnixStream::connect_with(|| mio::net::UnixStream::connect_addr(addr))
    }

    /// An unnamed pair of connected sockets.
    ///
    /// # Errors
    ///
    /// The kernel's error, such as `EMFILE` when out of descriptors.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::{Read, Write};
    ///
    /// let (mut a, mut b) = greenlet::net::UnixStream::pair()?;
    /// a.write_all(b"across")?;
    /// let mut got = [0; 6];
    /// b.read_exact(&mut got)?;
    /// assert_eq!(&got, b"across");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = mio::net::UnixStream::pair()?;
        Ok((UnixStream::new(a)?, UnixStream::new(b)?))
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
    /// let (a, _b) = greenlet::net::UnixStream::pair()?;
    /// assert!(a.local_addr()?.is_unnamed());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.get().local_addr()
    }

    /// The remote address: the listener's path for a stream made by
    /// [`connect`](Self::connect).
    ///
    /// # Errors
    ///
    /// `NotConnected` once the connection is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// let (a, _b) = greenlet::net::UnixStream::pair()?;
    /// assert!(a.peer_addr()?.is_unnamed());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.get().peer_addr()
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
    /// let (a, mut b) = greenlet::net::UnixStream::pair()?;
    /// a.shutdown(Shutdown::Write)?;
    /// assert_eq!(b.read(&mut [0; 8])?, 0); // the peer sees end of stream
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.0.get().shutdown(how)
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
    /// let (a, mut b) = greenlet::net::UnixStream::pair()?;
    /// let mut writer = a.try_clone()?;
    /// let w = greenlet::spawn(move || writer.write_all(b"ping"));
    /// let mut got = [0; 4];
    /// b.read_exact(&mut got)?;
    /// w.join().unwrap()?;
    /// assert_eq!(&got, b"ping");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_clone(&self) -> io::Result<UnixStream> {
        self.0.try_clone().map(UnixStream)
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
    /// let (mut a, _b) = greenlet::net::UnixStream::pair()?;
    /// a.set_read_timeout(Some(Duration::from_millis(10)))?;
    /// let err = a.read(&mut [0; 8]).unwrap_err(); // nobody writes
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
    /// let (a, _b) = greenlet::net::UnixStream::pair()?;
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
    /// let (a, _b) = greenlet::net::UnixStream::pair()?;
    /// assert_eq!(a.read_timeout()?, None);
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
    /// let (a, _b) = greenlet::net::UnixStream::pair()?;
    /// assert_eq!(a.write_timeout()?, None);
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
    /// let (mut a, _b) = greenlet::net::UnixStream::pair()?;
    /// a.set_nonblocking(true)?;
    /// let err = a.read(&mut [0; 8]).unwrap_err(); // nothing to read yet
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
    /// let (a, _b) = greenlet::net::UnixStream::pair()?;
    /// assert!(a.take_error()?.is_none());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.0.take_error()
    }

    /// Converts back into a blocking [`std::os::unix::net::UnixStream`],
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
    /// use std::io::{Read, Write};
    ///
    /// let (mut a, b) = greenlet::net::UnixStream::pair()?;
    /// let mut std_b: std::os::unix::net::UnixStream = b.into_std()?;
    /// a.write_all(b"ok")?;
    /// let mut got = [0; 2];
    /// std_b.read_exact(&mut got)?; // a blocking read
    /// assert_eq!(&got, b"ok");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixStream> {
        self.0.into_std()
    }
}

socket_traits!(UnixStream, std::os::unix::net::UnixStream, debug { "local" => local_addr, "peer" => peer_addr });
stream_io!(UnixStream);
