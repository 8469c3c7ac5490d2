//! Green UDP and Unix-domain sockets on real sockets: UDP on 127.0.0.1 port
//! 0, Unix sockets in a fresh directory under the system's temporary
//! directory (removed at the end), with real peers (std threads) where it
//! matters. Every loop is bounded; nothing is timed.

mod util;

use std::cell::Cell;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::path::Path;
use std::rc::Rc;
use std::time::Duration;

use greenlet::net::{UdpSocket, UnixListener, UnixStream};
use util::TempDir;

fn bind_udp() -> (UdpSocket, SocketAddr) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = socket.local_addr().unwrap();
    (socket, addr)
}

// ---------------------------------------------------------------- UDP

#[test]
fn udp_round_trip_between_two_green_sockets() {
    let (server, server_addr) = bind_udp();
    let echo = greenlet::spawn(move || {
        let mut buf = [0u8; 256];
        for _ in 0..50 {
            let (n, from) = server.recv_from(&mut buf).unwrap();
            server.send_to(&buf[..n], from).unwrap();
        }
    });
    let (client, client_addr) = bind_udp();
    let mut buf = [0u8; 256];
    for i in 0..50u32 {
        let msg = format!("datagram {i} {}", "y".repeat((i % 9) as usize));
        assert_eq!(
            client.send_to(msg.as_bytes(), server_addr).unwrap(),
            msg.len()
        );
        let (n, from) = client.recv_from(&mut buf).unwrap(); // runs the echo greenlet
        assert_eq!(from, server_addr);
        assert_eq!(&buf[..n], msg.as_bytes());
    }
    echo.join().unwrap();
    assert_ne!(client_addr, server_addr);
}

#[test]
fn udp_many_greenlets_share_one_server_socket() {
    let (server, server_addr) = bind_udp();
    let echo = greenlet::spawn(move || {
        let mut buf = [0u8; 64];
        for _ in 0..20 * 10 {
            let (n, from) = server.recv_from(&mut buf).unwrap();
            server.send_to(&buf[..n], from).unwrap();
        }
    });
    let clients: Vec<_> = (0..20u32)
        .map(|c| {
            greenlet::spawn(move || {
                let (socket, _) = bind_udp();
                socket.connect(server_addr).unwrap();
                let mut buf = [0u8; 64];
                for m in 0..10u32 {
                    let msg = format!("{c}:{m}");
                    socket.send(msg.as_bytes()).unwrap();
                    let n = socket.recv(&mut buf).unwrap();
                    assert_eq!(&buf[..n], msg.as_bytes());
                }
                10
            })
        })
        .collect();
    let total: u32 = greenlet::joinall(clients)
        .into_iter()
        .map(Result::unwrap)
        .sum();
    assert_eq!(total, 200);
    echo.join().unwrap();
}

#[test]
fn udp_with_a_std_thread_peer() {
    let (green, green_addr) = bind_udp();
    let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let peer_addr = peer.local_addr().unwrap();
    let thread = std::thread::spawn(move || {
        peer.set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap(); // a safety net
        let mut buf = [0u8; 64];
        for _ in 0..5 {
            let (n, from) = peer.recv_from(&mut buf).unwrap();
            let upper = buf[..n].to_ascii_uppercase();
            peer.send_to(&upper, from).unwrap();
        }
    });
    let mut buf = [0u8; 64];
    for i in 0..5 {
        let msg = format!("from a greenlet {i}");
        green.send_to(msg.as_bytes(), peer_addr).unwrap();
        let (n, from) = green.recv_from(&mut buf).unwrap();
        assert_eq!(from, peer_addr);
        assert_eq!(&buf[..n], msg.to_uppercase().as_bytes());
    }
    thread.join().unwrap();
    assert_eq!(green.local_addr().unwrap(), green_addr);
}

