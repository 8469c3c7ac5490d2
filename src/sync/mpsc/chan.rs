//! The core of [`sync::mpsc`](super): the state that a channel's handles
//! share, its transitions, and the blocking loops of `send` and `recv`.
//!
//! # Ground rules
//!
//! - Everything lives in one [`State`] behind one lock; every transition
//!   takes the lock, changes the state, collects the wakers to wake and the
//!   values to drop, and releases the lock *before* waking or dropping
//!   (a value's destructor may use the channel; a waker takes the hub's
//!   inbox lock).
//! - A waiting side registers its waker under the lock only after looking
//!   at its condition under that same lock (`park_*`): if the condition
//!   already holds it wakes itself at once. So a change made between a
//!   failed attempt and the registration is never missed.
//! - Every wait is wrapped in a guard whose `Drop` removes its waker,
//!   however the wait ends (woken, spurious wake-up, kill, timeout): no
//!   stale waker stays in the channel (a stored `CrossWaker` keeps its hub
//!   from reporting a deadlock). A sender that was chosen to be woken for a
//!   free slot and leaves passes the wake-up on to the next sender.
//!
//! This file imports nothing from the crate: it is generic over how a side
//! blocks and is woken ([`Block`]), and under `cfg(loom)` its lock is
//! loom's, so that `tests/loom_mpsc.rs` includes it and checks it over
//! every interleaving, with a loom park in place of the hub.

#[cfg(loom)]
use loom::sync::{Mutex, MutexGuard};
#[cfg(not(loom))]
use std::sync::{Mutex, MutexGuard};

use std::collections::VecDeque;
use std::mem;
use std::sync::mpsc::{RecvTimeoutError, SendError, TryRecvError, TrySendError};
use std::time::Instant;

/// How a side of the channel waits, and how the other side wakes it:
/// `block_cross` and its `CrossWaker` in the library, a loom park in the
/// model.
pub(crate) trait Block {
    /// Ends one wait, from any thread.
    type Waker: Send;

    /// Wakes `waker`'s wait. Waking a wait that has ended is harmless.
    fn wake(waker: Self::Waker);

    /// Blocks until the waker that `register` is given is woken, or
    /// `deadline` passes; may return spuriously, and may unwind (kill,
    /// timeout) before or after `register` ran.
    #[track_caller]
    fn block(what: &'static str, deadline: Option<Instant>, register: impl FnOnce(Self::Waker));
}

/// Wakes `waker`, if there is one.
fn wake<B: Block>(waker: Option<B::Waker>) {
    if let Some(waker) = waker {
        B::wake(waker);
    }
}

/// A sender's place in the line of senders waiting for room.
type Ticket = u64;

/// The state of one channel.
///
/// # Invariants
///
/// - `queue.len() <= bound` when bounded, except a rendezvous (`bound ==
///   0`), whose one slot holds at most one value.
/// - `receiver` is `Some` only while the receiver waits in `recv`;
///   `waiting_senders` holds only senders waiting in `send` for room, and
///   `handover` only the rendezvous sender whose value sits in the slot.
/// - `pushed - taken == queue.len()`: `taken` counts the values that left
///   the queue (received, or taken back by their rendezvous sender), so a
///   rendezvous sender's value is gone from the slot once `taken` reaches
///   the sequence number its push got.
struct State<T, W> {
    queue: VecDeque<T>,
    /// `None`: unbounded; `Some(0)`: rendezvous.
    bound: Option<usize>,
    /// Live `Sender`s and `SyncSender`s.
    senders: usize,
    receiver_alive: bool,
    /// The receiver's waker while it waits.
    receiver: Option<W>,
    /// Senders waiting for room, first come first woken.
    waiting_senders: VecDeque<(Ticket, W)>,
    next_ticket: Ticket,
    pushed: u64,
    taken: u64,
    /// Rendezvous: the sequence number of the value in the slot whose
    /// sender waits for it to be taken, and that sender's waker.
    handover: Option<(u64, Option<W>)>,
}

impl<T, W> State<T, W> {
    /// Whether a value may go into the queue now.
    fn has_room(&self) -> bool {
        match self.bound {
            None => true,
            Some(0) => self.queue.is_empty(),
            Some(bound) => self.queue.len() < bound,
        }
    }

    /// Pushes `value` (room is known) and returns the receiver's waker to
    /// wake, and the value's sequence number.
    fn push(&mut self, value: T) -> (Option<W>, u64) {
        self.queue.push_back(value);
        self.pushed += 1;
        (self.receiver.take(), self.pushed)
    }

