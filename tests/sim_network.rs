//! The simulated network through `SimIO`'s `Io` trait: connections between
//! nodes, round trips, refused connects, end of stream, closes that cancel
//! parked operations, partitions, crashes seen as resets, cancellation of
//! a parked recv, and determinism with the network in play.

use std::net::SocketAddr;

use twinio::*;

#[derive(Default)]
struct Ctx {
    accepted: Vec<Result<Fd, AcceptError>>,
    connected: Vec<Result<(), ConnectError>>,
    received: Vec<(u64, Result<Vec<u8>, RecvError>)>,
    sent: Vec<Result<usize, SendError>>,
    closed: Vec<Result<(), CloseError>>,
}

type Sim = SimIO<Ctx>;

fn on_accept(ctx: &mut Ctx, _: &mut Sim, done: AcceptDone) {
    ctx.accepted.push(done.result);
}
fn on_connect(ctx: &mut Ctx, _: &mut Sim, done: ConnectDone) {
    ctx.connected.push(done.result);
}
fn on_recv(ctx: &mut Ctx, _: &mut Sim, done: RecvDone) {
    let result = done.result.map(|n| done.buffer[..n].to_vec());
    ctx.received.push((done.tag, result));
}
fn on_send(ctx: &mut Ctx, _: &mut Sim, done: SendDone) {
    ctx.sent.push(done.result);
}
fn on_close(ctx: &mut Ctx, _: &mut Sim, done: CloseDone) {
    ctx.closed.push(done.result);
}

