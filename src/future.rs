//! Running a [`Future`] to completion from a greenlet: [`block_on`], the
//! bridge from `async` code that does not need a runtime of its own.

use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};

use crate::hub::{CrossWaker, WaitReason, block_cross, block_until};

/// How many times in a row a future may wake itself during its poll and be
/// polled again at once, before the caller lets the hub run the other ready
/// greenlets (a future that spins on `wake_by_ref` waiting for one of them
/// must not stall them).
const SELF_WAKES_BEFORE_YIELD: u32 = 32;

/// Runs `future` to completion on the calling greenlet and returns its
/// output. Only the calling greenlet waits between polls; in the main
/// context, the hub runs the other greenlets meanwhile.
///
/// The future is polled with a [`Waker`] that is `Send + Sync`: any thread,
/// or another greenlet of this thread, may wake it, and the greenlet is
/// polled again on its own thread. A waker woken during the poll makes
/// `block_on` poll again at once; a clone kept after `block_on` returned
/// wakes nothing, harmlessly.
///
/// # Which futures work
///
/// Futures that need no runtime of their own: `futures-channel`'s
/// `oneshot` and `mpsc`, [`std::future::ready`], `async` blocks and
/// functions over them, and futures whose `poll` calls this crate's
/// blocking calls (a greenlet-aware future blocks only its greenlet).
/// Futures tied to another runtime's reactor or timers do not: tokio's
/// sockets, `tokio::time::sleep` and the like panic or never finish
/// outside a tokio runtime. Run them on a tokio runtime (on a pool thread,
/// say, with [`threadpool::apply`](crate::threadpool::apply)) and await
/// the result here through a channel.
///
/// # Panics
///
/// - A panic in the future's `poll` resumes in the caller (the future is
///   dropped as it unwinds).
/// - As every blocking call: a kill or an expired timeout of the calling
///   greenlet unwinds it out of `block_on`, dropping the future; having
///   to wait while the thread unwinds (in a destructor) panics.
/// - In the main context, if the future dropped every clone of its waker
///   and nothing else can wake the hub, the deadlock report: nothing could
///   ever poll the future again.
///
/// # Examples
///
/// A thread completes a oneshot channel; the main context waits for it,
/// running the hub meanwhile:
///
/// ```
/// let (tx, rx) = futures_channel::oneshot::channel::<u32>();
/// std::thread::spawn(move || tx.send(7));
/// assert_eq!(greenlet::block_on(rx), Ok(7));
/// ```
///
/// Greenlets of one thread awaiting each other's `async` code:
///
/// ```
/// let (tx, rx) = futures_channel::oneshot::channel::<&str>();
/// let waiter = greenlet::spawn(move || {
///     greenlet::block_on(async { format!("got {}", rx.await.unwrap()) })
/// });
/// greenlet::spawn(move || tx.send("hi").unwrap());
/// assert_eq!(waiter.join().unwrap(), "got hi");
/// ```
///
/// # Implementation notes
///
/// The waker is an `Arc` of a small shared slot: a `woken` flag, and the
/// cross-thread waker of the current wait while the caller is parked (only
/// then: a waker kept afterwards holds no reference to the hub, and does
/// not keep its deadlock check waiting). `block_on` clears the flag, polls,
/// and parks only if the flag is still clear; a wake sets the flag, takes
/// the parked wait's waker if there is one, and ends that wait through the
/// hub's inbox, writing the hub's eventfd only if the hub sleeps. A future
/// that keeps waking itself during its poll is polled again at once, but
/// every 32nd time in a row the caller first yields to the hub.
#[track_caller]
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let slot = Arc::new(WakeSlot::default());
    // Clears the slot however `block_on` ends: returned, killed, timed out
    // or panicked in `poll`.
    let _clear = ClearOnDrop(&slot);
    let waker = Waker::from(slot.clone());
    let mut cx = Context::from_waker(&waker);
    let mut self_wakes = 0;
    loop {
        slot.lock().woken = false;
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        if slot.lock().woken {
            // Woken during the poll: poll again without parking.
            self_wakes += 1;
            if self_wakes == SELF_WAKES_BEFORE_YIELD {
                self_wakes = 0;
                crate::yield_now();
            }
            continue;
        }
        self_wakes = 0;
        // Only `slot` and `waker` left: the future dropped its waker, and
        // nothing can poll it again but a kill or a timeout. Waiting
        // without a cross-thread waker lets the hub's deadlock check see it.
        if Arc::strong_count(&slot) == 2 {
            block_until(WaitReason::on("block_on"), None, |_| {});
            continue;
        }
        block_cross(WaitReason::on("block_on"), None, |cross| slot.park(cross));
        // Woken, or spuriously: either way the parked wait is over.
        slot.lock().waiter = None;
    }
}

/// What the future's waker and [`block_on`] share.
#[derive(Default)]
struct WakeSlot {
    state: Mutex<WakeState>,
}

#[derive(Default)]
struct WakeState {
    /// The waker was woken since `block_on` last cleared it (before a poll).
    woken: bool,
    /// The wait to end, while `block_on` is parked.
    waiter: Option<CrossWaker>,
}

impl WakeSlot {
    fn lock(&self) -> MutexGuard<'_, WakeState> {
        // Nothing panics while the lock is held.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores the wait `cross` ends, or ends it at once if a wake came
    /// since the poll. Runs just before the caller parks: must not switch.
    fn park(&self, cross: CrossWaker) {
        let mut state = self.lock();
        if state.woken {
            drop(state);
            cross.wake();
        } else {
            state.waiter = Some(cross);
        }
    }
}

impl Wake for WakeSlot {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let waiter = {
            let mut state = self.lock();
            state.woken = true;
            state.waiter.take()
        };
        // Woken outside the lock: the hub's inbox has a lock of its own.
        if let Some(waiter) = waiter {
            waiter.wake();
        }
    }
}

/// Drops the slot's waiter when [`block_on`] ends, however it ends: a
/// waker kept by the future's owner then holds no reference to the hub.
struct ClearOnDrop<'a>(&'a WakeSlot);

impl Drop for ClearOnDrop<'_> {
    fn drop(&mut self) {
        let waiter = self.0.lock().waiter.take();
        drop(waiter);
    }
}
