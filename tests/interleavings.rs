//! QA: random interleavings of submit, cancel, cancel_all, reset_timeout,
//! trigger and the run modes, from the test and from inside callbacks, on
//! both backends: every accepted op gets exactly one callback, a refused
//! one none, and the twin replays a seed exactly (same callbacks in the
//! same order, same trace hash), also in a separate process.

mod support;

use std::fmt::Debug;
use std::path::Path;
use std::process::Command;

use support::{exclusive, temp_dir};
use twinio::*;

const LONG: u64 = 10_000_000_000;
const CHILD_ENV: &str = "TWINIO_QA_CHILD_SEED";
const STEPS: u32 = 1_500;

/// What the random steps act on.
struct World {
    sockets: Vec<Fd>,
    file: Fd,
    event: EventId,
}

struct Ctx {
    prng: Prng,
    /// (tag, id) of every accepted op, in submit order.
    accepted: Vec<(u64, OpId)>,
    /// Callbacks run, in order: (tag, result).
    log: Vec<(u64, String)>,
    next_tag: u64,
    world: Option<World>,
    /// Setup only: accepted sockets.
    fds: Vec<Fd>,
    /// Disables the callbacks' own random actions (for the final drain).
    quiet: bool,
    /// Descriptors closed during the run: never closed twice (another
    /// thread of this process may have been handed the number since).
    closed: Vec<Fd>,
}

fn done<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, tag: u64, what: impl Debug) {
    ctx.log.push((tag, format!("{what:?}")));
    if !ctx.quiet && ctx.world.is_some() && ctx.prng.below(3) == 0 {
        step(ctx, io, true);
    }
}

fn on_timeout<I: Io<Context = Ctx>>(c: &mut Ctx, io: &mut I, d: TimeoutDone) {
    done(c, io, d.tag, d.result);
}
fn on_recv<I: Io<Context = Ctx>>(c: &mut Ctx, io: &mut I, d: RecvDone) {
    done(c, io, d.tag, d.result);
}
fn on_send<I: Io<Context = Ctx>>(c: &mut Ctx, io: &mut I, d: SendDone) {
    done(c, io, d.tag, d.result);
}
fn on_read<I: Io<Context = Ctx>>(c: &mut Ctx, io: &mut I, d: ReadDone) {
    done(c, io, d.tag, d.result);
}
fn on_write<I: Io<Context = Ctx>>(c: &mut Ctx, io: &mut I, d: WriteDone) {
    done(c, io, d.tag, d.result);
}
fn on_fsync<I: Io<Context = Ctx>>(c: &mut Ctx, io: &mut I, d: FsyncDone) {
    done(c, io, d.tag, d.result);
}
fn on_event<I: Io<Context = Ctx>>(c: &mut Ctx, io: &mut I, d: EventDone) {
    done(c, io, d.tag, d.result);
}
fn on_close<I: Io<Context = Ctx>>(c: &mut Ctx, io: &mut I, d: CloseDone) {
    done(c, io, d.tag, d.result);
}
fn on_accept<I: Io<Context = Ctx>>(c: &mut Ctx, io: &mut I, d: AcceptDone) {
    c.fds.push(d.result.expect("accept"));
    done(c, io, d.tag, "accepted");
}
fn on_connect<I: Io<Context = Ctx>>(c: &mut Ctx, io: &mut I, d: ConnectDone) {
    done(c, io, d.tag, d.result);
}

fn accepted(ctx: &mut Ctx, tag: u64, id: OpId) {
    ctx.accepted.push((tag, id));
}

