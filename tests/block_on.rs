//! `block_on`: futures woken from std threads, from greenlets of the same
//! thread and from their own poll; wakers kept or dropped; kills, timeouts
//! and panics. Real std threads, bounded loops, and no assertion on elapsed
//! time.

mod util;

use std::cell::Cell;
use std::future::{Future, poll_fn};
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::{Arc, Mutex, mpsc};
use std::task::{Poll, Waker};
use std::thread;
use std::time::Duration;

use futures_channel::oneshot;
use greenlet::sync::Event;
use util::{SleepTicker, SyncDropCounter};

/// A future that is pending until `done` is set, and leaves a clone of its
/// waker in `waker` at every poll, for a thread (or a test) to use later.
fn parked_on(
    waker: Arc<Mutex<Option<Waker>>>,
    done: Arc<std::sync::atomic::AtomicBool>,
) -> impl Future<Output = ()> {
    poll_fn(move |cx| {
        *waker.lock().unwrap() = Some(cx.waker().clone());
        if done.load(std::sync::atomic::Ordering::SeqCst) {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

#[test]
fn the_issues_example_in_main() {
    let (tx, rx) = oneshot::channel::<u32>();
    thread::spawn(move || tx.send(7));
    assert_eq!(greenlet::block_on(rx), Ok(7));
}

#[test]
fn the_issues_example_in_a_greenlet() {
    let g = greenlet::spawn(|| {
        let (tx, rx) = oneshot::channel::<u32>();
        thread::spawn(move || tx.send(7));
        greenlet::block_on(rx)
    });
    assert_eq!(g.join().unwrap(), Ok(7));
}

#[test]
fn ready_futures_and_async_blocks_finish_without_waiting() {
    assert_eq!(greenlet::block_on(std::future::ready(3)), 3);
    let out = greenlet::block_on(async {
        let a = std::future::ready(1).await;
        let b = async { 2 }.await;
        a + b
    });
    assert_eq!(out, 3);
}

#[test]
fn only_the_calling_greenlet_waits() {
    let ticker = SleepTicker::spawn(Duration::from_millis(1), 10_000);
    let waiter = greenlet::spawn(|| {
        let (tx, rx) = oneshot::channel::<&str>();
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(200));
            tx.send("late").unwrap();
        });
        greenlet::block_on(rx)
    });
    assert_eq!(waiter.join().unwrap(), Ok("late"));
    let ticks = ticker.stop();
    assert!(ticks >= 20, "the ticker ticked only {ticks} times");
}

#[test]
fn many_greenlets_each_wait_for_a_thread_of_many() {
    const THREADS: usize = 8;
    const GREENLETS: usize = 200;
    // Each thread completes the oneshots it is handed.
    let (senders, threads): (Vec<_>, Vec<_>) = (0..THREADS)
        .map(|_| {
            let (tx, rx) = mpsc::channel::<(oneshot::Sender<usize>, usize)>();
            let thread = thread::spawn(move || {
                for (reply, n) in rx {
                    let _ = reply.send(n * 2);
                }
            });
            (tx, thread)
        })
        .unzip();
    let waiters: Vec<_> = (0..GREENLETS)
        .map(|i| {
            let to_thread = senders[i % THREADS].clone();
            greenlet::spawn(move || {
                let (tx, rx) = oneshot::channel();
                to_thread.send((tx, i)).unwrap();
                greenlet::block_on(rx).unwrap()
            })
        })
        .collect();
    drop(senders);
    for (i, w) in waiters.into_iter().enumerate() {
        assert_eq!(w.join().unwrap(), i * 2);
    }
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn woken_by_another_greenlet_of_the_same_thread() {
    let (tx, rx) = oneshot::channel::<u32>();
    let waiter = greenlet::spawn(move || greenlet::block_on(rx));
    greenlet::yield_now(); // the waiter parks in block_on
    greenlet::spawn(move || tx.send(5).unwrap());
    assert_eq!(waiter.join().unwrap(), Ok(5));

    // And main waiting on a greenlet.
    let (tx, rx) = oneshot::channel::<u32>();
    greenlet::spawn(move || {
        greenlet::sleep(Duration::from_millis(1));
        tx.send(6).unwrap();
    });
    assert_eq!(greenlet::block_on(rx), Ok(6));
}

#[test]
fn a_future_that_wakes_itself_during_poll_is_polled_again() {
    const N: usize = 1_000;
    let polls = Cell::new(0);
    let out = greenlet::block_on(poll_fn(|cx| {
        polls.set(polls.get() + 1);
        if polls.get() > N {
            Poll::Ready("done")
        } else {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }));
    assert_eq!(out, "done");
    assert_eq!(
        polls.get(),
        N + 1,
        "one poll per wake, no lost or extra poll"
    );
}

#[test]
fn a_future_spinning_on_its_waker_lets_the_other_greenlets_run() {
    let flag = Rc::new(Cell::new(false));
    let setter = {
        let flag = flag.clone();
        greenlet::spawn(move || flag.set(true))
    };
    let spins = Cell::new(0);
    greenlet::block_on(poll_fn(|cx| {
        spins.set(spins.get() + 1);
        assert!(spins.get() < 100_000, "the setter never ran");
        if flag.get() {
            Poll::Ready(())
        } else {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }));
    setter.join().unwrap();
}

#[test]
fn a_waker_kept_after_block_on_returned_is_harmless() {
    let kept = Arc::new(Mutex::new(None));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(true));
    greenlet::block_on(parked_on(kept.clone(), done));
    let waker = kept.lock().unwrap().take().unwrap();
    // Late wakes, from this thread and from another.
    waker.wake_by_ref();
    let w = waker.clone();
    thread::spawn(move || w.wake()).join().unwrap();
    greenlet::sleep(Duration::from_millis(1));
    assert_eq!(greenlet::block_on(async { 1 }), 1);
    // The kept waker does not count as something that could wake the hub:
    // a real deadlock is still reported.
    let event = Event::new();
    let err = panic::catch_unwind(AssertUnwindSafe(|| event.wait())).unwrap_err();
    let msg = panic_message(&*err);
    assert!(msg.contains("would block forever"), "{msg}");
    drop(waker);
}

#[test]
fn a_future_that_dropped_its_waker_is_a_deadlock_in_main() {
    let err = panic::catch_unwind(|| greenlet::block_on(std::future::pending::<()>())).unwrap_err();
    let msg = panic_message(&*err);
    assert!(msg.contains("would block forever"), "{msg}");
    assert!(msg.contains("main waits on block_on"), "{msg}");
}

#[test]
fn a_future_that_dropped_its_waker_still_times_out() {
    let result = greenlet::with_timeout(Duration::from_millis(5), || {
        greenlet::block_on(std::future::pending::<()>())
    });
    assert!(result.is_err());
}

/// The future of the kill and timeout tests: holds a drop token, leaves its
/// waker for `thread` to wake late, and never finishes on its own.
fn waiting_future(
    drops: &SyncDropCounter,
) -> (
    impl Future<Output = ()> + use<>,
    mpsc::Sender<()>,
    thread::JoinHandle<()>,
) {
    let kept = Arc::new(Mutex::new(None::<Waker>));
    let token = drops.token();
    let never = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let inner = parked_on(kept.clone(), never);
    let future = async move {
        let _token = token;
        inner.await
    };
    let (go, wait_for_go) = mpsc::channel();
    let thread = thread::spawn(move || {
        let _ = wait_for_go.recv();
        if let Some(waker) = kept.lock().unwrap().take() {
            waker.wake();
        }
    });
    (future, go, thread)
}

#[test]
fn a_kill_unwinds_out_of_block_on_and_drops_the_future() {
    let drops = SyncDropCounter::new();
    let (future, go, thread) = waiting_future(&drops);
    let waiter = greenlet::spawn(move || greenlet::block_on(future));
    greenlet::yield_now(); // it parks in block_on
    assert_eq!(drops.count(), 0);
    waiter.kill();
    assert!(waiter.join().unwrap_err().is_killed());
    assert_eq!(drops.count(), 1, "the future was dropped");
    go.send(()).unwrap(); // the late wake
    thread.join().unwrap();
    greenlet::sleep(Duration::from_millis(1));
    assert_eq!(greenlet::block_on(async { 2 }), 2);
}

#[test]
fn a_timeout_unwinds_out_of_block_on_and_drops_the_future() {
    let drops = SyncDropCounter::new();
    let (future, go, thread) = waiting_future(&drops);
    let result = greenlet::with_timeout(Duration::from_millis(5), || greenlet::block_on(future));
    assert!(result.is_err());
    assert_eq!(drops.count(), 1, "the future was dropped");
    go.send(()).unwrap(); // the late wake
    thread.join().unwrap();
    greenlet::sleep(Duration::from_millis(1));
    assert_eq!(greenlet::block_on(async { 3 }), 3);
}

#[test]
fn a_panic_in_poll_resumes_in_the_caller() {
    let err = panic::catch_unwind(|| {
        greenlet::block_on(async {
            std::future::ready(()).await;
            panic!("boom in poll")
        })
    })
    .unwrap_err();
    assert_eq!(panic_message(&*err), "boom in poll");

    let g = greenlet::spawn(|| greenlet::block_on(async { panic!("boom in a greenlet") }));
    let err = g.join().unwrap_err();
    assert!(err.is_panic());
}

#[test]
fn a_future_may_block_its_greenlet_inside_poll() {
    let ticker = SleepTicker::spawn(Duration::from_millis(1), 5);
    let out = greenlet::block_on(async {
        greenlet::sleep(Duration::from_millis(20)); // greenlet-aware code
        let (tx, rx) = oneshot::channel();
        thread::spawn(move || tx.send(4));
        rx.await.unwrap()
    });
    assert_eq!(out, 4);
    assert!(ticker.stop() > 0);
}
