//! Green sockets on real loopback connections (127.0.0.1, port 0), with real
//! peers (std threads) where it matters. Every loop is bounded.

mod util;

use std::cell::Cell;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::Shutdown;
use std::rc::Rc;
use std::time::Duration;

use greenlet::net::{TcpListener, TcpStream};

fn bind_local() -> (TcpListener, std::net::SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

#[test]
fn echo_200_concurrent_clients_100_messages_each() {
    let (listener, addr) = bind_local();
    let server = util::spawn_echo_server(200, move || listener.accept().unwrap().0);
    let clients: Vec<_> = (0..200u32)
        .map(|c| {
            greenlet::spawn(move || {
                let stream = TcpStream::connect(addr).unwrap();
                let mut reader = BufReader::new(&stream);
                let mut line = String::new();
                for m in 0..100u32 {
                    let msg = format!("client {c} message {m} {}\n", "x".repeat((m % 7) as usize));
                    (&stream).write_all(msg.as_bytes()).unwrap();
                    line.clear();
                    reader.read_line(&mut line).unwrap();
                    assert_eq!(line, msg, "echoed byte for byte");
                }
                stream.shutdown(Shutdown::Write).unwrap();
                100
            })
        })
        .collect();
    let total: u32 = greenlet::joinall(clients)
        .into_iter()
        .map(Result::unwrap)
        .sum();
    assert_eq!(total, 200 * 100);
    server.join().unwrap();
}

#[test]
fn blocking_reads_and_writes_from_the_main_context() {
    let (listener, addr) = bind_local();
    let server = util::spawn_echo_server(1, move || listener.accept().unwrap().0);
    let mut stream = TcpStream::connect(addr).unwrap(); // main drives the hub
    for round in 0..10u8 {
        stream.write_all(&[round; 1000]).unwrap();
        let mut back = [0u8; 1000];
        stream.read_exact(&mut back).unwrap();
        assert!(back.iter().all(|&b| b == round));
    }
    drop(stream);
    server.join().unwrap();
}

#[test]
fn a_std_thread_peer_talks_to_a_greenlet_server() {
    let (listener, addr) = bind_local();
    let peer = std::thread::spawn(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.write_all(b"from a real thread\n").unwrap();
        let mut reply = String::new();
        BufReader::new(&s).read_line(&mut reply).unwrap();
        reply
    });
    let (stream, _) = listener.accept().unwrap();
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line).unwrap();
    (&stream).write_all(line.to_uppercase().as_bytes()).unwrap();
    assert_eq!(peer.join().unwrap(), "FROM A REAL THREAD\n");
}

#[test]
fn read_and_write_timeouts_return_timed_out() {
    let (listener, addr) = bind_local();
    let client = TcpStream::connect(addr).unwrap();
    let (_server, _) = listener.accept().unwrap(); // never reads or writes
    client
        .set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let err = (&client).read(&mut [0; 16]).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::TimedOut);

    // Fill the send and receive buffers until a write must wait.
    client
        .set_write_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let chunk = vec![7u8; 1 << 16];
    let mut result = Ok(0);
    for _ in 0..10_000 {
        result = (&client).write(&chunk);
        if result.is_err() {
            break;
        }
    }
    assert_eq!(result.unwrap_err().kind(), io::ErrorKind::TimedOut);
    assert!(
        client.set_read_timeout(Some(Duration::ZERO)).is_err(),
        "zero is invalid, as std"
    );
}

#[test]
fn timeouts_do_not_block_other_greenlets() {
    let (listener, addr) = bind_local();
    let ticks = Rc::new(Cell::new(0));
    let t = ticks.clone();
    let ticker = greenlet::spawn(move || {
        for _ in 0..5 {
            greenlet::sleep(Duration::from_millis(2));
            t.set(t.get() + 1);
        }
    });
    let client = TcpStream::connect(addr).unwrap();
    let (_server, _) = listener.accept().unwrap();
    client
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    assert!((&client).read(&mut [0; 1]).is_err());
    ticker.join().unwrap();
    assert_eq!(
        ticks.get(),
        5,
        "the ticker ran while main waited on the socket"
    );
}

