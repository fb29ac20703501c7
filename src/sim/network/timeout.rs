//! The retransmission timeout: a connection whose data a cut has held for
//! `rto_ns` gives up, as TCP does once `tcp_retries2` retransmissions went
//! unanswered. Only the side with data outstanding times out; its peer is
//! told nothing (Linux's `tcp_write_err` sends no RST).

use super::addresses::unmapped;
use super::*;

impl Network {
    /// A data segment of `from` was held at `at`: its timer starts with the
    /// first one held.
    pub(super) fn held_data(&mut self, from: SocketKey, rto_ns: u64, at: u64) {
        let Some(Socket { state: State::Connected(endpoint), node }) = self.socket_mut(from) else {
            return;
        };
        let node = *node;
        endpoint.held += 1;
        if endpoint.held == 1 && rto_ns > 0 {
            endpoint.held_since = at;
            self.arm_rto(from, node, rto_ns, at.saturating_add(rto_ns));
        }
    }

    /// A held data segment of `from` was released.
    pub(super) fn unheld(&mut self, from: SocketKey) {
        if let Some(Socket { state: State::Connected(endpoint), .. }) = self.socket_mut(from) {
            endpoint.held = endpoint.held.saturating_sub(1);
        }
    }

    fn arm_rto(&mut self, key: SocketKey, node: NodeId, rto_ns: u64, at: u64) {
        let kind = Kind::RtoCheck { key, rto_ns };
        self.send_at(u32::MAX, at, Segment { from: node, to: Some(node), delay: 0, kind });
    }

    /// The timer of `key` came due at `now`: time out if data is still held
    /// since before `now - rto_ns`, else wait for the newer hold.
    pub(super) fn check_rto(&mut self, key: SocketKey, rto_ns: u64, now: u64) {
        let Some(Socket { state: State::Connected(endpoint), node }) = self.socket_mut(key) else {
            return;
        };
        if endpoint.held == 0 || endpoint.reset {
            return;
        }
        let due = endpoint.held_since.saturating_add(rto_ns);
        if due > now {
            let node = *node;
            self.arm_rto(key, node, rto_ns, due);
            return;
        }
        endpoint.reset = true;
        endpoint.reset_reported = false;
        endpoint.reset_errno = Errno::ETIMEDOUT;
        endpoint.held = 0;
        // What was in flight to it is answered with RST when it arrives.
        let arrived = endpoint.arrived;
        endpoint.stream.truncate(arrived);
        let peer = endpoint.peer;
        // The write queue is purged: nothing it held reaches the peer, and
        // the bytes reserved in the peer's stream go with it.
        if let Some(Socket { state: State::Connected(receiver), .. }) = self.socket_mut(peer) {
            let keep = receiver.arrived;
            receiver.stream.truncate(keep);
        }
        let ours = |segment: &Segment| match segment.kind {
            Kind::Data { to, .. } | Kind::Fin { to } => to == peer,
            _ => false,
        };
        self.held.retain(|(_, segment)| !ours(segment));
        self.in_flight.retain(|segment| !ours(segment));
        // Its waiting recv and send now report the timeout.
        self.touch(key);
    }

    /// True if a powered-off node listened at `address`.
    pub(super) fn dark_at(&self, address: SocketAddr) -> bool {
        let address = unmapped(address);
        self.dark.iter().any(|&(bound, _)| {
            let bound = unmapped(bound);
            bound == address
                || (bound.port() == address.port()
                    && bound.ip().is_unspecified()
                    && (bound.is_ipv6() || address.is_ipv4()))
        })
    }
}
