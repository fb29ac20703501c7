use std::net::SocketAddr;

use proptest::prelude::*;

use super::readiness::Interest;
use super::*;
use crate::sim::prng::Ratio;

mod readiness;

const CLIENT: NodeId = NodeId(0);
const SERVER: NodeId = NodeId(1);

fn addr(text: &str) -> SocketAddr {
    text.parse().expect("test address")
}

/// A network, its clock and its randomness, driven the way `SimIO` will.
struct Harness {
    net: Network,
    prng: Prng,
    faults: NetworkFaults,
    now: u64,
}

impl Harness {
    fn new(seed: u64, faults: NetworkFaults) -> Harness {
        Harness { net: Network::new(), prng: Prng::from_seed(seed), faults, now: 0 }
    }

    /// Delivers everything in flight (not what a partition holds).
    fn settle(&mut self) {
        while let Some(arrival) = self.net.next_arrival() {
            self.now = self.now.max(arrival);
            self.net.advance(self.now);
        }
    }

    fn listener(&mut self, node: NodeId, address: &str, backlog: u32) -> (SocketKey, SocketAddr) {
        let key = self.net.open(node);
        let bound = self.net.listen(key, addr(address), backlog).expect("listen");
        (key, bound)
    }

    fn connect(&mut self, node: NodeId, to: SocketAddr) -> SocketKey {
        let key = self.net.open(node);
        self.net.connect(key, to, self.now, &mut self.prng, &self.faults).expect("connect starts");
        key
    }

    /// A connected (client, server) pair.
    fn pair(&mut self) -> (SocketKey, SocketKey) {
        let (listener, bound) = self.listener(SERVER, "10.0.0.2:7000", 16);
        let client = self.connect(CLIENT, bound);
        self.settle();
        assert_eq!(self.net.poll_connect(client), Some(Ok(())));
        let server = self.net.poll_accept(listener).expect("accepted").expect("no error");
        (client, server)
    }

    fn send(&mut self, key: SocketKey, data: &[u8]) -> Option<Result<usize, Errno>> {
        self.net.poll_send(key, data, self.now, &mut self.prng, &self.faults)
    }

    fn recv(&mut self, key: SocketKey, buf: &mut [u8]) -> Option<Result<usize, Errno>> {
        self.net.poll_recv(key, buf, &mut self.prng, &self.faults)
    }

