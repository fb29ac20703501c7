//! Addresses: which listener a connection reaches, which binds collide,
//! and the ephemeral ports handed out. Sockets are dual-stack, as Linux's
//! are by default.

use std::net::SocketAddr;

use super::{EPHEMERAL_COUNT, EPHEMERAL_FIRST, Network, SocketKey};

impl Network {
    /// The listener that a connection to `address` reaches: one bound to
    /// exactly that address, else one bound to the wildcard of its family,
    /// else the IPv6 wildcard.
    ///
    /// Sockets are dual-stack, as Linux's are by default: a v4-mapped IPv6
    /// address is the IPv4 address, and the IPv6 wildcard listens on IPv4
    /// too.
    pub(super) fn listener_at(&self, address: SocketAddr) -> Option<SocketKey> {
        let address = unmapped(address);
        let exact = self.listeners.iter().find(|(bound, _)| unmapped(*bound) == address);
        let wildcard = |same_family: bool| {
            self.listeners.iter().find(move |(bound, _)| {
                bound.port() == address.port()
                    && bound.ip().is_unspecified()
                    && (bound.is_ipv4() == address.is_ipv4()) == same_family
                    && (same_family || bound.is_ipv6())
            })
        };
        exact.or_else(|| wildcard(true)).or_else(|| wildcard(false)).map(|&(_, key)| key)
    }

    /// Whether binding `address` collides with a listener: the same port
    /// and the same address, or a wildcard covering it (the IPv6 wildcard
    /// covers IPv4 too).
    pub(super) fn listener_conflict(&self, address: SocketAddr) -> bool {
        let address = unmapped(address);
        self.listeners.iter().any(|(bound, _)| {
            let bound = unmapped(*bound);
            let dual = |a: &SocketAddr, b: &SocketAddr| {
                a.is_ipv6() && a.ip().is_unspecified() && b.is_ipv4()
            };
            bound.port() == address.port()
                && if bound.is_ipv4() == address.is_ipv4() {
                    bound.ip() == address.ip()
                        || bound.ip().is_unspecified()
                        || address.ip().is_unspecified()
                } else {
                    dual(&bound, &address) || dual(&address, &bound)
                }
        })
    }

    pub(super) fn free_listen_port(&mut self, address: SocketAddr) -> Option<u16> {
        for _ in 0..EPHEMERAL_COUNT {
            let port = self.next_port();
            if !self.listener_conflict(SocketAddr::new(address.ip(), port)) {
                return Some(port);
            }
        }
        None
    }

    pub(super) fn next_port(&mut self) -> u16 {
        let port = EPHEMERAL_FIRST + self.next_ephemeral as u16;
        self.next_ephemeral = (self.next_ephemeral + 1) % EPHEMERAL_COUNT;
        port
    }
}

/// A v4-mapped IPv6 address as the IPv4 address it maps; any other as is.
pub(super) fn unmapped(address: SocketAddr) -> SocketAddr {
    match address {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(ip) => SocketAddr::new(ip.into(), v6.port()),
            None => address,
        },
        SocketAddr::V4(_) => address,
    }
}
