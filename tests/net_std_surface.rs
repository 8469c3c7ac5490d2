//! The std surface of the green sockets beyond reads and writes: the
//! non-blocking mode, `peek`, listener clones, `take_error`, multicast
//! options, descriptor conversions and the iterator names. Real sockets on
//! 127.0.0.1 and in a fresh temporary directory; every loop is bounded;
//! nothing is timed: a ticker greenlet's count tells whether a call switched.

mod util;

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};

use greenlet::net::{TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream};
use util::{TempDir, Ticker};

fn tcp_pair() -> (TcpStream, TcpStream, TcpListener) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    (client, server, listener)
}

#[test]
fn set_nonblocking_returns_would_block_at_once_from_main_and_from_a_greenlet() {
    let (mut client, mut server, listener) = tcp_pair();
    let (mut ua, mut ub) = UnixStream::pair().unwrap();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let dir = TempDir::new("nonblocking");
    let unix_listener = UnixListener::bind(dir.join("l.sock")).unwrap();
    for result in [
        server.set_nonblocking(true),
        ua.set_nonblocking(true),
        udp.set_nonblocking(true),
        listener.set_nonblocking(true),
        unix_listener.set_nonblocking(true),
    ] {
        result.unwrap();
    }
    let ticker = Ticker::spawn(1_000);

    // From main: every call returns `WouldBlock` at once, and the ticker
    // never got a turn.
    let would_block = |kind: ErrorKind| assert_eq!(kind, ErrorKind::WouldBlock);
    would_block(server.read(&mut [0; 8]).unwrap_err().kind());
    would_block(server.peek(&mut [0; 8]).unwrap_err().kind());
    would_block(ua.read(&mut [0; 8]).unwrap_err().kind());
    would_block(udp.recv_from(&mut [0; 8]).unwrap_err().kind());
    would_block(listener.accept().unwrap_err().kind());
    would_block(unix_listener.accept().unwrap_err().kind());
    assert_eq!(ticker.ticks(), 0, "main never switched");

    // From a greenlet, through a clone (the mode is shared): at once too.
    let clone = server.try_clone().unwrap();
    let g = greenlet::spawn(move || (&clone).read(&mut [0; 8]).unwrap_err().kind());
    would_block(g.join().unwrap());

    // With something to read, a non-blocking read takes it.
    client.write_all(b"ready").unwrap();
    ub.write_all(b"ready").unwrap();
    let mut buf = [0; 5];
    let mut tries = 0;
    loop {
        // TCP over loopback delivers at once, but allow the kernel a few
        // turns of the hub.
        match server.read(&mut buf) {
            Ok(n) => {
                assert_eq!(&buf[..n], &b"ready"[..n]);
                break;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock && tries < 1_000 => {
                tries += 1;
                greenlet::yield_now();
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(ua.read(&mut buf).unwrap(), 5);

    // Blocking again: the read waits, and the ticker runs meanwhile.
    server.set_nonblocking(false).unwrap();
    ua.set_nonblocking(false).unwrap();
    let before = ticker.ticks();
    let writer = greenlet::spawn(move || {
        greenlet::yield_now();
        client.write_all(b"late").unwrap();
        client
    });
    let mut late = [0; 4];
    server.read_exact(&mut late).unwrap();
    assert_eq!(&late, b"late");
    assert!(ticker.ticks() > before, "main switched while it waited");
    drop(writer.join().unwrap());
    ticker.join();
}

#[test]
fn tcp_peek_leaves_the_data_and_waits_like_a_read() {
    let (mut client, server, _listener) = tcp_pair();
    let writer = greenlet::spawn(move || {
        client.write_all(b"peeked").unwrap();
        client
    });
    let mut buf = [0; 6];
    let n = server.peek(&mut buf).unwrap(); // waits for the writer
    assert!(n > 0 && buf[..n] == b"peeked"[..n]);
    let mut all = [0; 6];
    (&server).read_exact(&mut all).unwrap(); // still there
    assert_eq!(&all, b"peeked");
    let client = writer.join().unwrap();
    drop(client);
    assert_eq!(server.peek(&mut buf).unwrap(), 0, "end of stream");
}

#[test]
fn listener_clones_accept_and_take_error_is_none() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let clone = listener.try_clone().unwrap();
    assert_eq!(clone.local_addr().unwrap(), addr);
    let client = greenlet::spawn(move || TcpStream::connect(addr).unwrap());
    let (accepted, _) = clone.accept().unwrap(); // the clone accepts
    let client = client.join().unwrap();
    assert_eq!(accepted.peer_addr().unwrap(), client.local_addr().unwrap());
    assert!(listener.take_error().unwrap().is_none());
    assert!(listener.into_std().is_err(), "a clone is alive");
    assert!(clone.into_std().is_ok());

    let dir = TempDir::new("listener-clone");
    let path = dir.join("l.sock");
    let unix = UnixListener::bind(&path).unwrap();
    let unix_clone = unix.try_clone().unwrap();
    let client = greenlet::spawn(move || UnixStream::connect(path).unwrap());
    let (accepted, _) = unix_clone.accept().unwrap();
    drop(client.join().unwrap());
    assert_eq!(accepted.read_timeout().unwrap(), None);
    assert!(unix.take_error().unwrap().is_none());
}

#[test]
fn unix_listener_iterates_by_reference_and_the_incoming_names() {
    let dir = TempDir::new("into-iter");
    let path = dir.join("l.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let clients = greenlet::spawn(move || {
        (0..3)
            .map(|i| {
                let mut s = UnixStream::connect(&path).unwrap();
                s.write_all(&[i]).unwrap();
                s
            })
            .collect::<Vec<_>>()
    });
    let mut got = Vec::new();
    for stream in (&listener).into_iter().take(3) {
        let mut byte = [0];
        stream.unwrap().read_exact(&mut byte).unwrap();
        got.push(byte[0]);
    }
    got.sort();
    assert_eq!(got, [0, 1, 2]);
    drop(clients.join().unwrap());
    // std's name, and the old one still compiles.
    let _: greenlet::net::unix::Incoming<'_> = listener.incoming();
    #[allow(deprecated)]
    let _: greenlet::net::IncomingUnix<'_> = listener.incoming();
    let _: greenlet::net::Incoming<'_> = TcpListener::bind("127.0.0.1:0").unwrap().incoming();
}

#[test]
fn udp_multicast_options_round_trip() {
    let socket = UdpSocket::bind("0.0.0.0:0").unwrap();
    assert!(socket.multicast_loop_v4().unwrap(), "on by default");
    socket.set_multicast_loop_v4(false).unwrap();
    assert!(!socket.multicast_loop_v4().unwrap());
    assert_eq!(socket.multicast_ttl_v4().unwrap(), 1, "the default");
    socket.set_multicast_ttl_v4(16).unwrap();
    assert_eq!(socket.multicast_ttl_v4().unwrap(), 16);
    // The kernel refuses a TTL above 255, as with std.
    let std_socket = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    assert_eq!(
        socket.set_multicast_ttl_v4(256).is_err(),
        std_socket.set_multicast_ttl_v4(256).is_err()
    );

    // Join and leave a link-local group on the loopback interface. A host
    // without that may refuse: then the error is the kernel's, as std's.
    let group = Ipv4Addr::new(224, 0, 0, 231);
    match socket.join_multicast_v4(&group, &Ipv4Addr::LOCALHOST) {
        Ok(()) => {
            socket
                .leave_multicast_v4(&group, &Ipv4Addr::LOCALHOST)
                .unwrap();
        }
        Err(e) => {
            assert!(e.raw_os_error().is_some(), "{e}");
            assert!(
                std_socket
                    .join_multicast_v4(&group, &Ipv4Addr::LOCALHOST)
                    .is_err()
            );
        }
    }
    // Leaving a group never joined fails as std's.
    let never = Ipv4Addr::new(224, 0, 0, 232);
    assert_eq!(
        socket
            .leave_multicast_v4(&never, &Ipv4Addr::LOCALHOST)
            .unwrap_err()
            .kind(),
        std_socket
            .leave_multicast_v4(&never, &Ipv4Addr::LOCALHOST)
            .unwrap_err()
            .kind()
    );
    // Not a group at all.
    assert!(
        socket
            .join_multicast_v4(&Ipv4Addr::LOCALHOST, &Ipv4Addr::UNSPECIFIED)
            .is_err()
    );

    // IPv6, where the host has it.
    let Ok(socket6) = UdpSocket::bind("[::1]:0") else {
        return;
    };
    assert!(socket6.multicast_loop_v6().unwrap());
    socket6.set_multicast_loop_v6(false).unwrap();
    assert!(!socket6.multicast_loop_v6().unwrap());
    let group6: Ipv6Addr = "ff02::1:3".parse().unwrap();
    match socket6.join_multicast_v6(&group6, 0) {
        Ok(()) => socket6.leave_multicast_v6(&group6, 0).unwrap(),
        Err(e) => assert!(e.raw_os_error().is_some(), "{e}"),
    }
    assert!(
        socket6.leave_multicast_v6(&group6, 0).is_err(),
        "left already"
    );
    // The v6 options on a v4 socket: the kernel's error, as std's.
    assert_eq!(
        socket.multicast_loop_v6().is_err(),
        std_socket.multicast_loop_v6().is_err()
    );
}

/// Hands `socket` out as a raw descriptor and back, then as an `OwnedFd`
/// and back: the same descriptor, still registered and working.
fn round_trip<T>(socket: T) -> T
where
    T: AsRawFd + IntoRawFd + FromRawFd + Into<OwnedFd> + From<OwnedFd>,
{
    let fd = socket.as_raw_fd();
    let raw = socket.into_raw_fd();
    assert_eq!(raw, fd, "no duplicate while no clone is alive");
    // SAFETY: `raw` came from `into_raw_fd` just above; nothing else owns it.
    let socket = unsafe { T::from_raw_fd(raw) };
    let owned: OwnedFd = socket.into();
    assert_eq!(owned.as_raw_fd(), fd);
    T::from(owned)
}

#[test]
fn descriptor_round_trips_leave_every_socket_working() {
    // Streams: data flows after the round trip, and a read waits in a
    // greenlet as before.
    let (client, server, listener) = tcp_pair();
    let (client, server) = (round_trip(client), round_trip(server));
    let listener = round_trip(listener);
    let addr = listener.local_addr().unwrap();
    let reader = greenlet::spawn(move || {
        let mut buf = [0; 4];
        (&server).read_exact(&mut buf).unwrap();
        buf
    });
    greenlet::yield_now(); // the reader waits
    (&client).write_all(b"trip").unwrap();
    assert_eq!(&reader.join().unwrap(), b"trip");
    let connector = greenlet::spawn(move || TcpStream::connect(addr).map(drop));
    listener.accept().unwrap();
    connector.join().unwrap().unwrap();

    let (a, b) = UnixStream::pair().unwrap();
    let (a, b) = (round_trip(a), round_trip(b));
    (&a).write_all(b"unix").unwrap();
    let mut buf = [0; 4];
    (&b).read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"unix");

    let dir = TempDir::new("fd-round-trip");
    let unix_listener = round_trip(UnixListener::bind(dir.join("l.sock")).unwrap());
    let path = dir.join("l.sock");
    let connector = greenlet::spawn(move || UnixStream::connect(path).map(drop));
    unix_listener.accept().unwrap();
    connector.join().unwrap().unwrap();

    let udp = round_trip(UdpSocket::bind("127.0.0.1:0").unwrap());
    let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = udp.local_addr().unwrap();
    let sender = greenlet::spawn(move || peer.send_to(b"dgram", to));
    assert_eq!(udp.recv_from(&mut [0; 8]).unwrap().0, 5);
    sender.join().unwrap().unwrap();

    // With a clone alive, the descriptor handed out is a duplicate: the
    // clone keeps working.
    let (a, b) = UnixStream::pair().unwrap();
    let clone = a.try_clone().unwrap();
    let fd = a.as_raw_fd();
    let owned = OwnedFd::from(a);
    assert_ne!(owned.as_raw_fd(), fd, "a duplicate");
    let std_a = std::os::unix::net::UnixStream::from(owned);
    // The duplicate shares the clone's open file description, blocking
    // mode included: it stays non-blocking, or the clone would block the
    // thread.
    (&clone).write_all(b"x").unwrap();
    (&b).read_exact(&mut [0]).unwrap();
    drop(std_a);
    // The clone's registration is intact: a wait on it still wakes.
    let reader = greenlet::spawn(move || {
        let mut byte = [0];
        (&clone).read_exact(&mut byte).unwrap();
        byte[0]
    });
    greenlet::yield_now();
    (&b).write_all(&[9]).unwrap();
    assert_eq!(reader.join().unwrap(), 9);
}
