//! Seed 000's aiohttp app, on greenlets:
//!
//! - `GET /` → `<h1>Index</h1>`
//! - `GET /hello/{name}` → `<h1>hello, {name}!</h1>`
//!
//! Each handler sleeps 0.5 s (as the seed's `asyncio.sleep(0.5)`), yet one
//! thread serves many requests at once: a greenlet per connection, HTTP/1.1
//! with keep-alive and `Content-Length`, requests parsed by `httparse`.
//!
//! ```sh
//! cargo run --release --example hello_server                    # 127.0.0.1:8000
//! cargo run --release --example hello_server -- 127.0.0.1:0 --requests 100
//! curl http://127.0.0.1:8000/hello/bob
//! ```
//!
//! With `--requests N` it exits after serving N requests and prints the
//! largest number of requests it had in flight at once.

use std::cell::Cell;
use std::io::{self, Read, Write};
use std::rc::Rc;
use std::time::Duration;

use greenlet::net::{TcpListener, TcpStream};

/// Requests served, and in flight now and at most.
#[derive(Default)]
struct Stats {
    served: Cell<usize>,
    in_flight: Cell<usize>,
    peak: Cell<usize>,
}

/// The app's routes; each takes 0.5 s, like the seed's handlers.
fn route(path: &str) -> (u16, String) {
    greenlet::sleep(Duration::from_millis(500));
    if path == "/" {
        (200, "<h1>Index</h1>".into())
    } else if let Some(name) = path.strip_prefix("/hello/").filter(|n| !n.is_empty()) {
        (200, format!("<h1>hello, {name}!</h1>"))
    } else {
        (404, "<h1>404: Not Found</h1>".into())
    }
}

/// Serves one connection: requests in turn until the client closes or asks
/// to (`Connection: close`, or HTTP/1.0 without keep-alive).
fn serve(stream: TcpStream, stats: &Stats) -> io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut request = httparse::Request::new(&mut headers);
        let parsed = match request.parse(&buf) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => {
                let n = (&stream).read(&mut chunk)?;
                if n == 0 {
                    return Ok(()); // the client closed
                }
                buf.extend_from_slice(&chunk[..n]);
                continue;
            }
            Err(e) => {
                (&stream).write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")?;
                return Err(io::Error::new(io::ErrorKind::InvalidData, e));
            }
        };
        let path = request.path.unwrap_or("/").to_owned();
        let http10 = request.version == Some(0);
        let connection = request
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("connection"))
            .map(|h| String::from_utf8_lossy(h.value).to_ascii_lowercase());
        let keep_alive = match connection.as_deref() {
            Some("close") => false,
            Some("keep-alive") => true,
            _ => !http10,
        };
        buf.drain(..parsed);

        stats.in_flight.set(stats.in_flight.get() + 1);
        stats.peak.set(stats.peak.get().max(stats.in_flight.get()));
        let (status, body) = route(&path);
        stats.in_flight.set(stats.in_flight.get() - 1);

        let reason = if status == 200 { "OK" } else { "Not Found" };
        let response = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\n\
             Content-Length: {}\r\nConnection: {}\r\n\r\n{body}",
            body.len(),
            if keep_alive { "keep-alive" } else { "close" },
        );
        (&stream).write_all(response.as_bytes())?;
        stats.served.set(stats.served.get() + 1);
        if !keep_alive {
            return Ok(());
        }
    }
}

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut addr = "127.0.0.1:8000".to_string();
    let mut limit = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--requests" => limit = args.next().and_then(|n| n.parse::<usize>().ok()),
            _ => addr = arg,
        }
    }
    let listener = TcpListener::bind(&addr)?;
    println!("Server started at http://{}...", listener.local_addr()?);
    io::stdout().flush()?;

    let stats = Rc::new(Stats::default());
    let acceptor_stats = stats.clone();
    greenlet::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let stats = acceptor_stats.clone();
            greenlet::spawn(move || {
                if let Err(e) = serve(stream, &stats) {
                    eprintln!("connection error: {e}");
                }
            });
        }
    });

    match limit {
        None => greenlet::run(), // serve for ever
        Some(limit) => {
            while stats.served.get() < limit {
                greenlet::sleep(Duration::from_millis(10));
            }
            println!(
                "served {} requests, at most {} at once",
                stats.served.get(),
                stats.peak.get()
            );
        }
    }
    Ok(())
}