#[test]
fn udp_connect_then_send_and_recv_only_from_the_peer() {
    let (a, a_addr) = bind_udp();
    let (b, b_addr) = bind_udp();
    let (stranger, _) = bind_udp();
    assert_eq!(
        a.peer_addr().unwrap_err().kind(),
        io::ErrorKind::NotConnected
    );
    a.connect(b_addr).unwrap();
    b.connect(("127.0.0.1", a_addr.port())).unwrap();
    assert_eq!(a.peer_addr().unwrap(), b_addr);
    assert_eq!(b.peer_addr().unwrap(), a_addr);

    // A connected socket drops datagrams from anyone but its peer.
    stranger.send_to(b"noise", b_addr).unwrap();
    let sender = greenlet::spawn(move || {
        for i in 0..3u8 {
            greenlet::yield_now();
            a.send(&[b's', i]).unwrap();
        }
        a
    });
    let mut buf = [0u8; 16];
    for i in 0..3u8 {
        let n = b.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], &[b's', i]);
    }
    let a = sender.join().unwrap();
    b.send(b"back").unwrap();
    assert_eq!(a.recv(&mut buf).unwrap(), 4);
    assert_eq!(&buf[..4], b"back");
}

#[test]
fn udp_peek_from_and_peek_leave_the_datagram_queued() {
    let (a, a_addr) = bind_udp();
    let (b, b_addr) = bind_udp();
    let sender = greenlet::spawn(move || {
        a.send_to(b"first", b_addr).unwrap();
        a.send_to(b"second", b_addr).unwrap();
        a
    });
    let mut buf = [0u8; 16];
    for _ in 0..3 {
        let (n, from) = b.peek_from(&mut buf).unwrap(); // waits for the sender
        assert_eq!((&buf[..n], from), (&b"first"[..], a_addr));
    }
    let (n, _) = b.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"first");
    b.connect(a_addr).unwrap();
    let n = b.peek(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"second");
    let n = b.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"second");
    drop(sender.join().unwrap());
}

#[test]
fn udp_read_timeout_returns_timed_out_while_another_greenlet_runs() {
    let (socket, _) = bind_udp();
    // The ticker counts the turns it got while main was blocked on the
    // socket. Main parks before the ticker's first turn and can only be
    // woken by its timer, which fires after the ready greenlets have run.
    let main_waiting = Rc::new(Cell::new(false));
    let ticks_while_waiting = Rc::new(Cell::new(0));
    let (w, t) = (main_waiting.clone(), ticks_while_waiting.clone());
    let ticker = greenlet::spawn(move || {
        for _ in 0..5 {
            if w.get() {
                t.set(t.get() + 1);
            }
            greenlet::yield_now();
        }
    });
    assert_eq!(socket.read_timeout().unwrap(), None);
    socket
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    assert_eq!(
        socket.read_timeout().unwrap(),
        Some(Duration::from_millis(50))
    );
    main_waiting.set(true);
    let err = socket.recv_from(&mut [0; 8]).unwrap_err(); // nobody sends
    main_waiting.set(false);
    assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    ticker.join().unwrap();
    assert!(
        ticks_while_waiting.get() > 0,
        "the ticker ran while main waited on the socket"
    );

    // The same from a greenlet, through `recv` and `peek`.
    let clone = socket.try_clone().unwrap();
    let g = greenlet::spawn(move || {
        let recv = clone.recv(&mut [0; 8]).unwrap_err().kind();
        let peek = clone.peek_from(&mut [0; 8]).unwrap_err().kind();
        (recv, peek)
    });
    assert_eq!(
        g.join().unwrap(),
        (io::ErrorKind::TimedOut, io::ErrorKind::TimedOut)
    );

    let err = socket.set_read_timeout(Some(Duration::ZERO)).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "as std");
    let err = socket.set_write_timeout(Some(Duration::ZERO)).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "as std");
    socket.set_read_timeout(None).unwrap();
    assert_eq!(socket.read_timeout().unwrap(), None);
}

#[test]
fn udp_options_and_errors() {
    let (socket, _) = bind_udp();
    socket.set_ttl(17).unwrap();
    assert_eq!(socket.ttl().unwrap(), 17);
    assert!(!socket.broadcast().unwrap());
    socket.set_broadcast(true).unwrap();
    assert!(socket.broadcast().unwrap());
    assert!(socket.take_error().unwrap().is_none());
    socket
        .set_write_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    assert_eq!(
        socket.write_timeout().unwrap(),
        Some(Duration::from_secs(5))
    );
    let err = socket.send_to(b"x", &[][..] as &[SocketAddr]).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    let err = UdpSocket::bind(&[][..] as &[SocketAddr]).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);

    // The first address that works is taken, as std.
    let taken = socket.local_addr().unwrap();
    let free: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let second = UdpSocket::bind(&[taken, free][..]).unwrap();
    assert_ne!(second.local_addr().unwrap(), taken);

    let debug = format!("{socket:?}");
    assert!(debug.starts_with("UdpSocket"), "{debug}");
    assert!(debug.contains(&taken.to_string()), "{debug}");
}

