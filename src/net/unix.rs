//! Green Unix-domain stream sockets: `UnixListener` and `UnixStream` with
//! the shapes of `std::os::unix::net`, whose blocking calls switch greenlets
//! instead of blocking the thread.

use std::fmt;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::SocketAddr;
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

use crate::hub::{Direction, IoSource};

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
/// `BrokenPipe` (Rust programs ignore `SIGPIPE`), and an expired read or
/// write timeout `TimedOut`.
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
pub struct UnixStream {
    // Shared by `try_clone`: one registration, one set of timeouts.
    inner: Rc<IoSource<mio::net::UnixStream>>,
}

impl UnixStream {
    fn wrap(stream: mio::net::UnixStream) -> io::Result<UnixStream> {
        Ok(UnixStream {
            inner: Rc::new(IoSource::new(stream)?),
        })
    }

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
        let stream = UnixStream::wrap(stream)?;
        // Should the connection be in progress, it is made (or failed) once
        // the socket turns writable.
        stream.inner.wait_connected(
            None,
            mio::net::UnixStream::take_error,
            mio::net::UnixStream::peer_addr,
        )?;
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
        Ok((UnixStream::wrap(a)?, UnixStream::wrap(b)?))
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
        self.inner.get().local_addr()
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
        self.inner.get().peer_addr()
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
        self.inner.get().shutdown(how)
    }

    /// Another handle to the same stream: one greenlet may read while
    /// another writes. The clones share one registration and one set of
    /// timeouts; the socket closes when the last is dropped.
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
        Ok(UnixStream {
            inner: Rc::clone(&self.inner),
        })
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
        self.inner.set_timeout(Direction::Read, timeout)
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
    /// let (a, _b) = greenlet::net::UnixStream::pair()?;
    /// assert_eq!(a.read_timeout()?, None);
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
    /// let (a, _b) = greenlet::net::UnixStream::pair()?;
    /// assert_eq!(a.write_timeout()?, None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.inner.timeout(Direction::Write))
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
        self.inner.get().take_error()
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
        let source = Rc::try_unwrap(self.inner).map_err(|_| {
            io::Error::other("greenlet: into_std on a UnixStream whose try_clone clones are alive")
        })?;
        let stream = std::os::unix::net::UnixStream::from(source.into_inner());
        stream.set_nonblocking(false)?;
        Ok(stream)
    }
}

impl From<std::os::unix::net::UnixStream> for UnixStream {
    /// Takes over a std stream: it is switched to non-blocking mode and
    /// registered with this thread's hub.
    ///
    /// # Panics
    ///
    /// Panics if the stream cannot be switched to non-blocking mode or
    /// registered (the kernel refused: out of memory or descriptors). Use
    /// [`UnixStream::connect`] or [`UnixStream::pair`] to get the error
    /// instead.
    fn from(stream: std::os::unix::net::UnixStream) -> UnixStream {
        stream
            .set_nonblocking(true)
            .and_then(|()| UnixStream::wrap(mio::net::UnixStream::from_std(stream)))
            .unwrap_or_else(|e| panic!("greenlet: cannot register a UnixStream: {e}"))
    }
}

impl Read for &UnixStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner
            .io_stream(Direction::Read, buf.len(), |mut s| s.read(buf))
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.inner
            .io(Direction::Read, |mut s| s.read_vectored(bufs))
    }
}

impl Write for &UnixStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner
            .io_stream(Direction::Write, buf.len(), |mut s| s.write(buf))
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.inner
            .io(Direction::Write, |mut s| s.write_vectored(bufs))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(()) // a stream socket has no user-space buffer
    }
}

impl Read for UnixStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        (&*self).read_vectored(bufs)
    }
}

impl Write for UnixStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        (&*self).write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsFd for UnixStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.get().as_fd()
    }
}

impl AsRawFd for UnixStream {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.get().as_raw_fd()
    }
}

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream")
            .field("local", &self.local_addr().ok())
            .field("peer", &self.peer_addr().ok())
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}

/// A Unix-domain stream listener, like
/// [`std::os::unix::net::UnixListener`], whose `accept` switches greenlets
/// while it waits.
///
/// Dropping the listener closes the socket but, as with std, leaves its
/// file in the file system: remove it to bind the same path again.
///
/// # Examples
///
/// ```
/// use greenlet::net::{UnixListener, UnixStream};
///
/// let path = std::env::temp_dir().join(format!("greenlet-doc-listener-{}.sock", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let listener = UnixListener::bind(&path)?;
/// let client_path = path.clone();
/// let client = greenlet::spawn(move || UnixStream::connect(client_path).map(|_| ()));
/// let (_conn, peer) = listener.accept()?; // runs the client greenlet meanwhile
/// assert!(peer.is_unnamed());
/// client.join().unwrap()?;
/// std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct UnixListener {
    inner: IoSource<mio::net::UnixListener>,
}

