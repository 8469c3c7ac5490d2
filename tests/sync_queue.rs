//! `Queue` and `Channel`, from the main context and from greenlets: FIFO
//! order both ways, bounds, timeouts, closing, joining, kills while waiting,
//! and seeded random stress. Every loop is bounded; no test asserts on
//! elapsed time.

mod util;

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::rc::Rc;
use std::time::Duration;

use greenlet::sync::{Channel, GetError, PutError, Queue};
use util::{DropCounter, DropToken, xorshift};

const LONG: Duration = Duration::from_secs(60);

/// A log shared between greenlets.
fn log<T>() -> Rc<RefCell<Vec<T>>> {
    Rc::new(RefCell::new(Vec::new()))
}

// ---------------------------------------------------------------- Queue ---

#[test]
fn queue_is_fifo_from_main_and_from_greenlets() {
    let queue = Queue::unbounded();
    for n in 0..5 {
        queue.put(n).unwrap();
    }
    let producer = {
        let queue = queue.clone();
        greenlet::spawn(move || {
            for n in 5..10 {
                queue.put(n).unwrap();
                greenlet::yield_now();
            }
        })
    };
    let consumer = {
        let queue = queue.clone();
        greenlet::spawn(move || (0..8).map(|_| queue.get().unwrap()).collect::<Vec<_>>())
    };
    assert_eq!(consumer.join().unwrap(), [0, 1, 2, 3, 4, 5, 6, 7]);
    producer.join().unwrap();
    assert_eq!(queue.get(), Ok(8));
    assert_eq!(queue.get(), Ok(9));
    assert!(queue.is_empty());
}

#[test]
fn waiting_getters_are_served_in_fifo_order() {
    let queue = Queue::unbounded();
    let order = log();
    let getters: Vec<_> = (0..5)
        .map(|i| {
            let (queue, order) = (queue.clone(), order.clone());
            greenlet::spawn(move || {
                let item = queue.get().unwrap();
                order.borrow_mut().push((i, item));
            })
        })
        .collect();
    greenlet::yield_now(); // all five wait
    for item in 10..15 {
        queue.put(item).unwrap();
        // Handed to a getter that has not run yet: counted, not takeable.
        assert_eq!(queue.try_get(), Err(GetError::Empty));
    }
    assert_eq!(queue.len(), 5);
    greenlet::joinall(getters);
    assert_eq!(
        *order.borrow(),
        [(0, 10), (1, 11), (2, 12), (3, 13), (4, 14)]
    );
    assert!(queue.is_empty());
}

#[test]
fn a_bounded_queue_blocks_putters_and_admits_them_in_fifo_order() {
    let queue = Queue::bounded(2);
    queue.put(0).unwrap();
    queue.put(1).unwrap();
    assert!(matches!(queue.try_put(99), Err(PutError::Full(99))));
    let most = Rc::new(Cell::new(0));
    let putters: Vec<_> = (2..6)
        .map(|item| {
            let (queue, most) = (queue.clone(), most.clone());
            greenlet::spawn(move || {
                queue.put(item).unwrap();
                most.set(most.get().max(queue.len()));
            })
        })
        .collect();
    greenlet::yield_now(); // all four block
    assert!(putters.iter().all(|p| !p.is_finished()));
    let mut got = Vec::new();
    for round in 0..6 {
        got.push(queue.get().unwrap());
        if round < 4 {
            // The freed slot went to a blocked putter: no overtaking.
            assert!(matches!(queue.try_put(99), Err(PutError::Full(99))));
        }
        assert!(queue.len() <= 2);
        greenlet::yield_now();
    }
    greenlet::joinall(putters);
    assert_eq!(got, [0, 1, 2, 3, 4, 5]);
    assert!(most.get() <= 2);
    queue.try_put(6).unwrap();
}

#[test]
fn a_bounded_queue_blocks_a_putting_main_context_until_a_greenlet_gets() {
    let queue = Queue::bounded(1);
    let consumer = {
        let queue = queue.clone();
        greenlet::spawn(move || queue.iter().collect::<Vec<_>>())
    };
    for n in 0..20 {
        queue.put(n).unwrap();
        assert!(queue.len() <= 1);
    }
    queue.close();
    assert_eq!(consumer.join().unwrap(), (0..20).collect::<Vec<_>>());
}