#[test]
fn half_close_lets_the_peer_read_eof_then_reply() {
    let (listener, addr) = bind_local();
    let server = greenlet::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut all = Vec::new();
        stream.read_to_end(&mut all).unwrap(); // until the client's FIN
        stream
            .write_all(format!("got {} bytes", all.len()).as_bytes())
            .unwrap();
    });
    let mut client = TcpStream::connect(addr).unwrap();
    client.write_all(&[1; 3000]).unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    let mut reply = String::new();
    client.read_to_string(&mut reply).unwrap();
    assert_eq!(reply, "got 3000 bytes");
    server.join().unwrap();
}

#[test]
fn a_peer_that_closes_with_unread_data_resets_the_connection() {
    let (listener, addr) = bind_local();
    let mut client = TcpStream::connect(addr).unwrap();
    let (server, _) = listener.accept().unwrap();
    client.write_all(b"never read").unwrap();
    greenlet::sleep(Duration::from_millis(5)); // let the bytes arrive
    drop(server); // closing with unread data sends RST
    let err = client.read(&mut [0; 16]).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
}

#[test]
fn writing_to_a_closed_peer_fails_with_broken_pipe_not_sigpipe() {
    let (listener, addr) = bind_local();
    let mut client = TcpStream::connect(addr).unwrap();
    let (server, _) = listener.accept().unwrap();
    drop(server);
    let mut kinds = Vec::new();
    for _ in 0..100 {
        match client.write_all(b"are you there?") {
            Ok(()) => greenlet::sleep(Duration::from_millis(1)), // the RST is on its way
            Err(e) => {
                kinds.push(e.kind());
                if e.kind() == io::ErrorKind::BrokenPipe {
                    break;
                }
            }
        }
    }
    assert_eq!(kinds.last(), Some(&io::ErrorKind::BrokenPipe), "{kinds:?}");
}

#[test]
fn a_16_mib_transfer_with_partial_writes_arrives_intact() {
    const SIZE: usize = 16 << 20;
    let data: Vec<u8> = (0..SIZE).map(|i| (i * 7 + i / 4096) as u8).collect();
    let expected_sum: u64 = data.iter().map(|&b| u64::from(b)).sum();
    let (listener, addr) = bind_local();
    let reader = greenlet::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut got = Vec::with_capacity(SIZE);
        stream.read_to_end(&mut got).unwrap();
        got
    });
    let mut client = TcpStream::connect(addr).unwrap();
    let (mut written, mut partial) = (0, 0);
    while written < SIZE {
        let n = client.write(&data[written..]).unwrap();
        if n < SIZE - written {
            partial += 1;
        }
        written += n;
    }
    client.shutdown(Shutdown::Write).unwrap();
    let got = reader.join().unwrap();
    assert!(partial > 0, "a 16 MiB write cannot go out in one piece");
    assert_eq!(got.len(), SIZE);
    assert_eq!(got.iter().map(|&b| u64::from(b)).sum::<u64>(), expected_sum);
    assert!(got == data);
}

#[test]
fn try_clone_lets_one_greenlet_read_while_another_writes() {
    let (listener, addr) = bind_local();
    let server = util::spawn_echo_server(1, move || listener.accept().unwrap().0);
    let stream = TcpStream::connect(addr).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let w = greenlet::spawn(move || {
        for i in 0..50u8 {
            writer.write_all(&[i; 100]).unwrap();
            greenlet::yield_now();
        }
        writer.shutdown(Shutdown::Write).unwrap();
    });
    let mut all = Vec::new();
    (&stream).read_to_end(&mut all).unwrap();
    w.join().unwrap();
    assert_eq!(all.len(), 5000);
    assert!(
        all.chunks(100)
            .enumerate()
            .all(|(i, c)| c.iter().all(|&b| b == i as u8))
    );
    server.join().unwrap();
}

#[test]
fn a_shutdown_wakes_a_greenlet_blocked_reading_a_clone() {
    let (listener, addr) = bind_local();
    let stream = TcpStream::connect(addr).unwrap();
    let (_server, _) = listener.accept().unwrap();
    let reader = stream.try_clone().unwrap();
    let g = greenlet::spawn(move || (&reader).read(&mut [0; 8]));
    greenlet::yield_now(); // it blocks on the read
    assert!(!g.is_finished());
    stream.shutdown(Shutdown::Both).unwrap();
    assert_eq!(
        g.join().unwrap().unwrap(),
        0,
        "woken with end of stream, not left hanging"
    );
}

