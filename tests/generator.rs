//! Generators: Python's send/yield semantics, closing, delegation, panics and
//! stacks.

mod util;

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
use std::thread;
use std::time::{Duration, Instant};

use greenlet::{
    DEFAULT_STACK_SIZE, Generator, GeneratorState, GeneratorStatus, MIN_STACK_SIZE, Yielder,
};
use util::DropCounter;

/// A generator that yields `0..n` and returns `n`, counting what it is sent.
fn counting(n: u32, received: Rc<RefCell<Vec<u32>>>) -> Generator<u32, u32, u32> {
    Generator::new(move |co: &Yielder<u32, u32>, first: u32| {
        received.borrow_mut().push(first);
        for i in 0..n {
            let sent = co.yield_(i);
            received.borrow_mut().push(sent);
        }
        n
    })
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic>".into()
    }
}

#[test]
fn the_issue_example_holds() {
    let mut g: Generator<i64, i64, &'static str> =
        Generator::new(|co: &Yielder<i64, i64>, first: i64| {
            let sent = co.yield_(first + 1);
            co.yield_(sent * 2);
            "done"
        });
    assert_eq!(g.status(), GeneratorStatus::Created);
    assert_eq!(g.send(1), GeneratorState::Yielded(2));
    assert_eq!(g.status(), GeneratorStatus::Suspended);
    assert_eq!(g.send(5), GeneratorState::Yielded(10));
    assert_eq!(g.send(0), GeneratorState::Complete("done"));
    assert_eq!(g.status(), GeneratorStatus::Closed);
}

#[test]
fn nothing_runs_before_the_first_send_and_sent_values_arrive_in_order() {
    let received = Rc::new(RefCell::new(Vec::new()));
    let mut g = counting(3, received.clone());
    assert!(
        received.borrow().is_empty(),
        "the body must not start early"
    );
    assert_eq!(g.send(100), GeneratorState::Yielded(0));
    assert_eq!(g.send(101), GeneratorState::Yielded(1));
    assert_eq!(g.send(102), GeneratorState::Yielded(2));
    assert_eq!(g.send(103), GeneratorState::Complete(3));
    assert_eq!(*received.borrow(), [100, 101, 102, 103]);
}

#[test]
fn send_on_a_closed_generator_panics_with_a_clear_message() {
    let mut g: Generator<(), (), ()> = Generator::new(|_, ()| ());
    assert_eq!(g.send(()), GeneratorState::Complete(()));
    let err = panic::catch_unwind(AssertUnwindSafe(|| g.send(()))).unwrap_err();
    let msg = panic_message(&*err);
    assert!(msg.contains("send() on a closed generator"), "{msg}");

    let mut closed: Generator<(), (), ()> = Generator::new(|_, ()| ());
    closed.close();
    assert!(panic::catch_unwind(AssertUnwindSafe(|| closed.send(()))).is_err());
}

#[test]
fn close_unwinds_a_suspended_body_and_runs_its_destructors() {
    let drops = DropCounter::new();
    let (outer, inner) = (drops.token(), drops.token());
    let mut g: Generator<(), u8> = Generator::new(move |co, ()| {
        let _outer = outer;
        {
            let _inner = inner;
            co.yield_(1);
            unreachable!("close() resumes nothing but the unwinding");
        }
    });
    assert_eq!(g.send(()), GeneratorState::Yielded(1));
    assert_eq!(drops.count(), 0);
    g.close();
    assert_eq!(drops.count(), 2);
    assert_eq!(g.status(), GeneratorStatus::Closed);
    g.close(); // again: nothing happens
    assert_eq!(drops.count(), 2);
    assert_eq!(g.status(), GeneratorStatus::Closed);
}

#[test]
fn close_before_start_drops_the_body_without_running_it() {
    let drops = DropCounter::new();
    let token = drops.token();
    let ran = Rc::new(Cell::new(false));
    let flag = ran.clone();
    let mut g: Generator<(), ()> = Generator::new(move |_, ()| {
        flag.set(true);
        drop(token);
    });
    g.close();
    assert_eq!(g.status(), GeneratorStatus::Closed);
    assert!(!ran.get());
    assert_eq!(drops.count(), 1, "the captured token is dropped");
}