#[test]
fn queue_try_forms() {
    let queue = Queue::bounded(2);
    assert_eq!(queue.try_get(), Err(GetError::Empty));
    queue.try_put("a").unwrap();
    queue.try_put("b").unwrap();
    assert!(matches!(queue.try_put("c"), Err(PutError::Full("c"))));
    assert_eq!(queue.len(), 2);
    assert_eq!(queue.try_get(), Ok("a"));
    assert_eq!(queue.try_get(), Ok("b"));
    assert_eq!(queue.try_get(), Err(GetError::Empty));
    queue.close();
    assert_eq!(queue.try_get(), Err(GetError::Closed));
    assert!(matches!(queue.try_put("d"), Err(PutError::Closed("d"))));
}

#[test]
fn queue_timeouts_from_main_and_from_greenlets() {
    let queue = Queue::bounded(1);
    assert_eq!(
        queue.get_timeout(Duration::from_millis(2)),
        Err(GetError::TimedOut)
    );
    queue.put_timeout(1, Duration::from_millis(2)).unwrap();
    let err = queue.put_timeout(2, Duration::from_millis(2)).unwrap_err();
    assert!(matches!(err, PutError::TimedOut(2)));
    assert_eq!(err.into_inner(), 2);
    assert_eq!(queue.get_timeout(Duration::from_millis(2)), Ok(1));

    // A greenlet's timed get that an item reaches in time.
    let getter = {
        let queue = queue.clone();
        greenlet::spawn(move || queue.get_timeout(LONG))
    };
    let putter = {
        let queue = queue.clone();
        greenlet::spawn_later(Duration::from_millis(2), move || queue.put(7).unwrap())
    };
    assert_eq!(getter.join().unwrap(), Ok(7));
    putter.join().unwrap();

    // A greenlet's timed put that finds room in time.
    queue.put(8).unwrap();
    let putter = {
        let queue = queue.clone();
        greenlet::spawn(move || queue.put_timeout(9, LONG).map_err(PutError::into_inner))
    };
    greenlet::yield_now();
    assert_eq!(queue.get(), Ok(8));
    assert_eq!(putter.join().unwrap(), Ok(()));
    assert_eq!(queue.get(), Ok(9));
}

#[test]
fn a_getter_that_timed_out_is_skipped_by_later_puts() {
    let queue = Queue::unbounded();
    let impatient = {
        let queue = queue.clone();
        greenlet::spawn(move || queue.get_timeout(Duration::from_millis(1)))
    };
    let patient = {
        let queue = queue.clone();
        greenlet::spawn(move || queue.get())
    };
    assert_eq!(impatient.join().unwrap(), Err(GetError::TimedOut));
    queue.put("item").unwrap();
    assert_eq!(patient.join().unwrap(), Ok("item"));
    assert!(queue.is_empty());
}

#[test]
fn close_lets_getters_drain_then_reports_closed() {
    let queue = Queue::unbounded();
    for n in 0..3 {
        queue.put(n).unwrap();
    }
    queue.close();
    assert!(queue.is_closed());
    assert!(matches!(queue.put(3), Err(PutError::Closed(3))));
    let drained = {
        let queue = queue.clone();
        greenlet::spawn(move || {
            let mut items = Vec::new();
            loop {
                match queue.get() {
                    Ok(item) => items.push(item),
                    Err(err) => return (items, err),
                }
            }
        })
    };
    assert_eq!(drained.join().unwrap(), (vec![0, 1, 2], GetError::Closed));
    assert_eq!(queue.get(), Err(GetError::Closed));
    assert_eq!(
        queue.get_timeout(Duration::from_millis(1)),
        Err(GetError::Closed)
    );
    queue.close(); // again: nothing changes
    assert!(queue.is_closed());
}

