//! Green Unix-domain sockets with the shapes of `std::os::unix::net`:
//! streams, their listener and its `Incoming` iterator, and datagrams.
//!
//! The types are also at [`greenlet::net`](crate::net).
//!
//! # Examples
//!
//! ```
//! use greenlet::net::unix::UnixDatagram;
//!
//! let (a, b) = UnixDatagram::pair()?;
//! a.send(b"hi")?;
//! assert_eq!(b.recv(&mut [0; 8])?, 2);
//! # Ok::<(), std::io::Error>(())
//! ```

mod datagram;
mod listener;
mod stream;

pub use datagram::UnixDatagram;
pub use listener::{Incoming, UnixListener};
pub use stream::UnixStream;
