//! [`StreamServer`]: gevent's `StreamServer` on one hub.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::acceptor::{Acceptor, Handler};
use super::listener::Listener;
use super::stopper::{self, Stopper};
use crate::net::{TcpListener, TcpStream, ToSocketAddrs};
use crate::pool::Group;
use crate::sync::{Event, Semaphore};
use crate::{Greenlet, Handle};

/// Ids of servers, unique in the process (the stoppers find servers by id).
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Where a server is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Made, not started: the listener is open, nothing accepts.
    Ready,
    /// Its accept loop runs.
    Serving,
    /// A stop is under way.
    Stopping,
    /// Stopped: the listener is closed and every handler has ended.
    Stopped,
}

/// A server that runs a handler in a greenlet of its own for each
/// connection it accepts: gevent's `StreamServer`. It serves on a
/// [`TcpListener`] (the default, made by [`bind`](Self::bind)) or a
/// [`UnixListener`](crate::net::UnixListener) (given to
/// [`new`](Self::new)): the [`Listener`]s.
///
/// - [`start`](Self::start) spawns its accept loop and returns;
///   [`serve_forever`](Self::serve_forever) starts it and waits until it
///   is stopped.
/// - [`max_connections`](Self::max_connections) limits the live handlers
///   (gevent's `spawn=Pool(n)`): while they are all busy the server does
///   not accept, and new connections wait in the kernel's backlog.
/// - [`stop`](Self::stop) closes the listener (new connections are
///   refused), waits for the live handlers, and kills those still running
///   when its timeout passes. A [`Stopper`] does the same from any thread.
/// - A failed `accept` never starves the hub: when resources run out
///   (`EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`) the loop sleeps 10 ms,
///   doubling up to 1 s until an accept succeeds again, logging one
///   `warn!` when the episode begins and one when it ends; other errors
///   (`ECONNABORTED`, …) are logged at `debug!` and it accepts on.
///
/// A server and its greenlets stay on the thread that made it (it is
/// `!Send`); to serve on every core, see [`Builder`](super::Builder).
///
/// Dropping a started `StreamServer` leaves it serving (gevent's servers
/// run until stopped): its [`Stopper`]s can still stop it, and the thread's
/// exit ends it with the thread's other greenlets.
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use std::time::Duration;
/// use greenlet::net::TcpStream;
/// use greenlet::server::StreamServer;
///
/// let server = StreamServer::bind("127.0.0.1:0", |mut stream: TcpStream, _peer| {
///     let _ = stream.write_all(b"hello\n");
/// })?;
/// server.start();
/// let mut client = TcpStream::connect(server.local_addr()?)?;
/// let mut reply = String::new();
/// client.read_to_string(&mut reply)?;
/// assert_eq!(reply, "hello\n");
/// server.stop(Duration::from_secs(1));
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct StreamServer<L: Listener = TcpListener> {
    shared: Rc<Shared<L>>,
}

/// What a server's handles share: the [`StreamServer`], and the registry
/// that [`Stopper`]s find it in.
struct Shared<L: Listener> {
    id: u64,
    /// The listener's address, read when the server was made.
    addr: Result<L::Addr, (io::ErrorKind, String)>,
    /// The listener until the accept loop takes it at `start`.
    listener: RefCell<Option<L>>,
    /// The accept loop, while it runs.
    acceptor: RefCell<Option<Greenlet<()>>>,
    handler: Handler<L>,
    handlers: Group,
    slots: RefCell<Option<Semaphore>>,
    state: Cell<State>,
    /// Set once stopped.
    stopped: Event,
}

impl<L: Listener> StreamServer<L> {
    /// A server that accepts on `listener` and runs `handler` with each
    /// connection and its peer's address, in a greenlet of its own. It
    /// does not accept before [`start`](Self::start).
    ///
    /// # Examples
    ///
    /// ```
    /// use greenlet::net::TcpListener;
    /// use greenlet::server::StreamServer;
    ///
    /// let listener = TcpListener::bind("127.0.0.1:0")?;
    /// let addr = listener.local_addr()?;
    /// let server = StreamServer::new(listener, |_stream, _peer| ());
    /// assert_eq!(server.local_addr()?, addr);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// On a Unix socket:
    ///
    /// ```
    /// use std::io::Write;
    /// use std::time::Duration;
    /// use greenlet::net::{UnixListener, UnixStream};
    /// use greenlet::server::StreamServer;
    ///
    /// let path = std::env::temp_dir().join(format!("greenlet-doc-server-{}.sock", std::process::id()));
    /// # let _ = std::fs::remove_file(&path);
    /// let server = StreamServer::new(UnixListener::bind(&path)?, |mut stream: UnixStream, _peer| {
    ///     let _ = stream.write_all(b"hi");
    /// });
    /// server.start();
    /// let reply = std::io::read_to_string(UnixStream::connect(&path)?)?;
    /// assert_eq!(reply, "hi");
    /// server.stop(Duration::from_secs(1));
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new<H>(listener: L, handler: H) -> StreamServer<L>
    where
        H: Fn(L::Stream, L::Addr) + 'static,
    {
        let addr = listener
            .listening_addr()
            .map_err(|e| (e.kind(), e.to_string()));
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let shared = Rc::new(Shared {
            id,
            addr,
            listener: RefCell::new(Some(listener)),
            acceptor: RefCell::new(None),
            handler: Rc::new(handler),
            handlers: Group::new(),
            slots: RefCell::new(None),
            state: Cell::new(State::Ready),
            stopped: Event::new(),
        });
        let weak: Weak<dyn stopper::Stop> =
            Rc::downgrade(&(shared.clone() as Rc<dyn stopper::Stop>));
        stopper::register(id, weak);
        StreamServer { shared }
    }