#[test]
fn udp_conversions_to_and_from_std() {
    let std_socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = std_socket.local_addr().unwrap();
    let green = UdpSocket::from(std_socket);
    let (peer, peer_addr) = bind_udp();
    let sender = greenlet::spawn(move || peer.send_to(b"to the adopted socket", addr));
    let mut buf = [0u8; 64];
    let (n, from) = green.recv_from(&mut buf).unwrap(); // non-blocking now: it waits in the hub
    assert_eq!(
        (&buf[..n], from),
        (&b"to the adopted socket"[..], peer_addr)
    );
    sender.join().unwrap().unwrap();

    let clone = green.try_clone().unwrap();
    assert!(
        green.into_std().is_err(),
        "a clone still shares the registration"
    );
    let std_again = clone.into_std().unwrap(); // blocking again
    assert_eq!(std_again.local_addr().unwrap(), addr);
    // A std thread sends a little later; the blocking receive waits for it
    // (a non-blocking socket would fail with `WouldBlock`).
    std_again
        .set_read_timeout(Some(Duration::from_secs(30))) // a safety net
        .unwrap();
    let late = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.send_to(b"late", addr).unwrap();
    });
    let (n, _) = std_again.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"late");
    late.join().unwrap();
}

#[test]
fn udp_as_fd_works_with_wait_readable() {
    let (a, _) = bind_udp();
    let (b, b_addr) = bind_udp();
    assert!(std::os::fd::AsRawFd::as_raw_fd(&b) >= 0);
    let sender = greenlet::spawn(move || a.send_to(b"wake", b_addr));
    // Registered already: `wait_readable` watches a duplicate.
    greenlet::io::wait_readable(std::os::fd::AsFd::as_fd(&b), Some(Duration::from_secs(30)))
        .unwrap();
    sender.join().unwrap().unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(b.recv_from(&mut buf).unwrap().0, 4);
}

// ---------------------------------------------------------------- Unix

#[test]
fn unix_echo_through_a_listener_20_clients_10_messages_each() {
    let dir = TempDir::new("echo");
    let path = dir.join("echo.sock");
    let listener = UnixListener::bind(&path).unwrap();
    assert_eq!(
        listener.local_addr().unwrap().as_pathname(),
        Some(path.as_path())
    );
    let server = util::spawn_echo_server(20, move || listener.accept().unwrap().0);
    let clients: Vec<_> = (0..20u32)
        .map(|c| {
            let path = path.clone();
            greenlet::spawn(move || {
                let stream = UnixStream::connect(&path).unwrap();
                assert_eq!(
                    stream.peer_addr().unwrap().as_pathname(),
                    Some(path.as_path())
                );
                let mut reader = BufReader::new(&stream);
                let mut line = String::new();
                for m in 0..10u32 {
                    let msg = format!("client {c} message {m} {}\n", "u".repeat(m as usize));
                    (&stream).write_all(msg.as_bytes()).unwrap();
                    line.clear();
                    reader.read_line(&mut line).unwrap();
                    assert_eq!(line, msg);
                }
                stream.shutdown(Shutdown::Write).unwrap();
                10
            })
        })
        .collect();
    let total: u32 = greenlet::joinall(clients)
        .into_iter()
        .map(Result::unwrap)
        .sum();
    assert_eq!(total, 200);
    server.join().unwrap();
}

#[test]
fn unix_std_thread_client_talks_to_a_greenlet_listener() {
    let dir = TempDir::new("std-client");
    let path = dir.join("server.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let peer_path = path.clone();
    let peer = std::thread::spawn(move || {
        let mut s = std::os::unix::net::UnixStream::connect(&peer_path).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap(); // a safety net
        s.write_all(b"from a real thread\n").unwrap();
        let mut reply = String::new();
        BufReader::new(&s).read_line(&mut reply).unwrap();
        reply
    });
    let stream = listener.incoming().next().unwrap().unwrap();
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line).unwrap();
    (&stream).write_all(line.to_uppercase().as_bytes()).unwrap();
    assert_eq!(peer.join().unwrap(), "FROM A REAL THREAD\n");
}

