//! Addresses: the crate's [`ToSocketAddrs`], which keeps IP literals
//! immediate and resolves host names off the hub, [`lookup_host`], and the
//! loop that tries each address in turn.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use super::resolve::{LookupHost, Query, on_pool};

mod sealed {
    /// Keeps [`ToSocketAddrs`](super::ToSocketAddrs) to this crate's impls.
    pub trait Sealed {}

    /// A token only this crate can make: the trait's method cannot be
    /// called from outside.
    #[derive(Debug)]
    pub struct Internal;
}

use sealed::{Internal, Sealed};

/// What the green sockets' constructors take as an address: std's
/// [`std::net::ToSocketAddrs`], for the same types, except that a host name
/// is resolved on the [default thread pool](crate::threadpool::default_pool)
/// (gevent's default "thread" resolver) while only the calling greenlet
/// waits. IP literals (`"127.0.0.1:80"`, `"[::1]:80"`, a [`SocketAddr`],
/// `(IpAddr, u16)`, a slice of addresses) are parsed in place, with no
/// round trip to the pool.
///
/// It is implemented for [`SocketAddr`], [`SocketAddrV4`],
/// [`SocketAddrV6`], `(IpAddr, u16)`, `(Ipv4Addr, u16)`, `(Ipv6Addr, u16)`,
/// `(&str, u16)`, `(String, u16)`, [`str`] (`"host:port"`), [`String`],
/// `&[SocketAddr]`, and `&T` for each of them, as std's is; it is sealed
/// (no other type can implement it).
///
/// A type of yours that implements only std's trait: resolve it yourself
/// (off the hub with [`threadpool::apply`](crate::threadpool::apply) if it
/// may block) and pass the addresses as a slice.
///
/// # Examples
///
/// ```
/// use std::net::SocketAddr;
/// use greenlet::net::TcpListener;
///
/// // Literals, names and tuples, as with std:
/// let listener = TcpListener::bind("127.0.0.1:0")?;
/// let port = listener.local_addr()?.port();
/// greenlet::net::TcpStream::connect(("localhost", port))?;
///
/// // A type that implements only std's trait: resolve, then pass a slice.
/// let addrs: Vec<SocketAddr> = greenlet::threadpool::apply(move || {
///     std::net::ToSocketAddrs::to_socket_addrs(&("127.0.0.1", port)).map(Iterator::collect)
/// })?;
/// greenlet::net::TcpStream::connect(&addrs[..])?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub trait ToSocketAddrs: Sealed {
    /// The addresses: literals in place, names on the pool.
    #[doc(hidden)]
    fn resolve(&self, internal: Internal) -> io::Result<LookupHost>;
}

/// Resolves a host to its socket addresses: an IP literal in place, a name
/// with the system resolver (`/etc/hosts`, DNS, … as `/etc/nsswitch.conf`
/// says) on the [default thread pool](crate::threadpool::default_pool).
/// Only the calling greenlet waits; the hub runs the others meanwhile.
///
/// # Errors
///
/// std's: `InvalidInput` for a string that is not `"host:port"` or has an
/// invalid port, and the resolver's error for a name it cannot resolve.
///
/// # Panics
///
/// As every blocking call, a kill or an expired timeout unwinds the caller
/// at once; the lookup goes on on its pool thread, and its result is
/// dropped.
///
/// # Examples
///
/// ```
/// let addrs: Vec<_> = greenlet::net::lookup_host("localhost:80")?.collect();
/// assert!(addrs.iter().all(|addr| addr.ip().is_loopback() && addr.port() == 80));
/// # Ok::<(), std::io::Error>(())
/// ```
#[track_caller]
pub fn lookup_host<A: ToSocketAddrs>(host: A) -> io::Result<LookupHost> {
    host.resolve(Internal)
}