#[test]
fn connecting_to_a_closed_port_is_refused_and_timeouts_are_checked() {
    let (listener, addr) = bind_local();
    drop(listener);
    let err = TcpStream::connect(addr).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
    let err = TcpStream::connect_timeout(&addr, Duration::ZERO).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    // `localhost` resolves without blocking the hub.
    let (listener, addr) = bind_local();
    let s = TcpStream::connect(("localhost", addr.port())).unwrap();
    let (_accepted, _) = listener.accept().unwrap();
    assert!(s.peer_addr().unwrap().ip().is_loopback());
}

#[test]
fn wait_readable_on_a_pipe() {
    let (reader, mut writer) = io::pipe().unwrap();
    let w = greenlet::spawn(move || {
        greenlet::sleep(Duration::from_millis(2));
        writer.write_all(b"x").unwrap();
    });
    greenlet::io::wait_readable(&reader, Some(Duration::from_secs(10))).unwrap();
    w.join().unwrap();
    let mut byte = [0];
    (&reader).read_exact(&mut byte).unwrap();
    assert_eq!(&byte, b"x");
    // The writer is gone: end of file counts as readable.
    greenlet::io::wait_readable(&reader, Some(Duration::from_secs(10))).unwrap();

    // A pipe whose writer stays open but silent times out.
    let (quiet, _open_writer) = io::pipe().unwrap();
    let err = greenlet::io::wait_readable(&quiet, Some(Duration::from_millis(5))).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::TimedOut);
}

#[test]
fn conversions_to_and_from_std() {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = std_listener.local_addr().unwrap();
    let listener = TcpListener::from(std_listener);
    let std_client = std::net::TcpStream::connect(addr).unwrap();
    let mut client = TcpStream::from(std_client);
    let (server, _) = listener.accept().unwrap();
    client.write_all(b"ok").unwrap();
    let mut std_server = server.into_std().unwrap(); // blocking again
    let mut got = [0; 2];
    std_server.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"ok");
    let clone = client.try_clone().unwrap();
    assert!(
        client.into_std().is_err(),
        "a clone still shares the registration"
    );
    assert!(clone.into_std().is_ok());
    assert!(listener.into_std().is_ok());
}

/// A greenlet whose socket is ready runs within two turns of the ready
/// queue, even while 1,000 greenlets spin on `yield_now`: the loop polls
/// I/O at every turn boundary while any greenlet waits on I/O.
#[test]
fn a_ready_socket_is_served_within_two_turns_among_1000_spinners() {
    const SPINNERS: u64 = 1000;
    let (listener, addr) = bind_local();
    let mut client = TcpStream::connect(addr).unwrap();
    let (server, _) = listener.accept().unwrap();
    let yields = Rc::new(Cell::new(0u64));
    let stop = Rc::new(Cell::new(false));
    let written_at = Rc::new(Cell::new(None));
    let spinners: Vec<_> = (0..SPINNERS)
        .map(|_| {
            let (yields, stop) = (yields.clone(), stop.clone());
            greenlet::spawn(move || {
                for _ in 0..100_000 {
                    if stop.get() {
                        break;
                    }
                    yields.set(yields.get() + 1);
                    greenlet::yield_now();
                }
            })
        })
        .collect();
    let (y, s) = (yields.clone(), stop.clone());
    let reader = greenlet::spawn(move || {
        let mut byte = [0];
        (&server).read_exact(&mut byte).unwrap();
        let read_at = y.get();
        s.set(true);
        read_at
    });
    let (y, w) = (yields.clone(), written_at.clone());
    let writer = greenlet::spawn(move || {
        for _ in 0..3 * SPINNERS {
            greenlet::yield_now(); // a few turns of spinning first
        }
        w.set(Some(y.get()));
        client.write_all(b"!").unwrap();
    });
    let read_at = reader.join().unwrap();
    writer.join().unwrap();
    greenlet::joinall(spinners);
    let written_at = written_at.get().unwrap();
    let waited = read_at - written_at;
    assert!(
        waited <= 2 * (SPINNERS + 2),
        "the reader waited {waited} spinner yields (bound: two turns)"
    );
}

/// Re-executed in a child so that no other test's descriptors are counted.
#[test]
fn ten_thousand_connect_close_cycles_leak_no_descriptors() {
    fn open_fds() -> usize {
        std::fs::read_dir("/proc/self/fd").unwrap().count()
    }
    if util::is_child() {
        let (listener, addr) = bind_local();
        let server = greenlet::spawn(move || {
            for _ in 0..10_000 {
                let (s, _) = listener.accept().unwrap();
                drop(s);
            }
        });
        let before = open_fds();
        for _ in 0..10_000 {
            let s = TcpStream::connect(addr).unwrap();
            drop(s);
            greenlet::yield_now(); // let the server accept, as a real client would wait
        }
        server.join().unwrap();
        let after = open_fds();
        println!("open descriptors {before} -> {after}");
        assert!(after <= before, "descriptors leaked: {before} -> {after}");
        return;
    }
    let out = util::run_in_child("ten_thousand_connect_close_cycles_leak_no_descriptors", &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("open descriptors"), "{stdout}");
}

