//! The data path of a connection: `recv` and `send` against the
//! endpoint's buffers and its flow-control window.

use super::*;

impl Network {
    /// Receives into `buf`: `Some(Ok(0))` is end of stream (after the peer's
    /// FIN and all its data, or after `shutdown(Read)`), `None` would block.
    /// The `partial_recv` fault returns fewer bytes than are available.
    pub fn poll_recv(
        &mut self,
        key: SocketKey,
        buf: &mut [u8],
        prng: &mut Prng,
        faults: &NetworkFaults,
    ) -> Option<Result<usize, Errno>> {
        let Some(socket) = self.socket_mut(key) else {
            return Some(Err(Errno::EBADF));
        };
        let endpoint = match &mut socket.state {
            State::Connected(endpoint) => endpoint,
            State::Connecting { .. } => return None,
            // A refused connect leaves the socket shut in both directions
            // (Linux's `tcp_done`): end of stream, as the kernel answers.
            State::Failed(_) => return Some(Ok(0)),
            State::Open | State::Listening(_) => return Some(Err(Errno::ENOTCONN)),
        };
        if buf.is_empty() {
            return Some(Ok(0));
        }
        if endpoint.arrived > 0 {
            let mut count = buf.len().min(endpoint.arrived);
            if count > 1 && prng.chance(faults.partial_recv) {
                count = prng.range_inclusive(1, count as u64 - 1) as usize;
            }
            // Two slice copies, not a byte at a time (profiled: the
            // byte loop was most of a small-message echo's recv).
            let (front, back) = endpoint.stream.as_slices();
            let first = count.min(front.len());
            buf[..first].copy_from_slice(&front[..first]);
            buf[first..count].copy_from_slice(&back[..count - first]);
            endpoint.stream.drain(..count);
            endpoint.arrived -= count;
            let peer = endpoint.peer;
            let reopened = match self.socket_mut(peer) {
                Some(Socket { state: State::Connected(sender), .. }) => {
                    let was_full = sender.unread_by_peer >= SEND_WINDOW;
                    sender.unread_by_peer = sender.unread_by_peer.saturating_sub(count);
                    was_full
                }
                _ => false,
            };
            if reopened {
                // The peer's waiting send can run again.
                self.touch(peer);
            }
            return Some(Ok(count));
        }
        // After the peer's FIN, Linux's recv answers end of stream before
        // looking at a pending error (a timeout then surfaces from send).
        if endpoint.reset && !endpoint.reset_reported && !endpoint.fin_received {
            endpoint.reset_reported = true;
            return Some(Err(endpoint.reset_errno));
        }
        if endpoint.reset || endpoint.fin_received || endpoint.read_shut {
            return Some(Ok(0));
        }
        None
    }