#[test]
fn dropping_a_suspended_generator_runs_its_destructors() {
    let drops = DropCounter::new();
    let token = drops.token();
    let mut g: Generator<(), ()> = Generator::new(move |co, ()| {
        let _token = token;
        loop {
            co.yield_(());
        }
    });
    g.send(());
    g.send(());
    drop(g);
    assert_eq!(drops.count(), 1);
}

#[test]
fn dropping_a_suspended_generator_while_panicking_runs_its_destructors() {
    let drops = DropCounter::new();
    let token = drops.token();
    let result = panic::catch_unwind(AssertUnwindSafe(|| {
        let mut g: Generator<(), ()> = Generator::new(move |co, ()| {
            let _token = token;
            co.yield_(());
        });
        g.send(());
        panic!("outer panic");
    }));
    assert_eq!(panic_message(&*result.unwrap_err()), "outer panic");
    assert_eq!(drops.count(), 1);
}

#[test]
fn catching_the_close_unwinding_does_not_stop_it() {
    let drops = DropCounter::new();
    let token = drops.token();
    let caught = Rc::new(Cell::new(0));
    let caught_in = caught.clone();
    let mut g: Generator<(), ()> = Generator::new(move |co, ()| {
        let _token = token;
        // A body that swallows the unwinding once, then tries to yield again.
        if panic::catch_unwind(AssertUnwindSafe(|| co.yield_(()))).is_err() {
            caught_in.set(caught_in.get() + 1);
        }
        co.yield_(());
        unreachable!("the second yield unwinds again");
    });
    g.send(());
    g.close();
    assert_eq!(caught.get(), 1);
    assert_eq!(drops.count(), 1);
    assert_eq!(g.status(), GeneratorStatus::Closed);
}

#[test]
fn a_panic_in_the_body_comes_out_of_send_and_closes_the_generator() {
    let drops = DropCounter::new();
    let token = drops.token();
    let mut g: Generator<u32, u32> = Generator::new(move |co, first| {
        let _token = token;
        let second = co.yield_(first);
        panic!("bad input {second}");
    });
    assert_eq!(g.send(1), GeneratorState::Yielded(1));
    let err = panic::catch_unwind(AssertUnwindSafe(|| g.send(2))).unwrap_err();
    assert_eq!(panic_message(&*err), "bad input 2");
    assert_eq!(g.status(), GeneratorStatus::Closed);
    assert_eq!(
        drops.count(),
        1,
        "the body unwound before the panic left send"
    );
    g.close(); // closing after a panic is harmless
}

#[test]
fn iterator_yields_each_value_then_none_for_ever() {
    let mut g = Generator::new(|co, ()| {
        co.yield_("a");
        co.yield_("b");
        42
    });
    assert_eq!(g.next(), Some("a"));
    assert_eq!(g.next(), Some("b"));
    assert_eq!(g.next(), None);
    assert_eq!(g.status(), GeneratorStatus::Closed);
    assert_eq!(g.next(), None);
    assert_eq!(g.next(), None);
}

#[test]
fn iterator_adapters_work_on_an_endless_generator() {
    let naturals = Generator::new(|co, ()| {
        let mut n = 0u64;
        loop {
            co.yield_(n);
            n += 1;
        }
    });
    let evens: Vec<u64> = naturals.filter(|n| n % 2 == 0).take(4).collect();
    assert_eq!(evens, [0, 2, 4, 6]);
}