    /// Runs at most `n` handlers at once: with `n` live, the server accepts
    /// the next connection only when one ends (gevent's `spawn=Pool(n)`).
    ///
    /// # Panics
    ///
    /// Panics if `n` is 0, or once the server has started.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = greenlet::server::StreamServer::bind("127.0.0.1:0", |_stream, _peer| ())?
    ///     .max_connections(1000);
    /// assert_eq!(server.connections(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn max_connections(self, n: usize) -> StreamServer<L> {
        assert!(
            n > 0,
            "greenlet: a StreamServer needs max_connections of at least 1"
        );
        assert_eq!(
            self.shared.state.get(),
            State::Ready,
            "greenlet: max_connections on a server that has started"
        );
        *self.shared.slots.borrow_mut() = Some(Semaphore::new(n));
        self
    }

    /// The address the server listens on (still known once stopped).
    ///
    /// # Errors
    ///
    /// The kernel's error if it could not tell the listener's address when
    /// the server was made.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = greenlet::server::StreamServer::bind("127.0.0.1:0", |_stream, _peer| ())?;
    /// assert!(server.local_addr()?.ip().is_loopback());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn local_addr(&self) -> io::Result<L::Addr> {
        self.shared
            .addr
            .clone()
            .map_err(|(kind, message)| io::Error::new(kind, message))
    }

    /// Starts accepting, in a greenlet of its own, and returns. Does
    /// nothing if the server has started already, or was stopped.
    ///
    /// # Panics
    ///
    /// As [`spawn`](crate::spawn), if the accept loop's greenlet cannot be
    /// made.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let server = greenlet::server::StreamServer::bind("127.0.0.1:0", |_stream, _peer| ())?;
    /// server.start();
    /// assert!(server.is_serving());
    /// greenlet::net::TcpStream::connect(server.local_addr()?)?;
    /// server.stop(Duration::from_secs(1));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn start(&self) {
        let shared = &self.shared;
        if shared.state.get() != State::Ready {
            return;
        }
        let listener = shared.listener.borrow_mut().take();
        let Some(listener) = listener else {
            return;
        };
        let acceptor = Acceptor {
            listener,
            addr: shared.addr.as_ref().ok().cloned(),
            handler: shared.handler.clone(),
            handlers: shared.handlers.clone(),
            slots: shared.slots.borrow().clone(),
        };
        shared.state.set(State::Serving);
        stopper::started(shared.id, Rc::clone(shared) as Rc<dyn stopper::Stop>);
        let greenlet = crate::spawn(move || acceptor.run());
        *shared.acceptor.borrow_mut() = Some(greenlet);
        log::debug!("greenlet: server {} serves on {:?}", shared.id, shared.addr);
    }

    /// Starts the server if it has not started, then waits until it is
    /// stopped (by a handler, another greenlet, or another thread through a
    /// [`Stopper`]). In the thread's main context the hub runs meanwhile.
    ///
    /// # Panics
    ///
    /// As [`start`](Self::start); as every blocking call, it unwinds a
    /// greenlet killed while it waits.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let server = greenlet::server::StreamServer::bind("127.0.0.1:0", |_stream, _peer| ())?;
    /// let stopper = server.stopper();
    /// greenlet::spawn_later(Duration::from_millis(5), move || stopper.stop(Duration::ZERO));
    /// server.serve_forever();
    /// assert!(server.is_stopped());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn serve_forever(&self) {
        self.start();
        self.shared.stopped.wait();
    }

    /// Stops the server: closes the listener (connections not yet accepted
    /// are refused or reset), waits up to `timeout` for the live handlers to
    /// end, then kills the rest (each unwinds from the call it blocks in,
    /// closing its connection), and returns once every handler has ended.
    ///
    /// A second stop while one is under way waits for it; a stop of a
    /// stopped server returns at once. Called from one of the server's own
    /// handlers, it waits for the others, and if it must kill them the
    /// caller is killed last (it unwinds).
    ///
    /// # Panics
    ///
    /// As every blocking call, it unwinds a greenlet killed while it waits.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use greenlet::net::TcpStream;
    /// use greenlet::server::StreamServer;
    ///
    /// let server = StreamServer::bind("127.0.0.1:0", |_stream, _peer| {
    ///     greenlet::sleep(Duration::from_secs(3600)); // a straggler
    /// })?;
    /// server.start();
    /// let addr = server.local_addr()?;
    /// let _client = TcpStream::connect(addr)?;
    /// greenlet::sleep(Duration::from_millis(10)); // accepted meanwhile
    /// assert_eq!(server.connections(), 1);
    /// server.stop(Duration::from_millis(10)); // kills the straggler
    /// assert_eq!(server.connections(), 0);
    /// assert!(TcpStream::connect(addr).is_err(), "refused");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn stop(&self, timeout: Duration) {
        stopper::Stop::stop(&*self.shared, timeout);
    }

    /// A handle that stops this server from any thread: see [`Stopper`].
    ///
    /// # Panics
    ///
    /// As [`Handle::current`], when the hub cannot be reached from other
    /// threads (out of file descriptors for its eventfd).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let server = greenlet::server::StreamServer::bind("127.0.0.1:0", |_stream, _peer| ())?;
    /// server.start();
    /// let stopper = server.stopper();
    /// std::thread::spawn(move || stopper.stop(Duration::ZERO));
    /// server.serve_forever();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn stopper(&self) -> Stopper {
        Stopper::new(Handle::current(), self.shared.id)
    }

    /// How many handlers are live.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = greenlet::server::StreamServer::bind("127.0.0.1:0", |_stream, _peer| ())?;
    /// assert_eq!(server.connections(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn connections(&self) -> usize {
        self.shared.handlers.len()
    }

    /// Whether it has started and no stop has begun.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = greenlet::server::StreamServer::bind("127.0.0.1:0", |_stream, _peer| ())?;
    /// assert!(!server.is_serving());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_serving(&self) -> bool {
        self.shared.state.get() == State::Serving
    }

    /// Whether a stop has ended.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = greenlet::server::StreamServer::bind("127.0.0.1:0", |_stream, _peer| ())?;
    /// server.stop(std::time::Duration::ZERO);
    /// assert!(server.is_stopped());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_stopped(&self) -> bool {
        self.shared.state.get() == State::Stopped
    }
}

