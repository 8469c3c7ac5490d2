//! Scoped greenlets: borrowing, nesting, panics, the owner killed or timed
//! out while its children run, and many children.

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(3600);

#[test]
fn children_borrow_from_the_callers_stack() {
    let mut words = vec!["a".to_string(), "bb".to_string()];
    let mut hits = 0;
    let total = greenlet::scope(|s| {
        let h = s.spawn(|| words.iter().map(|w| w.len()).sum::<usize>());
        s.spawn(|| {
            greenlet::sleep(Duration::from_millis(1));
            hits += 1;
        });
        h.join().unwrap()
    });
    words.push("ccc".into());
    assert_eq!((total, hits, words.len()), (3, 1, 3));
}

#[test]
fn scope_returns_only_after_every_child_finished() {
    let finished = Cell::new(0);
    greenlet::scope(|s| {
        for i in 0..5 {
            let finished = &finished;
            s.spawn(move || {
                greenlet::sleep(Duration::from_millis(i));
                finished.set(finished.get() + 1);
            });
        }
    });
    assert_eq!(finished.get(), 5);
}

#[test]
fn nested_scopes_and_children_spawning_children() {
    let log = RefCell::new(Vec::new());
    greenlet::scope(|outer| {
        outer.spawn(|| {
            greenlet::scope(|inner| {
                inner.spawn(|| log.borrow_mut().push("inner child"));
            });
            log.borrow_mut().push("outer child");
        });
        outer.spawn(|| {
            outer.spawn(|| log.borrow_mut().push("grandchild"));
        });
    });
    let mut log = log.into_inner();
    log.sort();
    assert_eq!(log, ["grandchild", "inner child", "outer child"]);
}

#[test]
fn an_unjoined_panicking_child_makes_the_scope_panic_after_all_finished() {
    let others_done = Cell::new(false);
    let err = panic::catch_unwind(AssertUnwindSafe(|| {
        greenlet::scope(|s| {
            s.spawn(|| panic!("child boom"));
            s.spawn(|| {
                greenlet::sleep(Duration::from_millis(5));
                others_done.set(true);
            });
        })
    }))
    .unwrap_err();
    assert_eq!(
        err.downcast_ref::<&str>().copied(),
        Some("greenlet: a scoped greenlet panicked")
    );
    assert!(others_done.get());
}

#[test]
fn a_joined_panic_is_handled() {
    let r = greenlet::scope(|s| {
        let h = s.spawn(|| -> u32 { panic!("handled") });
        h.join().unwrap_err().is_panic()
    });
    assert!(r);
}

#[test]
fn the_owners_panic_waits_for_the_children_first() {
    let child_done = Cell::new(false);
    let err = panic::catch_unwind(AssertUnwindSafe(|| {
        greenlet::scope(|s| {
            s.spawn(|| {
                greenlet::sleep(Duration::from_millis(5));
                child_done.set(true);
            });
            panic!("owner boom");
        })
    }))
    .unwrap_err();
    assert_eq!(err.downcast_ref::<&str>().copied(), Some("owner boom"));
    assert!(child_done.get());
}

/// Records its drop in a log shared by the test.
struct Note(Rc<RefCell<Vec<&'static str>>>, &'static str);

impl Drop for Note {
    fn drop(&mut self) {
        self.0.borrow_mut().push(self.1);
    }
}

#[test]
fn a_killed_owner_kills_its_children_and_their_destructors_run_first() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    let owner = greenlet::spawn(move || {
        let _owner_note = Note(l.clone(), "owner");
        let borrowed = String::from("on the owner's stack");
        greenlet::scope(|s| {
            for _ in 0..3 {
                let l = l.clone();
                let borrowed = &borrowed;
                s.spawn(move || {
                    let _note = Note(l, "child");
                    greenlet::sleep(LONG);
                    borrowed.len()
                });
            }
            greenlet::sleep(LONG);
        });
    });
    greenlet::sleep(Duration::from_millis(2)); // all asleep
    owner.kill();
    assert!(owner.join().unwrap_err().is_killed());
    assert_eq!(*log.borrow(), ["child", "child", "child", "owner"]);
}