#[test]
fn close_wakes_blocked_getters_and_gives_blocked_putters_their_items() {
    let empty = Queue::<u32>::unbounded();
    let getters: Vec<_> = (0..3)
        .map(|_| {
            let empty = empty.clone();
            greenlet::spawn(move || empty.get())
        })
        .collect();
    let full = Queue::bounded(1);
    let drops = DropCounter::new();
    full.put((0, drops.token())).unwrap();
    let putters: Vec<_> = (1..4)
        .map(|n| {
            let (full, token) = (full.clone(), drops.token());
            greenlet::spawn(move || match full.put((n, token)) {
                Err(PutError::Closed((m, _token))) => m,
                other => panic!("expected Closed, got {other:?}"),
            })
        })
        .collect();
    greenlet::yield_now(); // everyone blocks
    empty.close();
    full.close();
    for g in getters {
        assert_eq!(g.join().unwrap(), Err(GetError::Closed));
    }
    let back: Vec<_> = putters.into_iter().map(|p| p.join().unwrap()).collect();
    assert_eq!(back, [1, 2, 3], "each putter got its own item back");
    assert_eq!(drops.count(), 3);
    assert_eq!(full.get().map(|(n, _)| n).ok(), Some(0), "drained");
    assert_eq!(full.get().map(|(n, _)| n), Err(GetError::Closed));
}

#[test]
fn the_iterator_ends_when_the_queue_is_closed_and_drained() {
    let queue = Queue::unbounded();
    let consumers: Vec<_> = (0..3)
        .map(|_| {
            let queue = queue.clone();
            greenlet::spawn(move || {
                let mut got = Vec::new();
                for item in &queue {
                    got.push(item);
                    greenlet::yield_now();
                }
                got
            })
        })
        .collect();
    for n in 0..30 {
        queue.put(n).unwrap();
        if n % 4 == 0 {
            greenlet::yield_now();
        }
    }
    queue.close();
    let mut all: Vec<_> = consumers
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    all.sort_unstable();
    assert_eq!(all, (0..30).collect::<Vec<_>>());
    assert_eq!(queue.iter().next(), None);
}

#[test]
fn join_waits_until_every_item_is_marked_done() {
    let queue = Queue::unbounded();
    let processed = log();
    let workers: Vec<_> = (0..3)
        .map(|_| {
            let (queue, processed) = (queue.clone(), processed.clone());
            greenlet::spawn(move || {
                for job in &queue {
                    greenlet::sleep(Duration::from_micros(100));
                    processed.borrow_mut().push(job);
                    queue.task_done();
                }
            })
        })
        .collect();
    queue.join(); // nothing put: at once
    for job in 0..12 {
        queue.put(job).unwrap();
    }
    assert_eq!(queue.unfinished(), 12);
    assert!(!queue.join_timeout(Duration::ZERO));
    let joiner = {
        let (queue, processed) = (queue.clone(), processed.clone());
        greenlet::spawn(move || {
            queue.join();
            processed.borrow().len()
        })
    };
    queue.join();
    assert_eq!(processed.borrow().len(), 12);
    assert_eq!(queue.unfinished(), 0);
    assert_eq!(joiner.join().unwrap(), 12);
    assert!(queue.join_timeout(Duration::ZERO));
    queue.close();
    greenlet::joinall(workers);
}

#[test]
#[should_panic(expected = "Queue::task_done called more times than items were put")]
fn task_done_more_often_than_items_were_put_panics() {
    let queue = Queue::unbounded();
    queue.put(()).unwrap();
    queue.task_done();
    queue.task_done();
}

#[test]
#[should_panic(expected = "Queue::bounded(0)")]
fn a_queue_bounded_by_zero_panics() {
    let _ = Queue::<()>::bounded(0);
}

#[test]
fn killing_blocked_getters_and_putters_runs_their_destructors() {
    let drops = DropCounter::new();
    let empty = Queue::<DropToken>::unbounded();
    let getter = {
        let (empty, token) = (empty.clone(), drops.token());
        greenlet::spawn(move || {
            let _token = token;
            let _ = empty.get();
            unreachable!("killed while waiting");
        })
    };
    let full = Queue::bounded(1);
    full.put(drops.token()).unwrap();
    let putter = {
        let (full, token) = (full.clone(), drops.token());
        greenlet::spawn(move || {
            let _ = full.put(token);
            unreachable!("killed while waiting");
        })
    };
    greenlet::yield_now();
    getter.kill();
    putter.kill();
    assert_eq!(drops.count(), 2, "the getter's token and the putter's item");
    assert!(getter.join().unwrap_err().is_killed());
    assert!(putter.join().unwrap_err().is_killed());
    // The queues carry on: nobody waits any more.
    assert!(format!("{full:?}").contains("putters: 0"), "{full:?}");
    drop(full.get().unwrap());
    assert_eq!(drops.count(), 3);
    full.try_put(drops.token()).unwrap();
    empty.try_put(drops.token()).unwrap();
    assert_eq!(empty.len(), 1);
}

