//! Waiting on many: `greenlet::wait` and `iwait` over greenlets, events and
//! scoped handles.

use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::time::Duration;

use greenlet::Waitable;
use greenlet::sync::Event;

const LONG: Duration = Duration::from_secs(3600);

/// The number a `Debug` text shows for `field`, its last field.
fn last_count(debug: &str, field: &str) -> usize {
    debug
        .split(&format!("{field}: "))
        .nth(1)
        .and_then(|rest| rest.trim_end_matches(" }").parse().ok())
        .unwrap_or_else(|| panic!("no count for {field} in {debug}"))
}

fn sleeper(ms: u64) -> greenlet::Greenlet<u64> {
    greenlet::spawn(move || {
        greenlet::sleep(Duration::from_millis(ms));
        ms
    })
}

#[test]
fn wait_for_all_returns_every_index_once_all_are_ready() {
    let gs = [sleeper(3), sleeper(1), sleeper(2)];
    let objects: Vec<&dyn Waitable> = gs.iter().map(|g| g as _).collect();
    assert_eq!(greenlet::wait(&objects, None, None), [0, 1, 2]);
    assert!(gs.iter().all(|g| g.is_finished()));
}

#[test]
fn wait_for_a_count_returns_as_soon_as_that_many_are_ready() {
    // `fast` ends when its gate opens; the setter opens it, then gives the
    // main context turns enough to return from the first wait before it
    // sets the event (no timing involved: under load, sleeps of 1 and 2 ms
    // could end in the same turn).
    let slow = greenlet::spawn(|| greenlet::sleep(LONG));
    let gate = Event::new();
    let fast = {
        let gate = gate.clone();
        greenlet::spawn(move || gate.wait())
    };
    let event = Event::new();
    let setter = {
        let event = event.clone();
        greenlet::spawn(move || {
            gate.set();
            for _ in 0..5 {
                greenlet::yield_now();
            }
            event.set();
        })
    };
    assert_eq!(greenlet::wait(&[&slow, &fast, &event], Some(1), None), [1]);
    assert_eq!(
        greenlet::wait(&[&slow, &fast, &event], Some(2), None),
        [1, 2]
    );
    assert!(!slow.is_finished());
    slow.kill();
    setter.join().unwrap();
}

#[test]
fn wait_with_a_timeout_returns_those_ready_then() {
    let slow = greenlet::spawn(|| greenlet::sleep(LONG));
    let never = Event::new();
    let done = Event::new();
    done.set();
    let ready = greenlet::wait(
        &[&slow, &never, &done],
        None,
        Some(Duration::from_millis(2)),
    );
    assert_eq!(ready, [2]);
    assert!(greenlet::wait(&[&slow, &never], Some(1), Some(Duration::ZERO)).is_empty());
    slow.kill();
}

#[test]
fn wait_on_nothing_or_for_zero_returns_at_once() {
    assert!(greenlet::wait(&[], None, None).is_empty());
    let never = Event::new();
    assert!(greenlet::wait(&[&never], Some(0), None).is_empty());
}

#[test]
fn iwait_yields_each_index_as_it_becomes_ready() {
    // Each greenlet ends when its gate opens; a driver opens them in the
    // order 1, 2, 0, with turns enough in between for the ended one and
    // then the waiting main context to run (no timing involved).
    let gates: Rc<[Event; 3]> = Rc::new([Event::new(), Event::new(), Event::new()]);
    let gs: Vec<_> = (0..3)
        .map(|i| {
            let gates = gates.clone();
            greenlet::spawn(move || gates[i].wait())
        })
        .collect();
    let g = gates.clone();
    let driver = greenlet::spawn(move || {
        for i in [1, 2, 0] {
            g[i].set();
            for _ in 0..5 {
                greenlet::yield_now();
            }
        }
    });
    let objects: Vec<&dyn Waitable> = gs.iter().map(|g| g as _).collect();
    let order: Vec<usize> = greenlet::iwait(&objects, None).collect();
    assert_eq!(order, [1, 2, 0]);
    driver.join().unwrap();
}

#[test]
fn iwait_stops_at_its_timeout() {
    // Ready within the first turns, long before the timeout, however
    // loaded the machine (a 1 ms sleep could end in the timeout's turn).
    let fast = greenlet::spawn(greenlet::yield_now);
    let never = Event::new();
    let objects: [&dyn Waitable; 2] = [&never, &fast];
    let got: Vec<usize> = greenlet::iwait(&objects, Some(Duration::from_millis(20))).collect();
    assert_eq!(got, [1]);
}

