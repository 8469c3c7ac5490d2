//! `Group` and `Pool`: joining, killing, the size limit, `map` and
//! `imap_unordered`, from the main context and from greenlets. Every loop is
//! bounded and nothing asserts on elapsed time.

mod util;

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::time::Duration;

use greenlet::pool::{Group, Pool};
use greenlet::sync::Event;
use util::{DropCounter, xorshift};

/// Counts the bodies running now and the most ever seen at once.
#[derive(Clone, Default)]
struct Concurrency {
    now: Rc<Cell<usize>>,
    most: Rc<Cell<usize>>,
}

impl Concurrency {
    fn enter(&self) -> Inside {
        self.now.set(self.now.get() + 1);
        self.most.set(self.most.get().max(self.now.get()));
        Inside(self.now.clone())
    }
}

/// Leaves the count when dropped, so killed bodies leave it too.
struct Inside(Rc<Cell<usize>>);

impl Drop for Inside {
    fn drop(&mut self) {
        self.0.set(self.0.get() - 1);
    }
}

fn yields(n: usize) {
    for _ in 0..n {
        greenlet::yield_now();
    }
}

#[test]
fn group_spawn_and_join_from_main_and_from_a_greenlet() {
    let group = Group::new();
    let done = Rc::new(Cell::new(0));
    for i in 0..3 {
        let done = done.clone();
        group.spawn(move || {
            yields(i);
            done.set(done.get() + 1);
        });
    }
    assert_eq!(group.len(), 3);
    group.join();
    assert!(group.is_empty());
    assert_eq!(done.get(), 3);

    let inner = {
        let (group, done) = (group.clone(), done.clone());
        greenlet::spawn(move || {
            let values: Vec<_> = (0..4).map(|i| group.spawn(move || i * 2)).collect();
            group.join();
            assert!(values.iter().all(|g| g.is_finished()));
            done.set(done.get() + 1);
            values.into_iter().map(|g| g.join().unwrap()).sum::<i32>()
        })
    };
    assert_eq!(inner.join().unwrap(), 12);
    assert_eq!(done.get(), 4);
}

#[test]
fn a_member_handle_returns_the_value_the_panic_payload_or_killed() {
    let group = Group::new();
    let ok = group.spawn(|| "value");
    let bad = group.spawn(|| -> u8 { panic!("member panic") });
    let slow = group.spawn(|| greenlet::sleep(Duration::from_secs(3600)));
    assert_eq!(ok.join().unwrap(), "value");
    let err = bad.join().unwrap_err();
    assert_eq!(err.to_string(), "greenlet panicked: member panic");
    slow.kill();
    assert!(slow.is_finished());
    assert!(slow.join().unwrap_err().is_killed());
    group.join();
    assert!(group.is_empty());
}

#[test]
fn killing_a_member_handle_kills_its_body_and_runs_its_destructors() {
    let group = Group::new();
    let drops = DropCounter::new();
    let token = drops.token();
    let reached = Rc::new(Cell::new(false));
    let handle = {
        let reached = reached.clone();
        group.spawn(move || {
            let _token = token;
            greenlet::sleep(Duration::from_secs(3600));
            reached.set(true);
        })
    };
    yields(2); // the body starts sleeping
    handle.kill();
    group.join();
    assert_eq!(drops.count(), 1);
    assert!(!reached.get());
    assert!(handle.join().unwrap_err().is_killed());
}

#[test]
fn group_join_waits_for_members_spawned_while_it_joins() {
    let group = Group::new();
    let log = Rc::new(RefCell::new(Vec::new()));
    {
        let (group, log) = (group.clone(), log.clone());
        group.clone().spawn(move || {
            yields(3);
            let log2 = log.clone();
            group.spawn(move || {
                greenlet::sleep(Duration::from_millis(2));
                log2.borrow_mut().push("late member");
            });
            log.borrow_mut().push("first member");
        });
    }
    group.join(); // starts with one member; the second comes while it waits
    assert_eq!(*log.borrow(), ["first member", "late member"]);
    assert!(group.is_empty());
}

