//! `LifoQueue`, `PriorityQueue` and `peek` on every queue type. What the
//! three queue types share (they share one core) runs once per type through
//! `every_queue!`: bounds, FIFO putters and getters, timeouts, closing,
//! `join`, kills while waiting (an item or a slot passes on), peeking in
//! line with the getters, the deadlock report. Then the orders of each.
//! Every loop is bounded; nothing is asserted on elapsed time.

mod util;

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::time::Duration;

use greenlet::sync::{GetError, LifoQueue, PriorityQueue, PutError, Queue};
use util::DropCounter;

const LONG: Duration = Duration::from_secs(60);

/// A log shared between greenlets.
fn log<T>() -> Rc<RefCell<Vec<T>>> {
    Rc::new(RefCell::new(Vec::new()))
}

/// The message of a caught panic.
fn message(err: &(dyn std::any::Any + Send)) -> String {
    err.downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// The tests that hold for every queue type, in a module per type. Each
/// puts at most one item at a time where the order would matter.
macro_rules! every_queue {
    ($module:ident, $queue:ident) => {
        mod $module {
            use super::*;

            type Q<T> = $queue<T>;
            const NAME: &str = stringify!($queue);

            #[test]
            fn getters_wait_in_fifo_order_from_greenlets_and_main() {
                let queue = Q::unbounded();
                let got = log();
                let getters: Vec<_> = (0..3)
                    .map(|i| {
                        let (queue, got) = (queue.clone(), got.clone());
                        greenlet::spawn(move || {
                            let item = queue.get().unwrap();
                            got.borrow_mut().push((i, item));
                        })
                    })
                    .collect();
                greenlet::yield_now(); // all three wait
                for item in [10, 11, 12] {
                    queue.put(item).unwrap(); // each to the first waiting getter
                }
                greenlet::joinall(getters);
                assert_eq!(*got.borrow(), [(0, 10), (1, 11), (2, 12)]);
                let producer = {
                    let queue = queue.clone();
                    greenlet::spawn(move || queue.put(13).unwrap())
                };
                assert_eq!(queue.get(), Ok(13), "the main context waits too");
                producer.join().unwrap();
            }

            #[test]
            fn a_bounded_queue_makes_putters_wait_in_fifo_order() {
                let queue = Q::bounded(1);
                assert_eq!(queue.bound(), Some(1));
                queue.put(0).unwrap();
                let putters: Vec<_> = (1..=3)
                    .map(|i| {
                        let queue = queue.clone();
                        greenlet::spawn(move || queue.put(i).unwrap())
                    })
                    .collect();
                greenlet::yield_now(); // all three wait
                assert!(
                    matches!(queue.try_put(9), Err(PutError::Full(9))),
                    "no overtaking"
                );
                let mut got = Vec::new();
                for _ in 0..4 {
                    got.push(queue.get().unwrap()); // a slot frees: the next putter
                    greenlet::yield_now();
                }
                greenlet::joinall(putters);
                assert_eq!(got, [0, 1, 2, 3]);
                assert!(queue.is_empty());
            }

            #[test]
            fn try_and_timeout_forms() {
                let queue = Q::bounded(1);
                assert_eq!(queue.try_get(), Err(GetError::Empty));
                assert_eq!(
                    queue.get_timeout(Duration::from_millis(2)),
                    Err(GetError::TimedOut)
                );
                queue.try_put(1).unwrap();
                let err = queue.put_timeout(2, Duration::from_millis(2)).unwrap_err();
                assert!(matches!(err, PutError::TimedOut(2)));
                assert_eq!(queue.len(), 1, "the timed-out putter left nothing");
                assert_eq!(queue.try_get(), Ok(1));
                let in_greenlet = {
                    let queue = queue.clone();
                    greenlet::spawn(move || queue.get_timeout(Duration::from_millis(2)))
                };
                assert_eq!(in_greenlet.join().unwrap(), Err(GetError::TimedOut));
                queue.put(3).unwrap();
                assert_eq!(queue.get_timeout(LONG), Ok(3), "no getter left behind");
            }

            #[test]
            fn an_item_handed_to_a_killed_getter_goes_to_the_next_or_stays() {
                let queue = Q::unbounded();
                let drops = DropCounter::new();
                let victim = {
                    let (queue, token) = (queue.clone(), drops.token());
                    greenlet::spawn(move || {
                        let _token = token;
                        let _item = queue.get();
                        unreachable!("killed before it could run with the item");
                    })
                };
                let next = {
                    let queue = queue.clone();
                    greenlet::spawn(move || queue.get())
                };
                greenlet::yield_now(); // both wait, the victim first
                queue.put(7).unwrap(); // handed to the victim
                victim.kill();
                assert_eq!(drops.count(), 1);
                assert_eq!(next.join().unwrap(), Ok(7), "passed to the next getter");
                // With nobody behind, the item stays in the queue.
                let lone = {
                    let queue = queue.clone();
                    greenlet::spawn(move || {
                        let _ = queue.get();
                    })
                };
                greenlet::yield_now();
                queue.put(8).unwrap();
                lone.kill();
                assert_eq!(queue.len(), 1);
                assert_eq!(queue.try_get(), Ok(8));
            }

            #[test]
            fn a_slot_handed_to_a_killed_putter_passes_to_the_next() {
                let queue = Q::<u32>::bounded(1);
                queue.put(0).unwrap();
                let victim = {
                    let queue = queue.clone();
                    greenlet::spawn(move || drop(queue.put(1)))
                };
                let next = {
                    let queue = queue.clone();
                    greenlet::spawn(move || queue.put(2).unwrap())
                };
                greenlet::yield_now(); // both wait
                assert_eq!(queue.get(), Ok(0)); // the slot goes to the victim
                victim.kill();
                next.join().unwrap();
                assert_eq!(queue.try_get(), Ok(2));
                assert!(queue.try_put(3).is_ok(), "no slot lost");
            }

            #[test]
            fn close_wakes_getters_and_putters_and_getters_drain_first() {
                let queue = Q::<u32>::bounded(1);
                let getter = {
                    let queue = queue.clone();
                    greenlet::spawn(move || queue.get())
                };
                greenlet::yield_now();
                queue.close();
                assert_eq!(getter.join().unwrap(), Err(GetError::Closed));
                assert!(queue.is_closed());
                let queue = Q::bounded(1);
                queue.put(1).unwrap();
                let putter = {
                    let queue = queue.clone();
                    greenlet::spawn(move || queue.put(2))
                };
                greenlet::yield_now();
                queue.close();
                assert!(matches!(putter.join().unwrap(), Err(PutError::Closed(2))));
                assert_eq!(queue.iter().collect::<Vec<_>>(), [1]);
                assert_eq!(queue.peek(), Err(GetError::Closed));
                assert_eq!(queue.try_peek(), Err(GetError::Closed));
            }

            #[test]
            fn join_waits_for_every_task_done() {
                let queue = Q::unbounded();
                let worker = {
                    let queue = queue.clone();
                    greenlet::spawn(move || {
                        for _ in &queue {
                            greenlet::yield_now();
                            queue.task_done();
                        }
                    })
                };
                for n in 0..5 {
                    queue.put(n).unwrap();
                }
                assert_eq!(queue.unfinished(), 5);
                assert!(!queue.join_timeout(Duration::ZERO));
                queue.join();
                assert_eq!(queue.unfinished(), 0);
                queue.close();
                worker.join().unwrap();
                let err = catch_unwind(AssertUnwindSafe(|| queue.task_done())).unwrap_err();
                assert_eq!(
                    message(&*err),
                    format!("{NAME}::task_done called more times than items were put")
                );
            }

            #[test]
            fn peek_returns_the_next_item_and_leaves_it() {
                let queue = Q::unbounded();
                assert_eq!(queue.try_peek(), Err(GetError::Empty));
                assert_eq!(
                    queue.peek_timeout(Duration::from_millis(2)),
                    Err(GetError::TimedOut)
                );
                queue.put(4).unwrap();
                assert_eq!(queue.peek(), Ok(4));
                assert_eq!(queue.try_peek(), Ok(4));
                assert_eq!(queue.len(), 1);
                assert_eq!(queue.unfinished(), 1, "a peek is not a get");
                assert_eq!(queue.get(), Ok(4));
                let producer = {
                    let queue = queue.clone();
                    greenlet::spawn(move || queue.put(5).unwrap())
                };
                assert_eq!(queue.peek(), Ok(5), "the main context waits for an item");
                producer.join().unwrap();
                assert_eq!(queue.len(), 1);
            }

            /// A getter, a peeker and a getter wait, in that order: the first
            /// item goes to the first getter, the second is seen by the
            /// peeker and goes on to the second getter.
            #[test]
            fn a_peeker_waits_in_line_with_the_getters_and_takes_nothing() {
                let queue = Q::unbounded();
                let seen = log();
                let spawn = |name: &'static str, peek: bool| {
                    let (queue, seen) = (queue.clone(), seen.clone());
                    greenlet::spawn(move || {
                        let item = if peek { queue.peek() } else { queue.get() };
                        seen.borrow_mut().push((name, item.unwrap()));
                    })
                };
                let waiters = [
                    spawn("get a", false),
                    spawn("peek", true),
                    spawn("get b", false),
                ];
                greenlet::yield_now(); // all three wait
                queue.put(1).unwrap();
                greenlet::yield_now();
                queue.put(2).unwrap();
                greenlet::joinall(waiters);
                assert_eq!(*seen.borrow(), [("get a", 1), ("peek", 2), ("get b", 2)]);
                assert!(queue.is_empty());
                // A lone peeker: the item stays in the queue.
                let peeker = {
                    let queue = queue.clone();
                    greenlet::spawn(move || queue.peek_timeout(LONG))
                };
                greenlet::yield_now();
                queue.put(3).unwrap();
                assert_eq!(peeker.join().unwrap(), Ok(3));
                assert_eq!(queue.try_get(), Ok(3));
            }

            #[test]
            fn an_item_handed_to_a_killed_peeker_goes_to_the_next_getter() {
                let queue = Q::unbounded();
                let victim = {
                    let queue = queue.clone();
                    greenlet::spawn(move || {
                        let _ = queue.peek();
                    })
                };
                let next = {
                    let queue = queue.clone();
                    greenlet::spawn(move || queue.get())
                };
                greenlet::yield_now();
                queue.put(6).unwrap(); // handed to the peeker
                victim.kill();
                assert_eq!(next.join().unwrap(), Ok(6));
            }

            #[test]
            fn getting_or_peeking_when_nobody_can_put_is_a_deadlock() {
                let queue = Q::<u8>::unbounded();
                let get = || {
                    let _ = queue.get();
                };
                let peek = || {
                    let _ = queue.peek();
                };
                let calls: [(&str, &dyn Fn()); 2] = [("get", &get), ("peek", &peek)];
                for (what, call) in calls {
                    let Err(err) = catch_unwind(AssertUnwindSafe(call)) else {
                        panic!("{what} returned");
                    };
                    let msg = message(&*err);
                    assert!(
                        msg.starts_with("greenlet: this operation would block forever"),
                        "{msg}"
                    );
                    assert!(
                        msg.contains(&format!("main waits on {NAME}::{what}")),
                        "{msg}"
                    );
                }
                queue.put(1).unwrap();
                assert_eq!(queue.get(), Ok(1), "usable afterwards");
            }

            #[test]
            fn bounded_zero_panics_and_debug_and_default() {
                let err = catch_unwind(|| Q::<u8>::bounded(0)).unwrap_err();
                assert!(message(&*err).starts_with(&format!("{NAME}::bounded(0)")));
                let queue = Q::<u8>::default();
                assert_eq!(queue.bound(), None);
                queue.put(1).unwrap();
                assert_eq!(
                    format!("{queue:?}"),
                    format!(
                        "{NAME} {{ len: 1, bound: None, closed: false, unfinished: 1, \
                         getters: 0, putters: 0 }}"
                    )
                );
            }
        }
    };
}