    /// The first sender waiting for room, if there is room for it.
    fn next_sender(&mut self) -> Option<W> {
        if self.receiver_alive && self.has_room() {
            self.waiting_senders.pop_front().map(|(_, waker)| waker)
        } else {
            None
        }
    }

    /// Takes the rendezvous value of sequence number `seq` back out of the
    /// slot, if it is still there, and ends the handover.
    fn withdraw(&mut self, seq: u64) -> (Option<T>, Option<W>) {
        match self.handover.take() {
            Some((own, waker)) if own == seq => {
                let value = if self.taken < seq {
                    self.taken += 1; // it leaves the queue
                    self.queue.pop_front()
                } else {
                    None
                };
                (value, waker)
            }
            other => {
                self.handover = other;
                (None, None)
            }
        }
    }
}

/// The channel that the handles share (see the module's ground rules).
pub(crate) struct Chan<T, B: Block> {
    state: Mutex<State<T, B::Waker>>,
}

impl<T, B: Block> Chan<T, B> {
    /// A channel with one sender and its receiver: unbounded (`None`), or
    /// holding at most `bound` values (`Some(0)`: a rendezvous).
    pub(crate) fn new(bound: Option<usize>) -> Self {
        Chan {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                bound,
                senders: 1,
                receiver_alive: true,
                receiver: None,
                waiting_senders: VecDeque::new(),
                next_ticket: 0,
                pushed: 0,
                taken: 0,
                handover: None,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T, B::Waker>> {
        // Nothing panics while the lock is held but an allocation failure
        // in a push, which leaves the state consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A sender was cloned.
    pub(crate) fn add_sender(&self) {
        self.lock().senders += 1;
    }

    /// A sender was dropped: the last one wakes a waiting receiver, which
    /// then sees the disconnection.
    pub(crate) fn drop_sender(&self) {
        let mut state = self.lock();
        state.senders -= 1;
        let waker = if state.senders == 0 {
            state.receiver.take()
        } else {
            None
        };
        drop(state);
        wake::<B>(waker);
    }

    /// The receiver was dropped: queued values are dropped (but for a
    /// rendezvous value whose sender waits, which takes it back) and every
    /// waiting sender is woken to see the disconnection.
    pub(crate) fn drop_receiver(&self) {
        let mut state = self.lock();
        state.receiver_alive = false;
        let handed = matches!(state.handover, Some((seq, _)) if state.taken < seq);
        let values = if handed {
            VecDeque::new()
        } else {
            mem::take(&mut state.queue)
        };
        let senders = mem::take(&mut state.waiting_senders);
        let handover = state.handover.as_mut().and_then(|(_, waker)| waker.take());
        drop(state);
        senders.into_iter().for_each(|(_, waker)| B::wake(waker));
        wake::<B>(handover);
        drop(values);
    }

    /// Takes the next value without waiting; wakes the sender that waits
    /// for its handover, and the first sender waiting for room.
    pub(crate) fn try_recv(&self) -> Result<T, TryRecvError> {
        let mut state = self.lock();
        let Some(value) = state.queue.pop_front() else {
            return Err(if state.senders == 0 {
                TryRecvError::Disconnected
            } else {
                TryRecvError::Empty
            });
        };
        state.taken += 1;
        let taken = state.taken;
        let handover = match &mut state.handover {
            Some((seq, waker)) if *seq == taken => waker.take(),
            _ => None,
        };
        let sender = state.next_sender();
        drop(state);
        wake::<B>(handover);
        wake::<B>(sender);
        Ok(value)
    }

    /// Waits for the next value, until `deadline` if there is one.
    #[track_caller]
    pub(crate) fn recv(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        loop {
            match self.try_recv() {
                Ok(value) => return Ok(value),
                Err(TryRecvError::Disconnected) => return Err(RecvTimeoutError::Disconnected),
                Err(TryRecvError::Empty) => {}
            }
            if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                return Err(RecvTimeoutError::Timeout);
            }
            let _leave = ReceiverWait(self);
            B::block("mpsc::Receiver::recv", deadline, |waker| {
                let mut state = self.lock();
                if state.queue.is_empty() && state.senders > 0 {
                    state.receiver = Some(waker);
                } else {
                    drop(state);
                    B::wake(waker);
                }
            });
        }
    }

    /// Sends without waiting: [`TrySendError::Full`] when there is no room
    /// (on a rendezvous: unless the receiver waits).
    pub(crate) fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        let mut state = self.lock();
        if !state.receiver_alive {
            return Err(TrySendError::Disconnected(value));
        }
        let rendezvous_refused = state.bound == Some(0) && state.receiver.is_none();
        if !state.has_room() || rendezvous_refused {
            return Err(TrySendError::Full(value));
        }
        let (receiver, _) = state.push(value);
        drop(state);
        wake::<B>(receiver);
        Ok(())
    }

    /// Sends, waiting for room, and on a rendezvous for the receiver to
    /// take the value.
    #[track_caller]
    pub(crate) fn send(&self, value: T) -> Result<(), SendError<T>> {
        let mut line = SenderWait {
            chan: self,
            ticket: None,
        };
        let (seq, rendezvous) = loop {
            let mut state = self.lock();
            if !state.receiver_alive {
                return Err(SendError(value));
            }
            if state.has_room() {
                let (receiver, seq) = state.push(value);
                let rendezvous = state.bound == Some(0);
                if rendezvous {
                    state.handover = Some((seq, None));
                }
                drop(state);
                wake::<B>(receiver);
                break (seq, rendezvous);
            }
            let ticket = *line.ticket.get_or_insert_with(|| {
                state.next_ticket += 1;
                state.next_ticket
            });
            drop(state);
            B::block("mpsc::SyncSender::send", None, |waker| {
                self.park_sender(ticket, waker)
            });
        };
        drop(line);
        if rendezvous {
            self.await_handover(seq)
        } else {
            Ok(())
        }
    }

    /// Registers a sender waiting for room, keeping its place in line
    /// after a spurious wake-up; wakes it at once if there is room or the
    /// receiver is gone.
    fn park_sender(&self, ticket: Ticket, waker: B::Waker) {
        let mut state = self.lock();
        if !state.receiver_alive || state.has_room() {
            drop(state);
            return B::wake(waker);
        }
        let old = match state.waiting_senders.iter_mut().find(|(t, _)| *t == ticket) {
            Some((_, slot)) => Some(mem::replace(slot, waker)),
            None => {
                state.waiting_senders.push_back((ticket, waker));
                None
            }
        };
        drop(state);
        drop(old);
    }

    /// Rendezvous: waits until the receiver took the value of sequence
    /// number `seq`, or gives it back if the receiver is gone first.
    #[track_caller]
    fn await_handover(&self, seq: u64) -> Result<(), SendError<T>> {
        let _leave = Handover { chan: self, seq };
        loop {
            let mut state = self.lock();
            if state.taken >= seq {
                return Ok(());
            }
            if !state.receiver_alive {
                let (value, _) = state.withdraw(seq);
                return Err(SendError(value.expect("a value not taken is in the slot")));
            }
            drop(state);
            B::block("mpsc::SyncSender::send", None, |waker| {
                let mut state = self.lock();
                let (taken, alive) = (state.taken, state.receiver_alive);
                match &mut state.handover {
                    Some((own, slot)) if *own == seq && taken < seq && alive => {
                        *slot = Some(waker);
                    }
                    _ => {
                        drop(state);
                        B::wake(waker);
                    }
                }
            });
        }
    }
}

/// Removes the receiver's waker however its wait ends.
struct ReceiverWait<'a, T, B: Block>(&'a Chan<T, B>);

impl<T, B: Block> Drop for ReceiverWait<'_, T, B> {
    fn drop(&mut self) {
        let waker = self.0.lock().receiver.take();
        drop(waker);
    }
}