#[test]
fn yield_from_passes_values_both_ways_and_returns_the_inner_result() {
    let received = Rc::new(RefCell::new(Vec::new()));
    let inner_received = received.clone();
    let mut outer: Generator<u32, u32, (u32, &str)> = Generator::new(move |co, first| {
        let before = co.yield_(first * 1000);
        let got = co.yield_from(counting(2, inner_received), before);
        (got, "outer done")
    });
    assert_eq!(outer.send(7), GeneratorState::Yielded(7000));
    // The value sent next starts the inner generator.
    assert_eq!(outer.send(11), GeneratorState::Yielded(0));
    assert_eq!(outer.send(12), GeneratorState::Yielded(1));
    assert_eq!(outer.send(13), GeneratorState::Complete((2, "outer done")));
    assert_eq!(*received.borrow(), [11, 12, 13]);
}

#[test]
fn yield_from_continues_an_already_started_inner_generator() {
    let received = Rc::new(RefCell::new(Vec::new()));
    let mut inner = counting(3, received.clone());
    assert_eq!(inner.send(50), GeneratorState::Yielded(0));
    let mut outer =
        Generator::new(move |co: &Yielder<u32, u32>, first| co.yield_from(inner, first));
    // `first` resumes the inner generator's pending yield.
    assert_eq!(outer.send(51), GeneratorState::Yielded(1));
    assert_eq!(outer.send(52), GeneratorState::Yielded(2));
    assert_eq!(outer.send(53), GeneratorState::Complete(3));
    assert_eq!(*received.borrow(), [50, 51, 52, 53]);
}

#[test]
fn yield_from_a_closed_generator_panics() {
    let mut inner: Generator<(), (), ()> = Generator::new(|_, ()| ());
    inner.close();
    let mut outer: Generator<(), (), ()> = Generator::new(move |co, ()| co.yield_from(inner, ()));
    let err = panic::catch_unwind(AssertUnwindSafe(|| outer.send(()))).unwrap_err();
    assert!(panic_message(&*err).contains("closed generator"));
    assert_eq!(outer.status(), GeneratorStatus::Closed);
}

#[test]
fn closing_a_delegating_generator_closes_the_inner_one_too() {
    let drops = DropCounter::new();
    let (outer_token, inner_token) = (drops.token(), drops.token());
    let mut outer: Generator<(), u8> = Generator::new(move |co, ()| {
        let _outer = outer_token;
        let inner = Generator::new(move |co: &Yielder<(), u8>, ()| {
            let _inner = inner_token;
            loop {
                co.yield_(9);
            }
        });
        co.yield_from(inner, ())
    });
    assert_eq!(outer.send(()), GeneratorState::Yielded(9));
    assert_eq!(outer.send(()), GeneratorState::Yielded(9));
    outer.close();
    assert_eq!(drops.count(), 2);
}

#[test]
fn a_panic_in_a_delegated_generator_reaches_the_outer_caller() {
    let mut outer: Generator<u8, u8, u8> = Generator::new(|co, first| {
        let inner = Generator::new(|co: &Yielder<u8, u8>, n| {
            let m = co.yield_(n);
            if m == 0 {
                panic!("inner got zero");
            }
            m
        });
        co.yield_from(inner, first)
    });
    assert_eq!(outer.send(3), GeneratorState::Yielded(3));
    let err = panic::catch_unwind(AssertUnwindSafe(|| outer.send(0))).unwrap_err();
    assert_eq!(panic_message(&*err), "inner got zero");
    assert_eq!(outer.status(), GeneratorStatus::Closed);
}

#[test]
fn a_generator_drives_another_generator() {
    // A pipeline: `doubler` is fed from inside `source`'s consumer.
    let mut doubler: Generator<u32, u32> = Generator::new(|co, mut n| {
        loop {
            n = co.yield_(n * 2);
        }
    });
    let mut pipeline: Generator<(), u32> = Generator::new(move |co, ()| {
        for i in 1..=4 {
            let GeneratorState::Yielded(doubled) = doubler.send(i) else {
                unreachable!()
            };
            co.yield_(doubled + 1);
        }
    });
    let out: Vec<u32> = (&mut pipeline).collect();
    assert_eq!(out, [3, 5, 7, 9]);
    assert_eq!(pipeline.status(), GeneratorStatus::Closed);
}

