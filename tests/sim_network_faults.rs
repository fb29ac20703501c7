//! The node and link faults of the simulated network (fault model v2):
//! power-off crashes, the retransmission timeout, one-way partitions,
//! unreachable hosts and per-link bandwidth. For each: it fires, its effect
//! is the documented one, and a run with it replays from its seed.

use std::net::{IpAddr, SocketAddr};

use twinio::*;

const SECOND: u64 = 1_000_000_000;

/// A recv's tag, completion time and outcome.
type Received = (u64, u64, Result<Vec<u8>, RecvError>);
/// A send's tag and outcome.
type Sent = (u64, Result<usize, SendError>);

#[derive(Default)]
struct Ctx {
    accepted: Vec<Result<Fd, AcceptError>>,
    connected: Vec<(u64, Result<(), ConnectError>)>,
    received: Vec<Received>,
    sent: Vec<Sent>,
}

type Sim = SimIO<Ctx>;

fn on_accept(ctx: &mut Ctx, _: &mut Sim, done: AcceptDone) {
    ctx.accepted.push(done.result);
}
fn on_connect(ctx: &mut Ctx, io: &mut Sim, done: ConnectDone) {
    ctx.connected.push((io.now_ns(), done.result));
}
fn on_recv(ctx: &mut Ctx, io: &mut Sim, done: RecvDone) {
    let result = done.result.map(|n| done.buffer[..n].to_vec());
    ctx.received.push((done.tag, io.now_ns(), result));
}
fn on_send(ctx: &mut Ctx, _: &mut Sim, done: SendDone) {
    ctx.sent.push((done.tag, done.result));
}

