//! The simulated stream network that `SimIO` drives.
//!
//! A pure data structure: no callbacks, no clock of its own. The engine
//! passes virtual time in (`connect`, `poll_send`, `advance`) and polls
//! sockets for results; every draw comes from the `Prng` it passes. A `None`
//! from a `poll_*` means "would block" and changes nothing, consuming no
//! randomness, so the engine may poll as often as it likes.
//!
//! # Model
//! - Byte streams with TCP's promises: in order, no loss, no duplication,
//!   except that a reset ends a stream wherever it is.
//! - Everything that crosses the network is a segment (SYN, SYN-ACK, data,
//!   FIN, RST) with a one-way delay drawn from [`NetworkFaults`]. Segments
//!   of one direction of one connection never overtake each other (each
//!   arrives no earlier than the one before); all segments are delivered in
//!   `(arrival, sequence)` order, so ties are deterministic.
//! - The handshake: the client's SYN reaches the listener; if it is
//!   accepted, the server socket is established at once and waits in the
//!   listener's backlog, and its SYN-ACK establishes the client. No listener
//!   or the `refuse` fault answer with RST: the client's connect fails with
//!   `ConnectionRefused`. As on Linux, a backlog of `n` holds `n + 1`
//!   connections (at most `SOMAXCONN`), and a SYN that finds it full is
//!   dropped: the client sends it again 1, 3, 7, 15, 31 and 63 s after the
//!   first, and its connect fails with `ConnectionTimedOut` at 127 s.
//! - Flow control: at most [`SEND_WINDOW`] bytes per direction are sent and
//!   not yet read by the receiver; a send beyond that would block. The
//!   window reopens the moment the receiver reads (no delayed window update).
//! - `close` with unread received data sends RST (as TCP does), otherwise
//!   FIN. Data that reaches a socket already closed (or crashed) is answered
//!   with RST: the sender's next send or receive reports the reset.
//! - Resets: a socket that received RST returns its buffered data first,
//!   then `ConnectionResetByPeer` once (from recv or send, whichever comes
//!   first), then, as Linux does, end of stream from recv and `BrokenPipe`
//!   from send. A reset after the peer's FIN (Linux's `CLOSE_WAIT`) is
//!   reported as `BrokenPipe` from send and never from recv.
//! - A socket neither connected nor connecting answers send with
//!   `BrokenPipe`, recv with `NotConnected` (end of stream after a refused
//!   connect), as Linux does. `shutdown` of a listener's read half stops it.
//! - Partitions cut the network between two nodes: segments between them
//!   that come due are held, in order, and released when the partition
//!   heals. A released segment keeps its arrival time, which is then in the
//!   past: [`Network::next_arrival`] may return a time at or before the last
//!   `now`, meaning "due now".
//!   Partitions may be one-way (`partition_one_way`): segments from one
//!   node to the other are held, the other direction flows.
//! - Retransmission timeout (`NetworkFaults::rto_ns`, off by default): a
//!   connection whose data has been held that long gives up, as TCP does
//!   after `tcp_retries2` retransmissions: its next recv (after the data
//!   already received) or send reports `ConnectionTimedOut` once, then end
//!   of stream and `BrokenPipe`; its unsent data is dropped and nothing is
//!   sent to the peer, which learns of it only when its own data reaches
//!   the closed socket (RST). A SYN held by a partition is then sent again
//!   as a dropped one is.
//! - Power-off crashes: the node's sockets vanish silently. Segments to the
//!   node are held until it restarts (then they reach closed sockets and
//!   are answered with RST); a SYN to one of its listeners' addresses is
//!   dropped and sent again, so the connect times out unless the node
//!   comes back in time.
//! - Unreachable hosts: a SYN to an address marked unreachable (or hit by
//!   the `unreachable` fault) is answered by ICMP host unreachable: the
//!   connect fails with `EHOSTUNREACH`.
//! - Bandwidth: each direction of each node pair moves at most
//!   `bandwidth_bytes_per_s`; a data segment leaves when the link is free.
//! - `close`, `shutdown` and `crash_node` take no time argument: they act
//!   at the latest time the network has been given.

mod addresses;
mod delivery;
mod faults;
mod handshake;
mod lifecycle;
mod queue;
pub(crate) mod readiness;
mod stream;
mod timeout;

#[cfg(test)]
mod tests;

use std::collections::{BTreeSet, VecDeque};
use std::net::{IpAddr, SocketAddr};

pub use faults::NetworkFaults;
use queue::SegmentQueue;

use crate::error::{CloseError, Errno, ListenError, ShutdownError};
use crate::options::Shutdown;
use crate::sim::node::NodeId;
use crate::sim::prng::Prng;

/// The most bytes one direction of a connection holds in flight (sent and
/// not yet read by the receiver): the send buffer plus the receive window.
pub const SEND_WINDOW: usize = 64 * 1024;

