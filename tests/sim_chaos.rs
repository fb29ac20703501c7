//! Random interleavings of everything the twin offers (file and socket
//! operations on two nodes, timers, cancels, resets, closes, crashes and
//! restarts, passes, fault configurations switched mid-run): no panic, at
//! most one callback per operation, exactly one for every operation whose
//! node did not crash while it was in flight, and nothing left in flight;
//! and (`arbitrary_calls`) calls no well-behaved program makes.

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

/// The twin under arbitrary calls — random descriptor numbers (stale,
/// another node's, never opened), nodes crashed and restarted at random
/// (also from callbacks), partitions, swarm faults — never panics, keeps
/// exactly one callback per accepted op of a live node, and ends with
/// nothing in flight.
mod arbitrary_calls {
    use std::net::SocketAddr;
    use std::path::Path;

    use twinio::*;

    struct Ctx {
        prng: Prng,
        callbacks: Vec<u64>,
        accepted: Vec<(u64, NodeId, OpId)>,
        /// Ops dropped without a callback: those of a node that crashed.
        crashed_before: Vec<(NodeId, u64)>,
        next_tag: u64,
        nodes: Vec<NodeId>,
        events: Vec<EventId>,
        in_callback_crashes: u32,
    }

    fn note<T>(ctx: &mut Ctx, io: &mut SimIO<Ctx>, tag: u64, _what: T) {
        ctx.callbacks.push(tag);
        if ctx.prng.below(50) == 0 {
            let node = ctx.nodes[ctx.prng.index(ctx.nodes.len())];
            crash(ctx, io, node);
            ctx.in_callback_crashes += 1;
        } else if ctx.prng.below(4) == 0 {
            step(ctx, io);
        }
    }

    fn crash(ctx: &mut Ctx, io: &mut SimIO<Ctx>, node: NodeId) {
        io.crash_node(node).unwrap();
        ctx.crashed_before.push((node, ctx.next_tag));
    }

    fn on_timeout(c: &mut Ctx, io: &mut SimIO<Ctx>, d: TimeoutDone) {
        note(c, io, d.tag, d.result);
    }
    fn on_recv(c: &mut Ctx, io: &mut SimIO<Ctx>, d: RecvDone) {
        note(c, io, d.tag, d.result);
    }
    fn on_send(c: &mut Ctx, io: &mut SimIO<Ctx>, d: SendDone) {
        note(c, io, d.tag, d.result);
    }
    fn on_read(c: &mut Ctx, io: &mut SimIO<Ctx>, d: ReadDone) {
        note(c, io, d.tag, d.result);
    }
    fn on_write(c: &mut Ctx, io: &mut SimIO<Ctx>, d: WriteDone) {
        note(c, io, d.tag, d.result);
    }
    fn on_fsync(c: &mut Ctx, io: &mut SimIO<Ctx>, d: FsyncDone) {
        note(c, io, d.tag, d.result);
    }
    fn on_close(c: &mut Ctx, io: &mut SimIO<Ctx>, d: CloseDone) {
        note(c, io, d.tag, d.result);
    }
    fn on_accept(c: &mut Ctx, io: &mut SimIO<Ctx>, d: AcceptDone) {
        note(c, io, d.tag, d.result);
    }
    fn on_connect(c: &mut Ctx, io: &mut SimIO<Ctx>, d: ConnectDone) {
        note(c, io, d.tag, d.result);
    }
    fn on_event(c: &mut Ctx, io: &mut SimIO<Ctx>, d: EventDone) {
        note(c, io, d.tag, d.result);
    }

    fn address(n: u64) -> SocketAddr {
        format!("10.0.0.{}:{}", 1 + n % 3, 7000 + n % 2).parse().unwrap()
    }