#[test]
fn deep_recursion_fits_in_a_larger_stack() {
    #[inline(never)]
    fn depth(n: u64) -> u64 {
        let pad = std::hint::black_box([n; 128]); // 1 KiB of stack per frame
        if n == 0 { 0 } else { 1 + depth(pad[0] - 1) }
    }
    // 20,000 frames of over 1 KiB: far past the default 256 KiB stack.
    let mut g = Generator::with_stack_size(64 << 20, |co: &Yielder<u64, u64>, n| {
        let first = depth(n);
        let second = depth(co.yield_(first));
        first + second
    })
    .unwrap();
    assert_eq!(g.send(20_000), GeneratorState::Yielded(20_000));
    assert_eq!(g.send(10_000), GeneratorState::Complete(30_000));
}

#[test]
fn stack_sizes_are_documented_constants() {
    assert_eq!(DEFAULT_STACK_SIZE, 256 * 1024);
    assert_eq!(MIN_STACK_SIZE, 64 * 1024);
    // A request below the minimum still gets a working stack.
    let mut tiny = Generator::with_stack_size(1, |co, x: u8| co.yield_(x)).unwrap();
    assert_eq!(tiny.send(5), GeneratorState::<u8, u8>::Yielded(5));
}

#[test]
fn debug_output_names_the_state() {
    let g: Generator<(), ()> = Generator::new(|_, ()| ());
    assert_eq!(format!("{g:?}"), "Generator { state: Created, .. }");
    let mut seen = String::new();
    let mut h: Generator<(), ()> = Generator::new(|co, ()| co.yield_(()));
    h.send(());
    seen.push_str(&format!("{h:?}"));
    assert!(seen.contains("Suspended"));
}

/// What the refusal of a `yield_` during unwinding says.
const YIELD_WHILE_UNWINDING: &str = "yield_() while the generator's body unwinds";

/// A value in a generator's body whose destructor yields, as Python's
/// `finally: yield 7`. A catching one catches what `yield_` does and keeps
/// its message.
struct YieldOnDrop<'a> {
    co: &'a Yielder<(), u32>,
    caught: Option<Rc<RefCell<Option<String>>>>,
}

impl Drop for YieldOnDrop<'_> {
    fn drop(&mut self) {
        match &self.caught {
            Some(caught) => {
                let err = panic::catch_unwind(AssertUnwindSafe(|| self.co.yield_(7))).err();
                *caught.borrow_mut() = err.map(|payload| panic_message(&*payload));
            }
            None => self.co.yield_(7),
        }
    }
}

/// Checks what goes wrong while a thread wrongly stays marked as panicking:
/// `std` mutexes get poisoned, and the hub neither sleeps nor switches.
fn assert_the_thread_is_not_left_panicking() {
    assert!(!thread::panicking(), "the thread is still marked panicking");
    let mutex = std::sync::Mutex::new(0);
    drop(mutex.lock().unwrap()); // a guard dropped while panicking poisons
    assert!(!mutex.is_poisoned(), "a std mutex got poisoned");
    let ran = Rc::new(Cell::new(false));
    let flag = ran.clone();
    let other = greenlet::spawn(move || flag.set(true));
    let start = Instant::now();
    greenlet::sleep(Duration::from_millis(5));
    assert!(
        start.elapsed() >= Duration::from_millis(5),
        "sleep returned early"
    );
    assert!(ran.get(), "sleep let the other greenlet run");
    other.join().unwrap();
}

#[test]
fn a_destructor_yielding_during_a_body_panic_left_the_thread_panicking() {
    let caught = Rc::new(RefCell::new(None));
    let caught_in = caught.clone();
    let mut g: Generator<(), u32> = Generator::new(move |co, ()| {
        let _finally = YieldOnDrop {
            co,
            caught: Some(caught_in),
        };
        panic!("body panic");
    });
    match panic::catch_unwind(AssertUnwindSafe(|| g.send(()))) {
        Err(payload) => assert_eq!(panic_message(&*payload), "body panic"),
        Ok(state) => {
            // Suspended halfway through unwinding: dropping it would abort.
            std::mem::forget(g);
            panic!("send returned {state:?} from a body that was unwinding");
        }
    }
    let refusal = caught.borrow_mut().take().expect("the yield_ was refused");
    assert!(refusal.contains(YIELD_WHILE_UNWINDING), "{refusal}");
    assert_eq!(g.status(), GeneratorStatus::Closed);
    assert_the_thread_is_not_left_panicking();
    drop(g);
}

