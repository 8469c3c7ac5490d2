//! `greenlet::server` and the accept loops against real loopback clients
//! (std threads): running out of descriptors, graceful stops from a
//! greenlet and from another thread, connection limits, and one hub per
//! core. Every wait is bounded; the assertions are on counts, not times.

mod util;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::thread;
use std::time::Duration;

use greenlet::net::{TcpListener, TcpStream, UnixListener};
use greenlet::server::{Builder, Listener, StreamServer};
use util::{SleepTicker, assert_child_passes, is_child};

/// Clients of the descriptor-starvation tests.
const CLIENTS: usize = 50;
/// Ping-pongs each of them does before it closes.
const ROUNDS: usize = 20;
/// Descriptors left free above the highest open one: a few connections at
/// a time can be accepted.
const HEADROOM: u64 = 4;

/// Echoes 5-byte messages until the peer closes.
fn echo(mut stream: TcpStream, _peer: SocketAddr) {
    let mut buf = [0u8; 5];
    while stream.read_exact(&mut buf).is_ok() {
        if stream.write_all(&buf).is_err() {
            return;
        }
    }
}

/// Lowers this process's soft `RLIMIT_NOFILE` so that exactly [`HEADROOM`]
/// descriptor numbers are free below it (the open ones above it stay
/// valid; new ones must be below it).
fn lower_descriptor_limit() {
    let open: std::collections::BTreeSet<u64> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u64>().ok())
        .collect();
    // (The listing's own descriptor, closed again, makes one more free.)
    let free = (0u64..).filter(|fd| !open.contains(fd));
    let highest_free = free.take(HEADROOM as usize + 1).last().unwrap();
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid rlimit for the kernel to fill.
    assert_eq!(
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
        0
    );
    limit.rlim_cur = highest_free; // the numbers below it: HEADROOM free ones

    // SAFETY: `limit` is a valid rlimit, read above and lowered.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
}

/// Connects [`CLIENTS`] std clients with `connect` while descriptors are
/// plentiful (the backlog holds them), lowers the descriptor limit, and
/// starts a thread per client that does [`ROUNDS`] ping-pongs, then closes.
/// Returns the count of clients that finished every round.
fn connect_clients_then_starve<S>(connect: impl Fn() -> S) -> Arc<AtomicUsize>
where
    S: Read + Write + Send + 'static,
{
    let done = Arc::new(AtomicUsize::new(0));
    let clients: Vec<S> = (0..CLIENTS).map(|_| connect()).collect();
    for mut client in clients {
        let done = done.clone();
        thread::spawn(move || {
            let mut buf = [0u8; 5];
            for _ in 0..ROUNDS {
                client.write_all(b"ping\n").unwrap();
                client.read_exact(&mut buf).unwrap();
                assert_eq!(&buf, b"ping\n");
            }
            done.fetch_add(1, SeqCst);
        });
    }
    lower_descriptor_limit();
    done
}

/// A std TCP client of `addr` that gives up reading after a minute.
fn tcp_client(addr: SocketAddr) -> impl Fn() -> std::net::TcpStream {
    move || {
        let client = std::net::TcpStream::connect(addr).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        client
    }
}

/// A std Unix client of `path` that gives up reading after a minute.
fn unix_client(path: &std::path::Path) -> impl Fn() -> std::os::unix::net::UnixStream {
    let path = path.to_path_buf();
    move || {
        let client = std::os::unix::net::UnixStream::connect(&path).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        client
    }
}

/// Runs the hub until every client is done (at most about 60 s).
fn wait_for_clients(done: &AtomicUsize) {
    for _ in 0..6000 {
        if done.load(SeqCst) == CLIENTS {
            return;
        }
        greenlet::sleep(Duration::from_millis(10));
    }
    panic!(
        "only {} of {CLIENTS} clients were served",
        done.load(SeqCst)
    );
}

