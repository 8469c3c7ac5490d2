//! `Group` and `Pool`: greenlets joined and killed together, gevent's
//! `gevent.pool.Group` and `gevent.pool.Pool`.
//!
//! # Examples
//!
//! ```
//! use greenlet::pool::Pool;
//!
//! // At most two at once; results in the inputs' order.
//! let pool = Pool::new(2);
//! let lengths = pool.map(|word: &str| word.len(), ["one", "three", "five"]);
//! assert_eq!(lengths, [3, 5, 4]);
//! ```
//!
//! # Implementation notes
//!
//! Each member is one greenlet. The caller gets its [`Greenlet`] handle; the
//! group keeps a crate-internal, type-erased handle to the same greenlet, so
//! it can kill it and wait for it without taking the caller's. Guards
//! captured by the member's closure take it out of the group (and give back
//! its [`Pool`] slot) however it ends: returning, panicking, killed, or
//! killed before it starts (the hub then drops the closure unrun). A member
//! counts in [`Group::len`], and against a pool's size, until then.
//! [`Group::add`] tracks a greenlet spawned elsewhere through the same
//! handle and a small watcher greenlet.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt;
use std::panic;
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::hub::KillHandle;
use crate::sync::{Event, Queue, Semaphore};
use crate::{Greenlet, JoinError};

/// A member greenlet as its group sees it: a handle that can kill it and an
/// event set when it ends.
struct Worker {
    handle: RefCell<Option<KillHandle>>,
    /// Set when the member ends, by a guard of its closure (or its watcher).
    ended: Event,
}

impl Worker {
    fn id(&self) -> Option<u64> {
        self.handle.borrow().as_ref().map(|h| h.id())
    }

    fn handle(&self) -> Option<KillHandle> {
        self.handle.borrow().clone() // no borrow across a kill
    }

    /// Starts killing the member without waiting: one that has not started
    /// never will.
    fn request_stop(&self) {
        if !self.ended.is_set()
            && let Some(handle) = self.handle()
        {
            handle.request_kill();
        }
    }

    /// Kills the member and waits until it is dead.
    fn stop(&self) {
        if !self.ended.is_set()
            && let Some(handle) = self.handle()
        {
            handle.kill();
        }
    }
}

/// A member's record in its group.
struct Member {
    worker: Rc<Worker>,
    /// How many of the member's greenlets have not ended (1: the member,
    /// or for [`Group::add`] its watcher).
    live: Cell<u8>,
    /// Set when both have ended.
    done: Event,
    /// A [`Pool`]'s slot, given back when the member ends.
    slot: Option<Semaphore>,
}

impl Member {
    fn is_current(&self, current: u64) -> bool {
        self.worker.id() == Some(current)
    }
}

#[derive(Default)]
struct Members {
    members: RefCell<BTreeMap<u64, Rc<Member>>>,
    next_key: Cell<u64>,
}

impl Members {
    /// The members other than the caller's own, in spawning order.
    fn others(&self) -> Vec<Rc<Member>> {
        let current = crate::current().id();
        self.members
            .borrow()
            .values()
            .filter(|m| !m.is_current(current))
            .cloned()
            .collect()
    }

    /// The first member other than the caller's own.
    fn first_other(&self) -> Option<Rc<Member>> {
        let current = crate::current().id();
        self.members
            .borrow()
            .values()
            .find(|m| !m.is_current(current))
            .cloned()
    }
}

/// Ends a member's greenlet (or its watcher), wherever its closure is dropped.
struct EndGuard {
    members: Rc<Members>,
    key: u64,
    member: Rc<Member>,
}

impl Drop for EndGuard {
    fn drop(&mut self) {
        let live = self.member.live.get() - 1;
        self.member.live.set(live);
        if live == 0 {
            let removed = self.members.members.borrow_mut().remove(&self.key);
            drop(removed); // outside the borrow
            if let Some(slot) = &self.member.slot {
                let _ = slot.release(); // unbounded: never an error
            }
            self.member.done.set();
        }
    }
}

/// Sets an event when dropped.
struct SetOnDrop(Event);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.set();
    }
}

