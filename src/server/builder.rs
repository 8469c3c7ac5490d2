//! [`Builder`] and [`ServerHandle`]: a [`StreamServer`] on each of several
//! threads, one hub per core, each with its own `SO_REUSEPORT` listener on
//! the same address, so the kernel spreads the connections among them.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use super::stopper::Stopper;
use super::stream::StreamServer;
use crate::net::{TcpListener, TcpStream};

/// Sets up a server on `threads` OS threads, each running a
/// [`StreamServer`] on its own hub: std's `thread::Builder` shape.
///
/// With more than one thread, each thread's listener is bound to the same
/// address with `SO_REUSEPORT` (`SO_REUSEADDR` too), and the kernel
/// balances new connections among them by a hash of the peer's address.
/// With port 0 the first listener picks the port and the others bind to it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use greenlet::server::Builder;
///
/// let server = Builder::new("127.0.0.1:0".parse().unwrap())
///     .threads(2)
///     .max_connections(1000)
///     .spawn(|stream: greenlet::net::TcpStream, _peer| drop(stream))?;
/// std::net::TcpStream::connect(server.local_addr())?;
/// server.stop(Duration::from_secs(1));
/// server.join().unwrap();
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    addr: SocketAddr,
    threads: usize,
    max_connections: Option<usize>,
}

impl Builder {
    /// A server on `addr`, on one thread, with no limit on connections.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = greenlet::server::Builder::new("127.0.0.1:0".parse().unwrap());
    /// # drop(builder);
    /// ```
    pub fn new(addr: SocketAddr) -> Builder {
        Builder {
            addr,
            threads: 1,
            max_connections: None,
        }
    }

    /// Serves on `n` threads, each with its own hub and listener: one per
    /// core is the usual choice (`std::thread::available_parallelism`).
    ///
    /// # Panics
    ///
    /// Panics if `n` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = greenlet::server::Builder::new("127.0.0.1:0".parse().unwrap()).threads(4);
    /// # drop(builder);
    /// ```
    #[track_caller]
    pub fn threads(mut self, n: usize) -> Builder {
        assert!(n > 0, "greenlet: a server needs at least one thread");
        self.threads = n;
        self
    }

    /// Runs at most `n` handlers at once on each thread (see
    /// [`StreamServer::max_connections`]).
    ///
    /// # Panics
    ///
    /// Panics if `n` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// let builder = greenlet::server::Builder::new("127.0.0.1:0".parse().unwrap())
    ///     .max_connections(10_000);
    /// # drop(builder);
    /// ```
    #[track_caller]
    pub fn max_connections(mut self, n: usize) -> Builder {
        assert!(
            n > 0,
            "greenlet: a server needs max_connections of at least 1"
        );
        self.max_connections = Some(n);
        self
    }

    /// Binds the listeners, starts the threads, and returns once every
    /// thread serves. Each thread runs a clone of `handler` for each of its
    /// connections, in a greenlet of its own.
    ///
    /// # Errors
    ///
    /// The kernel's error from making or binding a listener (such as
    /// `AddrInUse`) or from starting a thread; the threads started already
    /// are stopped first.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::io::Write;
    /// use std::time::Duration;
    ///
    /// let server = greenlet::server::Builder::new("127.0.0.1:0".parse().unwrap())
    ///     .threads(2)
    ///     .spawn(|mut stream: greenlet::net::TcpStream, _peer| {
    ///         let _ = stream.write_all(b"hi");
    ///     })?;
    /// let reply = std::io::read_to_string(std::net::TcpStream::connect(server.local_addr())?)?;
    /// assert_eq!(reply, "hi");
    /// server.stop(Duration::from_secs(1));
    /// server.join().unwrap();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn spawn<H>(self, handler: H) -> io::Result<ServerHandle>
    where
        H: Fn(TcpStream, SocketAddr) + Clone + Send + 'static,
    {
        let reuse_port = self.threads > 1;
        let first = listen(self.addr, reuse_port)?;
        let addr = first.local_addr()?;
        let mut listeners = vec![first];
        for _ in 1..self.threads {
            listeners.push(listen(addr, reuse_port)?);
        }
        let mut server = ServerHandle {
            addr,
            stoppers: Vec::new(),
            threads: Vec::new(),
        };
        for (i, listener) in listeners.into_iter().enumerate() {
            match self.start_thread(i, listener, handler.clone()) {
                Ok((stopper, thread)) => {
                    server.stoppers.push(stopper);
                    server.threads.push(thread);
                }
                Err(e) => {
                    server.stop(Duration::ZERO);
                    let _ = server.join();
                    return Err(e);
                }
            }
        }
        Ok(server)
    }

