//! A greenlet's block: the [`Header`] at the start of its allocation,
//! which the hub, the loop and the handles share, and the coroutine type
//! that runs its body.

use std::alloc::Layout;
use std::cell::{Cell, UnsafeCell};
use std::panic::Location;
use std::ptr::{self, NonNull};
use std::rc::Rc;

use super::locals::LocalMap;
use super::wait::{Unwind, WaitReason, Waiter};

/// What a greenlet asks of the loop when it suspends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Request {
    /// `yield_now`: put it at the back of the ready queue. The loop does the
    /// bookkeeping, so the hottest switch touches the hub once, not twice.
    Requeue,
    /// It has recorded its wait in the hub itself: nothing to do.
    Parked,
    /// The greenlet's body has ended: its coroutine (a *carrier*) is free to
    /// run the body of the next greenlet that starts.
    Finished,
}

/// The coroutine type of a greenlet: a carrier that runs greenlet bodies one
/// after another on one stack. It is resumed with `true` to go on (to start
/// the greenlet that is then the running one, or to wake the one it runs,
/// which learns why from its header) or with `false` to return when idle,
/// and suspends with a [`Request`].
pub(crate) type GreenletCoroutine =
    corosensei::Coroutine<bool, Request, (), crate::stack::PooledStack>;

pub(crate) type GreenletYielder = corosensei::Yielder<bool, Request>;

/// A greenlet's name, shared with the [`Current`](super::Current) values
/// that report it. `Rc<String>` rather than `Rc<str>`: one word in the
/// header instead of two, and the builder's `String` is kept, not copied.
pub(crate) type Name = Rc<String>;

/// A carrier coroutine, boxed so that moving it is one word.
pub(crate) type CoroutineBox = Box<GreenletCoroutine>;

/// The contexts waiting for a greenlet to finish: the first (the usual
/// only one) inline, in the allocation the header points at.
struct JoinList {
    first: Waiter,
    more: Vec<Waiter>,
}

/// The functions that know a greenlet's types (its body's and its
/// result's), made for each pair of types by `task.rs`, which states their
/// contract.
pub(crate) struct Vtable {
    /// Runs the body and stores (or drops) the outcome.
    pub(super) run: unsafe fn(NonNull<Header>),
    /// Drops a body that never ran and records the outcome.
    pub(super) discard_body: unsafe fn(NonNull<Header>, Option<String>),
    /// Records `Killed` as the outcome unless there is one.
    pub(super) set_killed: unsafe fn(NonNull<Header>),
    /// Drops the allocation's contents in place.
    pub(super) drop_box: unsafe fn(NonNull<Header>),
    /// The allocation's layout.
    pub(super) layout: Layout,
}

/// Everything the hub and the handles know about one greenlet. It lives in
/// the greenlet's shared allocation (with its body and its outcome), so its
/// address is stable and the hub needs no table lookup to switch to it.
///
/// The fields the switch touches come first, and the rest is packed, so that
/// the greenlet's allocation stays small.
pub(crate) struct Header {
    /// How many `TaskRef`s point at the greenlet's allocation.
    pub(super) refs: Cell<u32>,
    /// The functions that know the greenlet's types.
    pub(super) vtable: &'static Vtable,
    pub(crate) id: u64,
    /// The current wait id; 0 while running.
    pub(crate) wait: Cell<u64>,
    /// The greenlet's slot in the hub's task table, while it is alive.
    key: Cell<u32>,
    /// The pending unwind, encoded by [`encode`].
    pending: Cell<u64>,
    // # Invariant
    // Null until the greenlet's coroutine starts; from then on it points at
    // the yielder on the base of that coroutine's stack, which lives until
    // the coroutine finishes.
    yielder: Cell<*const GreenletYielder>,
    // # Invariant
    // The carrier coroutine running the greenlet, from its start until it
    // finishes. Only the main context touches it (through the methods
    // below), never while a greenlet runs: so a borrow of it lasts at most
    // one resume of that coroutine and no two borrows overlap. It stays in
    // place across the resume: taking it out and putting it back would cost
    // a switch several instructions.
    coroutine: UnsafeCell<Option<CoroutineBox>>,
    /// Contexts waiting for this greenlet to finish: boxed, as most
    /// greenlets have none, to keep the header small.
    joiners: Cell<Option<Box<JoinList>>>,
    /// The greenlet's name, if it was given one: a thin pointer, to keep
    /// the header small.
    pub(crate) name: Option<Name>,
    /// The requested stack size (at most 1 GiB, checked by the builder).
    stack_size: u32,
    pub(crate) started: Cell<bool>,
    pub(crate) finished: Cell<bool>,
    /// Set when the greenlet's handle is dropped before its outcome is
    /// known: the greenlet then drops its outcome itself, as it ends.
    pub(crate) detached: Cell<bool>,
    /// Parked on I/O: counted in the hub's `io_waiting` until it is woken.
    pub(crate) io_wait: Cell<bool>,
    /// Set before the coroutine is dropped at thread exit, so that the
    /// greenlet lets corosensei's unwinding pass instead of catching it.
    pub(crate) tearing_down: Cell<bool>,
    /// The greenlet's `greenlet_local!` values, dropped when it ends.
    pub(crate) locals: Cell<Option<Box<LocalMap>>>,
    /// Where the greenlet was spawned, for `run_info` and the blocking
    /// monitor.
    spawned_at: &'static Location<'static>,
    /// What the greenlet last parked on, for the deadlock report: written
    /// as it parks, in the header it already holds (a table of reasons
    /// would cost a parking greenlet a borrow and a bounds check). `None`
    /// (a single null word) until it first parks.
    reason: Cell<Option<WaitReason>>,
}

