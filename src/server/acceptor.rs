//! The accept loop of a [`StreamServer`](super::StreamServer): one greenlet
//! that accepts connections and spawns a handler greenlet for each, backing
//! off when `accept` fails for want of resources.

use std::rc::Rc;

use super::backoff::{Answer, Backoff};
use super::listener::Listener;
use crate::pool::Group;
use crate::sync::Semaphore;

/// A server's handler, shared by its handler greenlets.
pub(super) type Handler<L> = Rc<dyn Fn(<L as Listener>::Stream, <L as Listener>::Addr)>;

/// What the accept loop owns. Killing its greenlet drops the listener,
/// which closes it: new connections are refused from then on.
pub(super) struct Acceptor<L: Listener> {
    pub(super) listener: L,
    /// The listener's address, for the logs.
    pub(super) addr: Option<L::Addr>,
    pub(super) handler: Handler<L>,
    pub(super) handlers: Group,
    /// The free connection slots, with a limit.
    pub(super) slots: Option<Semaphore>,
}

/// A connection slot taken from a server's semaphore, given back when
/// dropped: when its handler ends however it ends, or when the accept that
/// took it fails or is killed.
struct Slot(Semaphore);

impl Slot {
    /// Waits (FIFO) for a free slot.
    fn acquire(slots: &Semaphore) -> Slot {
        slots.acquire();
        Slot(slots.clone())
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        // A plain semaphore: a release is never refused.
        let _ = self.0.release();
    }
}

impl<L: Listener> Acceptor<L> {
    /// Accepts for ever: ends only when its greenlet is killed.
    pub(super) fn run(self) {
        let mut backoff = Backoff::default();
        let addr = self
            .addr
            .as_ref()
            .map_or_else(|| "?".to_string(), L::describe);
        loop {
            let slot = self.slots.as_ref().map(Slot::acquire);
            match self.listener.accept_for_server() {
                Ok((stream, peer)) => {
                    if let Some(failures) = backoff.succeeded() {
                        log::warn!(
                            "greenlet: server on {addr} accepts again, after {failures} failed accepts"
                        );
                    }
                    let handler = self.handler.clone();
                    drop(self.handlers.spawn(move || {
                        let _slot = slot;
                        handler(stream, peer);
                    }));
                }
                Err(e) => {
                    drop(slot);
                    match backoff.failed(&e) {
                        Answer::Retry => {
                            log::debug!("greenlet: server on {addr}: accept failed: {e}");
                            crate::yield_now();
                        }
                        Answer::Sleep {
                            delay,
                            first,
                            fatal,
                        } => {
                            if first && fatal {
                                log::error!(
                                    "greenlet: server on {addr}: the listener fails: {e}; retrying from 10 ms, doubling to 1 s"
                                );
                            } else if first {
                                log::warn!(
                                    "greenlet: server on {addr}: accept failed: {e}; backing off from 10 ms, doubling to 1 s, until resources free up"
                                );
                            }
                            crate::sleep(delay);
                        }
                    }
                }
            }
        }
    }
}
