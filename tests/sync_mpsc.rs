//! `sync::mpsc` between std threads and greenlets: std's semantics method
//! by method, throughput checked by checksums, the hub running while a
//! context waits, and kills and timeouts of blocked ends. Every loop is
//! bounded in count and time; no test asserts on elapsed time.

mod util;

use std::rc::Rc;
use std::sync::mpsc::{RecvError, RecvTimeoutError, SendError, TryRecvError, TrySendError};
use std::thread;
use std::time::Duration;

use greenlet::sync::mpsc::{self, Receiver, Sender, SyncSender};
use util::{SleepTicker, SyncDropCounter};

const SHORT: Duration = Duration::from_millis(10);

// ------------------------------------------------------- std's semantics ---

#[test]
fn send_and_recv_keep_fifo_order() {
    let (tx, rx) = mpsc::channel();
    for i in 0..10 {
        tx.send(i).unwrap();
    }
    for i in 0..10 {
        assert_eq!(rx.recv(), Ok(i));
    }
}

#[test]
fn recv_drains_what_was_sent_then_fails_once_every_sender_is_gone() {
    let (tx, rx) = mpsc::channel();
    let tx2 = tx.clone();
    tx.send(1).unwrap();
    tx2.send(2).unwrap();
    drop(tx);
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(rx.try_recv(), Ok(2));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty), "tx2 lives");
    drop(tx2);
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    assert_eq!(rx.recv(), Err(RecvError));
    assert_eq!(rx.recv_timeout(SHORT), Err(RecvTimeoutError::Disconnected));
}

#[test]
fn send_gives_the_value_back_once_the_receiver_is_gone() {
    let (tx, rx) = mpsc::channel();
    drop(rx);
    assert_eq!(tx.send(3), Err(SendError(3)));
    let (tx, rx) = mpsc::sync_channel(4);
    drop(rx);
    assert_eq!(tx.send(3), Err(SendError(3)));
    assert_eq!(tx.try_send(4), Err(TrySendError::Disconnected(4)));
}

#[test]
fn values_queued_when_the_receiver_drops_are_dropped() {
    let drops = SyncDropCounter::new();
    let (tx, rx) = mpsc::channel();
    for _ in 0..3 {
        tx.send(drops.token()).unwrap();
    }
    drop(rx);
    assert_eq!(drops.count(), 3);
    assert!(tx.send(drops.token()).is_err());
    assert_eq!(drops.count(), 4, "the value given back was dropped too");
}

#[test]
fn try_send_is_full_at_the_bound() {
    let (tx, rx) = mpsc::sync_channel(2);
    tx.try_send(1).unwrap();
    tx.try_send(2).unwrap();
    assert_eq!(tx.try_send(3), Err(TrySendError::Full(3)));
    assert_eq!(rx.recv(), Ok(1));
    tx.try_send(3).unwrap();
    assert_eq!(rx.try_iter().collect::<Vec<_>>(), [2, 3]);
}

#[test]
fn a_blocked_sync_send_goes_on_when_room_frees() {
    let (tx, rx) = mpsc::sync_channel(1);
    tx.send(1).unwrap();
    let sender = greenlet::spawn(move || tx.send(2));
    greenlet::yield_now();
    assert!(!sender.is_finished(), "the channel is full");
    assert_eq!(rx.recv(), Ok(1));
    assert_eq!(rx.recv(), Ok(2));
    assert_eq!(sender.join().unwrap(), Ok(()));
}

#[test]
fn a_blocked_sync_send_fails_with_its_value_when_the_receiver_drops() {
    let (tx, rx) = mpsc::sync_channel(1);
    tx.send(1).unwrap();
    let sender = greenlet::spawn(move || tx.send(2));
    greenlet::yield_now();
    drop(rx);
    assert_eq!(sender.join().unwrap(), Err(SendError(2)));
}

#[test]
fn a_rendezvous_send_returns_only_once_the_value_is_taken() {
    let (tx, rx) = mpsc::sync_channel(0);
    assert_eq!(tx.try_send(0), Err(TrySendError::Full(0)), "nobody waits");
    let sender = greenlet::spawn(move || {
        tx.send(1).unwrap();
        tx.send(2)
    });
    for _ in 0..3 {
        greenlet::yield_now();
        assert!(!sender.is_finished(), "no value was taken");
    }
    assert_eq!(rx.recv(), Ok(1));
    greenlet::yield_now();
    assert!(!sender.is_finished(), "the second value is not taken");
    drop(rx);
    assert_eq!(sender.join().unwrap(), Err(SendError(2)), "given back");
}

