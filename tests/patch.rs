//! The `patch` feature: unmodified `std::net` and `std::thread::sleep` code
//! switches greenlets. Without the feature, nothing is interposed.
//!
//! `cargo test --features patch --test patch` runs the first group; the
//! default build runs the symbol check.

mod util;

/// The C library's calls this library defines with `patch` on.
const PATCHED: &[&str] = &[
    "read",
    "write",
    "readv",
    "writev",
    "recv",
    "recvmsg",
    "sendmsg",
    "recvfrom",
    "send",
    "sendto",
    "connect",
    "accept",
    "accept4",
    "nanosleep",
    "clock_nanosleep",
    "poll",
    "close",
];

#[test]
fn the_symbols_are_defined_exactly_when_the_feature_is_on() {
    let defined = util::defined_functions();
    for name in PATCHED {
        let has = defined.iter().any(|d| d == name);
        assert_eq!(
            has,
            cfg!(feature = "patch"),
            "`{name}` defined: {has}, feature patch: {}",
            cfg!(feature = "patch")
        );
    }
}

#[cfg(feature = "patch")]
mod patched {
    use std::cell::Cell;
    use std::io::{Read, Write};
    use std::rc::Rc;
    use std::time::Duration;

    use super::util::{self, SleepTicker};

    #[test]
    fn std_thread_sleep_in_a_greenlet_lets_the_others_run() {
        let ticker = SleepTicker::spawn(Duration::from_millis(1), 10_000);
        let sleeper = greenlet::spawn(|| std::thread::sleep(Duration::from_millis(100)));
        sleeper.join().unwrap();
        let ticks = ticker.stop();
        // With the hub blocked for 100 ms the ticker would have ticked once.
        assert!(ticks >= 20, "ticks: {ticks}");
    }

    #[test]
    fn std_thread_sleep_outside_greenlets_still_sleeps() {
        let start = std::time::Instant::now();
        std::thread::sleep(Duration::from_millis(5));
        assert!(start.elapsed() >= Duration::from_millis(5));
    }