/// [`Header::pending`] when no unwind is pending.
const NO_UNWIND: u64 = 0;
/// [`Header::pending`] for a kill; any other value is a timeout id (timeout
/// ids count from 1 and never reach it).
const KILL: u64 = u64::MAX;

fn encode(unwind: Option<Unwind>) -> u64 {
    match unwind {
        None => NO_UNWIND,
        Some(Unwind::Kill) => KILL,
        Some(Unwind::Timeout(id)) => id,
    }
}

fn decode(pending: u64) -> Option<Unwind> {
    match pending {
        NO_UNWIND => None,
        KILL => Some(Unwind::Kill),
        id => Some(Unwind::Timeout(id)),
    }
}

impl Header {
    /// A new greenlet's header. Only `TypedTask::new` makes headers: every
    /// header is the start of a greenlet's allocation (see `task`).
    ///
    /// # Panics
    ///
    /// Panics if `stack_size` does not fit in a `u32` (the builder caps it at
    /// 1 GiB first).
    #[inline]
    pub(super) fn new(
        id: u64,
        name: Option<Name>,
        stack_size: usize,
        spawned_at: &'static Location<'static>,
        vtable: &'static Vtable,
    ) -> Self {
        Header {
            refs: Cell::new(1),
            vtable,
            id,
            wait: Cell::new(0),
            key: Cell::new(u32::MAX),
            pending: Cell::new(NO_UNWIND),
            yielder: Cell::new(ptr::null()),
            coroutine: UnsafeCell::new(None),
            joiners: Cell::new(None),
            name,
            stack_size: u32::try_from(stack_size).expect("stack size checked by the builder"),
            started: Cell::new(false),
            finished: Cell::new(false),
            detached: Cell::new(false),
            io_wait: Cell::new(false),
            tearing_down: Cell::new(false),
            locals: Cell::new(None),
            spawned_at,
            reason: Cell::new(None),
        }
    }

    /// Records what the greenlet parks on.
    #[inline(always)]
    pub(super) fn set_reason(&self, reason: WaitReason) {
        self.reason.set(Some(reason));
    }

    /// What the greenlet last parked on, if it has parked.
    pub(super) fn reason(&self) -> Option<WaitReason> {
        self.reason.get()
    }

    /// Where the greenlet was spawned.
    pub(crate) fn spawned_at(&self) -> &'static Location<'static> {
        self.spawned_at
    }

    /// The stack size requested for the greenlet.
    pub(crate) fn stack_size(&self) -> usize {
        self.stack_size as usize
    }

    /// Gives the greenlet the carrier that runs it, when it starts.
    ///
    /// # Safety
    ///
    /// Only the main context calls this, while no greenlet runs (see the
    /// invariant of `coroutine`).
    #[inline(always)]
    pub(crate) unsafe fn set_coroutine(&self, carrier: CoroutineBox) {
        // SAFETY: no greenlet runs (the caller's promise), so by the
        // invariant of `coroutine` no borrow of it is live.
        let slot = unsafe { &mut *self.coroutine.get() };
        // A greenlet starts once: there is no carrier to drop.
        debug_assert!(slot.is_none(), "a greenlet starts once");
        if let Some(old) = slot.replace(carrier) {
            drop_carrier(old);
        }
    }

    /// Takes the greenlet's carrier out: when its body has finished, or to
    /// unwind it at thread exit.
    ///
    /// # Safety
    ///
    /// As for [`Self::set_coroutine`].
    #[inline(always)]
    pub(crate) unsafe fn take_coroutine(&self) -> Option<CoroutineBox> {
        // SAFETY: as in `set_coroutine`.
        unsafe { (*self.coroutine.get()).take() }
    }

    /// Resumes the greenlet's carrier, in place, until it suspends; returns
    /// what it asks of the loop. Returns `None` at once if the greenlet has
    /// no carrier (it has not started).
    ///
    /// # Safety
    ///
    /// Only the hub's loop calls this, on the main context, having marked
    /// this greenlet as the running one (`context::resume`), and the header
    /// must stay alive until it returns.
    #[inline(always)]
    pub(crate) unsafe fn resume(&self) -> Option<Request> {
        // SAFETY: no greenlet runs (the caller's promise), so by the
        // invariant of `coroutine` no other borrow of it is live, and none
        // is made while this one lasts: the greenlet resumed below does not
        // touch it, and the loop is not reentered until it suspends.
        let carrier = unsafe { (*self.coroutine.get()).as_deref_mut()? };
        log::trace!("switch to {}", self.describe());
        match carrier.resume(true) {
            corosensei::CoroutineResult::Yield(request) => Some(request),
            corosensei::CoroutineResult::Return(()) => {
                unreachable!("a carrier returns only when idle")
            }
        }
    }

