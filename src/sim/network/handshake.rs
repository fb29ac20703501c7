//! The handshake's server side: a SYN reaching a listener is admitted to
//! its backlog (the server socket is established at once and answers with
//! SYN-ACK), refused with RST, or, on a full backlog, dropped and sent
//! again by the client, as Linux does.

use super::{Endpoint, Kind, Network, SYN_RETRIES, SYN_RTO, Segment, Socket, State, Syn};
use crate::sim::node::NodeId;

impl Network {
    /// A SYN from `client_node` arrived at `arrival` after `delay`.
    pub(super) fn deliver_syn(&mut self, client_node: NodeId, delay: u64, arrival: u64, syn: Syn) {
        let Syn { client, client_address, address, refuse, .. } = syn;
        let reply_at = arrival.saturating_add(delay);
        let listener = self.listener_at(address);
        let full = listener.is_some_and(|listener| {
            matches!(
                self.socket(listener),
                Some(Socket { state: State::Listening(l), .. }) if l.queue.len() > l.backlog
            )
        });
        if full && !refuse {
            self.drop_syn(client_node, delay, arrival, syn);
            return;
        }
        let admitted = listener.filter(|_| !refuse);
        let Some(listener) = admitted else {
            // Refused: the RST comes from the listener's slot when there is
            // one, otherwise from nowhere (no ordering to keep).
            let from_slot = listener.map_or(u32::MAX, |l| l.index);
            let from = listener.and_then(|l| self.node_of(l)).unwrap_or(client_node);
            self.reply_rst(from_slot, from, client_node, delay, reply_at, client);
            return;
        };
        let Some(server_node) = self.node_of(listener) else { return };
        let server = self.open(server_node);
        if let Some(socket) = self.socket_mut(server) {
            socket.state = State::Connected(Box::new(Endpoint::new(
                address,
                client_address,
                client,
                client_node,
                delay,
            )));
        }
        if let Some(Socket { state: State::Listening(listening), .. }) = self.socket_mut(listener) {
            listening.queue.push_back(server);
        }
        self.touch(listener);
        let syn_ack = Kind::SynAck { client, server, server_address: address };
        self.send_at(
            server.index,
            reply_at,
            Segment { from: server_node, to: Some(client_node), delay, kind: syn_ack },
        );
    }

    /// A SYN found the backlog full and was dropped: the client sends it
    /// again after its retransmission timeout, or gives up.
    pub(super) fn drop_syn(&mut self, client_node: NodeId, delay: u64, arrival: u64, syn: Syn) {
        let connecting =
            matches!(self.socket(syn.client), Some(Socket { state: State::Connecting { .. }, .. }));
        if !connecting {
            return;
        }
        let at = arrival.saturating_add(SYN_RTO << syn.tries);
        let kind = if syn.tries < SYN_RETRIES {
            Kind::Syn(Syn { tries: syn.tries + 1, ..syn })
        } else {
            Kind::SynTimeout { client: syn.client }
        };
        let to = if syn.tries < SYN_RETRIES { None } else { Some(client_node) };
        self.send_at(syn.client.index, at, Segment { from: client_node, to, delay, kind });
    }
}
