//! greenlet_local!: one value per greenlet (and for the main context),
//! dropped when its greenlet ends.

mod util;

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};
use std::rc::Rc;
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

/// Records which context dropped it, after a green sleep.
struct SleepsWhenDropped(Rc<Cell<Option<u64>>>);

impl Drop for SleepsWhenDropped {
    fn drop(&mut self) {
        greenlet::sleep(std::time::Duration::from_millis(1));
        self.0.set(Some(greenlet::current().id()));
    }
}

greenlet::greenlet_local! {
    static SLEEPER: RefCell<Option<SleepsWhenDropped>> = RefCell::new(None);
    static OUT: RefCell<Option<std::io::BufWriter<greenlet::net::TcpStream>>> = RefCell::new(None);
}

/// A greenlet's locals were dropped by the hub's loop on the main context:
/// one whose destructor slept there overwrote main's wait, and main's join
/// panicked ("would block forever"). They are dropped by the greenlet itself
/// now, as it ends: `current()` names it, and a blocking call blocks only it.
#[test]
fn a_greenlet_local_that_blocks_in_its_destructor_blocks_only_its_greenlet() {
    let dropped_by = Rc::new(Cell::new(None));
    let d = dropped_by.clone();
    let g = greenlet::spawn(move || {
        SLEEPER.with(|s| *s.borrow_mut() = Some(SleepsWhenDropped(d)));
    });
    let id = g.id();
    g.join().unwrap();
    assert_eq!(dropped_by.get(), Some(id));
}

/// A `BufWriter` over a green socket in a greenlet-local is flushed when its
/// greenlet ends, even when the flush must wait for the peer to read.
#[test]
fn a_buffered_green_socket_in_a_greenlet_local_is_flushed_when_its_greenlet_ends() {
    use std::io::{Read, Write};
    const LEN: usize = 32 << 20; // far more than the socket buffers hold
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let reader = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50)); // the writer waits
        let mut got = Vec::new();
        conn.read_to_end(&mut got).unwrap();
        got.len()
    });
    let writer = greenlet::spawn(move || {
        let stream = greenlet::net::TcpStream::connect(addr).unwrap();
        let mut out = std::io::BufWriter::with_capacity(2 * LEN, stream);
        out.write_all(&vec![7; LEN]).unwrap(); // buffered: nothing sent yet
        OUT.with(|o| *o.borrow_mut() = Some(out));
    });
    let ticker = greenlet::spawn(|| {
        for _ in 0..10 {
            greenlet::sleep(std::time::Duration::from_millis(1));
        }
    });
    writer.join().unwrap();
    ticker.join().unwrap();
    assert_eq!(reader.join().unwrap(), LEN);
}