#[test]
fn group_join_timeout_reports_whether_all_ended() {
    let group = Group::new();
    let gate = Event::new();
    {
        let gate = gate.clone();
        group.spawn(move || gate.wait());
    }
    assert!(!group.join_timeout(Duration::from_millis(3)));
    assert_eq!(group.len(), 1);
    gate.set();
    assert!(group.join_timeout(Duration::from_secs(60)));
    assert!(group.join_timeout(Duration::ZERO));
}

#[test]
fn group_kill_runs_destructors_of_started_and_unstarted_members() {
    let group = Group::new();
    let drops = DropCounter::new();
    let ran = Rc::new(Cell::new(0));
    let mut handles = Vec::new();
    for _ in 0..3 {
        let (token, ran) = (drops.token(), ran.clone());
        handles.push(group.spawn(move || {
            let _token = token;
            ran.set(ran.get() + 1);
            greenlet::sleep(Duration::from_secs(3600));
        }));
    }
    yields(2); // the three start sleeping
    for _ in 0..2 {
        let (token, ran) = (drops.token(), ran.clone());
        handles.push(group.spawn(move || {
            let _token = token;
            ran.set(ran.get() + 1);
        }));
    }
    group.kill(); // two never started
    assert!(group.is_empty());
    assert_eq!(drops.count(), 5);
    assert_eq!(ran.get(), 3);
    for h in handles {
        assert!(h.join().unwrap_err().is_killed());
    }
}

#[test]
fn group_kill_from_a_member_kills_the_others_then_the_caller() {
    let group = Group::new();
    let drops = DropCounter::new();
    for _ in 0..3 {
        let token = drops.token();
        group.spawn(move || {
            let _token = token;
            greenlet::sleep(Duration::from_secs(3600));
        });
    }
    let after_kill = Rc::new(Cell::new(false));
    let killer = {
        let (group, after_kill, token) = (group.clone(), after_kill.clone(), drops.token());
        group.clone().spawn(move || {
            let _token = token;
            yields(2);
            group.kill();
            after_kill.set(true);
        })
    };
    assert!(killer.join().unwrap_err().is_killed());
    group.join();
    assert!(!after_kill.get());
    assert_eq!(drops.count(), 4);
}

#[test]
fn group_join_from_a_member_waits_for_the_others() {
    let group = Group::new();
    let log = Rc::new(RefCell::new(Vec::new()));
    for i in 0..3 {
        let log = log.clone();
        group.spawn(move || {
            yields(i + 1);
            log.borrow_mut().push(i);
        });
    }
    let joiner = {
        let (group, log) = (group.clone(), log.clone());
        group.clone().spawn(move || {
            group.join();
            log.borrow_mut().push(99);
        })
    };
    joiner.join().unwrap();
    assert_eq!(*log.borrow(), [0, 1, 2, 99]);
}

#[test]
#[should_panic(expected = "a Pool needs a size of at least 1")]
fn a_pool_of_size_zero_panics() {
    Pool::new(0);
}

#[test]
fn the_pool_never_exceeds_its_size() {
    let pool = Pool::new(3);
    let seen = Concurrency::default();
    for i in 0..12u64 {
        let seen = seen.clone();
        pool.spawn(move || {
            let _inside = seen.enter();
            greenlet::sleep(Duration::from_millis(i % 4));
        });
        assert!(pool.len() <= 3);
        assert!(pool.free_count() <= 3);
    }
    pool.join();
    assert_eq!(seen.most.get(), 3);
    assert_eq!((pool.len(), pool.free_count()), (0, 3));
}

