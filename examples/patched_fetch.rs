//! Seed 001's gevent example in its original spirit: three greenlets fetch
//! three URLs with an ordinary blocking HTTP client, `ureq`, unchanged, and
//! the fetches overlap because the `patch` feature makes the C library's
//! socket calls switch greenlets (gevent's `monkey.patch_all()`).
//!
//! ```python
//! from gevent import monkey; monkey.patch_all()
//! def f(url):
//!     print('GET: %s' % url)
//!     data = urllib2.urlopen(url).read()
//!     print('%d bytes received from %s.' % (len(data), url))
//! gevent.joinall([gevent.spawn(f, u) for u in urls])
//! ```
//!
//! The three sites are served locally (no network here), by a server on a
//! thread of its own, each answering after its own delay with a body the
//! size the seed printed. Stdout prints the seed's lines; the total time
//! against the sum of the three goes to stderr.
//!
//! ```sh
//! cargo run --features patch --example patched_fetch
//! ```

use std::io::{Read, Write};
use std::time::{Duration, Instant};

/// The seed's sites, served at `/0`, `/1`, `/2`: each one's delay in ms and
/// the body size the seed printed.
const SITES: [(&str, u64, usize); 3] = [
    ("https://www.python.org/", 60, 45_661),
    ("https://www.yahoo.com/", 180, 304_034),
    ("https://github.com/", 120, 14_823),
];

/// Serves the three sites on a thread of its own; returns the port.
fn serve() -> u16 {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let server = greenlet::server::StreamServer::bind("127.0.0.1:0", |mut stream, _| {
            let mut request = Vec::new();
            let mut buf = [0u8; 1024];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let text = String::from_utf8_lossy(&request);
            let path = text.split_whitespace().nth(1).unwrap_or("/");
            let site = path
                .strip_prefix('/')
                .and_then(|i| i.parse::<usize>().ok())
                .and_then(|i| SITES.get(i));
            let Some(&(_, delay, size)) = site else {
                let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
                return;
            };
            greenlet::sleep(Duration::from_millis(delay));
            let head =
                format!("HTTP/1.1 200 OK\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n");
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&vec![b'x'; size]);
        })
        .expect("bind a local port");
        tx.send(server.local_addr().expect("bound").port()).unwrap();
        server.serve_forever();
    });
    rx.recv().unwrap()
}

fn main() {
    let port = serve();
    let started = Instant::now();
    let fetches: Vec<_> = SITES
        .iter()
        .enumerate()
        .map(|(i, &(url, _, _))| {
            let local = format!("http://127.0.0.1:{port}/{i}");
            greenlet::spawn(move || {
                println!("GET: {url}");
                let begun = Instant::now();
                // ureq, unchanged: its std socket's reads and writes switch.
                let data = ureq::get(&local)
                    .call()
                    .expect("the local server answers")
                    .body_mut()
                    .read_to_vec()
                    .expect("a body");
                println!("{} bytes received from {url}.", data.len());
                begun.elapsed()
            })
        })
        .collect();
    let times: Vec<Duration> = greenlet::joinall(fetches)
        .into_iter()
        .map(|t| t.expect("a fetch"))
        .collect();
    let total = started.elapsed();
    let sum: Duration = times.iter().sum();
    let slowest = times.iter().max().copied().unwrap_or_default();
    eprintln!(
        "total {:.0} ms; slowest fetch {:.0} ms; sum of the three {:.0} ms",
        total.as_secs_f64() * 1e3,
        slowest.as_secs_f64() * 1e3,
        sum.as_secs_f64() * 1e3
    );
}
