//! QA: the twin under arbitrary calls — random descriptor numbers (stale,
//! another node's, never opened), nodes crashed and restarted at random
//! (also from callbacks), partitions, swarm faults — never panics, keeps
//! exactly one callback per accepted op of a live node, and ends with
//! nothing in flight.

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
            let _ =
                io.shutdown(fd, [Shutdown::Read, Shutdown::Write, Shutdown::Both][n as usize % 3]);
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
    let seeds = std::env::var("TWINIO_QA_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
    for seed in 0..seeds {
        assert_eq!(chaos(seed), chaos(seed), "seed {seed} is not deterministic");
    }
}