#[test]
fn an_item_handed_to_a_killed_getter_goes_to_the_next_getter_in_order() {
    let queue = Queue::unbounded();
    let order = log();
    let victim = {
        let queue = queue.clone();
        greenlet::spawn(move || {
            let _ = queue.get();
            unreachable!("killed before it could run with its item");
        })
    };
    let getters: Vec<_> = (1..=3)
        .map(|i| {
            let (queue, order) = (queue.clone(), order.clone());
            greenlet::spawn(move || {
                let item = queue.get().unwrap();
                order.borrow_mut().push((i, item));
            })
        })
        .collect();
    greenlet::yield_now(); // all four wait, the victim first
    queue.put("a").unwrap(); // handed to the victim
    queue.put("b").unwrap(); // to getter 1
    victim.kill(); // "a" passes to getter 2
    queue.put("c").unwrap(); // to getter 3
    greenlet::joinall(getters);
    assert_eq!(*order.borrow(), [(1, "b"), (2, "a"), (3, "c")]);
    assert!(queue.is_empty());
}

#[test]
fn an_item_handed_to_a_killed_getter_goes_back_to_the_front() {
    let queue = Queue::bounded(2);
    let victim = {
        let queue = queue.clone();
        greenlet::spawn(move || {
            let _ = queue.get();
            unreachable!("killed before it could run with its item");
        })
    };
    greenlet::yield_now();
    queue.put(1).unwrap(); // handed to the victim, still counted
    queue.put(2).unwrap(); // buffered
    assert_eq!(queue.len(), 2);
    assert!(matches!(queue.try_put(3), Err(PutError::Full(3))));
    let late = {
        let queue = queue.clone();
        greenlet::spawn(move || queue.put(3).unwrap())
    };
    victim.kill(); // before it runs: its item goes back to the front
    assert_eq!(queue.len(), 2, "never more than the bound");
    assert!(matches!(queue.try_put(3), Err(PutError::Full(3))));
    greenlet::yield_now(); // the late putter blocks
    assert_eq!(queue.len(), 2, "never more than the bound");
    assert_eq!(queue.get(), Ok(1), "back at the front, not lost");
    assert_eq!(queue.get(), Ok(2));
    assert_eq!(queue.get(), Ok(3));
    late.join().unwrap();
    assert!(victim.join().unwrap_err().is_killed());
}

#[test]
fn an_item_handed_to_a_getter_whose_outer_timeout_expires_is_not_lost() {
    let queue = Queue::unbounded();
    let timed = {
        let queue = queue.clone();
        greenlet::spawn(move || greenlet::with_timeout(Duration::from_millis(1), || queue.get()))
    };
    greenlet::yield_now(); // it waits
    // Let its timer fire first, then put while it is woken but not yet run.
    let putter = {
        let queue = queue.clone();
        greenlet::spawn(move || {
            greenlet::sleep(Duration::from_millis(1));
            let _ = queue.try_put("x");
        })
    };
    let outcome = timed.join().unwrap();
    putter.join().unwrap();
    match outcome {
        Ok(got) => assert_eq!(got, Ok("x")),
        Err(_elapsed) => assert_eq!(queue.try_get(), Ok("x"), "put back"),
    }
}

#[test]
fn a_slot_handed_to_a_killed_putter_passes_to_the_next() {
    let queue = Queue::bounded(1);
    queue.put(0).unwrap();
    let drops = DropCounter::new();
    let victim = {
        let (queue, token) = (queue.clone(), drops.token());
        greenlet::spawn(move || {
            let _token = token;
            let _ = queue.put(1);
            unreachable!("killed before it could use its slot");
        })
    };
    let next = {
        let queue = queue.clone();
        greenlet::spawn(move || queue.put(2).unwrap())
    };
    greenlet::yield_now(); // both block, the victim first
    assert_eq!(queue.get(), Ok(0)); // the slot goes to the victim
    victim.kill(); // and passes to the next
    assert_eq!(drops.count(), 1);
    next.join().unwrap();
    assert_eq!(queue.get(), Ok(2));
    assert!(queue.is_empty());
    queue.try_put(3).unwrap();
    assert!(matches!(queue.try_put(4), Err(PutError::Full(4))));
}