    fn step(ctx: &mut Ctx, io: &mut SimIO<Ctx>) {
        let p = &mut ctx.prng;
        let fd = Fd::from_raw(p.below(12) as i32 - 1);
        let node = ctx.nodes[p.index(ctx.nodes.len())];
        let tag = ctx.next_tag;
        ctx.next_tag += 1;
        let len = 1 + p.index(8192);
        let offset = p.below(3) * 4096 + p.below(2) * p.below(4096);
        let ns = [0, 1_000, 1_000_000, 1 << 40][p.index(4)];
        let n = p.below(6);
        let choice = p.below(26);
        let current = io.current_node();
        let accepted = match choice {
            0 => io.timeout(ns, tag, on_timeout).ok(),
            1 => io.recv(fd, Buffer::new(len).unwrap(), .., tag, on_recv).ok(),
            2 => io.send(fd, Buffer::new(len).unwrap(), .., tag, on_send).ok(),
            3 => io.read(fd, Buffer::new(len).unwrap(), .., offset, tag, on_read).ok(),
            4 => io.write(fd, Buffer::new(len).unwrap(), .., offset, tag, on_write).ok(),
            5 => io.fsync(fd, FsyncMode::Full, tag, on_fsync).ok(),
            6 => io.close(fd, tag, on_close).ok(),
            7 => io.accept(fd, tag, on_accept).ok(),
            8 => io.connect(fd, address(n), tag, on_connect).ok(),
            9 => {
                let _ = io.open_socket(AddressFamily::Ipv4, SocketOptions::default());
                None
            }
            10 => {
                let _ = io.listen(fd, address(n), n as u32);
                None
            }
            11 => {
                let _ = io.shutdown(
                    fd,
                    [Shutdown::Read, Shutdown::Write, Shutdown::Both][n as usize % 3],
                );
                None
            }
            12 => {
                let _ = io.open_dir(Path::new(["/a", "/b", "/a/b"][n as usize % 3]));
                None
            }
            13 => {
                let purpose =
                    [FilePurpose::Format, FilePurpose::Open, FilePurpose::Inspect][n as usize % 3];
                let direct = [DirectIo::Disabled, DirectIo::Required][n as usize % 2];
                let name = ["f", "g", "d/f"][(n / 2) as usize % 3];
                let _ = io.open_data_file(fd, Path::new(name), 4096 * (1 + n % 2), purpose, direct);
                None
            }
            14 => {
                if let Ok(e) = io.open_event() {
                    ctx.events.push(e);
                }
                None
            }
            15 | 16 if !ctx.events.is_empty() => {
                let e = ctx.events[ctx.prng.index(ctx.events.len())];
                if choice == 15 {
                    io.event_listen(e, tag, on_event).ok()
                } else {
                    let _ = io.event_trigger(e);
                    None
                }
            }
            17 if !ctx.events.is_empty() => {
                let e = ctx.events[ctx.prng.index(ctx.events.len())];
                let _ = io.close_event(e);
                None
            }
            18 | 19 if !ctx.accepted.is_empty() => {
                let (_, _, id) = ctx.accepted[ctx.prng.index(ctx.accepted.len())];
                if choice == 18 {
                    let _ = io.cancel(id);
                } else {
                    let _ = io.reset_timeout(id, ns);
                }
                None
            }
            20 => {
                let _ = io.set_current_node(node);
                None
            }
            21 if ctx.prng.below(8) == 0 => {
                crash(ctx, io, node);
                None
            }
            22 => {
                io.restart_node(node).unwrap();
                None
            }
            23 => {
                let other = ctx.nodes[ctx.prng.index(ctx.nodes.len())];
                if ctx.prng.below(2) == 0 {
                    io.partition(node, other)
                } else {
                    io.heal(node, other)
                }
                None
            }
            _ => {
                let _ = io.run_for_ns(ctx, ns.min(10_000_000));
                None
            }
        };
        if let Some(id) = accepted {
            ctx.accepted.push((tag, current, id));
        }
    }

    fn chaos(seed: u64) -> u64 {
        let mut io: SimIO<Ctx> = SimIO::new(seed, 48, FaultConfig::swarm(seed));
        let mut nodes = vec![io.current_node()];
        nodes.push(io.add_node());
        nodes.push(io.add_node());
        let mut ctx = Ctx {
            prng: Prng::from_seed(seed ^ 0xdead_beef),
            callbacks: Vec::new(),
            accepted: Vec::new(),
            crashed_before: Vec::new(),
            next_tag: 1,
            nodes: nodes.clone(),
            events: Vec::new(),
            in_callback_crashes: 0,
        };
        for _ in 0..2_000 {
            step(&mut ctx, &mut io);
        }
        // Wind down: everything live is canceled, every node restarted, every
        // partition healed (a parked connect would otherwise wait forever).
        io.heal_all();
        for _ in 0..200 {
            if io.in_flight() == 0 {
                break;
            }
            io.cancel_all();
            let _ = io.run_for_ns(&mut ctx, 10_000_000);
        }
        assert_eq!(io.in_flight(), 0, "seed {seed}");
        // At most one callback per op; exactly one unless its node crashed
        // after it was submitted.
        let mut counts = std::collections::BTreeMap::new();
        for tag in &ctx.callbacks {
            *counts.entry(*tag).or_insert(0u32) += 1;
        }
        for (tag, node, _) in &ctx.accepted {
            let n = counts.remove(tag).unwrap_or(0);
            let crashed = ctx.crashed_before.iter().any(|(c, before)| c == node && tag < before);
            assert!(n == 1 || (n == 0 && crashed), "seed {seed}: op {tag} had {n} callbacks");
        }
        assert!(counts.is_empty(), "seed {seed}: callbacks of unknown ops {counts:?}");
        if std::env::var_os("TWINIO_QA_VERBOSE").is_some() {
            let ok = ctx.callbacks.len();
            let errors = (ctx.accepted.len(), ctx.in_callback_crashes, ctx.crashed_before.len());
            eprintln!(
                "seed {seed}: {ok} callbacks, (accepted, crashes in callbacks, crashes) {errors:?}"
            );
        }
        io.trace_hash()
    }

    #[test]
    fn the_twin_survives_arbitrary_calls() {
        let seeds =
            std::env::var("TWINIO_QA_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
        for seed in 0..seeds {
            assert_eq!(chaos(seed), chaos(seed), "seed {seed} is not deterministic");
        }
    }
}