#[test]
fn waiting_on_many_from_greenlets_with_scoped_handles() {
    // Each scoped greenlet ends when its gate opens; a driver opens the
    // first, gives the main context turns enough to return from its wait,
    // then opens the others (no timing involved: sleeps of 5, 6 and 7 ms
    // could end in one turn, and the wait then found two ready).
    let data = [5, 6, 7];
    let gates = [Event::new(), Event::new(), Event::new()];
    let first = greenlet::scope(|s| {
        let hs: Vec<_> = data
            .iter()
            .zip(&gates)
            .map(|(n, gate)| {
                s.spawn(move || {
                    gate.wait();
                    n * 2
                })
            })
            .collect();
        let driver = s.spawn(|| {
            gates[0].set();
            for _ in 0..5 {
                greenlet::yield_now();
            }
            gates[1].set();
            gates[2].set();
        });
        let objects: Vec<&dyn Waitable> = hs.iter().map(|h| h as _).collect();
        let first = greenlet::wait(&objects, Some(1), None);
        drop(objects);
        for h in hs {
            h.join().unwrap();
        }
        driver.join().unwrap();
        first
    });
    assert_eq!(first, [0]);
    // Several greenlets wait on the same event at once.
    let event = Event::new();
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let event = event.clone();
            greenlet::spawn(move || greenlet::wait(&[&event], None, None))
        })
        .collect();
    greenlet::yield_now();
    event.set();
    for w in waiters {
        assert_eq!(w.join().unwrap(), [0]);
    }
}

#[test]
fn a_killed_waiter_leaves_the_objects_usable() {
    let event = Rc::new(Event::new());
    let e = event.clone();
    let waiter = greenlet::spawn(move || greenlet::wait(&[&*e], None, None));
    greenlet::yield_now();
    waiter.kill();
    assert!(waiter.join().unwrap_err().is_killed());
    // Its stale registration is ignored, and others still wake.
    let e = event.clone();
    let second = greenlet::spawn(move || greenlet::wait(&[&*e], None, None));
    greenlet::yield_now();
    event.set();
    assert_eq!(second.join().unwrap(), [0]);
}

#[test]
fn repeated_timed_out_waits_do_not_pile_up() {
    // Each timed-out wait leaves a stale registration behind; the list is
    // pruned as it grows, so this stays cheap (and the set still works).
    let event = Event::new();
    for _ in 0..200 {
        assert!(greenlet::wait(&[&event], None, Some(Duration::from_micros(10))).is_empty());
    }
    let debug = format!("{event:?}");
    assert!(last_count(&debug, "watching") <= 32, "{debug}");
    event.set();
    assert_eq!(greenlet::wait(&[&event], None, None), [0]);
}

#[test]
fn a_wait_nothing_can_end_is_a_deadlock_with_a_report() {
    let never = Event::named("never");
    let err = panic::catch_unwind(AssertUnwindSafe(|| greenlet::wait(&[&never], None, None)))
        .unwrap_err();
    let message = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        message.contains("main waits on wait (on many) at tests/many.rs:"),
        "{message}"
    );
}

#[test]
fn queues_are_ready_while_they_hold_an_item_or_once_closed() {
    use greenlet::sync::{AsyncResult, LifoQueue, PriorityQueue, Queue};
    let fifo: Queue<u32> = Queue::unbounded();
    let lifo: LifoQueue<u32> = LifoQueue::unbounded();
    let prio: PriorityQueue<u32> = PriorityQueue::unbounded();
    let result: AsyncResult<&str> = AsyncResult::new();
    let objects: [&dyn Waitable; 4] = [&fifo, &lifo, &prio, &result];
    assert!(greenlet::wait(&objects, Some(1), Some(Duration::ZERO)).is_empty());
    let feeder = {
        let (lifo, prio, result) = (lifo.clone(), prio.clone(), result.clone());
        greenlet::spawn(move || {
            greenlet::sleep(Duration::from_millis(1));
            prio.put(3).unwrap();
            greenlet::sleep(Duration::from_millis(1));
            lifo.put(1).unwrap();
            greenlet::sleep(Duration::from_millis(1));
            result.set("done").unwrap();
        })
    };
    let order: Vec<usize> = greenlet::iwait(&objects[1..], Some(Duration::from_secs(5))).collect();
    assert_eq!(order, [1, 0, 2]); // prio, lifo, result (indices into the slice)
    feeder.join().unwrap();
    // Nothing was taken: the items are still there.
    assert_eq!((lifo.len(), prio.len()), (1, 1));
    // A closed, empty queue is ready: a get returns at once.
    fifo.close();
    assert_eq!(greenlet::wait(&[&fifo], None, None), [0]);
}

#[test]
fn repeated_timed_out_waits_on_a_greenlet_do_not_pile_up() {
    let long = greenlet::spawn(|| greenlet::sleep(LONG));
    for _ in 0..200 {
        assert!(greenlet::wait(&[&long], None, Some(Duration::from_micros(10))).is_empty());
    }
    let debug = format!("{long:?}");
    assert!(last_count(&debug, "waiting") <= 32, "{debug}");
    long.kill();
}