/// Spawns a member into `members`: a greenlet whose closure carries the
/// guards that end its membership (and give back its pool slot) however it
/// ends, also when it is killed before it starts (its closure is dropped).
fn spawn_member<T, F>(members: &Rc<Members>, f: F, slot: Option<Semaphore>) -> Greenlet<T>
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    let key = members.next_key.get();
    members.next_key.set(key + 1);
    let worker = Rc::new(Worker {
        handle: RefCell::new(None),
        ended: Event::new(),
    });
    let member = Rc::new(Member {
        worker: worker.clone(),
        live: Cell::new(1),
        done: Event::new(),
        slot,
    });
    members.members.borrow_mut().insert(key, member.clone());
    let end = EndGuard {
        members: members.clone(),
        key,
        member,
    };
    let ended = SetOnDrop(worker.ended.clone());
    let greenlet = crate::spawn(move || {
        let _end = end;
        let _ended = ended;
        f()
    });
    *worker.handle.borrow_mut() = Some(greenlet.kill_handle());
    greenlet
}

/// A set of greenlets with no size limit, joined and killed together:
/// gevent's `Group`.
///
/// A `Group` is a cheap handle: clones share the members. Members leave the
/// group when they end, however they end.
///
/// Greenlets spawned another way join with [`add`](Self::add).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use greenlet::pool::Group;
///
/// let group = Group::new();
/// for i in 0..3u64 {
///     group.spawn(move || greenlet::sleep(Duration::from_millis(i)));
/// }
/// assert_eq!(group.len(), 3);
/// group.join();
/// assert!(group.is_empty());
/// ```
#[derive(Clone, Default)]
pub struct Group {
    members: Rc<Members>,
}

impl Group {
    /// An empty group.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(greenlet::pool::Group::new().is_empty());
    /// ```
    pub fn new() -> Group {
        Group::default()
    }