every_queue!(fifo, Queue);
every_queue!(lifo, LifoQueue);
every_queue!(priority, PriorityQueue);

#[test]
fn lifo_queue_gives_the_last_item_put_first_from_main_and_greenlets() {
    let stack = LifoQueue::unbounded();
    let producer = {
        let stack = stack.clone();
        greenlet::spawn(move || {
            for n in 1..=3 {
                stack.put(n).unwrap();
            }
        })
    };
    producer.join().unwrap();
    stack.put(4).unwrap();
    assert_eq!(stack.peek(), Ok(4));
    let consumer = {
        let stack = stack.clone();
        greenlet::spawn(move || (stack.get().unwrap(), stack.get().unwrap()))
    };
    assert_eq!(consumer.join().unwrap(), (4, 3));
    stack.close();
    assert_eq!(stack.iter().collect::<Vec<_>>(), [2, 1]);
}

/// Ordered by `priority` only, so that equal items can be told apart.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Job {
    priority: u8,
    name: &'static str,
}

impl Ord for Job {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.priority.cmp(&other.priority)
    }
}

impl PartialOrd for Job {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

fn job(priority: u8, name: &'static str) -> Job {
    Job { priority, name }
}

#[test]
fn priority_queue_gives_the_smallest_first_and_equal_items_in_put_order() {
    let queue = PriorityQueue::unbounded();
    let producer = {
        let queue = queue.clone();
        greenlet::spawn(move || {
            for (priority, name) in [(3, "c"), (1, "a1"), (2, "b"), (1, "a2"), (0, "z")] {
                queue.put(job(priority, name)).unwrap();
                greenlet::yield_now();
            }
            queue.close();
        })
    };
    producer.join().unwrap();
    assert_eq!(queue.peek().map(|j| j.name), Ok("z"));
    let names: Vec<_> = queue.iter().map(|j| j.name).collect();
    assert_eq!(names, ["z", "a1", "a2", "b", "c"]);
}

#[test]
fn a_priority_item_handed_to_a_killed_getter_comes_back_before_equal_items() {
    let queue = PriorityQueue::unbounded();
    let victim = {
        let queue = queue.clone();
        greenlet::spawn(move || {
            let _ = queue.get();
        })
    };
    greenlet::yield_now();
    queue.put(job(1, "handed")).unwrap(); // to the victim
    queue.put(job(1, "later")).unwrap(); // buffered
    queue.put(job(2, "larger")).unwrap();
    victim.kill();
    let names: Vec<_> = std::iter::from_fn(|| queue.try_get().ok())
        .map(|j| j.name)
        .collect();
    assert_eq!(names, ["handed", "later", "larger"]);
}

#[test]
fn a_bounded_priority_queue_orders_what_it_holds() {
    let queue = PriorityQueue::bounded(3);
    for n in [5, 1, 3] {
        queue.put(n).unwrap();
    }
    let putter = {
        let queue = queue.clone();
        greenlet::spawn(move || queue.put(0).unwrap())
    };
    greenlet::yield_now(); // the putter waits for room
    assert_eq!(queue.get(), Ok(1)); // its slot goes to the putter
    putter.join().unwrap();
    assert_eq!(queue.iter().take(3).collect::<Vec<_>>(), [0, 3, 5]);
}

/// `Queue::peek` and `get` from many greenlets with kills: every item put
/// is got exactly once.
#[test]
fn peekers_and_getters_killed_at_random_lose_no_item() {
    const ITEMS: u32 = 200;
    let queue = Queue::unbounded();
    let got = log();
    let mut next = util::xorshift(0xD1B5_4A32_D192_ED03);
    let workers: Vec<_> = (0..8)
        .map(|i| {
            let (queue, got) = (queue.clone(), got.clone());
            greenlet::spawn(move || {
                loop {
                    if i % 2 == 0 {
                        let Ok(_) = queue.peek() else { return };
                        greenlet::yield_now();
                    }
                    let Ok(item) = queue.get() else { return };
                    got.borrow_mut().push(item);
                }
            })
        })
        .collect();
    let mut killed = 0;
    for item in 0..ITEMS {
        queue.put(item).unwrap();
        if next() % 4 == 0 {
            greenlet::yield_now();
        }
        if next() % 20 == 0 && killed < 6 {
            workers[(next() % 8) as usize].kill();
            killed += 1;
        }
    }
    // Whatever is left goes to the survivors, or stays in the queue.
    queue.close();
    greenlet::joinall(workers);
    let mut all = got.borrow().clone();
    all.extend(queue.iter());
    all.sort_unstable();
    assert_eq!(
        all,
        (0..ITEMS).collect::<Vec<_>>(),
        "every item exactly once"
    );
}
