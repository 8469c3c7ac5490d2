//! `Pool::imap_unordered` and its iterator: results in the order the tasks
//! finish, with a bounded read-ahead.

use std::collections::BTreeMap;
use std::fmt;
use std::panic;
use std::rc::Rc;

use super::bounded::Pool;
use crate::sync::Queue;
use crate::{Greenlet, JoinError};

impl Pool {
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