    /// Spawns a greenlet that runs `f` as a member of the group, and returns
    /// its handle, as [`spawn`](crate::spawn) does.
    ///
    /// The handle behaves as a plain greenlet's: [`Greenlet::join`] returns
    /// the value, or [`JoinError::Panicked`]
    /// with the body's panic payload, or
    /// [`JoinError::Killed`]; killing it kills the
    /// body. Dropping the handle leaves the member in the group.
    ///
    /// Killing the handle kills the member: [`Greenlet::kill`] returns once
    /// it is dead, its destructors run, and it has left the group.
    ///
    /// # Examples
    ///
    /// ```
    /// let group = greenlet::pool::Group::new();
    /// let g = group.spawn(|| 6 * 7);
    /// assert_eq!(g.join().unwrap(), 42);
    /// let bad = group.spawn(|| -> u32 { panic!("no luck") });
    /// assert!(bad.join().unwrap_err().is_panic());
    /// ```
    pub fn spawn<T, F>(&self, f: F) -> Greenlet<T>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        spawn_member(&self.members, f, None)
    }

    /// Adds a greenlet spawned elsewhere: the group's [`join`](Self::join)
    /// waits for it, [`kill`](Self::kill) kills it, and [`len`](Self::len)
    /// counts it until it ends. The caller keeps its handle (to join it for
    /// its result). Adding a greenlet that has ended already does nothing.
    ///
    /// # Implementation notes
    ///
    /// A small watcher greenlet waits for the added one and takes it out of
    /// the group when it ends.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let group = greenlet::pool::Group::new();
    /// let g = greenlet::spawn(|| greenlet::sleep(Duration::from_secs(3600)));
    /// group.add(&g);
    /// assert_eq!(group.len(), 1);
    /// group.kill();
    /// assert!(g.join().unwrap_err().is_killed());
    /// assert!(group.is_empty());
    /// ```
    pub fn add<T: 'static>(&self, greenlet: &Greenlet<T>) {
        if greenlet.is_finished() {
            return;
        }
        let members = &self.members;
        let key = members.next_key.get();
        members.next_key.set(key + 1);
        let worker = Rc::new(Worker {
            handle: RefCell::new(Some(greenlet.kill_handle())),
            ended: Event::new(),
        });
        let member = Rc::new(Member {
            worker: worker.clone(),
            live: Cell::new(1),
            done: Event::new(),
            slot: None,
        });
        members.members.borrow_mut().insert(key, member.clone());
        let end = EndGuard {
            members: members.clone(),
            key,
            member,
        };
        let watched = greenlet.kill_handle();
        crate::spawn(move || {
            let _end = end;
            let _ended = SetOnDrop(worker.ended.clone());
            watched.wait();
        });
    }

    /// Waits until every member has ended, including members spawned while
    /// it waits. Called from a member, it waits for all the others.
    ///
    /// # Panics
    ///
    /// Unwinds the caller if it is killed, or its timeout expires, while it
    /// waits. In the main context, panics with the deadlock report when a
    /// member can never end.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc};
    ///
    /// let group = greenlet::pool::Group::new();
    /// let done = Rc::new(Cell::new(0));
    /// for _ in 0..4 {
    ///     let done = done.clone();
    ///     group.spawn(move || done.set(done.get() + 1));
    /// }
    /// group.join();
    /// assert_eq!(done.get(), 4);
    /// ```
    pub fn join(&self) {
        while let Some(member) = self.members.first_other() {
            member.done.wait();
        }
    }

    /// As [`join`](Self::join), waiting at most `timeout`; returns whether
    /// every member had ended.
    ///
    /// # Panics
    ///
    /// As [`join`](Self::join).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let group = greenlet::pool::Group::new();
    /// group.spawn(|| greenlet::sleep(Duration::from_secs(3600)));
    /// assert!(!group.join_timeout(Duration::from_millis(5)));
    /// group.kill();
    /// assert!(group.join_timeout(Duration::ZERO));
    /// ```
    pub fn join_timeout(&self, timeout: Duration) -> bool {
        let deadline = Instant::now().checked_add(timeout);
        while let Some(member) = self.members.first_other() {
            let left = match deadline {
                Some(deadline) => deadline.saturating_duration_since(Instant::now()),
                None => Duration::MAX,
            };
            if !member.done.wait_timeout(left) {
                return false;
            }
        }
        true
    }

    /// Kills every member and waits until they have all ended, including
    /// members spawned meanwhile (by destructors, say). A member that has
    /// not started never runs its body; a started one unwinds from the call
    /// it blocks in, so its destructors run.
    ///
    /// Called from a member, it kills all the others first, then the caller
    /// (which unwinds at once).
    ///
    /// # Panics
    ///
    /// As [`Greenlet::kill`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let group = greenlet::pool::Group::new();
    /// let sleeper = group.spawn(|| greenlet::sleep(Duration::from_secs(3600)));
    /// greenlet::yield_now(); // let it start sleeping
    /// group.kill();
    /// assert!(group.is_empty());
    /// assert!(sleeper.join().unwrap_err().is_killed());
    /// ```
    pub fn kill(&self) {
        loop {
            let others = self.members.others();
            if others.is_empty() {
                break;
            }
            // Start every kill before waiting for any: a member that has
            // not started is removed at once, so none starts its body while
            // the started ones are being killed.
            for member in &others {
                member.worker.request_stop();
            }
            for member in &others {
                member.done.wait();
            }
        }
        let current = crate::current().id();
        let own = self
            .members
            .members
            .borrow()
            .values()
            .find(|m| m.is_current(current))
            .cloned();
        if let Some(own) = own {
            own.worker.stop();
        }
    }

    /// How many members have not ended.
    ///
    /// # Examples
    ///
    /// ```
    /// let group = greenlet::pool::Group::new();
    /// group.spawn(|| ());
    /// assert_eq!(group.len(), 1);
    /// group.join();
    /// assert_eq!(group.len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        self.members.members.borrow().len()
    }

    /// True when every member has ended.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(greenlet::pool::Group::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Group").field("len", &self.len()).finish()
    }
}

