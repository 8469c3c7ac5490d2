//! [`ThreadPool`]: OS threads for blocking calls, started on demand up to a
//! bound, leaving after a keep-alive without work.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use super::task::{JoinHandle, Slot};

/// A job: runs the task (`None`), or fails it with the error that kept any
/// pool thread from starting. It calls its second argument once the task
/// has run, before its handle can see the outcome (see [`State::coming`]).
type Job = Box<dyn FnOnce(Option<&io::Error>, &dyn Fn()) + Send>;

/// What the pool's threads share.
struct Shared {
    state: Mutex<State>,
    /// Signalled when a job is queued or the pool shuts down.
    work: Condvar,
    max_threads: usize,
    keep_alive: Duration,
}

/// The pool's counts. Every queued job has a thread that will take it:
/// one `coming`, one `notified`, or (when all are busy and the pool is at
/// its bound) whichever finishes first. So a task queued by a waiter that
/// was just woken is taken by the thread that woke it, with no other
/// thread woken for nothing: the round trip of `apply` costs two wake-ups.
/// (tokio's blocking pool counts notifications the same way.)
struct State {
    queue: VecDeque<Job>,
    /// Threads alive (running a job or waiting for one).
    threads: usize,
    /// Threads waiting for a job that no notification has claimed.
    idle: usize,
    /// Notifications sent to idle threads and not yet taken up: each
    /// brings one thread back to the queue (the condvar's spurious
    /// wake-ups are told from them by this count).
    notified: usize,
    /// Threads on their way to the queue without a notification: just
    /// started, or done with a job whose outcome they are delivering. Each
    /// looks at the queue before it waits.
    coming: usize,
    /// Every `ThreadPool` handle is gone: threads leave once the queue is
    /// empty.
    shutdown: bool,
}

/// The default keep-alive: how long a pool thread waits for work before it
/// leaves.
pub const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(10);

/// A pool of OS threads for blocking calls, shared by every thread that
/// holds it (`Send + Sync + Clone`).
///
/// Threads start on demand, up to `max_threads`; a task queued while every
/// thread is busy waits for one. A thread with no work for the keep-alive
/// ([`DEFAULT_KEEP_ALIVE`] unless set) leaves, so an idle pool holds no
/// threads. Tasks cannot be stopped once started: a greenlet killed while
/// it waits for one unwinds at once, and the task's result is dropped when
/// it arrives.
///
/// When the last clone of the pool is dropped, its threads finish the
/// tasks queued and leave.
///
/// # Examples
///
/// ```
/// use greenlet::threadpool::ThreadPool;
///
/// let pool = ThreadPool::new(4); // at most 4 threads
/// let task = pool.spawn(|| (1..=20u64).product::<u64>());
/// let doubled: Vec<u64> = pool.map(|a: u64| a + a, 0..10);
/// assert_eq!(doubled, [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
/// assert_eq!(task.join().unwrap(), 2_432_902_008_176_640_000);
/// ```
#[derive(Clone)]
pub struct ThreadPool {
    owner: Arc<Owner>,
}

/// Shuts the pool down when the last `ThreadPool` clone is dropped (the
/// threads hold `Shared`, not this).
struct Owner(Arc<Shared>);

