//! Servers: [`StreamServer`], gevent's server that runs a greenlet for
//! each connection (on TCP or a Unix socket: a [`Listener`]), and
//! [`Builder`], which runs one on each of several threads, each with its
//! own hub and listener on the same port.
//!
//! # Examples
//!
//! ```
//! use std::io::Write;
//! use std::time::Duration;
//! use greenlet::server::StreamServer;
//!
//! let server = StreamServer::bind("127.0.0.1:0", |mut stream, _peer| {
//!     let _ = stream.write_all(b"hi");
//! })?
//! .max_connections(100);
//! server.start();
//! let reply = std::io::read_to_string(greenlet::net::TcpStream::connect(server.local_addr()?)?)?;
//! assert_eq!(reply, "hi");
//! server.stop(Duration::from_secs(1));
//! # Ok::<(), std::io::Error>(())
//! ```

mod acceptor;
mod backoff;
mod builder;
mod listener;
mod stopper;
mod stream;

pub use builder::{Builder, ServerHandle};
pub use listener::Listener;
pub use stopper::Stopper;
pub use stream::StreamServer;