/// A sender's place in line while it waits for room: leaves the line
/// however the wait ends, and passes a wake-up it was chosen for on.
struct SenderWait<'a, T, B: Block> {
    chan: &'a Chan<T, B>,
    ticket: Option<Ticket>,
}

impl<T, B: Block> Drop for SenderWait<'_, T, B> {
    fn drop(&mut self) {
        let Some(ticket) = self.ticket else { return };
        let mut state = self.chan.lock();
        let place = state.waiting_senders.iter().position(|(t, _)| *t == ticket);
        let (stale, next) = match place {
            Some(place) => (state.waiting_senders.remove(place), None),
            // Woken for a slot (or never parked): the slot may be unused.
            None => (None, state.next_sender()),
        };
        drop(state);
        drop(stale);
        wake::<B>(next);
    }
}

/// A rendezvous sender's wait for the receiver to take its value: ends the
/// handover however the wait ends, taking back (and dropping) a value not
/// taken, and handing the freed slot to the next sender.
struct Handover<'a, T, B: Block> {
    chan: &'a Chan<T, B>,
    seq: u64,
}

impl<T, B: Block> Drop for Handover<'_, T, B> {
    fn drop(&mut self) {
        let mut state = self.chan.lock();
        let (value, waker) = state.withdraw(self.seq);
        let next = if value.is_some() {
            state.next_sender()
        } else {
            None
        };
        drop(state);
        drop(waker);
        wake::<B>(next);
        drop(value);
    }
}
