//! Diagnostics that point at the user's code: `run_info`, the deadlock
//! report's lines, `#[track_caller]` on the calls that panic because of
//! the caller, and the handles that survive a timeout (`wait`,
//! `wait_timeout`, `kill_timeout`, `killall`, `joinall_timeout`).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::{Mutex, Once};
use std::thread::ThreadId;
use std::time::Duration;

use greenlet::sync::{Event, Queue};
use greenlet::{Builder, Generator};

const LONG: Duration = Duration::from_secs(3600);

/// The location of each thread's last panic, recorded by a panic hook (the
/// tests of this file run on threads of their own, in parallel).
static LOCATIONS: Mutex<Option<HashMap<ThreadId, String>>> = Mutex::new(None);

thread_local! {
    /// Set while `panic_of` expects a panic on this thread.
    static EXPECTING: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f`, which must panic, and returns the panic's message and the
/// location the panic reports.
fn panic_of(f: impl FnOnce()) -> (String, String) {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !EXPECTING.with(Cell::get) {
                return default(info); // a failing assertion: say so
            }
            let at = info.location().map(|l| l.to_string()).unwrap_or_default();
            LOCATIONS
                .lock()
                .unwrap()
                .get_or_insert_with(HashMap::new)
                .insert(std::thread::current().id(), at);
        }))
    });
    EXPECTING.with(|e| e.set(true));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    EXPECTING.with(|e| e.set(false));
    let payload = result.expect_err("it panics");
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    let at = LOCATIONS
        .lock()
        .unwrap()
        .as_mut()
        .and_then(|m| m.remove(&std::thread::current().id()))
        .unwrap_or_default();
    (message, at)
}

/// `file:line` of the line after the caller's (the call under test is
/// written on the line after `here()`).
#[track_caller]
fn next_line() -> String {
    let at = std::panic::Location::caller();
    format!("{}:{}:", at.file(), at.line() + 1)
}

// ---- the deadlock report ----------------------------------------------------

#[test]
fn the_deadlock_panic_points_at_the_users_call_and_names_the_event() {
    let event = Event::named("never set");
    let line = next_line();
    let (message, at) = panic_of(|| event.wait());
    assert!(at.starts_with(&line), "{at} vs {line}");
    assert!(
        message.contains(&format!(
            "main waits on Event::wait on 'never set' at {line}"
        )),
        "{message}"
    );
}

#[test]
fn the_deadlock_report_names_greenlets_objects_and_their_lines() {
    let queue: Queue<u32> = Queue::unbounded();
    let q = queue.clone();
    let getter_line = next_line();
    let getter = Builder::new()
        .name("getter")
        .spawn(move || q.get().unwrap())
        .unwrap();
    let getter_id = getter.id();
    let join_line = next_line();
    let (message, at) = panic_of(|| drop(getter.join()));
    assert!(at.starts_with(&join_line), "{at} vs {join_line}");
    assert!(
        message.contains(&format!(
            "main waits on join (greenlet 'getter' (id {getter_id})) at {join_line}"
        )),
        "{message}"
    );
    // The queue is unnamed: by address.
    let needle = format!("greenlet 'getter' (id {getter_id}) waits on Queue::get on 0x");
    assert!(message.contains(&needle), "{message}");
    let _ = getter_line; // the getter's wait is inside its closure, in this file
    assert!(message.contains(&format!("at {}", file!())), "{message}");
    queue.put(1).unwrap(); // lets the getter finish
}

#[test]
fn sleeping_for_ever_points_at_the_sleep() {
    let line = next_line();
    let (message, at) = panic_of(|| greenlet::sleep(Duration::MAX));
    assert!(at.starts_with(&line), "{at} vs {line}");
    assert!(
        message.contains(&format!("main waits on sleep at {line}")),
        "{message}"
    );
}

// ---- run_info ---------------------------------------------------------------

#[test]
fn run_info_lists_every_context_with_its_state_and_place() {
    let ready = Event::named("ready");
    let waiter = ready.clone();
    let builder = Builder::new().name("blocked");
    let wait_line = next_line();
    let blocked = builder.spawn(move || waiter.wait()).unwrap();
    let spinner_stop = Rc::new(Cell::new(false));
    let stop = spinner_stop.clone();
    let spinner = greenlet::spawn(move || {
        while !stop.get() {
            greenlet::yield_now();
        }
    });
    greenlet::yield_now(); // both start: one waits, one is ready again
    let later_line = next_line();
    let later = greenlet::spawn_later(LONG, || ());
    let info = greenlet::run_info();
    assert!(info.starts_with("greenlet run info, thread "), "{info}");
    assert!(info.contains("main and 3 greenlet(s)"), "{info}");
    assert!(info.contains("\n  main is running"), "{info}");
    assert!(
        info.contains(&format!(
            "\n  greenlet 'blocked' (id {}) waits on Event::wait on 'ready' at {wait_line}",
            blocked.id()
        )),
        "{info}"
    );
    assert!(
        info.contains(&format!("\n  greenlet {} is ready", spinner.id())),
        "{info}"
    );
    assert!(
        info.contains(&format!(
            "\n  greenlet {} has not started (spawned at {later_line}",
            later.id()
        )),
        "{info}"
    );
    // From inside a greenlet: that one is running, main waits on its join.
    let inside = greenlet::spawn(greenlet::run_info);
    let id = inside.id();
    let join_line = next_line();
    let text = inside.join().unwrap();
    assert!(
        text.contains(&format!("\n  greenlet {id} is running")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "\n  main waits on join (greenlet {id}) at {join_line}"
        )),
        "{text}"
    );
    ready.set();
    spinner_stop.set(true);
    later.kill();
    blocked.join().unwrap();
    spinner.join().unwrap();
}

#[test]
fn a_named_events_name_is_forgotten_when_it_is_dropped() {
    let event = Event::named("temporary");
    assert_eq!(event.name(), Some("temporary"));
    let e = event.clone();
    let g = greenlet::spawn(move || e.wait());
    greenlet::yield_now();
    assert!(greenlet::run_info().contains("on 'temporary'"));
    event.set();
    g.join().unwrap();
    drop(event);
    // A new event may reuse the address: it must not inherit the name.
    let fresh = Event::new();
    let f = fresh.clone();
    let g = greenlet::spawn(move || f.wait());
    greenlet::yield_now();
    assert!(!greenlet::run_info().contains("'temporary'"));
    fresh.set();
    g.join().unwrap();
}

// ---- misuse panics point at the caller ----------------------------------------

#[test]
fn a_greenlet_joining_itself_is_reported_at_its_join() {
    let cell: Rc<RefCell<Option<greenlet::Greenlet<()>>>> = Rc::new(RefCell::new(None));
    let report: Rc<RefCell<Option<(String, String, String)>>> = Rc::new(RefCell::new(None));
    let (me, out) = (cell.clone(), report.clone());
    let g = greenlet::spawn(move || {
        let handle = me.borrow_mut().take().expect("handed over before it runs");
        let line = next_line();
        let (message, at) = panic_of(move || drop(handle.join()));
        *out.borrow_mut() = Some((line, message, at));
    });
    *cell.borrow_mut() = Some(g);
    greenlet::run(); // the greenlet holds its own handle: run until it ends
    let (line, message, at) = report.borrow_mut().take().expect("the greenlet ran");
    assert!(
        message.contains("cannot join or wait for itself"),
        "{message}"
    );
    assert!(at.starts_with(&line), "{at} vs {line}");
}

#[test]
fn send_on_a_closed_generator_is_reported_at_the_send() {
    let mut g: Generator<(), (), ()> = Generator::new(|_, ()| ());
    g.send(());
    let line = next_line();
    let (message, at) = panic_of(|| _ = g.send(()));
    assert!(message.contains("closed generator"), "{message}");
    assert!(at.starts_with(&line), "{at} vs {line}");
}

// ---- handles you keep -------------------------------------------------------

#[test]
fn wait_timeout_keeps_the_handle_and_kill_timeout_kills() {
    let g = greenlet::spawn(|| greenlet::sleep(LONG));
    assert!(!g.wait_timeout(Duration::from_millis(5)));
    assert!(!g.is_finished());
    assert!(!g.wait_timeout(Duration::ZERO));
    assert!(g.kill_timeout(Duration::from_secs(5)));
    assert!(g.is_finished());
    assert!(g.join().unwrap_err().is_killed());
}

#[test]
fn wait_does_not_take_the_result() {
    let g = greenlet::spawn(|| "result");
    g.wait();
    g.wait(); // again: at once
    assert!(g.wait_timeout(Duration::ZERO));
    assert_eq!(g.join().unwrap(), "result");
}

#[test]
fn wait_timeout_from_a_greenlet_and_after_a_caught_timeout() {
    let sleeper = Rc::new(greenlet::spawn(|| {
        greenlet::sleep(Duration::from_millis(20))
    }));
    let s = sleeper.clone();
    let watcher = greenlet::spawn(move || {
        let early = s.wait_timeout(Duration::from_millis(1));
        // A timeout around a wait that expires leaves the handle usable.
        let caught = greenlet::with_timeout(Duration::from_millis(1), || s.wait()).is_err();
        let late = s.wait_timeout(Duration::from_secs(5));
        (early, caught, late)
    });
    assert_eq!(watcher.join().unwrap(), (false, true, true));
    assert!(sleeper.is_finished());
}

#[test]
fn kill_timeout_is_false_while_the_greenlet_goes_on_dying() {
    // A greenlet that catches its kill and blocks again is interrupted
    // again: it ends, but only after a switch, so a zero timeout sees it
    // still alive.
    let g = greenlet::spawn(|| {
        let _ = panic::catch_unwind(|| greenlet::sleep(LONG));
        greenlet::sleep(LONG);
    });
    greenlet::yield_now();
    assert!(!g.kill_timeout(Duration::ZERO));
    assert!(g.kill_timeout(Duration::from_secs(5)));
    assert!(g.join().unwrap_err().is_killed());
}

#[test]
fn killall_kills_every_greenlet_and_waits_for_all() {
    let order = Rc::new(RefCell::new(Vec::new()));
    let gs: Vec<_> = (0..3)
        .map(|i| {
            let order = order.clone();
            greenlet::spawn(move || {
                struct Note(Rc<RefCell<Vec<u32>>>, u32);
                impl Drop for Note {
                    fn drop(&mut self) {
                        self.0.borrow_mut().push(self.1);
                    }
                }
                let _note = Note(order, i);
                greenlet::sleep(LONG);
            })
        })
        .collect();
    greenlet::yield_now();
    greenlet::killall(&gs.iter().collect::<Vec<_>>());
    assert!(gs.iter().all(|g| g.is_finished()));
    order.borrow_mut().sort();
    assert_eq!(*order.borrow(), [0, 1, 2]);
    for g in gs {
        assert!(g.join().unwrap_err().is_killed());
    }
}

#[test]
fn joinall_timeout_says_whether_all_finished_and_keeps_the_handles() {
    let quick = greenlet::spawn(|| 1);
    let slow = greenlet::spawn(|| {
        greenlet::sleep(LONG);
        2
    });
    assert!(!greenlet::joinall_timeout(
        &[&quick, &slow],
        Duration::from_millis(5)
    ));
    assert!(quick.is_finished() && !slow.is_finished());
    slow.kill();
    assert!(greenlet::joinall_timeout(&[&quick, &slow], Duration::ZERO));
    assert_eq!(quick.join().unwrap(), 1);
    assert!(slow.join().unwrap_err().is_killed());
}

#[test]
fn a_waiter_killed_in_wait_timeout_unwinds_and_the_handle_stays_usable() {
    let target = Rc::new(greenlet::spawn(|| greenlet::sleep(LONG)));
    let t = target.clone();
    let waiter = greenlet::spawn(move || t.wait_timeout(LONG));
    greenlet::yield_now();
    waiter.kill();
    assert!(waiter.join().unwrap_err().is_killed());
    // The target is untouched; another greenlet can wait for it and kill it.
    assert!(!target.is_finished());
    let t = target.clone();
    let killer = greenlet::spawn(move || t.kill_timeout(Duration::from_secs(5)));
    assert!(killer.join().unwrap());
    assert!(target.is_finished());
}

#[test]
fn run_info_points_at_the_users_call_for_pool_and_file_waits() {
    let gate = std::sync::Arc::new(std::sync::Barrier::new(2));
    let g = gate.clone();
    let line = Rc::new(RefCell::new(String::new()));
    let l = line.clone();
    let waiter = greenlet::spawn(move || {
        *l.borrow_mut() = next_line();
        greenlet::threadpool::apply(move || g.wait())
    });
    greenlet::yield_now(); // it waits on the pool now
    let info = greenlet::run_info();
    gate.wait(); // lets the pool task end
    waiter.join().unwrap();
    let expected = format!("waits on threadpool::JoinHandle::join at {}", line.borrow());
    assert!(info.contains(&expected), "{info}\nexpected: {expected}");
}
