//! An echo server with one greenlet per connection, all on one thread:
//! plain blocking code (`io::copy`), served concurrently.
//!
//! ```sh
//! cargo run --release --example echo_server              # listens on 127.0.0.1:7000
//! cargo run --release --example echo_server -- 127.0.0.1:9000
//! cargo run --example echo_server -- --demo               # serves 3 clients of its own, then exits
//! ```
//!
//! Try it with `nc 127.0.0.1 7000`.

use std::io::{self, BufRead, BufReader, Write};
use std::net::Shutdown;

use greenlet::net::{TcpListener, TcpStream};

/// Echoes everything the peer sends until it closes its side.
fn handle(stream: TcpStream) -> io::Result<u64> {
    let (mut reader, mut writer) = (&stream, &stream);
    io::copy(&mut reader, &mut writer)
}

/// Accepts connections for ever (or `limit` of them), a greenlet each.
fn serve(listener: TcpListener, limit: Option<usize>) -> io::Result<()> {
    let mut handlers = Vec::new();
    for stream in listener.incoming().take(limit.unwrap_or(usize::MAX)) {
        let stream = stream?;
        handlers.push(greenlet::spawn(move || handle(stream)));
    }
    for handler in handlers {
        handler.join().expect("a handler panicked")?;
    }
    Ok(())
}

/// Three clients, each sending two lines and reading them back.
fn demo() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let server = greenlet::spawn(move || serve(listener, Some(3)));
    let clients: Vec<_> = ["alice", "bob", "carol"]
        .into_iter()
        .map(|name| {
            greenlet::spawn(move || -> io::Result<Vec<String>> {
                let stream = TcpStream::connect(addr)?;
                let mut lines = BufReader::new(&stream).lines();
                let mut echoed = Vec::new();
                for n in 1..=2 {
                    writeln!(&stream, "{name} says hello {n}")?;
                    echoed.push(lines.next().expect("an echoed line")?);
                }
                stream.shutdown(Shutdown::Write)?;
                Ok(echoed)
            })
        })
        .collect();
    for client in clients {
        for line in client.join().expect("a client panicked")? {
            println!("echoed: {line}");
        }
    }
    server.join().expect("the server panicked")
}

fn main() -> io::Result<()> {
    let arg = std::env::args().nth(1);
    if arg.as_deref() == Some("--demo") {
        return demo();
    }
    let addr = arg.unwrap_or_else(|| "127.0.0.1:7000".into());
    let listener = TcpListener::bind(&addr)?;
    println!("echo server listening on {}", listener.local_addr()?);
    serve(listener, None)
}
