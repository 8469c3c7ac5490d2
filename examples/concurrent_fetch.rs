//! Seed 001's urllib example, made local: three greenlets fetch three pages
//! at once; each waits on its socket while the others run.
//!
//! ```python
//! def f(url):
//!     print('GET: %s' % url)
//!     resp = urllib2.urlopen(url)
//!     data = resp.read()
//!     print('%d bytes received from %s.' % (len(data), url))
//!
//! gevent.joinall([gevent.spawn(f, 'https://www.python.org/'), ...])
//! ```
//!
//! An in-process HTTP server on 127.0.0.1 stands in for the three sites,
//! with the seed's page sizes and delays of 100, 300 and 200 ms. The output
//! shows the three GETs first, then the pages in the order they complete;
//! the total time (on stderr) is about the slowest request, not the sum.
//!
//! Run it with `cargo run --example concurrent_fetch`.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::time::{Duration, Instant};

use greenlet::net::{TcpListener, TcpStream};

/// The pages: path, size in bytes (as the seed printed), delay.
const PAGES: [(&str, usize, u64); 3] = [
    ("/www.python.org/", 45_661, 100),
    ("/www.yahoo.com/", 304_034, 300),
    ("/github.com/", 14_823, 200),
];

/// Answers one HTTP/1.0 request: waits the page's delay, then sends it.
fn serve_one(stream: TcpStream) -> io::Result<()> {
    let mut request_line = String::new();
    let mut reader = BufReader::new(&stream);
    reader.read_line(&mut request_line)?;
    let path = request_line.split_whitespace().nth(1).unwrap_or("/");
    let (size, delay) = PAGES
        .iter()
        .find(|(p, _, _)| *p == path)
        .map_or((0, 0), |&(_, size, delay)| (size, delay));
    greenlet::sleep(Duration::from_millis(delay)); // a slow site
    let body = vec![b'x'; size];
    write!(&stream, "HTTP/1.0 200 OK\r\nContent-Length: {size}\r\n\r\n")?;
    (&stream).write_all(&body)
}

/// Python's `f(url)`: GET the page and count the body's bytes.
fn fetch(addr: std::net::SocketAddr, path: &str) -> io::Result<()> {
    println!("GET: {}", url_for_print(path));
    let mut stream = TcpStream::connect(addr)?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n")?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?; // other greenlets run while this waits
    let body_at = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(response.len(), |i| i + 4);
    println!(
        "{} bytes received from {}.",
        response.len() - body_at,
        url_for_print(path)
    );
    Ok(())
}

/// The seed's URL for a local path, so the output reads like the seed's.
fn url_for_print(path: &str) -> String {
    format!("https:/{path}")
}

fn main() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    greenlet::spawn(move || {
        for stream in listener.incoming().take(PAGES.len()) {
            let stream = stream.expect("an accepted connection");
            greenlet::spawn(move || serve_one(stream).expect("a served page"));
        }
    });

    let start = Instant::now();
    let fetches = PAGES.map(|(path, _, _)| greenlet::spawn(move || fetch(addr, path)));
    for result in greenlet::joinall(fetches) {
        result.expect("a fetch greenlet panicked")?;
    }
    eprintln!(
        "total {:.2} s for three requests of 0.1, 0.3 and 0.2 s: they overlapped",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