/// A started generator whose body's destructor yields, catching what
/// `yield_` does into `caught`.
fn yielding_in_finally(caught: &Rc<RefCell<Option<String>>>) -> Generator<(), u32> {
    let caught = caught.clone();
    let mut g = Generator::new(move |co, ()| {
        let _finally = YieldOnDrop {
            co,
            caught: Some(caught),
        };
        co.yield_(1);
    });
    assert_eq!(g.send(()), GeneratorState::Yielded(1));
    g
}

#[test]
fn a_destructor_yielding_during_close_was_not_refused_clearly() {
    let caught = Rc::new(RefCell::new(None));
    let mut g = yielding_in_finally(&caught);
    g.close();
    let refusal = caught.borrow_mut().take().expect("the yield_ was refused");
    assert!(refusal.contains(YIELD_WHILE_UNWINDING), "{refusal}");
    assert_eq!(g.status(), GeneratorStatus::Closed);
    assert_the_thread_is_not_left_panicking();
    drop(g);

    // Closed from the body of a generator driven during an unrelated panic,
    // where a yield is otherwise allowed.
    struct CloseOnDrop(Generator<(), u32>);
    impl Drop for CloseOnDrop {
        fn drop(&mut self) {
            let mut g = std::mem::replace(&mut self.0, Generator::new(|_, ()| ()));
            let driver: Generator<(), ()> = Generator::new(move |co, ()| {
                co.yield_(());
                g.close();
            });
            assert_eq!(driver.count(), 1);
        }
    }
    let closer = CloseOnDrop(yielding_in_finally(&caught));
    let err = panic::catch_unwind(AssertUnwindSafe(move || {
        let _closer = closer;
        panic!("unrelated");
    }))
    .unwrap_err();
    assert_eq!(panic_message(&*err), "unrelated");
    let refusal = caught.borrow_mut().take().expect("the yield_ was refused");
    assert!(refusal.contains(YIELD_WHILE_UNWINDING), "{refusal}");
    assert_the_thread_is_not_left_panicking();
}

/// Re-executed in a child: a destructor that yields during a body panic
/// without catching the refusal aborts the process, as a panic escaping a
/// destructor during unwinding does, after printing why.
#[test]
fn an_uncaught_yield_during_unwinding_aborts_with_a_clear_message() {
    const TEST: &str = "an_uncaught_yield_during_unwinding_aborts_with_a_clear_message";
    if util::is_child() {
        let mut g: Generator<(), u32> = Generator::new(|co, ()| {
            let _finally = YieldOnDrop { co, caught: None };
            panic!("body panic");
        });
        let state = panic::catch_unwind(AssertUnwindSafe(|| g.send(())));
        println!("send came back: {:?}", state.is_ok());
        return;
    }
    let run = util::run_child(TEST, Duration::from_secs(60));
    assert_eq!(
        run.signal(),
        Some(libc::SIGABRT),
        "the child aborted: {run}"
    );
    assert!(run.stderr.contains(YIELD_WHILE_UNWINDING), "{run}");
    assert!(
        !run.stdout.contains("send came back"),
        "nothing ran after the refusal"
    );
}

/// Collects what a generator yields (through `yield_from`, so that one send
/// nests in another) when dropped, whatever the thread is doing.
struct DrainOnDrop(Rc<RefCell<Vec<u32>>>);

impl Drop for DrainOnDrop {
    fn drop(&mut self) {
        let inner = Generator::new(|co: &Yielder<(), u32>, ()| {
            for i in 0..3 {
                co.yield_(i);
            }
            3
        });
        let outer = Generator::new(move |co: &Yielder<(), u32>, ()| {
            let last = co.yield_from(inner, ());
            co.yield_(last);
        });
        self.0.borrow_mut().extend(outer);
    }
}

