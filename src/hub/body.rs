//! The life of a greenlet's body on its own stack: running it, turning its
//! unwinding into an outcome, and what the greenlet does after it.

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};

use super::header::Header;
use super::locals::drop_locals;
use super::unwind::{GreenletExit, JoinError, log_destructor_panic, panic_message};

/// Runs a greenlet's body and turns its unwinding into an outcome.
pub(crate) fn run_body<T>(header: &Header, body: impl FnOnce() -> T) -> Result<T, JoinError> {
    match panic::catch_unwind(AssertUnwindSafe(body)) {
        Ok(value) => Ok(value),
        Err(payload) => {
            if header.tearing_down.get() {
                // corosensei's own unwinding at thread exit: let it pass.
                panic::resume_unwind(payload);
            }
            if payload.is::<GreenletExit>() {
                log::debug!("{} was killed", header.describe());
                Err(JoinError::Killed)
            } else {
                log::error!(
                    "{} panicked: {}",
                    header.describe(),
                    panic_message(&*payload)
                );
                Err(JoinError::Panicked(payload))
            }
        }
    }
}

/// What a greenlet does after its body, still on its own stack and still
/// the running greenlet: forgets a kill (it has done its work) and drops its
/// `greenlet_local!` values. Then the caller records its outcome, or drops
/// it with [`drop_detached`] if its handle is gone (nobody could read it).
///
/// So these destructors run as part of the greenlet: `current()` names it,
/// a blocking call in them blocks only it, and a panic in them is its own
/// (logged), never the hub's or the main context's.
#[inline(always)]
pub(crate) fn end_body(header: &Header) {
    header.clear_kill();
    if let Some(locals) = header.locals.take() {
        header.locals.set(Some(locals));
        drop_own_locals(header);
    }
}

#[cold]
#[inline(never)]
fn drop_own_locals(header: &Header) {
    drop_locals(&header.locals, |payload| {
        caught_after_body(header, "a greenlet_local! value", payload);
    });
}

/// Drops the outcome of a greenlet whose handle is gone, on the greenlet
/// (see [`end_body`]).
#[cold]
#[inline(never)]
pub(crate) fn drop_detached<T>(header: &Header, outcome: Result<T, JoinError>) {
    if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| drop(outcome))) {
        caught_after_body(header, "its result", payload);
    }
}

/// A panic out of a destructor that a greenlet ran after its body: logged
/// as the greenlet's, or passed on if it is corosensei's unwinding of a
/// greenlet torn down at thread exit.
fn caught_after_body(header: &Header, what: &str, payload: Box<dyn Any + Send>) {
    if header.tearing_down.get() {
        panic::resume_unwind(payload);
    }
    if payload.is::<GreenletExit>() {
        log::debug!("{} was killed while dropping {what}", header.describe());
    } else {
        log_destructor_panic(&header.describe(), what, &*payload);
    }
}