/// One random action. `inside` is true when called from a callback (the
/// run modes are then expected to refuse).
fn step<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, inside: bool) {
    let world = ctx.world.as_ref().expect("world");
    let socket = world.sockets[ctx.prng.index(world.sockets.len())];
    let (file, event) = (world.file, world.event);
    let tag = ctx.next_tag;
    ctx.next_tag += 1;
    let ns = [0, 1_000, 200_000, LONG][ctx.prng.index(4)];
    match ctx.prng.below(16) {
        0 | 1 => {
            if let Ok(id) = io.timeout(ns, tag, on_timeout) {
                accepted(ctx, tag, id);
            }
        }
        2 => {
            let buffer = Buffer::new(1 + ctx.prng.index(64)).unwrap();
            match io.recv(socket, buffer, .., tag, on_recv) {
                Ok(id) => accepted(ctx, tag, id),
                Err(rejected) => assert_eq!(rejected.error, SubmitError::NoFreeSlot),
            }
        }
        3 => {
            let buffer = Buffer::new(1 + ctx.prng.index(64)).unwrap();
            match io.send(socket, buffer, .., tag, on_send) {
                Ok(id) => accepted(ctx, tag, id),
                Err(rejected) => assert_eq!(rejected.error, SubmitError::NoFreeSlot),
            }
        }
        4 => match io.event_listen(event, tag, on_event) {
            Ok(id) => accepted(ctx, tag, id),
            Err(error) => assert!(
                matches!(error, SubmitError::AlreadyListening | SubmitError::NoFreeSlot),
                "{error:?}"
            ),
        },
        5 => io.event_trigger(event).expect("trigger"),
        6 => {
            let offset = 4096 * ctx.prng.below(4);
            let result = match ctx.prng.below(3) {
                0 => io.read(file, Buffer::new(4096).unwrap(), .., offset, tag, on_read),
                1 => io.write(file, Buffer::new(4096).unwrap(), .., offset, tag, on_write),
                _ => io
                    .fsync(file, FsyncMode::Full, tag, on_fsync)
                    .map_err(|error| Rejected { error, returned: Buffer::new(0).unwrap() }),
            };
            match result {
                Ok(id) => accepted(ctx, tag, id),
                Err(rejected) => assert_eq!(rejected.error, SubmitError::NoFreeSlot),
            }
        }
        7..=9 if !ctx.accepted.is_empty() => {
            // Any op ever accepted: in flight, completed, or its slot reused.
            let (_, id) = ctx.accepted[ctx.prng.index(ctx.accepted.len())];
            let _ = io.cancel(id);
        }
        10 if !ctx.accepted.is_empty() => {
            let (_, id) = ctx.accepted[ctx.prng.index(ctx.accepted.len())];
            let _ = io.reset_timeout(id, ns);
        }
        11 if ctx.prng.below(8) == 0 => {
            io.cancel_all();
        }
        12 if ctx.prng.below(4) == 0 => io.stop(),
        // Rarely, close a descriptor under the ops pending on it (later ops
        // on it fail with BadFileDescriptor; no number is reused: nothing
        // is opened during the run).
        13 if ctx.prng.below(16) == 0 => {
            let fd = if ctx.prng.below(2) == 0 { file } else { socket };
            if ctx.closed.contains(&fd) {
                return;
            }
            if let Ok(id) = io.close(fd, tag, on_close) {
                accepted(ctx, tag, id);
                ctx.closed.push(fd);
            }
        }
        _ => {
            // Not run_once nor run_until_done: with only a parked recv in
            // flight they would wait for it forever, on either backend.
            let result = match ctx.prng.below(3) {
                0 => io.tick(ctx),
                1 => io.flush(ctx, false),
                _ => io.run_for_ns(ctx, 100_000),
            };
            if inside {
                assert_eq!(result, Err(RunError::Reentrant));
            } else {
                result.expect("run");
            }
        }
    }
}

/// Runs the random workload on `io` and checks exactly-once; returns the
/// callback log.
fn interleave<I: Io<Context = Ctx>>(
    mut io: I,
    seed: u64,
    dir: &Path,
    after_setup: impl FnOnce(&mut I),
) -> (I, Vec<(u64, String)>) {
    let mut ctx = Ctx {
        prng: Prng::from_seed(seed),
        accepted: Vec::new(),
        log: Vec::new(),
        next_tag: 1_000,
        world: None,
        fds: Vec::new(),
        quiet: false,
        closed: Vec::new(),
    };
    // Two connected pairs, a data file and an event.
    let listener = io.open_socket(AddressFamily::Ipv4, SocketOptions::default()).unwrap();
    let address = io.listen(listener, "127.0.0.1:0".parse().unwrap(), 8).unwrap();
    let mut sockets = Vec::new();
    for n in 0..2 {
        let client = io.open_socket(AddressFamily::Ipv4, SocketOptions::default()).unwrap();
        io.accept(listener, n, on_accept).unwrap();
        io.connect(client, address, 10 + n, on_connect).unwrap();
        sockets.push(client);
    }
    while ctx.fds.len() < 2 || ctx.log.len() < 4 {
        io.run_for_ns(&mut ctx, 1_000_000).unwrap();
    }
    sockets.append(&mut ctx.fds);
    let d = io.open_dir(dir).unwrap();
    let file =
        io.open_data_file(d, Path::new("f"), 4 * 4096, FilePurpose::Format, DirectIo::Disabled);
    let file = file.unwrap();
    let event = io.open_event().unwrap();
    ctx.world = Some(World { sockets: sockets.clone(), file, event });
    ctx.log.clear();
    after_setup(&mut io);

    for _ in 0..STEPS {
        step(&mut ctx, &mut io, false);
    }
    // Drain: cancel what is left (a parked recv would wait forever).
    ctx.quiet = true;
    for _ in 0..100 {
        if io.in_flight() == 0 {
            break;
        }
        io.cancel_all();
        io.run_for_ns(&mut ctx, 1_000_000).unwrap();
    }
    assert_eq!(io.in_flight(), 0);

    let mut counts = std::collections::BTreeMap::new();
    for (tag, _) in &ctx.log {
        *counts.entry(*tag).or_insert(0u32) += 1;
    }
    for (tag, _) in &ctx.accepted {
        let n = counts.remove(tag).unwrap_or(0);
        assert_eq!(n, 1, "seed {seed}: op {tag} had {n} callbacks");
    }
    assert!(counts.is_empty(), "seed {seed}: callbacks of refused or unknown ops: {counts:?}");

    for fd in sockets.into_iter().chain([listener, file, d]).filter(|fd| !ctx.closed.contains(fd)) {
        io.close(fd, 1, on_close).unwrap();
    }
    io.close_event(event).unwrap();
    io.run_until_done(&mut ctx).unwrap();
    (io, ctx.log)
}