impl Drop for Owner {
    fn drop(&mut self) {
        self.0.lock().shutdown = true;
        self.0.work.notify_all();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Jobs run outside the lock and nothing under it panics.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl ThreadPool {
    /// A pool of at most `max_threads` threads, none started yet, with the
    /// default keep-alive.
    ///
    /// # Panics
    ///
    /// Panics if `max_threads` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = greenlet::threadpool::ThreadPool::new(4);
    /// assert_eq!(pool.max_threads(), 4);
    /// assert_eq!(pool.threads(), 0);
    /// ```
    #[track_caller]
    pub fn new(max_threads: usize) -> ThreadPool {
        ThreadPool::with_keep_alive(max_threads, DEFAULT_KEEP_ALIVE)
    }

    /// A pool of at most `max_threads` threads, each leaving after
    /// `keep_alive` without work.
    ///
    /// # Panics
    ///
    /// Panics if `max_threads` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let pool = greenlet::threadpool::ThreadPool::with_keep_alive(2, Duration::from_millis(50));
    /// pool.spawn(|| ()).join().unwrap();
    /// assert_eq!(pool.threads(), 1);
    /// ```
    #[track_caller]
    pub fn with_keep_alive(max_threads: usize, keep_alive: Duration) -> ThreadPool {
        assert!(
            max_threads > 0,
            "greenlet: a thread pool needs at least one thread"
        );
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                threads: 0,
                idle: 0,
                notified: 0,
                coming: 0,
                shutdown: false,
            }),
            work: Condvar::new(),
            max_threads,
            keep_alive,
        });
        ThreadPool {
            owner: Arc::new(Owner(shared)),
        }
    }

    fn shared(&self) -> &Arc<Shared> {
        &self.owner.0
    }

    /// The most threads this pool runs at once.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(greenlet::threadpool::ThreadPool::new(3).max_threads(), 3);
    /// ```
    pub fn max_threads(&self) -> usize {
        self.shared().max_threads
    }

    /// How many threads the pool has now, busy or idle.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(greenlet::threadpool::ThreadPool::new(3).threads(), 0);
    /// ```
    pub fn threads(&self) -> usize {
        self.shared().lock().threads
    }

    /// Starts `f` on a pool thread (at once if one is free or can be
    /// started, otherwise when one is free) and returns its handle.
    ///
    /// A panic in `f` is caught and comes back from
    /// [`JoinHandle::join`] as [`JoinError::Panicked`](crate::JoinError).
    /// If no pool thread can be started at all (the system refuses new
    /// threads), the task fails the same way, with a message saying so.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = greenlet::threadpool::ThreadPool::new(2);
    /// let task = pool.spawn(|| std::fs::read_to_string("Cargo.toml"));
    /// assert!(task.join().unwrap()?.contains("[package]"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn spawn<T, F>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let slot = Slot::new();
        let done = slot.clone();
        self.submit(Box::new(
            move |failed: Option<&io::Error>, on_the_way_back: &dyn Fn()| {
                let outcome = match failed {
                    None => panic::catch_unwind(AssertUnwindSafe(f)),
                    Some(e) => {
                        let message = format!("greenlet: no thread pool thread could start: {e}");
                        Err(Box::new(message) as Box<dyn std::any::Any + Send>)
                    }
                };
                done.complete(outcome, on_the_way_back);
            },
        ));
        JoinHandle::new(slot)
    }

    /// gevent's name for [`Self::spawn`].
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = greenlet::threadpool::ThreadPool::new(1);
    /// assert_eq!(pool.apply_async(|| 6 * 7).join().unwrap(), 42);
    /// ```
    pub fn apply_async<T, F>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.spawn(f)
    }

    /// Runs `f` on a pool thread and returns what it returns. Only the
    /// calling greenlet waits.
    ///
    /// # Panics
    ///
    /// A panic in `f` resumes in the caller. As every blocking call, a kill
    /// or an expired timeout unwinds the caller at once (the task goes on;
    /// its result is dropped when it arrives).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = greenlet::threadpool::ThreadPool::new(1);
    /// assert_eq!(pool.apply(|| 6 * 7), 42);
    /// ```
    #[track_caller]
    pub fn apply<T, F>(&self, f: F) -> T
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        match self.spawn(f).join() {
            Ok(value) => value,
            Err(crate::JoinError::Panicked(payload)) => panic::resume_unwind(payload),
            Err(crate::JoinError::Killed) => unreachable!("pool tasks are never killed"),
        }
    }

    /// Applies `f` to every item on the pool's threads, in parallel, and
    /// returns the results in the items' order.
    ///
    /// # Panics
    ///
    /// The first panic among the items, in their order, resumes in the
    /// caller once that item is reached (the others still run; their
    /// results are dropped). Kills and timeouts as [`Self::apply`].
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = greenlet::threadpool::ThreadPool::new(4);
    /// assert_eq!(pool.map(|a: u64| a * a, 1..5), [1, 4, 9, 16]);
    /// ```
    #[track_caller]
    pub fn map<T, R, F, I>(&self, f: F, items: I) -> Vec<R>
    where
        F: Fn(T) -> R + Send + Sync + 'static,
        T: Send + 'static,
        R: Send + 'static,
        I: IntoIterator<Item = T>,
    {
        self.imap(f, items).collect()
    }

    /// As [`Self::map`], but yields the results one by one, in the items'
    /// order, as they are ready. Every item is started at once.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = greenlet::threadpool::ThreadPool::new(2);
    /// let mut squares = pool.imap(|a: u64| a * a, 1..4);
    /// assert_eq!(squares.next(), Some(1));
    /// assert_eq!(squares.collect::<Vec<_>>(), [4, 9]);
    /// ```
    pub fn imap<T, R, F, I>(&self, f: F, items: I) -> Imap<R>
    where
        F: Fn(T) -> R + Send + Sync + 'static,
        T: Send + 'static,
        R: Send + 'static,
        I: IntoIterator<Item = T>,
    {
        let f = Arc::new(f);
        let tasks = items
            .into_iter()
            .map(|item| {
                let f = f.clone();
                self.spawn(move || f(item))
            })
            .collect();
        Imap { tasks }
    }

    fn submit(&self, job: Job) {
        let shared = self.shared();
        let mut state = shared.lock();
        state.queue.push_back(job);
        let (mut notify, mut start) = (false, false);
        if state.queue.len() > state.coming + state.notified {
            if state.idle > 0 {
                state.idle -= 1;
                state.notified += 1;
                notify = true;
            } else if state.threads < shared.max_threads {
                state.threads += 1;
                state.coming += 1;
                start = true;
            }
        }
        drop(state);
        if notify {
            shared.work.notify_one();
        }
        if start && let Err(e) = start_thread(shared.clone()) {
            let mut state = shared.lock();
            state.threads -= 1;
            state.coming -= 1;
            // With no thread at all, nothing would ever run the queue.
            let failed: Vec<Job> = if state.threads == 0 {
                state.queue.drain(..).collect()
            } else {
                Vec::new()
            };
            drop(state);
            log::error!("greenlet: cannot start a thread pool thread: {e}");
            for job in failed {
                job(Some(&e), &|| {});
            }
        }
    }
}