    #[test]
    fn a_std_read_in_a_greenlet_switches_while_nothing_has_arrived() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        // A std thread writes after 100 ms; the greenlet's blocking read
        // must let the ticker run meanwhile.
        let writer = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            std::thread::sleep(Duration::from_millis(100));
            s.write_all(b"late").unwrap();
        });
        let ticker = SleepTicker::spawn(Duration::from_millis(1), 10_000);
        let reader = greenlet::spawn(move || {
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            let mut got = [0u8; 4];
            s.read_exact(&mut got).unwrap();
            got
        });
        assert_eq!(&reader.join().unwrap(), b"late");
        let ticks = ticker.stop();
        writer.join().unwrap();
        assert!(ticks >= 20, "ticks: {ticks}");
    }

    #[test]
    fn a_read_timeout_on_a_std_socket_is_honoured() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let g = greenlet::spawn(move || {
            let s = std::net::TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
            let mut buf = [0u8; 1];
            (&s).read(&mut buf).unwrap_err().kind()
        });
        // Let the greenlet connect first (the std accept here would run it
        // too, as the main context's patched calls run the hub).
        greenlet::yield_now();
        let (_server, _) = listener.accept().unwrap();
        let kind = g.join().unwrap();
        assert_eq!(kind, std::io::ErrorKind::WouldBlock);
    }

    #[test]
    fn a_std_listener_in_greenlets_serves_100_concurrent_clients_on_one_thread() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let served = Rc::new(Cell::new(0));
        let s = served.clone();
        let server = greenlet::spawn(move || {
            let mut handlers = Vec::new();
            for _ in 0..100 {
                let (mut stream, _) = listener.accept().unwrap();
                let s = s.clone();
                handlers.push(greenlet::spawn(move || {
                    let mut buf = [0u8; 5];
                    stream.read_exact(&mut buf).unwrap();
                    stream.write_all(&buf).unwrap();
                    s.set(s.get() + 1);
                }));
            }
            greenlet::joinall(handlers)
        });
        // 100 clients in std threads, all connected before any writes, so
        // the server must hold 100 connections at once on its one thread.
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(100));
        let clients: Vec<_> = (0..100)
            .map(|i| {
                let barrier = barrier.clone();
                std::thread::spawn(move || {
                    let mut c = std::net::TcpStream::connect(addr).unwrap();
                    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                    barrier.wait();
                    util::echo_numbered(&mut c, i);
                })
            })
            .collect();
        for r in server.join().unwrap() {
            r.unwrap();
        }
        for c in clients {
            c.join().unwrap();
        }
        assert_eq!(served.get(), 100);
    }

    #[test]
    fn a_killed_greenlet_in_a_patched_read_fails_it_and_unwinds_later() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let reader = greenlet::spawn(move || {
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            let mut buf = [0u8; 1];
            let err = s.read(&mut buf).unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::ECANCELED));
            greenlet::yield_now(); // the kill unwinds here
            unreachable!("killed");
        });
        greenlet::yield_now(); // the reader starts to connect
        let (_server, _) = listener.accept().unwrap();
        // Until it waits in its read (connected, then reading).
        for _ in 0..1_000 {
            if greenlet::run_info().contains("waits on I/O (readable)") {
                break;
            }
            greenlet::yield_now();
        }
        assert!(greenlet::run_info().contains("waits on I/O (readable)"));
        reader.kill();
        assert!(reader.join().unwrap_err().is_killed());
    }

    #[test]
    fn regular_files_and_pipes_pass_straight_through() {
        let g = greenlet::spawn(|| {
            let text = std::fs::read_to_string("Cargo.toml").unwrap();
            let (mut a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
            a.write_all(b"x").unwrap();
            let mut one = [0u8; 1];
            b.read_exact(&mut one).unwrap();
            (text.contains("[package]"), one)
        });
        assert_eq!(g.join().unwrap(), (true, *b"x"));
    }

    #[test]
    fn ureq_unchanged_fetches_concurrently_from_greenlets() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        // A server on a thread of its own that holds each request until
        // three are in flight at once (or 5 s pass), and reports the most.
        let (live, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (l, m) = (live.clone(), most.clone());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let server = greenlet::server::StreamServer::bind("127.0.0.1:0", move |mut s, _| {
                let mut request = Vec::new();
                let mut buf = [0u8; 512];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let now = l.fetch_add(1, Ordering::SeqCst) + 1;
                m.fetch_max(now, Ordering::SeqCst);
                for _ in 0..5_000 {
                    if m.load(Ordering::SeqCst) >= 3 {
                        break;
                    }
                    greenlet::sleep(Duration::from_millis(1));
                }
                l.fetch_sub(1, Ordering::SeqCst);
                let _ = s.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                );
            })
            .unwrap();
            tx.send(server.local_addr().unwrap().port()).unwrap();
            server.serve_forever();
        });
        let port = rx.recv().unwrap();
        let fetches: Vec<_> = (0..3)
            .map(|i| {
                greenlet::spawn(move || {
                    let url = format!("http://127.0.0.1:{port}/{i}");
                    ureq::get(&url)
                        .call()
                        .unwrap()
                        .body_mut()
                        .read_to_string()
                        .unwrap()
                })
            })
            .collect();
        for body in greenlet::joinall(fetches) {
            assert_eq!(body.unwrap(), "ok");
        }
        // Blocking the hub, the first fetch would have been alone.
        assert_eq!(most.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn vectored_std_reads_and_writes_switch_too() {
        use std::io::{IoSlice, IoSliceMut};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        // A std thread echoes what it reads, 100 ms late.
        let echo = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut got = [0u8; 6];
            s.read_exact(&mut got).unwrap();
            std::thread::sleep(Duration::from_millis(100));
            s.write_all(&got).unwrap();
        });
        let ticker = SleepTicker::spawn(Duration::from_millis(1), 10_000);
        let client = greenlet::spawn(move || {
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            let sent = s
                .write_vectored(&[IoSlice::new(b"abc"), IoSlice::new(b"def")])
                .unwrap();
            assert_eq!(sent, 6);
            let (mut x, mut y) = ([0u8; 3], [0u8; 3]);
            let mut got = 0;
            for _ in 0..10 {
                if got == 6 {
                    break;
                }
                let mut bufs = [
                    IoSliceMut::new(&mut x[got.min(3)..]),
                    IoSliceMut::new(&mut y[got.saturating_sub(3)..]),
                ];
                got += s.read_vectored(&mut bufs).unwrap();
            }
            (x, y)
        });
        assert_eq!(client.join().unwrap(), (*b"abc", *b"def"));
        let ticks = ticker.stop();
        echo.join().unwrap();
        assert!(ticks >= 20, "ticks: {ticks}");
    }

    #[test]
    fn a_large_std_write_switches_while_the_socket_is_full() {
        use std::os::unix::net::UnixStream;
        const LEN: usize = 4 << 20; // far more than a socket buffer holds
        let (mut a, mut b) = UnixStream::pair().unwrap();
        // Bounded: a write that blocked the hub would fail after 10 s.
        a.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
        b.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let writer = greenlet::spawn(move || {
            let data: Vec<u8> = (0..LEN).map(|i| (i % 251) as u8).collect();
            a.write_all(&data)
        });
        let reader = greenlet::spawn(move || {
            let mut got = Vec::with_capacity(LEN);
            (&mut b).take(LEN as u64).read_to_end(&mut got).map(|_| got)
        });
        writer.join().unwrap().unwrap();
        let got = reader.join().unwrap().unwrap();
        assert_eq!(got.len(), LEN);
        assert!(got.iter().enumerate().all(|(i, &x)| x == (i % 251) as u8));
    }

    #[test]
    fn a_non_blocking_std_socket_returns_would_block_without_switching() {
        use std::os::unix::net::UnixStream;
        let (mut a, mut b) = UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        b.set_nonblocking(true).unwrap();
        let turns = std::rc::Rc::new(Cell::new(0));
        let t = turns.clone();
        let other = greenlet::spawn(move || t.set(t.get() + 1));
        let g = greenlet::spawn(move || {
            let mut buf = [0u8; 1];
            let read = a.read(&mut buf).unwrap_err().kind();
            // Fill the socket until the kernel refuses: a short write, then
            // WouldBlock, never a switch.
            let chunk = [7u8; 65536];
            let mut refused = None;
            for _ in 0..1_000 {
                if let Err(e) = b.write(&chunk) {
                    refused = Some(e.kind());
                    break;
                }
            }
            (read, refused)
        });
        let (read, refused) = g.join().unwrap();
        assert_eq!(read, std::io::ErrorKind::WouldBlock);
        assert_eq!(refused, Some(std::io::ErrorKind::WouldBlock));
        other.join().unwrap();
        assert_eq!(turns.get(), 1);
    }

    #[test]
    fn a_socket_shut_down_for_reading_reads_end_of_file_at_once() {
        use std::os::unix::net::UnixStream;
        let (a, _b) = UnixStream::pair().unwrap();
        let g = greenlet::spawn(move || {
            a.shutdown(std::net::Shutdown::Read).unwrap();
            let mut buf = [0u8; 1];
            (&a).read(&mut buf).map_err(|e| e.kind())
        });
        assert_eq!(g.join().unwrap(), Ok(0));
    }

    #[test]
    fn recv_with_msg_waitall_waits_for_all_of_it() {
        use std::os::fd::AsRawFd;
        use std::os::unix::net::UnixStream;
        let (a, mut b) = UnixStream::pair().unwrap();
        let fd = a.as_raw_fd();
        let reader = greenlet::spawn(move || {
            let mut buf = [0u8; 6];
            // SAFETY: a valid descriptor and buffer.
            let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), 6, libc::MSG_WAITALL) };
            (n, buf)
        });
        let writer = greenlet::spawn(move || {
            for part in [b"abc", b"def"] {
                b.write_all(part).unwrap();
                greenlet::sleep(Duration::from_millis(20));
            }
            b
        });
        assert_eq!(reader.join().unwrap(), (6, *b"abcdef"));
        drop((a, writer.join().unwrap()));
    }

    #[test]
    fn tungstenite_connect_unchanged_runs_beside_a_green_server() {
        use tungstenite::Message;
        // A WebSocket echo server on a std listener, one greenlet per
        // client, and three clients that open their own std sockets with
        // `tungstenite::connect`: all on this one thread.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("ws://{}/", listener.local_addr().unwrap());
        let server = greenlet::spawn(move || {
            let mut handlers = Vec::new();
            for _ in 0..3 {
                let (stream, _) = listener.accept().unwrap();
                handlers.push(greenlet::spawn(move || {
                    let mut ws = tungstenite::accept(stream).unwrap();
                    let text = ws.read().unwrap();
                    ws.send(text).unwrap();
                    ws.close(None).unwrap();
                    // Until the client's close comes back (bounded).
                    for _ in 0..10 {
                        if ws.read().is_err() {
                            break;
                        }
                    }
                }));
            }
            greenlet::joinall(handlers)
        });
        let clients: Vec<_> = (0..3)
            .map(|i| {
                let url = url.clone();
                greenlet::spawn(move || {
                    let (mut ws, _) = tungstenite::connect(url.as_str()).unwrap();
                    ws.send(Message::text(format!("hello {i}"))).unwrap();
                    let echoed = ws.read().unwrap();
                    echoed.into_text().unwrap().to_string()
                })
            })
            .collect();
        let echoed: Vec<_> = clients.into_iter().map(|c| c.join().unwrap()).collect();
        assert_eq!(echoed, ["hello 0", "hello 1", "hello 2"]);
        for r in server.join().unwrap() {
            r.unwrap();
        }
    }

    #[test]
    fn a_write_timeout_on_a_full_std_socket_is_honoured() {
        use std::os::unix::net::UnixStream;
        let (mut a, b) = UnixStream::pair().unwrap();
        a.set_write_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let ticker = SleepTicker::spawn(Duration::from_millis(1), 10_000);
        // Nobody reads `b`: the writes fill the socket, then wait (letting
        // the ticker run) until the timeout fails one.
        let writer = greenlet::spawn(move || {
            let chunk = [1u8; 65536];
            for _ in 0..1_000 {
                if let Err(e) = a.write(&chunk) {
                    return Some(e.kind());
                }
            }
            None
        });
        assert_eq!(writer.join().unwrap(), Some(std::io::ErrorKind::WouldBlock));
        let ticks = ticker.stop();
        drop(b);
        assert!(ticks >= 20, "ticks: {ticks}");
    }

    /// gevent's main greenlet: the main context's std calls run the
    /// greenlets while they wait. A std client in main talks to a std
    /// server in a greenlet of the same thread, which never ran otherwise
    /// (the read's timeout turns that into an error, not a hang).
    #[test]
    fn the_main_context_s_std_calls_run_the_greenlets() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = greenlet::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut got = [0u8; 4];
            s.read_exact(&mut got).unwrap();
            s.write_all(&got).unwrap();
        });
        let mut client = std::net::TcpStream::connect(addr).unwrap();
        client
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        client.write_all(b"ping").unwrap();
        let mut back = [0u8; 4];
        client.read_exact(&mut back).unwrap();
        assert_eq!(&back, b"ping");
        server.join().unwrap();
        // And std::thread::sleep in main lets a ticker tick.
        let ticker = SleepTicker::spawn(Duration::from_millis(1), 10_000);
        std::thread::sleep(Duration::from_millis(100));
        let ticks = ticker.stop();
        assert!(ticks >= 20, "ticks: {ticks}");
    }
}
