//! The hub: spawn, join, kill, yield_now, sleep, timers, timeouts, deadlocks,
//! panics and thread exit, from the main context and from greenlets.

mod util;

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use greenlet::{Builder, Elapsed, Generator, GeneratorState, JoinError, Timeout};
use util::DropCounter;

type Log = Rc<RefCell<Vec<String>>>;

fn new_log() -> Log {
    Rc::new(RefCell::new(Vec::new()))
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

const LONG: Duration = Duration::from_secs(3600);

// ---- order ---------------------------------------------------------------

fn three_f5(switch: bool) -> Vec<String> {
    let log = new_log();
    let gs: Vec<_> = ["g1", "g2", "g3"]
        .into_iter()
        .map(|name| {
            let log = log.clone();
            Builder::new()
                .name(name)
                .spawn(move || {
                    for i in 0..5 {
                        let me = greenlet::current();
                        log.borrow_mut().push(format!("{} {i}", me.name().unwrap()));
                        if switch {
                            greenlet::yield_now();
                        }
                    }
                })
                .unwrap()
        })
        .collect();
    for g in gs {
        g.join().unwrap();
    }
    log.take()
}

#[test]
fn the_seed_program_prints_what_gevent_printed() {
    let expected = include_str!("../examples/expected/interleave.txt");
    let mut got = three_f5(false);
    got.extend(three_f5(true));
    assert_eq!(got.join("\n") + "\n", expected);
}

#[test]
fn yield_now_from_main_runs_the_ready_greenlets_first_then_returns() {
    let log = new_log();
    for name in ["a", "b"] {
        let log = log.clone();
        greenlet::spawn(move || {
            log.borrow_mut().push(format!("{name}0"));
            greenlet::yield_now();
            log.borrow_mut().push(format!("{name}1"));
        });
    }
    greenlet::yield_now();
    log.borrow_mut().push("main".into());
    greenlet::yield_now();
    assert_eq!(*log.borrow(), ["a0", "b0", "main", "a1", "b1"]);
}

#[test]
fn spawn_only_queues_and_greenlets_spawned_by_greenlets_run_after() {
    let log = new_log();
    let outer_log = log.clone();
    let outer = greenlet::spawn(move || {
        let inner_log = outer_log.clone();
        let inner = greenlet::spawn(move || inner_log.borrow_mut().push("inner".into()));
        outer_log.borrow_mut().push("outer before join".into());
        inner.join().unwrap();
        outer_log.borrow_mut().push("outer after join".into());
        7
    });
    assert!(log.borrow().is_empty(), "nothing runs before main blocks");
    assert_eq!(outer.join().unwrap(), 7);
    assert_eq!(
        *log.borrow(),
        ["outer before join", "inner", "outer after join"]
    );
}

#[test]
fn sleepers_with_equal_durations_wake_in_fifo_order() {
    let log = new_log();
    let gs: Vec<_> = (0..20)
        .map(|i| {
            let log = log.clone();
            greenlet::spawn(move || {
                greenlet::sleep(Duration::from_millis(5));
                log.borrow_mut().push(i.to_string());
            })
        })
        .collect();
    greenlet::joinall(gs);
    let expected: Vec<String> = (0..20).map(|i| i.to_string()).collect();
    assert_eq!(*log.borrow(), expected);
}

#[test]
fn shorter_sleeps_finish_first() {
    let log = new_log();
    let gs: Vec<_> = [30u64, 10, 20]
        .into_iter()
        .map(|ms| {
            let log = log.clone();
            greenlet::spawn(move || {
                greenlet::sleep(Duration::from_millis(ms));
                log.borrow_mut().push(ms.to_string());
            })
        })
        .collect();
    greenlet::joinall(gs);
    assert_eq!(*log.borrow(), ["10", "20", "30"]);
}

#[test]
fn spawn_later_starts_after_its_delay_in_order() {
    let log = new_log();
    let (l1, l2) = (log.clone(), log.clone());
    // Far apart: the thread's first spawn maps its first region of stacks,
    // which takes milliseconds under valgrind.
    let late = greenlet::spawn_later(Duration::from_millis(100), move || {
        l1.borrow_mut().push("late".into())
    });
    let soon = greenlet::spawn_later(Duration::from_millis(5), move || {
        l2.borrow_mut().push("soon".into())
    });
    let now = greenlet::spawn({
        let log = log.clone();
        move || log.borrow_mut().push("now".into())
    });
    greenlet::joinall([late, soon, now]);
    assert_eq!(*log.borrow(), ["now", "soon", "late"]);
}

// ---- join, current, run ----------------------------------------------------

#[test]
fn current_names_main_and_greenlets() {
    assert_eq!(greenlet::current().id(), 0);
    assert_eq!(greenlet::current().name(), Some("main"));
    let named = Builder::new()
        .name("worker")
        .spawn(greenlet::current)
        .unwrap();
    let named_id = named.id();
    let inside = named.join().unwrap();
    assert_eq!((inside.id(), inside.name()), (named_id, Some("worker")));
    let anonymous = greenlet::spawn(|| greenlet::current().name().map(String::from));
    assert_eq!(anonymous.join().unwrap(), None);
}

#[test]
fn joinall_returns_results_in_order_with_failures_in_place() {
    let gs = vec![
        greenlet::spawn(|| 1),
        greenlet::spawn(|| -> i32 { panic!("second fails") }),
        greenlet::spawn(|| 3),
    ];
    let results = greenlet::joinall(gs);
    assert_eq!(*results[0].as_ref().unwrap(), 1);
    assert!(results[1].as_ref().unwrap_err().is_panic());
    assert_eq!(*results[2].as_ref().unwrap(), 3);
}

#[test]
fn a_dropped_handle_detaches_and_the_greenlet_keeps_running() {
    let done = Rc::new(Cell::new(false));
    let flag = done.clone();
    drop(greenlet::spawn(move || {
        greenlet::sleep(Duration::from_millis(2));
        flag.set(true);
    }));
    greenlet::run();
    assert!(done.get());
}

#[test]
fn run_waits_for_every_greenlet_including_ones_spawned_late() {
    let count = Rc::new(Cell::new(0));
    let c = count.clone();
    greenlet::spawn(move || {
        let c2 = c.clone();
        greenlet::spawn(move || {
            greenlet::sleep(Duration::from_millis(3));
            c2.set(c2.get() + 1);
        });
        c.set(c.get() + 1);
    });
    greenlet::run();
    assert_eq!(count.get(), 2);
    greenlet::run(); // nothing left: returns at once
}

#[test]
fn run_from_a_greenlet_panics() {
    let g = greenlet::spawn(greenlet::run);
    let err = g.join().unwrap_err();
    let JoinError::Panicked(payload) = err else {
        panic!("expected a panic")
    };
    assert!(panic_text(&*payload).contains("cannot be called from one"));
}

#[test]
fn a_greenlet_joining_itself_panics() {
    util::capture_logs();
    let slot: Rc<RefCell<Option<greenlet::Greenlet<()>>>> = Rc::default();
    let inner = slot.clone();
    let g = Builder::new()
        .name("ouroboros-5521")
        .spawn(move || {
            let me = inner.borrow_mut().take().unwrap();
            let _ = me.join();
        })
        .unwrap();
    *slot.borrow_mut() = Some(g);
    greenlet::run();
    let errors = util::logged(log::Level::Error, "ouroboros-5521");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("cannot join or wait for itself"),
        "{errors:?}"
    );
}