/// Serves [`CLIENTS`] clients made by `connect` with `server` while
/// descriptors run out (in a child: see the callers), then checks the
/// back-off's warnings, each of which must name `named`, and that a ticker
/// ran meanwhile.
fn serve_while_starved<L, S>(server: StreamServer<L>, connect: impl Fn() -> S, named: &str)
where
    L: Listener,
    S: Read + Write + Send + 'static,
{
    util::capture_logs();
    let stopper = server.stopper(); // the hub's eventfd, before the limit
    let ticker = SleepTicker::spawn(Duration::from_millis(1), usize::MAX);
    let done = connect_clients_then_starve(connect);
    server.start();
    wait_for_clients(&done);
    stopper.stop(Duration::from_secs(5));
    let ticks = ticker.stop();

    let episodes = util::logged(log::Level::Warn, "backing off from 10 ms");
    let recoveries = util::logged(log::Level::Warn, "accepts again, after");
    println!(
        "served every client; {ticks} ticks; {} episodes, first: {:?}",
        episodes.len(),
        episodes.first()
    );
    assert!(!episodes.is_empty(), "the server ran out of descriptors");
    assert!(
        episodes
            .iter()
            .all(|e| e.contains("Too many open files") && e.contains(named)),
        "{episodes:?}"
    );
    // Each episode is warned once when it begins and once when an accept
    // succeeds again. The last may never end: Linux's accept takes a
    // descriptor before it looks at the queue, so it can fail with EMFILE
    // once the queue is empty too, and nothing is accepted afterwards.
    assert!(
        recoveries.len() <= episodes.len() && episodes.len() <= recoveries.len() + 1,
        "each episode warned once at each end: {} episodes, {} recoveries",
        episodes.len(),
        recoveries.len()
    );
    assert!(ticks >= 10, "the ticker ran meanwhile: {ticks} ticks");
}

#[test]
fn stream_server_out_of_descriptors_keeps_serving_and_recovers() {
    if !is_child() {
        let out = assert_child_passes(
            "stream_server_out_of_descriptors_keeps_serving_and_recovers",
            Duration::from_secs(120),
            "served every client",
        );
        println!("{out}");
        return;
    }
    let server = StreamServer::bind("127.0.0.1:0", echo).unwrap();
    let addr = server.local_addr().unwrap();
    serve_while_starved(server, tcp_client(addr), &addr.to_string());
}