/// The first port handed out for port 0 and for a client's local address
/// (the IANA dynamic range, as the BSDs and macOS use).
const EPHEMERAL_FIRST: u16 = 49152;
/// The largest backlog a listener gets (Linux's default `somaxconn`).
const SOMAXCONN: usize = 4096;
/// The first SYN retransmission timeout; each later one doubles it.
const SYN_RTO: u64 = 1_000_000_000;
/// How many times a dropped SYN is sent again (Linux's `tcp_syn_retries`).
const SYN_RETRIES: u8 = 6;

/// How many ephemeral ports there are.
const EPHEMERAL_COUNT: u32 = 65536 - EPHEMERAL_FIRST as u32;

/// A handle to one simulated socket. The generation makes a key to a closed
/// socket stale even after its slot is reused: every operation on it fails
/// with `BadFileDescriptor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SocketKey {
    index: u32,
    generation: u32,
}

/// The simulated network: every node's sockets and every segment in flight.
#[derive(Debug, Default)]
pub struct Network {
    slots: Vec<Slot>,
    /// Free slot indices, reused last-in first-out (deterministic).
    free: Vec<u32>,
    /// Listening sockets by bound address.
    listeners: Vec<(SocketAddr, SocketKey)>,
    /// Segments in flight, by (arrival time, sequence number).
    in_flight: SegmentQueue<Segment>,
    /// Segments held by a partition, in the order they came due.
    held: Vec<((u64, u64), Segment)>,
    /// Cut directions, each stored as (from, to).
    partitions: BTreeSet<(NodeId, NodeId)>,
    /// Nodes powered off: segments to them are held until they restart.
    powered_off: Vec<NodeId>,
    /// The addresses powered-off nodes listened on: a SYN to one goes
    /// unanswered (and is sent again) instead of being refused.
    dark: Vec<(SocketAddr, NodeId)>,
    /// Hosts a router answers for with ICMP host unreachable.
    unreachable: Vec<IpAddr>,
    /// When each direction of a node pair is free to send: (from, to, at).
    links: Vec<(NodeId, NodeId, u64)>,
    sequence: u64,
    /// Slots of the sockets touched since the engine last looked, in order
    /// (`readiness`).
    touched: Vec<u32>,
    /// The latest time the network has been given.
    now: u64,
    /// The next ephemeral port to try, as an offset from `EPHEMERAL_FIRST`.
    next_ephemeral: u32,
}

#[derive(Debug, Default)]
struct Slot {
    generation: u32,
    /// When the latest segment sent from this slot arrives. Kept across
    /// reuse, so a reply on behalf of a closed socket (an RST for late data)
    /// never overtakes what that socket sent before it closed.
    last_arrival: u64,
    /// In `Network::touched`.
    touched: bool,
    socket: Option<Socket>,
}

#[derive(Debug)]
struct Socket {
    node: NodeId,
    state: State,
}

#[derive(Debug)]
enum State {
    Open,
    Listening(Listener),
    Connecting { local: SocketAddr },
    Failed(Errno),
    Connected(Box<Endpoint>),
}

#[derive(Debug)]
struct Listener {
    address: SocketAddr,
    backlog: usize,
    /// Established connections not yet accepted.
    queue: VecDeque<SocketKey>,
}

#[derive(Debug)]
struct Endpoint {
    local: SocketAddr,
    remote: SocketAddr,
    peer: SocketKey,
    peer_node: NodeId,
    /// The handshake's one-way delay, reused for segments sent without a
    /// `Prng` at hand (FIN and RST from `close`, `shutdown`, `crash_node`).
    path_delay: u64,
    /// Bytes the peer sent to this endpoint and it has not read, in stream
    /// order: the first `arrived` have arrived, the rest are in flight (a
    /// data segment carries only their count). One buffer per direction,
    /// sized once to the window, so traffic allocates nothing per segment.
    stream: VecDeque<u8>,
    arrived: usize,
    /// Bytes sent to the peer that it has not read yet.
    unread_by_peer: usize,
    fin_received: bool,
    read_shut: bool,
    write_shut: bool,
    reset: bool,
    reset_reported: bool,
    /// What the reset reports: `ECONNRESET`, or `ETIMEDOUT` after the
    /// retransmission timeout (then the socket is closed in the kernel's
    /// eyes, and data reaching it is answered with RST).
    reset_errno: Errno,
    /// This endpoint's data segments held by a cut, and since when.
    held: u32,
    held_since: u64,
}

#[derive(Debug)]
struct Segment {
    from: NodeId,
    /// The destination node; `None` for a SYN, resolved when it arrives
    /// (whichever node listens at the address then).
    to: Option<NodeId>,
    /// This segment's one-way delay; a reply it provokes takes as long.
    delay: u64,
    kind: Kind,
}

