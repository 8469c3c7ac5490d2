//! Carriers: the coroutines that greenlets run on.
//!
//! A carrier runs the body of one greenlet after another on one stack: when
//! a body ends, the carrier suspends with [`Request::Finished`] and waits,
//! idle, for the next greenlet to start, so that starting one costs a switch
//! instead of a coroutine built and torn down. The hub keeps a few idle ones
//! (see `Hub::keep_idle_carrier`).

use corosensei::{Coroutine, CoroutineResult};

use super::context;
use super::header::{GreenletCoroutine, Request};
use super::task;
use crate::monitor;
use crate::stack::{self, PooledStack};

/// Makes a carrier coroutine on `stack`. Each time it is resumed to start a
/// greenlet (the running one), it runs that greenlet's body and then
/// suspends with [`Request::Finished`]; resumed with `false` instead, it
/// returns.
pub(super) fn new_carrier(stack: PooledStack) -> GreenletCoroutine {
    // From now on an overflow of this stack can name its greenlet.
    stack::set_identify(context::identify_running);
    Coroutine::with_stack(stack, |yielder, mut go_on: bool| {
        while go_on {
            // SAFETY: `yielder` is the one corosensei handed to this very
            // coroutine's body, which is about to run the current greenlet.
            unsafe { context::started(yielder) };
            context::with_current(|header| {
                let header = header.expect("a carrier runs a greenlet");
                // Until it blocks, it runs from its spawn site.
                monitor::starting(header.id, header.spawned_at());
                task::run(header);
            });
            go_on = yielder.suspend(Request::Finished);
        }
    })
}

/// Ends an idle carrier: it returns, and its stack goes back to the pool.
pub(super) fn retire(mut carrier: GreenletCoroutine) {
    match carrier.resume(false) {
        CoroutineResult::Return(()) => stack::give(carrier.into_stack()),
        CoroutineResult::Yield(_) => unreachable!("an idle carrier returns when resumed"),
    }
}