#[test]
fn unix_greenlet_client_talks_to_a_std_thread_listener() {
    let dir = TempDir::new("std-server");
    let path = dir.join("server.sock");
    let std_listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, _) = std_listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap(); // a safety net
        let mut all = Vec::new();
        s.read_to_end(&mut all).unwrap();
        all.reverse();
        s.write_all(&all).unwrap();
    });
    let mut client = UnixStream::connect(&path).unwrap();
    client.write_all(b"abcdef").unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    let mut reply = Vec::new();
    client.read_to_end(&mut reply).unwrap();
    assert_eq!(reply, b"fedcba");
    server.join().unwrap();
}

#[test]
fn unix_pair_round_trips_in_both_directions() {
    let (a, b) = UnixStream::pair().unwrap();
    assert!(a.local_addr().unwrap().is_unnamed());
    assert!(b.peer_addr().unwrap().is_unnamed());
    let responder = greenlet::spawn(move || {
        let mut buf = [0u8; 4];
        for _ in 0..20 {
            (&b).read_exact(&mut buf).unwrap();
            let n = u32::from_le_bytes(buf);
            (&b).write_all(&(n * 2).to_le_bytes()).unwrap();
        }
    });
    let mut buf = [0u8; 4];
    for n in 0..20u32 {
        (&a).write_all(&n.to_le_bytes()).unwrap();
        (&a).read_exact(&mut buf).unwrap();
        assert_eq!(u32::from_le_bytes(buf), 2 * n);
    }
    responder.join().unwrap();
}

#[test]
fn unix_half_close_lets_the_peer_read_eof_then_reply() {
    let dir = TempDir::new("half-close");
    let path = dir.join("s.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let server = greenlet::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut all = Vec::new();
        stream.read_to_end(&mut all).unwrap(); // until the client's shutdown
        stream
            .write_all(format!("got {} bytes", all.len()).as_bytes())
            .unwrap();
    });
    let mut client = UnixStream::connect(&path).unwrap();
    client.write_all(&[1; 300_000]).unwrap(); // more than a socket buffer
    client.shutdown(Shutdown::Write).unwrap();
    let mut reply = String::new();
    client.read_to_string(&mut reply).unwrap();
    assert_eq!(reply, "got 300000 bytes");
    server.join().unwrap();
}

#[test]
fn unix_try_clone_lets_one_greenlet_read_while_another_writes() {
    let dir = TempDir::new("clone");
    let path = dir.join("s.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let server = util::spawn_echo_server(1, move || listener.accept().unwrap().0);
    let stream = UnixStream::connect(&path).unwrap();
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
fn unix_shutdown_wakes_a_greenlet_blocked_reading_a_clone() {
    let (a, _b) = UnixStream::pair().unwrap();
    let reader = a.try_clone().unwrap();
    let g = greenlet::spawn(move || (&reader).read(&mut [0; 8]));
    greenlet::yield_now(); // it blocks on the read
    assert!(!g.is_finished());
    a.shutdown(Shutdown::Both).unwrap();
    assert_eq!(g.join().unwrap().unwrap(), 0, "woken with end of stream");
}

#[test]
fn unix_recv_from_the_main_context_drives_the_hub() {
    let (mut a, b) = UnixStream::pair().unwrap();
    let ticks = Rc::new(Cell::new(0));
    let t = ticks.clone();
    let writer = greenlet::spawn(move || {
        for i in 0..5u8 {
            greenlet::sleep(Duration::from_millis(1));
            t.set(t.get() + 1);
            (&b).write_all(&[i]).unwrap();
        }
    });
    let mut got = Vec::new();
    let mut byte = [0u8];
    for _ in 0..5 {
        a.read_exact(&mut byte).unwrap(); // main blocks: the writer runs
        got.push(byte[0]);
    }
    assert_eq!(got, [0, 1, 2, 3, 4]);
    assert_eq!(ticks.get(), 5);
    writer.join().unwrap();
    assert_eq!(a.read(&mut byte).unwrap(), 0, "the writer's end closed");
}

#[test]
fn unix_read_timeout_returns_timed_out_and_zero_is_invalid() {
    let (a, _b) = UnixStream::pair().unwrap();
    a.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    assert_eq!(a.read_timeout().unwrap(), Some(Duration::from_millis(20)));
    let err = (&a).read(&mut [0; 8]).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::TimedOut);

    // Fill the socket buffers until a write must wait.
    a.set_write_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let chunk = vec![7u8; 1 << 16];
    let mut result = Ok(0);
    for _ in 0..10_000 {
        result = (&a).write(&chunk);
        if result.is_err() {
            break;
        }
    }
    assert_eq!(result.unwrap_err().kind(), io::ErrorKind::TimedOut);

    for zero in [
        a.set_read_timeout(Some(Duration::ZERO)),
        a.set_write_timeout(Some(Duration::ZERO)),
    ] {
        assert_eq!(zero.unwrap_err().kind(), io::ErrorKind::InvalidInput);
    }
    assert!(a.take_error().unwrap().is_none());
}

#[test]
fn unix_connect_errors() {
    let dir = TempDir::new("errors");
    let missing = dir.join("nobody.sock");
    let err = UnixStream::connect(&missing).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);

    // A socket file whose listener is gone refuses.
    let stale = dir.join("stale.sock");
    drop(UnixListener::bind(&stale).unwrap());
    let err = UnixStream::connect(&stale).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
    // And binding over the file is refused until it is removed, as std.
    let err = UnixListener::bind(&stale).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    std::fs::remove_file(&stale).unwrap();
    let listener = UnixListener::bind(&stale).unwrap();
    assert!(listener.take_error().unwrap().is_none());
}

