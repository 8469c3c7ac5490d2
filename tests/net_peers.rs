//! The example servers against real peers: curl and python3 clients, in
//! their own processes, on 127.0.0.1. Every wait is bounded.

mod util;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use util::{example, wait_bounded};

/// Starts `hello_server` on a free port for `requests` requests, and returns
/// the child and its base URL.
fn start_hello_server(requests: usize) -> (Child, String, BufReader<std::process::ChildStdout>) {
    start_hello_server_on(requests, 1)
}

/// As [`start_hello_server`], serving on `threads` threads.
fn start_hello_server_on(
    requests: usize,
    threads: usize,
) -> (Child, String, BufReader<std::process::ChildStdout>) {
    let mut child = Command::new(example("hello_server"))
        .args(["127.0.0.1:0", "--requests", &requests.to_string()])
        .args(["--threads", &threads.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    let url = first
        .trim()
        .strip_prefix("Server started at ")
        .and_then(|s| s.strip_suffix("..."))
        .unwrap_or_else(|| panic!("unexpected first line: {first}"))
        .to_string();
    (child, url, out)
}

/// GETs `url` with curl, or with python3's urllib where curl is missing.
fn get(url: &str) -> String {
    let curl = Command::new("curl")
        .args(["-s", "--max-time", "10", url])
        .output();
    let out = match curl {
        Ok(out) => out,
        Err(_) => Command::new("python3")
            .args([
                "-c",
                "import sys,urllib.request;sys.stdout.write(urllib.request.urlopen(sys.argv[1],timeout=10).read().decode())",
                url,
            ])
            .output()
            .expect("curl or python3 on the machine"),
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn curl_fetches_exact_bodies_from_hello_server() {
    let (mut child, url, _out) = start_hello_server(3);
    assert_eq!(get(&format!("{url}/")), "<h1>Index</h1>");
    assert_eq!(get(&format!("{url}/hello/bob")), "<h1>hello, bob!</h1>");
    assert_eq!(
        get(&format!("{url}/hello/Ann%20Lee")),
        "<h1>hello, Ann%20Lee!</h1>"
    );
    wait_bounded(&mut child, Duration::from_secs(30));
}

/// The same routes with one hub per thread (`--threads 2`); it stops by
/// itself after the requests and says how many it served.
#[test]
fn hello_server_on_two_threads_serves_and_reports_its_count() {
    let (mut child, url, mut out) = start_hello_server_on(4, 2);
    for name in ["a", "b", "c"] {
        assert_eq!(
            get(&format!("{url}/hello/{name}")),
            format!("<h1>hello, {name}!</h1>")
        );
    }
    assert_eq!(get(&format!("{url}/")), "<h1>Index</h1>");
    wait_bounded(&mut child, Duration::from_secs(30));
    let mut summary = String::new();
    out.read_line(&mut summary).unwrap();
    assert!(
        summary.starts_with("served 4 requests"),
        "unexpected summary: {summary}"
    );
}

/// SIGTERM and SIGINT stop it gracefully, on one thread and on two: it
/// exits 0 and says how many requests it served (asked for more than it
/// gets, so only the signal can stop it).
#[test]
fn hello_server_stops_on_sigterm_and_sigint_and_reports_its_count() {
    for (threads, signal) in [(1, "-TERM"), (2, "-INT")] {
        let (mut child, url, mut out) = start_hello_server_on(1_000, threads);
        assert_eq!(get(&format!("{url}/")), "<h1>Index</h1>");
        let killed = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        wait_bounded(&mut child, Duration::from_secs(30));
        assert!(child.wait().unwrap().success(), "a clean exit on {signal}");
        let mut summary = String::new();
        out.read_line(&mut summary).unwrap();
        assert!(
            summary.starts_with("served 1 requests"),
            "unexpected summary on {signal} with {threads} threads: {summary}"
        );
    }
}

/// 100 python3 clients at once, each with its own connection: one server
/// thread has them all in flight together (each handler sleeps 0.5 s), so
/// all finish in about 0.5 s, not 50 s. The proof asserted is the server's
/// own count of requests in flight, not a time; the time is printed.
#[test]
fn a_hundred_concurrent_python_clients_are_served_together() {
    const CLIENTS: usize = 100;
    let (mut child, url, mut out) = start_hello_server(CLIENTS);
    let script = r#"
import sys, time, urllib.request
from concurrent.futures import ThreadPoolExecutor
url, n = sys.argv[1], int(sys.argv[2])
def get(i):
    return urllib.request.urlopen(f"{url}/hello/c{i}", timeout=30).read().decode()
start = time.time()
with ThreadPoolExecutor(n) as pool:
    bodies = list(pool.map(get, range(n)))
ok = sum(b == f"<h1>hello, c{i}!</h1>" for i, b in enumerate(bodies))
print(f"{ok} {time.time() - start:.3f}")
"#;
    let client = Command::new("python3")
        .args(["-c", script, &url, &CLIENTS.to_string()])
        .output()
        .expect("python3 on the machine");
    assert!(
        client.status.success(),
        "{}",
        String::from_utf8_lossy(&client.stderr)
    );
    let report = String::from_utf8(client.stdout).unwrap();
    let mut fields = report.split_whitespace();
    let ok: usize = fields.next().unwrap().parse().unwrap();
    let seconds = fields.next().unwrap();
    assert_eq!(ok, CLIENTS, "every body exact");
    wait_bounded(&mut child, Duration::from_secs(60));
    let mut summary = String::new();
    out.read_line(&mut summary).unwrap();
    println!("{CLIENTS} python3 clients took {seconds} s; server: {summary}");
    let peak: usize = summary
        .trim()
        .rsplit("at most ")
        .next()
        .and_then(|s| s.strip_suffix(" at once"))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("unexpected summary: {summary}"));
    assert!(
        peak >= CLIENTS / 2,
        "the server had only {peak} requests in flight at once"
    );
}