/// A [`Group`] with a size limit: at most `size` members run at once
/// (gevent's `Pool`).
///
/// [`spawn`](Self::spawn) waits while the pool is full, and callers are
/// admitted in the order they came. A member's slot frees when it ends,
/// however it ends (returned, panicked or killed). A `Pool` is a cheap
/// handle: clones share the members and the slots.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use greenlet::pool::Pool;
///
/// let pool = Pool::new(2);
/// for _ in 0..5 {
///     pool.spawn(|| greenlet::sleep(Duration::from_millis(1)));
///     assert!(pool.len() <= 2);
/// }
/// pool.join();
/// assert_eq!(pool.free_count(), 2);
/// ```
#[derive(Clone)]
pub struct Pool {
    group: Group,
    size: usize,
    slots: Semaphore,
}

impl Pool {
    /// A pool of at most `size` members.
    ///
    /// # Panics
    ///
    /// Panics if `size` is 0: nothing could ever run in it.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = greenlet::pool::Pool::new(4);
    /// assert_eq!((pool.size(), pool.free_count()), (4, 4));
    /// ```
    ///
    /// ```should_panic
    /// greenlet::pool::Pool::new(0); // panics
    /// ```
    pub fn new(size: usize) -> Pool {
        assert!(size > 0, "greenlet: a Pool needs a size of at least 1");
        Pool {
            group: Group::new(),
            size,
            slots: Semaphore::new(size),
        }
    }

    /// The most members it runs at once.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(greenlet::pool::Pool::new(3).size(), 3);
    /// ```
    pub fn size(&self) -> usize {
        self.size
    }

