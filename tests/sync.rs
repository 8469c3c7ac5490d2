//! Synchronisation primitives, from the main context and from greenlets:
//! FIFO order, timeouts, kills while waiting. Every loop is bounded.

mod util;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use std::cell::Cell;

use greenlet::sync::{Event, Semaphore};
use util::{DropCounter, xorshift};

#[test]
fn event_wakes_waiters_in_fifo_order_from_greenlets_and_main() {
    let event = Event::new();
    let order = Rc::new(RefCell::new(Vec::new()));
    let waiters: Vec<_> = (0..5)
        .map(|i| {
            let (event, order) = (event.clone(), order.clone());
            greenlet::spawn(move || {
                event.wait();
                order.borrow_mut().push(i);
            })
        })
        .collect();
    let setter = {
        let event = event.clone();
        greenlet::spawn(move || {
            greenlet::sleep(Duration::from_millis(2));
            event.set();
        })
    };
    greenlet::yield_now(); // the five start waiting first
    event.wait(); // then the main context
    order.borrow_mut().push(99);
    greenlet::joinall(waiters);
    setter.join().unwrap();
    assert_eq!(*order.borrow(), [0, 1, 2, 3, 4, 99]);
}

#[test]
fn a_set_then_cleared_event_still_releases_those_it_woke() {
    let event = Event::new();
    let waiter = {
        let event = event.clone();
        greenlet::spawn(move || event.wait())
    };
    greenlet::yield_now();
    event.set();
    event.clear(); // before the waiter runs
    waiter.join().unwrap();
    assert!(!event.is_set());
}

#[test]
fn event_wait_timeout_reports_whether_it_was_set() {
    let event = Event::new();
    assert!(!event.wait_timeout(Duration::from_millis(3)));
    let setter = {
        let event = event.clone();
        greenlet::spawn_later(Duration::from_millis(2), move || event.set())
    };
    assert!(event.wait_timeout(Duration::from_secs(10)));
    setter.join().unwrap();
    assert!(event.wait_timeout(Duration::from_millis(1)), "set: at once");
}

#[test]
fn killing_an_event_waiter_runs_its_destructors_and_spares_the_others() {
    let event = Event::new();
    let drops = DropCounter::new();
    let token = drops.token();
    let victim = {
        let event = event.clone();
        greenlet::spawn(move || {
            let _token = token;
            event.wait();
        })
    };
    let survivor = {
        let event = event.clone();
        greenlet::spawn(move || {
            event.wait();
            "woken"
        })
    };
    greenlet::yield_now();
    victim.kill();
    assert_eq!(drops.count(), 1);
    event.set();
    assert_eq!(survivor.join().unwrap(), "woken");
    assert!(victim.join().unwrap_err().is_killed());
}

#[test]
fn ten_thousand_greenlets_wait_on_one_event() {
    let event = Event::new();
    let woken = Rc::new(RefCell::new(Vec::with_capacity(10_000)));
    let waiters: Vec<_> = (0..10_000u32)
        .map(|i| {
            let (event, woken) = (event.clone(), woken.clone());
            greenlet::spawn(move || {
                event.wait();
                woken.borrow_mut().push(i);
            })
        })
        .collect();
    greenlet::yield_now(); // all ten thousand block
    event.set();
    greenlet::joinall(waiters);
    let woken = woken.borrow();
    assert_eq!(woken.len(), 10_000);
    assert!(woken.windows(2).all(|w| w[0] < w[1]), "FIFO order");
}

#[test]
fn waiting_on_an_event_nobody_can_set_is_a_deadlock() {
    let event = Event::new();
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| event.wait())).unwrap_err();
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        msg.starts_with("greenlet: this operation would block forever"),
        "{msg}"
    );
    assert!(msg.contains("main waits on Event::wait"), "{msg}");
}

#[test]
fn semaphore_grants_permits_in_fifo_order() {
    let sem = Semaphore::new(0);
    let order = Rc::new(RefCell::new(Vec::new()));
    let waiters: Vec<_> = (0..5)
        .map(|i| {
            let (sem, order) = (sem.clone(), order.clone());
            greenlet::spawn(move || {
                sem.acquire();
                order.borrow_mut().push(i);
            })
        })
        .collect();
    greenlet::yield_now(); // all five wait
    for _ in 0..5 {
        sem.release().unwrap();
        // A newcomer cannot overtake: the permit went to the first waiter.
        assert!(!sem.try_acquire());
    }
    greenlet::joinall(waiters);
    assert_eq!(*order.borrow(), [0, 1, 2, 3, 4]);
    assert_eq!(sem.available(), 0);
}

