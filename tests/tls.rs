//! rustls, unchanged, over green sockets: the `https_hello` example (a TLS
//! server, one greenlet per connection) against curl and against green TLS
//! clients (`rustls::StreamOwned` over `greenlet::net::TcpStream`) that run
//! in greenlets on the test's thread. Everything on 127.0.0.1; every wait is
//! bounded; nothing asserts a time.

mod util;

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use greenlet::net::TcpStream;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use util::{TempDir, example, wait_bounded};

/// A running `https_hello`, its address, and the certificate it wrote.
struct HttpsServer {
    child: Child,
    addr: SocketAddr,
    out: BufReader<ChildStdout>,
    dir: TempDir,
}

impl HttpsServer {
    /// Starts `https_hello` on a free port; it stops by itself after
    /// `requests` requests. `quiet` drops its stderr, for the tests whose
    /// broken clients it reports.
    fn start(requests: usize, quiet: bool) -> HttpsServer {
        let dir = TempDir::new("tls");
        let mut child = Command::new(example("https_hello"))
            .args(["127.0.0.1:0", "--requests", &requests.to_string()])
            .arg("--cert")
            .arg(dir.join("cert.pem"))
            .stdout(Stdio::piped())
            .stderr(if quiet {
                Stdio::null()
            } else {
                Stdio::inherit()
            })
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        out.read_line(&mut first).unwrap();
        let addr = first
            .trim()
            .strip_prefix("Server started at https://")
            .and_then(|s| s.strip_suffix("..."))
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line: {first}"));
        HttpsServer {
            child,
            addr,
            out,
            dir,
        }
    }

    /// A client configuration that trusts the server's certificate alone.
    fn client_config(&self) -> Arc<ClientConfig> {
        let cert = CertificateDer::from_pem_file(self.dir.join("cert.pem")).unwrap();
        let mut roots = RootCertStore::empty();
        roots.add(cert).unwrap();
        client_trusting(roots)
    }

    /// Waits (bounded) for the server to stop by itself, and returns the
    /// requests it served and the most it had in flight at once.
    fn finish(mut self) -> (usize, usize) {
        wait_bounded(&mut self.child, Duration::from_secs(60));
        assert!(self.child.wait().unwrap().success(), "a clean exit");
        let mut summary = String::new();
        self.out.read_line(&mut summary).unwrap();
        let numbers: Vec<usize> = summary
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        match numbers[..] {
            [served, peak] => (served, peak),
            _ => panic!("unexpected summary: {summary}"),
        }
    }
}

/// A client configuration (ring, as the server's) that trusts `roots`.
fn client_trusting(roots: RootCertStore) -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// A green TLS client: `GET path` with `Connection: close`, then the status
/// and the body. The server's certificate is checked for `localhost`.
fn fetch(addr: SocketAddr, config: Arc<ClientConfig>, path: &str) -> io::Result<(u16, String)> {
    let name = ServerName::try_from("localhost").unwrap();
    let connection = ClientConnection::new(config, name).map_err(io::Error::other)?;
    let mut tls = StreamOwned::new(connection, TcpStream::connect(addr)?);
    write!(
        tls,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )?;
    tls.flush()?;
    let mut response = String::new();
    tls.read_to_string(&mut response)?; // until the server's close_notify
    let (head, body) = response
        .split_once("\r\n\r\n")
        .ok_or_else(|| io::Error::other(format!("no header end in {response:?}")))?;
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok());
    let status = status.ok_or_else(|| io::Error::other(format!("a bad status line: {head}")))?;
    Ok((status, body.to_string()))
}

