//! `GET /` → `200 OK`, `<h1>Index</h1>`, on greenlet's `StreamServer`
//! (one thread) or `Builder` (`--threads N`, one hub per thread).
//!
//! Keep-alive and pipelining-safe: every complete request in the buffer is
//! answered, the responses going out in one `write_all`.
//!
//! ```sh
//! greenlet_server --threads 2 8080
//! ```

use std::io::{self, Read, Write};

use greenlet::net::TcpStream;
use greenlet::server::{Builder, StreamServer};
use http_bench::{BODY, args};

/// Appends the response to a request for `path`.
fn respond(out: &mut Vec<u8>, path: &str, keep_alive: bool) {
    let (status, body) = if path == "/" {
        ("200 OK", BODY)
    } else {
        ("404 Not Found", "<h1>404: Not Found</h1>")
    };
    let _ = write!(
        out,
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\n{}\r\n{body}",
        body.len(),
        if keep_alive { "" } else { "Connection: close\r\n" },
    );
}

/// Serves one connection until the client closes or asks to.
fn serve(stream: TcpStream) -> io::Result<()> {
    let mut buf = vec![0u8; 16 * 1024];
    let mut filled = 0; // bytes of buf holding unparsed input
    let mut out = Vec::with_capacity(4096);
    loop {
        let n = (&stream).read(&mut buf[filled..])?;
        if n == 0 {
            return Ok(()); // the client closed
        }
        filled += n;
        let mut consumed = 0;
        let mut close = false;
        while consumed < filled {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut request = httparse::Request::new(&mut headers);
            match request.parse(&buf[consumed..filled]) {
                Ok(httparse::Status::Complete(len)) => {
                    let connection = request
                        .headers
                        .iter()
                        .find(|h| h.name.eq_ignore_ascii_case("connection"))
                        .map(|h| h.value);
                    let keep_alive = match connection {
                        Some(v) if v.eq_ignore_ascii_case(b"close") => false,
                        Some(v) if v.eq_ignore_ascii_case(b"keep-alive") => true,
                        _ => request.version != Some(0),
                    };
                    respond(&mut out, request.path.unwrap_or("/"), keep_alive);
                    consumed += len;
                    if !keep_alive {
                        close = true;
                        break;
                    }
                }
                Ok(httparse::Status::Partial) => break,
                Err(e) => {
                    out.extend_from_slice(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
                    (&stream).write_all(&out)?;
                    return Err(io::Error::new(io::ErrorKind::InvalidData, e));
                }
            }
        }
        if !out.is_empty() {
            (&stream).write_all(&out)?;
            out.clear();
        }
        if close {
            return Ok(());
        }
        // Keep the unparsed tail at the front; grow if a request is huge.
        buf.copy_within(consumed..filled, 0);
        filled -= consumed;
        if filled == buf.len() {
            if buf.len() >= 1 << 20 {
                return Err(io::Error::new(io::ErrorKind::InvalidData, "request too large"));
            }
            buf.resize(buf.len() * 2, 0);
        }
    }
}

fn handler(stream: TcpStream, _peer: std::net::SocketAddr) {
    let _ = serve(stream);
}

fn main() -> io::Result<()> {
    let (threads, addr) = args();
    if threads == 1 {
        let server = StreamServer::bind(&addr, handler)?;
        eprintln!("greenlet: 1 thread on http://{}", server.local_addr()?);
        server.serve_forever();
    } else {
        let addr = addr
            .parse()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let server = Builder::new(addr).threads(threads).spawn(handler)?;
        eprintln!("greenlet: {threads} threads on http://{}", server.local_addr());
        server.join().expect("no server thread panics");
    }
    Ok(())
}
