//! `UnixListener` and its `Incoming` iterator, with the shapes of
//! `std::os::unix::net`.

use std::io;
use std::os::unix::net::SocketAddr;
use std::path::Path;

use super::stream::UnixStream;
use crate::net::impls::{incoming, socket_traits};
use crate::net::socket::Socket;

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
pub struct UnixListener(Socket<mio::net::UnixListener>);

impl UnixListener {
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
        Socket::new(mio::net::UnixListener::bind(path)?).map(UnixListener)
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
        Socket::new(mio::net::UnixListener::bind_addr(addr)?).map(UnixListener)
    }

    /// Accepts a connection, waiting (and letting other greenlets run) until
    /// one arrives. The address is the client's: usually unnamed.
    ///
    /// A failed accept switches before it returns its error, as
    /// [`TcpListener::accept`](crate::net::TcpListener::accept) does: it
    /// sleeps 10 ms after running out of resources (`EMFILE`, `ENFILE`,
    /// `ENOBUFS`, `ENOMEM`) and yields after any other error, except in
    /// [non-blocking mode](Self::set_nonblocking).
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
    #[track_caller]
    pub fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        self.0.accept(
            |l| l.accept(),
            |(stream, addr)| Ok((UnixStream::new(stream)?, addr)),
        )
    }

    /// As [`accept`](Self::accept), without the pause after a failure: for
    /// the servers, which back off by themselves.
    #[track_caller]
    pub(crate) fn accept_unpaused(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (stream, addr) = self.0.read(|l| l.accept())?;
        Ok((UnixStream::new(stream)?, addr))
    }

    /// An endless iterator of accepted connections, as std's. Each item is
    /// [`accept`](Self::accept)'s, so an error has switched before it is
    /// returned.
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
    /// let path = std::env::temp_dir().join(format!("greenlet-doc-local-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = greenlet::net::UnixListener::bind(&path)?;
    /// assert_eq!(listener.local_addr()?.as_pathname(), Some(path.as_path()));
    /// std::fs::remove_file(&path)?;
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
    /// use greenlet::net::{UnixListener, UnixStream};
    ///
    /// let path = std::env::temp_dir().join(format!("greenlet-doc-clone-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = UnixListener::bind(&path)?;
    /// let clone = listener.try_clone()?;
    /// let _client = UnixStream::connect(&path)?;
    /// let (stream, _) = clone.accept()?;
    /// assert_eq!(stream.local_addr()?.as_pathname(), Some(path.as_path()));
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_clone(&self) -> io::Result<UnixListener> {
        self.0.try_clone().map(UnixListener)
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
    /// let path = std::env::temp_dir().join(format!("greenlet-doc-nonblocking-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = greenlet::net::UnixListener::bind(&path)?;
    /// listener.set_nonblocking(true)?;
    /// let err = listener.accept().unwrap_err(); // nobody connects
    /// assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    /// std::fs::remove_file(&path)?;
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
    /// let path = std::env::temp_dir().join(format!("greenlet-doc-error-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let listener = greenlet::net::UnixListener::bind(&path)?;
    /// assert!(listener.take_error()?.is_none());
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.0.take_error()
    }

    /// Converts back into a blocking [`std::os::unix::net::UnixListener`],
    /// leaving the hub.
    ///
    /// # Errors
    ///
    /// `Other` if clones made by [`try_clone`](Self::try_clone) are still
    /// alive, or the kernel's error when switching back to blocking mode.
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
        self.0.into_std()
    }
}

socket_traits!(UnixListener, std::os::unix::net::UnixListener, debug { "addr" => local_addr });
incoming!(Incoming, UnixListener, UnixStream);

/// Iterates over accepted connections, as [`UnixListener::incoming`]: `for
/// stream in &listener` (std has the same impl).
///
/// # Examples
///
/// ```
/// use greenlet::net::{UnixListener, UnixStream};
///
/// let path = std::env::temp_dir().join(format!("greenlet-doc-into-iter-{}.sock", std::process::id()));
/// # let _ = std::fs::remove_file(&path);
/// let listener = UnixListener::bind(&path)?;
/// let _client = UnixStream::connect(&path)?;
/// for stream in &listener {
///     assert!(stream?.peer_addr()?.is_unnamed());
///     break;
/// }
/// std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
impl<'a> IntoIterator for &'a UnixListener {
    type Item = io::Result<UnixStream>;
    type IntoIter = Incoming<'a>;

    fn into_iter(self) -> Incoming<'a> {
        self.incoming()
    }
}
