//! greenlet_local!: one value per greenlet (and for the main context),
//! dropped when its greenlet ends.

mod util;

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use util::{DropCounter, DropToken};

greenlet::greenlet_local! {
    static NUMBER: Cell<u32> = Cell::new(7);
    static TOKEN: RefCell<Option<DropToken>> = RefCell::new(None);
    /// Initialised from another greenlet-local.
    static DOUBLE: u32 = NUMBER.with(|n| n.get() * 2);
}

#[test]
fn each_greenlet_and_the_main_context_has_its_own_value() {
    NUMBER.with(|n| n.set(1));
    let gs: Vec<_> = (10..13)
        .map(|i| {
            greenlet::spawn(move || {
                assert_eq!(NUMBER.with(|n| n.get()), 7, "starts from the initialiser");
                NUMBER.with(|n| n.set(i));
                greenlet::yield_now(); // the others set theirs meanwhile
                NUMBER.with(|n| n.get())
            })
        })
        .collect();
    let seen: Vec<u32> = greenlet::joinall(gs)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(seen, [10, 11, 12]);
    assert_eq!(NUMBER.with(|n| n.get()), 1, "main's value is untouched");
}

#[test]
fn values_are_dropped_when_their_greenlet_ends_even_if_its_handle_lives() {
    let drops = DropCounter::new();
    let token = drops.token();
    let g = greenlet::spawn(move || TOKEN.with(|t| *t.borrow_mut() = Some(token)));
    greenlet::yield_now();
    assert!(g.is_finished());
    assert_eq!(drops.count(), 1, "dropped at the end, not with the handle");
    drop(g);
}

#[test]
fn a_killed_greenlets_values_are_dropped() {
    let drops = DropCounter::new();
    let token = drops.token();
    let g = greenlet::spawn(move || {
        TOKEN.with(|t| *t.borrow_mut() = Some(token));
        greenlet::sleep(std::time::Duration::from_secs(3600));
    });
    greenlet::yield_now();
    g.kill();
    assert_eq!(drops.count(), 1);
}

#[test]
fn set_replace_and_take() {
    let g = greenlet::spawn(|| {
        NUMBER.set(Cell::new(3));
        assert_eq!(NUMBER.replace(Cell::new(4)).get(), 3);
        assert_eq!(NUMBER.take().get(), 4);
        NUMBER.with(|n| n.get()) // Cell::default() is 0
    });
    assert_eq!(g.join().unwrap(), 0);
}

#[test]
fn with_nests_and_initialisers_may_use_other_locals() {
    let g = greenlet::spawn(|| {
        NUMBER.with(|n| n.set(5));
        let nested = NUMBER.with(|outer| NUMBER.with(|inner| outer.get() + inner.get()));
        (nested, DOUBLE.with(|d| *d))
    });
    assert_eq!(g.join().unwrap(), (10, 10));
}

#[test]
fn replacing_inside_a_with_of_the_same_key_panics() {
    let g = greenlet::spawn(|| NUMBER.with(|_| NUMBER.set(Cell::new(1))));
    let err = g.join().unwrap_err();
    assert!(
        err.to_string().contains("inside a with() of the same key"),
        "{err}"
    );
    // The main context is unaffected.
    let r = panic::catch_unwind(AssertUnwindSafe(|| NUMBER.with(|n| n.get())));
    assert!(r.is_ok());
}

#[test]
fn thread_exit_drops_the_main_contexts_and_suspended_greenlets_values() {
    struct Count(Arc<AtomicUsize>);
    impl Drop for Count {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    greenlet::greenlet_local!(static HELD: RefCell<Option<Count>> = RefCell::new(None));
    let dropped = Arc::new(AtomicUsize::new(0));
    let d = dropped.clone();
    std::thread::spawn(move || {
        HELD.with(|h| *h.borrow_mut() = Some(Count(d.clone())));
        let d2 = d.clone();
        greenlet::spawn(move || {
            HELD.with(|h| *h.borrow_mut() = Some(Count(d2)));
            greenlet::sleep(std::time::Duration::from_secs(3600));
        });
        greenlet::yield_now(); // it sleeps when the thread ends
    })
    .join()
    .unwrap();
    assert_eq!(dropped.load(Ordering::SeqCst), 2);
}