#[test]
fn a_rendezvous_try_send_reaches_a_waiting_receiver() {
    let (tx, rx) = mpsc::sync_channel(0);
    let receiver = greenlet::spawn(move || rx.recv());
    greenlet::yield_now(); // the receiver waits
    assert_eq!(tx.try_send(5), Ok(()));
    assert_eq!(receiver.join().unwrap(), Ok(5));
}

#[test]
fn a_rendezvous_with_a_std_thread() {
    let (tx, rx) = mpsc::sync_channel(0);
    let receiver = thread::spawn(move || rx.iter().collect::<Vec<i32>>());
    for i in 0..100 {
        tx.send(i).unwrap();
    }
    drop(tx);
    assert_eq!(receiver.join().unwrap(), (0..100).collect::<Vec<_>>());
}

#[test]
fn iterators_wait_or_not_as_std_s() {
    let (tx, rx) = mpsc::channel();
    tx.send(1).unwrap();
    tx.send(2).unwrap();
    assert_eq!(rx.try_iter().collect::<Vec<_>>(), [1, 2]);
    assert_eq!(rx.try_iter().next(), None);
    let producer = greenlet::spawn(move || {
        for i in 3..6 {
            tx.send(i).unwrap();
            greenlet::yield_now();
        }
    });
    assert_eq!((&rx).into_iter().take(1).collect::<Vec<_>>(), [3]);
    assert_eq!(rx.iter().take(1).collect::<Vec<_>>(), [4]);
    let mut rest = Vec::new();
    for value in rx {
        rest.push(value);
    }
    assert_eq!(rest, [5]);
    producer.join().unwrap();
}

#[test]
fn recv_timeout_times_out_then_gets_the_value() {
    let (tx, rx) = mpsc::channel();
    assert_eq!(rx.recv_timeout(SHORT), Err(RecvTimeoutError::Timeout));
    let sender = thread::spawn(move || tx.send(9).unwrap());
    assert_eq!(rx.recv_timeout(Duration::from_secs(60)), Ok(9));
    assert_eq!(rx.recv_timeout(SHORT), Err(RecvTimeoutError::Disconnected));
    sender.join().unwrap();
    let (tx, rx) = mpsc::channel();
    let sender = thread::spawn(move || tx.send(10).unwrap());
    assert_eq!(
        rx.recv_timeout(Duration::MAX),
        Ok(10),
        "too long for an Instant"
    );
    sender.join().unwrap();
}

#[test]
fn auto_traits_are_std_s() {
    fn send_sync<S: Send + Sync>() {}
    fn send<S: Send>() {}
    send_sync::<Sender<u8>>();
    send_sync::<SyncSender<u8>>();
    send::<Receiver<u8>>();
    // `Receiver: !Sync` is pinned by a `compile_fail` doctest.
}

// ------------------------------------------------------------ throughput ---

const THREADS: u64 = 4;
const PER_THREAD: u64 = 100_000;

/// Sum and count of the values `0..THREADS * PER_THREAD`, each once.
fn expected() -> (u64, u64) {
    let n = THREADS * PER_THREAD;
    (n * (n - 1) / 2, n)
}

/// Spawns `THREADS` std threads, thread `t` sending `t * PER_THREAD ..`.
fn feed_from_threads(send: impl Fn(u64) + Clone + Send + 'static) -> Vec<thread::JoinHandle<()>> {
    (0..THREADS)
        .map(|t| {
            let send = send.clone();
            thread::spawn(move || (t * PER_THREAD..(t + 1) * PER_THREAD).for_each(&send))
        })
        .collect()
}

fn checksum(values: impl Iterator<Item = u64>) -> (u64, u64) {
    values.fold((0, 0), |(sum, count), v| (sum + v, count + 1))
}

#[test]
fn four_threads_feed_one_greenlet() {
    let (tx, rx) = mpsc::channel();
    let consumer = greenlet::spawn(move || checksum(rx.iter()));
    let threads = feed_from_threads(move |v| tx.send(v).unwrap());
    assert_eq!(consumer.join().unwrap(), expected());
    threads.into_iter().for_each(|t| t.join().unwrap());
}

