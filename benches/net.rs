//! Green sockets against their peers, measured in the same run.
//!
//! `cargo bench --bench net`
//!
//! Echo: 100 connections, 64-byte messages, one message in flight per
//! connection, one client thread driving them all (it writes one message to
//! every connection, then reads every echo back). The server runs on one
//! thread: greenlets, or a tokio `current_thread` runtime; the std baseline
//! uses a thread per connection. Every server has the same shape: read what
//! has arrived into a 4 KiB buffer, write it back. Figures are per message;
//! on 2 cores the client competes with the server, so compare servers within
//! one run. `echo_server_cpu` reports the server thread's CPU time per
//! message instead of the wall time, the fairer figure on a shared machine.

use std::cell::Cell;
use std::hint::black_box;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const CONNECTIONS: usize = 100;
const MESSAGE: usize = 64;

/// The client: `CONNECTIONS` blocking std streams driven by one thread.
struct Client {
    streams: Vec<std::net::TcpStream>,
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let streams = (0..CONNECTIONS)
            .map(|_| {
                let s = std::net::TcpStream::connect(addr).unwrap();
                s.set_nodelay(true).unwrap();
                s
            })
            .collect();
        Client { streams }
    }

    /// Time for `iters` messages, in rounds of one per connection.
    fn run(&mut self, iters: u64) -> Duration {
        self.run_measured(iters, Instant::now, |start| start.elapsed())
    }

    /// The server thread's CPU time for `iters` messages.
    fn run_cpu(&mut self, iters: u64, server: ThreadClock) -> Duration {
        self.run_measured(iters, || server.now(), |start| server.now() - start)
    }

    /// `iters` messages in rounds of one per connection, measured from
    /// `start()` to `end(start)` and scaled to exactly `iters`.
    fn run_measured<S>(
        &mut self,
        iters: u64,
        start: impl FnOnce() -> S,
        end: impl FnOnce(S) -> Duration,
    ) -> Duration {
        let rounds = iters.div_ceil(CONNECTIONS as u64);
        let msg = [42u8; MESSAGE];
        let mut back = [0u8; MESSAGE];
        let started = start();
        for _ in 0..rounds {
            for s in &mut self.streams {
                s.write_all(&msg).unwrap();
            }
            for s in &mut self.streams {
                s.read_exact(&mut back).unwrap();
            }
        }
        end(started).mul_f64(iters as f64 / (rounds * CONNECTIONS as u64) as f64)
    }
}

/// A thread's CPU-time clock, readable from any thread of the process.
#[derive(Clone, Copy)]
struct ThreadClock(libc::clockid_t);

impl ThreadClock {
    /// The calling thread's clock.
    fn current() -> ThreadClock {
        let mut id: libc::clockid_t = 0;
        // SAFETY: `pthread_self()` is the live calling thread and `id` is a
        // valid place for the clock id.
        let rc = unsafe { libc::pthread_getcpuclockid(libc::pthread_self(), &mut id) };
        assert_eq!(rc, 0, "pthread_getcpuclockid");
        ThreadClock(id)
    }

    /// The CPU time the thread has used so far (user and system).
    fn now(self) -> Duration {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid timespec to write; the clock belongs to a
        // server thread that runs until the process ends.
        let rc = unsafe { libc::clock_gettime(self.0, &mut ts) };
        assert_eq!(rc, 0, "clock_gettime");
        Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
    }
}

/// A greenlet echo server on its own thread, and that thread's CPU clock.
fn greenlet_server() -> (SocketAddr, ThreadClock) {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let listener = greenlet::net::TcpListener::bind("127.0.0.1:0").unwrap();
        tx.send((listener.local_addr().unwrap(), ThreadClock::current()))
            .unwrap();
        for stream in listener.incoming() {
            let stream = stream.unwrap();
            stream.set_nodelay(true).unwrap();
            greenlet::spawn(move || {
                let mut buf = [0u8; 4096];
                loop {
                    match (&stream).read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if (&stream).write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                    }
                }
            });
        }
    });
    rx.recv().unwrap()
}

/// A thread-per-connection std echo server.
fn std_server() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            stream.set_nodelay(true).unwrap();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                loop {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if stream.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                    }
                }
            });
        }
    });
    addr
}