#[test]
fn getting_from_a_queue_nobody_can_fill_is_a_deadlock() {
    let queue = Queue::<u8>::unbounded();
    let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| queue.get())).unwrap_err();
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        msg.starts_with("greenlet: this operation would block forever"),
        "{msg}"
    );
    assert!(msg.contains("main waits on Queue::get"), "{msg}");
    // The queue is usable afterwards.
    queue.put(1).unwrap();
    assert_eq!(queue.get(), Ok(1));
}

#[test]
fn errors_display_and_debug_without_debug_items() {
    struct Opaque;
    let err = PutError::Closed(Opaque);
    assert_eq!(format!("{err:?}"), "Closed(..)");
    assert_eq!(err.to_string(), "put on a closed queue or channel");
    let boxed: Box<dyn std::error::Error> = Box::new(PutError::Full(Opaque));
    assert_eq!(boxed.to_string(), "no room to put the item");
    assert_eq!(
        PutError::TimedOut(()).to_string(),
        "timed out waiting to put"
    );
    assert_eq!(format!("{:?}", GetError::TimedOut), "TimedOut");
    assert_eq!(GetError::TimedOut.to_string(), "timed out waiting to get");
    assert_eq!(
        GetError::Closed.to_string(),
        "get from a closed and empty queue or channel"
    );
    let queue = Queue::<Opaque>::bounded(3);
    assert!(format!("{queue:?}").starts_with("Queue { len: 0, bound: Some(3)"));
    assert!(format!("{:?}", queue.iter()).starts_with("Iter(Queue {"));
    assert!(format!("{:?}", Channel::<Opaque>::new()).starts_with("Channel {"));
}

// -------------------------------------------------------------- Channel ---

#[test]
fn channel_put_waits_for_a_getter_and_both_sides_are_fifo() {
    let channel = Channel::new();
    let taken = log();
    let putters: Vec<_> = (0..4)
        .map(|i| {
            let (channel, taken) = (channel.clone(), taken.clone());
            greenlet::spawn(move || {
                channel.put(i).unwrap();
                taken.borrow_mut().push(i);
            })
        })
        .collect();
    greenlet::yield_now(); // all four wait: nobody took anything
    assert!(taken.borrow().is_empty());
    assert!(putters.iter().all(|p| !p.is_finished()));
    for i in 0..4 {
        assert_eq!(channel.get(), Ok(i));
    }
    greenlet::joinall(putters);
    assert_eq!(*taken.borrow(), [0, 1, 2, 3]);

    // And getters that wait first are served in order.
    let got = log();
    let getters: Vec<_> = (0..4)
        .map(|i| {
            let (channel, got) = (channel.clone(), got.clone());
            greenlet::spawn(move || {
                let item = channel.get().unwrap();
                got.borrow_mut().push((i, item));
            })
        })
        .collect();
    greenlet::yield_now();
    for item in 10..14 {
        channel.put(item).unwrap(); // a getter waits: returns at once
    }
    greenlet::joinall(getters);
    assert_eq!(*got.borrow(), [(0, 10), (1, 11), (2, 12), (3, 13)]);
}

#[test]
fn channel_between_two_greenlets_pairs_every_put_with_a_get() {
    let channel = Channel::new();
    let events = log();
    let producer = {
        let (channel, events) = (channel.clone(), events.clone());
        greenlet::spawn(move || {
            for n in 0..3 {
                events.borrow_mut().push(format!("put {n}"));
                channel.put(n).unwrap();
            }
            channel.close();
        })
    };
    let consumer = {
        let (channel, events) = (channel.clone(), events.clone());
        greenlet::spawn(move || {
            while let Ok(n) = channel.get() {
                events.borrow_mut().push(format!("got {n}"));
            }
        })
    };
    producer.join().unwrap();
    consumer.join().unwrap();
    let events = events.borrow();
    for n in 0..3 {
        let put = events
            .iter()
            .position(|e| *e == format!("put {n}"))
            .unwrap();
        let got = events
            .iter()
            .position(|e| *e == format!("got {n}"))
            .unwrap();
        assert!(put < got, "{events:?}");
        if n > 0 {
            let prev = events.iter().position(|e| *e == format!("got {}", n - 1));
            assert!(prev.unwrap() < got, "{events:?}");
        }
    }
}

