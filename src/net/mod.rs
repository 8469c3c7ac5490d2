//! Green sockets: std's networking types whose blocking calls switch
//! greenlets instead of blocking the thread.
//!
//! Every type is a thin newtype over one core (the registration with the
//! hub, the retry loop, timeouts, the blocking mode); see `design.md`.
//!
//! Addresses are this crate's [`ToSocketAddrs`]: the types std's takes, with
//! IP literals parsed in place and host names resolved on the
//! [default thread pool](crate::threadpool::default_pool), as
//! [`lookup_host`] does, so a slow resolver stalls only the calling
//! greenlet.

mod accept;
mod addr;
mod impls;
mod resolve;
mod socket;
mod tcp;
mod udp;
pub mod unix;

pub(crate) use accept::is_out_of_resources;
pub use addr::{ToSocketAddrs, lookup_host};
pub use resolve::LookupHost;
pub use tcp::{Incoming, TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixDatagram, UnixListener, UnixStream};

/// The iterator of [`UnixListener::incoming`], under its old name.
#[deprecated(note = "renamed `greenlet::net::unix::Incoming`, as std's")]
pub type IncomingUnix<'a> = unix::Incoming<'a>;
