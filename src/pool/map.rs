//! `map` for a [`Group`](super::Group) or a [`Pool`](super::Pool): every
//! item's task a scoped greenlet and a member, so that the items and the
//! function may borrow from the caller.

use std::panic;
use std::rc::Rc;

use super::member::{Members, spawn_scoped_member};
use crate::JoinError;
use crate::sync::Semaphore;

/// Runs `f` on every item, each in a member of `members` (taking a slot of
/// `slots` first, if given, and giving it back as the task ends), and
/// returns the results in the items' order.
///
/// # Panics
///
/// Resumes the first panic of `f` (in the items' order) once every task has
/// ended; panics, naming `kind`, if a task was killed.
#[track_caller]
pub(super) fn map_in<I, T, F>(
    members: &Rc<Members>,
    slots: Option<&Semaphore>,
    f: F,
    items: I,
    kind: &str,
) -> Vec<T>
where
    I: IntoIterator,
    F: Fn(I::Item) -> T,
{
    let f = &f;
    let outcomes: Vec<Result<T, JoinError>> = crate::scope(|s| {
        let mut handles = Vec::new();
        for item in items {
            if let Some(slots) = slots {
                slots.acquire();
            }
            let slot = slots.cloned();
            handles.push(spawn_scoped_member(members, s, move || f(item), slot));
        }
        handles.into_iter().map(|h| h.join()).collect()
    });
    let mut results = Vec::with_capacity(outcomes.len());
    let mut panicked = None;
    let mut killed = false;
    for outcome in outcomes {
        match outcome {
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
    assert!(!killed, "greenlet: {kind}::map: a task was killed");
    results
}