fn address(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

fn socket(io: &mut Sim) -> Fd {
    io.open_socket(AddressFamily::Ipv4, SocketOptions::default()).unwrap()
}

fn sim(seed: u64, network: NetworkFaults) -> Sim {
    Sim::new(seed, 64, FaultConfig { network, ..FaultConfig::none() })
}

const SERVER: NodeId = NodeId::FIRST;
const SERVER_ADDRESS: &str = "10.0.0.1:7000";

/// Node 0 listens at `SERVER_ADDRESS`; a new node connects. Returns the
/// client node, the server's accepted socket and the client's socket.
fn connected(io: &mut Sim, ctx: &mut Ctx) -> (NodeId, Fd, Fd) {
    io.set_current_node(SERVER).unwrap();
    let listener = socket(io);
    let bound = io.listen(listener, address(SERVER_ADDRESS), 16).unwrap();
    io.accept(listener, 0, on_accept).unwrap();
    let client_node = io.add_node();
    io.set_current_node(client_node).unwrap();
    let client = socket(io);
    io.connect(client, bound, 0, on_connect).unwrap();
    while ctx.accepted.is_empty() || ctx.connected.is_empty() {
        io.run_once(ctx).unwrap();
    }
    assert_eq!(ctx.connected.pop().map(|c| c.1), Some(Ok(())));
    let server = ctx.accepted.pop().unwrap().unwrap();
    (client_node, server, client)
}

fn send(io: &mut Sim, node: NodeId, fd: Fd, data: &[u8], tag: u64) {
    io.set_current_node(node).unwrap();
    io.send(fd, Buffer::from_slice(data).unwrap(), .., tag, on_send).unwrap();
}

fn recv(io: &mut Sim, node: NodeId, fd: Fd, len: usize, tag: u64) {
    io.set_current_node(node).unwrap();
    io.recv(fd, Buffer::new(len).unwrap(), .., tag, on_recv).unwrap();
}

fn received(ctx: &Ctx, tag: u64) -> Option<&Received> {
    ctx.received.iter().find(|r| r.0 == tag)
}

// ---- 1. a crash as power-off ----

/// The server node loses power under a connection with data in flight.
/// Returns the client's recv (time, result), the server's silence window,
/// and the trace hash.
fn power_off_run(seed: u64) -> (u64, Result<Vec<u8>, RecvError>, bool, u64) {
    let rto = 2 * SECOND;
    let faults =
        NetworkFaults { power_off_crash: Ratio::ONE, rto_ns: rto, ..NetworkFaults::none() };
    let mut io = sim(seed, faults);
    let mut ctx = Ctx::default();
    let (client_node, _server, client) = connected(&mut io, &mut ctx);
    recv(&mut io, client_node, client, 16, 1);
    io.tick(&mut ctx).unwrap();
    io.crash_node(SERVER).unwrap();
    assert!(!io.is_partitioned(SERVER, client_node), "a power-off is not a partition");
    let crashed_at = io.now_ns();
    send(&mut io, client_node, client, b"into the void", 2);
    io.run_for_ns(&mut ctx, SECOND).unwrap();
    let silent = ctx.received.is_empty() && ctx.sent == [(2, Ok(13))];
    io.run_until_done(&mut ctx).unwrap();
    let (_, at, result) = received(&ctx, 1).cloned().expect("the recv completed");
    (at - crashed_at, result, silent, io.trace_hash())
}

#[test]
fn power_off_sends_no_reset_and_the_peer_times_out() {
    let (after, result, silent, hash) = power_off_run(11);
    assert!(silent, "no RST: the peer's send is buffered, its recv waits");
    assert_eq!(result, Err(RecvError::ConnectionTimedOut));
    // The timer runs from when the held data came due (one 10 µs hop).
    assert_eq!(after, 2 * SECOND + 10_000, "the retransmission timeout, not before");
    assert_eq!(power_off_run(11), (after, result, silent, hash), "replays from its seed");
}

#[test]
fn a_process_crash_still_resets() {
    let faults = NetworkFaults { rto_ns: 2 * SECOND, ..NetworkFaults::none() };
    let mut io = sim(12, faults);
    let mut ctx = Ctx::default();
    let (client_node, _, client) = connected(&mut io, &mut ctx);
    recv(&mut io, client_node, client, 16, 1);
    io.tick(&mut ctx).unwrap();
    io.crash_node(SERVER).unwrap();
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(received(&ctx, 1).unwrap().2, Err(RecvError::ConnectionResetByPeer));
}

/// Connects to a powered-off node's address; it restarts at `restart_at`
/// (if any) and listens again. Returns the connect's (time since the
/// crash, result) and the trace hash.
fn connect_to_powered_off(seed: u64, restart_at: Option<u64>) -> (u64, Connected, u64) {
    let faults = NetworkFaults { power_off_crash: Ratio::ONE, ..NetworkFaults::none() };
    let mut io = sim(seed, faults);
    let mut ctx = Ctx::default();
    let listener = socket(&mut io);
    io.listen(listener, address(SERVER_ADDRESS), 4).unwrap();
    let client_node = io.add_node();
    io.crash_node(SERVER).unwrap();
    let crashed_at = io.now_ns();
    io.set_current_node(client_node).unwrap();
    let client = socket(&mut io);
    io.connect(client, address(SERVER_ADDRESS), 0, on_connect).unwrap();
    if let Some(at) = restart_at {
        io.run_for_ns(&mut ctx, at).unwrap();
        io.restart_node(SERVER).unwrap();
        io.set_current_node(SERVER).unwrap();
        let listener = socket(&mut io);
        io.listen(listener, address(SERVER_ADDRESS), 4).unwrap();
        io.set_current_node(client_node).unwrap();
    }
    io.run_until_done(&mut ctx).unwrap();
    let (at, result) = ctx.connected.pop().expect("the connect completed");
    (at - crashed_at, result, io.trace_hash())
}

/// A connect's outcome.
type Connected = Result<(), ConnectError>;

#[test]
fn a_connect_to_a_powered_off_node_times_out() {
    let (after, result, hash) = connect_to_powered_off(13, None);
    assert_eq!(result, Err(ConnectError::ConnectionTimedOut), "not refused");
    // SYN retransmitted 6 times (tcp_syn_retries): gives up 127 s after
    // the first arrived.
    assert_eq!(after, 127 * SECOND + 10_000);
    assert_eq!(connect_to_powered_off(13, None), (after, result, hash));
}

#[test]
fn a_connect_to_a_powered_off_node_succeeds_if_it_returns_in_time() {
    let (after, result, _) = connect_to_powered_off(14, Some(5 * SECOND));
    assert_eq!(result, Ok(()));
    // The SYN sent again reaches it 1 + 2 + 4 s after the first arrived
    // (10 µs after the crash); the SYN-ACK takes 10 µs more.
    assert_eq!(after, 7 * SECOND + 2 * 10_000);
}

#[test]
fn after_a_power_off_the_rebooted_node_resets_what_reaches_it() {
    // No retransmission timeout: the peer's data waits for the node, and
    // the rebooted kernel, which knows no such connection, answers RST.
    let faults = NetworkFaults { power_off_crash: Ratio::ONE, ..NetworkFaults::none() };
    let mut io = sim(15, faults);
    let mut ctx = Ctx::default();
    let (client_node, _, client) = connected(&mut io, &mut ctx);
    io.crash_node(SERVER).unwrap();
    send(&mut io, client_node, client, b"late", 1);
    recv(&mut io, client_node, client, 8, 2);
    io.run_for_ns(&mut ctx, 30 * SECOND).unwrap();
    assert!(ctx.received.is_empty(), "silence while it is off");
    io.restart_node(SERVER).unwrap();
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(received(&ctx, 2).unwrap().2, Err(RecvError::ConnectionResetByPeer));
}

// ---- 2. the retransmission timeout under a partition ----

/// Both sides send across a partition that lasts `cut_ns`, then heals.
fn partitioned_run(seed: u64, cut_ns: u64) -> (Vec<Sent>, Vec<Option<RecvError>>, u64) {
    let faults = NetworkFaults { rto_ns: 3 * SECOND, ..NetworkFaults::none() };
    let mut io = sim(seed, faults);
    let mut ctx = Ctx::default();
    let (client_node, server, client) = connected(&mut io, &mut ctx);
    io.partition(SERVER, client_node);
    send(&mut io, client_node, client, b"request", 1);
    send(&mut io, SERVER, server, b"push", 2);
    recv(&mut io, client_node, client, 16, 3);
    recv(&mut io, SERVER, server, 16, 4);
    io.run_for_ns(&mut ctx, cut_ns).unwrap();
    io.heal_all();
    io.run_for_ns(&mut ctx, SECOND).unwrap();
    // Then each side tries again.
    send(&mut io, client_node, client, b"again", 5);
    send(&mut io, SERVER, server, b"again", 6);
    io.run_for_ns(&mut ctx, SECOND).unwrap();
    io.cancel_all();
    io.run_until_done(&mut ctx).unwrap();
    let errors =
        [3, 4].iter().map(|&tag| received(&ctx, tag).and_then(|r| r.2.clone().err())).collect();
    ctx.sent.sort_by_key(|s| s.0);
    (ctx.sent, errors, io.trace_hash())
}

#[test]
fn a_partition_longer_than_the_timeout_ends_the_connection() {
    let (sent, errors, hash) = partitioned_run(21, 5 * SECOND);
    let timed_out = Some(RecvError::ConnectionTimedOut);
    assert_eq!(errors, [timed_out, timed_out], "both sides had data held: both time out");
    // After the error was reported once, send answers as on a closed
    // socket.
    assert_eq!(sent[2], (5, Err(SendError::BrokenPipe)));
    assert_eq!(sent[3], (6, Err(SendError::BrokenPipe)));
    assert_eq!(partitioned_run(21, 5 * SECOND).2, hash, "replays from its seed");
}

#[test]
fn a_shorter_partition_only_delays() {
    let (sent, errors, _) = partitioned_run(22, 2 * SECOND);
    assert!(errors.iter().all(Option::is_none), "{errors:?}");
    assert!(sent.iter().all(|s| s.1.is_ok()), "{sent:?}");
}

#[test]
fn only_the_side_with_data_held_times_out_and_its_peer_learns_by_rst() {
    let faults = NetworkFaults { rto_ns: SECOND, ..NetworkFaults::none() };
    let mut io = sim(23, faults);
    let mut ctx = Ctx::default();
    let (client_node, server, client) = connected(&mut io, &mut ctx);
    io.partition(SERVER, client_node);
    send(&mut io, client_node, client, b"request", 1);
    recv(&mut io, SERVER, server, 16, 2);
    io.run_for_ns(&mut ctx, 3 * SECOND).unwrap();
    // The client gave up; the server, with nothing to send, is half-open.
    assert!(ctx.received.is_empty(), "{:?}", ctx.received);
    recv(&mut io, client_node, client, 16, 3);
    io.run_for_ns(&mut ctx, 1).unwrap();
    assert_eq!(received(&ctx, 3).unwrap().2, Err(RecvError::ConnectionTimedOut));
    io.heal_all();
    io.run_for_ns(&mut ctx, SECOND).unwrap();
    assert!(received(&ctx, 2).is_none(), "the purged request never arrives");
    send(&mut io, SERVER, server, b"reply", 4);
    io.run_for_ns(&mut ctx, SECOND).unwrap();
    assert_eq!(received(&ctx, 2).unwrap().2, Err(RecvError::ConnectionResetByPeer));
}

// ---- 3. one-way partitions ----

#[test]
fn a_one_way_partition_holds_one_direction_only() {
    let mut io = sim(31, NetworkFaults::none());
    let mut ctx = Ctx::default();
    let (client_node, server, client) = connected(&mut io, &mut ctx);
    io.partition_one_way(client_node, SERVER);
    assert!(io.is_partitioned(SERVER, client_node));
    send(&mut io, client_node, client, b"held", 1);
    send(&mut io, SERVER, server, b"flows", 2);
    recv(&mut io, SERVER, server, 16, 3);
    recv(&mut io, client_node, client, 16, 4);
    io.run_for_ns(&mut ctx, 5 * SECOND).unwrap();
    assert_eq!(received(&ctx, 4).unwrap().2, Ok(b"flows".to_vec()));
    assert!(received(&ctx, 3).is_none(), "client to server is cut");
    io.heal(SERVER, client_node);
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(received(&ctx, 3).unwrap().2, Ok(b"held".to_vec()));
}

/// `partition` under the `one_way_partition` fault: which directions
/// carried data, and the trace hash.
fn one_way_fault_run(seed: u64) -> ([bool; 2], u64) {
    let faults = NetworkFaults { one_way_partition: Ratio::ONE, ..NetworkFaults::none() };
    let mut io = sim(seed, faults);
    let mut ctx = Ctx::default();
    let (client_node, server, client) = connected(&mut io, &mut ctx);
    io.partition(SERVER, client_node);
    send(&mut io, client_node, client, b"up", 1);
    send(&mut io, SERVER, server, b"down", 2);
    recv(&mut io, SERVER, server, 16, 3);
    recv(&mut io, client_node, client, 16, 4);
    io.run_for_ns(&mut ctx, SECOND).unwrap();
    ([received(&ctx, 3).is_some(), received(&ctx, 4).is_some()], io.trace_hash())
}

#[test]
fn the_one_way_partition_fault_cuts_one_drawn_direction() {
    let mut seen = Vec::new();
    for seed in 0..16 {
        let (flowed, hash) = one_way_fault_run(seed);
        assert_eq!(flowed.iter().filter(|&&f| f).count(), 1, "exactly one direction flows");
        assert_eq!(one_way_fault_run(seed), (flowed, hash), "seed {seed} replays");
        seen.push(flowed);
    }
    assert!(seen.contains(&[true, false]) && seen.contains(&[false, true]), "both are drawn");
}

// ---- 4. EHOSTUNREACH ----

#[test]
fn a_connect_to_an_unreachable_host_fails_with_ehostunreach() {
    let mut io = sim(41, NetworkFaults::none());
    let mut ctx = Ctx::default();
    let ip: IpAddr = "10.0.0.9".parse().unwrap();
    io.set_unreachable(ip, true);
    let client = socket(&mut io);
    io.connect(client, SocketAddr::new(ip, 80), 0, on_connect).unwrap();
    io.run_until_done(&mut ctx).unwrap();
    let errno = ConnectError::NetworkUnreachable.errno();
    assert_eq!(ctx.connected.pop().unwrap().1, Err(ConnectError::NetworkUnreachable));
    assert_eq!(ConnectError::from_errno(Errno::EHOSTUNREACH), ConnectError::NetworkUnreachable);
    assert!(errno.is_some());
    // Marked through its v4-mapped form, the host is the same one.
    io.set_unreachable(ip, false);
    io.set_unreachable("::ffff:10.0.0.9".parse().unwrap(), true);
    let client = socket(&mut io);
    io.connect(client, SocketAddr::new(ip, 81), 0, on_connect).unwrap();
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(ctx.connected.pop().unwrap().1, Err(ConnectError::NetworkUnreachable));
    // Reachable again: nothing listens there, so it is refused.
    io.set_unreachable(ip, false);
    let client = socket(&mut io);
    io.connect(client, SocketAddr::new(ip, 80), 0, on_connect).unwrap();
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(ctx.connected.pop().unwrap().1, Err(ConnectError::ConnectionRefused));
}

fn unreachable_fault_run(seed: u64) -> (Vec<Result<(), ConnectError>>, u64) {
    let faults = NetworkFaults {
        unreachable: Ratio::new(1, 2).unwrap(),
        delay_jitter_ns: 50_000,
        ..NetworkFaults::none()
    };
    let mut io = sim(seed, faults);
    let mut ctx = Ctx::default();
    let listener = socket(&mut io);
    let bound = io.listen(listener, address(SERVER_ADDRESS), 64).unwrap();
    for _ in 0..16 {
        let client = socket(&mut io);
        io.connect(client, bound, 0, on_connect).unwrap();
    }
    io.run_until_done(&mut ctx).unwrap();
    (ctx.connected.into_iter().map(|c| c.1).collect(), io.trace_hash())
}

#[test]
fn the_unreachable_fault_fails_some_connects_to_a_listener() {
    let (results, hash) = unreachable_fault_run(42);
    assert!(results.contains(&Ok(())), "{results:?}");
    assert!(results.contains(&Err(ConnectError::NetworkUnreachable)), "{results:?}");
    assert!(results.iter().all(|r| matches!(r, Ok(()) | Err(ConnectError::NetworkUnreachable))));
    assert_eq!(unreachable_fault_run(42), (results, hash), "replays from its seed");
}

// ---- 5. per-link bandwidth ----

/// Two 10 000-byte sends, back to back, over a 1 MB/s link; returns when
/// the last byte arrived after the sends and the trace hash.
fn bandwidth_run(seed: u64) -> (u64, usize, u64) {
    let faults = NetworkFaults { bandwidth_bytes_per_s: 1_000_000, ..NetworkFaults::none() };
    let mut io = sim(seed, faults);
    let mut ctx = Ctx::default();
    let (client_node, server, client) = connected(&mut io, &mut ctx);
    let start = io.now_ns();
    send(&mut io, client_node, client, &[1; 10_000], 1);
    send(&mut io, client_node, client, &[2; 10_000], 2);
    let mut got = 0;
    let mut last = 0;
    let mut tag = 10;
    while got < 20_000 {
        recv(&mut io, SERVER, server, 20_000, tag);
        io.run_until_done(&mut ctx).unwrap();
        let (_, at, result) = received(&ctx, tag).cloned().unwrap();
        got += result.unwrap().len();
        last = at;
        tag += 1;
    }
    (last - start, got, io.trace_hash())
}

#[test]
fn bandwidth_delays_segments_behind_each_other() {
    let (elapsed, got, hash) = bandwidth_run(51);
    assert_eq!(got, 20_000);
    // 10 ms on the link each, the second queued behind the first, then the
    // 10 µs one-way delay.
    assert_eq!(elapsed, 20_000_000 + 10_000);
    assert_eq!(bandwidth_run(51), (elapsed, got, hash), "replays from its seed");
}

// ---- the configuration ----

#[test]
fn swarm_draws_each_new_fault_on_and_off_and_display_shows_it() {
    let configs: Vec<NetworkFaults> = (0..64).map(|s| FaultConfig::swarm(s).network).collect();
    let varies =
        |on: &dyn Fn(&NetworkFaults) -> bool| configs.iter().any(on) && !configs.iter().all(on);
    assert!(varies(&|n| !n.power_off_crash.is_zero()));
    assert!(varies(&|n| n.rto_ns > 0));
    assert!(varies(&|n| !n.unreachable.is_zero()));
    assert!(varies(&|n| !n.one_way_partition.is_zero()));
    assert!(varies(&|n| n.bandwidth_bytes_per_s > 0));
    let none = NetworkFaults::none();
    assert!(none.power_off_crash.is_zero() && none.rto_ns == 0 && none.unreachable.is_zero());
    assert!(none.one_way_partition.is_zero() && none.bandwidth_bytes_per_s == 0);
    let text = FaultConfig::swarm(5).to_string();
    for field in ["power_off_crash=", "rto=", "unreachable=", "one_way_partition=", "bandwidth="] {
        assert!(text.contains(field), "{text}");
    }
    let live = FaultConfig::swarm(5).liveness().network;
    assert!(live.power_off_crash.is_zero() && live.unreachable.is_zero());
    assert_eq!(live.rto_ns, FaultConfig::swarm(5).network.rto_ns, "how TCP behaves: kept");
}