#[derive(Debug, Clone, Copy)]
struct Syn {
    client: SocketKey,
    client_address: SocketAddr,
    address: SocketAddr,
    refuse: bool,
    /// Answered with ICMP host unreachable (the `unreachable` fault).
    unreachable: bool,
    /// Retransmitted when a partition holds it (a retransmission timeout
    /// is configured) instead of waiting for the heal.
    retransmit: bool,
    /// How many times this SYN was sent before.
    tries: u8,
}

#[derive(Debug)]
enum Kind {
    Syn(Syn),
    /// The client's last SYN went unanswered: its connect times out.
    SynTimeout {
        client: SocketKey,
    },
    SynAck {
        client: SocketKey,
        server: SocketKey,
        server_address: SocketAddr,
    },
    /// `len` bytes of the stream to `to`, waiting in its endpoint, or
    /// `carried` here if it had none yet when they were sent.
    Data {
        to: SocketKey,
        from: SocketKey,
        len: usize,
        carried: Vec<u8>,
        /// The sender's retransmission timeout (0: none).
        rto_ns: u64,
    },
    /// The sender's retransmission timer, checked when it comes due.
    RtoCheck {
        key: SocketKey,
        rto_ns: u64,
    },
    /// ICMP host unreachable, from a router, to a connecting client.
    HostUnreachable {
        to: SocketKey,
    },
    Fin {
        to: SocketKey,
    },
    Rst {
        to: SocketKey,
    },
}

impl Network {
    /// An empty network at time 0.
    pub fn new() -> Network {
        Network::default()
    }

    /// Opens an unbound, unconnected socket on `node`.
    pub fn open(&mut self, node: NodeId) -> SocketKey {
        let socket = Socket { node, state: State::Open };
        match self.free.pop() {
            Some(index) => {
                let slot = &mut self.slots[index as usize];
                slot.socket = Some(socket);
                SocketKey { index, generation: slot.generation }
            }
            None => {
                let index = self.slots.len() as u32;
                self.slots.push(Slot { socket: Some(socket), ..Slot::default() });
                SocketKey { index, generation: 0 }
            }
        }
    }

    /// True if `key` names an open socket.
    pub fn is_open(&self, key: SocketKey) -> bool {
        self.socket(key).is_some()
    }

    /// The node that owns `key`'s socket.
    pub fn node_of(&self, key: SocketKey) -> Option<NodeId> {
        self.socket(key).map(|socket| socket.node)
    }

    /// The socket's local address, once it is bound, connecting or connected.
    pub fn local_address(&self, key: SocketKey) -> Option<SocketAddr> {
        match &self.socket(key)?.state {
            State::Listening(listener) => Some(listener.address),
            State::Connecting { local } => Some(*local),
            State::Connected(endpoint) => Some(endpoint.local),
            State::Open | State::Failed(_) => None,
        }
    }

    /// The connected peer's address.
    pub fn peer_address(&self, key: SocketKey) -> Option<SocketAddr> {
        match &self.socket(key)?.state {
            State::Connected(endpoint) => Some(endpoint.remote),
            _ => None,
        }
    }

    /// Binds and listens. Port 0 takes the next free ephemeral port.
    /// `AddressInUse` if a listener holds the port on the same address, or
    /// on a wildcard address covering it (see `listener_conflict`).
    pub fn listen(
        &mut self,
        key: SocketKey,
        address: SocketAddr,
        backlog: u32,
    ) -> Result<SocketAddr, ListenError> {
        match &self.socket(key).ok_or(ListenError::BadFileDescriptor)?.state {
            State::Open => {}
            // A connect bound the socket to a local port, even one that
            // failed: Linux's bind then says EINVAL.
            _ => return Err(ListenError::AlreadyBound),
        }
        let mut address = address;
        if address.port() == 0 {
            let port = self.free_listen_port(address).ok_or(ListenError::AddressInUse)?;
            address.set_port(port);
        } else if self.listener_conflict(address) {
            return Err(ListenError::AddressInUse);
        }
        let backlog = usize::try_from(backlog).unwrap_or(usize::MAX).min(SOMAXCONN);
        if let Some(socket) = self.socket_mut(key) {
            socket.state = State::Listening(Listener { address, backlog, queue: VecDeque::new() });
        }
        self.listeners.push((address, key));
        Ok(address)
    }