#[test]
fn four_threads_feed_one_greenlet_through_a_sync_channel_of_16() {
    let (tx, rx) = mpsc::sync_channel(16);
    let consumer = greenlet::spawn(move || checksum(rx.iter()));
    let threads = feed_from_threads(move |v| tx.send(v).unwrap());
    assert_eq!(consumer.join().unwrap(), expected());
    threads.into_iter().for_each(|t| t.join().unwrap());
}

/// Four greenlets of this thread send into `send`; a std thread receives.
fn greenlets_feed_a_thread<S: Clone + 'static>(tx: S, send: fn(&S, u64), rx: Receiver<u64>) {
    let receiver = thread::spawn(move || checksum(rx.iter()));
    let producers: Vec<_> = (0..THREADS)
        .map(|g| {
            let tx = tx.clone();
            greenlet::spawn(move || {
                for v in g * PER_THREAD..(g + 1) * PER_THREAD {
                    send(&tx, v);
                    if v % 1000 == 0 {
                        greenlet::yield_now(); // interleave the producers
                    }
                }
            })
        })
        .collect();
    drop(tx);
    for p in greenlet::joinall(producers) {
        p.unwrap();
    }
    assert_eq!(receiver.join().unwrap(), expected());
}

#[test]
fn four_greenlets_feed_a_receiver_on_a_std_thread() {
    let (tx, rx) = mpsc::channel();
    greenlets_feed_a_thread(tx, |tx, v| tx.send(v).unwrap(), rx);
}

#[test]
fn four_greenlets_feed_a_std_thread_through_a_sync_channel_of_16() {
    let (tx, rx) = mpsc::sync_channel(16);
    greenlets_feed_a_thread(tx, |tx, v| tx.send(v).unwrap(), rx);
}

// ------------------------------------------------------ the hub goes on ---

#[test]
fn a_ticker_ticks_while_a_greenlet_waits_in_recv() {
    let ticker = SleepTicker::spawn(Duration::from_millis(2), 10_000);
    let (tx, rx) = mpsc::channel();
    let waiter = greenlet::spawn(move || rx.recv());
    let sender = thread::spawn(move || {
        thread::sleep(Duration::from_millis(200));
        tx.send("late").unwrap();
    });
    assert_eq!(waiter.join().unwrap(), Ok("late"));
    let ticks = ticker.stop();
    assert!(ticks >= 20, "the ticker ticked {ticks} times");
    sender.join().unwrap();
}

