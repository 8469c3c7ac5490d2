//! `RwLock`, from the main context and from greenlets: readers share,
//! writers exclude, FIFO between the two, no writer starvation, timeouts,
//! kills while waiting (nothing is lost and nobody is blocked by a waiter
//! that left), the deadlock report, and seeded random stress. Every loop is
//! bounded; nothing is asserted on elapsed time.

mod util;

use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::time::Duration;

use greenlet::sync::RwLock;
use util::{DropCounter, xorshift};

const LONG: Duration = Duration::from_secs(60);

/// The message of a caught panic.
fn message(err: &(dyn std::any::Any + Send)) -> String {
    err.downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

type Log = Rc<RefCell<Vec<String>>>;

fn log() -> Log {
    Rc::new(RefCell::new(Vec::new()))
}

/// A greenlet that reads (`write` false) or writes, logs `"{name} in"`,
/// yields once while it holds the lock, and logs `"{name} out"`.
fn locker(lock: &Rc<RwLock<u32>>, log: &Log, name: &str, write: bool) -> greenlet::Greenlet<()> {
    let (lock, log, name) = (lock.clone(), log.clone(), name.to_string());
    greenlet::spawn(move || {
        if write {
            let mut guard = lock.write();
            log.borrow_mut().push(format!("{name} in"));
            *guard += 1;
            greenlet::yield_now();
        } else {
            let _guard = lock.read();
            log.borrow_mut().push(format!("{name} in"));
            greenlet::yield_now();
        }
        log.borrow_mut().push(format!("{name} out"));
    })
}

#[test]
fn readers_share_the_lock_and_a_writer_has_it_alone_from_main_and_greenlets() {
    let lock = Rc::new(RwLock::new(0));
    let a = lock.read();
    let b = lock.read();
    assert_eq!(lock.readers(), 2);
    assert!(lock.try_write().is_none());
    let in_greenlet = {
        let lock = lock.clone();
        greenlet::spawn(move || *lock.read())
    };
    assert_eq!(in_greenlet.join().unwrap(), 0, "a reader joins the readers");
    drop((a, b));
    let writer = {
        let lock = lock.clone();
        greenlet::spawn(move || {
            let mut guard = lock.write();
            *guard += 1;
            greenlet::yield_now(); // the main context tries meanwhile
            *guard += 1;
        })
    };
    greenlet::yield_now();
    assert!(lock.is_write_locked());
    assert!(lock.try_read().is_none());
    assert_eq!(*lock.read(), 2, "the reader waited for the writer");
    writer.join().unwrap();
    assert!(!lock.is_locked());
}

#[test]
fn readers_and_writers_enter_in_arrival_order_and_consecutive_readers_together() {
    let lock = Rc::new(RwLock::new(0));
    let log = log();
    let held = lock.write();
    let kinds = [("r0", false), ("r1", false), ("w2", true), ("r3", false)];
    let more = [("r4", false), ("w5", true), ("w6", true), ("r7", false)];
    let lockers: Vec<_> = kinds
        .iter()
        .chain(&more)
        .map(|&(name, write)| locker(&lock, &log, name, write))
        .collect();
    greenlet::yield_now(); // all eight wait, in that order
    assert!(log.borrow().is_empty());
    drop(held);
    greenlet::joinall(lockers);
    assert_eq!(
        *log.borrow(),
        [
            "r0 in", "r1 in", "r0 out", "r1 out", // together
            "w2 in", "w2 out", //
            "r3 in", "r4 in", "r3 out", "r4 out", // together
            "w5 in", "w5 out", "w6 in", "w6 out", // one at a time
            "r7 in", "r7 out",
        ]
    );
    assert_eq!(*lock.read(), 3);
}

#[test]
fn a_reader_that_arrives_while_a_writer_waits_queues_behind_it() {
    let lock = Rc::new(RwLock::new(0));
    let log = log();
    let held = lock.read();
    let writer = locker(&lock, &log, "w", true);
    greenlet::yield_now(); // the writer waits for the main context's read lock
    assert!(
        lock.try_read().is_none(),
        "a newcomer cannot overtake the writer"
    );
    assert!(
        lock.read_timeout(Duration::from_millis(1)).is_none(),
        "nor wait past it"
    );
    let readers: Vec<_> = (0..3)
        .map(|i| locker(&lock, &log, &format!("r{i}"), false))
        .collect();
    greenlet::yield_now();
    assert!(
        log.borrow().is_empty(),
        "the readers wait behind the writer"
    );
    drop(held);
    writer.join().unwrap();
    greenlet::joinall(readers);
    assert_eq!(
        log.borrow()[..4],
        ["w in", "w out", "r0 in", "r1 in"],
        "the writer first, then the readers together"
    );
}

/// Three readers take turns so that a read lock is always held: a writer
/// still gets in, after exactly the reads that arrived before it.
#[test]
fn a_stream_of_readers_cannot_starve_a_writer() {
    const ROUNDS: usize = 20;
    let lock = Rc::new(RwLock::new(()));
    let arrivals = Rc::new(Cell::new(0u32));
    // (arrival number, who) in the order of entry.
    let entries = Rc::new(RefCell::new(Vec::new()));
    let arrive = {
        let arrivals = arrivals.clone();
        move || {
            arrivals.set(arrivals.get() + 1);
            arrivals.get()
        }
    };
    let readers: Vec<_> = (0..3)
        .map(|i| {
            let (lock, entries, arrive) = (lock.clone(), entries.clone(), arrive.clone());
            greenlet::spawn(move || {
                for _ in 0..ROUNDS {
                    let arrival = arrive();
                    let guard = lock.read();
                    entries.borrow_mut().push((arrival, format!("r{i}")));
                    greenlet::yield_now();
                    drop(guard);
                }
            })
        })
        .collect();
    for _ in 0..5 {
        greenlet::yield_now(); // the stream is flowing
    }
    assert!(lock.readers() > 0);
    let writer = {
        let (lock, entries, arrive) = (lock.clone(), entries.clone(), arrive.clone());
        greenlet::spawn(move || {
            let arrival = arrive();
            let _guard = lock.write();
            entries.borrow_mut().push((arrival, "w".to_string()));
            arrival
        })
    };
    let writer_arrival = writer.join().unwrap();
    greenlet::joinall(readers);
    let entries = entries.borrow();
    let at = entries.iter().position(|(_, who)| who == "w").unwrap();
    assert!(
        entries[..at].iter().all(|&(a, _)| a < writer_arrival),
        "only reads that arrived before the writer went first: {entries:?}"
    );
    assert!(
        entries[at + 1..].iter().all(|&(a, _)| a > writer_arrival),
        "every read that arrived after it waited for it: {entries:?}"
    );
    assert!(
        at + 1 < entries.len(),
        "the writer did not wait for the stream to end"
    );
    assert_eq!(entries.len(), 3 * ROUNDS + 1);
}

#[test]
fn try_and_timeout_forms_from_main_and_greenlets() {
    let lock = Rc::new(RwLock::new(0));
    {
        let writer = lock.try_write().expect("free");
        assert!(lock.try_read().is_none());
        assert!(lock.read_timeout(Duration::from_millis(2)).is_none());
        assert!(lock.write_timeout(Duration::from_millis(2)).is_none());
        let in_greenlet = {
            let lock = lock.clone();
            greenlet::spawn(move || lock.read_timeout(Duration::from_millis(2)).is_none())
        };
        assert!(in_greenlet.join().unwrap(), "timed out in a greenlet too");
        drop(writer);
    }
    assert!(
        !lock.is_locked(),
        "the timed-out waiters left nothing behind"
    );
    {
        let reader = lock.try_read().expect("free");
        let in_greenlet = {
            let lock = lock.clone();
            greenlet::spawn(move || lock.write_timeout(Duration::from_millis(2)).is_none())
        };
        assert!(in_greenlet.join().unwrap());
        assert!(lock.try_read().is_some(), "no writer is left waiting");
        drop(reader);
    }
    // A holder that releases in time: the timeout forms get the lock.
    let holder = {
        let lock = lock.clone();
        greenlet::spawn(move || {
            let mut value = lock.write();
            greenlet::sleep(Duration::from_millis(2));
            *value = 7;
        })
    };
    greenlet::yield_now();
    assert_eq!(*lock.read_timeout(LONG).expect("released in time"), 7);
    *lock.write_timeout(LONG).expect("free") += 1;
    holder.join().unwrap();
    assert_eq!(*lock.read(), 8);
}

#[test]
fn readers_queued_behind_a_killed_writer_are_admitted() {
    let lock = Rc::new(RwLock::new(0));
    let log = log();
    let drops = DropCounter::new();
    let held = lock.read();
    let writer = {
        let (lock, token) = (lock.clone(), drops.token());
        greenlet::spawn(move || {
            let _token = token;
            *lock.write() += 100;
        })
    };
    greenlet::yield_now(); // the writer waits
    let readers: Vec<_> = (0..3)
        .map(|i| locker(&lock, &log, &format!("r{i}"), false))
        .collect();
    greenlet::yield_now(); // the readers queue behind the writer
    assert!(log.borrow().is_empty());
    writer.kill();
    assert_eq!(drops.count(), 1);
    greenlet::joinall(readers); // the main context still reads
    assert_eq!(
        log.borrow().len(),
        6,
        "all three read beside the main context"
    );
    drop(held);
    assert!(!lock.is_locked());
    assert_eq!(*lock.write(), 0, "the killed writer changed nothing");
}

#[test]
fn readers_queued_behind_a_timed_out_writer_are_admitted() {
    let lock = Rc::new(RwLock::new(0));
    let log = log();
    let held = lock.read();
    let writer = {
        let lock = lock.clone();
        greenlet::spawn(move || lock.write_timeout(Duration::from_millis(2)).is_none())
    };
    let impatient = {
        // An outer timeout, the other way a waiter leaves.
        let lock = lock.clone();
        greenlet::spawn(move || {
            greenlet::with_timeout(Duration::from_millis(3), || drop(lock.write())).is_err()
        })
    };
    greenlet::yield_now(); // both writers wait
    let readers: Vec<_> = (0..2)
        .map(|i| locker(&lock, &log, &format!("r{i}"), false))
        .collect();
    assert!(writer.join().unwrap(), "the writer timed out");
    assert!(impatient.join().unwrap(), "its outer timeout expired");
    greenlet::joinall(readers);
    assert_eq!(log.borrow().len(), 4);
    drop(held);
    assert!(lock.try_write().is_some(), "nobody is left waiting");
}

#[test]
fn a_write_lock_handed_to_a_killed_writer_passes_to_the_next() {
    let lock = Rc::new(RwLock::new(Vec::new()));
    let held = lock.write();
    let victim = {
        let lock = lock.clone();
        greenlet::spawn(move || {
            let _guard = lock.write();
            unreachable!("killed before it could run with the lock");
        })
    };
    let next = {
        let lock = lock.clone();
        greenlet::spawn(move || lock.write().push("next"))
    };
    let reader = {
        let lock = lock.clone();
        greenlet::spawn(move || lock.read().clone())
    };
    greenlet::yield_now(); // all three wait
    drop(held); // handed to the victim, which has not run yet
    assert!(lock.is_write_locked());
    victim.kill(); // the lock passes on
    assert!(victim.join().unwrap_err().is_killed());
    next.join().unwrap();
    assert_eq!(reader.join().unwrap(), ["next"]);
    assert!(!lock.is_locked(), "no lock lost");
}

#[test]
fn a_read_lock_handed_to_a_killed_reader_is_released_and_the_writer_behind_goes_on() {
    let lock = Rc::new(RwLock::new(0));
    let log = log();
    let held = lock.write();
    let victim = {
        let lock = lock.clone();
        greenlet::spawn(move || {
            let _guard = lock.read();
            unreachable!("killed before it could run with the lock");
        })
    };
    let reader = locker(&lock, &log, "r", false);
    let writer = locker(&lock, &log, "w", true);
    greenlet::yield_now(); // all three wait
    drop(held); // both readers are handed a read lock
    assert_eq!(lock.readers(), 2);
    victim.kill(); // its read lock is released: the writer goes on after the reader
    greenlet::joinall([reader, writer]);
    assert_eq!(*log.borrow(), ["r in", "r out", "w in", "w out"]);
    assert!(!lock.is_locked());
}

#[test]
fn killing_a_holder_or_a_panic_while_holding_releases_the_lock() {
    let lock = Rc::new(RwLock::new(0));
    let reader = {
        let lock = lock.clone();
        greenlet::spawn(move || {
            let _guard = lock.read();
            greenlet::sleep(LONG);
        })
    };
    let writer = {
        let lock = lock.clone();
        greenlet::spawn(move || {
            let mut guard = lock.write();
            *guard = 1;
            panic!("boom while writing");
        })
    };
    greenlet::yield_now(); // the reader holds, the writer waits
    reader.kill();
    assert!(writer.join().unwrap_err().is_panic());
    assert!(!lock.is_locked());
    assert_eq!(*lock.read(), 1, "no poisoning: the value as it was left");
}

#[test]
fn writing_while_the_main_context_reads_is_a_deadlock() {
    let lock = RwLock::new(());
    let reader = lock.read();
    let err = catch_unwind(AssertUnwindSafe(|| drop(lock.write()))).unwrap_err();
    let msg = message(&*err);
    assert!(
        msg.starts_with("greenlet: this operation would block forever"),
        "{msg}"
    );
    assert!(msg.contains("main waits on RwLock::write"), "{msg}");
    assert!(lock.try_read().is_some(), "the writer left the queue");
    drop(reader);
    let writer = lock.write();
    let err = catch_unwind(AssertUnwindSafe(|| drop(lock.read()))).unwrap_err();
    assert!(message(&*err).contains("main waits on RwLock::read"));
    drop(writer);
    assert!(lock.try_write().is_some(), "usable afterwards");
}

#[test]
fn get_mut_into_inner_default_from_debug_and_unsized() {
    let mut lock = RwLock::<Vec<u8>>::default();
    lock.get_mut().push(1);
    assert_eq!(
        format!("{lock:?}"),
        "RwLock { data: [1], readers: 0, waiting: 0, .. }"
    );
    {
        let reader = lock.read();
        assert_eq!(format!("{reader:?}"), "[1]");
        assert_eq!(
            format!("{lock:?}"),
            "RwLock { data: [1], readers: 1, waiting: 0, .. }"
        );
    }
    {
        let writer = lock.write();
        assert_eq!(format!("{writer:?}"), "[1]");
        assert_eq!(
            format!("{lock:?}"),
            "RwLock { data: <write-locked>, readers: 0, waiting: 0, .. }"
        );
    }
    assert_eq!(RwLock::from(3).into_inner(), 3);
    assert_eq!(lock.into_inner(), [1]);
    let sized = RwLock::new([1, 2, 3]);
    let slice: &RwLock<[i32]> = &sized;
    slice.write()[0] = 9;
    assert_eq!(slice.read().iter().sum::<i32>(), 14);
}

/// Seeded random reads, writes, try and timeout forms, yields, sleeps,
/// outer timeouts and kills: never a writer beside anyone else, every
/// write kept, and the lock ends free.
#[test]
fn a_writer_is_never_beside_anyone_under_random_kills_and_timeouts() {
    const GREENLETS: usize = 16;
    const ROUNDS: usize = 60;
    let mut next = xorshift(0x9E37_79B9_7F4A_7C15);
    let lock = Rc::new(RwLock::new(0u64));
    // (readers, writers) inside now.
    let inside = Rc::new(Cell::new((0usize, 0usize)));
    let writes = Rc::new(Cell::new(0u64));
    /// Counts a holder out even when it unwinds.
    struct Inside(Rc<Cell<(usize, usize)>>, bool);
    impl Drop for Inside {
        fn drop(&mut self) {
            let (r, w) = self.0.get();
            self.0.set(if self.1 { (r, w - 1) } else { (r - 1, w) });
        }
    }
    let enter = |inside: &Rc<Cell<(usize, usize)>>, write: bool| {
        let (r, w) = inside.get();
        assert_eq!(w, 0, "a writer is inside");
        assert!(!write || r == 0, "a writer enters beside readers");
        inside.set(if write { (r, w + 1) } else { (r + 1, w) });
        Inside(inside.clone(), write)
    };
    let handles: Vec<_> = (0..GREENLETS)
        .map(|_| {
            let (lock, inside, writes) = (lock.clone(), inside.clone(), writes.clone());
            let mut next = xorshift(next() | 1);
            greenlet::spawn(move || {
                for _ in 0..ROUNDS {
                    let (how, hold, micros) = (next() % 6, next() % 3, next() % 300);
                    let write = next() % 3 == 0;
                    let pause = || match hold {
                        0 => greenlet::sleep(Duration::from_micros(micros)),
                        1 => greenlet::yield_now(),
                        _ => {}
                    };
                    let body = || {
                        let timeout = Duration::from_micros(micros);
                        if write {
                            let guard = match how {
                                0 => lock.try_write(),
                                1 => lock.write_timeout(timeout),
                                _ => Some(lock.write()),
                            };
                            if let Some(mut guard) = guard {
                                let _inside = enter(&inside, true);
                                pause();
                                *guard += 1;
                                writes.set(writes.get() + 1);
                            }
                        } else {
                            let guard = match how {
                                0 => lock.try_read(),
                                1 => lock.read_timeout(timeout),
                                _ => Some(lock.read()),
                            };
                            if let Some(guard) = guard {
                                let _inside = enter(&inside, false);
                                let seen = *guard;
                                pause();
                                assert_eq!(*guard, seen, "nobody wrote meanwhile");
                            }
                        }
                    };
                    if next() % 6 == 0 {
                        let _ = greenlet::with_timeout(Duration::from_micros(micros), body);
                    } else {
                        body();
                    }
                }
            })
        })
        .collect();
    for _ in 0..20 {
        greenlet::sleep(Duration::from_micros(next() % 200));
        if next() % 4 == 0 {
            let victim = &handles[(next() % GREENLETS as u64) as usize];
            victim.kill();
        }
    }
    for outcome in greenlet::joinall(handles) {
        assert!(
            outcome.as_ref().err().is_none_or(|e| e.is_killed()),
            "only kills"
        );
    }
    assert_eq!(inside.get(), (0, 0));
    assert!(!lock.is_locked(), "the lock came back");
    let lock = Rc::try_unwrap(lock).expect("every greenlet is done");
    assert_eq!(lock.into_inner(), writes.get(), "no write lost");
}