#[test]
fn spawn_blocks_while_the_pool_is_full_and_admits_in_fifo_order() {
    let pool = Pool::new(1);
    let gate = Event::new();
    {
        let gate = gate.clone();
        pool.spawn(move || gate.wait());
    }
    assert_eq!(pool.free_count(), 0);
    let order = Rc::new(RefCell::new(Vec::new()));
    let spawners: Vec<_> = (0..4)
        .map(|i| {
            let (pool, order) = (pool.clone(), order.clone());
            greenlet::spawn(move || {
                let order2 = order.clone();
                pool.spawn(move || order2.borrow_mut().push(format!("ran {i}")));
                order.borrow_mut().push(format!("admitted {i}"));
            })
        })
        .collect();
    yields(3); // all four wait for the slot, in order
    assert!(order.borrow().is_empty());
    assert_eq!(pool.len(), 1);
    gate.set();
    greenlet::joinall(spawners);
    pool.join();
    let order = order.borrow();
    let admitted: Vec<_> = order.iter().filter(|s| s.starts_with("admitted")).collect();
    let ran: Vec<_> = order.iter().filter(|s| s.starts_with("ran")).collect();
    assert_eq!(
        admitted,
        ["admitted 0", "admitted 1", "admitted 2", "admitted 3"]
    );
    assert_eq!(ran, ["ran 0", "ran 1", "ran 2", "ran 3"]);
}

#[test]
fn a_killed_member_frees_its_slot() {
    let pool = Pool::new(1);
    let sleeper = pool.spawn(|| greenlet::sleep(Duration::from_secs(3600)));
    yields(2);
    sleeper.kill();
    let next = pool.spawn(|| "got the slot"); // would block forever otherwise
    assert_eq!(next.join().unwrap(), "got the slot");

    // Killed before it started, too.
    let unstarted = pool.spawn(|| unreachable!("killed before it started"));
    unstarted.kill();
    assert_eq!(pool.spawn(|| 1).join().unwrap(), 1);

    // And by `Pool::kill`.
    pool.spawn(|| greenlet::sleep(Duration::from_secs(3600)));
    pool.kill();
    assert_eq!((pool.free_count(), pool.len()), (1, 0));
}

#[test]
fn a_panicking_member_frees_its_slot() {
    let pool = Pool::new(1);
    let bad = pool.spawn(|| -> () { panic!("slot test panic") });
    let good = pool.spawn(|| 5);
    assert!(bad.join().unwrap_err().is_panic());
    assert_eq!(good.join().unwrap(), 5);
}

#[test]
fn map_returns_results_in_input_order_from_main_and_from_a_greenlet() {
    let pool = Pool::new(3);
    let seen = Concurrency::default();
    let f = {
        let seen = seen.clone();
        move |i: usize| {
            let _inside = seen.enter();
            yields(10 - i); // later items finish first
            i * 10
        }
    };
    assert_eq!(
        pool.map(f.clone(), 0..10),
        (0..10).map(|i| i * 10).collect::<Vec<_>>()
    );
    assert_eq!(seen.most.get(), 3);
    let in_greenlet = {
        let pool = pool.clone();
        greenlet::spawn(move || pool.map(f, [4, 1, 7]))
    };
    assert_eq!(in_greenlet.join().unwrap(), [40, 10, 70]);
    assert!(pool.map(|x: u8| x, Vec::new()).is_empty());
}

#[test]
fn map_resumes_a_panic_in_the_caller_after_the_other_tasks_end() {
    let pool = Pool::new(2);
    let finished = Rc::new(Cell::new(0));
    let result = {
        let finished = finished.clone();
        let pool = pool.clone();
        panic::catch_unwind(AssertUnwindSafe(move || {
            pool.map(
                move |i: u32| {
                    yields(3);
                    if i == 1 {
                        panic!("map item {i}");
                    }
                    finished.set(finished.get() + 1);
                    i
                },
                0..5,
            )
        }))
    };
    let payload = result.unwrap_err();
    assert_eq!(payload.downcast_ref::<String>().unwrap(), "map item 1");
    assert_eq!(finished.get(), 4);
    assert!(pool.is_empty());
}

