//! `Group`: greenlets joined and killed together, gevent's
//! `gevent.pool.Group`.

use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::map::map_in;
use super::member::{Members, spawn_member, watch_member};
use crate::Greenlet;

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
    /// the value, or [`JoinError::Panicked`](crate::JoinError::Panicked)
    /// with the body's panic payload, or
    /// [`JoinError::Killed`](crate::JoinError::Killed); killing it kills the
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
        if !greenlet.is_finished() {
            watch_member(&self.members, greenlet);
        }
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
    #[track_caller]
    pub fn join(&self) {
        while let Some(member) = self.members.first_other() {
            member.done().wait();
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
    #[track_caller]
    pub fn join_timeout(&self, timeout: Duration) -> bool {
        let deadline = Instant::now().checked_add(timeout);
        while let Some(member) = self.members.first_other() {
            let left = match deadline {
                Some(deadline) => deadline.saturating_duration_since(Instant::now()),
                None => Duration::MAX,
            };
            if !member.done().wait_timeout(left) {
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
    #[track_caller]
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
                member.request_stop();
            }
            for member in &others {
                member.done().wait();
            }
        }
        if let Some(own) = self.members.own() {
            own.stop();
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
        self.members.len()
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

impl Group {
    /// The members, for a [`Pool`](super::Pool) to spawn into.
    /// Runs `f` on every item, each in a member greenlet of the group, all
    /// at once, and returns the results in the items' order (gevent's
    /// `Group.map`). The items and `f` may borrow from the caller: the
    /// tasks are [scoped](crate::scope) greenlets, all finished when `map`
    /// returns. [`Pool::map`](super::Pool::map) does the same with at most
    /// the pool's size at once.
    ///
    /// # Panics
    ///
    /// - If `f` panics on some item, resumes that panic in the caller (the
    ///   first in the items' order) once every task has ended.
    /// - Panics if a task was killed (by [`kill`](Self::kill)), once every
    ///   task has ended.
    ///
    /// # Examples
    ///
    /// ```
    /// let group = greenlet::pool::Group::new();
    /// let names = ["ada", "grace"];
    /// let greeting = String::from("hello");
    /// let lines = group.map(|name: &&str| format!("{greeting}, {name}"), &names);
    /// assert_eq!(lines, ["hello, ada", "hello, grace"]);
    /// assert!(group.is_empty());
    /// ```
    #[track_caller]
    pub fn map<I, T, F>(&self, f: F, items: I) -> Vec<T>
    where
        I: IntoIterator,
        F: Fn(I::Item) -> T,
    {
        map_in(&self.members, None, f, items, "Group")
    }

    pub(super) fn members(&self) -> &Rc<Members> {
        &self.members
    }
}

impl fmt::Debug for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Group").field("len", &self.len()).finish()
    }
}