#[test]
fn semaphore_try_and_timeout_forms() {
    let sem = Semaphore::new(1);
    assert!(sem.try_acquire());
    assert!(!sem.try_acquire());
    assert!(!sem.acquire_timeout(Duration::from_millis(3)));
    let releaser = {
        let sem = sem.clone();
        greenlet::spawn_later(Duration::from_millis(2), move || sem.release().unwrap())
    };
    assert!(sem.acquire_timeout(Duration::from_secs(10)));
    releaser.join().unwrap();
    assert_eq!(sem.available(), 0);
}

#[test]
fn a_bounded_semaphore_refuses_to_over_release() {
    let sem = Semaphore::bounded(2);
    assert!(sem.release().is_err());
    sem.acquire();
    sem.release().unwrap();
    assert_eq!(
        sem.release().unwrap_err().to_string(),
        "semaphore released more times than it was acquired"
    );
    assert_eq!(sem.available(), 2);
}

#[test]
fn a_permit_handed_to_a_killed_waiter_passes_to_the_next() {
    let sem = Semaphore::new(0);
    let drops = DropCounter::new();
    let token = drops.token();
    let victim = {
        let sem = sem.clone();
        greenlet::spawn(move || {
            let _token = token;
            sem.acquire();
            unreachable!("killed before it could run with its permit");
        })
    };
    let next = {
        let sem = sem.clone();
        greenlet::spawn(move || {
            sem.acquire();
            "got the permit"
        })
    };
    greenlet::yield_now(); // both wait, the victim first
    sem.release().unwrap(); // handed to the victim, which has not run yet
    victim.kill(); // its permit passes on
    assert_eq!(drops.count(), 1);
    assert_eq!(next.join().unwrap(), "got the permit");
    assert_eq!(sem.available(), 0, "no permit lost, none invented");
}

/// Seeded random acquires, releases, yields, sleeps, timeouts and kills:
/// permits are conserved and never more than `PERMITS` holders at once.
#[test]
fn semaphore_permits_are_conserved_under_random_kills_and_timeouts() {
    const PERMITS: usize = 3;
    let mut next = xorshift(0x9E37_79B9_7F4A_7C15);
    let sem = Semaphore::new(PERMITS);
    let holders = Rc::new(Cell::new(0usize));
    let most = Rc::new(Cell::new(0usize));
    let mut handles = Vec::new();
    for _ in 0..200 {
        let (sem, holders, most) = (sem.clone(), holders.clone(), most.clone());
        let (a, b, c) = (next() % 4, next() % 3, next() % 500);
        handles.push(greenlet::spawn(move || {
            for _ in 0..5 {
                let got = if a == 0 {
                    sem.acquire_timeout(Duration::from_micros(c))
                } else {
                    sem.acquire();
                    true
                };
                if got {
                    holders.set(holders.get() + 1);
                    most.set(most.get().max(holders.get()));
                    let release = Guard(sem.clone(), holders.clone());
                    if b == 0 {
                        greenlet::sleep(Duration::from_micros(c));
                    } else {
                        greenlet::yield_now();
                    }
                    drop(release);
                }
            }
        }));
    }
    /// Releases a permit even when its holder is killed.
    struct Guard(Semaphore, Rc<Cell<usize>>);
    impl Drop for Guard {
        fn drop(&mut self) {
            self.1.set(self.1.get() - 1);
            self.0.release().unwrap();
        }
    }
    // Kill one greenlet in seventeen, at different moments: while some hold
    // a permit, some wait for one, and some have been handed one.
    for round in 0..10 {
        greenlet::yield_now();
        for (i, h) in handles.iter().enumerate() {
            if i % 17 == round {
                h.kill();
            }
        }
    }
    for h in handles {
        let _ = h.join();
    }
    assert!(
        most.get() <= PERMITS,
        "at most {PERMITS} holders, saw {}",
        most.get()
    );
    assert_eq!(holders.get(), 0);
    assert_eq!(sem.available(), PERMITS, "every permit came back");
}