#[test]
fn imap_unordered_yields_in_completion_order() {
    let pool = Pool::new(4);
    let got: Vec<usize> = pool
        .imap_unordered(
            |n: usize| {
                yields(n * 2);
                n
            },
            [3, 0, 2, 1],
        )
        .collect();
    assert_eq!(got, [0, 1, 2, 3]);

    let from_greenlet = {
        let pool = pool.clone();
        greenlet::spawn(move || {
            pool.imap_unordered(
                |n: usize| {
                    yields(n * 2);
                    n
                },
                [2, 1, 0],
            )
            .collect::<Vec<_>>()
        })
    };
    assert_eq!(from_greenlet.join().unwrap(), [0, 1, 2]);
}

#[test]
fn imap_unordered_reads_ahead_at_most_the_pool_size() {
    let pool = Pool::new(3);
    let pulled = Rc::new(Cell::new(0));
    let seen = Concurrency::default();
    let items = {
        let pulled = pulled.clone();
        (0..20usize).inspect(move |_| pulled.set(pulled.get() + 1))
    };
    let f = {
        let seen = seen.clone();
        move |n: usize| {
            let _inside = seen.enter();
            yields(n % 5);
            n
        }
    };
    let mut results = pool.imap_unordered(f, items);
    greenlet::yield_now();
    assert_eq!(pulled.get(), 0, "nothing is spawned before the first next");
    let mut yielded = 0;
    let mut sum = 0;
    for n in results.by_ref() {
        yielded += 1;
        sum += n;
        assert!(pulled.get() - yielded <= 3, "read-ahead above the size");
        assert!(pool.len() <= 3);
    }
    assert_eq!((yielded, sum), (20, (0..20).sum()));
    assert!(seen.most.get() <= 3);
    assert_eq!(results.next(), None);
}

#[test]
fn imap_unordered_resumes_a_task_panic_in_the_caller() {
    let pool = Pool::new(2);
    let mut results = pool.imap_unordered(
        |n: u32| {
            if n == 2 {
                panic!("imap item {n}");
            }
            n
        },
        0..4,
    );
    let first: Vec<_> = results.by_ref().take(2).collect();
    assert_eq!(first, [0, 1]);
    let payload = panic::catch_unwind(AssertUnwindSafe(|| results.next())).unwrap_err();
    assert_eq!(payload.downcast_ref::<String>().unwrap(), "imap item 2");
}

#[test]
fn imap_unordered_ends_when_the_pool_is_killed() {
    let pool = Pool::new(2);
    let mut results = pool.imap_unordered(
        |n: u64| {
            greenlet::sleep(Duration::from_secs(3600 * (n + 1)));
            n
        },
        0..10,
    );
    let killer = {
        let pool = pool.clone();
        greenlet::spawn(move || {
            yields(3);
            pool.kill();
        })
    };
    assert_eq!(results.next(), None);
    assert_eq!(results.next(), None);
    killer.join().unwrap();
}

#[test]
fn pool_apis_work_from_inside_a_greenlet() {
    let pool = Pool::new(2);
    let seen = Concurrency::default();
    let driver = {
        let (pool, seen) = (pool.clone(), seen.clone());
        greenlet::spawn(move || {
            let handles: Vec<_> = (0..6)
                .map(|i| {
                    let seen = seen.clone();
                    pool.spawn(move || {
                        let _inside = seen.enter();
                        yields(i % 3);
                        i
                    })
                })
                .collect();
            pool.join();
            assert_eq!(pool.free_count(), 2);
            let stuck = pool.spawn(|| greenlet::sleep(Duration::from_secs(3600)));
            assert!(!pool.join_timeout(Duration::from_millis(2)));
            pool.kill();
            assert!(stuck.join().unwrap_err().is_killed());
            handles
                .into_iter()
                .map(|h| h.join().unwrap())
                .sum::<usize>()
        })
    };
    assert_eq!(driver.join().unwrap(), 15);
    assert_eq!(seen.most.get(), 2);
}