/// Starts one pool thread (counted in `threads` and `coming` already).
fn start_thread(shared: Arc<Shared>) -> io::Result<()> {
    std::thread::Builder::new()
        .name("greenlet-pool".into())
        .spawn(move || work(&shared))
        .map(drop)
}

/// A pool thread's life: runs jobs until it has waited a keep-alive for
/// one in vain, or the pool shut down with nothing queued.
fn work(shared: &Shared) {
    log::debug!("a thread pool thread starts");
    while let Some(job) = next_job(shared) {
        // Jobs catch their own panics, and say when they are done (once).
        let back = std::cell::Cell::new(false);
        let on_the_way_back = || {
            if !back.replace(true) {
                shared.lock().coming += 1;
            }
        };
        job(None, &on_the_way_back);
        on_the_way_back();
    }
    log::debug!("a thread pool thread leaves");
}

/// The next job for a thread counted in `coming`, or `None` when it
/// leaves (its keep-alive passed, or the pool shut down, with nothing
/// queued).
fn next_job(shared: &Shared) -> Option<Job> {
    let mut state = shared.lock();
    state.coming -= 1;
    loop {
        if let Some(job) = state.queue.pop_front() {
            return Some(job);
        }
        if state.shutdown {
            state.threads -= 1;
            return None;
        }
        state.idle += 1;
        let notified;
        (state, notified) = wait_for_notice(shared, state);
        if !notified && !state.shutdown && state.queue.is_empty() {
            state.threads -= 1;
            return None;
        }
    }
}

/// Waits, counted in `idle`, until a notification is taken up (`true`: the
/// submitter took the thread out of `idle`), or the keep-alive passes or
/// the pool shuts down (`false`: the thread left `idle` itself).
fn wait_for_notice<'a>(
    shared: &'a Shared,
    mut state: MutexGuard<'a, State>,
) -> (MutexGuard<'a, State>, bool) {
    loop {
        let (next, waited) = shared
            .work
            .wait_timeout(state, shared.keep_alive)
            .unwrap_or_else(|e| e.into_inner());
        state = next;
        if state.notified > 0 {
            state.notified -= 1;
            return (state, true);
        }
        if state.shutdown || waited.timed_out() {
            state.idle -= 1;
            return (state, false);
        }
        // A spurious wake-up: wait on.
    }
}

impl fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared().lock();
        f.debug_struct("ThreadPool")
            .field("max_threads", &self.shared().max_threads)
            .field("threads", &state.threads)
            .field("queued", &state.queue.len())
            .finish()
    }
}

/// The results of [`ThreadPool::imap`], in the items' order.
///
/// # Panics
///
/// `next` resumes an item's panic, and unwinds on a kill or timeout, as
/// [`ThreadPool::apply`].
pub struct Imap<R> {
    tasks: VecDeque<JoinHandle<R>>,
}

impl<R> Iterator for Imap<R> {
    type Item = R;

    fn next(&mut self) -> Option<R> {
        let task = self.tasks.pop_front()?;
        match task.join() {
            Ok(value) => Some(value),
            Err(crate::JoinError::Panicked(payload)) => panic::resume_unwind(payload),
            Err(crate::JoinError::Killed) => unreachable!("pool tasks are never killed"),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.tasks.len(), Some(self.tasks.len()))
    }
}

impl<R> ExactSizeIterator for Imap<R> {}

impl<R> fmt::Debug for Imap<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Imap")
            .field("left", &self.tasks.len())
            .finish()
    }
}
