//! A member of a [`Group`](super::Group): its record in the group, and the
//! guards captured by its closure that take it out of the group (and give
//! back its pool slot) however it ends.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;

use crate::hub::KillHandle;
use crate::sync::{Event, Semaphore};
use crate::{Greenlet, Scope, ScopedJoinHandle};

/// A member's record in its group.
pub(super) struct Member {
    /// A handle to the member's greenlet that can kill it without taking
    /// the caller's handle; set right after the spawn.
    handle: RefCell<Option<KillHandle>>,
    /// Set when the member's greenlet ends, by a guard of its closure (or,
    /// for [`Group::add`](super::Group::add), of its watcher's).
    ended: Event,
    /// Set when the member has left the group.
    done: Event,
    /// A [`Pool`](super::Pool)'s slot, given back when the member ends.
    slot: Option<Semaphore>,
}

impl Member {
    fn id(&self) -> Option<u64> {
        self.handle.borrow().as_ref().map(|h| h.id())
    }

    fn handle(&self) -> Option<KillHandle> {
        self.handle.borrow().clone() // no borrow across a kill
    }

    fn is_current(&self, current: u64) -> bool {
        self.id() == Some(current)
    }

    /// The event set when the member has left the group.
    pub(super) fn done(&self) -> &Event {
        &self.done
    }

    /// Starts killing the member without waiting: one that has not started
    /// never will.
    pub(super) fn request_stop(&self) {
        if !self.ended.is_set()
            && let Some(handle) = self.handle()
        {
            handle.request_kill();
        }
    }

    /// Kills the member and waits until it is dead.
    pub(super) fn stop(&self) {
        if !self.ended.is_set()
            && let Some(handle) = self.handle()
        {
            handle.kill();
        }
    }
}

/// The members of a group, by key in spawning order.
#[derive(Default)]
pub(super) struct Members {
    members: RefCell<BTreeMap<u64, Rc<Member>>>,
    next_key: Cell<u64>,
}

impl Members {
    /// How many members have not ended.
    pub(super) fn len(&self) -> usize {
        self.members.borrow().len()
    }

    /// The members other than the caller's own, in spawning order.
    pub(super) fn others(&self) -> Vec<Rc<Member>> {
        let current = crate::current().id();
        self.members
            .borrow()
            .values()
            .filter(|m| !m.is_current(current))
            .cloned()
            .collect()
    }

    /// The first member other than the caller's own.
    pub(super) fn first_other(&self) -> Option<Rc<Member>> {
        self.find(|is_current| !is_current)
    }

    /// The caller's own member, if the caller is one.
    pub(super) fn own(&self) -> Option<Rc<Member>> {
        self.find(|is_current| is_current)
    }

    /// The first member for which `wanted` (told whether it is the caller)
    /// holds.
    fn find(&self, wanted: impl Fn(bool) -> bool) -> Option<Rc<Member>> {
        let current = crate::current().id();
        self.members
            .borrow()
            .values()
            .find(|m| wanted(m.is_current(current)))
            .cloned()
    }

    /// Enters a new member, and returns the guard that takes it out.
    fn enrol(
        self: &Rc<Self>,
        handle: Option<KillHandle>,
        slot: Option<Semaphore>,
    ) -> (Rc<Member>, EndGuard) {
        let key = self.next_key.get();
        self.next_key.set(key + 1);
        let member = Rc::new(Member {
            handle: RefCell::new(handle),
            ended: Event::new(),
            done: Event::new(),
            slot,
        });
        self.members.borrow_mut().insert(key, member.clone());
        let end = EndGuard {
            members: self.clone(),
            key,
            member: member.clone(),
        };
        (member, end)
    }
}

/// Takes a member out of its group when dropped, wherever its closure (or
/// its watcher's) is dropped: gives back its slot and sets `done`.
struct EndGuard {
    members: Rc<Members>,
    key: u64,
    member: Rc<Member>,
}

impl Drop for EndGuard {
    fn drop(&mut self) {
        let removed = self.members.members.borrow_mut().remove(&self.key);
        drop(removed); // outside the borrow
        if let Some(slot) = &self.member.slot {
            let _ = slot.release(); // unbounded: never an error
        }
        self.member.done.set();
    }
}

/// Sets an event when dropped.
struct SetOnDrop(Event);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.set();
    }
}

/// What a member's closure carries: dropped as it ends, however it ends
/// (also when it is killed before it starts: its closure is dropped), they
/// end its membership and give back its pool slot.
struct Membership {
    _end: EndGuard,
    _ended: SetOnDrop,
}

/// Enrols a member to be spawned, with its closure's guards.
fn enrol_spawned(members: &Rc<Members>, slot: Option<Semaphore>) -> (Rc<Member>, Membership) {
    let (member, end) = members.enrol(None, slot);
    let ended = SetOnDrop(member.ended.clone());
    let membership = Membership {
        _end: end,
        _ended: ended,
    };
    (member, membership)
}

/// Spawns a member into `members`: a greenlet whose closure carries its
/// [`Membership`].
pub(super) fn spawn_member<T, F>(
    members: &Rc<Members>,
    f: F,
    slot: Option<Semaphore>,
) -> Greenlet<T>
where
    F: FnOnce() -> T + 'static,
    T: 'static,
{
    let (member, membership) = enrol_spawned(members, slot);
    let greenlet = crate::spawn(move || {
        let _membership = membership;
        f()
    });
    *member.handle.borrow_mut() = Some(greenlet.kill_handle());
    greenlet
}

/// [`spawn_member`] for a scoped greenlet of `scope`, whose closure may
/// borrow.
#[track_caller]
pub(super) fn spawn_scoped_member<'scope, T, F>(
    members: &Rc<Members>,
    scope: &'scope Scope<'scope, '_>,
    f: F,
    slot: Option<Semaphore>,
) -> ScopedJoinHandle<'scope, T>
where
    F: FnOnce() -> T + 'scope,
    T: 'scope,
{
    let (member, membership) = enrol_spawned(members, slot);
    let handle = scope.spawn(move || {
        let _membership = membership;
        f()
    });
    *member.handle.borrow_mut() = Some(handle.greenlet().kill_handle());
    handle
}

/// Enters `greenlet`, spawned elsewhere, into `members`, with a small
/// watcher greenlet that waits for it and takes it out when it ends.
pub(super) fn watch_member<T: 'static>(members: &Rc<Members>, greenlet: &Greenlet<T>) {
    let (member, end) = members.enrol(Some(greenlet.kill_handle()), None);
    let watched = greenlet.kill_handle();
    crate::spawn(move || {
        let _end = end;
        let _ended = SetOnDrop(member.ended.clone());
        watched.wait();
    });
}
