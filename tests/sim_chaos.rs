//! Random interleavings of everything the twin offers (file and socket
//! operations on two nodes, timers, cancels, resets, closes, crashes and
//! restarts, passes, fault configurations switched mid-run): no panic, at
//! most one callback per operation, exactly one for every operation whose
//! node did not crash while it was in flight, and nothing left in flight.

use std::net::SocketAddr;
use std::path::Path;

use proptest::prelude::*;
use twinio::*;

#[derive(Default)]
struct Log {
    /// Callbacks per tag.
    calls: Vec<u32>,
    accepted: Vec<Fd>,
}

type Sim = SimIO<Log>;

fn called(log: &mut Log, tag: u64) {
    let at = tag as usize;
    if log.calls.len() <= at {
        log.calls.resize(at + 1, 0);
    }
    log.calls[at] += 1;
}

fn on_read(log: &mut Log, _: &mut Sim, done: ReadDone) {
    called(log, done.tag);
}
fn on_write(log: &mut Log, _: &mut Sim, done: WriteDone) {
    called(log, done.tag);
}
fn on_fsync(log: &mut Log, _: &mut Sim, done: FsyncDone) {
    called(log, done.tag);
}
fn on_recv(log: &mut Log, _: &mut Sim, done: RecvDone) {
    called(log, done.tag);
}
fn on_send(log: &mut Log, _: &mut Sim, done: SendDone) {
    called(log, done.tag);
}
fn on_timeout(log: &mut Log, _: &mut Sim, done: TimeoutDone) {
    called(log, done.tag);
}
fn on_close(log: &mut Log, _: &mut Sim, done: CloseDone) {
    called(log, done.tag);
}
fn on_connect(log: &mut Log, _: &mut Sim, done: ConnectDone) {
    called(log, done.tag);
}
fn on_accept(log: &mut Log, _: &mut Sim, done: AcceptDone) {
    if let Ok(fd) = done.result {
        log.accepted.push(fd);
    }
    called(log, done.tag);
}

#[derive(Clone, Debug)]
enum Step {
    Write(u8, u16),
    Read(u8),
    Fsync,
    Recv(bool),
    Send(bool, u16),
    Timeout(u32),
    Cancel(prop::sample::Index),
    Reset(prop::sample::Index, u32),
    CloseSocket(bool),
    Crash(bool),
    Restart(bool),
    Tick,
    RunFor(u32),
    Faults(u64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0u8..8, 1u16..9000).prop_map(|(s, n)| Step::Write(s, n)),
        3 => (0u8..8).prop_map(Step::Read),
        1 => Just(Step::Fsync),
        3 => any::<bool>().prop_map(Step::Recv),
        3 => (any::<bool>(), 1u16..5000).prop_map(|(c, n)| Step::Send(c, n)),
        2 => (0u32..5_000_000).prop_map(Step::Timeout),
        2 => any::<prop::sample::Index>().prop_map(Step::Cancel),
        1 => (any::<prop::sample::Index>(), 0u32..5_000_000).prop_map(|(i, n)| Step::Reset(i, n)),
        1 => any::<bool>().prop_map(Step::CloseSocket),
        1 => any::<bool>().prop_map(Step::Crash),
        1 => any::<bool>().prop_map(Step::Restart),
        3 => Just(Step::Tick),
        2 => (0u32..10_000_000).prop_map(Step::RunFor),
        1 => any::<u64>().prop_map(Step::Faults),
    ]
}

