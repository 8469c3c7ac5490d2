//! Loggers that use the library: a `log` backend may send its records over
//! a green socket, hand them to a greenlet, or block, including when the
//! hub's own loop logs (a switch, a greenlet that finished).
//!
//! A process has one logger, so each test installs its own in a child copy
//! of this binary, with a bound (these used to panic or hang).

mod util;

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::OnceLock;
use std::time::Duration;

use greenlet::sync::Queue;

const BOUND: Duration = Duration::from_secs(60);

/// What the installed logger does with each record, on the test's thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Sends it over a green UDP socket to `PEER`.
    Udp,
    /// Sleeps 20 ms (a green sleep) on the first record of a finished
    /// greenlet, which the hub's loop logs on the main context.
    SleepOnFinished,
    /// Hands it to a greenlet through a `Queue`.
    ToGreenlet,
}

static MODE: OnceLock<Mode> = OnceLock::new();
static PEER: OnceLock<SocketAddr> = OnceLock::new();

thread_local! {
    /// Set on the thread the test runs on: other threads' records are
    /// dropped.
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
    /// Set while the logger runs, so that what it logs itself is dropped.
    static IN_LOG: Cell<bool> = const { Cell::new(false) };
    static SOCKET: RefCell<Option<greenlet::net::UdpSocket>> = const { RefCell::new(None) };
    static SLEPT: Cell<bool> = const { Cell::new(false) };
    static RECORDS: RefCell<Option<Rc<Queue<String>>>> = const { RefCell::new(None) };
    static HANDED: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

struct LibraryLogger;

impl log::Log for LibraryLogger {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }

    fn log(&self, record: &log::Record) {
        if !ACTIVE.with(Cell::get) || IN_LOG.with(|f| f.replace(true)) {
            return;
        }
        let line = record.args().to_string();
        match MODE.get().copied() {
            Some(Mode::Udp) => SOCKET.with(|socket| {
                let mut socket = socket.borrow_mut();
                let socket = socket.get_or_insert_with(|| {
                    let s = greenlet::net::UdpSocket::bind("127.0.0.1:0").unwrap();
                    s.connect(PEER.get().unwrap()).unwrap();
                    s
                });
                socket.send(line.as_bytes()).unwrap();
            }),
            Some(Mode::SleepOnFinished)
                if line.ends_with(" finished") && !SLEPT.with(|s| s.replace(true)) =>
            {
                greenlet::sleep(Duration::from_millis(20));
            }
            Some(Mode::ToGreenlet) => {
                let queue = RECORDS.with(|r| {
                    r.borrow_mut()
                        .get_or_insert_with(|| {
                            let queue = Rc::new(Queue::unbounded());
                            let records = queue.clone();
                            greenlet::spawn(move || {
                                for line in records.iter() {
                                    HANDED.with(|h| h.borrow_mut().push(line));
                                }
                            });
                            queue
                        })
                        .clone()
                });
                let _ = queue.put(line);
            }
            Some(Mode::SleepOnFinished) | None => {}
        }
        IN_LOG.with(|f| f.set(false));
    }

    fn flush(&self) {}
}

/// Installs the logger in `mode`, at `Trace` level, for this thread.
fn install(mode: Mode) {
    static LOGGER: LibraryLogger = LibraryLogger;
    MODE.set(mode).unwrap();
    log::set_logger(&LOGGER).unwrap();
    log::set_max_level(log::LevelFilter::Trace);
    ACTIVE.with(|a| a.set(true));
}

/// Spawns, yields, sleeps, kills and joins: every path that logs.
fn workload() {
    let gs: Vec<_> = (0..20u64)
        .map(|i| {
            greenlet::spawn(move || {
                greenlet::yield_now();
                greenlet::sleep(Duration::from_millis(1 + i % 3));
                i
            })
        })
        .collect();
    let unstarted = greenlet::spawn(|| ());
    unstarted.kill();
    assert!(unstarted.join().unwrap_err().is_killed());
    let sleeper = greenlet::spawn(|| greenlet::sleep(Duration::from_secs(3600)));
    greenlet::yield_now();
    sleeper.kill();
    let sum: u64 = greenlet::joinall(gs).into_iter().map(Result::unwrap).sum();
    assert_eq!(sum, (0..20).sum());
    greenlet::with_timeout(Duration::from_millis(2), || {
        greenlet::sleep(Duration::from_secs(3600))
    })
    .unwrap_err();
}