fn address(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

/// Node 0 listens at `at` (with `backlog`) and accepts once; a new node
/// connects to it. Returns the new node, its socket and the address bound,
/// with node 0 current.
fn connecting(io: &mut Sim, at: &str, backlog: u32) -> (NodeId, Fd, SocketAddr) {
    let listener = io.open_socket(AddressFamily::Ipv4, SocketOptions::default()).unwrap();
    let bound = io.listen(listener, address(at), backlog).unwrap();
    io.accept(listener, 0, on_accept).unwrap();
    let client_node = io.add_node();
    io.set_current_node(client_node).unwrap();
    let client = io.open_socket(AddressFamily::Ipv4, SocketOptions::default()).unwrap();
    io.connect(client, bound, 0, on_connect).unwrap();
    io.set_current_node(NodeId::FIRST).unwrap();
    (client_node, client, bound)
}

/// Node 0 listens at 10.0.0.1:7000; node 1 connects. Returns the server's
/// accepted socket and the client's socket, with node 0 current.
fn connected(io: &mut Sim, ctx: &mut Ctx) -> (NodeId, Fd, Fd) {
    let (client_node, client, bound) = connecting(io, "10.0.0.1:7000", 16);
    assert_eq!(bound, address("10.0.0.1:7000"));
    while ctx.accepted.is_empty() || ctx.connected.is_empty() {
        io.run_once(ctx).unwrap();
    }
    assert_eq!(ctx.connected.pop(), Some(Ok(())));
    let server = ctx.accepted.pop().unwrap().unwrap();
    (client_node, server, client)
}

fn recv_one(io: &mut Sim, ctx: &mut Ctx, fd: Fd, tag: u64) -> Result<Vec<u8>, RecvError> {
    io.recv(fd, Buffer::new(256).unwrap(), .., tag, on_recv).unwrap();
    while ctx.received.is_empty() {
        io.run_once(ctx).unwrap();
    }
    ctx.received.pop().unwrap().1
}

#[test]
fn round_trip_between_two_nodes_and_end_of_stream() {
    let mut io = Sim::new(1, 64, FaultConfig::none());
    let mut ctx = Ctx::default();
    let (client_node, server, client) = connected(&mut io, &mut ctx);
    io.set_current_node(client_node).unwrap();
    let client_address = io.local_address(client).ok();
    io.set_current_node(NodeId::FIRST).unwrap();
    assert!(client_address.is_some());
    assert_eq!(io.peer_address(server).ok(), client_address);

    io.set_current_node(client_node).unwrap();
    io.send(client, Buffer::from_slice(b"hello").unwrap(), .., 0, on_send).unwrap();
    io.set_current_node(NodeId::FIRST).unwrap();
    let start = io.now_ns();
    assert_eq!(recv_one(&mut io, &mut ctx, server, 1), Ok(b"hello".to_vec()));
    assert_eq!(ctx.sent, [Ok(5)]);
    assert_eq!(io.now_ns() - start, 10_000, "one 10 µs hop of virtual time");

    io.send(server, Buffer::from_slice(b"world").unwrap(), .., 0, on_send).unwrap();
    io.set_current_node(client_node).unwrap();
    assert_eq!(recv_one(&mut io, &mut ctx, client, 2), Ok(b"world".to_vec()));
    io.shutdown(client, Shutdown::Write).unwrap();
    io.set_current_node(NodeId::FIRST).unwrap();
    assert_eq!(recv_one(&mut io, &mut ctx, server, 3), Ok(Vec::new()), "end of stream");
}

#[test]
fn refused_connect_and_bad_sockets() {
    let mut io = Sim::new(2, 64, FaultConfig::none());
    let mut ctx = Ctx::default();
    let socket = io.open_socket(AddressFamily::Ipv4, SocketOptions::default()).unwrap();
    io.connect(socket, address("10.9.9.9:1"), 0, on_connect).unwrap();
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(ctx.connected, [Err(ConnectError::ConnectionRefused)]);

    let v6 = io.open_socket(AddressFamily::Ipv6, SocketOptions::default()).unwrap();
    assert_eq!(io.listen(v6, address("10.0.0.1:1"), 1), Err(ListenError::AddressFamilyMismatch));
    assert_eq!(
        io.listen(Fd::from_raw(999), address("10.0.0.1:1"), 1),
        Err(ListenError::BadFileDescriptor)
    );
    assert_eq!(
        io.shutdown(Fd::from_raw(999), Shutdown::Both),
        Err(ShutdownError::BadFileDescriptor)
    );
    assert_eq!(io.shutdown(socket, Shutdown::Both), Err(ShutdownError::NotConnected));
    let dir = io.open_dir(std::path::Path::new("d")).unwrap();
    assert_eq!(io.listen(dir, address("10.0.0.1:1"), 1), Err(ListenError::NotASocket));
    io.recv(dir, Buffer::new(4).unwrap(), .., 9, on_recv).unwrap();
    io.recv(Fd::from_raw(999), Buffer::new(4).unwrap(), .., 10, on_recv).unwrap();
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(ctx.received[0], (9, Err(RecvError::NotASocket)));
    assert_eq!(ctx.received[1], (10, Err(RecvError::BadFileDescriptor)));
    let refused = io.send(socket, Buffer::new(4).unwrap(), 2..2, 0, on_send).unwrap_err();
    assert_eq!(refused.error, SubmitError::EmptyRange);
}

#[test]
fn close_cancels_parked_operations_first() {
    let mut io = Sim::new(3, 64, FaultConfig::none());
    let mut ctx = Ctx::default();
    let (_, server, _) = connected(&mut io, &mut ctx);
    io.recv(server, Buffer::new(8).unwrap(), .., 1, on_recv).unwrap();
    io.tick(&mut ctx).unwrap(); // parked: nothing to read
    assert!(ctx.received.is_empty());
    io.close(server, 0, on_close).unwrap();
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(ctx.received, [(1, Err(RecvError::Canceled))]);
    assert_eq!(ctx.closed, [Ok(())]);
}

#[test]
fn cancel_of_a_parked_recv_leaves_the_data_for_the_next() {
    let mut io = Sim::new(4, 64, FaultConfig::none());
    let mut ctx = Ctx::default();
    let (client_node, server, client) = connected(&mut io, &mut ctx);
    let id = io.recv(server, Buffer::new(8).unwrap(), .., 1, on_recv).unwrap();
    io.tick(&mut ctx).unwrap();
    io.set_current_node(client_node).unwrap();
    io.send(client, Buffer::from_slice(b"x").unwrap(), .., 0, on_send).unwrap();
    io.tick(&mut ctx).unwrap(); // sent; arrives 10 µs later
    io.set_current_node(NodeId::FIRST).unwrap();
    io.cancel(id).unwrap();
    assert_eq!(io.cancel(id), Err(CancelError::AlreadyCanceled));
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(ctx.received.pop(), Some((1, Err(RecvError::Canceled))));
    assert_eq!(recv_one(&mut io, &mut ctx, server, 2), Ok(b"x".to_vec()));
}

#[test]
fn partition_holds_data_until_healed() {
    let mut io = Sim::new(5, 64, FaultConfig::none());
    let mut ctx = Ctx::default();
    let (client_node, server, client) = connected(&mut io, &mut ctx);
    io.partition(NodeId::FIRST, client_node);
    assert!(io.is_partitioned(client_node, NodeId::FIRST));
    io.set_current_node(client_node).unwrap();
    io.send(client, Buffer::from_slice(b"held").unwrap(), .., 0, on_send).unwrap();
    io.set_current_node(NodeId::FIRST).unwrap();
    io.recv(server, Buffer::new(8).unwrap(), .., 1, on_recv).unwrap();
    io.run_for_ns(&mut ctx, 5_000_000_000).unwrap();
    assert!(ctx.received.is_empty(), "nothing crosses a partition");
    io.heal_all();
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(ctx.received, [(1, Ok(b"held".to_vec()))]);
}

#[test]
fn crashed_node_peer_sees_a_reset() {
    let mut io = Sim::new(6, 64, FaultConfig::none());
    let mut ctx = Ctx::default();
    let (client_node, server, client) = connected(&mut io, &mut ctx);
    io.set_current_node(client_node).unwrap();
    io.recv(client, Buffer::new(8).unwrap(), .., 1, on_recv).unwrap();
    io.set_current_node(NodeId::FIRST).unwrap();
    io.tick(&mut ctx).unwrap();
    io.crash_node(NodeId::FIRST).unwrap();
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(ctx.received, [(1, Err(RecvError::ConnectionResetByPeer))]);
    // The dead node's descriptors are gone; after restart it starts afresh.
    io.restart_node(NodeId::FIRST).unwrap();
    io.recv(server, Buffer::new(8).unwrap(), .., 2, on_recv).unwrap();
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(ctx.received[1], (2, Err(RecvError::BadFileDescriptor)));
}

/// Ping-pong of `rounds` messages under swarm faults; returns the trace.
fn ping_pong(seed: u64, rounds: u32) -> (u64, usize) {
    let mut io = Sim::new(seed, 64, FaultConfig::swarm(seed));
    let mut ctx = Ctx::default();
    let (client_node, client, _) = connecting(&mut io, "10.0.0.1:0", 4);
    io.run_for_ns(&mut ctx, 1_000_000_000).unwrap();
    let (Some(Ok(server)), Some(Ok(()))) = (ctx.accepted.pop(), ctx.connected.pop()) else {
        return (io.trace_hash(), 0);
    };
    let mut delivered = 0;
    for round in 0..rounds {
        io.set_current_node(client_node).unwrap();
        let message = Buffer::from_slice(&round.to_le_bytes()).unwrap();
        io.send(client, message, .., u64::from(round), on_send).unwrap();
        io.set_current_node(NodeId::FIRST).unwrap();
        io.recv(server, Buffer::new(4).unwrap(), .., u64::from(round), on_recv).unwrap();
        io.run_for_ns(&mut ctx, 50_000_000).unwrap();
        io.cancel_all();
        io.run_until_done(&mut ctx).unwrap();
        delivered +=
            ctx.received.iter().filter(|(_, r)| matches!(r, Ok(b) if !b.is_empty())).count();
        ctx.received.clear();
    }
    (io.trace_hash(), delivered)
}

#[test]
fn network_runs_are_deterministic() {
    let mut delivered = 0;
    for seed in [1, 2, 3] {
        let run = ping_pong(seed, 20);
        assert_eq!(run, ping_pong(seed, 20), "seed {seed}");
        delivered += run.1;
    }
    assert!(delivered > 0, "messages crossed the network");
    assert_ne!(ping_pong(1, 20).0, ping_pong(2, 20).0);
}

// ---- each network fault, forced by its configuration ----

fn with_network(faults: NetworkFaults) -> Sim {
    Sim::new(7, 64, FaultConfig { network: faults, ..FaultConfig::none() })
}

#[test]
fn refuse_fault_refuses_a_connect_to_a_listener() {
    let mut io = with_network(NetworkFaults { refuse: Ratio::ONE, ..NetworkFaults::none() });
    let mut ctx = Ctx::default();
    let listener = io.open_socket(AddressFamily::Ipv4, SocketOptions::default()).unwrap();
    let bound = io.listen(listener, address("10.0.0.1:80"), 4).unwrap();
    let client = io.open_socket(AddressFamily::Ipv4, SocketOptions::default()).unwrap();
    io.connect(client, bound, 0, on_connect).unwrap();
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(ctx.connected, [Err(ConnectError::ConnectionRefused)]);
}

#[test]
fn reset_fault_resets_on_send_and_the_peer_sees_it() {
    let mut io = Sim::new(8, 64, FaultConfig::none());
    let mut ctx = Ctx::default();
    let (client_node, server, client) = connected(&mut io, &mut ctx);
    io.set_faults(FaultConfig {
        network: NetworkFaults { reset: Ratio::ONE, ..NetworkFaults::none() },
        ..FaultConfig::none()
    });
    io.set_current_node(client_node).unwrap();
    io.send(client, Buffer::from_slice(b"doomed").unwrap(), .., 0, on_send).unwrap();
    io.set_current_node(NodeId::FIRST).unwrap();
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(ctx.sent, [Err(SendError::ConnectionResetByPeer)]);
    assert_eq!(recv_one(&mut io, &mut ctx, server, 1), Err(RecvError::ConnectionResetByPeer));
}

#[test]
fn partial_send_and_partial_recv_faults_shorten_transfers() {
    let mut io = Sim::new(9, 64, FaultConfig::none());
    let mut ctx = Ctx::default();
    let (client_node, server, client) = connected(&mut io, &mut ctx);
    io.set_faults(FaultConfig {
        network: NetworkFaults {
            partial_send: Ratio::ONE,
            partial_recv: Ratio::ONE,
            ..NetworkFaults::none()
        },
        ..FaultConfig::none()
    });
    io.set_current_node(client_node).unwrap();
    io.send(client, Buffer::from_slice(&[7; 100]).unwrap(), .., 0, on_send).unwrap();
    io.set_current_node(NodeId::FIRST).unwrap();
    io.run_until_done(&mut ctx).unwrap();
    let Ok(sent) = ctx.sent[0] else { panic!("{:?}", ctx.sent) };
    // This seed draws a send of more than one byte, so the recv can be short.
    assert!((2..100).contains(&sent), "short send: {sent}");
    let got = recv_one(&mut io, &mut ctx, server, 1).unwrap();
    assert!(!got.is_empty() && got.len() < sent, "short recv: {} of {sent}", got.len());
}

#[test]
fn network_delay_is_virtual_time() {
    let delay = NetworkFaults { delay_min_ns: 3_000_000, ..NetworkFaults::none() };
    let mut io = with_network(delay);
    let mut ctx = Ctx::default();
    let start = io.now_ns();
    let (_, _, _) = connected(&mut io, &mut ctx);
    // SYN one way, then the client is connected by the SYN-ACK coming back.
    assert_eq!(io.now_ns() - start, 6_000_000);
}