/// Data and the peer's FIN arriving together come as one edge: the short
/// read that drains the data must not leave the following read waiting for
/// an edge that never comes (end of stream is a state, not an event). The
/// read timeout turns a regression into an error instead of a hang.
#[test]
fn a_short_read_before_a_pending_eof_does_not_hang() {
    let (listener, addr) = bind_local();
    let mut client = TcpStream::connect(addr).unwrap();
    let (server, _) = listener.accept().unwrap();
    server
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    client.write_all(b"last words").unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    greenlet::sleep(Duration::from_millis(5)); // both arrive before any read
    let mut buf = [0u8; 4096];
    assert_eq!((&server).read(&mut buf).unwrap(), 10); // short: drains the data
    assert_eq!(
        (&server).read(&mut buf).unwrap(),
        0,
        "end of stream, at once"
    );
}

/// Runs the test named `test` in a child copy of this binary, where it
/// forks, and checks that it passed.
fn assert_passes_in_a_child(test: &str) {
    util::assert_child_passes(test, Duration::from_secs(90), "1 passed");
}

/// A green stream on the parent's side of a loopback connection, with its
/// read timeout set (so a lost wake-up is an error, not a hang), and the
/// std peer writing to it.
fn connected_pair() -> (Rc<TcpStream>, std::net::TcpStream) {
    let (listener, addr) = bind_local();
    let peer = std::net::TcpStream::connect(addr).unwrap();
    let (stream, _) = listener.accept().unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    (Rc::new(stream), peer)
}

/// Spawns a greenlet that reads 5 bytes from `stream`, and lets it start
/// waiting for them.
fn spawn_reader(stream: &Rc<TcpStream>) -> greenlet::Greenlet<io::Result<[u8; 5]>> {
    let stream = stream.clone();
    let reader = greenlet::spawn(move || {
        let mut buf = [0u8; 5];
        (&*stream).read_exact(&mut buf).map(|()| buf)
    });
    greenlet::yield_now();
    assert!(!reader.is_finished(), "the reader waits for data");
    reader
}

/// A forked child shared its parent's epoll instance, so dropping its copy
/// of a registered socket removed the parent's registration: the parent's
/// reader never saw the data that came afterwards.
#[test]
fn a_forked_child_dropping_an_inherited_socket_deregistered_the_parents() {
    if !util::is_child() {
        return assert_passes_in_a_child(
            "a_forked_child_dropping_an_inherited_socket_deregistered_the_parents",
        );
    }
    let (stream, mut peer) = connected_pair();
    let reader = spawn_reader(&stream);
    let child = util::fork();
    if child == 0 {
        util::exit_child(move || {
            reader.kill();
            drop(stream);
            0
        });
    }
    assert_eq!(util::reap(child), 0);
    peer.write_all(b"hello").unwrap();
    let got = reader.join().unwrap();
    assert_eq!(&got.expect("the parent's reader got the data"), b"hello");
}

/// A forked child's greenlets keep working on the sockets they inherited:
/// one waiting before the fork gets what the parent's peer writes after it,
/// and the parent's own reader works once the child is gone.
#[test]
fn a_forked_child_reads_an_inherited_socket_on_its_own_epoll() {
    if !util::is_child() {
        return assert_passes_in_a_child(
            "a_forked_child_reads_an_inherited_socket_on_its_own_epoll",
        );
    }
    let (stream, mut peer) = connected_pair();
    let reader = spawn_reader(&stream);
    let child = util::fork();
    if child == 0 {
        util::exit_child(move || match reader.join() {
            Ok(Ok(got)) if &got == b"hello" => 0,
            _ => 1,
        });
    }
    peer.write_all(b"hello").unwrap();
    assert_eq!(util::reap(child), 0, "the child's reader got the data");
    peer.write_all(b"again").unwrap();
    let got = reader.join().unwrap();
    assert_eq!(&got.expect("the parent's reader got the data"), b"again");
}