#[test]
fn a_thread_s_main_context_receives_from_greenlets_of_another_thread() {
    let (tx, rx) = mpsc::channel();
    let receiver = thread::spawn(move || {
        // This thread's hub runs a greenlet of its own while it waits.
        let ticker = SleepTicker::spawn(Duration::from_millis(1), 10_000);
        let got: Vec<u32> = rx.iter().collect();
        ticker.stop();
        got
    });
    let senders: Vec<_> = (0..3)
        .map(|g| {
            let tx = tx.clone();
            greenlet::spawn(move || {
                for i in 0..5 {
                    greenlet::sleep(Duration::from_millis(1));
                    tx.send(g * 10 + i).unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    greenlet::joinall(senders);
    let mut got = receiver.join().unwrap();
    got.sort();
    let mut want: Vec<u32> = (0..3)
        .flat_map(|g| (0..5).map(move |i| g * 10 + i))
        .collect();
    want.sort();
    assert_eq!(got, want);
}

// --------------------------------------------------- kills and timeouts ---

#[test]
fn a_greenlet_killed_in_recv_unwinds_and_the_next_recv_gets_later_values() {
    let drops = SyncDropCounter::new();
    let (tx, rx) = mpsc::channel();
    let rx = Rc::new(rx);
    let waiter = {
        let (rx, guard) = (rx.clone(), drops.token());
        greenlet::spawn(move || {
            let _guard = guard;
            rx.recv()
        })
    };
    greenlet::yield_now();
    waiter.kill();
    assert!(waiter.join().unwrap_err().is_killed());
    assert_eq!(drops.count(), 1, "the killed greenlet's destructors ran");
    let sender = thread::spawn(move || tx.send(drops.token()).unwrap());
    let value = rx.recv().unwrap();
    sender.join().unwrap();
    drop(value);
    assert_eq!(rx.recv().map(drop), Err(RecvError));
}

#[test]
fn a_recv_timed_out_leaves_later_values_for_the_next_call() {
    let (tx, rx) = mpsc::channel();
    let timed = greenlet::with_timeout(SHORT, || rx.recv());
    assert!(timed.is_err(), "nothing was sent");
    let sender = thread::spawn(move || tx.send(1).unwrap());
    assert_eq!(rx.recv(), Ok(1));
    sender.join().unwrap();
}

#[test]
fn a_greenlet_killed_in_a_full_send_drops_its_value_and_others_get_through() {
    let drops = SyncDropCounter::new();
    let (tx, rx) = mpsc::sync_channel(1);
    tx.send(drops.token()).unwrap();
    let blocked = |tx: &SyncSender<_>| {
        let (tx, value) = (tx.clone(), drops.token());
        greenlet::spawn(move || tx.send(value).is_ok())
    };
    let (victim, other) = (blocked(&tx), blocked(&tx));
    greenlet::yield_now(); // both wait, the victim first
    victim.kill();
    assert!(victim.join().unwrap_err().is_killed());
    assert_eq!(drops.count(), 1, "the victim's value was dropped, not sent");
    drop(rx.recv().unwrap()); // room: the other sender is woken
    assert!(other.join().unwrap());
    drop(rx.recv().unwrap());
    drop(tx);
    assert_eq!(rx.recv().map(drop), Err(RecvError));
    assert_eq!(drops.count(), 3, "nothing leaked");
}

#[test]
fn a_sender_killed_after_being_chosen_for_a_free_slot_passes_it_on() {
    let drops = SyncDropCounter::new();
    let (tx, rx) = mpsc::sync_channel(1);
    tx.send(drops.token()).unwrap();
    let blocked = |tx: &SyncSender<_>| {
        let (tx, value) = (tx.clone(), drops.token());
        greenlet::spawn(move || tx.send(value).is_ok())
    };
    let (victim, other) = (blocked(&tx), blocked(&tx));
    greenlet::yield_now();
    // Frees a slot and wakes the victim, which is killed before it runs.
    drop(rx.try_recv().unwrap());
    victim.kill();
    assert!(victim.join().unwrap_err().is_killed());
    assert!(other.join().unwrap(), "the wake-up passed to the other");
    drop(rx.recv().unwrap());
    drop(tx);
    assert_eq!(rx.try_recv().map(drop), Err(TryRecvError::Disconnected));
    assert_eq!(drops.count(), 3, "nothing leaked");
}

#[test]
fn a_full_send_timed_out_drops_its_value_and_others_get_through() {
    let drops = SyncDropCounter::new();
    let (tx, rx) = mpsc::sync_channel(1);
    tx.send(drops.token()).unwrap();
    let timed = greenlet::with_timeout(SHORT, || tx.send(drops.token()));
    assert!(timed.is_err(), "the channel stayed full");
    assert_eq!(drops.count(), 1);
    let other = {
        let (tx, value) = (tx.clone(), drops.token());
        thread::spawn(move || tx.send(value).is_ok())
    };
    drop(rx.recv().unwrap());
    drop(rx.recv().unwrap());
    assert!(other.join().unwrap());
    assert_eq!(drops.count(), 3, "nothing leaked");
}

#[test]
fn a_rendezvous_sender_killed_before_its_value_is_taken_takes_it_back() {
    let drops = SyncDropCounter::new();
    let (tx, rx) = mpsc::sync_channel(0);
    let victim = {
        let (tx, value) = (tx.clone(), drops.token());
        greenlet::spawn(move || tx.send(value).is_ok())
    };
    greenlet::yield_now(); // its value waits in the slot
    victim.kill();
    assert!(victim.join().unwrap_err().is_killed());
    assert_eq!(drops.count(), 1, "taken back and dropped");
    assert_eq!(rx.try_recv().map(drop), Err(TryRecvError::Empty));
    let other = {
        let value = drops.token();
        thread::spawn(move || tx.send(value).is_ok())
    };
    drop(rx.recv().unwrap());
    assert!(other.join().unwrap());
    assert_eq!(drops.count(), 2);
}