/// One node's handles (invalid after its crash, which the run tolerates).
struct Side {
    node: NodeId,
    file: Option<Fd>,
    socket: Option<Fd>,
    /// Tags submitted by this node since its last crash.
    in_flight_tags: Vec<u64>,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_interleaving_keeps_the_one_callback_promise(
        seed in any::<u64>(),
        steps in proptest::collection::vec(step(), 1..80),
    ) {
        let mut io = Sim::new(seed, 48, FaultConfig::swarm(seed));
        let mut log = Log::default();
        let server_address: SocketAddr = "10.0.0.1:9000".parse().unwrap();
        let listener = io.open_socket(AddressFamily::Ipv4, SocketOptions::default()).unwrap();
        io.listen(listener, server_address, 8).unwrap();
        let dir = io.open_dir(Path::new("chaos")).unwrap();
        let size = 8 * SECTOR_SIZE as u64;
        let file = io.open_data_file(dir, Path::new("f"), size, FilePurpose::Format, DirectIo::Disabled).ok();
        let client_node = io.add_node();
        let mut sides = [
            Side { node: NodeId::FIRST, file, socket: None, in_flight_tags: Vec::new() },
            Side { node: client_node, file: None, socket: None, in_flight_tags: Vec::new() },
        ];
        let mut next_tag = 0u64;
        let mut ids: Vec<OpId> = Vec::new();
        let mut dropped: Vec<u64> = Vec::new();
        // Connect the client to the server.
        io.set_current_node(client_node).unwrap();
        if let Ok(socket) = io.open_socket(AddressFamily::Ipv4, SocketOptions::default()) {
            sides[1].socket = Some(socket);
            if let Ok(id) = io.connect(socket, server_address, next_tag, on_connect) {
                ids.push(id);
                sides[1].in_flight_tags.push(next_tag);
            }
            next_tag += 1;
        }
        io.set_current_node(NodeId::FIRST).unwrap();
        if let Ok(id) = io.accept(listener, next_tag, on_accept) {
            ids.push(id);
            sides[0].in_flight_tags.push(next_tag);
        }
        next_tag += 1;

        for step in steps {
            if sides[0].socket.is_none() {
                sides[0].socket = log.accepted.pop();
            }
            let tag = next_tag;
            let pick = |client: bool| usize::from(client);
            let submitted: Option<(usize, Result<OpId, SubmitError>)> = match step {
                Step::Write(sector, len) => sides[0].file.map(|fd| {
                    let buffer = Buffer::new(usize::from(len)).unwrap();
                    let offset = u64::from(sector) * SECTOR_SIZE as u64;
                    (0, io.write(fd, buffer, .., offset, tag, on_write).map_err(|r| r.error))
                }),
                Step::Read(sector) => sides[0].file.map(|fd| {
                    let buffer = Buffer::new(SECTOR_SIZE).unwrap();
                    let offset = u64::from(sector) * SECTOR_SIZE as u64;
                    (0, io.read(fd, buffer, .., offset, tag, on_read).map_err(|r| r.error))
                }),
                Step::Fsync => sides[0].file.map(|fd| (0, io.fsync(fd, FsyncMode::Full, tag, on_fsync))),
                Step::Recv(client) => sides[pick(client)].socket.map(|fd| {
                    io.set_current_node(sides[pick(client)].node).unwrap();
                    let result = io.recv(fd, Buffer::new(1024).unwrap(), .., tag, on_recv);
                    (pick(client), result.map_err(|r| r.error))
                }),
                Step::Send(client, len) => sides[pick(client)].socket.map(|fd| {
                    io.set_current_node(sides[pick(client)].node).unwrap();
                    let result = io.send(fd, Buffer::new(usize::from(len)).unwrap(), .., tag, on_send);
                    (pick(client), result.map_err(|r| r.error))
                }),
                Step::Timeout(ns) => Some((0, io.timeout(u64::from(ns), tag, on_timeout))),
                Step::CloseSocket(client) => sides[pick(client)].socket.take().map(|fd| {
                    io.set_current_node(sides[pick(client)].node).unwrap();
                    (pick(client), io.close(fd, tag, on_close))
                }),
                Step::Cancel(i) if !ids.is_empty() => {
                    let _ = io.cancel(ids[i.index(ids.len())]);
                    None
                }
                Step::Reset(i, ns) if !ids.is_empty() => {
                    let _ = io.reset_timeout(ids[i.index(ids.len())], u64::from(ns));
                    None
                }
                Step::Crash(client) => {
                    let side = &mut sides[pick(client)];
                    if io.is_alive(side.node) {
                        dropped.append(&mut side.in_flight_tags);
                    }
                    io.crash_node(side.node).unwrap();
                    side.file = None;
                    side.socket = None;
                    None
                }
                Step::Restart(client) => {
                    io.restart_node(sides[pick(client)].node).unwrap();
                    None
                }
                Step::Tick => {
                    io.tick(&mut log).unwrap();
                    None
                }
                Step::RunFor(ns) => {
                    io.run_for_ns(&mut log, u64::from(ns)).unwrap();
                    None
                }
                Step::Faults(faults_seed) => {
                    io.set_faults(FaultConfig::swarm(faults_seed));
                    None
                }
                _ => None,
            };
            io.set_current_node(NodeId::FIRST).unwrap();
            if let Some((side, Ok(id))) = submitted {
                ids.push(id);
                sides[side].in_flight_tags.push(tag);
                next_tag += 1;
            } else if let Some((_, Err(error))) = submitted {
                prop_assert!(
                    matches!(error, SubmitError::NoFreeSlot | SubmitError::Closed),
                    "{:?}", error
                );
            }
            // Drop tags whose callbacks ran, so a later crash only counts
            // operations really in flight.
            for side in &mut sides {
                side.in_flight_tags.retain(|&t| log.calls.get(t as usize).copied().unwrap_or(0) == 0);
            }
        }
        io.set_faults(FaultConfig::none());
        io.cancel_all();
        io.run_until_done(&mut log).unwrap();
        prop_assert_eq!(io.in_flight(), 0);
        for tag in 0..next_tag {
            let calls = log.calls.get(tag as usize).copied().unwrap_or(0);
            let expected = if dropped.contains(&tag) { 0 } else { 1 };
            prop_assert_eq!(calls, expected, "op {} ({} callbacks)", tag, calls);
        }
    }
}
