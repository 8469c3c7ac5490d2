//! The hub's side of its inbox (`inbox.rs`): made on first use, with an
//! eventfd registered in the reactor to wake the loop from `epoll_wait`;
//! drained at every turn it exists; closed at thread exit.
//!
//! What holds a reference to the inbox besides the hub (a `Handle`, a pool
//! task's or a future's waker, a waiting receiver of a channel between
//! threads) can wake the hub, so while any is alive the deadlock check
//! waits instead of reporting.

use std::io;
use std::sync::Arc;

use super::Hub;
use crate::hub::context;
use crate::hub::inbox::Inbox;
use crate::hub::wait::Waiter;

/// Code another thread asks the hub to run, on the hub's thread, in its
/// loop (outside the hub's borrow): a `Handle`'s spawn.
pub(crate) type Callback = Box<dyn FnOnce() + Send>;

/// What another thread hands a hub.
pub(crate) enum Message {
    /// Ends the wait, unless it is stale (as [`Waiter::wake`]).
    Wake(Waiter),
    /// Runs the callback in the loop.
    Run(Callback),
}

/// A hub's inbox, as other threads hold it.
pub(crate) type Remote = Inbox<Message, mio::Waker>;

/// The reactor token of the inbox's eventfd: beyond any registration's.
const REMOTE_TOKEN: usize = usize::MAX;

impl Hub {
    /// This hub's inbox, made now if it has none.
    ///
    /// # Errors
    ///
    /// The kernel's, when the eventfd or the epoll instance cannot be
    /// made (out of descriptors); and once the hub is closed (at thread
    /// exit), an error saying so: nothing would ever read the inbox.
    pub(crate) fn remote(&mut self) -> io::Result<Arc<Remote>> {
        if let Some(remote) = &self.remote {
            return Ok(remote.clone());
        }
        if context::is_closed() {
            return Err(io::Error::other(
                "greenlet: this thread's hub has been torn down at thread exit",
            ));
        }
        self.arm_teardown();
        let waker = self.reactor.new_waker(REMOTE_TOKEN)?;
        let remote = Arc::new(Inbox::new(waker));
        self.remote = Some(remote.clone());
        self.io_waiting += 1; // the inbox's share (see `io_waiting`)
        Ok(remote)
    }

    /// Takes what other threads sent: ends the waits named (now) and keeps
    /// the callbacks, for the loop to run outside the hub's borrow.
    pub(super) fn take_messages(&mut self) {
        let Some(remote) = &self.remote else { return };
        if !remote.is_pending() {
            return;
        }
        let mut messages = std::mem::take(&mut self.messages);
        remote.take_into(&mut messages);
        for message in messages.drain(..) {
            match message {
                Message::Wake(waiter) => {
                    self.wake(waiter);
                }
                Message::Run(callback) => self.callbacks.push(callback),
            }
        }
        self.messages = messages;
    }

    /// How many contexts are parked on I/O (`io_waiting` without the
    /// inbox's share).
    #[inline]
    pub(super) fn io_parked(&self) -> usize {
        self.io_waiting - usize::from(self.remote.is_some())
    }

    /// Whether other threads sent something the hub has not run yet.
    pub(crate) fn has_messages(&self) -> bool {
        !self.callbacks.is_empty() || self.remote.as_ref().is_some_and(|r| r.is_pending())
    }

    /// Whether another thread could still wake the hub: something besides
    /// the hub holds its inbox, or a message came since the last look.
    ///
    /// A sender adds its message before it drops its reference, and the
    /// drop releases: so once the count shows the reference gone, the
    /// acquire fence makes the message's `pending` flag visible.
    pub(super) fn remote_may_wake(&self) -> bool {
        self.remote.as_ref().is_some_and(|remote| {
            Arc::strong_count(remote) > 1 || {
                std::sync::atomic::fence(std::sync::atomic::Ordering::Acquire);
                remote.is_pending()
            }
        })
    }

    /// The callbacks taken from the inbox (see [`Self::take_messages`]).
    pub(crate) fn take_callbacks(&mut self) -> Vec<Callback> {
        std::mem::take(&mut self.callbacks)
    }

    /// Closes the inbox for good (at thread exit) and returns what was
    /// left in it, for the caller to drop outside the hub's borrow.
    pub(crate) fn close_remote(&mut self) -> Vec<Message> {
        let mut left = std::mem::take(&mut self.messages);
        if let Some(remote) = self.remote.take() {
            self.io_waiting -= 1;
            left.extend(remote.close());
        }
        left.extend(self.callbacks.drain(..).map(Message::Run));
        left
    }
}