/// A tokio `current_thread` echo server on its own thread, and that
/// thread's CPU clock.
fn tokio_server() -> (SocketAddr, ThreadClock) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send((listener.local_addr().unwrap(), ThreadClock::current()))
                .unwrap();
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                stream.set_nodelay(true).unwrap();
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    loop {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => {
                                if stream.write_all(&buf[..n]).await.is_err() {
                                    break;
                                }
                            }
                        }
                    }
                });
            }
        });
    });
    rx.recv().unwrap()
}

fn echo(c: &mut Criterion) {
    let mut group = c.benchmark_group("echo_100_connections");
    group.throughput(Throughput::Elements(1));
    group.sample_size(20);
    let greenlet = greenlet_server();
    let tokio = tokio_server();
    for (name, addr) in [
        ("greenlet_one_thread", greenlet.0),
        ("tokio_current_thread", tokio.0),
        ("std_thread_per_connection", std_server()),
    ] {
        let mut client = Client::connect(addr);
        group.bench_function(name, |b| b.iter_custom(|iters| client.run(iters)));
    }
    group.finish();

    // The server thread's CPU time per message, not the wall time: the
    // client shares the two cores, so this is the figure that compares the
    // servers' own cost. (The std server's work is spread over a thread per
    // connection and is left out.)
    let mut group = c.benchmark_group("echo_server_cpu");
    group.throughput(Throughput::Elements(1));
    group.sample_size(20);
    for (name, (addr, clock)) in [
        ("greenlet_one_thread", greenlet),
        ("tokio_current_thread", tokio),
    ] {
        let mut client = Client::connect(addr);
        group.bench_function(name, |b| {
            b.iter_custom(|iters| client.run_cpu(iters, clock))
        });
    }
    group.finish();
}

fn connect_accept_close(c: &mut Criterion) {
    let mut group = c.benchmark_group("connect_accept_close");
    let listener = greenlet::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    group.bench_function("greenlet", |b| {
        b.iter(|| {
            let client = greenlet::net::TcpStream::connect(addr).unwrap();
            let (server, _) = listener.accept().unwrap();
            black_box((client, server));
        })
    });
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let std_addr = std_listener.local_addr().unwrap();
    group.bench_function("std", |b| {
        b.iter(|| {
            let client = std::net::TcpStream::connect(std_addr).unwrap();
            let (server, _) = std_listener.accept().unwrap();
            black_box((client, server));
        })
    });
    group.finish();
}

/// From a std thread writing one byte to the moment the greenlet reading it
/// runs, while 1,000 greenlets spin on `yield_now`.
fn ready_socket_under_spinners(c: &mut Criterion) {
    let mut group = c.benchmark_group("ready_socket_latency");
    group.sample_size(10);
    group.bench_function("under_1000_spinners", |b| {
        b.iter_custom(|iters| {
            let listener = greenlet::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let (sent_tx, sent_rx) = mpsc::channel::<Instant>();
            let writer = std::thread::spawn(move || {
                let mut s = std::net::TcpStream::connect(addr).unwrap();
                s.set_nodelay(true).unwrap();
                let mut ack = [0u8; 1];
                for _ in 0..iters {
                    std::thread::sleep(Duration::from_micros(200));
                    sent_tx.send(Instant::now()).unwrap();
                    s.write_all(b"!").unwrap();
                    s.read_exact(&mut ack).unwrap(); // wait for the reader's turn
                }
            });
            let (stream, _) = listener.accept().unwrap();
            let stop = Rc::new(Cell::new(false));
            let spinners: Vec<_> = (0..1000)
                .map(|_| {
                    let stop = stop.clone();
                    greenlet::spawn(move || {
                        while !stop.get() {
                            greenlet::yield_now();
                        }
                    })
                })
                .collect();
            let mut total = Duration::ZERO;
            let mut byte = [0u8; 1];
            for _ in 0..iters {
                (&stream).read_exact(&mut byte).unwrap();
                total += sent_rx.recv().unwrap().elapsed();
                (&stream).write_all(b"k").unwrap();
            }
            stop.set(true);
            greenlet::joinall(spinners);
            writer.join().unwrap();
            total
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    echo,
    connect_accept_close,
    ready_socket_under_spinners
);
criterion_main!(benches);