    /// Remembers the yielder of the greenlet's carrier, when it starts.
    ///
    /// # Safety
    ///
    /// `yielder` must be the one corosensei handed to the body of the
    /// carrier that runs this greenlet (see the invariant of `yielder`).
    #[inline(always)]
    pub(crate) unsafe fn set_yielder(&self, yielder: &GreenletYielder) {
        self.yielder.set(yielder);
    }

    /// The yielder of the greenlet's carrier: null until it starts, then
    /// valid while the greenlet runs (see the invariant of `yielder`).
    #[inline(always)]
    pub(crate) fn yielder(&self) -> *const GreenletYielder {
        self.yielder.get()
    }

    /// Whether an unwind is pending: the one check on `yield_now`'s path.
    #[inline(always)]
    pub(crate) fn has_pending(&self) -> bool {
        self.pending.get() != NO_UNWIND
    }

    /// The greenlet's slot in the hub's task table, while it is alive.
    #[inline(always)]
    pub(crate) fn key(&self) -> usize {
        self.key.get() as usize
    }

    /// Records the greenlet's slot in the hub's task table.
    ///
    /// # Panics
    ///
    /// Panics if `key` does not fit in 32 bits: four billion greenlets
    /// alive at once, far beyond any machine's memory.
    #[inline]
    pub(crate) fn set_key(&self, key: usize) {
        self.key
            .set(u32::try_from(key).expect("greenlet: fewer than 2^32 greenlets alive"));
    }

    /// Adds a context to those woken when the greenlet finishes.
    pub(crate) fn add_joiner(&self, waiter: Waiter) {
        let list = match self.joiners.take() {
            None => JoinList {
                first: waiter,
                more: Vec::new(),
            },
            Some(mut list) => {
                list.more.push(waiter);
                *list
            }
        };
        self.joiners.set(Some(Box::new(list)));
    }

    /// How many contexts wait for the greenlet to finish, stale waits
    /// included.
    pub(crate) fn joiner_count(&self) -> usize {
        let list = self.joiners.take();
        let count = list.as_ref().map_or(0, |l| 1 + l.more.len());
        self.joiners.set(list);
        count
    }

    /// Drops the joiners `keep` refuses (stale waits of `greenlet::wait`
    /// calls that ended elsewhere), keeping the others in order.
    pub(crate) fn retain_joiners(&self, mut keep: impl FnMut(Waiter) -> bool) {
        let Some(list) = self.joiners.take() else {
            return;
        };
        let mut kept = std::iter::once(list.first)
            .chain(list.more)
            .filter(|w| keep(*w));
        if let Some(first) = kept.next() {
            let more = kept.collect();
            self.joiners.set(Some(Box::new(JoinList { first, more })));
        }
    }

    /// Takes the contexts waiting for the greenlet to finish, first come
    /// first: none for most greenlets.
    #[inline]
    pub(crate) fn take_joiners(&self) -> Option<impl Iterator<Item = Waiter>> {
        let list = self.joiners.take()?;
        Some(std::iter::once(list.first).chain(list.more))
    }

    /// A greenlet's name for messages: `greenlet 'name' (id 3)` or
    /// `greenlet 3`.
    pub(crate) fn describe(&self) -> String {
        match &self.name {
            Some(name) => format!("greenlet '{name}' (id {})", self.id),
            None => format!("greenlet {}", self.id),
        }
    }

    pub(crate) fn pending(&self) -> Option<Unwind> {
        decode(self.pending.get())
    }

    /// Takes the pending unwind, leaving none.
    pub(crate) fn take_pending(&self) -> Option<Unwind> {
        decode(self.pending.replace(NO_UNWIND))
    }

    /// Records an unwind request. A kill is final; among timeouts the
    /// outermost (the oldest, smallest id) wins, because unwinding to it also
    /// leaves every inner scope.
    pub(crate) fn request_unwind(&self, unwind: Unwind) {
        self.pending
            .set(encode(Some(Unwind::merge(self.pending(), unwind))));
    }

    /// Forgets the expiry of timeout `id`, once it has been caught.
    pub(crate) fn clear_timeout(&self, id: u64) {
        if self.pending() == Some(Unwind::Timeout(id)) {
            self.pending.set(NO_UNWIND);
        }
    }

    /// Forgets a pending kill once the greenlet's body has ended: the kill
    /// has done its work, and the destructors of the greenlet's locals and
    /// result may block as in any greenlet (a new kill interrupts them).
    #[inline(always)]
    pub(crate) fn clear_kill(&self) {
        if self.pending.get() == KILL {
            self.pending.set(NO_UNWIND);
        }
    }
}

/// Drops a carrier out of line, keeping its drop glue off the callers' paths.
#[cold]
#[inline(never)]
fn drop_carrier(carrier: CoroutineBox) {
    drop(carrier);
}

impl std::fmt::Debug for Header {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}
