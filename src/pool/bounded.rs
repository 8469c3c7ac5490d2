//! `Pool`: a [`Group`] with a size limit, gevent's `gevent.pool.Pool`.

use std::fmt;
use std::time::Duration;

use super::group::Group;
use super::map::map_in;
use super::member::spawn_member;
use crate::Greenlet;
use crate::sync::Semaphore;

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
    #[track_caller]
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
    #[track_caller]
    pub fn spawn<T, F>(&self, f: F) -> Greenlet<T>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        self.slots.acquire();
        self.spawn_in_slot(f)
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
            Ok(self.spawn_in_slot(f))
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
    #[track_caller]
    pub fn spawn_timeout<T, F>(&self, timeout: Duration, f: F) -> Result<Greenlet<T>, F>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        if self.slots.acquire_timeout(timeout) {
            Ok(self.spawn_in_slot(f))
        } else {
            Err(f)
        }
    }

    /// Runs `f` on every item in the pool's greenlets (at most
    /// [`size`](Self::size) at once) and returns the results in the items'
    /// order. The items and `f` may borrow from the caller: the tasks are
    /// [scoped](crate::scope) greenlets, all finished when `map` returns.
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
    ///
    /// // Borrowing items and a borrowing closure:
    /// let words = vec!["a".to_string(), "bb".to_string()];
    /// let suffix = String::from("!");
    /// let loud = pool.map(|w: &String| format!("{w}{suffix}"), &words);
    /// assert_eq!(loud, ["a!", "bb!"]);
    /// ```
    #[track_caller]
    pub fn map<I, T, F>(&self, f: F, items: I) -> Vec<T>
    where
        I: IntoIterator,
        F: Fn(I::Item) -> T,
    {
        map_in(self.group.members(), Some(&self.slots), f, items, "Pool")
    }

    /// Spawns a member into the slot the caller has just acquired.
    fn spawn_in_slot<T, F>(&self, f: F) -> Greenlet<T>
    where
        F: FnOnce() -> T + 'static,
        T: 'static,
    {
        spawn_member(self.group.members(), f, Some(self.slots.clone()))
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
    #[track_caller]
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
    #[track_caller]
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
    #[track_caller]
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
