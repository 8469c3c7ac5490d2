//! The hub at the edges of a thread's life: `std::process::exit` inside a
//! greenlet, the teardown at thread exit, and what other thread-locals'
//! destructors may do with the library after it.
//!
//! Before these were fixed, each test here aborted the process or hung, so
//! each runs its scenario in a child copy of this binary, with a bound.

mod util;

use std::cell::RefCell;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use greenlet::{Generator, Greenlet, JoinError};

const LONG: Duration = Duration::from_secs(3600);
const BOUND: Duration = Duration::from_secs(60);

/// A record of what happened, shared with a thread that exits.
type Record = Arc<Mutex<Vec<String>>>;

fn note(record: &Record, line: impl Into<String>) {
    record.lock().unwrap().push(line.into());
}

fn outcome<T>(result: &Result<T, JoinError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(e) if e.is_killed() => "killed",
        Err(_) => "panicked",
    }
}

// ---- process exit inside a greenlet ----------------------------------------

/// A thread-local whose destructor uses the library: at `exit`, it runs on
/// the stack of the greenlet that called `exit`, after the hub's teardown.
struct LateUser;

impl Drop for LateUser {
    fn drop(&mut self) {
        let started = Instant::now();
        greenlet::sleep(Duration::from_millis(2));
        let slept = started.elapsed() >= Duration::from_millis(2);
        let late = greenlet::spawn(|| 1).join();
        println!("late user: slept {slept}, spawned {}", outcome(&late));
    }
}

thread_local! {
    static LATE_USER: RefCell<Option<LateUser>> = const { RefCell::new(None) };
}

/// `std::process::exit` inside a greenlet runs the thread's TLS destructors
/// on that greenlet's stack; the hub's teardown used to free that very stack
/// (SIGSEGV in release, a debug assertion's abort in debug).
#[test]
fn process_exit_inside_a_greenlet_exits_with_its_status() {
    if util::is_child() {
        LATE_USER.with(|u| *u.borrow_mut() = Some(LateUser)); // dropped after the hub
        for _ in 0..3 {
            greenlet::spawn(|| greenlet::sleep(LONG));
        }
        greenlet::yield_now();
        let _ = greenlet::spawn(|| std::process::exit(7)).join();
        unreachable!("the process has exited");
    }
    let run = util::run_child(
        "process_exit_inside_a_greenlet_exits_with_its_status",
        BOUND,
    );
    assert_eq!(run.code(), 7, "{run}");
    assert!(
        run.stdout.contains("late user: slept true, spawned killed"),
        "{run}"
    );
}