#[test]
fn builder_rejects_an_absurd_stack_size() {
    let err = Builder::new().stack_size(1 << 40).spawn(|| ()).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("1 GiB"));
}

#[test]
fn a_greenlet_with_a_large_stack_recurses_deeply() {
    #[inline(never)]
    fn depth(n: u64) -> u64 {
        let pad = std::hint::black_box([n; 128]);
        if n == 0 { 0 } else { 1 + depth(pad[0] - 1) }
    }
    let g = Builder::new()
        .stack_size(64 << 20)
        .spawn(|| depth(20_000))
        .unwrap();
    assert_eq!(g.join().unwrap(), 20_000);
}

#[test]
fn a_generator_inside_a_greenlet_can_block_the_greenlet() {
    let log = new_log();
    let (l1, l2) = (log.clone(), log.clone());
    let g = greenlet::spawn(move || {
        let mut numbers: Generator<(), u32> = Generator::new(move |co, ()| {
            for i in 0..3 {
                greenlet::yield_now(); // suspends the greenlet from the generator's stack
                co.yield_(i);
            }
        });
        let mut sum = 0;
        while let GeneratorState::Yielded(v) = numbers.send(()) {
            l1.borrow_mut().push(format!("gen {v}"));
            sum += v;
        }
        sum
    });
    let other = greenlet::spawn(move || {
        for i in 0..3 {
            l2.borrow_mut().push(format!("other {i}"));
            greenlet::yield_now();
        }
    });
    assert_eq!(g.join().unwrap(), 3);
    other.join().unwrap();
    assert_eq!(
        *log.borrow(),
        ["other 0", "gen 0", "other 1", "gen 1", "other 2", "gen 2"]
    );
}

