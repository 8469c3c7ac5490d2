//! Host names resolved on the default thread pool, and [`LookupHost`], the
//! addresses a resolution returns.

use std::fmt;
use std::io;
use std::net::SocketAddr;

use crate::threadpool::apply;

/// The addresses of a host, returned by [`lookup_host`](super::lookup_host),
/// in the order the resolver gave them: an iterator of [`SocketAddr`], like
/// the `std::vec::IntoIter` that std's `to_socket_addrs` returns.
///
/// # Examples
///
/// ```
/// let addrs = greenlet::net::lookup_host("127.0.0.1:80")?;
/// assert_eq!(addrs.len(), 1);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct LookupHost {
    addrs: std::vec::IntoIter<SocketAddr>,
}

impl LookupHost {
    /// The one address of an IP literal, resolved in place.
    pub(super) fn one(addr: SocketAddr) -> LookupHost {
        LookupHost::all(vec![addr])
    }

    pub(super) fn all(addrs: Vec<SocketAddr>) -> LookupHost {
        LookupHost {
            addrs: addrs.into_iter(),
        }
    }
}

impl Iterator for LookupHost {
    type Item = SocketAddr;

    fn next(&mut self) -> Option<SocketAddr> {
        self.addrs.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.addrs.size_hint()
    }
}

impl ExactSizeIterator for LookupHost {}

impl fmt::Debug for LookupHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.addrs.as_slice()).finish()
    }
}

/// A name for the system resolver.
pub(super) enum Query {
    /// `"host:port"`, as std's `str` takes it.
    HostPort(String),
    /// A host and a port, as std's `(&str, u16)` takes them.
    Host(String, u16),
}

/// Resolves `query` with std (`getaddrinfo`: `/etc/hosts`, DNS, … as
/// `/etc/nsswitch.conf` says) on the default pool; only the calling
/// greenlet waits.
pub(super) fn on_pool(query: Query) -> io::Result<LookupHost> {
    apply(move || {
        let addrs = match &query {
            Query::HostPort(text) => std::net::ToSocketAddrs::to_socket_addrs(text.as_str())?,
            Query::Host(host, port) => {
                std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), *port))?
            }
        };
        Ok(LookupHost::all(addrs.collect()))
    })
}