#[test]
fn plain_incoming_loop_out_of_descriptors_does_not_starve_the_hub() {
    if !is_child() {
        let out = assert_child_passes(
            "plain_incoming_loop_out_of_descriptors_does_not_starve_the_hub",
            Duration::from_secs(120),
            "served every client",
        );
        println!("{out}");
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let ticker = SleepTicker::spawn(Duration::from_millis(1), usize::MAX);
    let errors = Arc::new(AtomicUsize::new(0));
    let ticks_while_failing = Arc::new(AtomicUsize::new(0));
    let done = connect_clients_then_starve(tcp_client(addr));
    let (errs, counter, failing) = (
        errors.clone(),
        ticker.counter(),
        ticks_while_failing.clone(),
    );
    // std's loop, as users write it: log the error, accept on.
    let acceptor = greenlet::spawn(move || {
        let mut ticks_at_first_error = None;
        for stream in listener.incoming() {
            match stream {
                Ok(stream) => {
                    greenlet::spawn(move || echo(stream, addr));
                }
                Err(e) => {
                    assert_eq!(e.raw_os_error(), Some(libc::EMFILE), "{e}");
                    errs.fetch_add(1, SeqCst);
                    let now = counter.load(SeqCst);
                    let first = *ticks_at_first_error.get_or_insert(now);
                    failing.store(now - first, SeqCst);
                }
            }
        }
    });
    wait_for_clients(&done);
    acceptor.kill();
    let ticks = ticker.stop();
    let (errors, failing) = (errors.load(SeqCst), ticks_while_failing.load(SeqCst));
    println!("served every client; {errors} accept errors; {ticks} ticks, {failing} while failing");
    assert!(errors > 0, "the loop ran out of descriptors");
    assert!(failing > 0, "the ticker ticked between accept errors");
}

#[test]
fn plain_unix_incoming_loop_out_of_descriptors_does_not_starve_the_hub() {
    if !is_child() {
        let out = assert_child_passes(
            "plain_unix_incoming_loop_out_of_descriptors_does_not_starve_the_hub",
            Duration::from_secs(120),
            "served every client",
        );
        println!("{out}");
        return;
    }
    let path = std::env::temp_dir().join(format!(
        "greenlet-server-emfile-{}.sock",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).unwrap();
    let ticker = SleepTicker::spawn(Duration::from_millis(1), usize::MAX);
    let errors = Arc::new(AtomicUsize::new(0));
    let done = connect_clients_then_starve(unix_client(&path));
    let errs = errors.clone();
    let acceptor = greenlet::spawn(move || {
        for stream in listener.incoming() {
            match stream {
                Ok(stream) => {
                    greenlet::spawn(move || {
                        let mut buf = [0u8; 5];
                        while (&stream).read_exact(&mut buf).is_ok() {
                            if (&stream).write_all(&buf).is_err() {
                                return;
                            }
                        }
                    });
                }
                Err(e) => {
                    assert_eq!(e.raw_os_error(), Some(libc::EMFILE), "{e}");
                    errs.fetch_add(1, SeqCst);
                }
            }
        }
    });
    wait_for_clients(&done);
    acceptor.kill();
    let ticks = ticker.stop();
    let _ = std::fs::remove_file(&path);
    let errors = errors.load(SeqCst);
    println!("served every client; {errors} accept errors; {ticks} ticks");
    assert!(errors > 0, "the loop ran out of descriptors");
}

/// A handler for the stop tests: reads one request, `fast` (done in
/// 100 ms) or `slow` (never done), counts it as started, and replies
/// `done`.
fn fast_or_slow(started: Arc<AtomicUsize>) -> impl Fn(TcpStream, SocketAddr) + Clone {
    move |mut stream: TcpStream, _peer| {
        let mut request = [0u8; 4];
        if stream.read_exact(&mut request).is_err() {
            return;
        }
        started.fetch_add(1, SeqCst);
        let work = match &request {
            b"fast" => Duration::from_millis(100),
            _ => Duration::from_secs(3600),
        };
        greenlet::sleep(work);
        let _ = stream.write_all(b"done");
    }
}

/// Sends `request` from a std thread; the thread returns the whole reply
/// (empty if the server closed without one).
fn std_request(addr: SocketAddr, request: &'static [u8]) -> thread::JoinHandle<String> {
    let mut client = std::net::TcpStream::connect(addr).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    thread::spawn(move || {
        client.write_all(request).unwrap();
        let mut reply = String::new();
        let _ = client.read_to_string(&mut reply); // a reset is "no reply"
        reply
    })
}

#[test]
fn stop_from_a_greenlet_finishes_in_flight_requests_and_kills_stragglers() {
    let started = Arc::new(AtomicUsize::new(0));
    let server = StreamServer::bind("127.0.0.1:0", fast_or_slow(started.clone())).unwrap();
    let addr = server.local_addr().unwrap();
    server.start();
    let fast = greenlet::spawn(move || {
        let mut client = TcpStream::connect(addr).unwrap();
        client.write_all(b"fast").unwrap();
        std::io::read_to_string(client).unwrap()
    });
    let slow = greenlet::spawn(move || {
        let mut client = TcpStream::connect(addr).unwrap();
        client.write_all(b"slow").unwrap();
        std::io::read_to_string(client).unwrap_or_default()
    });
    for _ in 0..1000 {
        if started.load(SeqCst) == 2 {
            break;
        }
        greenlet::sleep(Duration::from_millis(5));
    }
    assert_eq!(started.load(SeqCst), 2, "both requests in flight");
    assert_eq!(server.connections(), 2);

    let stopper = greenlet::spawn(move || {
        server.stop(Duration::from_millis(500));
        server
    });
    let server = stopper.join().unwrap();
    assert!(server.is_stopped());
    assert_eq!(server.connections(), 0, "the straggler was killed");
    assert_eq!(
        fast.join().unwrap(),
        "done",
        "the in-flight request finished"
    );
    assert_eq!(
        slow.join().unwrap(),
        "",
        "the straggler's connection closed unanswered"
    );
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "new connections are refused"
    );
}

#[test]
fn stop_from_another_thread_while_serving_forever() {
    let started = Arc::new(AtomicUsize::new(0));
    let server = StreamServer::bind("127.0.0.1:0", fast_or_slow(started.clone())).unwrap();
    let addr = server.local_addr().unwrap();
    let stopper = server.stopper();
    let other = thread::spawn(move || {
        let fast = std_request(addr, b"fast");
        let slow = std_request(addr, b"slow");
        for _ in 0..1000 {
            if started.load(SeqCst) == 2 {
                break;
            }
            thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(started.load(SeqCst), 2, "both requests in flight");
        stopper.stop(Duration::from_millis(500)); // returns once stopped
        let refused = std::net::TcpStream::connect(addr).is_err();
        (fast.join().unwrap(), slow.join().unwrap(), refused)
    });
    server.serve_forever(); // until the other thread stops it
    assert!(server.is_stopped());
    assert_eq!(server.connections(), 0);
    let (fast, slow, refused) = other.join().unwrap();
    assert_eq!(fast, "done", "the in-flight request finished");
    assert_eq!(slow, "", "the straggler's connection closed unanswered");
    assert!(refused, "new connections are refused");
}

#[test]
fn a_handler_may_stop_its_own_server() {
    let server = Arc::new(std::sync::OnceLock::new());
    let stopper = server.clone();
    let s = StreamServer::bind("127.0.0.1:0", move |mut stream: TcpStream, _peer| {
        let _ = stream.write_all(b"bye");
        let stopper: &greenlet::server::Stopper = stopper.get().unwrap();
        stopper.stop(Duration::from_secs(5));
    })
    .unwrap();
    server.set(s.stopper()).unwrap();
    let addr = s.local_addr().unwrap();
    let client =
        greenlet::spawn(move || std::io::read_to_string(TcpStream::connect(addr).unwrap()));
    s.serve_forever();
    assert!(s.is_stopped());
    assert_eq!(client.join().unwrap().unwrap(), "bye");
}

#[test]
fn max_connections_limits_live_handlers_and_serves_every_client() {
    const LIMIT: usize = 2;
    const N: usize = 8;
    let live = std::rc::Rc::new(std::cell::Cell::new(0usize));
    let peak = std::rc::Rc::new(std::cell::Cell::new(0usize));
    let (l, p) = (live.clone(), peak.clone());
    let server = StreamServer::bind("127.0.0.1:0", move |mut stream: TcpStream, _peer| {
        l.set(l.get() + 1);
        p.set(p.get().max(l.get()));
        greenlet::sleep(Duration::from_millis(20));
        let _ = stream.write_all(b"ok");
        l.set(l.get() - 1);
    })
    .unwrap()
    .max_connections(LIMIT);
    let addr = server.local_addr().unwrap();
    server.start();
    let clients: Vec<_> = (0..N)
        .map(|_| {
            greenlet::spawn(move || std::io::read_to_string(TcpStream::connect(addr).unwrap()))
        })
        .collect();
    for client in clients {
        assert_eq!(client.join().unwrap().unwrap(), "ok");
    }
    server.stop(Duration::from_secs(1));
    assert_eq!(peak.get(), LIMIT, "at most {LIMIT} handlers at once");
}

#[test]
fn two_threads_both_serve_and_stop_stops_both() {
    let server = Builder::new("127.0.0.1:0".parse().unwrap())
        .threads(2)
        .spawn(|mut stream: TcpStream, _peer| {
            let name = thread::current().name().unwrap_or("?").to_string();
            let _ = stream.write_all(name.as_bytes());
        })
        .unwrap();
    let addr = server.local_addr();
    let mut seen = std::collections::BTreeMap::<String, usize>::new();
    for _ in 0..1000 {
        let client = std::net::TcpStream::connect(addr).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        *seen
            .entry(std::io::read_to_string(client).unwrap())
            .or_default() += 1;
        if seen.len() == 2 && seen.values().all(|&n| n >= 5) {
            break;
        }
    }
    println!("connections per thread: {seen:?}");
    assert_eq!(
        seen.keys().collect::<Vec<_>>(),
        ["greenlet-server-0", "greenlet-server-1"],
        "both threads served"
    );
    server.stop(Duration::from_secs(1));
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "both listeners closed"
    );
    server.join().unwrap();
}

#[test]
fn a_server_left_running_at_thread_exit_is_torn_down_quietly() {
    let addr = thread::spawn(|| {
        let server = StreamServer::bind("127.0.0.1:0", echo).unwrap();
        server.start();
        let addr = server.local_addr().unwrap();
        let client = greenlet::spawn(move || {
            let mut stream = TcpStream::connect(addr).unwrap();
            stream.write_all(b"ping\n").unwrap();
            let mut buf = [0u8; 5];
            stream.read_exact(&mut buf).unwrap();
            buf
        });
        assert_eq!(&client.join().unwrap(), b"ping\n");
        drop(server); // still serving: the thread's exit ends it
        addr
    })
    .join()
    .unwrap();
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "the listener closed with its thread"
    );
}