#[test]
fn a_timed_out_owner_kills_its_children_then_unwinds_to_the_timeout() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    let r = greenlet::with_timeout(Duration::from_millis(5), || {
        greenlet::scope(|s| {
            let l = l.clone();
            s.spawn(move || {
                let _note = Note(l, "child");
                greenlet::sleep(LONG);
            });
            greenlet::sleep(LONG);
        })
    });
    assert!(r.is_err());
    assert_eq!(*log.borrow(), ["child"]);
}

#[test]
fn a_kill_during_the_final_wait_kills_the_children() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    let owner = greenlet::spawn(move || {
        greenlet::scope(|s| {
            let l = l.clone();
            s.spawn(move || {
                let _note = Note(l, "child");
                greenlet::sleep(LONG);
            });
        }); // returns from the closure at once, then waits
        unreachable!("the owner is killed while it waits");
    });
    greenlet::sleep(Duration::from_millis(2));
    owner.kill();
    assert!(owner.join().unwrap_err().is_killed());
    assert_eq!(*log.borrow(), ["child"]);
}

#[test]
fn a_deadlock_in_the_main_contexts_scope_ends_the_children() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let never = greenlet::sync::Event::new();
    let line = line!() + 2;
    let err = panic::catch_unwind(AssertUnwindSafe(|| {
        greenlet::scope(|s| {
            let l = log.clone();
            let never = &never;
            s.spawn(move || {
                let _note = Note(l, "child");
                never.wait();
            });
        })
    }));
    // The children were killed so that the scope could end, and then the
    // deadlock was reported.
    let err = err.unwrap_err();
    let message = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("would block forever"), "{message}");
    assert!(message.contains("waits on Event::wait"), "{message}");
    // The owner's wait is reported at the user's `scope` call.
    assert!(
        message.contains("main waits on scope (greenlet "),
        "{message}"
    );
    assert!(
        message.contains(&format!(") at tests/scope.rs:{line}:")),
        "{message}"
    );
    assert_eq!(*log.borrow(), ["child"]);
}

#[test]
fn ten_thousand_children_in_one_scope() {
    let count = Cell::new(0u32);
    greenlet::scope(|s| {
        for _ in 0..10_000 {
            s.spawn(|| {
                greenlet::yield_now();
                count.set(count.get() + 1);
            });
        }
    });
    assert_eq!(count.get(), 10_000);
}

#[test]
fn a_scope_inside_a_greenlet_and_handles_that_wait() {
    let g = greenlet::spawn(|| {
        let data = [1, 2, 3];
        greenlet::scope(|s| {
            let h = s.spawn(|| data.iter().sum::<i32>());
            assert!(h.greenlet().wait_timeout(Duration::from_secs(5)));
            assert!(h.is_finished());
            h.join().unwrap()
        })
    });
    assert_eq!(g.join().unwrap(), 6);
}

#[test]
fn at_thread_exit_children_unwind_before_their_owner() {
    use std::sync::{Arc, Mutex};
    let log = Arc::new(Mutex::new(Vec::new()));
    let l = log.clone();
    std::thread::spawn(move || {
        struct Logged(Arc<Mutex<Vec<&'static str>>>, &'static str);
        impl Drop for Logged {
            fn drop(&mut self) {
                self.0.lock().unwrap().push(self.1);
            }
        }
        let owner_log = l.clone();
        // Detached: the thread ends while the owner waits in its scope and
        // the children sleep, so the teardown unwinds them all.
        drop(greenlet::spawn(move || {
            let _owner = Logged(owner_log.clone(), "owner");
            let on_owner_stack = String::from("borrowed");
            greenlet::scope(|s| {
                for _ in 0..2 {
                    let (log, borrowed) = (owner_log.clone(), &on_owner_stack);
                    s.spawn(move || {
                        let _child = Logged(log, "child");
                        greenlet::sleep(LONG);
                        borrowed.len()
                    });
                }
            });
        }));
        greenlet::sleep(Duration::from_millis(2)); // all started and asleep
    })
    .join()
    .unwrap();
    assert_eq!(*log.lock().unwrap(), ["child", "child", "owner"]);
}