#[test]
fn channel_try_forms_need_a_waiting_counterpart() {
    let channel = Channel::new();
    assert!(matches!(channel.try_put(1), Err(PutError::Full(1))));
    assert_eq!(channel.try_get(), Err(GetError::Empty));
    let putter = {
        let channel = channel.clone();
        greenlet::spawn(move || channel.put(2))
    };
    greenlet::yield_now();
    assert_eq!(channel.try_get(), Ok(2));
    assert!(putter.join().unwrap().is_ok());
    let getter = {
        let channel = channel.clone();
        greenlet::spawn(move || channel.get())
    };
    greenlet::yield_now();
    channel.try_put(3).unwrap();
    assert_eq!(getter.join().unwrap(), Ok(3));
    channel.close();
    assert!(matches!(channel.try_put(4), Err(PutError::Closed(4))));
    assert_eq!(channel.try_get(), Err(GetError::Closed));
}

#[test]
fn channel_timeouts_give_the_item_back() {
    let channel = Channel::new();
    assert_eq!(
        channel.get_timeout(Duration::from_millis(2)),
        Err(GetError::TimedOut)
    );
    let err = channel
        .put_timeout("item", Duration::from_millis(2))
        .unwrap_err();
    assert!(matches!(err, PutError::TimedOut("item")));
    // The timed-out offer is gone: a later get does not find it.
    assert_eq!(channel.try_get(), Err(GetError::Empty));

    let putter = {
        let channel = channel.clone();
        greenlet::spawn(move || channel.put_timeout("in time", LONG).is_ok())
    };
    greenlet::yield_now();
    assert_eq!(channel.get_timeout(LONG), Ok("in time"));
    assert!(putter.join().unwrap());
}

#[test]
fn closing_a_channel_releases_both_sides() {
    let channel = Channel::new();
    let putters: Vec<_> = (0..2)
        .map(|n| {
            let channel = channel.clone();
            greenlet::spawn(move || channel.put(n).map_err(PutError::into_inner))
        })
        .collect();
    greenlet::yield_now();
    channel.close();
    let back: Vec<_> = putters.into_iter().map(|p| p.join().unwrap()).collect();
    assert_eq!(back, [Err(0), Err(1)]);

    let channel = Channel::<u8>::new();
    let getters: Vec<_> = (0..2)
        .map(|_| {
            let channel = channel.clone();
            greenlet::spawn(move || channel.get())
        })
        .collect();
    greenlet::yield_now();
    channel.close();
    for g in getters {
        assert_eq!(g.join().unwrap(), Err(GetError::Closed));
    }
    assert!(channel.is_closed());
    assert_eq!(channel.get(), Err(GetError::Closed));
}

#[test]
fn channel_item_handed_to_a_killed_getter_goes_to_the_next_or_waits() {
    let channel = Channel::new();
    let spawn_victim = |channel: &Channel<&'static str>| {
        let channel = channel.clone();
        greenlet::spawn(move || {
            let _ = channel.get();
            unreachable!("killed before it could run with its item");
        })
    };
    let victim = spawn_victim(&channel);
    let next = {
        let channel = channel.clone();
        greenlet::spawn(move || channel.get())
    };
    greenlet::yield_now();
    channel.put("first").unwrap(); // handed to the victim
    victim.kill();
    assert_eq!(next.join().unwrap(), Ok("first"));

    // With no other getter, the item waits for the next get, ahead of
    // putters that wait.
    let victim = spawn_victim(&channel);
    greenlet::yield_now();
    channel.put("orphan").unwrap();
    victim.kill();
    let later = {
        let channel = channel.clone();
        greenlet::spawn(move || channel.put("later"))
    };
    greenlet::yield_now();
    assert_eq!(channel.get(), Ok("orphan"));
    assert_eq!(channel.get(), Ok("later"));
    assert!(later.join().unwrap().is_ok());
}

#[test]
fn killing_a_blocked_channel_putter_drops_its_item_and_skips_it() {
    let channel = Channel::new();
    let drops = DropCounter::new();
    let victim = {
        let (channel, token) = (channel.clone(), drops.token());
        greenlet::spawn(move || {
            let _ = channel.put(token);
            unreachable!("killed while waiting");
        })
    };
    let next = {
        let (channel, token) = (channel.clone(), drops.token());
        greenlet::spawn(move || channel.put(token).is_ok())
    };
    greenlet::yield_now();
    victim.kill();
    assert_eq!(drops.count(), 1, "the victim's item");
    drop(channel.get().unwrap());
    assert_eq!(drops.count(), 2);
    assert!(next.join().unwrap());
    assert_eq!(channel.try_get().map(drop), Err(GetError::Empty));
}