#[test]
fn debug_forms_name_the_counts() {
    let pool = Pool::new(2);
    pool.spawn(|| ());
    assert_eq!(format!("{pool:?}"), "Pool { size: 2, len: 1, free: 1 }");
    assert_eq!(format!("{:?}", Group::new()), "Group { len: 0 }");
    let iter = pool.imap_unordered(|x: u8| x, [1]);
    assert!(format!("{iter:?}").starts_with("ImapUnordered {"));
    pool.join();
}

#[test]
fn stress_the_pool_never_exceeds_its_size_under_sleeps_yields_and_kills() {
    const SIZE: usize = 4;
    const TASKS: usize = 300;
    let mut next = xorshift(0x5eed_1234_abcd_0001);
    let pool = Pool::new(SIZE);
    let seen = Concurrency::default();
    let drops = DropCounter::new();
    let mut handles = Vec::new();
    let mut kills = 0;
    for i in 0..TASKS {
        let steps: Vec<u64> = (0..next() % 4).map(|_| next() % 6).collect();
        let (seen, token) = (seen.clone(), drops.token());
        handles.push(pool.spawn(move || {
            let _token = token;
            let _inside = seen.enter();
            assert!(seen.now.get() <= SIZE);
            for step in steps {
                match step {
                    0 => greenlet::sleep(Duration::from_millis(1)),
                    1 => greenlet::sleep(Duration::ZERO),
                    _ => yields(step as usize),
                }
                assert!(seen.now.get() <= SIZE);
            }
            i
        }));
        assert!(pool.len() <= SIZE);
        if next() % 5 == 0 {
            let victim = (next() % handles.len() as u64) as usize;
            if !handles[victim].is_finished() {
                kills += 1;
            }
            handles[victim].kill();
        }
        if next() % 7 == 0 {
            greenlet::yield_now();
        }
    }
    pool.join();
    assert!(seen.most.get() <= SIZE);
    assert_eq!(seen.now.get(), 0);
    assert_eq!(drops.count(), TASKS);
    let killed = handles
        .into_iter()
        .map(greenlet::Greenlet::join)
        .filter(|r| r.as_ref().is_err_and(|e| e.is_killed()))
        .count();
    assert!(killed >= 1 && killed <= kills, "killed {killed} of {kills}");
    assert_eq!((pool.len(), pool.free_count()), (0, SIZE));
}

#[test]
fn try_spawn_and_spawn_timeout_give_the_closure_back_when_full() {
    let pool = greenlet::pool::Pool::new(2);
    let drops = util::DropCounter::new();
    let gate = greenlet::sync::Event::new();
    let holders: Vec<_> = (0..2)
        .map(|_| {
            let gate = gate.clone();
            pool.try_spawn(move || gate.wait())
                .ok()
                .expect("a free slot")
        })
        .collect();
    let token = drops.token();
    let refused = pool.try_spawn(move || drop(token));
    let closure = refused.expect_err("full");
    assert_eq!(drops.count(), 0, "the closure came back unrun");
    let token = drops.token();
    assert!(
        pool.spawn_timeout(std::time::Duration::from_millis(5), move || drop(token))
            .is_err()
    );
    assert_eq!(
        drops.count(),
        1,
        "the refused closure was dropped by the caller"
    );
    gate.set();
    greenlet::joinall(holders);
    pool.join();
    let ran = pool.try_spawn(closure).ok().expect("slots are free again");
    ran.join().unwrap();
    assert_eq!(drops.count(), 2, "the first closure finally ran");
}