    /// Starts a handshake with whoever listens at `address`; its outcome is
    /// read with [`Network::poll_connect`]. The `refuse` fault is drawn here.
    pub fn connect(
        &mut self,
        key: SocketKey,
        address: SocketAddr,
        now: u64,
        prng: &mut Prng,
        faults: &NetworkFaults,
    ) -> Result<(), Errno> {
        self.observe(now);
        let node = match self.socket(key) {
            None => return Err(Errno::EBADF),
            Some(Socket { state: State::Connecting { .. }, .. }) => {
                return Err(Errno::EALREADY);
            }
            Some(Socket { state: State::Connected(_) | State::Listening(_), .. }) => {
                return Err(Errno::EISCONN);
            }
            Some(socket) => socket.node,
        };
        let local = SocketAddr::new(address.ip(), self.next_port());
        let refuse = prng.chance(faults.refuse);
        let delay = faults.draw_delay(prng);
        let unreachable = prng.chance(faults.unreachable);
        if let Some(socket) = self.socket_mut(key) {
            socket.state = State::Connecting { local };
        }
        let retransmit = faults.rto_ns > 0;
        let syn = Syn {
            client: key,
            client_address: local,
            address,
            refuse,
            unreachable,
            retransmit,
            tries: 0,
        };
        let syn = Kind::Syn(syn);
        self.send_segment(key.index, node, None, delay, syn);
        Ok(())
    }

    /// The outcome of the handshake `connect` started: `None` while it is
    /// under way (or held by a partition), `Some(Ok(()))` once connected.
    pub fn poll_connect(&mut self, key: SocketKey) -> Option<Result<(), Errno>> {
        let Some(socket) = self.socket(key) else {
            return Some(Err(Errno::EBADF));
        };
        match &socket.state {
            State::Connecting { .. } => None,
            State::Connected(_) => Some(Ok(())),
            State::Failed(error) => Some(Err(*error)),
            // Nothing was started: not a state a caller can wait out.
            State::Open | State::Listening(_) => Some(Err(Errno::ENOTCONN)),
        }
    }

    /// The next established connection waiting on `listener`, or `None`.
    pub fn poll_accept(&mut self, listener: SocketKey) -> Option<Result<SocketKey, Errno>> {
        let Some(socket) = self.socket_mut(listener) else {
            return Some(Err(Errno::EBADF));
        };
        match &mut socket.state {
            State::Listening(listening) => listening.queue.pop_front().map(Ok),
            _ => Some(Err(Errno::EINVAL)),
        }
    }

    /// Shuts down one or both halves. `Write` sends FIN once: the peer reads
    /// what was sent, then end of stream; later sends fail with
    /// `BrokenPipe`. `Read` makes recv return end of stream once the
    /// buffered data is read.
    pub fn shutdown(&mut self, key: SocketKey, how: Shutdown) -> Result<(), ShutdownError> {
        let socket = self.socket_mut(key).ok_or(ShutdownError::BadFileDescriptor)?;
        let node = socket.node;
        let endpoint = match &mut socket.state {
            State::Connected(endpoint) if !endpoint.reset => endpoint,
            // Linux: shutting a listener's write half does nothing; its read
            // half stops the listener (its backlog is reset) and leaves an
            // unconnected socket.
            State::Listening(_) => {
                if how != Shutdown::Write {
                    self.stop_listening(key);
                    self.touch(key);
                }
                return Ok(());
            }
            _ => return Err(ShutdownError::NotConnected),
        };
        // Both sides have sent FIN: the connection is over (TIME_WAIT or
        // closed), and Linux and the BSDs answer ENOTCONN.
        if endpoint.write_shut && endpoint.fin_received {
            return Err(ShutdownError::NotConnected);
        }
        if matches!(how, Shutdown::Read | Shutdown::Both) {
            endpoint.read_shut = true;
        }
        if matches!(how, Shutdown::Write | Shutdown::Both) && !endpoint.write_shut {
            endpoint.write_shut = true;
            let (peer, peer_node, delay) = (endpoint.peer, endpoint.peer_node, endpoint.path_delay);
            self.send_segment(key.index, node, Some(peer_node), delay, Kind::Fin { to: peer });
        }
        // Its own waiting recv (end of stream) and send (EPIPE) can run.
        self.touch(key);
        Ok(())
    }

    fn socket(&self, key: SocketKey) -> Option<&Socket> {
        let slot = self.slots.get(key.index as usize)?;
        if slot.generation != key.generation {
            return None;
        }
        slot.socket.as_ref()
    }

    fn socket_mut(&mut self, key: SocketKey) -> Option<&mut Socket> {
        let slot = self.slots.get_mut(key.index as usize)?;
        if slot.generation != key.generation {
            return None;
        }
        slot.socket.as_mut()
    }

    /// Removes a socket and frees its slot, making `key` stale.
    fn take(&mut self, key: SocketKey) -> Option<Socket> {
        let slot = self.slots.get_mut(key.index as usize)?;
        if slot.generation != key.generation {
            return None;
        }
        let socket = slot.socket.take()?;
        slot.generation = slot.generation.wrapping_add(1);
        self.free.push(key.index);
        Some(socket)
    }
}