impl StreamServer<TcpListener> {
    /// Binds a listener to the first address of `addr` that works, as
    /// [`TcpListener::bind`] does, and makes a server on it.
    ///
    /// # Errors
    ///
    /// As [`TcpListener::bind`], such as `AddrInUse`.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = greenlet::server::StreamServer::bind("127.0.0.1:0", |_stream, _peer| ())?;
    /// assert_ne!(server.local_addr()?.port(), 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind<A, H>(addr: A, handler: H) -> io::Result<StreamServer>
    where
        A: ToSocketAddrs,
        H: Fn(TcpStream, std::net::SocketAddr) + 'static,
    {
        Ok(StreamServer::new(TcpListener::bind(addr)?, handler))
    }
}

impl<L: Listener> stopper::Stop for Shared<L> {
    /// See [`StreamServer::stop`].
    fn stop(&self, timeout: Duration) {
        match self.state.get() {
            State::Stopped => return,
            State::Stopping => return self.stopped.wait(),
            State::Ready | State::Serving => {}
        }
        self.state.set(State::Stopping);
        let _stopped = MarkStopped(self); // however the stop ends
        drop(self.listener.borrow_mut().take());
        let acceptor = self.acceptor.borrow_mut().take();
        if let Some(acceptor) = acceptor {
            acceptor.kill(); // drops, so closes, the listener
        }
        if !self.handlers.join_timeout(timeout) {
            log::debug!(
                "greenlet: server {}: killing {} handlers still running after {timeout:?}",
                self.id,
                self.handlers.len()
            );
            self.handlers.kill();
        }
    }
}

impl<L: Listener> Drop for Shared<L> {
    /// A server dropped unstarted leaves the registry (a started one is
    /// dropped only once stopped, or at thread exit).
    fn drop(&mut self) {
        stopper::unregister(self.id);
    }
}

/// Marks its server stopped when dropped: at the end of a stop, or when the
/// stopping greenlet unwinds (a handler that stopped its own server).
struct MarkStopped<'a, L: Listener>(&'a Shared<L>);

impl<L: Listener> Drop for MarkStopped<'_, L> {
    fn drop(&mut self) {
        self.0.state.set(State::Stopped);
        self.0.stopped.set();
        stopper::unregister(self.0.id);
        log::debug!("greenlet: server {} stopped", self.0.id);
    }
}

impl<L: Listener> fmt::Debug for StreamServer<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamServer")
            .field("addr", &self.shared.addr)
            .field("state", &self.shared.state.get())
            .field("connections", &self.connections())
            .finish()
    }
}