    /// Starts thread `i`, serving on `listener`; returns once it serves.
    fn start_thread<H>(
        &self,
        i: usize,
        listener: std::net::TcpListener,
        handler: H,
    ) -> io::Result<(Stopper, JoinHandle<()>)>
    where
        H: Fn(TcpStream, SocketAddr) + Send + 'static,
    {
        let (ready, started) = mpsc::channel();
        let max_connections = self.max_connections;
        let thread = thread::Builder::new()
            .name(format!("greenlet-server-{i}"))
            .spawn(move || {
                let server = match TcpListener::try_from_std(listener) {
                    Ok(listener) => StreamServer::new(listener, handler),
                    Err(e) => return drop(ready.send(Err(e))),
                };
                let server = match max_connections {
                    Some(n) => server.max_connections(n),
                    None => server,
                };
                server.start();
                let _ = ready.send(Ok(server.stopper()));
                server.serve_forever();
            })?;
        match started.recv() {
            Ok(Ok(stopper)) => Ok((stopper, thread)),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => {
                let _ = thread.join();
                Err(io::Error::other(
                    "greenlet: a server thread ended before it served",
                ))
            }
        }
    }
}

/// A listening std socket on `addr`, with `SO_REUSEPORT` if `reuse_port`.
fn listen(addr: SocketAddr, reuse_port: bool) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

/// A server running on threads of its own, made by [`Builder::spawn`]:
/// stop it with [`stop`](Self::stop), wait for its threads with
/// [`join`](Self::join). `Send + Sync`.
///
/// Dropping it leaves the threads serving.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let server = greenlet::server::Builder::new("127.0.0.1:0".parse().unwrap())
///     .spawn(|_stream: greenlet::net::TcpStream, _peer| ())?;
/// assert_eq!(server.threads(), 1);
/// server.stop(Duration::ZERO);
/// server.join().unwrap();
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct ServerHandle {
    addr: SocketAddr,
    stoppers: Vec<Stopper>,
    threads: Vec<JoinHandle<()>>,
}

impl ServerHandle {
    /// The address every thread listens on.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = greenlet::server::Builder::new("127.0.0.1:0".parse().unwrap())
    ///     .spawn(|_stream: greenlet::net::TcpStream, _peer| ())?;
    /// assert_ne!(server.local_addr().port(), 0);
    /// # server.stop(std::time::Duration::ZERO);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many threads serve.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = greenlet::server::Builder::new("127.0.0.1:0".parse().unwrap())
    ///     .threads(3)
    ///     .spawn(|_stream: greenlet::net::TcpStream, _peer| ())?;
    /// assert_eq!(server.threads(), 3);
    /// # server.stop(std::time::Duration::ZERO);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn threads(&self) -> usize {
        self.threads.len()
    }

    /// The stoppers of the threads' servers, one per thread (to stop them
    /// from elsewhere while this handle waits in [`join`](Self::join)).
    ///
    /// # Examples
    ///
    /// ```
    /// let server = greenlet::server::Builder::new("127.0.0.1:0".parse().unwrap())
    ///     .spawn(|_stream: greenlet::net::TcpStream, _peer| ())?;
    /// let stoppers = server.stoppers().to_vec();
    /// std::thread::spawn(move || stoppers.iter().for_each(|s| s.stop(std::time::Duration::ZERO)));
    /// server.join().unwrap();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stoppers(&self) -> &[Stopper] {
        &self.stoppers
    }

    /// Stops every thread's server at once, as [`StreamServer::stop`] does
    /// (each waits up to `timeout` for its handlers), and returns when all
    /// have stopped. The threads then end: [`join`](Self::join) them.
    ///
    /// Only the calling greenlet waits (one greenlet per thread's
    /// [`Stopper`] runs the stops); in a thread's main context its hub runs
    /// meanwhile.
    ///
    /// # Panics
    ///
    /// As every blocking call, it unwinds a greenlet killed while it waits.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let server = greenlet::server::Builder::new("127.0.0.1:0".parse().unwrap())
    ///     .threads(2)
    ///     .spawn(|_stream: greenlet::net::TcpStream, _peer| ())?;
    /// let addr = server.local_addr();
    /// server.stop(Duration::from_secs(1));
    /// assert!(std::net::TcpStream::connect(addr).is_err(), "refused");
    /// server.join().unwrap();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn stop(&self, timeout: Duration) {
        let stops: Vec<_> = self
            .stoppers
            .iter()
            .cloned()
            .map(|stopper| crate::spawn(move || stopper.stop(timeout)))
            .collect();
        crate::joinall(stops);
    }

    /// Waits until every thread has ended (after a stop).
    ///
    /// # Errors
    ///
    /// The panic payload of the first thread that panicked.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = greenlet::server::Builder::new("127.0.0.1:0".parse().unwrap())
    ///     .spawn(|_stream: greenlet::net::TcpStream, _peer| ())?;
    /// server.stop(std::time::Duration::ZERO);
    /// assert!(server.join().is_ok());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn join(self) -> thread::Result<()> {
        let mut result = Ok(());
        for thread in self.threads {
            if let Err(payload) = thread.join() {
                result = result.and(Err(payload));
            }
        }
        result
    }
}

impl fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerHandle")
            .field("addr", &self.addr)
            .field("threads", &self.threads.len())
            .finish()
    }
}
