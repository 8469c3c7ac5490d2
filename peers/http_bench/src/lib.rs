//! Shared bits of the three servers: argument parsing and the response.

/// The body of `GET /`: hello_server's index route, without its sleep.
pub const BODY: &str = "<h1>Index</h1>";

/// `--threads N` (default 1) and a port or address (default 8080), in any
/// order; returns (threads, "127.0.0.1:PORT").
pub fn args() -> (usize, String) {
    let mut args = std::env::args().skip(1);
    let mut threads = 1;
    let mut addr = "127.0.0.1:8080".to_string();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--threads" => {
                threads = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("--threads takes a positive number");
            }
            port if port.parse::<u16>().is_ok() => addr = format!("127.0.0.1:{port}"),
            other => addr = other.to_string(),
        }
    }
    (threads.max(1), addr)
}