#[test]
fn a_stop_from_another_thread_before_the_start_stops_the_server() {
    let server = StreamServer::bind("127.0.0.1:0", echo).unwrap();
    let addr = server.local_addr().unwrap();
    let stopper = server.stopper();
    let other = thread::spawn(move || stopper.stop(Duration::ZERO));
    // The stop runs on this thread's hub: run it (a std join would not).
    for _ in 0..1000 {
        if server.is_stopped() {
            break;
        }
        greenlet::sleep(Duration::from_millis(5));
    }
    assert!(server.is_stopped(), "stopped before it started");
    other.join().unwrap();
    server.serve_forever(); // returns at once
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "the listener is closed"
    );
}

#[test]
fn an_unstarted_server_dropped_leaves_nothing_to_stop() {
    let server = StreamServer::bind("127.0.0.1:0", echo).unwrap();
    let stopper = server.stopper();
    drop(server);
    stopper.stop(Duration::ZERO); // a no-op, on this thread or another
    let other = thread::spawn(move || stopper.stop(Duration::ZERO));
    for _ in 0..1000 {
        if other.is_finished() {
            break;
        }
        greenlet::sleep(Duration::from_millis(5)); // runs the stop
    }
    assert!(other.is_finished());
    other.join().unwrap();
}

/// A fresh Unix socket path for a test (removed first).
fn unix_path(tag: &str) -> std::path::PathBuf {
    let path =
        std::env::temp_dir().join(format!("greenlet-server-{tag}-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

/// A `StreamServer` on a Unix listener: std clients on threads are each
/// served by a handler greenlet, at most `LIMIT` at once; after `stop`,
/// connecting is refused.
#[test]
fn a_unix_stream_server_serves_std_clients_and_stops() {
    const LIMIT: usize = 3;
    const N: usize = 12;
    let path = unix_path("serve");
    let live = std::rc::Rc::new(std::cell::Cell::new(0usize));
    let peak = std::rc::Rc::new(std::cell::Cell::new(0usize));
    let (l, p) = (live.clone(), peak.clone());
    let handler = move |mut stream: greenlet::net::UnixStream, _peer| {
        l.set(l.get() + 1);
        p.set(p.get().max(l.get()));
        let mut buf = [0u8; 5];
        if stream.read_exact(&mut buf).is_ok() {
            greenlet::sleep(Duration::from_millis(10));
            let _ = stream.write_all(&buf);
        }
        l.set(l.get() - 1);
    };
    let server =
        StreamServer::new(UnixListener::bind(&path).unwrap(), handler).max_connections(LIMIT);
    assert_eq!(
        server.local_addr().unwrap().as_pathname(),
        Some(path.as_path())
    );
    server.start();
    let clients: Vec<_> = (0..N)
        .map(|i| {
            let path = path.clone();
            thread::spawn(move || {
                let mut c = std::os::unix::net::UnixStream::connect(&path).unwrap();
                c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                util::echo_numbered(&mut c, i);
            })
        })
        .collect();
    // The hub serves while the clients' threads finish (about 1 s at most).
    for _ in 0..3000 {
        if clients.iter().all(|c| c.is_finished()) {
            break;
        }
        greenlet::sleep(Duration::from_millis(1));
    }
    for client in clients {
        client.join().unwrap();
    }
    server.stop(Duration::from_secs(1));
    assert!(server.is_stopped());
    assert_eq!(peak.get(), LIMIT, "at most {LIMIT} handlers at once");
    let refused = std::os::unix::net::UnixStream::connect(&path).unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    std::fs::remove_file(&path).unwrap();
}

/// As `stream_server_out_of_descriptors_keeps_serving_and_recovers`, on a
/// Unix listener: the same back-off, logged with the socket's path.
#[test]
fn a_unix_stream_server_out_of_descriptors_keeps_serving() {
    if !is_child() {
        let out = assert_child_passes(
            "a_unix_stream_server_out_of_descriptors_keeps_serving",
            Duration::from_secs(120),
            "served every client",
        );
        println!("{out}");
        return;
    }
    let path = unix_path("emfile-server");
    let echo = |stream: greenlet::net::UnixStream, _peer| {
        let mut buf = [0u8; 5];
        while (&stream).read_exact(&mut buf).is_ok() {
            if (&stream).write_all(&buf).is_err() {
                return;
            }
        }
    };
    let server = StreamServer::new(UnixListener::bind(&path).unwrap(), echo);
    serve_while_starved(server, unix_client(&path), &path.display().to_string());
    let _ = std::fs::remove_file(&path);
}
