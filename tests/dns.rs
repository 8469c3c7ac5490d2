//! Name resolution off the hub: `greenlet::net::lookup_host` and the
//! crate's `ToSocketAddrs`. IP literals never touch the pool; a slow DNS
//! server (a fake one, in a mount namespace of the test's own) stalls only
//! the greenlet that asked.

mod util;

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use greenlet::net::{TcpListener, TcpStream, lookup_host};
use util::{SleepTicker, TempDir, is_child, run_in_child};

fn sorted(addrs: impl Iterator<Item = SocketAddr>) -> Vec<SocketAddr> {
    let mut addrs: Vec<_> = addrs.collect();
    addrs.sort();
    addrs
}

#[test]
fn localhost_resolves_to_loopback_as_with_std() {
    let ours = sorted(lookup_host("localhost:80").unwrap());
    let loopback = [
        IpAddr::from(Ipv4Addr::LOCALHOST),
        Ipv6Addr::LOCALHOST.into(),
    ];
    assert!(
        ours.iter().any(|a| loopback.contains(&a.ip())),
        "localhost is {ours:?}"
    );
    assert!(ours.iter().all(|a| a.port() == 80));
    let std = sorted(std::net::ToSocketAddrs::to_socket_addrs("localhost:80").unwrap());
    assert_eq!(ours, std);
    assert_eq!(sorted(lookup_host(("localhost", 80)).unwrap()), std);
    assert_eq!(
        sorted(lookup_host(("localhost".to_string(), 80)).unwrap()),
        std
    );
}

#[test]
fn an_unknown_name_is_an_error() {
    let ours = lookup_host("no-such-host.invalid:80").unwrap_err();
    let std = std::net::ToSocketAddrs::to_socket_addrs("no-such-host.invalid:80").unwrap_err();
    assert_eq!(ours.kind(), std.kind());
    assert!(TcpStream::connect(("no-such-host.invalid", 80)).is_err());
    assert!(greenlet::net::UdpSocket::bind("no-such-host.invalid:0").is_err());
}

/// In a fresh process (the default pool untouched), sockets made from IP
/// literals of every form start no pool thread; a name does.
#[test]
fn ip_literals_never_touch_the_pool() {
    if !is_child() {
        let out = run_in_child("ip_literals_never_touch_the_pool", &[]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stdout}\n{stderr}");
        assert!(
            stdout.contains("pool threads after literals: 0"),
            "{stdout}"
        );
        return;
    }
    let pool = greenlet::threadpool::default_pool();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let port = addr.port();
    let v4 = Ipv4Addr::LOCALHOST;
    let by_ref: &SocketAddr = &addr;
    let streams = [
        TcpStream::connect(addr).unwrap(),
        TcpStream::connect(by_ref).unwrap(),
        TcpStream::connect(format!("127.0.0.1:{port}")).unwrap(),
        TcpStream::connect(format!("127.0.0.1:{port}").as_str()).unwrap(),
        TcpStream::connect(("127.0.0.1", port)).unwrap(),
        TcpStream::connect(("127.0.0.1".to_string(), port)).unwrap(),
        TcpStream::connect((v4, port)).unwrap(),
        TcpStream::connect((IpAddr::V4(v4), port)).unwrap(),
        TcpStream::connect(std::net::SocketAddrV4::new(v4, port)).unwrap(),
        TcpStream::connect(&[addr][..]).unwrap(),
    ];
    assert!(streams.iter().all(|s| s.peer_addr().unwrap() == addr));
    let udp = greenlet::net::UdpSocket::bind((v4, 0)).unwrap();
    let other = greenlet::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let to = other.local_addr().unwrap();
    udp.send_to(b"x", format!("127.0.0.1:{}", to.port()))
        .unwrap();
    udp.connect(("127.0.0.1", to.port())).unwrap();
    if let Ok(v6) = TcpListener::bind("[::1]:0") {
        let p6 = v6.local_addr().unwrap().port();
        TcpStream::connect(format!("[::1]:{p6}")).unwrap();
        TcpStream::connect(("::1", p6)).unwrap();
        TcpStream::connect((Ipv6Addr::LOCALHOST, p6)).unwrap();
    }
    assert_eq!(lookup_host("[::1]:80").unwrap().count(), 1);
    let threads = pool.threads();
    println!("pool threads after literals: {threads}");
    assert_eq!(threads, 0);
    // A name is resolved on the pool.
    lookup_host("localhost:80").unwrap();
    assert!(pool.threads() >= 1, "a name goes to the pool");
}

// --- The slow resolver -------------------------------------------------

/// Where the fake DNS server listens: a loopback address of its own, so it
/// meets no other server on port 53.
const DNS_ADDR: &str = "127.0.0.77:53";
/// How long the fake server waits before each answer.
const DNS_DELAY: Duration = Duration::from_millis(300);

