//! Addresses for the loop's sockets: [`ToSocketAddrs`], and the lookup of host names on
//! the thread pool.

use std::io;
use std::net::{
    IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, ToSocketAddrs as _,
};

/// An address to connect or bind to: the types of [`std::net::ToSocketAddrs`], for the
/// loop.
///
/// A numeric address ([`SocketAddr`], `(IpAddr, u16)`, `"127.0.0.1:80"`,
/// `("::1", 80)`, a `&[SocketAddr]`) is used at once. A host name (`"localhost:80"`,
/// `("example.com", 443)`) is looked up with the system resolver (`getaddrinfo`), which
/// blocks, so the lookup runs on the default thread pool, as [`to_thread`] would run it
/// (asyncio's `loop.getaddrinfo` does the same): the loop keeps running other tasks
/// until the answer comes back. A lookup error names the host.
///
/// The trait is sealed: it is implemented for the types above (owned or borrowed), not
/// by other crates.
///
/// ```
/// use std::net::{IpAddr, Ipv4Addr, SocketAddr};
/// use concur::aio::{self, net::TcpListener};
///
/// aio::run(async {
///     let a = TcpListener::bind("127.0.0.1:0").await.unwrap(); // numeric: no thread trip
///     let b = TcpListener::bind((IpAddr::V4(Ipv4Addr::LOCALHOST), 0)).await.unwrap();
///     let c = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
///     let d = TcpListener::bind(("localhost", 0)).await.unwrap(); // a name: on the pool
///     for l in [a, b, c, d] {
///         assert!(l.local_addr().unwrap().ip().is_loopback());
///     }
/// });
/// ```
///
/// [`to_thread`]: crate::aio::to_thread
pub trait ToSocketAddrs: sealed::Sealed {}

/// The hidden half of [`ToSocketAddrs`], which other crates can neither name nor implement.
#[allow(unreachable_pub)] // nameable only inside this crate: that is the seal
mod sealed {
    use std::net::SocketAddr;

    pub trait Sealed {
        /// What it takes to turn `self` into socket addresses.
        fn lookup(&self) -> Lookup;
    }

    /// What an address needs to become socket addresses.
    #[derive(Debug)]
    pub enum Lookup {
        /// Numeric: resolved already, on the loop.
        Ready(Vec<SocketAddr>),
        /// `"host:port"` with a host name, for the system resolver.
        Name(String),
        /// A host name and a port, for the system resolver.
        HostPort(String, u16),
    }
}

use sealed::{Lookup, Sealed};

macro_rules! numeric_addr {
    ($($ty:ty),*) => {$(
        impl ToSocketAddrs for $ty {}
        impl Sealed for $ty {
            fn lookup(&self) -> Lookup {
                Lookup::Ready(vec![SocketAddr::from(*self)])
            }
        }
    )*};
}

numeric_addr!(
    SocketAddr,
    SocketAddrV4,
    SocketAddrV6,
    (IpAddr, u16),
    (Ipv4Addr, u16),
    (Ipv6Addr, u16)
);

impl ToSocketAddrs for [SocketAddr] {}
impl Sealed for [SocketAddr] {
    fn lookup(&self) -> Lookup {
        Lookup::Ready(self.to_vec())
    }
}

impl ToSocketAddrs for str {}
impl Sealed for str {
    fn lookup(&self) -> Lookup {
        match self.parse::<SocketAddr>() {
            Ok(a) => Lookup::Ready(vec![a]),
            Err(_) => Lookup::Name(self.to_owned()),
        }
    }
}

impl ToSocketAddrs for String {}
impl Sealed for String {
    fn lookup(&self) -> Lookup {
        self.as_str().lookup()
    }
}

impl ToSocketAddrs for (&str, u16) {}
impl Sealed for (&str, u16) {
    fn lookup(&self) -> Lookup {
        let (host, port) = *self;
        match host.parse::<IpAddr>() {
            Ok(ip) => Lookup::Ready(vec![SocketAddr::new(ip, port)]),
            Err(_) => Lookup::HostPort(host.to_owned(), port),
        }
    }
}

impl ToSocketAddrs for (String, u16) {}
impl Sealed for (String, u16) {
    fn lookup(&self) -> Lookup {
        (self.0.as_str(), self.1).lookup()
    }
}

impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {}
impl<T: ToSocketAddrs + ?Sized> Sealed for &T {
    fn lookup(&self) -> Lookup {
        (**self).lookup()
    }
}

/// Resolves `addr`: at once if it is numeric, on the default thread pool if it names a
/// host (so the loop keeps running). A lookup error keeps its kind and names the host.
pub(super) async fn resolve(addr: impl ToSocketAddrs) -> io::Result<Vec<SocketAddr>> {
    let (host, port) = match addr.lookup() {
        Lookup::Ready(addrs) => return Ok(addrs),
        Lookup::Name(name) => (name, None),
        Lookup::HostPort(host, port) => (host, Some(port)),
    };
    let name = host.clone();
    let job = move || {
        match port {
            None => name.as_str().to_socket_addrs(),
            Some(port) => (name.as_str(), port).to_socket_addrs(),
        }
        .map(Iterator::collect::<Vec<_>>)
    };
    match crate::aio::to_thread(job).await {
        Ok(Ok(addrs)) => Ok(addrs),
        Ok(Err(e)) => Err(io::Error::new(e.kind(), format!("{host}: {e}"))),
        Err(e) => Err(io::Error::other(format!(
            "{host}: the name lookup on the thread pool did not finish: {e}"
        ))),
    }
}

/// The error for an address that resolved to no socket address at all.
pub(super) fn resolved_to_nothing() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "the address resolved to nothing",
    )
}

/// Tries `f` on each of the resolved `addrs` until one succeeds.
pub(super) fn each_addr<T>(
    addrs: Vec<SocketAddr>,
    mut f: impl FnMut(SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = None;
    for a in addrs {
        match f(a) {
            Ok(t) => return Ok(t),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(resolved_to_nothing))
}