#[test]
fn group_add_tracks_joins_and_kills_greenlets_spawned_elsewhere() {
    let group = greenlet::pool::Group::new();
    let drops = util::DropCounter::new();
    let token = drops.token();
    let sleeper = greenlet::spawn(move || {
        let _token = token;
        greenlet::sleep(Duration::from_secs(3600));
    });
    let quick = greenlet::spawn(|| 5);
    group.add(&sleeper);
    group.add(&quick);
    assert_eq!(group.len(), 2);
    let done = greenlet::spawn(|| ());
    greenlet::yield_now();
    assert!(done.is_finished());
    group.add(&done); // ended already: nothing to track
    assert_eq!(quick.join().unwrap(), 5, "the caller keeps its handle");
    group.kill(); // kills the sleeper, waits for it
    assert_eq!(drops.count(), 1);
    assert!(sleeper.join().unwrap_err().is_killed());
    assert!(group.is_empty());
}

#[test]
fn group_join_waits_for_added_greenlets_and_an_added_one_may_join_the_rest() {
    let group = greenlet::pool::Group::new();
    let order = Rc::new(RefCell::new(Vec::new()));
    let slow = {
        let order = order.clone();
        greenlet::spawn(move || {
            greenlet::sleep(Duration::from_millis(5));
            order.borrow_mut().push("slow");
        })
    };
    group.add(&slow);
    let waiter = {
        let (group, order) = (group.clone(), order.clone());
        greenlet::spawn(move || {
            group.join(); // from inside an added member: waits for the others
            order.borrow_mut().push("waiter");
        })
    };
    group.add(&waiter);
    group.join();
    assert_eq!(*order.borrow(), ["slow", "waiter"]);
    assert!(group.is_empty());
}

#[test]
fn a_member_is_one_greenlet_its_handle_names_and_kill_removes_it_at_once() {
    let group = greenlet::pool::Group::new();
    let g = group.spawn(|| greenlet::current().id());
    let id = g.id();
    assert_eq!(
        g.join().unwrap(),
        id,
        "the body runs in the handle's own greenlet"
    );
    let sleeper = group.spawn(|| greenlet::sleep(Duration::from_secs(3600)));
    greenlet::yield_now();
    assert_eq!(group.len(), 1);
    sleeper.kill();
    assert!(
        group.is_empty(),
        "the member left the group before kill returned"
    );
}

#[test]
fn map_takes_borrowed_items_and_a_borrowing_closure() {
    let pool = Pool::new(2);
    let words: Vec<String> = ["a", "bb", "ccc"].iter().map(|s| s.to_string()).collect();
    let calls = Cell::new(0);
    let most = Cell::new(0);
    let lengths = pool.map(
        |w: &String| {
            calls.set(calls.get() + 1);
            most.set(most.get().max(pool.len()));
            yields(2);
            w.len()
        },
        &words,
    );
    assert_eq!(lengths, [1, 2, 3]);
    assert_eq!(calls.get(), 3);
    assert!(most.get() <= 2, "at most the pool's size at once");
    assert!(pool.is_empty());
    assert_eq!(pool.free_count(), 2);
}

#[test]
fn group_map_runs_every_item_at_once_and_borrows() {
    let group = Group::new();
    let live = Cell::new(0);
    let most = Cell::new(0);
    let base = 100;
    let out = group.map(
        |i: u32| {
            live.set(live.get() + 1);
            most.set(most.get().max(live.get()));
            yields(2);
            live.set(live.get() - 1);
            base + i
        },
        0..4,
    );
    assert_eq!(out, [100, 101, 102, 103]);
    assert_eq!(most.get(), 4, "all at once");
    assert!(group.is_empty());
}

#[test]
fn group_map_resumes_a_panic_after_the_others_end() {
    let group = Group::new();
    let finished = Cell::new(0);
    let err = panic::catch_unwind(AssertUnwindSafe(|| {
        group.map(
            |i: u32| {
                yields(1);
                if i == 2 {
                    panic!("item {i}");
                }
                finished.set(finished.get() + 1);
            },
            0..4,
        )
    }))
    .unwrap_err();
    assert_eq!(err.downcast_ref::<String>().unwrap(), "item 2");
    assert_eq!(finished.get(), 3);
}
