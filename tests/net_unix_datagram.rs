//! Green Unix-domain datagram sockets on real sockets, in a fresh directory
//! under the system's temporary directory, with std peers in std threads.
//! Every loop is bounded; nothing is timed: a ticker greenlet's count tells
//! whether a call switched.

mod util;

use std::io::ErrorKind;
use std::net::Shutdown;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use greenlet::net::UnixDatagram;
use util::{TempDir, Ticker};

#[test]
fn unix_datagram_round_trips_between_greenlets() {
    let dir = TempDir::new("dgram-greenlets");
    let server = UnixDatagram::bind(dir.join("server.sock")).unwrap();
    // The server answers each datagram to its sender's address, upper-cased.
    let echo = greenlet::spawn(move || {
        let mut buf = [0u8; 64];
        for _ in 0..10 {
            let (n, from) = server.recv_from(&mut buf).unwrap();
            let reply = buf[..n].to_ascii_uppercase();
            server.send_to_addr(&reply, &from).unwrap();
        }
    });
    let clients: Vec<_> = (0..5)
        .map(|i| {
            let client = UnixDatagram::bind(dir.join(&format!("client{i}.sock"))).unwrap();
            let server_path = dir.join("server.sock");
            greenlet::spawn(move || {
                let mut buf = [0u8; 64];
                for round in 0..2 {
                    let msg = format!("client {i} round {round}");
                    assert_eq!(
                        client.send_to(msg.as_bytes(), &server_path).unwrap(),
                        msg.len()
                    );
                    let (n, from) = client.recv_from(&mut buf).unwrap();
                    assert_eq!(from.as_pathname(), Some(server_path.as_path()));
                    assert_eq!(&buf[..n], msg.to_ascii_uppercase().as_bytes());
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    echo.join().unwrap();
}

#[test]
fn unix_datagram_with_a_std_thread_peer() {
    let dir = TempDir::new("dgram-std");
    let std_path = dir.join("std.sock");
    let green_path = dir.join("green.sock");
    let std_peer = std::os::unix::net::UnixDatagram::bind(&std_path).unwrap();
    std_peer
        .set_read_timeout(Some(Duration::from_secs(30))) // a safety net
        .unwrap();
    let green = UnixDatagram::bind(&green_path).unwrap();
    // Set by a greenlet, which can run only once main waits in the hub.
    let main_waits = Arc::new(AtomicBool::new(false));
    // The std thread echoes 3 datagrams back to their sender; the first
    // only once main waits for it, so that main's receive must wait.
    let peer = {
        let main_waits = main_waits.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 64];
            for round in 0..3 {
                let (n, from) = std_peer.recv_from(&mut buf).unwrap();
                let deadline = Instant::now() + Duration::from_secs(30);
                while round == 0 && !main_waits.load(Ordering::Acquire) {
                    assert!(Instant::now() < deadline, "main never waited in the hub");
                    std::thread::sleep(Duration::from_millis(1));
                }
                std_peer.send_to_addr(&buf[..n], &from).unwrap();
            }
        })
    };
    let ticker = Ticker::spawn(1_000_000);
    let flag = main_waits.clone();
    let _signal = greenlet::spawn(move || flag.store(true, Ordering::Release));
    let mut buf = [0u8; 64];
    for i in 0..3u8 {
        green.send_to(&[i; 5], &std_path).unwrap();
        let before = ticker.ticks();
        let (n, from) = green.recv_from(&mut buf).unwrap(); // main waits in the hub
        assert_eq!(
            (&buf[..n], from.as_pathname()),
            (&[i; 5][..], Some(std_path.as_path()))
        );
        assert!(ticker.ticks() >= before, "{before}");
    }
    peer.join().unwrap();
    // The first reply came only once main waited: main ran the greenlets
    // (the ticker too) while it waited.
    assert!(main_waits.load(Ordering::Acquire));
    assert!(ticker.ticks() > 0, "the ticker ran while main waited");

    // And the other way round: a std thread sends, a greenlet receives.
    let sender = std::thread::spawn(move || {
        let s = std::os::unix::net::UnixDatagram::unbound().unwrap();
        s.send_to(b"from std", &green_path).unwrap();
    });
    let receiver = greenlet::spawn(move || {
        let mut buf = [0u8; 64];
        let (n, from) = green.recv_from(&mut buf).unwrap();
        assert!(from.is_unnamed(), "an unbound sender");
        buf[..n].to_vec()
    });
    assert_eq!(receiver.join().unwrap(), b"from std");
    sender.join().unwrap();
}

#[test]
fn unix_datagram_pair_connect_and_unbound() {
    // A pair: both directions, datagram boundaries kept.
    let (a, b) = UnixDatagram::pair().unwrap();
    assert!(a.local_addr().unwrap().is_unnamed());
    assert!(b.peer_addr().unwrap().is_unnamed());
    a.send(b"one").unwrap();
    a.send(b"two!").unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(b.recv(&mut buf).unwrap(), 3);
    assert_eq!(b.recv(&mut buf).unwrap(), 4);
    let reply = greenlet::spawn(move || b.send(b"back"));
    assert_eq!(a.recv(&mut buf).unwrap(), 4);
    assert_eq!(&buf[..4], b"back");
    reply.join().unwrap().unwrap();

    // Unbound, then connected by path: `send` goes to the peer, `recv`
    // takes only the peer's datagrams.
    let dir = TempDir::new("dgram-connect");
    let server = UnixDatagram::bind(dir.join("server.sock")).unwrap();
    let stranger = UnixDatagram::bind(dir.join("stranger.sock")).unwrap();
    let client = UnixDatagram::unbound().unwrap();
    assert_eq!(
        client.peer_addr().unwrap_err().kind(),
        ErrorKind::NotConnected
    );
    client.connect(dir.join("server.sock")).unwrap();
    assert_eq!(
        client.peer_addr().unwrap().as_pathname(),
        Some(dir.join("server.sock").as_path())
    );
    client.send(b"hello").unwrap();
    let (n, from) = server.recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], from.is_unnamed()), (&b"hello"[..], true));

    // A bound client connected by address: the server's reply arrives, a
    // stranger's datagram is refused by the kernel.
    let bound = UnixDatagram::bind(dir.join("bound.sock")).unwrap();
    bound.connect_addr(&server.local_addr().unwrap()).unwrap();
    let err = stranger
        .send_to(b"intruder", dir.join("bound.sock"))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}"); // EPERM: not its peer
    bound.send(b"ping").unwrap();
    let (_, from) = server.recv_from(&mut buf).unwrap();
    server.send_to_addr(b"pong", &from).unwrap();
    assert_eq!(bound.recv(&mut buf).unwrap(), 4);
    assert_eq!(&buf[..4], b"pong");
}

