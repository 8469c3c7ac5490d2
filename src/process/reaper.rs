//! The reaper: one thread that reaps the children dropped before they
//! exited, so that no zombie is left behind.
//!
//! std's `Child` neither kills nor reaps on drop, and a child never reaped
//! stays a zombie until its parent exits. A [`Child`](super::Child) dropped
//! while its process runs (by its owner, or by a greenlet unwinding from a
//! kill while it waited) is handed here. The thread `greenlet-reaper`,
//! started at the first such drop, polls each adopted child with a
//! non-blocking `waitpid` (std's `try_wait`) every 1 ms, doubling up to
//! [`MAX_PAUSE`], and blocks in `recv` while it has none. The thread is
//! independent of every hub: a thread's exit (and its hub's teardown) does
//! not stop it, and it keeps no hub busy.

use std::process::Child as StdChild;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// The longest pause between two polls of the adopted children.
pub(crate) const MAX_PAUSE: Duration = Duration::from_millis(100);

/// The reaper's inbox, and the process that started it (a `fork`ed child
/// inherits the sender but not the thread, and starts its own).
static REAPER: Mutex<Option<(u32, Sender<StdChild>)>> = Mutex::new(None);

/// Hands `child`, which has not exited yet, to the reaper thread.
///
/// Should the thread fail to start (out of memory or threads), the child is
/// dropped unreaped, as std drops it, and the failure is logged at `error`.
pub(crate) fn adopt(child: StdChild) {
    let pid = child.id();
    let sent = {
        let mut reaper = REAPER.lock().unwrap_or_else(PoisonError::into_inner);
        let me = std::process::id();
        if reaper.as_ref().is_none_or(|(owner, _)| *owner != me) {
            *reaper = start().map(|tx| (me, tx));
        }
        match reaper.as_ref() {
            Some((_, tx)) => tx.send(child).map_err(|_| "its thread is gone".to_owned()),
            None => Err("its thread cannot start".to_owned()),
        }
    };
    // Logged once the lock is released: a logger may spawn children too.
    match sent {
        Ok(()) => {
            log::debug!("greenlet: child {pid} dropped before it exited: the reaper reaps it")
        }
        Err(why) => log::error!("greenlet: child {pid} is left unreaped: {why}"),
    }
}

/// Starts the reaper thread, and returns its inbox.
fn start() -> Option<Sender<StdChild>> {
    let (tx, rx) = mpsc::channel::<StdChild>();
    let started = std::thread::Builder::new()
        .name("greenlet-reaper".into())
        .spawn(move || {
            let mut pending: Vec<StdChild> = Vec::new();
            let mut pause = Duration::from_millis(1);
            loop {
                let next = if pending.is_empty() {
                    match rx.recv() {
                        Ok(child) => Some(child),
                        Err(_) => return, // every sender is gone
                    }
                } else {
                    match rx.recv_timeout(pause) {
                        Ok(child) => Some(child),
                        Err(RecvTimeoutError::Timeout) => None,
                        Err(RecvTimeoutError::Disconnected) => {
                            std::thread::sleep(pause);
                            None
                        }
                    }
                };
                if let Some(child) = next {
                    pending.push(child);
                    pause = Duration::from_millis(1);
                }
                // A child that `waitpid` fails on (someone else reaped it)
                // is forgotten too.
                pending.retain_mut(|child| matches!(child.try_wait(), Ok(None)));
                pause = (pause * 2).min(MAX_PAUSE);
            }
        });
    started.ok().map(|_| tx)
}
