//! Seed 000's aiohttp app, on greenlets:
//!
//! - `GET /` → `<h1>Index</h1>`
//! - `GET /hello/{name}` → `<h1>hello, {name}!</h1>`
//!
//! Each handler sleeps 0.5 s (as the seed's `asyncio.sleep(0.5)`), yet one
//! thread serves many requests at once: a [`StreamServer`] runs a greenlet
//! per connection, HTTP/1.1 with keep-alive and `Content-Length`, requests
//! parsed by `httparse`. With `--threads N` a [`Builder`] runs N servers,
//! one hub per thread, each with its own `SO_REUSEPORT` listener on the
//! same port.
//!
//! ```sh
//! cargo run --release --example hello_server                    # 127.0.0.1:8000
//! cargo run --release --example hello_server -- 127.0.0.1:0 --requests 100
//! cargo run --release --example hello_server -- --threads 4
//! curl http://127.0.0.1:8000/hello/bob
//! ```
//!
//! SIGINT (Ctrl-C) or SIGTERM stops it gracefully. With `--requests N` it
//! also stops after serving N requests (in-flight
//! requests finish first) and prints how many it served and the largest
//! number it had in flight at once.

use std::io::{self, Write};
use std::sync::Arc;
use std::time::Duration;

use greenlet::net::TcpStream;
use greenlet::server::{Builder, StreamServer};
use greenlet::signal::{SIGINT, SIGTERM, Signals};

#[path = "common/hello_app.rs"]
mod hello_app;
use hello_app::{Stats, serve};

/// How long a stop waits for the handlers (idle keep-alive connections
/// included) before it kills them.
const GRACE: Duration = Duration::from_secs(1);

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut addr = "127.0.0.1:8000".to_string();
    let mut limit = None;
    let mut threads = 1;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--requests" => limit = args.next().and_then(|n| n.parse::<usize>().ok()),
            "--threads" => threads = args.next().and_then(|n| n.parse().ok()).unwrap_or(1),
            _ => addr = arg,
        }
    }
    let stats = Arc::new(Stats::default());
    let handler_stats = stats.clone();
    let handler = move |mut stream: TcpStream, _peer| {
        if let Err(e) = serve(&mut stream, &handler_stats) {
            eprintln!("connection error: {e}");
        }
    };

    // SIGINT (Ctrl-C) and SIGTERM stop the server gracefully: registered
    // before the server starts, so that none is missed.
    let mut signals = Signals::new(&[SIGINT, SIGTERM])?;
    if threads <= 1 {
        // One hub: the server's greenlets run on this thread.
        let server = StreamServer::bind(&addr, handler)?;
        started(server.local_addr()?)?;
        let stopper = server.stopper();
        let on_signal = greenlet::spawn(move || {
            if let Ok(signal) = signals.wait() {
                eprintln!("signal {signal}: stopping");
                stopper.stop(GRACE);
            }
        });
        match limit {
            None => server.serve_forever(), // until a signal stops it
            Some(limit) => {
                server.start();
                while stats.served() < limit && !server.is_stopped() {
                    greenlet::sleep(Duration::from_millis(10));
                }
                server.stop(GRACE);
            }
        }
        on_signal.kill();
    } else {
        // One hub per thread, each with its own listener on the port.
        let addr = addr
            .parse()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let server = Builder::new(addr).threads(threads).spawn(handler)?;
        started(server.local_addr())?;
        // This thread only waits: for a signal, or for the requests asked.
        let stop = greenlet::spawn(move || {
            if let Ok(signal) = signals.wait() {
                eprintln!("signal {signal}: stopping");
            }
        });
        while !stop.is_finished() && limit.is_none_or(|limit| stats.served() < limit) {
            greenlet::sleep(Duration::from_millis(10));
        }
        stop.kill();
        server.stop(GRACE);
        server.join().expect("no server thread panics");
    }
    println!(
        "served {} requests, at most {} at once",
        stats.served(),
        stats.peak()
    );
    Ok(())
}

/// Prints the line the tests and users wait for.
fn started(addr: std::net::SocketAddr) -> io::Result<()> {
    println!("Server started at http://{addr}...");
    io::stdout().flush()
}
