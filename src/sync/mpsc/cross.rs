//! How the library's channel blocks: through the hub's [`block_cross`],
//! woken by a [`CrossWaker`] from any thread.

use std::sync::Arc;
use std::time::Instant;

use super::chan::{Block, Chan};
use crate::hub::{CrossWaker, WaitReason, block_cross};

/// The [`Block`] of the library: only the calling greenlet waits; a main
/// context drives its hub meanwhile.
#[derive(Debug)]
pub(super) struct Cross;

impl Block for Cross {
    type Waker = CrossWaker;

    fn wake(waker: CrossWaker) {
        waker.wake();
    }

    #[track_caller]
    fn block(what: &'static str, deadline: Option<Instant>, register: impl FnOnce(CrossWaker)) {
        block_cross(WaitReason::on(what), deadline, register);
    }
}

/// The channel the handles share.
pub(super) type Shared<T> = Arc<Chan<T, Cross>>;