/// The same from a generator running inside a greenlet, and from one running
/// on the main context.
#[test]
fn process_exit_inside_a_generator_exits_with_its_status() {
    if util::is_child() {
        let in_greenlet = std::env::var_os("IN_GREENLET").is_some();
        for _ in 0..3 {
            greenlet::spawn(|| greenlet::sleep(LONG));
        }
        greenlet::yield_now();
        let exit_in_a_generator = || {
            let mut g: Generator<(), ()> = Generator::new(|_, ()| std::process::exit(9));
            g.send(());
        };
        if in_greenlet {
            let _ = greenlet::spawn(exit_in_a_generator).join();
        } else {
            exit_in_a_generator();
        }
        unreachable!("the process has exited");
    }
    for env in [&[("IN_GREENLET", "1")][..], &[]] {
        let out = util::run_in_child("process_exit_inside_a_generator_exits_with_its_status", env);
        assert_eq!(
            out.status.code(),
            Some(9),
            "{env:?}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

// ---- the teardown at thread exit -------------------------------------------

/// Kills its greenlet when dropped: a common RAII pattern.
struct KillOnDrop(Greenlet<()>, Record);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // A greenlet spawned here first used to take the killed one's key,
        // and be killed in its place.
        let newcomer = greenlet::spawn(|| ());
        self.0.kill();
        note(
            &self.1,
            format!("killed, finished: {}", self.0.is_finished()),
        );
        note(&self.1, format!("newcomer: {}", outcome(&newcomer.join())));
    }
}

/// A destructor that kills a greenlet ran during the teardown and indexed
/// the drained task table: "invalid key", and the process aborted.
#[test]
fn a_destructor_that_kills_a_greenlet_at_thread_exit_does_not_abort() {
    if util::is_child() {
        let record: Record = Arc::default();
        let r = record.clone();
        std::thread::spawn(move || {
            let child = greenlet::spawn(|| greenlet::sleep(LONG));
            let guard = KillOnDrop(child, r);
            greenlet::spawn(move || {
                let _guard = guard;
                greenlet::sleep(LONG);
            });
            greenlet::yield_now(); // both sleep; then the thread ends
        })
        .join()
        .unwrap();
        println!("{:?}", record.lock().unwrap());
        return;
    }
    util::assert_child_passes(
        "a_destructor_that_kills_a_greenlet_at_thread_exit_does_not_abort",
        BOUND,
        r#"["killed, finished: true", "newcomer: killed"]"#,
    );
}

/// Joins its greenlet when dropped.
struct JoinOnDrop(Option<Greenlet<u32>>, Record);

impl Drop for JoinOnDrop {
    fn drop(&mut self) {
        if let Some(g) = self.0.take() {
            let result = g.join();
            note(&self.1, format!("joined: {}", outcome(&result)));
        }
    }
}

thread_local! {
    static JOINER: RefCell<Option<JoinOnDrop>> = const { RefCell::new(None) };
}

/// A greenlet torn down at thread exit had no outcome: joining it from
/// another greenlet's destructor, or from a `thread_local!` destructor that
/// runs after the teardown, panicked ("a finished greenlet has an outcome")
/// inside a destructor, and the process aborted. It reports `Killed`.
#[test]
fn joining_a_greenlet_torn_down_at_thread_exit_reports_killed() {
    if util::is_child() {
        let record: Record = Arc::default();
        let r = record.clone();
        std::thread::spawn(move || {
            JOINER.with(|j| j.borrow_mut().take()); // registered before the hub
            let a = greenlet::spawn(|| {
                greenlet::sleep(LONG);
                1
            });
            let guard = JoinOnDrop(Some(a), r.clone());
            greenlet::spawn(move || {
                let _guard = guard;
                greenlet::sleep(LONG);
            });
            let b = greenlet::spawn(|| {
                greenlet::sleep(LONG);
                2
            });
            JOINER.with(|j| *j.borrow_mut() = Some(JoinOnDrop(Some(b), r)));
            greenlet::yield_now();
        })
        .join()
        .unwrap();
        println!("{:?}", record.lock().unwrap());
        return;
    }
    util::assert_child_passes(
        "joining_a_greenlet_torn_down_at_thread_exit_reports_killed",
        BOUND,
        r#"["joined: killed", "joined: killed"]"#,
    );
}

// ---- after the teardown -------------------------------------------------------

greenlet::greenlet_local! {
    static GREETING: RefCell<String> = RefCell::new(String::from("hello"));
    static READS_ANOTHER: ReadsAnother = ReadsAnother;
}

/// A greenlet-local value whose destructor reads another greenlet-local.
struct ReadsAnother;

impl Drop for ReadsAnother {
    fn drop(&mut self) {
        let greeting = GREETING.with(|g| g.borrow().clone());
        println!("a local's destructor read another: {greeting}");
    }
}

/// Uses the library from a `thread_local!` destructor that runs after the
/// hub's teardown.
struct AfterTheHub {
    record: Record,
    stream: greenlet::net::TcpStream,
    timeout: Option<greenlet::Timeout>,
}

impl Drop for AfterTheHub {
    fn drop(&mut self) {
        let r = &self.record;
        drop(self.timeout.take()); // armed before the teardown
        let g = greenlet::spawn(|| 5);
        note(r, format!("spawn: {}", outcome(&g.join())));
        let started = Instant::now();
        greenlet::sleep(Duration::from_millis(3));
        note(
            r,
            format!("slept: {}", started.elapsed() >= Duration::from_millis(3)),
        );
        greenlet::yield_now();
        let within = greenlet::with_timeout(Duration::from_secs(5), || 6);
        note(r, format!("with_timeout: {within:?}"));
        GREETING.with(|g| g.borrow_mut().push_str(", again"));
        note(
            r,
            format!("local: {}", GREETING.with(|g| g.borrow().clone())),
        );
        let sent = self
            .stream
            .write_all(b"late bytes")
            .and_then(|()| self.stream.flush());
        note(r, format!("send: {sent:?}"));
        let mut reply = [0; 4];
        let got = self.stream.read_exact(&mut reply).map(|()| reply);
        note(
            r,
            format!(
                "receive: {:?}",
                got.map(|b| String::from_utf8_lossy(&b).into_owned())
            ),
        );
    }
}

thread_local! {
    static AFTER: RefCell<Option<AfterTheHub>> = const { RefCell::new(None) };
}

/// Thread-local destructors that run after the hub's teardown used to abort
/// when they spawned, slept, read a greenlet-local from another one's
/// destructor, or used a green socket kept in a `thread_local!` (its token
/// indexed the replaced reactor: "invalid key"). Each works now: a greenlet
/// spawned then is killed at once, a sleep blocks the thread, a socket
/// waits with a poller of its own.
#[test]
fn thread_local_destructors_after_the_hubs_teardown_use_the_library() {
    if util::is_child() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let peer = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            conn.set_read_timeout(Some(Duration::from_secs(30)))
                .unwrap();
            let mut got = [0; 10];
            conn.read_exact(&mut got).unwrap();
            std::thread::sleep(Duration::from_millis(20)); // the reader waits
            conn.write_all(b"pong").unwrap();
            String::from_utf8_lossy(&got).into_owned()
        });
        let record: Record = Arc::default();
        let r = record.clone();
        std::thread::spawn(move || {
            AFTER.with(|a| a.borrow_mut().take()); // registered before the hub
            let stream = greenlet::net::TcpStream::connect(addr).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(30)))
                .unwrap();
            let timeout = Some(greenlet::Timeout::start(LONG));
            READS_ANOTHER.with(|_| ()); // a main-context local, dropped at teardown
            greenlet::spawn(|| greenlet::sleep(LONG));
            greenlet::yield_now();
            AFTER.with(|a| {
                *a.borrow_mut() = Some(AfterTheHub {
                    record: r,
                    stream,
                    timeout,
                })
            });
        })
        .join()
        .unwrap();
        println!("peer got: {}", peer.join().unwrap());
        for line in record.lock().unwrap().iter() {
            println!("{line}");
        }
        return;
    }
    let stdout = util::assert_child_passes(
        "thread_local_destructors_after_the_hubs_teardown_use_the_library",
        BOUND,
        "peer got: ",
    );
    for line in [
        "a local's destructor read another: hello",
        "spawn: killed",
        "slept: true",
        "with_timeout: Ok(6)",
        "local: hello",
        "send: Ok(())",
        r#"receive: Ok("pong")"#,
        "peer got: late bytes",
    ] {
        assert!(stdout.contains(line), "no {line:?} in\n{stdout}");
    }
}