// --------------------------------------------------------------- stress ---

/// What a stress run saw.
#[derive(Default)]
struct Tally {
    sent: RefCell<Vec<u64>>,
    received: RefCell<Vec<u64>>,
    /// Items whose put has not returned: at the end, those of putters that
    /// were killed while they waited.
    in_doubt: RefCell<HashSet<u64>>,
    most: Cell<usize>,
}

/// Checks that every item sent was received exactly once, and that nothing
/// else was received but the items of putters killed during their put (a
/// channel getter may take a putter's item just before the putter is
/// killed: the put happened, but the killed call cannot report it).
fn assert_exactly_once(tally: &Tally) {
    let sent: HashSet<_> = tally.sent.borrow().iter().copied().collect();
    let received: HashSet<_> = tally.received.borrow().iter().copied().collect();
    assert_eq!(sent.len(), tally.sent.borrow().len(), "an item sent twice");
    assert_eq!(
        received.len(),
        tally.received.borrow().len(),
        "an item came twice"
    );
    let lost: Vec<_> = sent.difference(&received).collect();
    assert!(lost.is_empty(), "items lost: {lost:?}");
    let in_doubt = tally.in_doubt.borrow();
    let invented: Vec<_> = received
        .difference(&sent)
        .filter(|item| !in_doubt.contains(item))
        .collect();
    assert!(invented.is_empty(), "items invented: {invented:?}");
    assert!(!sent.is_empty());
}

/// Seeded random producers and consumers on a queue (bounded when `bound` is
/// `Some`), with yields, sleeps, timeouts, outer timeouts and kills.
fn stress_queue(seed: u64, bound: Option<usize>) {
    const PRODUCERS: u64 = 12;
    const ITEMS: u64 = 40;
    const CONSUMERS: usize = 10;
    let mut next = xorshift(seed);
    let queue = match bound {
        Some(n) => Queue::bounded(n),
        None => Queue::unbounded(),
    };
    let tally = Rc::new(Tally::default());
    let check = {
        let (queue, tally) = (queue.clone(), tally.clone());
        move || tally.most.set(tally.most.get().max(queue.len()))
    };
    let pause = |r: u64| match r % 4 {
        0 => greenlet::sleep(Duration::from_micros(r % 300)),
        1 | 2 => greenlet::yield_now(),
        _ => {}
    };
    let mut producers = Vec::new();
    for p in 0..PRODUCERS {
        let (queue, tally, check) = (queue.clone(), tally.clone(), check.clone());
        let mut next = xorshift(next() | 1);
        producers.push(greenlet::spawn(move || {
            for i in 0..ITEMS {
                let item = p * 1000 + i;
                let r = next();
                let put = match r % 5 {
                    0 => queue
                        .put_timeout(item, Duration::from_micros(r % 200))
                        .is_ok(),
                    1 => queue.try_put(item).is_ok(),
                    // Elapsed: the item was dropped while waiting, not put.
                    2 => greenlet::with_timeout(Duration::from_micros(r % 300), || queue.put(item))
                        .is_ok_and(|put| put.is_ok()),
                    _ => queue.put(item).is_ok(),
                };
                // No blocking call between a put's return and its record.
                if put {
                    tally.sent.borrow_mut().push(item);
                }
                check();
                pause(next());
            }
        }));
    }
    let mut consumers = Vec::new();
    for c in 0..CONSUMERS {
        let (queue, tally, check) = (queue.clone(), tally.clone(), check.clone());
        let mut next = xorshift(next() | 1);
        consumers.push(greenlet::spawn(move || {
            loop {
                let r = next();
                let got = match r % 4 {
                    0 => queue.get_timeout(Duration::from_micros(r % 200)),
                    1 if c % 2 == 0 => {
                        greenlet::with_timeout(Duration::from_micros(r % 300), || queue.get())
                            .unwrap_or(Err(GetError::TimedOut))
                    }
                    _ => queue.get(),
                };
                match got {
                    Ok(item) => {
                        tally.received.borrow_mut().push(item);
                        queue.task_done();
                    }
                    Err(GetError::Closed) => return,
                    Err(GetError::TimedOut | GetError::Empty) => {}
                }
                check();
                pause(next());
            }
        }));
    }
    // Kill some producers and the odd-numbered consumers (the even ones
    // survive to drain the queue), at random moments.
    for _ in 0..30 {
        let r = next();
        pause(r);
        match r % 8 {
            0 => producers[(r / 8 % PRODUCERS) as usize].kill(),
            1 => consumers[((r / 8 % CONSUMERS as u64) | 1) as usize].kill(),
            _ => {}
        }
        check();
    }
    for p in producers {
        let _ = p.join();
    }
    queue.close();
    for c in consumers {
        let _ = c.join();
    }
    // An item passed back by a consumer killed after the close waits here.
    while let Ok(item) = queue.try_get() {
        tally.received.borrow_mut().push(item);
        queue.task_done();
    }
    assert_eq!(queue.try_get(), Err(GetError::Closed));
    assert_exactly_once(&tally);
    assert_eq!(queue.unfinished(), 0, "every item received was marked done");
    assert!(queue.join_timeout(Duration::ZERO));
    if let Some(bound) = bound {
        assert!(
            tally.most.get() <= bound,
            "len {} over the bound {bound}",
            tally.most.get()
        );
    }
}