/// curl's standard output for `args` (curl is installed: checked first).
fn curl(args: &[&str]) -> String {
    let out = Command::new("curl")
        .args(["-s", "--max-time", "10"])
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "curl {args:?} failed: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// curl, a peer with its own TLS stack (OpenSSL), gets every route's exact
/// body: with `--insecure`, and once verifying the certificate for
/// `localhost` against the PEM file the server wrote.
#[test]
fn curl_gets_the_exact_bodies_over_tls() {
    if Command::new("curl").arg("--version").output().is_err() {
        eprintln!("curl is not installed: the curl test is skipped");
        return;
    }
    let server = HttpsServer::start(5, false);
    let base = format!("https://{}", server.addr);
    for (path, body) in [
        ("/", "<h1>Index</h1>"),
        ("/hello/bob", "<h1>hello, bob!</h1>"),
        ("/hello/Ann%20Lee", "<h1>hello, Ann%20Lee!</h1>"),
        ("/nowhere", "<h1>404: Not Found</h1>"),
    ] {
        let got = curl(&["--insecure", &format!("{base}{path}")]);
        assert_eq!(got, body, "GET {path}");
    }
    let port = server.addr.port();
    let cert = server.dir.join("cert.pem");
    let verified = curl(&[
        "--cacert",
        cert.to_str().unwrap(),
        "--resolve",
        &format!("localhost:{port}:127.0.0.1"),
        &format!("https://localhost:{port}/hello/verified"),
    ]);
    assert_eq!(verified, "<h1>hello, verified!</h1>");
    assert_eq!(server.finish().0, 5);
}

/// A green client, rustls over `greenlet::net::TcpStream`, fetches a route
/// and checks the certificate; a client that trusts nothing is refused by
/// its own verifier, so the check is real.
#[test]
fn a_green_tls_client_verifies_the_certificate_and_fetches_a_route() {
    let server = HttpsServer::start(1, true);
    let trusting_nothing = client_trusting(RootCertStore::empty());
    let refused = fetch(server.addr, trusting_nothing, "/").unwrap_err();
    let message = refused.to_string();
    assert!(
        message.contains("invalid peer certificate"),
        "unexpected error: {message}"
    );

    let config = server.client_config();
    assert_eq!(
        fetch(server.addr, config, "/hello/green").unwrap(),
        (200, "<h1>hello, green!</h1>".to_string())
    );
    assert_eq!(server.finish().0, 1, "only the trusting client was served");
}

/// 100 green TLS clients at once, greenlets on this test's thread, against
/// the one-threaded server: every body exact, and the server's own count
/// shows they were in flight together (each handler sleeps 0.5 s).
#[test]
fn a_hundred_concurrent_green_tls_clients_all_get_their_bodies() {
    const CLIENTS: usize = 100;
    let server = HttpsServer::start(CLIENTS, false);
    let config = server.client_config();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let (addr, config) = (server.addr, config.clone());
            greenlet::spawn(move || fetch(addr, config, &format!("/hello/c{i}")))
        })
        .collect();
    let mut ok = 0;
    for (i, client) in clients.into_iter().enumerate() {
        match client.join().expect("no client panics") {
            Ok((200, body)) if body == format!("<h1>hello, c{i}!</h1>") => ok += 1,
            other => eprintln!("client {i}: {other:?}"),
        }
    }
    assert_eq!(ok, CLIENTS, "every client got its exact body");
    let (served, peak) = server.finish();
    println!("{CLIENTS} green TLS clients: server served {served}, at most {peak} at once");
    assert_eq!(served, CLIENTS);
    assert!(
        peak >= CLIENTS / 2,
        "the server had only {peak} requests in flight at once"
    );
}

/// How a broken client leaves.
#[derive(Clone, Copy, Debug)]
enum Breaker {
    /// Sends its whole ClientHello, reads the start of the server's reply
    /// (so the server is mid-handshake, waiting for the client's Finished),
    /// then closes.
    AfterServerHello,
    /// Sends half a ClientHello, then closes.
    HalfClientHello,
    /// Connects and closes without a byte.
    Silent,
}

impl Breaker {
    fn run(self, addr: SocketAddr, config: Arc<ClientConfig>) -> io::Result<()> {
        let name = ServerName::try_from("localhost").unwrap();
        let mut connection = ClientConnection::new(config, name).map_err(io::Error::other)?;
        let mut hello = Vec::new();
        connection.write_tls(&mut hello)?; // the ClientHello, in memory
        let mut socket = TcpStream::connect(addr)?;
        match self {
            Breaker::AfterServerHello => {
                socket.write_all(&hello)?;
                let mut header = [0u8; 5];
                socket.read_exact(&mut header)?;
                assert_eq!(header[0], 22, "a TLS handshake record");
            }
            Breaker::HalfClientHello => socket.write_all(&hello[..hello.len() / 2])?,
            Breaker::Silent => {}
        }
        Ok(()) // dropping the socket closes it
    }
}

/// Clients that leave mid-handshake, in three ways, among good clients all
/// at once: every good client gets its body, and the server goes on serving
/// (one more good client after them); the broken ones are not counted.
#[test]
fn a_client_gone_mid_handshake_does_not_disturb_the_others() {
    const GOOD: usize = 10;
    let server = HttpsServer::start(GOOD + 1, true);
    let config = server.client_config();
    let breakers = [
        Breaker::AfterServerHello,
        Breaker::HalfClientHello,
        Breaker::Silent,
    ];
    let mut good = Vec::new();
    let mut broken = Vec::new();
    for i in 0..GOOD {
        let (addr, for_good, for_broken) = (server.addr, config.clone(), config.clone());
        let breaker = breakers[i % 3];
        good.push(greenlet::spawn(move || {
            fetch(addr, for_good, &format!("/hello/g{i}"))
        }));
        broken.push(greenlet::spawn(move || {
            (breaker, breaker.run(addr, for_broken))
        }));
    }
    for handle in broken {
        let (breaker, result) = handle.join().expect("no breaker panics");
        result.unwrap_or_else(|e| panic!("{breaker:?} could not even start: {e}"));
    }
    for (i, handle) in good.into_iter().enumerate() {
        let response = handle.join().expect("no client panics").unwrap();
        assert_eq!(response, (200, format!("<h1>hello, g{i}!</h1>")));
    }
    let after = fetch(server.addr, config, "/").unwrap();
    assert_eq!(after, (200, "<h1>Index</h1>".to_string()));
    assert_eq!(
        server.finish().0,
        GOOD + 1,
        "the broken clients served nothing"
    );
}
