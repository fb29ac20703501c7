//! Segments in flight: sending them with their delay, delivering them in
//! `(arrival, sequence)` order as virtual time advances, holding them
//! across partitions, and answering what arrives for a closed socket.

use super::addresses::unmapped;
use super::*;

impl Network {
    /// Delivers, in `(arrival, sequence)` order, every segment that arrives
    /// at or before `now`, including replies those deliveries provoke.
    pub fn advance(&mut self, now: u64) {
        self.observe(now);
        while let Some(key) = self.in_flight.first_key() {
            if key.0 > now {
                break;
            }
            let Some((key, segment)) = self.in_flight.pop_first() else { break };
            self.deliver(key, segment);
        }
    }

    /// When the next segment arrives, if any is in flight. A time at or
    /// before the last `now` (a segment released by `heal`) means due now.
    pub fn next_arrival(&self) -> Option<u64> {
        self.in_flight.first_key().map(|(arrival, _)| arrival)
    }

    /// Cuts the network between `a` and `b` (both directions) until healed.
    /// A node is never cut from itself.
    pub fn partition(&mut self, a: NodeId, b: NodeId) {
        self.partition_one_way(a, b);
        self.partition_one_way(b, a);
    }

    /// Cuts the direction `from` → `to` only: segments from `from` to `to`
    /// are held, the other direction flows.
    pub fn partition_one_way(&mut self, from: NodeId, to: NodeId) {
        if from != to {
            self.partitions.insert((from, to));
        }
    }

    /// Heals the cut between `a` and `b` (both directions): the segments it
    /// held are due again, in their original order.
    pub fn heal(&mut self, a: NodeId, b: NodeId) {
        self.partitions.remove(&(a, b));
        self.partitions.remove(&(b, a));
        self.release_held();
    }

    /// Marks the host at `ip` unreachable (or not): connects to it fail
    /// with `EHOSTUNREACH`.
    pub fn set_unreachable(&mut self, ip: IpAddr, unreachable: bool) {
        let ip = addresses::unmapped(SocketAddr::new(ip, 0)).ip();
        self.unreachable.retain(|&marked| marked != ip);
        if unreachable {
            self.unreachable.push(ip);
        }
    }

    /// Heals every partition.
    pub fn heal_all(&mut self) {
        self.partitions.clear();
        self.release_held();
    }

    /// True if the network between `a` and `b` is partitioned, in either
    /// direction (a powered-off node is not a partition).
    pub fn is_partitioned(&self, a: NodeId, b: NodeId) -> bool {
        a != b && (self.partitions.contains(&(a, b)) || self.partitions.contains(&(b, a)))
    }

    /// True if segments from `from` to `to` are held: that direction is
    /// partitioned, or `to` is powered off.
    pub fn is_cut(&self, from: NodeId, to: NodeId) -> bool {
        from != to && (self.partitions.contains(&(from, to)) || self.powered_off.contains(&to))
    }

    /// How many segments are in flight or held.
    pub fn segments_pending(&self) -> usize {
        self.in_flight.len() + self.held.len()
    }

    pub(super) fn observe(&mut self, now: u64) {
        self.now = self.now.max(now);
    }

    /// Queues a segment from slot `from_slot`, arriving `delay` after now
    /// but never before the previous segment from that slot.
    pub(super) fn send_segment(
        &mut self,
        from_slot: u32,
        from: NodeId,
        to: Option<NodeId>,
        delay: u64,
        kind: Kind,
    ) {
        let arrival = self.now.saturating_add(delay);
        self.send_at(from_slot, arrival, Segment { from, to, delay, kind });
    }

    pub(super) fn send_at(&mut self, from_slot: u32, arrival: u64, segment: Segment) {
        let arrival = match self.slots.get_mut(from_slot as usize) {
            Some(slot) => {
                slot.last_arrival = slot.last_arrival.max(arrival);
                slot.last_arrival
            }
            None => arrival,
        };
        self.sequence += 1;
        self.in_flight.insert((arrival, self.sequence), segment);
    }

    pub(super) fn release_held(&mut self) {
        let held = std::mem::take(&mut self.held);
        for (key, segment) in held {
            let cut = segment.to.is_some_and(|to| self.is_cut(segment.from, to));
            if cut {
                self.held.push((key, segment));
            } else {
                if let Kind::Data { from, .. } = segment.kind {
                    self.unheld(from);
                }
                // The original key: it is due, and still precedes every later
                // segment of its direction.
                self.in_flight.insert(key, segment);
            }
        }
    }

