//! [`Stopper`]: stops a [`StreamServer`](super::StreamServer) from any
//! greenlet or thread, and the thread's registry of running servers it
//! finds them in.
//!
//! Ground rules: a server is in the registry of its own thread from the
//! moment it is made until its `stop` has ended (or, never started, it is
//! dropped). The registry holds it weakly until it starts and strongly
//! from then on, so a running server whose `StreamServer` was dropped can
//! still be stopped. Borrow, then switch: the registry is never borrowed
//! across a stop, nor while a server is dropped.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::rc::{Rc, Weak};
use std::time::Duration;

use crate::Handle;

/// What the registry knows of a server: how to stop it. (The server's
/// state lives in `stream.rs`, which calls down into this file.)
pub(super) trait Stop {
    /// Stops the server, waiting up to `timeout` for its handlers.
    fn stop(&self, timeout: Duration);
}

/// A server in the registry.
enum Entry {
    /// Made, not started: its `StreamServer` owns it.
    Made(Weak<dyn Stop>),
    /// Started: it runs until stopped, owned or not.
    Running(Rc<dyn Stop>),
}

thread_local! {
    /// The servers made on this thread and not yet stopped, by id.
    static SERVERS: RefCell<HashMap<u64, Entry>> = RefCell::new(HashMap::new());
}

/// Records that the server `id` was made on this thread.
pub(super) fn register(id: u64, server: Weak<dyn Stop>) {
    SERVERS.with(|servers| servers.borrow_mut().insert(id, Entry::Made(server)));
}

/// Records that the server `id` has started: the registry keeps it alive.
pub(super) fn started(id: u64, server: Rc<dyn Stop>) {
    let old = SERVERS.with(|servers| servers.borrow_mut().insert(id, Entry::Running(server)));
    drop(old); // with no borrow held
}

/// Forgets the server `id` (it has stopped, or is dropped). Quiet during
/// thread exit.
pub(super) fn unregister(id: u64) {
    let removed = SERVERS.try_with(|servers| servers.borrow_mut().remove(&id));
    drop(removed); // with no borrow held
}

/// The server `id`, if it was made on this thread and is alive.
fn running(id: u64) -> Option<Rc<dyn Stop>> {
    SERVERS
        .try_with(|servers| match servers.borrow().get(&id)? {
            Entry::Made(server) => server.upgrade(),
            Entry::Running(server) => Some(server.clone()),
        })
        .ok()
        .flatten()
}

/// Stops a [`StreamServer`](super::StreamServer) from any greenlet of any
/// thread, or from a thread without greenlets: a signal handler's waiter,
/// an admin endpoint, a test. `Send + Sync + Clone`.
///
/// Made by [`StreamServer::stopper`](super::StreamServer::stopper).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use greenlet::server::StreamServer;
///
/// let server = StreamServer::bind("127.0.0.1:0", |_stream, _peer| ())?;
/// server.start();
/// let stopper = server.stopper();
/// std::thread::spawn(move || stopper.stop(Duration::from_secs(1)));
/// server.serve_forever(); // returns once the thread has stopped it
/// assert!(server.is_stopped());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct Stopper {
    handle: Handle,
    id: u64,
}

impl Stopper {
    pub(super) fn new(handle: Handle, id: u64) -> Stopper {
        Stopper { handle, id }
    }

    /// Stops the server as [`StreamServer::stop`](super::StreamServer::stop)
    /// does, and returns once it has stopped: its listener is closed, its
    /// handlers have ended or been killed.
    ///
    /// On the server's own thread it stops the server in the calling
    /// context. From another thread it spawns the stop on the server's hub
    /// (through a [`Handle`]) and waits: a greenlet waits alone, a thread's
    /// main context runs its own hub meanwhile. Stopping a server that has
    /// stopped (or whose thread has ended) does nothing.
    ///
    /// The stop runs when the server's hub next turns: a server thread
    /// blocked in a std call (a std `join`, a std lock) stops only once it
    /// is back in greenlet code.
    ///
    /// # Panics
    ///
    /// As every blocking call, it unwinds a greenlet killed while it waits.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use greenlet::server::StreamServer;
    ///
    /// let server = StreamServer::bind("127.0.0.1:0", |_stream, _peer| ())?;
    /// server.start();
    /// server.stopper().stop(Duration::ZERO); // from this very thread
    /// assert!(server.is_stopped());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn stop(&self, timeout: Duration) {
        if let Some(shared) = running(self.id) {
            shared.stop(timeout);
            return;
        }
        let (done, stopped) = crate::sync::mpsc::channel::<()>();
        let id = self.id;
        let spawned = self.handle.spawn(move || {
            if let Some(shared) = running(id) {
                shared.stop(timeout);
            }
            drop(done);
        });
        if spawned.is_ok() {
            // Ends when `done` is dropped: after the stop, or unrun with a
            // hub that ends.
            let _ = stopped.recv();
        }
    }
}

impl fmt::Debug for Stopper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stopper").field("server", &self.id).finish()
    }
}