    /// Sends a prefix of `data`: `Some(Ok(n))` took `n` bytes, `None` would
    /// block (the window is full, or the handshake is still under way). The
    /// `reset` fault resets the connection instead; `partial_send` takes
    /// fewer bytes than the window allows.
    pub fn poll_send(
        &mut self,
        key: SocketKey,
        data: &[u8],
        now: u64,
        prng: &mut Prng,
        faults: &NetworkFaults,
    ) -> Option<Result<usize, Errno>> {
        self.observe(now);
        let Some(socket) = self.socket_mut(key) else {
            return Some(Err(Errno::EBADF));
        };
        let node = socket.node;
        let endpoint = match &mut socket.state {
            State::Connected(endpoint) => endpoint,
            State::Connecting { .. } => return None,
            // Linux's `sk_stream_wait_connect`: a socket that is neither
            // connected nor connecting (never connected, listening, or
            // refused) answers EPIPE.
            State::Open | State::Listening(_) | State::Failed(_) => {
                return Some(Err(Errno::EPIPE));
            }
        };
        if endpoint.reset {
            if endpoint.reset_reported {
                return Some(Err(Errno::EPIPE));
            }
            endpoint.reset_reported = true;
            return Some(Err(endpoint.reset_errno));
        }
        if endpoint.write_shut {
            return Some(Err(Errno::EPIPE));
        }
        if data.is_empty() {
            return Some(Ok(0));
        }
        let room = SEND_WINDOW - endpoint.unread_by_peer.min(SEND_WINDOW);
        if room == 0 {
            return None;
        }
        let (peer, peer_node) = (endpoint.peer, endpoint.peer_node);
        if prng.chance(faults.reset) {
            endpoint.reset = true;
            endpoint.reset_reported = true;
            let delay = endpoint.path_delay;
            self.send_segment(key.index, node, Some(peer_node), delay, Kind::Rst { to: peer });
            // Its own waiting recv now ends the stream.
            self.touch(key);
            return Some(Err(Errno::ECONNRESET));
        }
        let mut count = data.len().min(room);
        if count > 1 && prng.chance(faults.partial_send) {
            count = prng.range_inclusive(1, count as u64 - 1) as usize;
        }
        endpoint.unread_by_peer += count;
        let delay = faults.draw_delay(prng);
        // The bytes wait in the receiver's stream until their segment
        // arrives. A server may send before its client has the SYN-ACK:
        // those bytes travel in the segment (once per connection, at most).
        // A receiver already gone answers the segment with RST.
        let mut carried = Vec::new();
        match self.socket_mut(peer) {
            Some(Socket { state: State::Connected(receiver), .. }) => {
                receiver.reserve_window();
                receiver.stream.extend(&data[..count]);
            }
            Some(Socket { state: State::Connecting { .. }, .. }) => {
                carried.extend_from_slice(&data[..count]);
            }
            _ => {}
        }
        let kind = Kind::Data { to: peer, from: key, len: count, carried, rto_ns: faults.rto_ns };
        let leaves = self.link_slot(node, peer_node, faults.transmit_ns(count));
        let arrival = leaves.saturating_add(delay);
        self.send_at(key.index, arrival, Segment { from: node, to: Some(peer_node), delay, kind });
        Some(Ok(count))
    }

    /// When a segment taking `transmit_ns` on the link `from` → `to`,
    /// queued behind the earlier ones, has left: now, when unlimited.
    #[inline]
    fn link_slot(&mut self, from: NodeId, to: NodeId, transmit_ns: u64) -> u64 {
        if transmit_ns == 0 {
            return self.now;
        }
        self.occupy_link(from, to, transmit_ns)
    }

    /// A limited link's side of `link_slot`, out of the unlimited path.
    #[cold]
    fn occupy_link(&mut self, from: NodeId, to: NodeId, transmit_ns: u64) -> u64 {
        let now = self.now;
        let at = match self.links.iter().position(|&(a, b, _)| (a, b) == (from, to)) {
            Some(at) => at,
            None => {
                self.links.push((from, to, now));
                self.links.len() - 1
            }
        };
        let link = &mut self.links[at].2;
        *link = (*link).max(now).saturating_add(transmit_ns);
        *link
    }
}

impl Endpoint {
    pub(super) fn new(
        local: SocketAddr,
        remote: SocketAddr,
        peer: SocketKey,
        peer_node: NodeId,
        path_delay: u64,
    ) -> Endpoint {
        Endpoint {
            local,
            remote,
            peer,
            peer_node,
            path_delay,
            stream: VecDeque::new(),
            arrived: 0,
            unread_by_peer: 0,
            fin_received: false,
            read_shut: false,
            write_shut: false,
            reset: false,
            reset_reported: false,
            reset_errno: Errno::ECONNRESET,
            held: 0,
            held_since: 0,
        }
    }
}

impl Endpoint {
    /// Sizes the stream buffer to the window once, so it never grows again.
    #[inline]
    pub(super) fn reserve_window(&mut self) {
        if self.stream.capacity() < SEND_WINDOW {
            self.grow_to_window();
        }
    }

    #[cold]
    fn grow_to_window(&mut self) {
        self.stream.reserve_exact(SEND_WINDOW - self.stream.len());
    }

    /// Puts bytes that travelled in their segment where they belong: first
    /// of the bytes still in flight, which were all sent after them.
    pub(super) fn insert_in_flight(&mut self, bytes: &[u8]) {
        self.reserve_window();
        self.stream.extend(bytes);
        let arrived = self.arrived;
        self.stream.make_contiguous()[arrived..].rotate_right(bytes.len());
    }
}