/// A DNS server that answers `slow.test` (A: 127.0.0.1, AAAA: none) after
/// [`DNS_DELAY`], and every other name with NXDOMAIN. While a tick counter
/// is set, it also waits for 20 more ticks (at most 3 s), so that a test
/// that counts ticks does not depend on the machine's speed.
struct FakeDns {
    ticks: Mutex<Option<Arc<AtomicUsize>>>,
    answered: AtomicUsize,
}

impl FakeDns {
    fn start() -> io::Result<Arc<FakeDns>> {
        let socket = Arc::new(UdpSocket::bind(DNS_ADDR)?);
        socket.set_read_timeout(Some(Duration::from_secs(30)))?;
        let server = Arc::new(FakeDns {
            ticks: Mutex::new(None),
            answered: AtomicUsize::new(0),
        });
        let state = server.clone();
        std::thread::spawn(move || {
            // At most 256 queries, none more than 30 s apart.
            for _ in 0..256 {
                let mut buf = [0; 512];
                let Ok((n, from)) = socket.recv_from(&mut buf) else {
                    return;
                };
                let (socket, state) = (socket.clone(), state.clone());
                let query = buf[..n].to_vec();
                std::thread::spawn(move || {
                    let ticks = state.ticks.lock().unwrap().clone();
                    let start = (Instant::now(), ticks.as_ref().map(|t| t.load(SeqCst)));
                    for _ in 0..3_000 {
                        let ticked = match (&ticks, start.1) {
                            (Some(t), Some(t0)) => t.load(SeqCst) >= t0 + 20,
                            _ => true,
                        };
                        if start.0.elapsed() >= DNS_DELAY && ticked {
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    if let Some(reply) = dns_reply(&query) {
                        let _ = socket.send_to(&reply, from);
                        state.answered.fetch_add(1, SeqCst);
                    }
                });
            }
        });
        Ok(server)
    }

    fn count_ticks(&self, ticks: Option<Arc<AtomicUsize>>) {
        *self.ticks.lock().unwrap() = ticks;
    }
}

/// The answer to one DNS query, or `None` for a malformed one.
fn dns_reply(query: &[u8]) -> Option<Vec<u8>> {
    let mut at = 12;
    let mut labels = Vec::new();
    loop {
        let len = *query.get(at)? as usize;
        at += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(query.get(at..at + len)?).to_lowercase());
        at += len;
    }
    let qtype = u16::from_be_bytes([*query.get(at)?, *query.get(at + 1)?]);
    let question = &query[12..at + 4];
    let known = labels.join(".") == "slow.test";
    let answers: u16 = if known && qtype == 1 { 1 } else { 0 };
    let rcode = if known { 0 } else { 3 }; // NOERROR or NXDOMAIN
    let flags = 0x8080 | (u16::from_be_bytes([query[2], query[3]]) & 0x0100) | rcode;
    let mut reply = Vec::with_capacity(64);
    reply.extend_from_slice(&query[..2]); // the query's id
    reply.extend_from_slice(&flags.to_be_bytes());
    for count in [1, answers, 0, 0] {
        reply.extend_from_slice(&u16::to_be_bytes(count));
    }
    reply.extend_from_slice(question);
    if answers == 1 {
        // The name (a pointer to the question's), A, IN, TTL 60, 127.0.0.1.
        reply.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1]);
    }
    Some(reply)
}

