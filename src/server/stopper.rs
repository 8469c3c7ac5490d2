//! [`Stopper`]: stops a [`StreamServer`](super::StreamServer) from any
//! greenlet or thread, and the thread's registry of running servers it
//! finds them in.
//!
//! Ground rules: a server is in the registry of its own thread from its
//! `start` until its `stop` has ended; the registry holds it strongly, so a
//! running server whose `StreamServer` was dropped can still be stopped.
//! Borrow, then switch: the registry is never borrowed across a stop.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;
use std::time::Duration;

use crate::Handle;

/// What the registry knows of a server: how to stop it. (The server's
/// state lives in `stream.rs`, which calls down into this file.)
pub(super) trait Stop {
    /// Stops the server, waiting up to `timeout` for its handlers.
    fn stop(&self, timeout: Duration);
}

thread_local! {
    /// The servers started on this thread and not yet stopped, by id.
    static RUNNING: RefCell<HashMap<u64, Rc<dyn Stop>>> = RefCell::new(HashMap::new());
}

/// Records that the server `id` runs on this thread.
pub(super) fn register(id: u64, shared: Rc<dyn Stop>) {
    RUNNING.with(|running| running.borrow_mut().insert(id, shared));
}

/// Forgets the server `id` (it has stopped). Quiet during thread exit.
pub(super) fn unregister(id: u64) {
    let removed = RUNNING.try_with(|running| running.borrow_mut().remove(&id));
    drop(removed); // dropped here, with no borrow held
}

/// The server `id`, if it runs on this thread.
fn running(id: u64) -> Option<Rc<dyn Stop>> {
    RUNNING
        .try_with(|running| running.borrow().get(&id).cloned())
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
