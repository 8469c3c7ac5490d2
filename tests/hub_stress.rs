//! A randomised stress test of the hub: many greenlets that yield, sleep,
//! join each other, time out and kill each other, with a seeded RNG. Bounded
//! in count and time; it checks that every greenlet ends exactly once, with
//! an outcome that matches what happened to it, and that every destructor ran.

mod util;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use greenlet::{Greenlet, JoinError};
use util::{DropCounter, xorshift};

type Handles = Rc<RefCell<Vec<Option<Greenlet<u64>>>>>;

/// What the greenlets did, to check that the test exercised every path.
#[derive(Default)]
struct Tally {
    steps: Cell<u64>,
    timeouts: Cell<u64>,
    kills: Cell<u64>,
    joins: Cell<u64>,
}

/// A greenlet either did all its steps or was killed: never anything else.
fn check_outcome(outcome: Result<u64, JoinError>) {
    match outcome {
        Ok(done) => assert_eq!(done, 20),
        Err(JoinError::Killed) => {}
        Err(e) => panic!("unexpected outcome: {e}"),
    }
}

fn bump(c: &Cell<u64>) {
    c.set(c.get() + 1);
}

fn worker(i: u64, seed: u64, handles: Handles, tally: Rc<Tally>) -> u64 {
    let mut next = xorshift(seed);
    let mut done = 0;
    for _ in 0..20 {
        bump(&tally.steps);
        match next() % 6 {
            0 | 1 => greenlet::yield_now(),
            2 => greenlet::sleep(Duration::from_micros(next() % 500)),
            3 => {
                // Join a greenlet spawned earlier (never ourselves: no cycles).
                let target = next() % i.max(1);
                let handle = (target < i)
                    .then(|| {
                        handles
                            .borrow_mut()
                            .get_mut(target as usize)
                            .and_then(Option::take)
                    })
                    .flatten();
                if let Some(handle) = handle {
                    check_outcome(handle.join());
                    bump(&tally.joins);
                }
            }
            4 => {
                let expired = greenlet::with_timeout(Duration::from_micros(next() % 300), || {
                    greenlet::sleep(Duration::from_micros(next() % 3_000));
                });
                if expired.is_err() {
                    bump(&tally.timeouts);
                }
            }
            _ => {
                let target = next() % handles.borrow().len() as u64;
                if target != i {
                    let handle = handles
                        .borrow_mut()
                        .get_mut(target as usize)
                        .and_then(Option::take);
                    if let Some(handle) = handle {
                        handle.kill();
                        assert!(handle.is_finished());
                        bump(&tally.kills);
                        check_outcome(handle.join());
                    }
                }
            }
        }
        done += 1;
    }
    done
}

#[test]
fn random_yields_sleeps_joins_timeouts_and_kills() {
    for seed in 1..=5u64 {
        let handles: Handles = Rc::default();
        let tally = Rc::new(Tally::default());
        let drops = DropCounter::new();
        let n = 300;
        for i in 0..n {
            let token = drops.token();
            let (h, t) = (handles.clone(), tally.clone());
            let g = greenlet::spawn(move || {
                let _token = token;
                worker(i, seed * 1_000_003 + i, h, t)
            });
            handles.borrow_mut().push(Some(g));
        }
        greenlet::run(); // the greenlets take, join and kill each other's handles
        // Join whatever no greenlet took.
        let left: Vec<Greenlet<u64>> = handles
            .borrow_mut()
            .iter_mut()
            .filter_map(Option::take)
            .collect();
        for g in left {
            check_outcome(g.join());
        }
        assert_eq!(
            drops.count(),
            n as usize,
            "seed {seed}: every greenlet's destructors ran once"
        );
        let (steps, timeouts, kills, joins) = (
            tally.steps.get(),
            tally.timeouts.get(),
            tally.kills.get(),
            tally.joins.get(),
        );
        println!("seed {seed}: {steps} steps, {timeouts} timeouts, {kills} kills, {joins} joins");
        assert!(
            timeouts > 0 && kills > 0 && joins > 0,
            "every path was exercised"
        );
    }
}