#[test]
fn stress_a_bounded_queue_delivers_every_item_exactly_once() {
    for seed in [1, 0x9E37_79B9_7F4A_7C15, 0xDEAD_BEEF, 42] {
        stress_queue(seed, Some(3));
    }
    stress_queue(7, Some(1));
}

#[test]
fn stress_an_unbounded_queue_delivers_every_item_exactly_once() {
    for seed in [3, 0x0123_4567_89AB_CDEF] {
        stress_queue(seed, None);
    }
}

/// Seeded random putters and getters on a channel, with timeouts and kills.
#[test]
fn stress_a_channel_delivers_every_item_exactly_once() {
    for seed in [5u64, 0xC0FF_EE00_1234_5678] {
        let mut next = xorshift(seed);
        let channel = Channel::new();
        let tally = Rc::new(Tally::default());
        let mut putters = Vec::new();
        for p in 0..8u64 {
            let (channel, tally) = (channel.clone(), tally.clone());
            let mut next = xorshift(next() | 1);
            putters.push(greenlet::spawn(move || {
                for i in 0..30 {
                    let item = p * 1000 + i;
                    let r = next();
                    tally.in_doubt.borrow_mut().insert(item);
                    let put = match r % 4 {
                        0 => channel.put_timeout(item, Duration::from_micros(r % 300)),
                        1 => channel.try_put(item),
                        _ => channel.put(item),
                    };
                    tally.in_doubt.borrow_mut().remove(&item);
                    if put.is_ok() {
                        tally.sent.borrow_mut().push(item);
                    }
                    if next() % 3 == 0 {
                        greenlet::yield_now();
                    }
                }
            }));
        }
        let mut getters = Vec::new();
        for g in 0..6 {
            let (channel, tally) = (channel.clone(), tally.clone());
            let mut next = xorshift(next() | 1);
            getters.push(greenlet::spawn(move || {
                loop {
                    let r = next();
                    let got = match r % 4 {
                        0 => channel.get_timeout(Duration::from_micros(r % 300)),
                        1 if g % 2 == 0 => channel.try_get(),
                        _ => channel.get(),
                    };
                    match got {
                        Ok(item) => tally.received.borrow_mut().push(item),
                        Err(GetError::Closed) => return,
                        Err(_) => {}
                    }
                    if next() % 3 == 0 {
                        greenlet::sleep(Duration::from_micros(next() % 100));
                    }
                }
            }));
        }
        for _ in 0..20 {
            let r = next();
            greenlet::yield_now();
            match r % 6 {
                0 => putters[(r / 6 % 8) as usize].kill(),
                1 => getters[(r / 6 % 3 * 2 + 1) as usize].kill(), // odd ones
                _ => {}
            }
        }
        for p in putters {
            let _ = p.join();
        }
        channel.close();
        for g in getters {
            let _ = g.join();
        }
        while let Ok(item) = channel.try_get() {
            tally.received.borrow_mut().push(item);
        }
        assert_exactly_once(&tally);
    }
}
