//! Address resolution shared by the socket types.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

/// Tries `op` on each address in turn, as std does, and returns the first
/// success or the last error.
pub(super) fn each_addr<A: ToSocketAddrs, T>(
    addrs: A,
    mut op: impl FnMut(SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for addr in addrs.to_socket_addrs()? {
        match op(addr) {
            Ok(value) => return Ok(value),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve to any addresses",
        )
    }))
}