    /// Reads until end of stream, error, or nothing more can arrive.
    fn drain(&mut self, key: SocketKey) -> (Vec<u8>, Option<Result<usize, Errno>>) {
        let mut out = Vec::new();
        let mut buf = [0u8; 1000];
        loop {
            match self.recv(key, &mut buf) {
                Some(Ok(0)) => return (out, Some(Ok(0))),
                Some(Ok(n)) => out.extend_from_slice(&buf[..n]),
                Some(Err(error)) => return (out, Some(Err(error))),
                None if self.net.next_arrival().is_some() => self.settle(),
                None => return (out, None),
            }
        }
    }
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

#[test]
fn handshake_completes_after_the_delay() {
    let mut h = Harness::new(1, NetworkFaults::none());
    let (listener, bound) = h.listener(SERVER, "10.0.0.2:7000", 4);
    assert_eq!(bound, addr("10.0.0.2:7000"));
    let client = h.connect(CLIENT, bound);
    assert_eq!(h.net.poll_connect(client), None);
    assert_eq!(h.net.poll_accept(listener), None);
    assert_eq!(h.net.connect(client, bound, 0, &mut h.prng, &h.faults), Err(Errno::EALREADY));
    // SYN lands after one delay: the server side is established first.
    h.net.advance(10_000);
    let server = h.net.poll_accept(listener).expect("queued").expect("ok");
    assert_eq!(h.net.poll_connect(client), None);
    // SYN-ACK lands after the second.
    assert_eq!(h.net.next_arrival(), Some(20_000));
    h.net.advance(20_000);
    assert_eq!(h.net.poll_connect(client), Some(Ok(())));
    assert_eq!(h.net.peer_address(server), h.net.local_address(client));
    assert_eq!(h.net.peer_address(client), Some(bound));
    assert_eq!(h.net.node_of(server), Some(SERVER));
    assert_eq!(h.net.connect(client, bound, 0, &mut h.prng, &h.faults), Err(Errno::EISCONN));
}

#[test]
fn connect_without_listener_or_with_refuse_fault_is_refused() {
    let mut h = Harness::new(2, NetworkFaults::none());
    let client = h.connect(CLIENT, addr("10.0.0.2:9"));
    h.settle();
    assert_eq!(h.net.poll_connect(client), Some(Err(Errno::ECONNREFUSED)));
    let mut buf = [0u8; 4];
    // Linux shuts a refused socket down: recv is end of stream, send EPIPE.
    assert_eq!(h.recv(client, &mut buf), Some(Ok(0)));
    assert_eq!(h.send(client, b"x"), Some(Err(Errno::EPIPE)));

    let (listener, bound) = h.listener(SERVER, "10.0.0.2:9", 4);
    h.faults.refuse = Ratio::ONE;
    let refused = h.connect(CLIENT, bound);
    h.settle();
    assert_eq!(h.net.poll_connect(refused), Some(Err(Errno::ECONNREFUSED)));
    assert_eq!(h.net.poll_accept(listener), None);

    // The failed socket may try again, and the wildcard listener answers.
    h.faults.refuse = Ratio::ZERO;
    let (_, wildcard) = h.listener(SERVER, "0.0.0.0:10", 4);
    h.net.connect(refused, addr("10.0.0.7:10"), h.now, &mut h.prng, &h.faults).expect("retry");
    h.settle();
    assert_eq!(wildcard.port(), 10);
    assert_eq!(h.net.poll_connect(refused), Some(Ok(())));
}

#[test]
fn listen_ephemeral_port_and_address_in_use() {
    let mut h = Harness::new(3, NetworkFaults::none());
    let (_, first) = h.listener(SERVER, "10.0.0.2:0", 1);
    let (_, second) = h.listener(SERVER, "10.0.0.2:0", 1);
    assert!(first.port() >= EPHEMERAL_FIRST && second.port() >= EPHEMERAL_FIRST);
    assert_ne!(first.port(), second.port());
    let other = h.net.open(SERVER);
    assert_eq!(h.net.listen(other, first, 1), Err(ListenError::AddressInUse));
    assert_eq!(
        h.net.listen(other, SocketAddr::new(addr("0.0.0.0:1").ip(), first.port()), 1),
        Err(ListenError::AddressInUse)
    );
    // Another address on the same port is free.
    assert!(h.net.listen(other, SocketAddr::new(addr("10.0.0.3:1").ip(), first.port()), 1).is_ok());
    assert_eq!(h.net.listen(other, addr("10.0.0.4:1"), 1), Err(ListenError::AlreadyBound));
}

#[test]
fn data_arrives_in_order_across_partial_sends_and_receives() {
    let faults = NetworkFaults {
        delay_jitter_ns: 50_000,
        delay_tail: Ratio::new(1, 10).unwrap(),
        delay_tail_ns: 1_000_000,
        partial_send: Ratio::new(1, 2).unwrap(),
        partial_recv: Ratio::new(1, 2).unwrap(),
        ..NetworkFaults::none()
    };
    let mut h = Harness::new(4, faults);
    let (client, server) = h.pair();
    let data = pattern(300_000);
    let mut sent = 0;
    let mut received = Vec::new();
    let mut buf = [0u8; 7_000];
    let mut partial_sends = 0;
    while received.len() < data.len() {
        let chunk = &data[sent..(sent + 20_000).min(data.len())];
        if !chunk.is_empty()
            && let Some(result) = h.send(client, chunk)
        {
            let n = result.expect("no reset configured");
            partial_sends += usize::from(n < chunk.len());
            sent += n;
        }
        if let Some(arrival) = h.net.next_arrival() {
            h.now = h.now.max(arrival);
            h.net.advance(h.now);
        }
        while let Some(result) = h.recv(server, &mut buf) {
            let n = result.expect("no reset configured");
            assert_ne!(n, 0, "no end of stream before close");
            received.extend_from_slice(&buf[..n]);
        }
    }
    assert!(partial_sends > 0);
    assert_eq!(received, data);
}

#[test]
fn send_window_bounds_bytes_in_flight() {
    let mut h = Harness::new(5, NetworkFaults::none());
    let (client, server) = h.pair();
    let data = pattern(SEND_WINDOW + 10);
    assert_eq!(h.send(client, &data), Some(Ok(SEND_WINDOW)));
    assert_eq!(h.send(client, &data), None);
    h.settle();
    assert_eq!(h.send(client, &data), None, "delivered but unread still counts");
    let mut buf = [0u8; 100];
    assert_eq!(h.recv(server, &mut buf), Some(Ok(100)));
    assert_eq!(h.send(client, &data), Some(Ok(100)));
}

#[test]
fn close_delivers_remaining_data_then_end_of_stream() {
    let mut h = Harness::new(6, NetworkFaults::none());
    let (client, server) = h.pair();
    let data = pattern(5_000);
    assert_eq!(h.send(client, &data), Some(Ok(5_000)));
    h.net.close(client).expect("close");
    assert_eq!(h.net.close(client), Err(CloseError::BadFileDescriptor));
    let (received, end) = h.drain(server);
    assert_eq!(received, data);
    assert_eq!(end, Some(Ok(0)));
    // Writing to the closed peer is answered with RST; after the peer's
    // FIN (CLOSE_WAIT) Linux reports that reset as EPIPE, and recv stays
    // at end of stream.
    assert_eq!(h.send(server, b"late"), Some(Ok(4)));
    h.settle();
    assert_eq!(h.send(server, b"again"), Some(Err(Errno::EPIPE)));
    assert_eq!(h.send(server, b"again"), Some(Err(Errno::EPIPE)));
    assert_eq!(h.recv(server, &mut [0u8; 4]), Some(Ok(0)));
}

#[test]
fn shutdown_write_half_closes() {
    let mut h = Harness::new(7, NetworkFaults::none());
    let (client, server) = h.pair();
    assert_eq!(h.send(client, b"request"), Some(Ok(7)));
    h.net.shutdown(client, Shutdown::Write).expect("shutdown");
    assert_eq!(h.send(client, b"more"), Some(Err(Errno::EPIPE)));
    let (received, end) = h.drain(server);
    assert_eq!((received.as_slice(), end), (&b"request"[..], Some(Ok(0))));
    // The other half still works.
    assert_eq!(h.send(server, b"reply"), Some(Ok(5)));
    let (reply, end) = h.drain(client);
    assert_eq!((reply.as_slice(), end), (&b"reply"[..], None));
    h.net.shutdown(client, Shutdown::Read).expect("shutdown read");
    assert_eq!(h.drain(client).1, Some(Ok(0)));
    let stray = h.net.open(CLIENT);
    assert_eq!(h.net.shutdown(stray, Shutdown::Both), Err(ShutdownError::NotConnected));
}

#[test]
fn reset_fault_resets_both_ends() {
    let mut h = Harness::new(8, NetworkFaults::none());
    let (client, server) = h.pair();
    assert_eq!(h.send(client, b"before"), Some(Ok(6)));
    h.faults.reset = Ratio::ONE;
    assert_eq!(h.send(client, b"boom"), Some(Err(Errno::ECONNRESET)));
    h.faults.reset = Ratio::ZERO;
    assert_eq!(h.send(client, b"after"), Some(Err(Errno::EPIPE)));
    // The peer reads what arrived before the RST, then the reset, then EOF.
    let (received, end) = h.drain(server);
    assert_eq!(received, b"before");
    assert_eq!(end, Some(Err(Errno::ECONNRESET)));
    let mut buf = [0u8; 8];
    assert_eq!(h.recv(server, &mut buf), Some(Ok(0)));
    assert_eq!(h.send(server, b"x"), Some(Err(Errno::EPIPE)));
}

#[test]
fn closing_with_unread_data_resets_the_peer() {
    let mut h = Harness::new(9, NetworkFaults::none());
    let (client, server) = h.pair();
    assert_eq!(h.send(client, b"unread"), Some(Ok(6)));
    h.settle();
    h.net.close(server).expect("close");
    h.settle();
    let mut buf = [0u8; 8];
    assert_eq!(h.recv(client, &mut buf), Some(Err(Errno::ECONNRESET)));
}

#[test]
fn partition_holds_segments_until_healed() {
    let mut h = Harness::new(10, NetworkFaults::none());
    let (client, server) = h.pair();
    h.net.partition(CLIENT, SERVER);
    assert!(h.net.is_partitioned(SERVER, CLIENT));
    assert_eq!(h.send(client, b"one"), Some(Ok(3)));
    assert_eq!(h.send(client, b"two"), Some(Ok(3)));
    // A connect across the cut hangs rather than failing.
    let (_, bound) = h.listener(SERVER, "10.0.0.2:7001", 4);
    let hanging = h.connect(CLIENT, bound);
    h.now += 1_000_000_000;
    h.net.advance(h.now);
    assert_eq!(h.net.next_arrival(), None);
    assert_eq!(h.net.segments_pending(), 3);
    assert_eq!(h.net.poll_connect(hanging), None);
    let mut buf = [0u8; 8];
    assert_eq!(h.recv(server, &mut buf), None);
    h.net.heal(CLIENT, SERVER);
    assert!(h.net.next_arrival().is_some_and(|t| t <= h.now), "released segments are due");
    let (received, _) = h.drain(server);
    assert_eq!(received, b"onetwo");
    assert_eq!(h.net.poll_connect(hanging), Some(Ok(())));
    // heal_all clears every cut.
    h.net.partition(CLIENT, SERVER);
    h.net.heal_all();
    assert!(!h.net.is_partitioned(CLIENT, SERVER));
}

#[test]
fn crash_resets_peers_and_removes_listeners() {
    let mut h = Harness::new(11, NetworkFaults::none());
    let (listener, bound) = h.listener(SERVER, "10.0.0.2:7000", 16);
    let client = h.connect(CLIENT, bound);
    let waiting = h.connect(CLIENT, bound);
    h.settle();
    let server = h.net.poll_accept(listener).expect("queued").expect("ok");
    assert_eq!(h.net.poll_connect(waiting), Some(Ok(())));
    h.net.crash_node(SERVER, false);
    assert!(!h.net.is_open(server) && !h.net.is_open(listener));
    assert_eq!(h.net.poll_accept(listener), Some(Err(Errno::EBADF)));
    let mut buf = [0u8; 4];
    assert_eq!(h.recv(client, &mut buf), None, "the reset has not arrived yet");
    h.settle();
    assert_eq!(h.recv(client, &mut buf), Some(Err(Errno::ECONNRESET)));
    assert_eq!(h.recv(waiting, &mut buf), Some(Err(Errno::ECONNRESET)));
    let again = h.connect(CLIENT, bound);
    h.settle();
    assert_eq!(h.net.poll_connect(again), Some(Err(Errno::ECONNREFUSED)));
}

#[test]
fn full_backlog_drops_syns_until_accepted_or_timed_out() {
    let mut h = Harness::new(12, NetworkFaults::none());
    // As on Linux, a backlog of 1 holds two connections.
    let (listener, bound) = h.listener(SERVER, "10.0.0.2:7000", 1);
    let first = h.connect(CLIENT, bound);
    let second = h.connect(CLIENT, bound);
    h.now += 1_000_000;
    h.net.advance(h.now);
    assert_eq!(h.net.poll_connect(first), Some(Ok(())));
    assert_eq!(h.net.poll_connect(second), Some(Ok(())));
    // The third SYN is dropped, and sent again a second later.
    let third = h.connect(CLIENT, bound);
    h.now += 500_000_000;
    h.net.advance(h.now);
    assert_eq!(h.net.poll_connect(third), None);
    assert!(matches!(h.net.poll_accept(listener), Some(Ok(_))));
    h.now += 1_000_000_000;
    h.net.advance(h.now);
    assert_eq!(h.net.poll_connect(third), Some(Ok(())));
    // One never accepted times out after the last retransmission.
    let fourth = h.connect(CLIENT, bound);
    h.now += 126_000_000_000;
    h.net.advance(h.now);
    assert_eq!(h.net.poll_connect(fourth), None);
    h.settle();
    assert_eq!(h.net.poll_connect(fourth), Some(Err(Errno::ETIMEDOUT)));
    assert!(h.now >= 127_000_000_000, "gave up at {} ns", h.now);
}

#[test]
fn stale_keys_are_detected_after_reuse() {
    let mut h = Harness::new(13, NetworkFaults::none());
    let old = h.net.open(CLIENT);
    h.net.close(old).expect("close");
    let new = h.net.open(CLIENT);
    assert_ne!(old, new);
    assert!(h.net.is_open(new) && !h.net.is_open(old));
    let mut buf = [0u8; 4];
    assert_eq!(h.recv(old, &mut buf), Some(Err(Errno::EBADF)));
    assert_eq!(h.send(old, b"x"), Some(Err(Errno::EBADF)));
    assert_eq!(h.net.poll_connect(old), Some(Err(Errno::EBADF)));
    assert_eq!(h.net.listen(old, addr("10.0.0.1:1"), 1), Err(ListenError::BadFileDescriptor));
    assert_eq!(h.net.shutdown(old, Shutdown::Both), Err(ShutdownError::BadFileDescriptor));
    assert_eq!(h.recv(new, &mut buf), Some(Err(Errno::ENOTCONN)));
    assert_eq!(h.net.poll_accept(new), Some(Err(Errno::EINVAL)));
}

/// Runs a seeded workload of connections, transfers, closes, partitions and
/// crashes and returns what every step observed.
fn workload_log(seed: u64) -> Vec<String> {
    let mut setup = Prng::from_seed(seed);
    let faults =
        NetworkFaults { reset: Ratio::new(1, 50).unwrap(), ..NetworkFaults::swarm(&mut setup) };
    let mut h = Harness::new(seed, faults);
    let mut log = vec![faults.to_string()];
    let (listener, bound) = h.listener(SERVER, "10.0.0.2:7000", 8);
    let mut sockets: Vec<SocketKey> = Vec::new();
    let mut buf = [0u8; 512];
    let data = pattern(2_000);
    for step in 0..400 {
        match setup.below(10) {
            0 => sockets.push(h.connect(CLIENT, bound)),
            1 => {
                if let Some(Ok(key)) = h.net.poll_accept(listener) {
                    sockets.push(key);
                }
            }
            2..=4 if !sockets.is_empty() => {
                let key = sockets[setup.index(sockets.len())];
                let len = setup.range_inclusive(1, data.len() as u64) as usize;
                log.push(format!("{step} send {key:?} {:?}", h.send(key, &data[..len])));
            }
            5..=7 if !sockets.is_empty() => {
                let key = sockets[setup.index(sockets.len())];
                log.push(format!("{step} recv {key:?} {:?}", h.recv(key, &mut buf)));
            }
            8 if !sockets.is_empty() => {
                let key = sockets.swap_remove(setup.index(sockets.len()));
                log.push(format!("{step} close {key:?} {:?}", h.net.close(key)));
            }
            9 => match setup.below(3) {
                0 => h.net.partition(CLIENT, SERVER),
                1 => h.net.heal_all(),
                _ => {}
            },
            _ => {}
        }
        h.now += setup.below(200_000);
        h.net.advance(h.now);
        log.push(format!("{step} t={} next={:?}", h.now, h.net.next_arrival()));
    }
    log
}

#[test]
fn same_seed_same_events_different_seed_different_events() {
    let a = workload_log(42);
    assert_eq!(a, workload_log(42));
    assert_ne!(a, workload_log(43));
}

#[test]
fn swarm_configurations_differ_and_print() {
    let mut prng = Prng::from_seed(5);
    let configs: Vec<NetworkFaults> = (0..8).map(|_| NetworkFaults::swarm(&mut prng)).collect();
    assert!(configs.windows(2).any(|pair| pair[0] != pair[1]));
    assert!(configs[0].to_string().contains("partial_send="));
    // No jitter and no tail: the delay is the floor and draws nothing.
    let mut prng = Prng::from_seed(6);
    let before = prng.clone();
    assert_eq!(NetworkFaults::none().draw_delay(&mut prng), 10_000);
    assert_eq!(prng, before);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn received_stream_equals_sent_stream(
        seed in any::<u64>(),
        len in 1usize..40_000,
        send_chunks in proptest::collection::vec(1usize..9_000, 1..16),
        recv_chunks in proptest::collection::vec(1usize..9_000, 1..16),
        partial_send in 0u32..=4,
        partial_recv in 0u32..=4,
        jitter in 0u64..1_000_000,
    ) {
        let faults = NetworkFaults {
            delay_jitter_ns: jitter,
            partial_send: Ratio::new(partial_send, 4).unwrap(),
            partial_recv: Ratio::new(partial_recv, 4).unwrap(),
            ..NetworkFaults::none()
        };
        let mut h = Harness::new(seed, faults);
        let (client, server) = h.pair();
        let data = pattern(len);
        let mut sent = 0;
        let mut received = Vec::new();
        let mut buf = vec![0u8; 9_000];
        let mut round = 0usize;
        while received.len() < len {
            let chunk = send_chunks[round % send_chunks.len()];
            if sent < len
                && let Some(result) = h.send(client, &data[sent..(sent + chunk).min(len)])
            {
                sent += result.expect("no reset configured");
                if sent == len {
                    h.net.close(client).expect("close");
                }
            }
            if let Some(arrival) = h.net.next_arrival() {
                h.now = h.now.max(arrival);
                h.net.advance(h.now);
            }
            let want = recv_chunks[round % recv_chunks.len()];
            if let Some(result) = h.recv(server, &mut buf[..want]) {
                let n = result.expect("no reset configured");
                prop_assert!(n > 0 || received.len() == len);
                received.extend_from_slice(&buf[..n]);
            }
            round += 1;
            prop_assert!(round < 1_000_000, "no progress");
        }
        prop_assert_eq!(&received, &data);
        prop_assert_eq!(h.drain(server).1, Some(Ok(0)));
    }
}

#[test]
fn client_gone_before_syn_ack_resets_the_server_side() {
    let mut h = Harness::new(14, NetworkFaults::none());
    let (listener, bound) = h.listener(SERVER, "10.0.0.2:7000", 4);
    let client = h.connect(CLIENT, bound);
    h.net.advance(10_000);
    let server = h.net.poll_accept(listener).expect("queued").expect("ok");
    h.net.close(client).expect("close while connecting");
    h.settle();
    let mut buf = [0u8; 4];
    assert_eq!(h.recv(server, &mut buf), Some(Err(Errno::ECONNRESET)));
}

#[test]
fn data_in_flight_to_a_crashed_node_resets_the_sender() {
    let mut h = Harness::new(15, NetworkFaults::none());
    let (client, server) = h.pair();
    assert_eq!(h.send(server, b"reply"), Some(Ok(5)));
    assert_eq!(h.send(client, b"request"), Some(Ok(7)));
    h.net.crash_node(CLIENT, false);
    assert!(!h.net.is_open(client));
    // The request was already on the wire: it still arrives.
    let (received, end) = h.drain(server);
    assert_eq!(received, b"request");
    // The reply found no socket: RST came back; nothing else is pending.
    assert_eq!(end, Some(Err(Errno::ECONNRESET)));
    assert_eq!(h.net.segments_pending(), 0);
}
