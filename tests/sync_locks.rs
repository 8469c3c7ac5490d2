//! `Mutex`, `Barrier` and `AsyncResult`, from the main context and from
//! greenlets: FIFO order, timeouts, try forms, kills and panics while waiting
//! or holding. Every loop is bounded; nothing is asserted on elapsed time.

mod util;

use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::time::Duration;

use greenlet::sync::{AlreadySet, AsyncResult, Barrier, Mutex};
use util::{DropCounter, xorshift};

/// The message of a caught panic.
fn message(err: &(dyn std::any::Any + Send)) -> String {
    err.downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

// ---------------------------------------------------------------- Mutex

#[test]
fn mutex_grants_the_lock_in_fifo_order_from_greenlets_and_main() {
    let mutex = Rc::new(Mutex::new(Vec::new()));
    let holder = {
        let mutex = mutex.clone();
        greenlet::spawn(move || {
            let mut log = mutex.lock();
            greenlet::sleep(Duration::from_millis(2)); // the others queue up
            log.push(-1);
        })
    };
    greenlet::yield_now(); // the holder locks
    let waiters: Vec<_> = (0..5)
        .map(|i| {
            let mutex = mutex.clone();
            greenlet::spawn(move || mutex.lock().push(i))
        })
        .collect();
    greenlet::yield_now(); // all five wait
    mutex.lock().push(99); // then the main context
    holder.join().unwrap();
    greenlet::joinall(waiters);
    assert_eq!(*mutex.lock(), [-1, 0, 1, 2, 3, 4, 99]);
    assert!(!mutex.is_locked());
}

#[test]
fn unlocking_hands_the_lock_to_the_first_waiter_so_newcomers_cannot_overtake() {
    let mutex = Rc::new(Mutex::new(Vec::new()));
    let guard = mutex.lock();
    let waiters: Vec<_> = (0..5)
        .map(|i| {
            let mutex = mutex.clone();
            greenlet::spawn(move || mutex.lock().push(i))
        })
        .collect();
    greenlet::yield_now(); // all five wait
    drop(guard); // handed to waiter 0, which has not run yet
    assert!(mutex.is_locked());
    assert!(mutex.try_lock().is_none(), "a newcomer cannot overtake");
    greenlet::joinall(waiters);
    assert!(!mutex.is_locked());
    assert_eq!(*mutex.try_lock().expect("free at last"), [0, 1, 2, 3, 4]);
}

#[test]
fn mutex_try_lock_and_lock_timeout_from_main_and_greenlets() {
    let mutex = Rc::new(Mutex::new(0));
    {
        let guard = mutex.try_lock().expect("free");
        assert!(mutex.try_lock().is_none());
        assert!(mutex.lock_timeout(Duration::from_millis(3)).is_none());
        let mutex = mutex.clone();
        let in_greenlet =
            greenlet::spawn(move || mutex.lock_timeout(Duration::from_millis(3)).is_none());
        assert!(in_greenlet.join().unwrap(), "timed out in a greenlet too");
        drop(guard);
    }
    assert!(
        !mutex.is_locked(),
        "the timed-out waiters left nothing behind"
    );
    // A holder that unlocks in time: lock_timeout gets the lock.
    let holder = {
        let mutex = mutex.clone();
        greenlet::spawn(move || {
            let mut value = mutex.lock();
            greenlet::sleep(Duration::from_millis(2));
            *value = 7;
        })
    };
    greenlet::yield_now();
    let value = mutex
        .lock_timeout(Duration::from_secs(10))
        .expect("unlocked within the timeout");
    assert_eq!(*value, 7);
    drop(value);
    holder.join().unwrap();
}

#[test]
fn a_timed_out_mutex_waiter_leaves_the_queue_and_keeps_the_order() {
    let mutex = Rc::new(Mutex::new(Vec::new()));
    let guard = mutex.lock();
    let spawn_locker = |i: i32, timeout: Option<u64>| {
        let mutex = mutex.clone();
        greenlet::spawn(move || match timeout {
            Some(ms) => {
                if let Some(mut log) = mutex.lock_timeout(Duration::from_millis(ms)) {
                    log.push(i);
                }
            }
            None => mutex.lock().push(i),
        })
    };
    let first = spawn_locker(0, None);
    let quitter = spawn_locker(1, Some(1));
    let last = spawn_locker(2, None);
    greenlet::yield_now(); // all three wait
    quitter.join().unwrap(); // it times out: the lock is still held
    drop(guard);
    first.join().unwrap();
    last.join().unwrap();
    assert_eq!(*mutex.lock(), [0, 2]);
}

#[test]
fn killing_a_mutex_waiter_runs_its_destructors_and_spares_the_others() {
    let mutex = Rc::new(Mutex::new(0));
    let drops = DropCounter::new();
    let guard = mutex.lock();
    let victim = {
        let (mutex, token) = (mutex.clone(), drops.token());
        greenlet::spawn(move || {
            let _token = token;
            *mutex.lock() += 100;
        })
    };
    let survivor = {
        let mutex = mutex.clone();
        greenlet::spawn(move || *mutex.lock() += 1)
    };
    greenlet::yield_now(); // both wait
    victim.kill();
    assert_eq!(drops.count(), 1);
    assert!(victim.join().unwrap_err().is_killed());
    drop(guard);
    survivor.join().unwrap();
    assert_eq!(*mutex.lock(), 1);
}

#[test]
fn a_lock_handed_to_a_killed_waiter_passes_to_the_next() {
    let mutex = Rc::new(Mutex::new(Vec::new()));
    let drops = DropCounter::new();
    let guard = mutex.lock();
    let victim = {
        let (mutex, token) = (mutex.clone(), drops.token());
        greenlet::spawn(move || {
            let _token = token;
            let _guard = mutex.lock();
            unreachable!("killed before it could run with the lock");
        })
    };
    let next = {
        let mutex = mutex.clone();
        greenlet::spawn(move || mutex.lock().push("next"))
    };
    greenlet::yield_now(); // both wait, the victim first
    drop(guard); // handed to the victim, which has not run yet
    victim.kill(); // the lock passes on
    assert_eq!(drops.count(), 1);
    assert!(victim.join().unwrap_err().is_killed());
    next.join().unwrap();
    assert!(!mutex.is_locked(), "no lock lost");
    assert_eq!(*mutex.lock(), ["next"]);
}

#[test]
fn a_lock_handed_to_a_killed_waiter_with_nobody_behind_is_freed() {
    let mutex = Rc::new(Mutex::new(()));
    let guard = mutex.lock();
    let victim = {
        let mutex = mutex.clone();
        greenlet::spawn(move || drop(mutex.lock()))
    };
    greenlet::yield_now();
    drop(guard); // handed to the victim
    assert!(mutex.is_locked());
    victim.kill();
    assert!(!mutex.is_locked());
    assert!(mutex.try_lock().is_some());
}

#[test]
fn a_panic_in_a_greenlet_holding_the_lock_releases_it_without_poisoning() {
    let mutex = Rc::new(Mutex::new(Vec::new()));
    let panicker = {
        let mutex = mutex.clone();
        greenlet::spawn(move || {
            let mut log = mutex.lock();
            log.push("before the panic");
            greenlet::yield_now(); // the next locker queues up
            panic!("boom while holding the lock");
        })
    };
    let next = {
        let mutex = mutex.clone();
        greenlet::spawn(move || {
            let mut log = mutex.lock();
            log.push("next");
            log.clone()
        })
    };
    assert!(panicker.join().unwrap_err().is_panic());
    assert_eq!(next.join().unwrap(), ["before the panic", "next"]);
    assert!(!mutex.is_locked());
}

#[test]
fn a_panic_in_the_main_context_holding_the_lock_releases_it() {
    let mutex = Mutex::new(1);
    let err = catch_unwind(AssertUnwindSafe(|| {
        let mut value = mutex.lock();
        *value = 2;
        panic!("boom in main");
    }))
    .unwrap_err();
    assert_eq!(message(&*err), "boom in main");
    assert!(!mutex.is_locked());
    assert_eq!(
        *mutex.lock(),
        2,
        "the next locker gets the data, unpoisoned"
    );
}

#[test]
fn killing_or_timing_out_the_holder_unlocks() {
    let mutex = Rc::new(Mutex::new(0));
    let holder = {
        let mutex = mutex.clone();
        greenlet::spawn(move || {
            let mut value = mutex.lock();
            *value = 1;
            greenlet::sleep(Duration::from_secs(3600));
        })
    };
    greenlet::yield_now();
    assert!(mutex.is_locked());
    holder.kill();
    assert!(!mutex.is_locked());
    // An outer timeout unwinds through the guard too.
    let outcome = greenlet::with_timeout(Duration::from_millis(2), || {
        let _guard = mutex.lock();
        greenlet::sleep(Duration::from_secs(3600));
    });
    assert!(outcome.is_err());
    assert!(!mutex.is_locked());
    assert_eq!(*mutex.lock(), 1);
}

#[test]
fn an_outer_timeout_while_waiting_for_the_lock_leaves_the_queue() {
    let mutex = Rc::new(Mutex::new(Vec::new()));
    let guard = mutex.lock();
    let impatient = {
        let mutex = mutex.clone();
        greenlet::spawn(move || {
            greenlet::with_timeout(Duration::from_millis(1), || mutex.lock().push("impatient"))
                .is_err()
        })
    };
    let patient = {
        let mutex = mutex.clone();
        greenlet::spawn(move || mutex.lock().push("patient"))
    };
    assert!(impatient.join().unwrap(), "its timeout expired");
    drop(guard);
    patient.join().unwrap();
    assert_eq!(*mutex.lock(), ["patient"]);
}

#[test]
fn locking_a_mutex_the_main_context_holds_is_a_deadlock() {
    let mutex = Mutex::new(());
    let _guard = mutex.lock();
    let err = catch_unwind(AssertUnwindSafe(|| drop(mutex.lock()))).unwrap_err();
    let msg = message(&*err);
    assert!(
        msg.starts_with("greenlet: this operation would block forever"),
        "{msg}"
    );
    assert!(msg.contains("main waits on Mutex::lock"), "{msg}");
}

#[test]
fn mutex_get_mut_into_inner_default_and_debug() {
    let mut mutex = Mutex::<Vec<u8>>::default();
    mutex.get_mut().push(1);
    assert_eq!(format!("{mutex:?}"), "Mutex { data: [1], waiting: 0, .. }");
    {
        let guard = mutex.lock();
        assert_eq!(format!("{guard:?}"), "[1]");
        assert_eq!(
            format!("{mutex:?}"),
            "Mutex { data: <locked>, waiting: 0, .. }"
        );
    }
    assert_eq!(Mutex::from(3).into_inner(), 3);
    assert_eq!(mutex.into_inner(), [1]);
}

/// Seeded random lock, try_lock and lock_timeout calls, yields, sleeps,
/// outer timeouts and kills: never two holders at once, every increment made
/// under the lock is kept, and the mutex ends unlocked.
#[test]
fn the_mutex_is_never_held_by_two_under_random_kills_and_timeouts() {
    const GREENLETS: usize = 16;
    const ROUNDS: usize = 100;
    let mut next = xorshift(0x2545_F491_4F6C_DD1D);
    let mutex = Rc::new(Mutex::new(0u64));
    let holders = Rc::new(Cell::new(0usize));
    let most = Rc::new(Cell::new(0usize));
    let increments = Rc::new(Cell::new(0u64));
    let gave_up = Rc::new(Cell::new(0u64));
    /// Counts a holder out even when it unwinds.
    struct Holding(Rc<Cell<usize>>);
    impl Drop for Holding {
        fn drop(&mut self) {
            self.0.set(self.0.get() - 1);
        }
    }
    let handles: Vec<_> = (0..GREENLETS)
        .map(|_| {
            let (mutex, holders, most) = (mutex.clone(), holders.clone(), most.clone());
            let (increments, gave_up) = (increments.clone(), gave_up.clone());
            let mut next = xorshift(next() | 1);
            greenlet::spawn(move || {
                for _ in 0..ROUNDS {
                    let (how, hold, micros) = (next() % 5, next() % 4, next() % 300);
                    let body = || {
                        let guard = match how {
                            0 => mutex.try_lock(),
                            1 => mutex.lock_timeout(Duration::from_micros(micros)),
                            _ => Some(mutex.lock()),
                        };
                        let Some(mut guard) = guard else {
                            gave_up.set(gave_up.get() + 1);
                            greenlet::yield_now();
                            return;
                        };
                        holders.set(holders.get() + 1);
                        most.set(most.get().max(holders.get()));
                        let _holding = Holding(holders.clone());
                        let seen = *guard;
                        match hold {
                            0 => greenlet::sleep(Duration::from_micros(micros)),
                            1 => greenlet::yield_now(),
                            _ => {}
                        }
                        assert_eq!(*guard, seen, "nobody else changed it meanwhile");
                        *guard += 1;
                        increments.set(increments.get() + 1);
                    };
                    if next() % 6 == 0 {
                        // An outer timeout, which may expire while waiting,
                        // while holding, or not at all.
                        if greenlet::with_timeout(Duration::from_micros(micros), body).is_err() {
                            gave_up.set(gave_up.get() + 1);
                        }
                    } else {
                        body();
                    }
                    if next() % 3 == 0 {
                        greenlet::yield_now(); // let the queue drain at times
                    }
                }
            })
        })
        .collect();
    // Meanwhile kill a few greenlets, at random moments.
    let mut killed = 0;
    for _ in 0..20 {
        if next() % 2 == 0 {
            greenlet::yield_now();
        } else {
            greenlet::sleep(Duration::from_micros(next() % 200));
        }
        if next() % 5 == 0 {
            let victim = &handles[(next() % GREENLETS as u64) as usize];
            if !victim.is_finished() {
                victim.kill();
                killed += 1;
            }
        }
    }
    let outcomes = greenlet::joinall(handles);
    let failures = outcomes.iter().filter(|o| o.is_err()).count();
    assert!(
        outcomes
            .iter()
            .all(|o| o.as_ref().err().is_none_or(|e| e.is_killed())),
        "only kills, no failed assertion"
    );
    println!(
        "{} increments, {} gave up, {killed} killed ({failures} unfinished)",
        increments.get(),
        gave_up.get()
    );
    assert_eq!(most.get(), 1, "never two holders at once");
    assert_eq!(holders.get(), 0);
    assert!(!mutex.is_locked(), "the lock came back");
    assert!(mutex.try_lock().is_some());
    let mutex = Rc::try_unwrap(mutex).expect("every greenlet is done");
    assert_eq!(mutex.into_inner(), increments.get(), "no increment lost");
}

// -------------------------------------------------------------- Barrier

#[test]
fn a_barrier_releases_all_at_the_nth_arrival_with_one_leader_per_generation() {
    const PARTIES: usize = 4;
    const GENERATIONS: usize = 3;
    let barrier = Barrier::new(PARTIES);
    let log = Rc::new(RefCell::new(Vec::new()));
    let leaders = Rc::new(RefCell::new(vec![0; GENERATIONS]));
    let gs: Vec<_> = (0..PARTIES - 1)
        .map(|i| {
            let (barrier, log, leaders) = (barrier.clone(), log.clone(), leaders.clone());
            greenlet::spawn(move || {
                for generation in 0..GENERATIONS {
                    // Arrive at different moments.
                    greenlet::sleep(Duration::from_micros(100 * i as u64));
                    log.borrow_mut().push(("arrive", generation));
                    if barrier.wait().is_leader() {
                        leaders.borrow_mut()[generation] += 1;
                    }
                    log.borrow_mut().push(("leave", generation));
                }
            })
        })
        .collect();
    // The main context is the fourth party.
    for generation in 0..GENERATIONS {
        log.borrow_mut().push(("arrive", generation));
        if barrier.wait().is_leader() {
            leaders.borrow_mut()[generation] += 1;
        }
        log.borrow_mut().push(("leave", generation));
    }
    greenlet::joinall(gs);
    assert_eq!(*leaders.borrow(), [1; GENERATIONS], "one leader each");
    // Nobody leaves a generation before all of it has arrived.
    let log = log.borrow();
    for generation in 0..GENERATIONS {
        let arrivals: Vec<_> = log
            .iter()
            .enumerate()
            .filter(|(_, e)| **e == ("arrive", generation))
            .map(|(i, _)| i)
            .collect();
        let first_leave = log
            .iter()
            .position(|e| *e == ("leave", generation))
            .unwrap();
        assert_eq!(arrivals.len(), PARTIES);
        assert!(arrivals.iter().all(|&i| i < first_leave), "{log:?}");
    }
    assert_eq!(barrier.waiting(), 0);
}

#[test]
fn a_barrier_wakes_its_waiters_in_arrival_order_and_the_leader_runs_on() {
    let barrier = Barrier::new(4);
    let order = Rc::new(RefCell::new(Vec::new()));
    let gs: Vec<_> = (0..3)
        .map(|i| {
            let (barrier, order) = (barrier.clone(), order.clone());
            greenlet::spawn(move || {
                assert!(!barrier.wait().is_leader());
                order.borrow_mut().push(i);
            })
        })
        .collect();
    greenlet::yield_now(); // all three arrive
    assert_eq!(barrier.waiting(), 3);
    assert!(barrier.wait().is_leader(), "the last arrival leads");
    assert!(
        order.borrow().is_empty(),
        "the leader returns without waiting"
    );
    greenlet::joinall(gs);
    assert_eq!(*order.borrow(), [0, 1, 2]);
}

#[test]
fn a_barrier_of_zero_or_one_never_waits() {
    for n in [0, 1] {
        let barrier = Barrier::new(n);
        for _ in 0..3 {
            assert!(barrier.wait().is_leader());
            assert!(
                barrier
                    .wait_timeout(Duration::from_millis(1))
                    .unwrap()
                    .is_leader()
            );
        }
    }
}

#[test]
fn a_timed_out_barrier_waiter_leaves_the_count() {
    let barrier = Barrier::new(3);
    assert!(barrier.wait_timeout(Duration::from_millis(2)).is_none());
    assert_eq!(barrier.waiting(), 0);
    let quitter = {
        let barrier = barrier.clone();
        greenlet::spawn(move || barrier.wait_timeout(Duration::from_millis(1)).is_none())
    };
    let stayer = {
        let barrier = barrier.clone();
        greenlet::spawn(move || barrier.wait().is_leader())
    };
    greenlet::yield_now(); // both wait
    assert_eq!(barrier.waiting(), 2);
    assert!(quitter.join().unwrap(), "timed out");
    assert_eq!(barrier.waiting(), 1, "the generation still needs three");
    let late = {
        let barrier = barrier.clone();
        greenlet::spawn(move || barrier.wait().is_leader())
    };
    greenlet::yield_now();
    assert_eq!(barrier.waiting(), 2);
    // The main context completes the generation, so it leads.
    let released = barrier.wait_timeout(Duration::from_secs(10)).unwrap();
    assert!(released.is_leader());
    assert!(!stayer.join().unwrap());
    assert!(!late.join().unwrap());
}

#[test]
fn killing_a_barrier_waiter_runs_its_destructors_and_leaves_the_count() {
    let barrier = Barrier::new(2);
    let drops = DropCounter::new();
    let victim = {
        let (barrier, token) = (barrier.clone(), drops.token());
        greenlet::spawn(move || {
            let _token = token;
            barrier.wait();
            unreachable!("killed while waiting");
        })
    };
    greenlet::yield_now();
    assert_eq!(barrier.waiting(), 1);
    victim.kill();
    assert_eq!(drops.count(), 1);
    assert_eq!(barrier.waiting(), 0);
    assert!(victim.join().unwrap_err().is_killed());
    // The barrier still needs two: a partner, then the main context.
    let partner = {
        let barrier = barrier.clone();
        greenlet::spawn(move || barrier.wait().is_leader())
    };
    greenlet::yield_now(); // the partner arrives first
    assert!(barrier.wait().is_leader());
    assert!(!partner.join().unwrap());
}

#[test]
fn a_barrier_waiter_killed_after_its_release_does_not_disturb_the_next_generation() {
    let barrier = Barrier::new(2);
    let victim = {
        let barrier = barrier.clone();
        greenlet::spawn(move || {
            barrier.wait();
            unreachable!("killed before it could run on");
        })
    };
    greenlet::yield_now();
    assert!(barrier.wait().is_leader()); // releases the victim
    victim.kill(); // before it ran
    assert_eq!(barrier.waiting(), 0);
    // The next generation needs two again.
    assert!(barrier.wait_timeout(Duration::from_millis(1)).is_none());
    let partner = {
        let barrier = barrier.clone();
        greenlet::spawn(move || barrier.wait().is_leader())
    };
    greenlet::yield_now(); // the partner arrives first
    assert!(barrier.wait().is_leader());
    assert!(!partner.join().unwrap());
}

#[test]
fn waiting_at_a_barrier_nobody_else_reaches_is_a_deadlock() {
    let barrier = Barrier::new(2);
    let err = catch_unwind(AssertUnwindSafe(|| barrier.wait())).unwrap_err();
    let msg = message(&*err);
    assert!(msg.contains("main waits on Barrier::wait"), "{msg}");
    assert_eq!(barrier.waiting(), 0, "the unwound main context left");
}

// ---------------------------------------------------------- AsyncResult

#[test]
fn async_result_wakes_many_getters_in_fifo_order_from_greenlets_and_main() {
    let result = AsyncResult::new();
    let order = Rc::new(RefCell::new(Vec::new()));
    let getters: Vec<_> = (0..5)
        .map(|i| {
            let (result, order) = (result.clone(), order.clone());
            greenlet::spawn(move || {
                let value: String = result.get();
                order.borrow_mut().push(i);
                value
            })
        })
        .collect();
    let setter = {
        let result = result.clone();
        greenlet::spawn(move || {
            greenlet::sleep(Duration::from_millis(2));
            result.set(String::from("ready")).unwrap();
        })
    };
    greenlet::yield_now(); // the five wait first
    assert_eq!(result.get(), "ready"); // then the main context
    order.borrow_mut().push(99);
    for g in getters {
        assert_eq!(g.join().unwrap(), "ready");
    }
    setter.join().unwrap();
    assert_eq!(*order.borrow(), [0, 1, 2, 3, 4, 99]);
}

#[test]
fn a_second_set_is_an_error_and_changes_nothing() {
    let result = AsyncResult::new();
    let drops = DropCounter::new();
    result.set((1, Rc::new(drops.token()))).unwrap();
    let err: AlreadySet = result.set((2, Rc::new(drops.token()))).unwrap_err();
    assert_eq!(err.to_string(), "the AsyncResult is set already");
    assert_eq!(drops.count(), 1, "the rejected value was dropped");
    assert_eq!(result.get().0, 1, "the first value stays");
    let boxed: Box<dyn std::error::Error> = Box::new(err);
    assert!(boxed.source().is_none());
}

#[test]
fn async_result_try_get_and_get_timeout_from_main_and_greenlets() {
    let result = AsyncResult::new();
    assert!(!result.is_set());
    assert_eq!(result.try_get(), None);
    assert_eq!(result.get_timeout(Duration::from_millis(2)), None);
    let impatient = {
        let result = result.clone();
        greenlet::spawn(move || result.get_timeout(Duration::from_millis(1)))
    };
    assert_eq!(impatient.join().unwrap(), None);
    let setter = {
        let result = result.clone();
        greenlet::spawn_later(Duration::from_millis(2), move || result.set(5).unwrap())
    };
    let patient = {
        let result = result.clone();
        greenlet::spawn(move || result.get_timeout(Duration::from_secs(10)))
    };
    assert_eq!(result.get_timeout(Duration::from_secs(10)), Some(5));
    assert_eq!(patient.join().unwrap(), Some(5));
    setter.join().unwrap();
    assert!(result.is_set());
    assert_eq!(result.try_get(), Some(5));
    assert_eq!(result.get_timeout(Duration::ZERO), Some(5), "set: at once");
    assert_eq!(result.get(), 5);
}

#[test]
fn killing_an_async_result_waiter_runs_its_destructors_and_spares_the_others() {
    let result = AsyncResult::new();
    let drops = DropCounter::new();
    let victim = {
        let (result, token) = (result.clone(), drops.token());
        greenlet::spawn(move || {
            let _token = token;
            result.get()
        })
    };
    let survivor = {
        let result = result.clone();
        greenlet::spawn(move || result.get() * 2)
    };
    greenlet::yield_now();
    victim.kill();
    assert_eq!(drops.count(), 1);
    result.set(21).unwrap();
    assert_eq!(survivor.join().unwrap(), 42);
    assert!(victim.join().unwrap_err().is_killed());
    assert_eq!(
        format!("{result:?}"),
        "AsyncResult { value: Some(21), waiting: 0 }"
    );
}

#[test]
fn a_failed_async_result_gives_its_error_to_every_getter_and_cannot_be_set_again() {
    let outcome = AsyncResult::<Result<u32, Rc<std::io::Error>>>::new();
    let getters: Vec<_> = (0..3)
        .map(|_| {
            let outcome = outcome.clone();
            greenlet::spawn(move || outcome.get().map_err(|e| e.to_string()))
        })
        .collect();
    greenlet::yield_now(); // all three wait
    let failer = {
        let outcome = outcome.clone();
        greenlet::spawn(move || outcome.set_error(Rc::new(std::io::Error::other("refused"))))
    };
    assert_eq!(failer.join().unwrap(), Ok(()));
    for outcome in greenlet::joinall(getters) {
        assert_eq!(outcome.unwrap(), Err("refused".to_string()));
    }
    assert_eq!(
        outcome
            .get_timeout(Duration::from_millis(1))
            .map(|r| r.is_err()),
        Some(true),
        "the main context gets it at once"
    );
    assert_eq!(outcome.set(Ok(1)), Err(AlreadySet));
    assert_eq!(
        outcome.set_error(Rc::new(std::io::Error::other("again"))),
        Err(AlreadySet),
        "the first outcome stays"
    );
    assert_eq!(
        outcome.try_get().unwrap().unwrap_err().to_string(),
        "refused"
    );
    // Succeeding is a set of Ok.
    let ok = AsyncResult::<Result<u32, String>>::new();
    ok.set(Ok(5)).unwrap();
    assert_eq!(ok.get(), Ok(5));
    assert_eq!(ok.set_error("late".into()), Err(AlreadySet));
}

#[test]
fn getting_a_result_nobody_can_set_is_a_deadlock() {
    let result = AsyncResult::<u8>::default();
    let err = catch_unwind(AssertUnwindSafe(|| result.get())).unwrap_err();
    let msg = message(&*err);
    assert!(msg.contains("main waits on AsyncResult::get"), "{msg}");
}
