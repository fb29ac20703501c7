//! How sockets go away: `close`, a listener stopped, a process crash
//! (RST to every peer) and a power-off (silence), and a node's restart.

use super::*;

/// How a socket went away, which decides what its peer is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Gone {
    /// `close` (or a listener stopped): FIN, or RST over unread data.
    Close,
    /// The process died, the kernel lives: RST.
    Crash,
    /// The machine lost power: nothing.
    PowerOff,
}

impl Network {
    /// Closes a socket; its key goes stale at once. A connection sends FIN
    /// (or RST if received data was left unread); a listener resets the
    /// connections still waiting in its backlog.
    pub fn close(&mut self, key: SocketKey) -> Result<(), CloseError> {
        let socket = self.take(key).ok_or(CloseError::BadFileDescriptor)?;
        self.release(key, socket, Gone::Close);
        Ok(())
    }

    /// Turns a listener back into an unconnected socket, resetting the
    /// connections waiting in its backlog.
    pub(super) fn stop_listening(&mut self, key: SocketKey) {
        let Some(socket) = self.socket_mut(key) else { return };
        let state = std::mem::replace(&mut socket.state, State::Open);
        let node = socket.node;
        self.release(key, Socket { node, state }, Gone::Close);
    }

    /// Crashes `node`: every socket it owns vanishes without FIN; each live
    /// connection's peer is sent RST (it sees the reset when that arrives),
    /// and its listeners stop answering. Segments already sent by the node
    /// still arrive.
    ///
    /// A `power_off` crash sends nothing: peers see silence, segments to
    /// the node are held until [`Network::restart_node`], and SYNs to its
    /// listeners' addresses go unanswered.
    pub fn crash_node(&mut self, node: NodeId, power_off: bool) {
        let gone = if power_off { Gone::PowerOff } else { Gone::Crash };
        if power_off && !self.powered_off.contains(&node) {
            self.powered_off.push(node);
        }
        for index in 0..self.slots.len() {
            let slot = &self.slots[index];
            let key = SocketKey { index: index as u32, generation: slot.generation };
            if slot.socket.as_ref().is_some_and(|socket| socket.node == node)
                && let Some(socket) = self.take(key)
            {
                self.release(key, socket, gone);
            }
        }
    }

    /// A crashed node is back: if it was powered off, what was held for it
    /// is due (and reaches closed sockets), and its old addresses answer
    /// again (refused, until something listens there).
    pub fn restart_node(&mut self, node: NodeId) {
        if self.powered_off.contains(&node) {
            self.powered_off.retain(|&off| off != node);
            self.dark.retain(|&(_, owner)| owner != node);
            self.release_held();
        }
    }

    /// Tells the peers of a socket just taken what became of it: FIN for a
    /// clean close, RST for a crash or for unread data, nothing at a
    /// power-off; a listener's unaccepted connections go down with it.
    fn release(&mut self, key: SocketKey, socket: Socket, gone: Gone) {
        match socket.state {
            State::Listening(listener) => {
                self.listeners.retain(|&(_, listening)| listening != key);
                if gone == Gone::PowerOff {
                    self.dark.push((listener.address, socket.node));
                }
                let queued_gone = if gone == Gone::PowerOff { gone } else { Gone::Crash };
                for queued in listener.queue {
                    if let Some(queued_socket) = self.take(queued) {
                        self.release(queued, queued_socket, queued_gone);
                    }
                }
            }
            State::Connected(endpoint) => {
                if endpoint.reset || gone == Gone::PowerOff {
                    return;
                }
                let to = endpoint.peer;
                let kind = if gone == Gone::Crash || endpoint.arrived > 0 {
                    Kind::Rst { to }
                } else if endpoint.write_shut {
                    return;
                } else {
                    Kind::Fin { to }
                };
                self.send_segment(
                    key.index,
                    socket.node,
                    Some(endpoint.peer_node),
                    endpoint.path_delay,
                    kind,
                );
            }
            State::Open | State::Connecting { .. } | State::Failed(_) => {}
        }
    }
}