/// More connections than the listener's backlog, from the main context: the
/// kernel refuses the extra ones at once (`EAGAIN`), and `connect` must
/// pause and retry, letting the accepting greenlet run, not fail.
#[test]
fn unix_connect_beyond_a_full_backlog_waits_for_accept() {
    let backlog: usize = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(4096);
    let connections = (backlog + 100).min(10_000);
    let dir = TempDir::new("backlog");
    let path = dir.join("s.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let accepted = Rc::new(Cell::new(0usize));
    let a = accepted.clone();
    let server = greenlet::spawn(move || {
        for _ in 0..connections {
            drop(listener.accept().unwrap());
            a.set(a.get() + 1);
        }
    });
    for _ in 0..connections {
        drop(UnixStream::connect(&path).unwrap());
    }
    let accepted_while_connecting = accepted.get();
    server.join().unwrap();
    assert_eq!(accepted.get(), connections);
    if connections > backlog + 1 {
        assert!(
            accepted_while_connecting > 0,
            "the server accepted while main waited to connect"
        );
    }
}

#[test]
fn unix_conversions_to_and_from_std() {
    let dir = TempDir::new("convert");
    let path = dir.join("s.sock");
    let listener = UnixListener::from(std::os::unix::net::UnixListener::bind(&path).unwrap());
    let std_client = std::os::unix::net::UnixStream::connect(&path).unwrap();
    let mut client = UnixStream::from(std_client);
    let (server, addr) = listener.accept().unwrap();
    assert!(addr.is_unnamed());
    let debug = format!("{server:?} {listener:?}");
    assert!(
        debug.contains("UnixStream") && debug.contains("UnixListener"),
        "{debug}"
    );
    assert!(std::os::fd::AsRawFd::as_raw_fd(&listener) >= 0);

    // The adopted client is non-blocking: its read waits in the hub.
    let writer = greenlet::spawn(move || (&server).write_all(b"ok").map(|()| server));
    let mut got = [0; 2];
    client.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"ok");
    let server = writer.join().unwrap().unwrap();

    // Blocking again: a std thread's read waits until the greenlet side
    // writes (a non-blocking socket would fail with `WouldBlock`).
    let mut std_server = server.into_std().unwrap();
    std_server
        .set_read_timeout(Some(Duration::from_secs(30))) // a safety net
        .unwrap();
    let reader = std::thread::spawn(move || {
        let mut got = [0; 2];
        std_server.read_exact(&mut got).map(|()| got)
    });
    greenlet::sleep(Duration::from_millis(20));
    client.write_all(b"hi").unwrap();
    assert_eq!(&reader.join().unwrap().unwrap(), b"hi");

    let clone = client.try_clone().unwrap();
    assert!(
        client.into_std().is_err(),
        "a clone still shares the registration"
    );
    assert!(clone.into_std().is_ok());
    let std_listener = listener.into_std().unwrap();
    assert_eq!(
        std_listener.local_addr().unwrap().as_pathname(),
        Some(Path::new(&path))
    );
}