/// Why the slow-resolver test cannot run here, if it cannot.
fn cannot_isolate() -> Option<String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root: cannot bind port 53 or mount over /etc/resolv.conf".into());
    }
    match Command::new("unshare").args(["-m", "true"]).output() {
        Ok(out) if out.status.success() => None,
        Ok(out) => Some(format!(
            "`unshare -m` fails: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Some(format!("no `unshare` command: {e}")),
    }
}

/// Bind-mounts a file with `contents` over `target` (in this process's own
/// mount namespace).
fn mount_over(dir: &TempDir, target: &str, contents: &str) {
    let name = Path::new(target).file_name().unwrap().to_str().unwrap();
    let source = dir.join(name);
    std::fs::write(&source, contents).unwrap();
    let out = Command::new("mount")
        .arg("--bind")
        .arg(&source)
        .arg(target)
        .output()
        .expect("mount runs");
    assert!(
        out.status.success(),
        "mount --bind over {target}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Points this process's resolver at the fake server.
fn use_fake_dns(dir: &TempDir) {
    let nameserver = DNS_ADDR.split(':').next().unwrap();
    mount_over(
        dir,
        "/etc/resolv.conf",
        &format!("nameserver {nameserver}\noptions timeout:5 attempts:1\n"),
    );
    let nsswitch = std::fs::read_to_string("/etc/nsswitch.conf").unwrap_or_default();
    let dns_in_hosts = nsswitch.lines().any(|line| {
        let line = line.trim_start();
        line.starts_with("hosts:") && line.split_whitespace().any(|source| source == "dns")
    });
    if !dns_in_hosts {
        mount_over(dir, "/etc/nsswitch.conf", "hosts: files dns\n");
    }
}

/// Runs `body` in a greenlet while a ticker sleeps 2 ms at a time (the
/// fake server counting its ticks if `count` is set), and returns what
/// `body` returned, the ticks and the worst gap between two of them.
fn with_ticker<T: 'static>(
    dns: &FakeDns,
    count: bool,
    body: impl FnOnce() -> T + 'static,
) -> (T, usize, Duration) {
    let ticker = SleepTicker::spawn(Duration::from_millis(2), 100_000);
    dns.count_ticks(count.then(|| ticker.counter()));
    let value = greenlet::spawn(body).join().unwrap();
    dns.count_ticks(None);
    let (ticks, gap) = ticker.stop_measured();
    (value, ticks, gap)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The case: resolving a name that takes 300 ms stalls every
/// greenlet with std's resolver, and only the asking one with ours. Runs in
/// a child process in a mount namespace of its own, where a fake DNS server
/// on 127.0.0.77 answers `slow.test`.
#[test]
fn a_slow_resolver_stalls_only_the_greenlet_that_asked() {
    if is_child() {
        return slow_resolver_in_namespace();
    }
    if let Some(reason) = cannot_isolate() {
        println!("skipped: {reason}");
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new("unshare")
        .arg("-m")
        .arg(exe)
        .args([
            "a_slow_resolver_stalls_only_the_greenlet_that_asked",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(util::CHILD_ENV, "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("unshare runs the test binary");
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() && start.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    eprint!("{stderr}");
    assert!(out.status.success(), "the child failed: {stdout}\n{stderr}");
    assert!(stdout.contains("connected through slow.test"), "{stdout}");
}

fn slow_resolver_in_namespace() {
    let dir = TempDir::new("dns");
    use_fake_dns(&dir);
    let dns = FakeDns::start().expect("the fake DNS server binds 127.0.0.77:53");

    // Before: std's resolver on the hub's thread. With the `patch`
    // feature, std's own `getaddrinfo` call runs on the pool (glibc's DNS
    // sockets inside it with it): only the asking greenlet waits.
    let patched = cfg!(feature = "patch");
    let (std_addrs, std_ticks, std_gap) = with_ticker(&dns, patched, || {
        std::net::ToSocketAddrs::to_socket_addrs("slow.test:80").map(sorted)
    });
    let expected: SocketAddr = "127.0.0.1:80".parse().unwrap();
    assert_eq!(std_addrs.unwrap(), [expected], "the fake server answers");
    if patched {
        assert!(std_ticks >= 20, "std's lookup, patched: {std_ticks} ticks");
    }

    // After: lookup_host resolves on the pool.
    let (addrs, ticks, gap) = with_ticker(&dns, true, || lookup_host("slow.test:80").map(sorted));
    assert_eq!(addrs.unwrap(), [expected]);
    eprintln!(
        "stall table: resolving a {} ms name: std worst tick gap {:.1} ms ({std_ticks} ticks); \
         greenlet::net::lookup_host worst tick gap {:.1} ms ({ticks} ticks)",
        DNS_DELAY.as_millis(),
        ms(std_gap),
        ms(gap)
    );
    assert!(ticks >= 20, "the ticker ticked {ticks} times");

    // A connect by name resolves the same way.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = greenlet::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.write_all(b"hi").unwrap();
    });
    let (peer, ticks, gap) = with_ticker(&dns, true, move || {
        let mut stream = TcpStream::connect(("slow.test", port)).unwrap();
        let mut hello = [0; 2];
        stream.read_exact(&mut hello).unwrap();
        assert_eq!(&hello, b"hi");
        stream.peer_addr().unwrap()
    });
    server.join().unwrap();
    assert_eq!(peer, SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
    eprintln!(
        "stall table: TcpStream::connect((\"slow.test\", port)) worst tick gap {:.1} ms ({ticks} ticks)",
        ms(gap)
    );
    assert!(
        ticks >= 20,
        "the ticker ticked {ticks} times while connecting"
    );
    assert!(dns.answered.load(SeqCst) >= 3, "the fake server answered");
    println!("connected through slow.test");
}

#[test]
fn lookup_results_are_send_and_sync() {
    fn send_sync<T: Send + Sync + Clone>() {}
    send_sync::<greenlet::net::LookupHost>();
}
