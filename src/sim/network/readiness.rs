//! Which sockets changed in a way that can let a waiting operation run.
//!
//! The twin parks an operation that would block on its socket and retries
//! it only when that socket is touched here, as the kernel's readiness
//! callbacks wake only the waiters of the socket that changed. A pass then
//! costs O(events), not O(parked operations). A socket is touched when:
//! - a segment reaches it: data, FIN, RST, SYN-ACK, ICMP unreachable, a SYN
//!   timeout, or a SYN admitted to its backlog (listeners);
//! - its peer read with the window full (the send window reopens);
//! - it was reset or timed out locally (the `reset` fault, the
//!   retransmission timeout), or one of its halves was shut down.
//!
//! Touching too much only costs a retry; touching too little loses a
//! wakeup, which debug builds of the twin detect: `would_block` restates,
//! independently of the `poll_*` functions, when each operation blocks,
//! and every operation still parked after a wake must.

use super::{Network, SEND_WINDOW, Socket, SocketKey, State};

/// What a parked operation waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interest {
    Accept,
    Connect,
    Recv,
    Send,
}

impl Network {
    /// Marks `key`'s socket as changed, once until the next `take_touched`.
    pub(super) fn touch(&mut self, key: SocketKey) {
        if let Some(slot) = self.slots.get_mut(key.index as usize)
            && slot.generation == key.generation
            && !slot.touched
        {
            slot.touched = true;
            self.touched.push(key.index);
        }
    }

    /// Moves the slot indices of the sockets touched since the last call,
    /// in the order they were first touched, to the end of `into`.
    pub fn take_touched(&mut self, into: &mut Vec<u32>) {
        for &index in &self.touched {
            self.slots[index as usize].touched = false;
        }
        if into.is_empty() {
            // The common case, and no copy: the two keep their capacities.
            std::mem::swap(into, &mut self.touched);
        } else {
            into.append(&mut self.touched);
        }
    }
}

impl Network {
    /// True if an operation of `interest` on `key` would block now (with a
    /// non-empty buffer: an empty one never blocks, so never parks). The
    /// oracle of debug builds, not used to decide anything.
    pub fn would_block(&self, key: SocketKey, interest: Interest) -> bool {
        let Some(Socket { state, .. }) = self.socket(key) else { return false };
        match (state, interest) {
            (State::Connecting { .. }, Interest::Connect | Interest::Recv | Interest::Send) => true,
            (State::Listening(listener), Interest::Accept) => listener.queue.is_empty(),
            (State::Connected(endpoint), Interest::Recv) => {
                endpoint.arrived == 0
                    && !endpoint.reset
                    && !endpoint.fin_received
                    && !endpoint.read_shut
            }
            (State::Connected(endpoint), Interest::Send) => {
                !endpoint.reset && !endpoint.write_shut && endpoint.unread_by_peer >= SEND_WINDOW
            }
            _ => false,
        }
    }
}

impl SocketKey {
    /// The socket's slot: the same for every key of one socket, reused after
    /// it closes (a stale slot's waiters are retried, never lost).
    pub fn slot(self) -> u32 {
        self.index
    }
}