#[test]
fn a_generator_iterated_in_a_drop_during_an_unrelated_panic_yields_all_its_values() {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let drain = DrainOnDrop(seen.clone());
    let err = panic::catch_unwind(AssertUnwindSafe(move || {
        let _drain = drain;
        panic!("unrelated");
    }))
    .unwrap_err();
    assert_eq!(panic_message(&*err), "unrelated");
    assert_eq!(*seen.borrow(), [0, 1, 2, 3]);
    assert!(!thread::panicking());
}

#[test]
fn a_generator_iterated_in_a_destructor_of_an_unwinding_body_yields_all_its_values() {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let drain = DrainOnDrop(seen.clone());
    let mut g: Generator<(), u32> = Generator::new(move |co, ()| {
        let _drain = drain;
        co.yield_(1);
        panic!("body panic");
    });
    assert_eq!(g.send(()), GeneratorState::Yielded(1));
    let err = panic::catch_unwind(AssertUnwindSafe(|| g.send(()))).unwrap_err();
    assert_eq!(panic_message(&*err), "body panic");
    assert_eq!(*seen.borrow(), [0, 1, 2, 3]);

    // And while close() unwinds it.
    let seen = Rc::new(RefCell::new(Vec::new()));
    let drain = DrainOnDrop(seen.clone());
    let mut g: Generator<(), u32> = Generator::new(move |co, ()| {
        let _drain = drain;
        co.yield_(1);
    });
    assert_eq!(g.send(()), GeneratorState::Yielded(1));
    g.close();
    assert_eq!(*seen.borrow(), [0, 1, 2, 3]);
    assert!(!thread::panicking());
}

/// Re-executed in a child with `RUST_BACKTRACE=full`: a panic that prints a
/// full backtrace from inside a generator on the smallest stack allowed.
#[test]
fn panic_on_smallest_stack() {
    if util::is_child() {
        let mut g: Generator<(), (), ()> =
            Generator::with_stack_size(MIN_STACK_SIZE, |_, ()| panic!("small stack panic"))
                .unwrap();
        let err = panic::catch_unwind(AssertUnwindSafe(|| g.send(()))).unwrap_err();
        assert_eq!(panic_message(&*err), "small stack panic");
        println!("child survived the panic");
        return;
    }
    let out = util::run_in_child("panic_on_smallest_stack", &[("RUST_BACKTRACE", "full")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "child died: {:?}\n{stderr}",
        out.status
    );
    assert!(stdout.contains("child survived the panic"), "{stdout}");
    assert!(stderr.contains("small stack panic"), "{stderr}");
    assert!(
        stderr.contains("stack backtrace"),
        "the backtrace was printed: {stderr}"
    );
}

/// Re-executed in a child so that no other test's mappings are counted:
/// 100,000 generators created, run (some to completion, some dropped while
/// suspended) and dropped leave the process's mappings as they were.
#[test]
fn hundred_thousand_generators_do_not_grow_mapped_memory() {
    fn churn(rounds: usize) {
        for round in 0..rounds {
            // A batch alive at once, so the pool holds more than one stack.
            let mut batch: Vec<Generator<u32, u32, u32>> = (0..50)
                .map(|_| Generator::new(|co, n| co.yield_(n) + co.yield_(n + 1)))
                .collect();
            for (i, g) in batch.iter_mut().enumerate() {
                assert_eq!(g.send(i as u32), GeneratorState::Yielded(i as u32));
                if (round + i) % 2 == 0 {
                    assert_eq!(g.send(0), GeneratorState::Yielded(i as u32 + 1));
                    assert_eq!(g.send(1), GeneratorState::Complete(1)); // 0 + 1
                }
            }
        }
    }
    util::assert_churn_maps_nothing(
        "hundred_thousand_generators_do_not_grow_mapped_memory",
        || churn(100),   // warm up the pool and the heap
        || churn(2_000), // 100,000 generators
    );
}