#[test]
fn unix_datagram_abstract_names_with_bind_addr_and_send_to_addr() {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::SocketAddr;

    let name = format!("greenlet-test-abstract-{}", std::process::id());
    let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let server = UnixDatagram::bind_addr(&addr).unwrap();
    assert_eq!(
        server.local_addr().unwrap().as_abstract_name(),
        Some(name.as_bytes())
    );
    let client = UnixDatagram::unbound().unwrap();
    let sender = greenlet::spawn(move || client.send_to_addr(b"abstract", &addr));
    let mut buf = [0u8; 16];
    let n = server.recv(&mut buf).unwrap(); // runs the sender
    assert_eq!(&buf[..n], b"abstract");
    assert_eq!(sender.join().unwrap().unwrap(), 8);
}

#[test]
fn unix_datagram_read_timeout_returns_timed_out_as_the_other_green_sockets() {
    let (a, _b) = UnixDatagram::pair().unwrap();
    assert_eq!(a.read_timeout().unwrap(), None);
    a.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    assert_eq!(a.read_timeout().unwrap(), Some(Duration::from_millis(20)));
    let ticker = Ticker::spawn(5);
    let err = a.recv(&mut [0; 8]).unwrap_err(); // nobody sends; from main
    // std's would be `WouldBlock` (`EAGAIN` from `SO_RCVTIMEO`); every green
    // socket reports an expired timeout as `TimedOut`.
    assert_eq!(err.kind(), ErrorKind::TimedOut);
    assert!(ticker.ticks() > 0, "the ticker ran while main waited");
    ticker.join();

    let clone = a.try_clone().unwrap();
    let g = greenlet::spawn(move || clone.recv_from(&mut [0; 8]).unwrap_err().kind());
    assert_eq!(g.join().unwrap(), ErrorKind::TimedOut);

    assert_eq!(
        a.set_read_timeout(Some(Duration::ZERO)).unwrap_err().kind(),
        ErrorKind::InvalidInput,
        "as std"
    );
    assert_eq!(
        a.set_write_timeout(Some(Duration::ZERO))
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput,
        "as std"
    );
    a.set_write_timeout(Some(Duration::from_secs(3))).unwrap();
    assert_eq!(a.write_timeout().unwrap(), Some(Duration::from_secs(3)));
    a.set_read_timeout(None).unwrap();
    assert_eq!(a.read_timeout().unwrap(), None);
}

#[test]
fn unix_datagram_send_waits_while_the_peer_queue_is_full() {
    let (a, b) = UnixDatagram::pair().unwrap();
    // Fill b's queue: non-blocking sends until the kernel refuses.
    a.set_nonblocking(true).unwrap();
    let mut queued = 0;
    loop {
        match a.send(&[7; 256]) {
            Ok(_) => queued += 1,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) => panic!("{e}"),
        }
        assert!(queued < 1_000_000, "the queue never filled");
    }
    assert!(queued > 0);
    // Blocking again: the next send waits in its greenlet until main
    // drains the queue.
    a.set_nonblocking(false).unwrap();
    let sender = greenlet::spawn(move || a.send(b"last"));
    let mut buf = [0u8; 256];
    for _ in 0..queued {
        assert_eq!(b.recv(&mut buf).unwrap(), 256);
    }
    assert_eq!(b.recv(&mut buf).unwrap(), 4); // the waiting sender's
    assert_eq!(sender.join().unwrap().unwrap(), 4);
}