    /// Waits (FIFO) for a free slot, then spawns a member that runs `f`, as
    /// [`Group::spawn`] does, and returns its handle.
    ///
    /// # Panics
    ///
    /// Unwinds the caller if it is killed, or its timeout expires, while it
    /// waits for a slot. In the main context, panics with the deadlock
    /// report if no slot can ever free.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = greenlet::pool::Pool::new(1);
    /// let a = pool.spawn(|| "a");
    /// let b = pool.spawn(|| "b"); // waits until `a` has ended
    /// assert!(a.is_finished());
    /// assert_eq!(b.join().unwrap(), "b");
    /// ```
    pub fn spawn<T, F>(&self, f: F) -> Greenlet<T>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        self.slots.acquire();
        spawn_member(&self.group.members, f, Some(self.slots.clone()))
    }

    /// Spawns a member that runs `f` if a slot is free (and nobody waits for
    /// one); never blocks.
    ///
    /// # Errors
    ///
    /// Gives `f` back when the pool is full.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = greenlet::pool::Pool::new(1);
    /// let first = pool.try_spawn(|| 1).ok().unwrap();
    /// let refused = pool.try_spawn(|| 2);
    /// assert!(refused.is_err(), "full: the closure comes back");
    /// assert_eq!(first.join().unwrap(), 1);
    /// ```
    pub fn try_spawn<T, F>(&self, f: F) -> Result<Greenlet<T>, F>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        if self.slots.try_acquire() {
            Ok(spawn_member(
                &self.group.members,
                f,
                Some(self.slots.clone()),
            ))
        } else {
            Err(f)
        }
    }

    /// As [`spawn`](Self::spawn), waiting at most `timeout` for a slot.
    ///
    /// # Errors
    ///
    /// Gives `f` back when no slot freed in time.
    ///
    /// # Panics
    ///
    /// As [`spawn`](Self::spawn) while it waits.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let pool = greenlet::pool::Pool::new(1);
    /// let busy = pool.spawn(|| greenlet::sleep(Duration::from_secs(3600)));
    /// assert!(pool.spawn_timeout(Duration::from_millis(5), || ()).is_err());
    /// busy.kill(); // frees its slot
    /// pool.join();
    /// assert!(pool.spawn_timeout(Duration::from_secs(5), || ()).is_ok());
    /// ```
    pub fn spawn_timeout<T, F>(&self, timeout: Duration, f: F) -> Result<Greenlet<T>, F>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        if self.slots.acquire_timeout(timeout) {
            Ok(spawn_member(
                &self.group.members,
                f,
                Some(self.slots.clone()),
            ))
        } else {
            Err(f)
        }
    }

    /// Runs `f` on every item in the pool's greenlets (at most
    /// [`size`](Self::size) at once) and returns the results in the items'
    /// order.
    ///
    /// # Panics
    ///
    /// - If `f` panics on some item, resumes that panic in the caller
    ///   (`std::panic::resume_unwind` of the first such payload, in the
    ///   items' order) once every task has ended.
    /// - Panics if a task was killed (by [`kill`](Self::kill)), once every
    ///   task has ended.
    /// - As [`spawn`](Self::spawn) while it waits; the tasks already spawned
    ///   then go on running.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = greenlet::pool::Pool::new(3);
    /// let squares = pool.map(|n: u64| n * n, 1..=5);
    /// assert_eq!(squares, [1, 4, 9, 16, 25]);
    /// ```
    pub fn map<I, T, F>(&self, f: F, items: I) -> Vec<T>
    where
        I: IntoIterator,
        I::Item: 'static,
        F: Fn(I::Item) -> T + 'static,
        T: 'static,
    {
        let f = Rc::new(f);
        let handles: Vec<Greenlet<T>> = items
            .into_iter()
            .map(|item| {
                let f = f.clone();
                self.spawn(move || f(item))
            })
            .collect();
        let mut results = Vec::with_capacity(handles.len());
        let mut panicked = None;
        let mut killed = false;
        for handle in handles {
            match handle.join() {
                Ok(value) => results.push(value),
                Err(JoinError::Panicked(payload)) => {
                    panicked.get_or_insert(payload);
                }
                Err(JoinError::Killed) => killed = true,
            }
        }
        if let Some(payload) = panicked {
            panic::resume_unwind(payload);
        }
        assert!(!killed, "greenlet: Pool::map: a task was killed");
        results
    }

    /// Runs `f` on every item in the pool's greenlets and yields the results
    /// as the tasks finish.
    ///
    /// The read-ahead is bounded: the iterator spawns nothing until it is
    /// first advanced, and never has more than [`size`](Self::size) tasks
    /// spawned whose results it has not yielded.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let pool = greenlet::pool::Pool::new(3);
    /// let order: Vec<u64> = pool
    ///     .imap_unordered(
    ///         |ms: u64| {
    ///             greenlet::sleep(Duration::from_millis(ms));
    ///             ms
    ///         },
    ///         [30, 1, 15],
    ///     )
    ///     .collect();
    /// assert_eq!(order, [1, 15, 30]);
    /// ```
    pub fn imap_unordered<I, T, F>(&self, f: F, items: I) -> ImapUnordered<T>
    where
        I: IntoIterator,
        I::IntoIter: 'static,
        I::Item: 'static,
        F: Fn(I::Item) -> T + 'static,
        T: 'static,
    {
        let f = Rc::new(f);
        let tasks = items.into_iter().map(move |item| {
            let f = f.clone();
            Box::new(move || f(item)) as Box<dyn FnOnce() -> T>
        });
        ImapUnordered {
            pool: self.clone(),
            tasks: Box::new(tasks),
            in_flight: BTreeMap::new(),
            next_key: 0,
            finished: Queue::unbounded(),
            over: false,
        }
    }

    /// Waits until every member has ended: as [`Group::join`].
    ///
    /// # Panics
    ///
    /// As [`Group::join`].
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = greenlet::pool::Pool::new(2);
    /// pool.spawn(|| ());
    /// pool.join();
    /// assert!(pool.is_empty());
    /// ```
    pub fn join(&self) {
        self.group.join();
    }

    /// As [`join`](Self::join), waiting at most `timeout`; returns whether
    /// every member had ended.
    ///
    /// # Panics
    ///
    /// As [`Group::join`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let pool = greenlet::pool::Pool::new(2);
    /// pool.spawn(|| greenlet::sleep(Duration::from_secs(3600)));
    /// assert!(!pool.join_timeout(Duration::from_millis(5)));
    /// pool.kill();
    /// ```
    pub fn join_timeout(&self, timeout: Duration) -> bool {
        self.group.join_timeout(timeout)
    }

    /// Kills every member and waits until they have ended: as
    /// [`Group::kill`]. Their slots free.
    ///
    /// # Panics
    ///
    /// As [`Greenlet::kill`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let pool = greenlet::pool::Pool::new(1);
    /// pool.spawn(|| greenlet::sleep(Duration::from_secs(3600)));
    /// pool.kill();
    /// assert_eq!(pool.free_count(), 1);
    /// ```
    pub fn kill(&self) {
        self.group.kill();
    }

    /// How many more members could start now without waiting.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = greenlet::pool::Pool::new(2);
    /// pool.spawn(|| ());
    /// assert_eq!(pool.free_count(), 1);
    /// pool.join();
    /// assert_eq!(pool.free_count(), 2);
    /// ```
    pub fn free_count(&self) -> usize {
        self.slots.available()
    }

    /// How many members have not ended (at most [`size`](Self::size)).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = greenlet::pool::Pool::new(2);
    /// pool.spawn(|| ());
    /// assert_eq!(pool.len(), 1);
    /// ```
    pub fn len(&self) -> usize {
        self.group.len()
    }

    /// True when every member has ended.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(greenlet::pool::Pool::new(2).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.group.is_empty()
    }
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("size", &self.size)
            .field("len", &self.len())
            .field("free", &self.free_count())
            .finish()
    }
}

