//! `hello_server`'s app over TLS: rustls, unchanged, on green sockets.
//!
//! - `GET /` → `<h1>Index</h1>`
//! - `GET /hello/{name}` → `<h1>hello, {name}!</h1>`
//!
//! rustls never opens a socket: `rustls::StreamOwned` wraps any transport
//! that is `Read + Write`. Over a [`greenlet::net::TcpStream`] its reads and
//! writes suspend only the calling greenlet, so a [`StreamServer`] serves
//! many TLS connections at once on one thread, a greenlet each, with the
//! same blocking code one would write for a thread per connection. Each
//! handler sleeps 0.5 s, as `hello_server`'s do.
//!
//! The certificate is self-signed for `localhost` and `127.0.0.1`, made at
//! start with `rcgen`; `--cert FILE` writes it (PEM) for clients to trust.
//!
//! ```sh
//! cargo run --release --example https_hello                  # 127.0.0.1:8443
//! cargo run --release --example https_hello -- 127.0.0.1:0 --requests 100 --cert /tmp/cert.pem
//! cargo run --example https_hello -- --demo                   # fetches itself, then exits
//! curl --insecure https://127.0.0.1:8443/hello/bob
//! ```
//!
//! With `--requests N` it stops after serving N requests (in-flight requests
//! finish first) and prints how many it served and the largest number it had
//! in flight at once.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use greenlet::net::TcpStream;
use greenlet::server::StreamServer;
use rustls::pki_types::{PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};
use rustls::{StreamOwned, crypto::CryptoProvider};

#[path = "common/hello_app.rs"]
mod hello_app;
use hello_app::{Stats, serve};

/// The certificate and the server's and clients' configurations.
struct Tls {
    /// The certificate in PEM, for curl's `--cacert` or another client.
    pem: String,
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
}

/// ring as the crypto provider: it builds with a C compiler alone.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl Tls {
    /// A fresh self-signed certificate for `localhost` and `127.0.0.1`.
    fn self_signed() -> Result<Tls, Box<dyn std::error::Error>> {
        let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        let rcgen::CertifiedKey { cert, signing_key } = rcgen::generate_simple_self_signed(names)?;
        let (certificate, pem) = (cert.der().clone(), cert.pem());
        let key = PrivatePkcs8KeyDer::from(signing_key.serialize_der());
        let server = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(vec![certificate.clone()], key.into())?;
        // Our own clients (the demo) trust this one certificate.
        let mut roots = RootCertStore::empty();
        roots.add(certificate.clone())?;
        let client = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Tls {
            pem,
            server: Arc::new(server),
            client: Arc::new(client),
        })
    }
}

/// The handler of one accepted connection.
fn handle(socket: TcpStream, config: Arc<ServerConfig>, stats: &Stats) -> io::Result<()> {
    // A client that stalls (mid-handshake, say) times out; others go on.
    socket.set_read_timeout(Some(Duration::from_secs(10)))?;
    let connection = ServerConnection::new(config).map_err(io::Error::other)?;
    // rustls needs only `Read + Write`: the green socket is one.
    let mut tls = StreamOwned::new(connection, socket);
    let served = serve(&mut tls, stats);
    // A clean TLS close, so that the client's read sees the end.
    tls.conn.send_close_notify();
    let _ = tls.flush();
    match served {
        // A peer gone without close_notify (curl often does that) is a close.
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(()),
        other => other,
    }
}

/// A server on `addr` that runs [`handle`] in a greenlet per connection.
fn bind(addr: &str, tls: &Tls, stats: Arc<Stats>) -> io::Result<StreamServer> {
    let config = tls.server.clone();
    StreamServer::bind(addr, move |socket, _peer| {
        if let Err(e) = handle(socket, config.clone(), &stats) {
            eprintln!("connection error: {e}");
        }
    })
}

/// A green TLS client: `GET path` with `Connection: close`, then the
/// status and the body.
fn fetch(addr: SocketAddr, config: Arc<ClientConfig>, path: &str) -> io::Result<(u16, String)> {
    let name = ServerName::try_from("localhost").expect("a valid name");
    let connection = ClientConnection::new(config, name).map_err(io::Error::other)?;
    let mut tls = StreamOwned::new(connection, TcpStream::connect(addr)?);
    write!(
        tls,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )?;
    tls.flush()?;
    let mut response = String::new();
    tls.read_to_string(&mut response)?; // until the server's close_notify
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok());
    let status = status.ok_or_else(|| io::Error::other(format!("a bad response: {head}")))?;
    Ok((status, body.to_string()))
}

/// Serves, fetches three routes of its own at once over TLS, and exits.
fn demo(tls: &Tls, stats: Arc<Stats>) -> io::Result<()> {
    let server = bind("127.0.0.1:0", tls, stats)?;
    let addr = server.local_addr()?;
    server.start();
    let clients: Vec<_> = ["/", "/hello/alice", "/nowhere"]
        .into_iter()
        .map(|path| {
            let config = tls.client.clone();
            greenlet::spawn(move || (path, fetch(addr, config, path)))
        })
        .collect();
    for client in clients {
        let (path, response) = client.join().expect("a client panicked");
        let (status, body) = response?;
        println!("GET {path} -> {status} {body}");
    }
    server.stop(GRACE);
    Ok(())
}

/// How long a stop waits for the handlers before it kills them.
const GRACE: Duration = Duration::from_secs(1);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut addr = "127.0.0.1:8443".to_string();
    let (mut limit, mut cert_file, mut demo_mode) = (None, None, false);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--requests" => limit = args.next().and_then(|n| n.parse::<usize>().ok()),
            "--cert" => cert_file = args.next(),
            "--demo" => demo_mode = true,
            _ => addr = arg,
        }
    }
    let tls = Tls::self_signed()?;
    if let Some(path) = &cert_file {
        std::fs::write(path, &tls.pem)?;
    }
    let stats = Arc::new(Stats::default());
    if demo_mode {
        return Ok(demo(&tls, stats)?);
    }

    let server = bind(&addr, &tls, stats.clone())?;
    // The line the tests and users wait for.
    println!("Server started at https://{}...", server.local_addr()?);
    io::stdout().flush()?;
    match limit {
        None => server.serve_forever(),
        Some(limit) => {
            server.start();
            while stats.served() < limit && !server.is_stopped() {
                greenlet::sleep(Duration::from_millis(10));
            }
            server.stop(GRACE);
        }
    }
    println!(
        "served {} requests, at most {} at once",
        stats.served(),
        stats.peak()
    );
    Ok(())
}