/// The hub logged "spawned" inside its own `RefCell` borrow, so a logger
/// that sent records over a green socket made `spawn` panic ("already
/// borrowed"), leaking a stack reservation.
#[test]
fn a_logger_that_sends_over_a_green_udp_socket_sees_every_record() {
    if util::is_child() {
        let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        PEER.set(peer.local_addr().unwrap()).unwrap();
        install(Mode::Udp);
        workload();
        ACTIVE.with(|a| a.set(false));
        peer.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let mut seen = Vec::new();
        let mut buffer = [0; 2048];
        for _ in 0..100_000 {
            match peer.recv(&mut buffer) {
                Ok(n) => seen.push(String::from_utf8_lossy(&buffer[..n]).into_owned()),
                Err(_) => break,
            }
        }
        let count = |needle: &str| seen.iter().filter(|l| l.contains(needle)).count();
        println!(
            "spawned {}, finished {}, killed before start {}, switches {}",
            count("spawned greenlet"),
            count(" finished"),
            count("before it started"),
            count("switch to"),
        );
        return;
    }
    let stdout = util::assert_child_passes(
        "a_logger_that_sends_over_a_green_udp_socket_sees_every_record",
        BOUND,
        "spawned ",
    );
    let at = stdout
        .find("spawned ")
        .unwrap_or_else(|| panic!("no counts in {stdout}"));
    let counts: Vec<usize> = stdout[at..]
        .lines()
        .next()
        .unwrap()
        .split(", ")
        .map(|part| part.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    // Loopback UDP may drop datagrams when its buffer fills: count loosely.
    assert!(counts.iter().all(|&n| n > 0), "{stdout}");
}

/// The hub's loop logs on the main context (a greenlet that finished). A
/// logger that blocked there started a wait nested in the main context's
/// own, which overwrote it: main's wake-up was lost, and its call panicked
/// with a false "would block forever". Here main's timer fires while the
/// logger's nested sleep lasts, and main's own yield is queued when it
/// starts: neither is lost.
#[test]
fn a_logger_that_blocks_in_the_hubs_loop_does_not_lose_mains_wakeup() {
    if util::is_child() {
        install(Mode::SleepOnFinished);
        // Main's 5 ms sleep ends during the logger's 20 ms one.
        let quick = greenlet::spawn(|| 1);
        greenlet::sleep(Duration::from_millis(5));
        assert_eq!(quick.join().unwrap(), 1);
        // Main's yield is queued behind a greenlet whose end is logged.
        SLEPT.with(|s| s.set(false));
        let next = greenlet::spawn(|| 2);
        greenlet::yield_now();
        assert_eq!(next.join().unwrap(), 2);
        workload();
        println!("main woke every time");
        return;
    }
    util::assert_child_passes(
        "a_logger_that_blocks_in_the_hubs_loop_does_not_lose_mains_wakeup",
        BOUND,
        "main woke every time",
    );
}

/// A logger that hands its records to a greenlet (through a queue, which
/// wakes it) called back into the hub from inside its borrow.
#[test]
fn a_logger_that_hands_records_to_a_greenlet_sees_them() {
    if util::is_child() {
        install(Mode::ToGreenlet);
        workload();
        // Spawned while the consumer waits for records: handing it this
        // spawn's record wakes it.
        assert_eq!(greenlet::spawn(|| 3).join().unwrap(), 3);
        if let Some(queue) = RECORDS.with(|r| r.borrow().clone()) {
            queue.close();
        }
        greenlet::run(); // the consumer takes what is left, and ends
        let handed = HANDED.with(|h| h.take());
        let spawned = handed.iter().filter(|l| l.contains("spawned")).count();
        println!("handed {} records, {spawned} of spawns", handed.len());
        assert!(spawned >= 23, "{handed:?}");
        return;
    }
    util::assert_child_passes(
        "a_logger_that_hands_records_to_a_greenlet_sees_them",
        BOUND,
        "handed ",
    );
}
