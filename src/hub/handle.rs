//! Reaching a hub from other threads: [`Handle`], and the waker of one wait
//! that any thread can use ([`RemoteWaker`]).

use std::fmt;
use std::io;
use std::sync::Arc;

use super::scheduler::{Message, Remote};
use super::thread::with_hub;
use super::wait::Waiter;

/// A handle to a thread's hub that other threads can use to spawn
/// greenlets on it, waking it if it sleeps. `Send + Sync + Clone`: move it
/// (or clones) into other threads.
///
/// While a `Handle` lives, the hub counts it as something that could still
/// wake it: a blocking call that would otherwise panic with "would block
/// forever" waits instead (see the README's "Blocking calls and threads").
/// Drop handles you no longer need.
///
/// # Examples
///
/// ```
/// use std::sync::mpsc;
///
/// let handle = greenlet::Handle::current();
/// let (tx, rx) = mpsc::channel();
/// let thread = std::thread::spawn(move || {
///     handle
///         .spawn(move || tx.send(greenlet::current().id()).unwrap())
///         .expect("the main thread's hub is alive");
/// });
/// thread.join().unwrap();
/// greenlet::run(); // the hub runs the greenlet the thread spawned
/// assert!(rx.try_recv().unwrap() > 0);
/// ```
#[derive(Clone)]
pub struct Handle {
    remote: Arc<Remote>,
}

impl Handle {
    /// A handle to the hub of the calling thread.
    ///
    /// # Panics
    ///
    /// Panics if the hub cannot make the eventfd that wakes it (out of file
    /// descriptors), or once the thread's hub has been torn down (in a
    /// destructor run at thread exit). [`Handle::try_current`] returns
    /// these as errors.
    ///
    /// # Examples
    ///
    /// ```
    /// let handle = greenlet::Handle::current();
    /// std::thread::spawn(move || drop(handle)).join().unwrap();
    /// ```
    #[track_caller]
    pub fn current() -> Handle {
        match Handle::try_current() {
            Ok(handle) => handle,
            Err(e) => panic!("greenlet: cannot make a handle to this thread's hub: {e}"),
        }
    }

    /// A handle to the hub of the calling thread.
    ///
    /// # Errors
    ///
    /// The kernel's error when the eventfd that wakes the hub cannot be
    /// made (`EMFILE`: out of file descriptors); an error of kind
    /// [`io::ErrorKind::Other`] once the hub has been torn down at thread
    /// exit.
    ///
    /// # Examples
    ///
    /// ```
    /// let handle = greenlet::Handle::try_current()?;
    /// # drop(handle);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn try_current() -> io::Result<Handle> {
        with_hub(|hub| hub.remote()).map(|remote| Handle { remote })
    }

    /// Spawns `f` as a new greenlet on this handle's hub, from any thread,
    /// waking the hub if it sleeps. The greenlet is detached: what `f`
    /// returns is dropped, and a panic in it is logged, as for a greenlet
    /// whose handle was dropped.
    ///
    /// The hub takes it at its next turn, and runs it in FIFO order with
    /// the greenlets ready then.
    ///
    /// # Errors
    ///
    /// An error of kind [`io::ErrorKind::BrokenPipe`] when the hub's thread
    /// has ended; `f` is dropped, on the calling thread.
    ///
    /// # Examples
    ///
    /// ```
    /// let handle = greenlet::Handle::current();
    /// let event = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    /// let seen = event.clone();
    /// std::thread::spawn(move || {
    ///     handle.spawn(move || seen.store(true, std::sync::atomic::Ordering::SeqCst))
    /// })
    /// .join()
    /// .unwrap()?;
    /// greenlet::run();
    /// assert!(event.load(std::sync::atomic::Ordering::SeqCst));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn spawn<F>(&self, f: F) -> io::Result<()>
    where
        F: FnOnce() + Send + 'static,
    {
        let callback = Box::new(move || {
            drop(super::greenlet::spawn(f));
        });
        self.remote
            .push(Message::Run(callback))
            .map_err(|_| hub_gone())
    }

    /// Whether the hub's thread has ended (or is ending): spawning then
    /// fails.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!greenlet::Handle::current().is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.remote.is_closed()
    }

    /// A waker of `waiter`, a wait of a context of this handle's hub, for
    /// another thread to end.
    pub(crate) fn waker(&self, waiter: Waiter) -> RemoteWaker {
        RemoteWaker {
            remote: self.remote.clone(),
            waiter,
        }
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("closed", &self.is_closed())
            .finish()
    }
}

fn hub_gone() -> io::Error {
    io::Error::new(
        io::ErrorKind::BrokenPipe,
        "greenlet: the hub's thread has ended; the closure was dropped",
    )
}

/// Ends one wait of a context of some hub, from any thread: the remote
/// twin of [`Waiter::wake`]. A stale wait (the context was woken since, by
/// a kill, a timeout or anything else) is ignored by the hub, and a hub
/// whose thread has ended is not touched at all.
pub(crate) struct RemoteWaker {
    remote: Arc<Remote>,
    waiter: Waiter,
}

impl RemoteWaker {
    /// Ends the wait (see the type's docs).
    pub(crate) fn wake(self) {
        // Refused only once the hub's thread has ended: nobody waits then.
        let _ = self.remote.push(Message::Wake(self.waiter));
    }
}

impl fmt::Debug for RemoteWaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteWaker")
            .field("waiter", &self.waiter)
            .finish()
    }
}

/// Wakes a context waiting through [`block_cross`], from any thread.
#[derive(Debug)]
pub(crate) enum CrossWaker {
    /// A context of a hub (a greenlet, or a main context driving its hub).
    Hub(RemoteWaker),
    /// A thread that blocks itself, as std does: the fallback when its hub
    /// cannot be reached from other threads (see [`block_cross`]).
    Thread(std::thread::Thread),
}

impl CrossWaker {
    /// Ends the wait. Spurious wake-ups are allowed: the waiter looks at
    /// what it waits for again.
    pub(crate) fn wake(self) {
        match self {
            CrossWaker::Hub(waker) => waker.wake(),
            CrossWaker::Thread(thread) => thread.unpark(),
        }
    }
}

/// Blocks the running context until the [`CrossWaker`] that `register`
/// stores is woken, from any thread, or `deadline` passes. Only this
/// context waits: a greenlet parks, a main context drives its hub. The
/// caller looks at its condition again afterwards: wake-ups may be
/// spurious, and `register` may see the condition met already (it then
/// wakes the waker at once).
///
/// If the hub cannot be reached from other threads (no eventfd could be
/// made, or the hub was torn down at thread exit), the whole thread blocks
/// instead, as std's calls do, and a debug record says why.
///
/// # Panics
///
/// As every blocking call: while the thread is unwinding it cannot wait; a
/// kill or an expired timeout unwinds it.
#[track_caller]
pub(crate) fn block_cross(
    reason: super::wait::WaitReason,
    deadline: Option<std::time::Instant>,
    register: impl FnOnce(CrossWaker),
) {
    match Handle::try_current() {
        Ok(handle) => super::block_until(reason, deadline, |me| {
            register(CrossWaker::Hub(handle.waker(me)));
        }),
        Err(e) => {
            log::debug!(
                "greenlet: {} blocks the whole thread: its hub cannot be woken from other threads ({e})",
                reason.what
            );
            register(CrossWaker::Thread(std::thread::current()));
            match deadline {
                None => std::thread::park(),
                Some(deadline) => std::thread::park_timeout(
                    deadline.saturating_duration_since(std::time::Instant::now()),
                ),
            }
        }
    }
}