/// How many seeds to run: `TWINIO_QA_SEEDS` for a longer hunt.
fn seeds(default: u64) -> u64 {
    std::env::var("TWINIO_QA_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

#[test]
fn real_exactly_one_callback_per_op_under_random_interleavings() {
    // A run keeps using descriptors it closed, whose numbers another
    // test's thread could be handed meanwhile.
    let _g = exclusive();
    for seed in 0..seeds(6) {
        let io: IO<Ctx> = IO::init(32).unwrap();
        let dir = temp_dir(&format!("interleave-{seed}"));
        interleave(io, seed, &dir, |_| {});
    }
}

/// The same with file operations on worker threads (their cancel may be
/// refused with `Running`; they still complete exactly once).
#[test]
fn real_with_file_workers_exactly_one_callback_per_op() {
    let _g = exclusive();
    for seed in 100..100 + seeds(4) {
        let mut options = IoOptions::new(32);
        options = options.file_workers(2);
        let io: IO<Ctx> = IO::with_options(options).unwrap();
        let dir = temp_dir(&format!("interleave-{seed}"));
        interleave(io, seed, &dir, |_| {});
    }
}

fn sim_run(seed: u64, faults: FaultConfig) -> (u64, Vec<(u64, String)>) {
    // Faults start after the setup (a refused connect would stall it).
    let io: SimIO<Ctx> = SimIO::new(seed, 32, FaultConfig::none());
    let (io, log) = interleave(io, seed, Path::new("/qa"), |io| io.set_faults(faults));
    (io.trace_hash(), log)
}

#[test]
fn sim_exactly_one_callback_per_op_and_same_seed_same_run() {
    for seed in 0..seeds(12) {
        let faults = if seed % 2 == 0 { FaultConfig::none() } else { FaultConfig::swarm(seed) };
        let first = sim_run(seed, faults);
        let second = sim_run(seed, faults);
        assert_eq!(first.1, second.1, "seed {seed}: callbacks differ");
        assert_eq!(first.0, second.0, "seed {seed}: trace hashes differ");
    }
    assert_ne!(sim_run(1, FaultConfig::none()).0, sim_run(2, FaultConfig::none()).0);
}

/// In a child process (`TWINIO_QA_CHILD_SEED` set), prints the run's trace
/// hash and a digest of its callbacks for the parent to compare.
#[test]
fn child_prints_run() {
    let Some(seed) = std::env::var(CHILD_ENV).ok().and_then(|s| s.parse().ok()) else { return };
    let (hash, log) = sim_run(seed, FaultConfig::swarm(seed));
    println!("{}", summary(hash, &log));
}

/// The trace hash and a digest of every callback with its result, in order
/// (`DefaultHasher::new()` has fixed keys: the same in every process).
fn summary(hash: u64, log: &[(u64, String)]) -> String {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut digest = DefaultHasher::new();
    log.hash(&mut digest);
    format!("QA-RUN {hash:016x} {} {:016x}", log.len(), digest.finish())
}

fn run_in_child(seed: u64) -> String {
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_prints_run", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, seed.to_string())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let line = stdout.lines().find(|l| l.contains("QA-RUN")).expect("child output");
    line[line.find("QA-RUN").unwrap()..].to_string()
}

#[test]
fn sim_same_seed_same_run_in_separate_processes() {
    if std::env::var_os(CHILD_ENV).is_some() {
        return;
    }
    for seed in [5, 77] {
        let a = run_in_child(seed);
        let b = run_in_child(seed);
        assert_eq!(a, b, "seed {seed}");
        let (hash, log) = sim_run(seed, FaultConfig::swarm(seed));
        assert_eq!(a, summary(hash, &log));
    }
}