// ---- panics ----------------------------------------------------------------

#[test]
fn a_panic_is_caught_logged_and_returned_while_others_carry_on() {
    util::capture_logs();
    let drops = DropCounter::new();
    let token = drops.token();
    let bad = Builder::new()
        .name("bad-apple-7781")
        .spawn(move || {
            let _token = token;
            greenlet::yield_now();
            panic!("rotten core");
        })
        .unwrap();
    let good = greenlet::spawn(|| {
        greenlet::yield_now();
        greenlet::yield_now();
        "fine"
    });
    let err = bad.join().unwrap_err();
    assert_eq!(err.to_string(), "greenlet panicked: rotten core");
    assert_eq!(drops.count(), 1);
    assert_eq!(good.join().unwrap(), "fine");
    let errors = util::logged(log::Level::Error, "bad-apple-7781");
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("rotten core"), "{errors:?}");
    // The hub still works.
    assert_eq!(greenlet::spawn(|| 5).join().unwrap(), 5);
}

/// Re-executed in a child with `RUST_BACKTRACE=full`: a greenlet on the
/// smallest stack allowed panics and prints a full backtrace.
#[test]
fn panic_in_a_greenlet_on_the_smallest_stack() {
    if util::is_child() {
        let g = Builder::new()
            .stack_size(greenlet::MIN_STACK_SIZE)
            .spawn(|| panic!("tiny stack panic"))
            .unwrap();
        assert!(g.join().unwrap_err().is_panic());
        println!("child survived");
        return;
    }
    let out = util::run_in_child(
        "panic_in_a_greenlet_on_the_smallest_stack",
        &[("RUST_BACKTRACE", "full")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}\n{stderr}", out.status);
    assert!(String::from_utf8_lossy(&out.stdout).contains("child survived"));
    assert!(
        stderr.contains("tiny stack panic") && stderr.contains("stack backtrace"),
        "{stderr}"
    );
}

// ---- kill ------------------------------------------------------------------

#[test]
fn kill_before_start_never_runs_and_drops_the_closure() {
    let drops = DropCounter::new();
    let token = drops.token();
    let ran = Rc::new(Cell::new(false));
    let flag = ran.clone();
    let g = greenlet::spawn(move || {
        let _token = token;
        flag.set(true);
    });
    g.kill();
    assert!(g.is_finished());
    assert_eq!(drops.count(), 1);
    greenlet::run();
    assert!(!ran.get());
    assert!(g.join().unwrap_err().is_killed());
}

#[test]
fn kill_a_sleeping_greenlet_runs_its_destructors_and_waits_for_it() {
    let drops = DropCounter::new();
    let token = drops.token();
    let g = greenlet::spawn(move || {
        let _token = token;
        greenlet::sleep(LONG);
    });
    greenlet::yield_now();
    assert_eq!(drops.count(), 0);
    g.kill();
    assert!(g.is_finished(), "kill waits until the target is dead");
    assert_eq!(drops.count(), 1);
    assert!(g.join().unwrap_err().is_killed());
}

#[test]
fn kill_a_greenlet_blocked_in_join() {
    let drops = DropCounter::new();
    let token = drops.token();
    let sleeper = greenlet::spawn(|| greenlet::sleep(Duration::from_millis(20)));
    let joiner = greenlet::spawn(move || {
        let _token = token;
        sleeper.join().unwrap();
        unreachable!("killed while joining");
    });
    greenlet::yield_now();
    joiner.kill();
    assert_eq!(drops.count(), 1);
    assert!(joiner.join().unwrap_err().is_killed());
}

#[test]
fn kill_a_finished_greenlet_does_nothing() {
    let g = greenlet::spawn(|| 9);
    greenlet::yield_now();
    assert!(g.is_finished());
    g.kill();
    assert_eq!(g.join().unwrap(), 9);
}

#[test]
fn kill_from_another_greenlet_and_self_kill() {
    let drops = DropCounter::new();
    let (t1, t2) = (drops.token(), drops.token());
    let victim = greenlet::spawn(move || {
        let _t = t1;
        greenlet::sleep(LONG);
    });
    let killer = greenlet::spawn(move || {
        victim.kill();
        victim.join().unwrap_err().is_killed()
    });
    assert!(killer.join().unwrap());
    let slot: Rc<RefCell<Option<greenlet::Greenlet<()>>>> = Rc::default();
    let inner = slot.clone();
    let suicidal = greenlet::spawn(move || {
        let _t = t2;
        let me = inner.borrow_mut().take().unwrap();
        me.kill();
        unreachable!("a self-kill unwinds at once");
    });
    *slot.borrow_mut() = Some(suicidal);
    greenlet::run();
    assert_eq!(drops.count(), 2);
}

#[test]
fn a_caught_kill_is_raised_again_at_the_next_blocking_call() {
    let drops = DropCounter::new();
    let token = drops.token();
    let caught = Rc::new(Cell::new(0));
    let c = caught.clone();
    let g = greenlet::spawn(move || {
        let _token = token;
        for _ in 0..3 {
            if panic::catch_unwind(AssertUnwindSafe(|| greenlet::sleep(LONG))).is_err() {
                c.set(c.get() + 1);
            }
        }
        greenlet::yield_now(); // the next blocking call unwinds again, uncaught
        unreachable!("a killed greenlet never gets past a blocking call");
    });
    greenlet::yield_now();
    g.kill();
    assert!(g.join().unwrap_err().is_killed());
    assert_eq!(caught.get(), 3, "every later sleep unwound again at once");
    assert_eq!(drops.count(), 1);
}

#[test]
fn sleep_in_a_destructor_during_a_kill_returns_at_once() {
    struct SleepsOnDrop(Rc<Cell<bool>>);
    impl Drop for SleepsOnDrop {
        fn drop(&mut self) {
            greenlet::sleep(LONG); // must not switch while unwinding
            greenlet::yield_now();
            self.0.set(true);
        }
    }
    let done = Rc::new(Cell::new(false));
    let guard = SleepsOnDrop(done.clone());
    let g = greenlet::spawn(move || {
        let _guard = guard;
        greenlet::sleep(LONG);
    });
    greenlet::yield_now();
    g.kill();
    assert!(done.get());
}

// ---- timeouts --------------------------------------------------------------

#[test]
fn with_timeout_interrupts_a_blocked_call_and_runs_destructors() {
    let drops = DropCounter::new();
    let token = drops.token();
    let result = greenlet::with_timeout(Duration::from_millis(5), move || {
        let _token = token;
        greenlet::sleep(LONG);
    });
    assert!(result.is_err());
    assert_eq!(drops.count(), 1);
    // A quick body is not interrupted, and the timer does not fire later.
    assert_eq!(
        greenlet::with_timeout(Duration::from_millis(5), || 1),
        Ok(1)
    );
    greenlet::sleep(Duration::from_millis(10));
}

#[test]
fn with_timeout_inside_greenlets() {
    let gs: Vec<_> = [1u64, 50]
        .into_iter()
        .map(|ms| {
            greenlet::spawn(move || {
                greenlet::with_timeout(Duration::from_millis(20), || {
                    greenlet::sleep(Duration::from_millis(ms));
                    ms
                })
            })
        })
        .collect();
    let results = greenlet::joinall(gs);
    assert_eq!(results[0].as_ref().unwrap(), &Ok(1));
    assert!(results[1].as_ref().unwrap().is_err());
}

#[test]
fn nested_timeouts_each_fire_only_their_own() {
    // The inner one expires first: only it is reported.
    let outer = greenlet::with_timeout(Duration::from_millis(200), || {
        let inner = greenlet::with_timeout(Duration::from_millis(5), || greenlet::sleep(LONG));
        assert!(inner.is_err());
        "outer finished"
    });
    assert_eq!(outer, Ok("outer finished"));

    // The outer one expires first: it unwinds through the inner scope.
    let inner_saw = Rc::new(Cell::new(false));
    let saw = inner_saw.clone();
    let outer = greenlet::with_timeout(Duration::from_millis(5), move || {
        let inner = greenlet::with_timeout(Duration::from_millis(500), || greenlet::sleep(LONG));
        saw.set(true); // never reached
        inner
    });
    assert!(outer.is_err());
    assert!(!inner_saw.get());
}

#[test]
fn a_caught_timeout_is_raised_again_until_its_guard_is_dropped() {
    let g = greenlet::spawn(|| {
        let guard = Timeout::start(Duration::from_millis(3));
        let mut caught = 0;
        for _ in 0..3 {
            let r = panic::catch_unwind(AssertUnwindSafe(|| greenlet::sleep(LONG)));
            if r.is_err_and(|p| p.is::<Elapsed>()) {
                caught += 1;
            }
        }
        drop(guard);
        greenlet::sleep(Duration::from_millis(1)); // no longer interrupted
        caught
    });
    assert_eq!(g.join().unwrap(), 3);
}

#[test]
fn an_uncaught_timeout_guard_ends_the_greenlet_with_elapsed() {
    let g = greenlet::spawn(|| {
        let _timeout = Timeout::start(Duration::from_millis(2));
        greenlet::sleep(LONG);
    });
    let JoinError::Panicked(payload) = g.join().unwrap_err() else {
        panic!("expected the Elapsed payload")
    };
    assert!(payload.is::<Elapsed>());
}

// ---- deadlock --------------------------------------------------------------

#[test]
fn a_deadlock_panics_with_a_report_and_the_hub_stays_usable() {
    let slot: Rc<RefCell<Option<greenlet::Greenlet<()>>>> = Rc::default();
    let inner = slot.clone();
    let a = Builder::new()
        .name("alpha")
        .spawn(move || {
            greenlet::yield_now();
            let b = inner.borrow_mut().take().unwrap();
            b.join().unwrap();
        })
        .unwrap();
    let a_id = a.id();
    let a_slot: Rc<RefCell<Option<greenlet::Greenlet<()>>>> = Rc::new(RefCell::new(Some(a)));
    let a_for_b = a_slot.clone();
    let b = Builder::new()
        .name("beta")
        .spawn(move || {
            let a = a_for_b.borrow_mut().take().unwrap();
            a.join().unwrap();
        })
        .unwrap();
    let b_id = b.id();
    *slot.borrow_mut() = Some(b);
    let err = panic::catch_unwind(greenlet::run).unwrap_err();
    let msg = panic_text(&*err);
    assert!(
        msg.starts_with("greenlet: this operation would block forever"),
        "{msg}"
    );
    assert!(
        msg.contains(&format!(
            "greenlet 'alpha' (id {a_id}) waits on join (greenlet 'beta' (id {b_id})) at tests/hub.rs:"
        )),
        "{msg}"
    );
    assert!(
        msg.contains(&format!(
            "greenlet 'beta' (id {b_id}) waits on join (greenlet 'alpha' (id {a_id})) at tests/hub.rs:"
        )),
        "{msg}"
    );
    assert!(msg.contains("main waits on run"), "{msg}");
    // Usable afterwards.
    assert_eq!(greenlet::spawn(|| 1).join().unwrap(), 1);
    greenlet::sleep(Duration::from_millis(1));
}

#[test]
fn sleeping_for_ever_with_nothing_else_is_a_deadlock() {
    let err = panic::catch_unwind(|| greenlet::sleep(Duration::MAX)).unwrap_err();
    let msg = panic_text(&*err);
    assert!(
        msg.starts_with("greenlet: this operation would block forever"),
        "{msg}"
    );
    assert!(msg.contains("main waits on sleep"), "{msg}");
}

// ---- thread exit, embedding, scale -----------------------------------------

#[test]
fn thread_exit_unwinds_suspended_greenlets_and_drops_unstarted_ones() {
    struct Count(Arc<AtomicUsize>);
    impl Drop for Count {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let dropped = Arc::new(AtomicUsize::new(0));
    let ran = Arc::new(AtomicUsize::new(0));
    let (d, r) = (dropped.clone(), ran.clone());
    std::thread::spawn(move || {
        for _ in 0..10 {
            let (token, ran) = (Count(d.clone()), r.clone());
            greenlet::spawn(move || {
                let _token = token;
                ran.fetch_add(1, Ordering::SeqCst);
                greenlet::sleep(LONG);
            });
        }
        greenlet::yield_now(); // start all ten: they sleep
        let token = Count(d.clone());
        let r = r.clone();
        greenlet::spawn(move || {
            let _token = token;
            r.fetch_add(1, Ordering::SeqCst); // never runs
        });
    })
    .join()
    .unwrap();
    assert_eq!(ran.load(Ordering::SeqCst), 10);
    assert_eq!(dropped.load(Ordering::SeqCst), 11);
}

#[test]
fn run_once_drives_the_hub_from_a_host_loop() {
    let counter = Rc::new(Cell::new(0));
    let c = counter.clone();
    let g = greenlet::spawn(move || {
        for _ in 0..5 {
            c.set(c.get() + 1);
            greenlet::yield_now();
        }
        greenlet::sleep(Duration::from_millis(5));
        "slept"
    });
    let mut ran = Vec::new();
    for _ in 0..10_000 {
        if g.is_finished() {
            break;
        }
        ran.push(greenlet::run_once());
        // The host's own work, 200 µs of it. (Not a sleep: with the `patch`
        // feature, a std sleep in the main context runs the greenlets.)
        let until = std::time::Instant::now() + Duration::from_micros(200);
        while std::time::Instant::now() < until {
            std::hint::spin_loop();
        }
    }
    assert!(g.is_finished());
    assert_eq!(&ran[..5], [1, 1, 1, 1, 1], "one greenlet, once per turn");
    assert_eq!(counter.get(), 5);
    assert_eq!(g.join().unwrap(), "slept");
    assert_eq!(greenlet::run_once(), 0);
}

#[test]
fn run_once_from_a_greenlet_panics() {
    let err = greenlet::spawn(greenlet::run_once).join().unwrap_err();
    assert!(err.is_panic());
}

#[test]
fn a_hundred_thousand_greenlets_spawned_before_any_runs_all_complete() {
    // Each reserves a stack when spawned, but none has one until it starts,
    // and each finishes before the next starts, so one pooled stack serves
    // them all. (tests/stacks.rs keeps 100,000 alive at once.)
    let sum = Rc::new(Cell::new(0u64));
    let gs: Vec<_> = (0..100_000u64)
        .map(|i| {
            let sum = sum.clone();
            greenlet::spawn(move || {
                sum.set(sum.get() + i);
                i
            })
        })
        .collect();
    let total: u64 = greenlet::joinall(gs).into_iter().map(Result::unwrap).sum();
    assert_eq!(total, 99_999 * 100_000 / 2);
    assert_eq!(sum.get(), total);
}

/// Re-executed in a child so that no other test's mappings are counted:
/// once warm, spawning and joining greenlets (some of which block) maps no
/// new stacks and leaves the process's mappings as they were.
#[test]
fn steady_state_spawning_reuses_pooled_stacks() {
    fn churn(rounds: usize) {
        for _ in 0..rounds {
            let gs: Vec<_> = (0..100u64)
                .map(|i| {
                    greenlet::spawn(move || {
                        if i % 3 == 0 {
                            greenlet::yield_now(); // alive beside others for a turn
                        }
                        i
                    })
                })
                .collect();
            let sum: u64 = greenlet::joinall(gs).into_iter().map(Result::unwrap).sum();
            assert_eq!(sum, 4950);
        }
    }
    util::assert_churn_maps_nothing(
        "steady_state_spawning_reuses_pooled_stacks",
        || churn(20),    // warm up the stack pool and the heap
        || churn(1_000), // 100,000 greenlets
    );
}

#[test]
fn catching_the_thread_exit_unwinding_does_not_keep_a_greenlet_alive() {
    let caught = Arc::new(AtomicUsize::new(0));
    let dropped = Arc::new(AtomicUsize::new(0));
    let (c, d) = (caught.clone(), dropped.clone());
    std::thread::spawn(move || {
        greenlet::spawn(move || {
            struct Count(Arc<AtomicUsize>);
            impl Drop for Count {
                fn drop(&mut self) {
                    self.0.fetch_add(1, Ordering::SeqCst);
                }
            }
            let _token = Count(d);
            if panic::catch_unwind(AssertUnwindSafe(|| greenlet::sleep(LONG))).is_err() {
                c.fetch_add(1, Ordering::SeqCst);
            }
            greenlet::sleep(LONG); // unwinds again: the thread is ending
            unreachable!("a greenlet cannot outlive its thread");
        });
        greenlet::yield_now(); // start it; then the thread ends
    })
    .join()
    .unwrap();
    assert_eq!(caught.load(Ordering::SeqCst), 1);
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
}

/// A killed sleeper's timer is cancelled: it must not keep the loop waiting
/// before the deadlock report. (It used to stay armed until its deadline, an
/// hour here.) Run in a child, killed if it hangs.
#[test]
fn a_killed_sleepers_timer_does_not_delay_the_deadlock_report() {
    if util::is_child() {
        let sleeper = greenlet::spawn(|| greenlet::sleep(Duration::from_secs(3600)));
        greenlet::yield_now(); // it sleeps, with a timer armed
        sleeper.kill();
        let err = panic::catch_unwind(|| greenlet::sleep(Duration::MAX)).unwrap_err();
        assert!(panic_text(&*err).starts_with("greenlet: this operation would block forever"));
        println!("deadlock reported");
        return;
    }
    // A hang: the deadlock report waited for the dead sleeper's timer.
    util::assert_child_passes(
        "a_killed_sleepers_timer_does_not_delay_the_deadlock_report",
        Duration::from_secs(30),
        "deadlock reported",
    );
}

#[test]
fn a_worker_is_reused_cleanly_after_each_way_a_greenlet_ends() {
    // Short greenlets started one after another run on recycled workers
    // (coroutines that run one greenlet body after another). Whatever the
    // previous greenlet did (returned, panicked, was killed, timed out),
    // the next one starts from scratch: its own id, name, outcome, and its
    // own unwinding state.
    let drops = DropCounter::new();
    for round in 0..50u32 {
        let token = drops.token();
        let panicked = Builder::new()
            .name(format!("panics-{round}"))
            .spawn(move || -> u32 {
                let _token = token;
                panic!("round {round}")
            })
            .unwrap();
        assert!(panicked.join().unwrap_err().is_panic());

        let token = drops.token();
        let killed = greenlet::spawn(move || {
            let _token = token;
            greenlet::sleep(LONG);
        });
        greenlet::yield_now(); // let it start sleeping
        killed.kill();
        assert!(killed.join().unwrap_err().is_killed());

        let timed_out =
            greenlet::spawn(|| greenlet::with_timeout(Duration::ZERO, || greenlet::sleep(LONG)));
        assert!(timed_out.join().unwrap().is_err(), "the timeout fired");

        let fresh = Builder::new()
            .name(format!("fresh-{round}"))
            .spawn(move || {
                let me = greenlet::current();
                greenlet::yield_now(); // a yield after all that is an ordinary one
                (me.name().map(String::from), round * 2)
            })
            .unwrap();
        let id = fresh.id();
        assert_eq!(
            fresh.join().unwrap(),
            (Some(format!("fresh-{round}")), round * 2)
        );
        assert!(id > 0);
    }
    assert_eq!(drops.count(), 100, "every body's captures were dropped");
}

#[test]
fn greenlets_killed_before_they_start_and_forgotten_leave_nothing_behind() {
    // Each killed greenlet leaves a stale entry in the ready queue that, once
    // its handle is dropped, holds the last reference to it: the loop must
    // drop it (outside its borrow of the hub) without running it.
    let drops = DropCounter::new();
    let ran = Rc::new(Cell::new(0));
    for _ in 0..100 {
        let (token, ran) = (drops.token(), ran.clone());
        let g = greenlet::spawn(move || {
            let _token = token;
            ran.set(ran.get() + 1);
        });
        g.kill();
        drop(g);
    }
    let survivor = greenlet::spawn(|| "still works");
    assert_eq!(survivor.join().unwrap(), "still works");
    assert_eq!(ran.get(), 0, "a killed greenlet never runs");
    assert_eq!(drops.count(), 100, "every body was dropped");
}

/// Several contexts waiting for one greenlet to finish (here three killers,
/// each of which waits until it is dead) all wake when it does, in the order
/// they began to wait.
#[test]
fn every_context_waiting_for_one_greenlet_wakes_in_order() {
    let target = Rc::new(greenlet::spawn(|| {
        greenlet::sleep(Duration::from_secs(3600))
    }));
    greenlet::yield_now(); // it starts sleeping
    let log = new_log();
    let killers: Vec<_> = (0..3)
        .map(|i| {
            let (target, log) = (target.clone(), log.clone());
            greenlet::spawn(move || {
                target.kill();
                assert!(target.is_finished(), "kill returns once it is dead");
                log.borrow_mut().push(format!("killer {i}"));
            })
        })
        .collect();
    for result in greenlet::joinall(killers) {
        result.unwrap();
    }
    assert_eq!(*log.borrow(), ["killer 0", "killer 1", "killer 2"]);
    let target = Rc::try_unwrap(target).expect("the killers are done");
    assert!(target.join().unwrap_err().is_killed());
}

// ---- destructors of a greenlet's values ----------------------------------------

/// Sleeps when dropped, and records who dropped it.
struct SleepOnDrop(Rc<Cell<Option<u64>>>);

impl Drop for SleepOnDrop {
    fn drop(&mut self) {
        greenlet::sleep(Duration::from_millis(1));
        self.0.set(Some(greenlet::current().id()));
    }
}

/// The hub's loop dropped a detached greenlet's result on the main context:
/// a destructor that slept there started a wait nested in main's, which
/// overwrote main's wait, and main's own sleep panicked ("would block
/// forever"). The greenlet drops its result itself now, as it ends.
#[test]
fn a_detached_result_that_sleeps_when_dropped_does_not_lose_mains_wakeup() {
    let dropped_by = Rc::new(Cell::new(None));
    let d = dropped_by.clone();
    let g = greenlet::spawn(move || SleepOnDrop(d));
    let id = g.id();
    drop(g);
    greenlet::sleep(Duration::from_millis(20));
    assert_eq!(dropped_by.get(), Some(id), "dropped by the greenlet itself");
}

/// A detached result whose destructor panicked made main's unrelated sleep
/// panic: a greenlet's panic must stay with the greenlet (it is logged).
#[test]
fn a_detached_result_that_panics_when_dropped_stays_with_its_greenlet() {
    util::capture_logs();
    struct PanicOnDrop;
    impl Drop for PanicOnDrop {
        fn drop(&mut self) {
            panic!("result dropped: boom 4711");
        }
    }
    let g = Builder::new()
        .name("boom-on-drop")
        .spawn(|| PanicOnDrop)
        .unwrap();
    drop(g);
    greenlet::sleep(Duration::from_millis(5));
    let logged = util::logged(log::Level::Error, "boom 4711");
    assert!(
        logged.iter().any(|line| line.contains("'boom-on-drop'")),
        "{logged:?}"
    );
}

/// The result of a greenlet whose handle is dropped after it finished is
/// dropped there, by whoever drops the handle.
#[test]
fn dropping_the_handle_of_a_finished_greenlet_drops_its_result_there() {
    let dropped_by = Rc::new(Cell::new(None));
    let d = dropped_by.clone();
    let g = greenlet::spawn(move || SleepOnDrop(d));
    greenlet::yield_now();
    assert!(g.is_finished() && dropped_by.get().is_none());
    let dropper = greenlet::spawn(move || drop(g));
    let dropper_id = dropper.id();
    dropper.join().unwrap();
    assert_eq!(dropped_by.get(), Some(dropper_id));
}

// ---- spawn_later ---------------------------------------------------------------

/// `spawn_later(Duration::MAX, f)` panicked on `Instant` overflow (after its
/// stack was reserved: a leak). Like `sleep`, a delay too long to represent
/// is for ever: the greenlet never starts on its own.
#[test]
fn spawn_later_for_ever_never_starts_until_killed() {
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    let g = greenlet::spawn_later(Duration::MAX, move || r.set(true));
    greenlet::sleep(Duration::from_millis(5));
    assert!(!g.is_finished() && !ran.get());
    let err = panic::catch_unwind(AssertUnwindSafe(greenlet::run)).unwrap_err();
    assert!(panic_text(&*err).contains("would block forever"));
    g.kill();
    assert!(g.join().unwrap_err().is_killed());
    assert!(!ran.get());
}
