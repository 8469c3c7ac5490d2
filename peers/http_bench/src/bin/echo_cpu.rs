//! Echo: the server thread's CPU time per message, greenlet's `StreamServer`
//! against a tokio `current_thread` server, in alternating runs.
//!
//! 100 connections, 64-byte messages, one in flight per connection, driven
//! by one blocking client thread (as `cargo bench --bench net -- echo`).
//! Each server runs on a thread of its own; its user and system time come
//! from `/proc/self/task/TID/stat` over the measured messages.
//!
//! ```sh
//! cargo run --release --bin echo_cpu -- [RUNS] [ROUNDS]   # default 5 2000
//! ```

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::Instant;

const CONNECTIONS: usize = 100;
const MESSAGE: usize = 64;

/// A thread's user and system time so far, in clock ticks.
fn ticks(tid: &str) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).unwrap();
    // Fields after the ")" closing the name start at field 3 (state), so
    // utime (14) and stime (15) are the 12th and 13th of them.
    let fields: Vec<&str> = stat.rsplit_once(") ").unwrap().1.split(' ').collect();
    (fields[11].parse().unwrap(), fields[12].parse().unwrap())
}

/// The calling thread's id, as `/proc/self/task` names it.
fn tid() -> String {
    let link = std::fs::read_link("/proc/thread-self").unwrap();
    link.file_name().unwrap().to_string_lossy().into_owned()
}

/// Serves echo on its own thread; returns the address and the thread's id.
fn greenlet_server() -> (SocketAddr, String) {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let server = greenlet::server::StreamServer::bind("127.0.0.1:0", |stream, _| {
            stream.set_nodelay(true).unwrap();
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
        })
        .unwrap();
        tx.send((server.local_addr().unwrap(), tid())).unwrap();
        server.serve_forever();
    });
    rx.recv().unwrap()
}

/// The same on a tokio `current_thread` runtime.
fn tokio_server() -> (SocketAddr, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send((listener.local_addr().unwrap(), tid())).unwrap();
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

/// One run: `rounds` messages on every connection. Returns (wall, user,
/// system) in µs per message.
fn run(addr: SocketAddr, tid: &str, rounds: usize) -> [f64; 3] {
    let mut streams: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            let s = std::net::TcpStream::connect(addr).unwrap();
            s.set_nodelay(true).unwrap();
            s
        })
        .collect();
    let msg = [42u8; MESSAGE];
    let mut back = [0u8; MESSAGE];
    let round = |streams: &mut Vec<std::net::TcpStream>, back: &mut [u8; MESSAGE]| {
        for s in streams.iter_mut() {
            s.write_all(&msg).unwrap();
        }
        for s in streams.iter_mut() {
            s.read_exact(back).unwrap();
        }
    };
    round(&mut streams, &mut back); // every handler has started
    let started = Instant::now();
    let before = ticks(tid);
    for _ in 0..rounds {
        round(&mut streams, &mut back);
    }
    let after = ticks(tid);
    let wall = started.elapsed();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let n = (rounds * CONNECTIONS) as f64;
    let per = |t: u64| t as f64 / hz * 1e6 / n;
    [
        wall.as_secs_f64() * 1e6 / n,
        per(after.0 - before.0),
        per(after.1 - before.1),
    ]
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1).map(|a| a.parse::<usize>().unwrap());
    let runs = args.next().unwrap_or(5);
    let rounds = args.next().unwrap_or(2000);
    let servers = [("greenlet", greenlet_server()), ("tokio", tokio_server())];
    let mut results = vec![Vec::new(); servers.len()];
    for i in 0..runs {
        for (k, (name, (addr, tid))) in servers.iter().enumerate() {
            let [wall, user, sys] = run(*addr, tid, rounds);
            eprintln!(
                "run {i} {name}: wall {wall:.2}, user {user:.2}, system {sys:.2}, CPU {:.2} µs/message",
                user + sys
            );
            results[k].push([wall, user, sys, user + sys]);
        }
    }
    println!(
        "echo, {CONNECTIONS} connections, {MESSAGE}-byte messages, {rounds} rounds a run; medians of {runs} runs, µs per message"
    );
    println!("{:<10} {:>8} {:>8} {:>8} {:>8} {:>10}", "server", "wall", "user", "system", "CPU", "CPU/tokio");
    let med = |k: usize, f: usize| median(results[k].iter().map(|r| r[f]).collect());
    for (k, (name, _)) in servers.iter().enumerate() {
        println!(
            "{name:<10} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>10.2}",
            med(k, 0),
            med(k, 1),
            med(k, 2),
            med(k, 3),
            med(k, 3) / med(1, 3)
        );
    }
}