    pub(super) fn deliver(&mut self, key: (u64, u64), mut segment: Segment) {
        let arrival = key.0;
        if let Kind::RtoCheck { key, rto_ns } = segment.kind {
            self.check_rto(key, rto_ns, arrival);
            return;
        }
        if let Kind::Syn(syn) = segment.kind
            && segment.to.is_none()
        {
            if syn.unreachable || self.unreachable.contains(&unmapped(syn.address).ip()) {
                let kind = Kind::HostUnreachable { to: syn.client };
                let reply = Segment { to: Some(segment.from), kind, ..segment };
                self.send_at(u32::MAX, arrival.saturating_add(reply.delay), reply);
                return;
            }
            segment.to = self.listener_at(syn.address).and_then(|listener| self.node_of(listener));
            let dark = segment.to.is_none() && self.dark_at(syn.address);
            let held = segment.to.is_some_and(|to| self.is_cut(segment.from, to));
            if dark || (held && syn.retransmit) {
                // Nothing answers: the client sends the SYN again.
                self.drop_syn(segment.from, segment.delay, arrival, syn);
                return;
            }
        }
        if let Some(to) = segment.to
            && self.is_cut(segment.from, to)
        {
            if let Kind::Data { from, rto_ns, .. } = segment.kind {
                self.held_data(from, rto_ns, arrival);
            }
            self.held.push((key, segment));
            return;
        }
        let reply_at = arrival.saturating_add(segment.delay);
        let reply_from = segment.to.unwrap_or(segment.from);
        match segment.kind {
            Kind::HostUnreachable { to }
            | Kind::SynTimeout { client: to }
            | Kind::SynAck { client: to, .. }
            | Kind::Data { to, .. }
            | Kind::Fin { to }
            | Kind::Rst { to } => self.touch(to),
            // Touched where the SYN joins a backlog; a check touches the
            // socket if it times out.
            Kind::Syn(_) | Kind::RtoCheck { .. } => {}
        }
        match segment.kind {
            Kind::Syn(syn) => self.deliver_syn(segment.from, segment.delay, arrival, syn),
            Kind::RtoCheck { .. } => {}
            Kind::HostUnreachable { to } => {
                if let Some(socket) = self.socket_mut(to)
                    && matches!(socket.state, State::Connecting { .. })
                {
                    socket.state = State::Failed(Errno::EHOSTUNREACH);
                }
            }
            Kind::SynTimeout { client } => {
                if let Some(socket) = self.socket_mut(client)
                    && matches!(socket.state, State::Connecting { .. })
                {
                    socket.state = State::Failed(Errno::ETIMEDOUT);
                }
            }
            Kind::SynAck { client, server, server_address } => {
                let established = match self.socket_mut(client) {
                    Some(socket) => match socket.state {
                        State::Connecting { local } => {
                            socket.state = State::Connected(Box::new(Endpoint::new(
                                local,
                                server_address,
                                server,
                                segment.from,
                                segment.delay,
                            )));
                            true
                        }
                        _ => false,
                    },
                    None => false,
                };
                if !established {
                    // The client is gone (closed or crashed while
                    // connecting): the server's half-open socket is reset.
                    self.reply_rst(
                        client.index,
                        reply_from,
                        segment.from,
                        segment.delay,
                        reply_at,
                        server,
                    );
                }
            }
            Kind::Data { to, from, len, carried, .. } => {
                let delivered = match self.socket_mut(to) {
                    // Timed out: closed as far as the kernel is concerned.
                    Some(Socket { state: State::Connected(endpoint), .. })
                        if endpoint.reset_errno == Errno::ETIMEDOUT =>
                    {
                        false
                    }
                    Some(Socket { state: State::Connected(endpoint), .. }) => {
                        if !carried.is_empty() {
                            endpoint.insert_in_flight(&carried);
                        }
                        if endpoint.reset {
                            // Data after a reset is dropped: these bytes
                            // are the first still in flight.
                            let end = (endpoint.arrived + len).min(endpoint.stream.len());
                            endpoint.stream.drain(endpoint.arrived..end);
                        } else {
                            endpoint.arrived += len;
                        }
                        true
                    }
                    _ => false,
                };
                if !delivered {
                    self.reply_rst(
                        to.index,
                        reply_from,
                        segment.from,
                        segment.delay,
                        reply_at,
                        from,
                    );
                }
            }
            Kind::Fin { to } => {
                if let Some(Socket { state: State::Connected(endpoint), .. }) = self.socket_mut(to)
                {
                    endpoint.fin_received = true;
                }
            }
            Kind::Rst { to } => {
                if let Some(socket) = self.socket_mut(to) {
                    match &mut socket.state {
                        State::Connected(endpoint) => {
                            endpoint.reset = true;
                            // After the peer's FIN (CLOSE_WAIT), Linux
                            // records a reset as EPIPE, not ECONNRESET, and
                            // recv keeps answering end of stream: there is
                            // no reset left to report.
                            if endpoint.fin_received {
                                endpoint.reset_reported = true;
                            }
                        }
                        // RST in SYN-SENT: the connect is refused.
                        State::Connecting { .. } => {
                            socket.state = State::Failed(Errno::ECONNREFUSED);
                        }
                        _ => {}
                    }
                }
            }
        }
    }

    pub(super) fn reply_rst(
        &mut self,
        from_slot: u32,
        from: NodeId,
        to_node: NodeId,
        delay: u64,
        at: u64,
        to: SocketKey,
    ) {
        self.send_at(
            from_slot,
            at,
            Segment { from, to: Some(to_node), delay, kind: Kind::Rst { to } },
        );
    }
}