impl UnixListener {
    fn wrap(listener: mio::net::UnixListener) -> io::Result<UnixListener> {
        Ok(UnixListener {
            inner: IoSource::new(listener)?,
        })
    }

    /// Binds a listener to `path`, creating the socket file there.
    ///
    /// # Errors
    ///
    /// `AddrInUse` when a file exists at `path` already, or the kernel's
    /// other errors (such as `NotFound` for a missing directory).
    ///
    /// # Examples
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("greenlet-doc-bind-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = greenlet::net::UnixListener::bind(&path)?;
    /// assert_eq!(listener.local_addr()?.as_pathname(), Some(path.as_path()));
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixListener> {
        UnixListener::wrap(mio::net::UnixListener::bind(path)?)
    }

    /// Binds a listener to `addr`, which may be a path or (on Linux) an
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
    /// let path = std::env::temp_dir().join(format!("greenlet-doc-bind-addr-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let addr = SocketAddr::from_pathname(&path)?;
    /// let listener = greenlet::net::UnixListener::bind_addr(&addr)?;
    /// assert_eq!(listener.local_addr()?.as_pathname(), Some(path.as_path()));
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind_addr(addr: &SocketAddr) -> io::Result<UnixListener> {
        UnixListener::wrap(mio::net::UnixListener::bind_addr(addr)?)
    }

    /// Accepts a connection, waiting (and letting other greenlets run) until
    /// one arrives. The address is the client's: usually unnamed.
    ///
    /// # Errors
    ///
    /// The kernel's error, such as `EMFILE` when out of descriptors.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::{UnixListener, UnixStream};
    ///
    /// let path = std::env::temp_dir().join(format!("greenlet-doc-accept-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = UnixListener::bind(&path)?;
    /// let _client = UnixStream::connect(&path)?;
    /// let (stream, _) = listener.accept()?;
    /// assert_eq!(stream.local_addr()?.as_pathname(), Some(path.as_path()));
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (stream, addr) = self.inner.io(Direction::Read, |l| l.accept())?;
        Ok((UnixStream::wrap(stream)?, addr))
    }

    /// An endless iterator of accepted connections, as std's.
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::{UnixListener, UnixStream};
    ///
    /// let path = std::env::temp_dir().join(format!("greenlet-doc-incoming-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = UnixListener::bind(&path)?;
    /// let _client = UnixStream::connect(&path)?;
    /// let first = listener.incoming().next().unwrap()?;
    /// assert!(first.peer_addr()?.is_unnamed());
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn incoming(&self) -> IncomingUnix<'_> {
        IncomingUnix { listener: self }
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
    /// let path = std::env::temp_dir().join(format!("greenlet-doc-local-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = greenlet::net::UnixListener::bind(&path)?;
    /// assert_eq!(listener.local_addr()?.as_pathname(), Some(path.as_path()));
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get().local_addr()
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
    /// let path = std::env::temp_dir().join(format!("greenlet-doc-error-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = greenlet::net::UnixListener::bind(&path)?;
    /// assert!(listener.take_error()?.is_none());
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.inner.get().take_error()
    }

    /// Converts back into a blocking [`std::os::unix::net::UnixListener`],
    /// leaving the hub.
    ///
    /// # Errors
    ///
    /// The kernel's error when switching back to blocking mode.
    ///
    /// # Examples
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("greenlet-doc-into-std-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = greenlet::net::UnixListener::bind(&path)?;
    /// let std_listener = listener.into_std()?;
    /// assert_eq!(std_listener.local_addr()?.as_pathname(), Some(path.as_path()));
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixListener> {
        let listener = std::os::unix::net::UnixListener::from(self.inner.into_inner());
        listener.set_nonblocking(false)?;
        Ok(listener)
    }
}

impl From<std::os::unix::net::UnixListener> for UnixListener {
    /// Takes over a std listener: it is switched to non-blocking mode and
    /// registered with this thread's hub.
    ///
    /// # Panics
    ///
    /// Panics if the kernel refuses either step; use [`UnixListener::bind`]
    /// to get the error instead.
    fn from(listener: std::os::unix::net::UnixListener) -> UnixListener {
        listener
            .set_nonblocking(true)
            .and_then(|()| UnixListener::wrap(mio::net::UnixListener::from_std(listener)))
            .unwrap_or_else(|e| panic!("greenlet: cannot register a UnixListener: {e}"))
    }
}

impl AsFd for UnixListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.get().as_fd()
    }
}

impl AsRawFd for UnixListener {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.get().as_raw_fd()
    }
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixListener")
            .field("addr", &self.local_addr().ok())
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}

/// The iterator of [`UnixListener::incoming`]; it never returns `None`.
#[derive(Debug)]
pub struct IncomingUnix<'a> {
    listener: &'a UnixListener,
}

impl Iterator for IncomingUnix<'_> {
    type Item = io::Result<UnixStream>;

    fn next(&mut self) -> Option<io::Result<UnixStream>> {
        Some(self.listener.accept().map(|(stream, _)| stream))
    }
}