/// The iterator of [`Pool::imap_unordered`]: results in the order the tasks
/// finish.
///
/// Dropping it early leaves the tasks in flight running in the pool.
///
/// # Panics
///
/// [`next`](Iterator::next) waits for the next result: as [`Pool::spawn`]
/// while it waits. If a task panicked, `next` resumes that panic in the
/// caller (`std::panic::resume_unwind` of its payload). If a task was
/// killed, the iteration ends: `next` returns `None` from then on.
///
/// # Examples
///
/// ```
/// let pool = greenlet::pool::Pool::new(2);
/// let mut sum = 0;
/// for n in pool.imap_unordered(|n: u32| n + 1, 0..10) {
///     sum += n;
/// }
/// assert_eq!(sum, 55);
/// ```
pub struct ImapUnordered<T> {
    pool: Pool,
    tasks: Box<dyn Iterator<Item = Box<dyn FnOnce() -> T>>>,
    in_flight: BTreeMap<u64, Greenlet<T>>,
    next_key: u64,
    /// Keys of the tasks that ended, in the order they ended.
    finished: Queue<u64>,
    over: bool,
}

/// Puts a task's key in the finished queue when dropped, however it ends.
struct ReportEnd {
    key: u64,
    finished: Queue<u64>,
}

impl Drop for ReportEnd {
    fn drop(&mut self) {
        let _ = self.finished.put(self.key); // unbounded and never closed
    }
}

impl<T: 'static> Iterator for ImapUnordered<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        if self.over {
            return None;
        }
        while self.in_flight.len() < self.pool.size() {
            let Some(task) = self.tasks.next() else { break };
            let key = self.next_key;
            self.next_key += 1;
            let report = ReportEnd {
                key,
                finished: self.finished.clone(),
            };
            let handle = self.pool.spawn(move || {
                let _report = report;
                task()
            });
            self.in_flight.insert(key, handle);
        }
        if self.in_flight.is_empty() {
            self.over = true;
            return None;
        }
        let key = self
            .finished
            .get()
            .expect("the finished queue is never closed");
        let handle = self
            .in_flight
            .remove(&key)
            .expect("a finished task was in flight");
        match handle.join() {
            Ok(value) => Some(value),
            Err(JoinError::Panicked(payload)) => panic::resume_unwind(payload),
            Err(JoinError::Killed) => {
                self.over = true;
                None
            }
        }
    }
}

impl<T> fmt::Debug for ImapUnordered<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImapUnordered")
            .field("pool", &self.pool)
            .field("in_flight", &self.in_flight.len())
            .field("over", &self.over)
            .finish_non_exhaustive()
    }
}