#[test]
fn unix_datagram_shutdown_wakes_a_greenlet_blocked_receiving_on_a_clone() {
    let (a, _b) = UnixDatagram::pair().unwrap();
    let clone = a.try_clone().unwrap();
    let receiver = greenlet::spawn(move || clone.recv(&mut [0; 8]));
    greenlet::yield_now(); // the receiver waits
    a.shutdown(Shutdown::Read).unwrap();
    assert_eq!(receiver.join().unwrap().unwrap(), 0);
}

#[test]
fn unix_datagram_set_nonblocking_returns_would_block_without_switching() {
    let (a, b) = UnixDatagram::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    let ticker = Ticker::spawn(1_000);
    // From main: at once, and the ticker did not run.
    let err = a.recv(&mut [0; 8]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WouldBlock);
    assert_eq!(ticker.ticks(), 0, "main did not switch");
    // From a greenlet (through a clone: the mode is shared): at once too.
    let clone = a.try_clone().unwrap();
    let g = greenlet::spawn(move || {
        let err = clone.recv_from(&mut [0; 8]).unwrap_err();
        (err.kind(), clone)
    });
    let (kind, clone) = g.join().unwrap();
    assert_eq!(kind, ErrorKind::WouldBlock);
    drop(clone);
    // Something to read: a non-blocking receive takes it.
    b.send(b"x").unwrap();
    assert_eq!(a.recv(&mut [0; 8]).unwrap(), 1);
    // Blocking again: the receive waits, the ticker runs meanwhile.
    a.set_nonblocking(false).unwrap();
    let before = ticker.ticks();
    let sender = greenlet::spawn(move || b.send(b"later"));
    assert_eq!(a.recv(&mut [0; 8]).unwrap(), 5);
    assert!(ticker.ticks() > before, "main switched while it waited");
    sender.join().unwrap().unwrap();
    ticker.join();
}

#[test]
fn unix_datagram_errors_match_std() {
    let dir = TempDir::new("dgram-errors");
    let green = UnixDatagram::unbound().unwrap();
    let std_socket = std::os::unix::net::UnixDatagram::unbound().unwrap();
    let kind = |r: std::io::Result<usize>| r.unwrap_err().kind();
    // Not connected.
    assert_eq!(kind(green.send(b"x")), kind(std_socket.send(b"x")));
    // Nothing bound at the path.
    let nowhere = dir.join("nowhere.sock");
    assert_eq!(
        kind(green.send_to(b"x", &nowhere)),
        kind(std_socket.send_to(b"x", &nowhere))
    );
    assert_eq!(
        green.connect(&nowhere).unwrap_err().kind(),
        std_socket.connect(&nowhere).unwrap_err().kind()
    );
    // A path taken already.
    let taken = dir.join("taken.sock");
    let _first = UnixDatagram::bind(&taken).unwrap();
    assert_eq!(
        UnixDatagram::bind(&taken).unwrap_err().kind(),
        std::os::unix::net::UnixDatagram::bind(&taken)
            .unwrap_err()
            .kind()
    );
    assert!(green.take_error().unwrap().is_none());
}

#[test]
fn unix_datagram_conversions_to_and_from_std_and_descriptors() {
    // From std: the adopted socket waits in the hub.
    let (std_a, std_b) = std::os::unix::net::UnixDatagram::pair().unwrap();
    let a = UnixDatagram::from(std_a);
    let sender = std::thread::spawn(move || std_b.send(b"adopted").unwrap());
    let mut buf = [0u8; 16];
    assert_eq!(a.recv(&mut buf).unwrap(), 7);
    sender.join().unwrap();

    // into_std: refused while a clone is alive, blocking std socket after.
    let (x, y) = UnixDatagram::pair().unwrap();
    let clone = x.try_clone().unwrap();
    assert!(
        x.into_std().is_err(),
        "a clone still shares the registration"
    );
    let std_x = clone.into_std().unwrap();
    y.send(b"to std").unwrap();
    assert_eq!(std_x.recv(&mut buf).unwrap(), 6); // a blocking receive

    // Raw descriptors and OwnedFd round trips: the socket still works.
    let (p, q) = UnixDatagram::pair().unwrap();
    let raw = p.as_raw_fd();
    let p = p.into_raw_fd();
    assert_eq!(p, raw, "the same descriptor, no duplicate");
    // SAFETY: `p` came from `into_raw_fd` just above; nothing else owns it.
    let p = unsafe { UnixDatagram::from_raw_fd(p) };
    let p = UnixDatagram::from(OwnedFd::from(p));
    let receiver = greenlet::spawn(move || {
        let mut buf = [0u8; 16];
        let n = p.recv(&mut buf).unwrap();
        buf[..n].to_vec()
    });
    greenlet::yield_now(); // it waits
    q.send(b"round trip").unwrap();
    assert_eq!(receiver.join().unwrap(), b"round trip");
    let debug = format!("{q:?}");
    assert!(debug.starts_with("UnixDatagram"), "{debug}");
}
