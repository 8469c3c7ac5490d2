//! `Condvar` with the crate's `Mutex`, from the main context and from
//! greenlets: FIFO wake-ups, `notify_all`, the `while` and timeout forms,
//! kills while waiting and while relocking (a `notify_one` handed to a
//! killed waiter passes on), and the deadlock report. Every loop is
//! bounded; nothing is asserted on elapsed time.

mod util;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::time::Duration;

use greenlet::sync::{Condvar, Mutex};
use util::DropCounter;

const LONG: Duration = Duration::from_secs(60);

type Pair<T> = Rc<(Mutex<T>, Condvar)>;

fn pair<T>(value: T) -> Pair<T> {
    Rc::new((Mutex::new(value), Condvar::new()))
}

/// A greenlet that waits once on the pair's condvar and then pushes `name`
/// to the value, under the lock.
fn waiter(pair: &Pair<Vec<String>>, name: &str) -> greenlet::Greenlet<()> {
    let (pair, name) = (pair.clone(), name.to_string());
    greenlet::spawn(move || {
        let (mutex, condvar) = &*pair;
        let mut guard = condvar.wait(mutex.lock());
        guard.push(name);
    })
}

#[test]
fn wait_unlocks_and_relocks_from_greenlets_and_main() {
    let pair = pair(0);
    // A greenlet waits; the main context notifies.
    let in_greenlet = {
        let pair = pair.clone();
        greenlet::spawn(move || {
            let guard = pair.0.lock();
            let guard = pair.1.wait(guard);
            *guard
        })
    };
    greenlet::yield_now();
    assert!(!pair.0.is_locked(), "the mutex is free while it waits");
    *pair.0.lock() = 1;
    pair.1.notify_one();
    assert_eq!(in_greenlet.join().unwrap(), 1);
    // The main context waits; a greenlet notifies.
    let notifier = {
        let pair = pair.clone();
        greenlet::spawn(move || {
            *pair.0.lock() = 2;
            pair.1.notify_one();
        })
    };
    let guard = pair.1.wait(pair.0.lock());
    assert_eq!(*guard, 2);
    assert!(pair.0.is_locked(), "relocked before it returned");
    drop(guard);
    notifier.join().unwrap();
}

#[test]
fn notify_one_wakes_waiters_in_the_order_they_began_waiting() {
    let pair = pair(Vec::new());
    let waiters: Vec<_> = (0..4).map(|i| waiter(&pair, &format!("{i}"))).collect();
    greenlet::yield_now(); // all four wait
    for _ in 0..4 {
        pair.1.notify_one();
        greenlet::yield_now();
    }
    greenlet::joinall(waiters);
    assert_eq!(*pair.0.lock(), ["0", "1", "2", "3"]);
}

#[test]
fn notify_all_wakes_every_waiter_and_each_relocks_in_turn() {
    let pair = pair(Vec::new());
    let waiters: Vec<_> = (0..3).map(|i| waiter(&pair, &format!("{i}"))).collect();
    greenlet::yield_now();
    let guard = pair.0.lock();
    pair.1.notify_all(); // they wake, then wait for the mutex
    greenlet::yield_now();
    assert!(guard.is_empty(), "nobody got past the held mutex");
    drop(guard);
    greenlet::joinall(waiters);
    assert_eq!(*pair.0.lock(), ["0", "1", "2"]);
    pair.1.notify_all(); // nobody waits: nothing happens
}

#[test]
fn a_notification_when_nobody_waits_is_lost() {
    let pair = pair(());
    pair.1.notify_one();
    let (_guard, result) = pair.1.wait_timeout(pair.0.lock(), Duration::from_millis(2));
    assert!(result.timed_out());
}

#[test]
fn wait_timeout_from_main_and_greenlets() {
    let pair = pair(0);
    let (guard, result) = pair.1.wait_timeout(pair.0.lock(), Duration::from_millis(2));
    assert!(result.timed_out());
    assert_eq!(*guard, 0);
    drop(guard);
    let in_greenlet = {
        let pair = pair.clone();
        greenlet::spawn(move || {
            let (guard, result) = pair.1.wait_timeout(pair.0.lock(), LONG);
            (*guard, result.timed_out())
        })
    };
    greenlet::yield_now();
    *pair.0.lock() = 5;
    pair.1.notify_one();
    assert_eq!(in_greenlet.join().unwrap(), (5, false), "notified in time");
    let (_guard, result) = pair.1.wait_timeout(pair.0.lock(), Duration::ZERO);
    assert!(result.timed_out());
}

#[test]
fn wait_while_and_wait_timeout_while_check_the_condition_first_and_after_each_wake() {
    let pair = pair(0u32);
    // False at once: no wait.
    let guard = pair.1.wait_while(pair.0.lock(), |n| *n > 0);
    drop(guard);
    let counter = {
        let pair = pair.clone();
        greenlet::spawn(move || {
            for _ in 0..5 {
                *pair.0.lock() += 1;
                pair.1.notify_all();
                greenlet::yield_now();
            }
        })
    };
    let mut checks = 0;
    let guard = pair.1.wait_while(pair.0.lock(), |n| {
        checks += 1;
        *n < 3
    });
    assert_eq!(*guard, 3);
    assert_eq!(checks, 4, "once first, then after each of three wake-ups");
    drop(guard);
    let (guard, result) = pair.1.wait_timeout_while(pair.0.lock(), LONG, |n| *n < 5);
    assert!(!result.timed_out());
    assert_eq!(*guard, 5);
    drop(guard);
    counter.join().unwrap();
    let (guard, result) = pair
        .1
        .wait_timeout_while(pair.0.lock(), Duration::from_millis(2), |n| *n < 6);
    assert!(result.timed_out(), "nobody counts any more");
    assert_eq!(*guard, 5);
}

