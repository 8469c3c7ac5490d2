//! Seed 000's aiohttp app, shared by `hello_server` (plain HTTP) and
//! `https_hello` (the same over rustls): its routes, and an HTTP/1.1
//! keep-alive loop over any `Read + Write`, requests parsed by `httparse`.

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

/// Requests served, and in flight now and at most (over every thread).
#[derive(Default)]
pub struct Stats {
    pub served: AtomicUsize,
    pub in_flight: AtomicUsize,
    pub peak: AtomicUsize,
}

impl Stats {
    pub fn served(&self) -> usize {
        self.served.load(SeqCst)
    }

    pub fn peak(&self) -> usize {
        self.peak.load(SeqCst)
    }
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
/// to (`Connection: close`, or HTTP/1.0 without keep-alive). Each read may
/// switch greenlets (over TLS, the first one drives the handshake).
pub fn serve<S: Read + Write>(stream: &mut S, stats: &Stats) -> io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut request = httparse::Request::new(&mut headers);
        let parsed = match request.parse(&buf) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) => {
                let n = stream.read(&mut chunk)?;
                if n == 0 {
                    return Ok(()); // the client closed
                }
                buf.extend_from_slice(&chunk[..n]);
                continue;
            }
            Err(e) => {
                stream.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")?;
                stream.flush()?;
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

        let now = stats.in_flight.fetch_add(1, SeqCst) + 1;
        stats.peak.fetch_max(now, SeqCst);
        let (status, body) = route(&path);
        stats.in_flight.fetch_sub(1, SeqCst);

        let reason = if status == 200 { "OK" } else { "Not Found" };
        let response = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\n\
             Content-Length: {}\r\nConnection: {}\r\n\r\n{body}",
            body.len(),
            if keep_alive { "keep-alive" } else { "close" },
        );
        stream.write_all(response.as_bytes())?;
        // A no-op on a socket; over TLS, what sends the record.
        stream.flush()?;
        stats.served.fetch_add(1, SeqCst);
        if !keep_alive {
            return Ok(());
        }
    }
}