/// Tries `op` on each address in turn, as std does, and returns the first
/// success or the last error.
pub(super) fn each_addr<A: ToSocketAddrs, T>(
    addrs: A,
    mut op: impl FnMut(SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for addr in lookup_host(addrs)? {
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

/// Implements the trait for types that convert to one `SocketAddr`.
macro_rules! literal {
    ($($T:ty),*) => {$(
        impl Sealed for $T {}

        impl ToSocketAddrs for $T {
            fn resolve(&self, _: Internal) -> io::Result<LookupHost> {
                Ok(LookupHost::one(SocketAddr::from(*self)))
            }
        }
    )*};
}

literal!(
    SocketAddr,
    SocketAddrV4,
    SocketAddrV6,
    (IpAddr, u16),
    (Ipv4Addr, u16),
    (Ipv6Addr, u16)
);

impl Sealed for (&str, u16) {}

impl ToSocketAddrs for (&str, u16) {
    fn resolve(&self, _: Internal) -> io::Result<LookupHost> {
        let (host, port) = *self;
        match host.parse::<IpAddr>() {
            Ok(ip) => Ok(LookupHost::one(SocketAddr::new(ip, port))),
            Err(_) => on_pool(Query::Host(host.to_owned(), port)),
        }
    }
}

impl Sealed for (String, u16) {}

impl ToSocketAddrs for (String, u16) {
    fn resolve(&self, internal: Internal) -> io::Result<LookupHost> {
        (self.0.as_str(), self.1).resolve(internal)
    }
}

impl Sealed for str {}

impl ToSocketAddrs for str {
    fn resolve(&self, internal: Internal) -> io::Result<LookupHost> {
        if let Ok(addr) = self.parse::<SocketAddr>() {
            return Ok(LookupHost::one(addr));
        }
        // std's checks and messages, before any lookup.
        let invalid = |message| io::Error::new(io::ErrorKind::InvalidInput, message);
        let (host, port) = self
            .rsplit_once(':')
            .ok_or_else(|| invalid("invalid socket address"))?;
        let port: u16 = port.parse().map_err(|_| invalid("invalid port value"))?;
        if host.parse::<IpAddr>().is_ok() {
            return (host, port).resolve(internal);
        }
        on_pool(Query::HostPort(self.to_owned()))
    }
}

impl Sealed for String {}

impl ToSocketAddrs for String {
    fn resolve(&self, internal: Internal) -> io::Result<LookupHost> {
        self.as_str().resolve(internal)
    }
}

impl Sealed for &[SocketAddr] {}

impl ToSocketAddrs for &[SocketAddr] {
    fn resolve(&self, _: Internal) -> io::Result<LookupHost> {
        Ok(LookupHost::all(self.to_vec()))
    }
}

impl<T: ToSocketAddrs + ?Sized> Sealed for &T {}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {
    fn resolve(&self, internal: Internal) -> io::Result<LookupHost> {
        (**self).resolve(internal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_resolve_in_place() {
        let v4: SocketAddr = "127.0.0.1:80".parse().unwrap();
        let v6: SocketAddr = "[::1]:80".parse().unwrap();
        let one = |a: LookupHost| a.collect::<Vec<_>>();
        assert_eq!(one(lookup_host("127.0.0.1:80").unwrap()), [v4]);
        assert_eq!(one(lookup_host("[::1]:80").unwrap()), [v6]);
        assert_eq!(one(lookup_host("::1:80").unwrap()), [v6]);
        assert_eq!(one(lookup_host(("127.0.0.1", 80)).unwrap()), [v4]);
        assert_eq!(one(lookup_host(("::1".to_string(), 80)).unwrap()), [v6]);
        assert_eq!(one(lookup_host((Ipv4Addr::LOCALHOST, 80)).unwrap()), [v4]);
        assert_eq!(one(lookup_host(&[v4, v6][..]).unwrap()), [v4, v6]);
        let by_ref: &&SocketAddr = &&v6;
        assert_eq!(one(lookup_host(by_ref).unwrap()), [v6]);
    }

    #[test]
    fn malformed_strings_fail_as_std_does() {
        for text in ["no-port", "host:port", "127.0.0.1:99999"] {
            let ours = lookup_host(text).unwrap_err();
            let std = std::net::ToSocketAddrs::to_socket_addrs(text).unwrap_err();
            assert_eq!(ours.kind(), std.kind(), "{text}");
            assert_eq!(ours.to_string(), std.to_string(), "{text}");
        }
    }
}