#[test]
fn a_waiter_killed_while_waiting_unwinds_without_the_lock_and_spares_the_others() {
    let pair = pair(Vec::new());
    let drops = DropCounter::new();
    let victim = {
        let (pair, token) = (pair.clone(), drops.token());
        greenlet::spawn(move || {
            let _token = token;
            let guard = pair.1.wait(pair.0.lock());
            drop(guard);
            unreachable!("killed while waiting");
        })
    };
    let survivor = waiter(&pair, "survivor");
    greenlet::yield_now(); // both wait
    victim.kill();
    assert_eq!(drops.count(), 1, "its destructors ran");
    assert!(victim.join().unwrap_err().is_killed());
    assert!(!pair.0.is_locked(), "it did not take the lock to unwind");
    pair.1.notify_one();
    survivor.join().unwrap();
    assert_eq!(*pair.0.lock(), ["survivor"]);
}

#[test]
fn a_notify_one_handed_to_a_killed_waiter_passes_to_the_next() {
    let pair = pair(Vec::new());
    let victim = waiter(&pair, "victim");
    let next = waiter(&pair, "next");
    greenlet::yield_now(); // both wait, the victim first
    pair.1.notify_one(); // handed to the victim, which has not run yet
    victim.kill();
    assert!(victim.join().unwrap_err().is_killed());
    next.join().unwrap(); // woken by the notification passed on
    assert_eq!(*pair.0.lock(), ["next"]);
}

#[test]
fn a_waiter_whose_outer_timeout_expires_leaves_the_queue_to_the_next() {
    let pair = pair(Vec::new());
    let impatient = {
        let pair = pair.clone();
        greenlet::spawn(move || {
            greenlet::with_timeout(Duration::from_millis(1), || {
                let _guard = pair.1.wait(pair.0.lock());
            })
            .is_err()
        })
    };
    let patient = waiter(&pair, "patient");
    assert!(
        impatient.join().unwrap(),
        "its timeout expired while it waited"
    );
    pair.1.notify_one(); // the impatient one left the queue: to the patient
    patient.join().unwrap();
    assert_eq!(*pair.0.lock(), ["patient"]);
}

/// A waiter registered after a `notify_all` is not woken by the killed
/// share of that `notify_all`: only a `notify_one` passes on.
#[test]
fn a_notify_all_handed_to_a_killed_waiter_wakes_nobody_else() {
    let pair = pair(());
    let victim = {
        let pair = pair.clone();
        greenlet::spawn(move || drop(pair.1.wait(pair.0.lock())))
    };
    greenlet::yield_now(); // the victim waits
    // Both run before the victim (they are ready first): the late waiter
    // begins waiting, then the killer kills the victim.
    let late = {
        let pair = pair.clone();
        greenlet::spawn(move || {
            let (_guard, result) = pair.1.wait_timeout(pair.0.lock(), Duration::from_millis(5));
            result.timed_out()
        })
    };
    let victim = Rc::new(victim);
    let killer = {
        let victim = victim.clone();
        greenlet::spawn(move || victim.kill())
    };
    pair.1.notify_all(); // handed to the victim only
    killer.join().unwrap();
    let Ok(victim) = Rc::try_unwrap(victim) else {
        panic!("the killer is done and dropped its handle");
    };
    assert!(victim.join().unwrap_err().is_killed());
    assert!(late.join().unwrap(), "the late waiter was not woken");
}

#[test]
fn a_waiter_killed_while_relocking_leaves_the_mutex_to_its_holder() {
    let pair = pair(Vec::new());
    let victim = waiter(&pair, "victim");
    greenlet::yield_now();
    let mut guard = pair.0.lock();
    pair.1.notify_one();
    greenlet::yield_now(); // the victim is notified and waits for the mutex
    victim.kill();
    assert!(victim.join().unwrap_err().is_killed());
    guard.push("main".to_string());
    drop(guard);
    assert!(!pair.0.is_locked(), "no lock handed to the dead");
    assert_eq!(*pair.0.lock(), ["main"]);
}

#[test]
fn waiting_with_nobody_to_notify_is_a_deadlock_and_the_mutex_is_free() {
    let pair = pair(());
    let err = catch_unwind(AssertUnwindSafe(|| drop(pair.1.wait(pair.0.lock())))).unwrap_err();
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        msg.starts_with("greenlet: this operation would block forever"),
        "{msg}"
    );
    assert!(msg.contains("main waits on Condvar::wait"), "{msg}");
    assert!(!pair.0.is_locked());
    assert!(pair.0.try_lock().is_some());
}

#[test]
fn condvar_default_and_debug() {
    let condvar = Condvar::default();
    assert_eq!(format!("{condvar:?}"), "Condvar { waiting: 0 }");
    let pair = Rc::new((Mutex::new(()), condvar));
    let waiter = {
        let pair = pair.clone();
        greenlet::spawn(move || drop(pair.1.wait(pair.0.lock())))
    };
    greenlet::yield_now();
    assert_eq!(format!("{:?}", pair.1), "Condvar { waiting: 1 }");
    pair.1.notify_one();
    waiter.join().unwrap();
}
