//! Fuzzer-chosen operation sequences against `SimIO` under fuzzer-chosen
//! faults, checked against a model after every step.
//!
//! Two data files on one node: `strict`, exempt from the corruption faults,
//! whose contents the model tracks exactly (as a set of possible contents
//! per sector, where a crash or a failed fsync leaves a choice), and
//! `wild`, open to every fault, where only the error sets and lengths are
//! checked. A connection from node 1 to a listener on node 0 carries
//! fuzzer-chosen sends and receives both ways, under network faults and
//! partitions; a crash of node 0 ends it and the restart opens a new one.
//! Invariants:
//! - every read of `strict` returns bytes the model allows, before and
//!   after crashes: synced data survives every crash, unsynced data
//!   survives only as the crash policy allows;
//! - every result is within the op's error set for the faults switched on
//!   (no `InputOutput` without an fsync or sector fault, and so on), and
//!   lengths are what the file size allows;
//! - a crashed node refuses submits, and a crash drops its ops without
//!   callbacks; everything accepted otherwise gets exactly one callback;
//! - each direction of a connection delivers a prefix of what was sent, in
//!   order, nothing after end of stream, resets only when the reset fault
//!   is on or the connection was ended by a crash;
//! - a user event's listener completes `Ok` only after a trigger, and
//!   `Canceled` only when withdrawn (cancel, `close_event`);
//! - timeouts never fire before their (virtual) deadline, and a
//!   `run_for_ns` leaves none overdue;
//! - the same input run twice gives the same trace hash and the same
//!   observations (the twin is deterministic).
#![no_main]

use std::net::SocketAddr;
use std::path::Path;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use twinio::*;

mod event_model;
use event_model::Events;

const SECTOR: usize = SECTOR_SIZE;
const SECTORS: usize = 16;
const FILE_SIZE: u64 = (SECTORS * SECTOR) as u64;
/// A bound on loop passes waiting for one op, far above what any op needs.
const MAX_PASSES: usize = 100_000;

#[derive(Arbitrary, Debug)]
struct Input {
    seed: u64,
    faults: Faults,
    actions: Vec<Action>,
}

/// Fault rates in thousandths (0 is off) and latencies in microseconds.
#[derive(Arbitrary, Debug)]
struct Faults {
    read_latency_us: u8,
    write_latency_us: u8,
    fsync_latency_us: u8,
    latent_sector_error: u8,
    bit_rot: u8,
    misdirected_write: u8,
    torn_write: u8,
    no_space: u8,
    fsync_error: u8,
    crash: u8,
    net_delay_us: u8,
    net_jitter_us: u8,
    partial_send: u8,
    partial_recv: u8,
    reset: u8,
    refuse: u8,
    /// Clock drift, in units of 400 ppm (the twin caps it at 100,000).
    clock_drift: u8,
    /// The node clock's start offset, in milliseconds.
    clock_offset_ms: u8,
    /// The mean gap between pauses, in units of 10 µs (0: no pauses).
    pause_every: u8,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum Action {
    /// Whole sectors of `strict`, waited for.
    WriteStrict {
        sector: u8,
        count: u8,
        fill: u8,
    },
    /// Any range of `strict`, waited for.
    ReadStrict {
        offset: u16,
        len: u16,
    },
    FsyncStrict {
        mode: u8,
    },
    /// Any range of `wild`, not waited for.
    WriteWild {
        offset: u16,
        len: u16,
        fill: u8,
    },
    ReadWild {
        offset: u16,
        len: u16,
    },
    FsyncWild,
    /// Power loss, restart, reopen.
    Crash,
    /// A write of `strict` in flight (maybe run for a while) when the power goes.
    CrashDuringWrite {
        sector: u8,
        count: u8,
        fill: u8,
        after_us: u8,
    },
    /// Submits while the node is down are refused.
    SubmitWhileDown,
    Timeout {
        micros: u16,
    },
    CancelLast,
    ResetLast {
        micros: u16,
    },
    RunFor {
        micros: u16,
    },
    Tick,
    RunOnce,
    /// Node 1 sends to node 0 (`to_server`) or node 0 to node 1.
    Send {
        to_server: bool,
        len: u16,
        fill: u8,
    },
    Recv {
        at_server: bool,
        len: u16,
    },
    /// Node 1 shuts down its writing half.
    ShutdownClient,
    Partition,
    Heal,
    /// `open_data_file` of one of a few names, with a purpose and size.
    OpenFile {
        name: u8,
        purpose: u8,
        sectors: u8,
    },
    /// Closes the file `OpenFile` opened last, if any.
    CloseFile,
    /// User events of node 0.
    OpenEvent,
    Listen {
        event: u8,
    },
    Trigger {
        event: u8,
    },
    CloseEvent {
        event: u8,
    },
    /// Asks the next run to return after one pass.
    Stop,
}

const NAMES: [&str; 4] = ["strict", "wild", "extra0", "extra1"];

/// A data file as `open_data_file` must see it.
#[derive(Clone, Copy)]
struct FileModel {
    /// Its size, if it exists (created by `Format`, which syncs it).
    size: Option<u64>,
    /// A writable descriptor holds its lock.
    locked: bool,
}

fn ratio(per_mille: u8) -> Ratio {
    Ratio::new(u32::from(per_mille), 1000).expect("at most 255/1000")
}

fn latency(us: u8) -> Latency {
    let ns = u64::from(us) * 1000;
    Latency { floor_ns: ns / 2, spread_ns: ns, tail: Ratio::ZERO, tail_ns: 0 }
}

impl Faults {
    fn config(&self) -> FaultConfig {
        FaultConfig {
            storage: StorageFaults {
                read_latency: latency(self.read_latency_us),
                write_latency: latency(self.write_latency_us),
                fsync_latency: latency(self.fsync_latency_us),
                latent_sector_error: ratio(self.latent_sector_error),
                bit_rot: ratio(self.bit_rot),
                misdirected_write: ratio(self.misdirected_write),
                torn_write: ratio(self.torn_write),
                no_space: ratio(self.no_space),
                fsync_error: ratio(self.fsync_error),
                ..StorageFaults::default()
            },
            network: NetworkFaults {
                delay_min_ns: (u64::from(self.net_delay_us) + 1) * 1000,
                delay_jitter_ns: u64::from(self.net_jitter_us) * 1000,
                delay_tail: Ratio::ZERO,
                delay_tail_ns: 0,
                partial_send: ratio(self.partial_send),
                partial_recv: ratio(self.partial_recv),
                reset: ratio(self.reset / 4),
                refuse: ratio(self.refuse),
                // The node and link faults are not fuzzed here (yet): off.
                ..NetworkFaults::none()
            },
            crash: match self.crash % 4 {
                0 => CrashPolicy::LoseUnsynced,
                1 => CrashPolicy::KeepUnsynced,
                2 => CrashPolicy::TearUnsynced,
                _ => CrashPolicy::Any,
            },
            // Timers fire on their node's clock and never early, which
            // `on_timeout` checks; a paused node's wait for the pause's end
            // (the overdue check after `run_for_ns` allows for it).
            clock: ClockFaults {
                drift_ppm: u32::from(self.clock_drift) * 400,
                offset_ns: u64::from(self.clock_offset_ms) * 1_000_000,
                pause_interval_ns: u64::from(self.pause_every) * 10_000,
                pause_min_ns: 10_000,
                pause_max_ns: 500_000,
            },
        }
    }
}

/// The possible contents of one sector of `strict`.
#[derive(Clone, Debug)]
struct SectorModel {
    /// What a read may see now.
    cached: Vec<Vec<u8>>,
    /// What a crash may leave (or leaves: a set of one).
    durable: Vec<Vec<u8>>,
    /// Written since the last fsync that took it (a crash keeps it only as
    /// the policy allows).
    dirty: bool,
    /// `cached` and `durable` are the same physical copy (nothing written
    /// since a crash or a successful sync), so a read that narrows one
    /// narrows the other.
    same: bool,
    /// A write of it was in flight at a crash: whether it reached the cache,
    /// and so whether the sector was dirty, is unknown.
    uncertain: bool,
}

fn union(into: &mut Vec<Vec<u8>>, from: &[Vec<u8>]) {
    for candidate in from {
        if !into.contains(candidate) {
            into.push(candidate.clone());
        }
    }
}

/// What one op's callback delivered.
#[derive(Debug)]
enum Outcome {
    Read(Result<usize, ReadError>, Vec<u8>),
    Write(Result<usize, WriteError>),
    Fsync(Result<(), FsyncError>),
}

/// One direction of the current connection.
#[derive(Default)]
struct Stream {
    /// Bytes sends took, in completion order.
    sent: Vec<u8>,
    /// Bytes receives delivered, in completion order.
    received: Vec<u8>,
    /// The receiver saw end of stream.
    eof: bool,
    /// The receiver saw a reset.
    reset: bool,
    /// The sender shut down its writing half.
    shut: bool,
}

/// The connection node 1 holds to node 0, if one is up.
struct Connection {
    server: Fd,
    client: Fd,
    /// Which connection this is (0, 1, ... across crashes).
    epoch: u32,
    to_server: Stream,
    to_client: Stream,
}

#[derive(Default)]
struct Ctx {
    /// Per accepted op: callbacks run (must end at exactly one, or zero if
    /// a crash dropped it).
    callbacks: Vec<u32>,
    /// Ops a crash dropped: they must never call back.
    dropped: Vec<bool>,
    outcomes: Vec<Option<Outcome>>,
    /// Per accepted op: its timeout deadline, if a timeout.
    deadlines: Vec<Option<u64>>,
    canceled: Vec<bool>,
    /// Per accepted op: the connection epoch and direction (true: towards
    /// the server) of a send or receive.
    net: Vec<Option<(u32, bool)>>,
    /// The connection's epoch and streams.
    conn: Option<Connection>,
    /// Epochs whose connection a crash ended.
    ended: u32,
    /// Per accepted op on `wild`: the bytes it must move if it succeeds.
    wild_len: Vec<Option<usize>>,
    /// Per accepted op: submitted by node 1 (which never crashes).
    on_client: Vec<bool>,
    reset_fault: bool,
    /// Accepts, connects and closes in flight (bookkeeping, not model ops).
    untracked: usize,
    /// The listener's accept is in flight (a crash of node 0 drops it).
    accept_pending: bool,
    accepted_socket: Option<Result<Fd, AcceptError>>,
    file_closed: bool,
    /// `finish` canceled everything left.
    finishing: bool,
    /// User events of node 0.
    events: Events,
    connected: Option<Result<(), ConnectError>>,
    /// Everything observed, in order, for the determinism check.
    log: Vec<u64>,
}

impl Ctx {
    fn done(&mut self, tag: u64) -> usize {
        let op = tag as usize;
        assert!(!self.dropped[op], "op {op} dropped by a crash called back");
        self.callbacks[op] += 1;
        assert_eq!(self.callbacks[op], 1, "op {op} called back twice");
        self.log.push(tag);
        op
    }

    fn live(&self, op: usize) -> bool {
        self.callbacks[op] == 0 && !self.dropped[op]
    }
}

fn on_read(ctx: &mut Ctx, _: &mut SimIO<Ctx>, done: ReadDone) {
    let op = ctx.done(done.tag);
    let n = *done.result.as_ref().unwrap_or(&0);
    ctx.log.push(n as u64);
    ctx.outcomes[op] = Some(Outcome::Read(done.result, done.buffer[..n].to_vec()));
}

fn on_write(ctx: &mut Ctx, _: &mut SimIO<Ctx>, done: WriteDone) {
    let op = ctx.done(done.tag);
    ctx.log.push(done.result.is_ok() as u64);
    ctx.outcomes[op] = Some(Outcome::Write(done.result));
}

fn on_fsync(ctx: &mut Ctx, _: &mut SimIO<Ctx>, done: FsyncDone) {
    let op = ctx.done(done.tag);
    ctx.log.push(done.result.is_ok() as u64);
    ctx.outcomes[op] = Some(Outcome::Fsync(done.result));
}

fn on_event(ctx: &mut Ctx, _: &mut SimIO<Ctx>, done: EventDone) {
    let op = ctx.done(done.tag);
    ctx.events.started(op);
    ctx.log.push(done.result.is_ok() as u64);
    match done.result {
        Ok(()) => assert!(ctx.events.may_succeed(op), "listener {op} fired without a trigger"),
        Err(EventError::Canceled) => assert!(ctx.canceled[op], "listener {op} canceled unasked"),
        Err(error) => panic!("listener {op}: {error:?}"),
    }
}

fn on_timeout(ctx: &mut Ctx, io: &mut SimIO<Ctx>, done: TimeoutDone) {
    let op = ctx.done(done.tag);
    let deadline = ctx.deadlines[op].expect("a timeout");
    match done.result {
        Ok(()) => {
            assert!(!ctx.canceled[op], "canceled timeout {op} fired");
            assert!(io.now_ns() >= deadline, "timeout {op} fired before its deadline");
        }
        Err(TimeoutError::Canceled) => assert!(ctx.canceled[op], "timeout {op} canceled unasked"),
        Err(error) => panic!("timeout: {error:?}"),
    }
    ctx.log.push(io.now_ns());
}

/// The stream a network op of `op` used, if its connection is still the
/// current one; `None` if a crash ended it (anything goes but data).
fn stream_of(ctx: &mut Ctx, op: usize) -> (Option<&mut Stream>, bool) {
    let (epoch, to_server) = ctx.net[op].expect("a network op");
    let ended = epoch < ctx.ended;
    let canceled = ctx.canceled[op];
    match &mut ctx.conn {
        Some(conn) if conn.epoch == epoch && !ended => {
            let stream = if to_server { &mut conn.to_server } else { &mut conn.to_client };
            (Some(stream), canceled)
        }
        _ => (None, true),
    }
}

fn on_send(ctx: &mut Ctx, _: &mut SimIO<Ctx>, done: SendDone) {
    let op = ctx.done(done.tag);
    let reset_fault = ctx.reset_fault;
    let len = done.buffer.len();
    ctx.log.push(*done.result.as_ref().unwrap_or(&0) as u64);
    let (stream, canceled) = stream_of(ctx, op);
    let Some(stream) = stream else {
        return match done.result {
            Ok(_)
            | Err(SendError::Canceled | SendError::ConnectionResetByPeer | SendError::BrokenPipe) =>
                {}
            Err(error) => panic!("send {op} on an ended connection: {error:?}"),
        };
    };
    match done.result {
        Ok(n) => {
            assert!((1..=len).contains(&n), "send {op} took {n} of {len}");
            assert!(!stream.shut, "send {op} after shutdown succeeded");
            stream.sent.extend_from_slice(&done.buffer[..n]);
        }
        Err(SendError::Canceled) => assert!(canceled, "send {op} canceled unasked"),
        Err(SendError::BrokenPipe) => assert!(stream.shut || reset_fault, "send {op}: EPIPE"),
        Err(SendError::ConnectionResetByPeer) => assert!(reset_fault, "send {op}: reset"),
        Err(error) => panic!("send {op}: {error:?}"),
    }
}

fn on_recv(ctx: &mut Ctx, _: &mut SimIO<Ctx>, done: RecvDone) {
    let op = ctx.done(done.tag);
    let reset_fault = ctx.reset_fault;
    ctx.log.push(*done.result.as_ref().unwrap_or(&0) as u64);
    let (stream, canceled) = stream_of(ctx, op);
    let Some(stream) = stream else {
        return match done.result {
            Ok(_) | Err(RecvError::Canceled | RecvError::ConnectionResetByPeer) => {}
            Err(error) => panic!("recv {op} on an ended connection: {error:?}"),
        };
    };
    match done.result {
        Ok(0) => {
            assert!(stream.shut || reset_fault, "recv {op}: end of stream, never shut");
            stream.eof = true;
        }
        Ok(n) => {
            assert!(!stream.eof && !stream.reset, "recv {op}: data after the end of stream");
            stream.received.extend_from_slice(&done.buffer[..n]);
        }
        Err(RecvError::Canceled) => assert!(canceled, "recv {op} canceled unasked"),
        Err(RecvError::ConnectionResetByPeer) => {
            assert!(reset_fault, "recv {op}: reset with the fault off");
            stream.reset = true;
        }
        Err(error) => panic!("recv {op}: {error:?}"),
    }
}

fn on_accept(ctx: &mut Ctx, _: &mut SimIO<Ctx>, done: AcceptDone) {
    ctx.untracked -= 1;
    ctx.accept_pending = false;
    ctx.accepted_socket = Some(done.result);
}

fn on_connect(ctx: &mut Ctx, _: &mut SimIO<Ctx>, done: ConnectDone) {
    ctx.untracked -= 1;
    ctx.connected = Some(done.result);
}

fn on_file_close(ctx: &mut Ctx, _: &mut SimIO<Ctx>, done: CloseDone) {
    ctx.untracked -= 1;
    ctx.file_closed = true;
    assert_eq!(done.result, Ok(()), "close of a file or directory");
}

fn on_close(ctx: &mut Ctx, _: &mut SimIO<Ctx>, done: CloseDone) {
    ctx.untracked -= 1;
    // Still waiting (for ops on the socket to finish) when `finish`
    // withdrew everything: canceled.
    let canceled = ctx.finishing && done.result == Err(CloseError::Canceled);
    assert!(done.result.is_ok() || canceled, "close of an old socket: {:?}", done.result);
}

const SERVER: NodeId = NodeId::FIRST;
const SERVER_ADDRESS: &str = "10.0.0.1:7000";

struct Harness {
    io: SimIO<Ctx>,
    ctx: Ctx,
    client_node: NodeId,
    config: FaultConfig,
    strict: Fd,
    wild: Fd,
    model: Vec<SectorModel>,
    last: Option<(OpId, usize)>,
    files: [FileModel; 4],
    /// Descriptors `OpenFile` opened: (fd, name index, writable).
    opened: Vec<(Fd, usize, bool)>,
    /// A `Stop` may still be pending: the next run may end after one pass.
    stop: bool,
}

impl Harness {
    fn new(seed: u64, config: FaultConfig) -> Harness {
        let mut io = SimIO::new(seed, 32, config);
        let client_node = io.add_node();
        io.set_fault_exempt(NodeId::FIRST, Path::new("strict"), true);
        let (strict, wild) = open_files(&mut io, FilePurpose::Format);
        let zeros = vec![0u8; SECTOR];
        let blank = SectorModel {
            cached: vec![zeros.clone()],
            durable: vec![zeros],
            dirty: false,
            same: true,
            uncertain: false,
        };
        let ctx = Ctx { reset_fault: !config.network.reset.is_zero(), ..Ctx::default() };
        let mut harness = Harness {
            io,
            ctx,
            client_node,
            config,
            strict,
            wild,
            model: vec![blank; SECTORS],
            last: None,
            files: [
                FileModel { size: Some(FILE_SIZE), locked: true },
                FileModel { size: Some(FILE_SIZE), locked: true },
                FileModel { size: None, locked: false },
                FileModel { size: None, locked: false },
            ],
            opened: Vec::new(),
            stop: false,
        };
        harness.connect();
        harness
    }

    /// Connects node 1 to a new listener on node 0 (retrying refusals, a
    /// fault). Accept and connect are bookkeeping, not ops of the model.
    fn connect(&mut self) {
        let io = &mut self.io;
        let listener =
            io.open_socket(AddressFamily::Ipv4, SocketOptions::default()).expect("socket");
        let address: SocketAddr = SERVER_ADDRESS.parse().expect("address");
        io.listen(listener, address, 4).expect("listen");
        // Every slot may be taken by ops of node 1 still waiting on the
        // old connection: then there is no connection this time.
        if let Err(error) = io.accept(listener, u64::MAX, on_accept) {
            return assert_eq!(error, SubmitError::NoFreeSlot);
        }
        self.ctx.untracked += 1;
        self.ctx.accept_pending = true;
        io.set_current_node(self.client_node).expect("node");
        let mut connected = None;
        for _ in 0..32 {
            let client =
                io.open_socket(AddressFamily::Ipv4, SocketOptions::default()).expect("socket");
            if let Err(error) = io.connect(client, address, u64::MAX, on_connect) {
                assert_eq!(error, SubmitError::NoFreeSlot);
                break;
            }
            self.ctx.untracked += 1;
            while self.ctx.connected.is_none() {
                io.run_once(&mut self.ctx).expect("run");
            }
            match self.ctx.connected.take() {
                Some(Ok(())) => {
                    connected = Some(client);
                    break;
                }
                Some(Err(ConnectError::ConnectionRefused)) => {
                    if io.close(client, u64::MAX, on_close).is_ok() {
                        self.ctx.untracked += 1;
                    }
                }
                other => panic!("connect: {other:?}"),
            }
        }
        io.set_current_node(SERVER).expect("node");
        // 32 refusals in a row (a fault) or no free slot: no connection.
        let Some(client) = connected else { return };
        while self.ctx.accepted_socket.is_none() {
            io.run_once(&mut self.ctx).expect("run");
        }
        let server = self.ctx.accepted_socket.take().expect("accepted").expect("accept");
        self.ctx.conn = Some(Connection {
            server,
            client,
            epoch: self.ctx.ended,
            to_server: Stream::default(),
            to_client: Stream::default(),
        });
    }

    /// Each direction carried a prefix of what was sent.
    fn check_streams(&self) {
        if let Some(conn) = &self.ctx.conn {
            for (name, stream) in [("to server", &conn.to_server), ("to client", &conn.to_client)] {
                assert!(stream.sent.starts_with(&stream.received), "{name}: bytes altered");
            }
        }
    }

    fn net(&mut self, action: Action) {
        let Some(conn) = &self.ctx.conn else { return };
        let (server, client, epoch, shut) =
            (conn.server, conn.client, conn.epoch, conn.to_server.shut);
        let tag = self.next_tag();
        let (submitted, to_server) = match action {
            Action::Send { to_server, len, fill } => {
                let (node, fd) =
                    if to_server { (self.client_node, client) } else { (SERVER, server) };
                let len = usize::from(len) % 4096 + 1;
                let buffer = Buffer::from_slice(&vec![fill; len]).expect("buffer");
                self.io.set_current_node(node).expect("node");
                (self.io.send(fd, buffer, .., tag, on_send).map_err(|r| r.error), to_server)
            }
            Action::Recv { at_server, len } => {
                let (node, fd) =
                    if at_server { (SERVER, server) } else { (self.client_node, client) };
                let buffer = Buffer::new(usize::from(len) % 4096 + 1).expect("buffer");
                self.io.set_current_node(node).expect("node");
                (self.io.recv(fd, buffer, .., tag, on_recv).map_err(|r| r.error), at_server)
            }
            _ => {
                if !shut {
                    self.io.set_current_node(self.client_node).expect("node");
                    let result = self.io.shutdown(client, Shutdown::Write);
                    self.io.set_current_node(SERVER).expect("node");
                    match result {
                        Ok(()) => {}
                        // A reset connection is no longer connected.
                        Err(ShutdownError::NotConnected) if self.ctx.reset_fault => {}
                        Err(error) => panic!("shutdown: {error:?}"),
                    }
                    if let Some(conn) = &mut self.ctx.conn {
                        conn.to_server.shut = true;
                    }
                }
                return;
            }
        };
        self.io.set_current_node(SERVER).expect("node");
        match submitted {
            Ok(id) => {
                let op = self.accepted(id, None);
                self.ctx.net[op] = Some((epoch, to_server));
                self.ctx.on_client[op] = matches!(action, Action::Send { .. }) == to_server;
            }
            Err(error) => assert_eq!(error, SubmitError::NoFreeSlot),
        }
    }

    fn open_file(&mut self, name: u8, purpose: u8, sectors: u8) {
        let index = usize::from(name) % NAMES.len();
        let purpose = [FilePurpose::Format, FilePurpose::Open, FilePurpose::Inspect]
            [usize::from(purpose % 3)];
        // Now and then a size that is not a whole number of sectors.
        let size = u64::from(sectors % 4 + 1) * SECTOR as u64 + u64::from(sectors >> 7);
        let dir = self.io.open_dir(Path::new("data")).expect("open_dir");
        let result =
            self.io.open_data_file(dir, Path::new(NAMES[index]), size, purpose, DirectIo::Disabled);
        self.ctx.log.push(result.is_ok() as u64);
        let file = self.files[index];
        let mismatch = file.size.is_some_and(|existing| existing != size);
        let allowed: &[Result<(), OpenError>] = match (purpose, file.size) {
            _ if !size.is_multiple_of(SECTOR as u64) => &[Err(OpenError::SizeNotSectorMultiple)],
            (FilePurpose::Format, None) => &[Ok(())],
            (FilePurpose::Format, Some(_)) => &[Err(OpenError::AlreadyExists)],
            (_, None) => &[Err(OpenError::NotFound)],
            (FilePurpose::Open, Some(_)) if file.locked && mismatch => {
                &[Err(OpenError::Locked), Err(OpenError::SizeMismatch)]
            }
            (FilePurpose::Open, Some(_)) if file.locked => &[Err(OpenError::Locked)],
            (_, Some(_)) if mismatch => &[Err(OpenError::SizeMismatch)],
            (_, Some(_)) => &[Ok(())],
        };
        let got = result.map(drop);
        assert!(allowed.contains(&got), "open {} {purpose:?} {size}: {got:?}", NAMES[index]);
        if let Ok(fd) = result {
            let writable = purpose != FilePurpose::Inspect;
            let file = &mut self.files[index];
            file.size = Some(size);
            file.locked |= writable;
            self.opened.push((fd, index, writable));
        }
        let _ = self.close_and_wait(dir);
    }

    /// Closes a file or directory `fd` as a bookkeeping op and waits for it.
    /// Returns false if no slot was free.
    fn close_and_wait(&mut self, fd: Fd) -> bool {
        match self.io.close(fd, u64::MAX, on_file_close) {
            Ok(_) => {
                self.ctx.untracked += 1;
                while !std::mem::take(&mut self.ctx.file_closed) {
                    self.io.run_once(&mut self.ctx).expect("run");
                }
                true
            }
            Err(error) => {
                assert_eq!(error, SubmitError::NoFreeSlot);
                false
            }
        }
    }

    fn accepted(&mut self, id: OpId, deadline: Option<u64>) -> usize {
        let op = self.ctx.callbacks.len();
        self.ctx.callbacks.push(0);
        self.ctx.dropped.push(false);
        self.ctx.outcomes.push(None);
        self.ctx.deadlines.push(deadline);
        self.ctx.canceled.push(false);
        self.ctx.net.push(None);
        self.ctx.on_client.push(false);
        self.ctx.wild_len.push(None);
        self.last = Some((id, op));
        op
    }

    fn next_tag(&self) -> u64 {
        self.ctx.callbacks.len() as u64
    }

    /// Runs the loop until op `op` has called back.
    fn wait(&mut self, op: usize) -> Outcome {
        for _ in 0..MAX_PASSES {
            if let Some(outcome) = self.ctx.outcomes[op].take() {
                return outcome;
            }
            self.io.run_once(&mut self.ctx).expect("run_once");
        }
        panic!("op {op} never completed");
    }

    fn check_in_flight(&self) {
        let expected = (0..self.ctx.callbacks.len()).filter(|&op| self.ctx.live(op)).count();
        assert_eq!(self.io.in_flight(), expected + self.ctx.untracked, "in-flight count disagrees");
    }

    fn write_strict(&mut self, sector: u8, count: u8, fill: u8) -> Option<(usize, usize, Vec<u8>)> {
        let first = usize::from(sector) % SECTORS;
        let count = (usize::from(count) % 4 + 1).min(SECTORS - first);
        let data = vec![fill; count * SECTOR];
        let buffer = Buffer::from_slice(&data).expect("buffer");
        let offset = (first * SECTOR) as u64;
        let tag = self.next_tag();
        match self.io.write(self.strict, buffer, .., offset, tag, on_write) {
            Ok(id) => Some((self.accepted(id, None), first, data)),
            Err(rejected) => {
                assert_eq!(rejected.error, SubmitError::NoFreeSlot, "write refused");
                None
            }
        }
    }

    /// Applies a completed whole-sector write of `strict` to the model.
    fn wrote(&mut self, first: usize, data: &[u8], result: Result<usize, WriteError>) {
        match result {
            Ok(n) => {
                assert_eq!(n, data.len(), "a write inside the file is whole");
                for (i, chunk) in data.chunks(SECTOR).enumerate() {
                    let sector = &mut self.model[first + i];
                    sector.cached = vec![chunk.to_vec()];
                    sector.dirty = true;
                    sector.same = false;
                    sector.uncertain = false;
                }
            }
            Err(WriteError::NoSpaceLeft) => {
                assert!(!self.config.storage.no_space.is_zero(), "ENOSPC with no_space off");
            }
            Err(error) => panic!("write of strict: {error:?}"),
        }
    }

    fn read_strict(&mut self, offset: u16, len: u16) {
        let offset = u64::from(offset) % FILE_SIZE;
        let len = usize::from(len) % (2 * SECTOR) + 1;
        let tag = self.next_tag();
        let buffer = Buffer::new(len).expect("buffer");
        let op = match self.io.read(self.strict, buffer, .., offset, tag, on_read) {
            Ok(id) => self.accepted(id, None),
            Err(rejected) => return assert_eq!(rejected.error, SubmitError::NoFreeSlot),
        };
        let Outcome::Read(result, bytes) = self.wait(op) else { unreachable!() };
        let expected_len = len.min((FILE_SIZE - offset) as usize);
        assert_eq!(result, Ok(expected_len), "read of strict at {offset}+{len}");
        // Each sector the read covers must match one of its candidates;
        // those that do not are ruled out.
        let mut at = 0;
        while at < bytes.len() {
            let position = offset as usize + at;
            let index = position / SECTOR;
            let within = position % SECTOR;
            let take = (SECTOR - within).min(bytes.len() - at);
            let seen = &bytes[at..at + take];
            let sector = &mut self.model[index];
            sector.cached.retain(|candidate| &candidate[within..within + take] == seen);
            assert!(
                !sector.cached.is_empty(),
                "sector {index} of strict holds bytes the model never allowed (at {within}, {take} bytes)"
            );
            if sector.same {
                sector.durable = sector.cached.clone();
            }
            at += take;
        }
    }

    fn fsync_strict(&mut self, mode: u8) {
        let mode = [FsyncMode::Full, FsyncMode::Data, FsyncMode::Barrier, FsyncMode::FullOrPlain]
            [usize::from(mode % 4)];
        let tag = self.next_tag();
        let op = match self.io.fsync(self.strict, mode, tag, on_fsync) {
            Ok(id) => self.accepted(id, None),
            Err(error) => return assert_eq!(error, SubmitError::NoFreeSlot),
        };
        let Outcome::Fsync(result) = self.wait(op) else { unreachable!() };
        let failed = match result {
            Ok(()) => false,
            Err(FsyncError::InputOutput) => {
                assert!(!self.config.storage.fsync_error.is_zero(), "EIO with fsync_error off");
                true
            }
            Err(error) => panic!("fsync of strict: {error:?}"),
        };
        for sector in self.model.iter_mut().filter(|sector| sector.dirty) {
            sector.dirty = false;
            if failed {
                // Made durable or orphaned: either way no longer dirty.
                let cached = sector.cached.clone();
                union(&mut sector.durable, &cached);
            } else {
                sector.durable = sector.cached.clone();
                sector.same = true;
            }
        }
    }

    fn wild_span(offset: u16, len: u16) -> (u64, usize) {
        // Past the end now and then: `EFBIG` / end of file are in the sets.
        (u64::from(offset) % (FILE_SIZE + 2 * SECTOR as u64), usize::from(len) % (3 * SECTOR) + 1)
    }

    fn wild(&mut self, action: Action) {
        let tag = self.next_tag();
        let mut expected = None;
        let submitted = match action {
            Action::WriteWild { offset, len, fill } => {
                let (offset, len) = Self::wild_span(offset, len);
                // Data files keep their size: a write reaching past the end
                // is refused whole (`FileTooBig`), never short.
                expected = Some(if offset + len as u64 > FILE_SIZE { 0 } else { len });
                let buffer = Buffer::from_slice(&vec![fill; len]).expect("buffer");
                self.io.write(self.wild, buffer, .., offset, tag, on_write).map_err(|r| r.error)
            }
            Action::ReadWild { offset, len } => {
                let (offset, len) = Self::wild_span(offset, len);
                expected = Some(Self::wild_len(offset, len));
                let buffer = Buffer::new(len).expect("buffer");
                self.io.read(self.wild, buffer, .., offset, tag, on_read).map_err(|r| r.error)
            }
            _ => self.io.fsync(self.wild, FsyncMode::Full, tag, on_fsync),
        };
        match submitted {
            Ok(id) => {
                let op = self.accepted(id, None);
                self.ctx.wild_len[op] = expected;
            }
            Err(error) => assert_eq!(error, SubmitError::NoFreeSlot),
        }
    }

    /// The bytes a read at `offset` moves: none at or past the end.
    fn wild_len(offset: u64, len: usize) -> usize {
        if offset >= FILE_SIZE { 0 } else { len.min((FILE_SIZE - offset) as usize) }
    }

    /// Checks the outcomes of `wild` ops that completed since the last look.
    fn check_wild(&mut self) {
        let storage = self.config.storage;
        for op in 0..self.ctx.outcomes.len() {
            let Some(outcome) = self.ctx.outcomes[op].take() else { continue };
            let expected = self.ctx.wild_len[op].unwrap_or(0);
            let canceled = self.ctx.canceled[op];
            match outcome {
                Outcome::Read(Ok(n), _) => assert_eq!(n, expected, "wild read {op}"),
                Outcome::Read(Err(ReadError::InputOutput), _) => {
                    assert!(!storage.latent_sector_error.is_zero(), "read EIO with no sector fault")
                }
                Outcome::Write(Ok(n)) => assert_eq!(n, expected, "wild write {op}"),
                Outcome::Write(Err(WriteError::NoSpaceLeft)) => {
                    assert!(!storage.no_space.is_zero())
                }
                Outcome::Write(Err(WriteError::FileTooBig)) => assert_eq!(expected, 0),
                Outcome::Read(Err(ReadError::Canceled), _)
                | Outcome::Write(Err(WriteError::Canceled))
                | Outcome::Fsync(Err(FsyncError::Canceled)) => {
                    assert!(canceled, "op {op} canceled")
                }
                Outcome::Fsync(Ok(())) => {}
                Outcome::Fsync(Err(FsyncError::InputOutput)) => {
                    assert!(!storage.fsync_error.is_zero())
                }
                outcome => panic!("wild op {op}: {outcome:?}"),
            }
        }
    }

    fn crash(&mut self) {
        self.power_off();
        self.power_on();
    }

    /// Power loss: the model keeps what the policy allows.
    fn power_off(&mut self) {
        self.io.crash_node(NodeId::FIRST).expect("crash");
        for op in 0..self.ctx.callbacks.len() {
            if self.ctx.callbacks[op] == 0 && !self.ctx.on_client[op] {
                self.ctx.dropped[op] = true;
            }
        }
        if std::mem::take(&mut self.ctx.accept_pending) {
            self.ctx.untracked -= 1;
        }
        self.end_connection();
        // The process is gone, and with it every descriptor, lock and event.
        self.opened.clear();
        self.ctx.events.crashed();
        for file in &mut self.files {
            file.locked = false;
        }
        let policy = self.config.crash;
        for sector in &mut self.model {
            let mut left = sector.durable.clone();
            if sector.dirty {
                match policy {
                    CrashPolicy::LoseUnsynced => {}
                    CrashPolicy::KeepUnsynced if !sector.uncertain => left = sector.cached.clone(),
                    _ => union(&mut left, &sector.cached),
                }
            }
            sector.cached = left.clone();
            sector.durable = left;
            sector.dirty = false;
            sector.same = true;
            sector.uncertain = false;
        }
    }

    /// Restart, reopen, reconnect (across a healed network: a held SYN
    /// would never be answered).
    fn power_on(&mut self) {
        self.io.restart_node(NodeId::FIRST).expect("restart");
        (self.strict, self.wild) = open_files(&mut self.io, FilePurpose::Open);
        self.files[0].locked = true;
        self.files[1].locked = true;
        self.io.heal_all();
        self.connect();
    }

    /// Ends the connection a crash of node 0 broke.
    fn end_connection(&mut self) {
        self.ctx.ended += 1;
        if let Some(conn) = self.ctx.conn.take() {
            // Node 1 lives on: its end of the dead connection is closed,
            // which cancels whatever still waits on it.
            self.io.set_current_node(self.client_node).expect("node");
            let tag = u64::MAX;
            match self.io.close(conn.client, tag, on_close) {
                Ok(_) => self.ctx.untracked += 1,
                Err(SubmitError::NoFreeSlot) => {}
                Err(error) => panic!("close: {error:?}"),
            }
            self.io.set_current_node(SERVER).expect("node");
        }
    }

    fn step(&mut self, action: Action) {
        match action {
            Action::WriteStrict { sector, count, fill } => {
                if let Some((op, first, data)) = self.write_strict(sector, count, fill) {
                    let Outcome::Write(result) = self.wait(op) else { unreachable!() };
                    self.wrote(first, &data, result);
                }
            }
            Action::ReadStrict { offset, len } => self.read_strict(offset, len),
            Action::FsyncStrict { mode } => self.fsync_strict(mode),
            Action::WriteWild { .. } | Action::ReadWild { .. } | Action::FsyncWild => {
                self.wild(action)
            }
            Action::Crash => self.crash(),
            Action::CrashDuringWrite { sector, count, fill, after_us } => {
                if let Some((op, first, data)) = self.write_strict(sector, count, fill) {
                    self.io.run_for_ns(&mut self.ctx, u64::from(after_us) * 1000).expect("run");
                    match self.ctx.outcomes[op].take() {
                        Some(Outcome::Write(result)) => self.wrote(first, &data, result),
                        Some(outcome) => panic!("a write completed as {outcome:?}"),
                        None => {
                            // In flight: it may have reached the cache.
                            for (i, chunk) in data.chunks(SECTOR).enumerate() {
                                let sector = &mut self.model[first + i];
                                union(&mut sector.cached, &[chunk.to_vec()]);
                                sector.dirty = true;
                                sector.same = false;
                                sector.uncertain = true;
                            }
                        }
                    }
                }
                self.check_wild();
                self.crash();
            }
            Action::SubmitWhileDown => {
                self.check_wild();
                self.power_off();
                let tag = self.next_tag();
                let refused = self.io.timeout(0, tag, on_timeout);
                assert_eq!(refused, Err(SubmitError::Closed), "timeout on a crashed node");
                let buffer = Buffer::new(8).expect("buffer");
                let refused = self.io.read(self.strict, buffer, .., 0, tag, on_read);
                assert!(refused.is_err(), "read on a crashed node accepted");
                assert!(self.io.open_dir(Path::new("data")).is_err(), "open_dir while down");
                self.check_in_flight();
                self.power_on();
            }
            Action::Timeout { micros } => {
                let ns = u64::from(micros) * 1000;
                let deadline = self.io.now_ns() + ns;
                let tag = self.next_tag();
                match self.io.timeout(ns, tag, on_timeout) {
                    Ok(id) => {
                        self.accepted(id, Some(deadline));
                    }
                    Err(error) => assert_eq!(error, SubmitError::NoFreeSlot),
                }
            }
            Action::CancelLast => {
                if let Some((id, op)) = self.last {
                    match self.io.cancel(id) {
                        Ok(()) => {
                            assert!(self.ctx.live(op), "canceled op {op}, not in flight");
                            self.ctx.canceled[op] = true;
                            self.ctx.events.canceled(op);
                        }
                        Err(CancelError::NotRunning) => assert!(!self.ctx.live(op)),
                        Err(CancelError::AlreadyCanceled) => assert!(self.ctx.canceled[op]),
                        Err(error) => panic!("cancel: {error:?}"),
                    }
                }
            }
            Action::ResetLast { micros } => {
                if let Some((id, op)) = self.last {
                    let ns = u64::from(micros) * 1000;
                    let deadline = self.io.now_ns() + ns;
                    let result = self.io.reset_timeout(id, ns);
                    let resettable = self.ctx.live(op) && !self.ctx.canceled[op];
                    match (self.ctx.deadlines[op], resettable) {
                        (Some(_), true) => {
                            assert_eq!(result, Ok(()), "reset of timeout {op}");
                            self.ctx.deadlines[op] = Some(deadline);
                        }
                        _ => assert!(result.is_err(), "reset of op {op} accepted"),
                    }
                }
            }
            Action::RunFor { micros } => {
                self.io.run_for_ns(&mut self.ctx, u64::from(micros) * 1000).expect("run");
                // `run_for_ns` runs at least one pass, which takes a pending stop.
                if std::mem::take(&mut self.stop) {
                    return self.after_step();
                }
                let now = self.io.now_ns();
                // Timers are the server's; a paused node runs none of them.
                let paused = self.io.is_paused(SERVER);
                for op in 0..self.ctx.callbacks.len() {
                    if let Some(deadline) = self.ctx.deadlines[op] {
                        let overdue = !paused
                            && self.ctx.live(op)
                            && !self.ctx.canceled[op]
                            && deadline < now;
                        assert!(!overdue, "timeout {op} due at {deadline} still pending at {now}");
                    }
                }
            }
            Action::Tick => self.io.tick(&mut self.ctx).expect("tick"),
            // Bounded only while something is queued on the clock: a parked
            // receive alone waits for the world forever.
            Action::RunOnce => {
                self.run_once_while_queued();
            }
            Action::Send { .. } | Action::Recv { .. } | Action::ShutdownClient => self.net(action),
            Action::Partition => self.io.partition(SERVER, self.client_node),
            Action::Heal => self.io.heal_all(),
            Action::OpenFile { name, purpose, sectors } => self.open_file(name, purpose, sectors),
            Action::OpenEvent | Action::Listen { .. } | Action::Trigger { .. } => {
                self.event(action)
            }
            Action::CloseEvent { .. } => self.event(action),
            Action::Stop => {
                self.io.stop();
                self.stop = true;
            }
            Action::CloseFile => {
                if let Some(&(fd, index, writable)) = self.opened.last()
                    && self.close_and_wait(fd)
                {
                    self.opened.pop();
                    // Only this descriptor could hold the lock: the others
                    // were refused while it did.
                    if writable {
                        self.files[index].locked = false;
                    }
                }
            }
        }
        self.after_step();
    }

    fn after_step(&mut self) {
        self.check_streams();
        self.check_wild();
        self.check_in_flight();
    }

    fn event(&mut self, action: Action) {
        let events = &mut self.ctx.events;
        if let Action::OpenEvent = action {
            if events.len() < 4 {
                events.add(self.io.open_event().expect("open_event"));
            }
            return;
        }
        let (Action::Listen { event } | Action::Trigger { event } | Action::CloseEvent { event }) =
            action
        else {
            unreachable!("event actions only")
        };
        if events.len() == 0 {
            return;
        }
        let index = usize::from(event) % events.len();
        let (id, open, armed) = events.state(index);
        match action {
            Action::Listen { .. } => {
                let tag = self.next_tag();
                match (self.io.event_listen(id, tag, on_event), open, armed) {
                    (Ok(op_id), true, false) => {
                        let op = self.accepted(op_id, None);
                        self.ctx.events.listened(index, op);
                    }
                    (Err(SubmitError::UnknownEvent), false, _)
                    | (Err(SubmitError::AlreadyListening), true, true)
                    | (Err(SubmitError::NoFreeSlot), true, false) => {}
                    (result, open, armed) => {
                        panic!("listen on {index} (open {open}, armed {armed}): {result:?}")
                    }
                }
            }
            Action::Trigger { .. } => match (self.io.event_trigger(id), open) {
                (Ok(()), true) => events.triggered(index),
                (Err(EventError::UnknownEvent), false) => {}
                (result, open) => panic!("trigger of {index} (open {open}): {result:?}"),
            },
            _ => match (self.io.close_event(id), open) {
                (Ok(()), true) => {
                    if let Some(op) = events.closed(index) {
                        self.ctx.canceled[op] = true;
                    }
                }
                (Err(EventError::UnknownEvent), false) => {}
                (result, open) => panic!("close of event {index} (open {open}): {result:?}"),
            },
        }
    }

    /// One `run_once` if something is queued on the clock; false if nothing
    /// was, or the run stalled. An op held through a pause is queued, but
    /// once released a network op may park on a socket nothing will reach:
    /// the run then stalls with the clock empty (a stall needs it so), which
    /// is the right answer, not a failure.
    fn run_once_while_queued(&mut self) -> bool {
        if self.io.queued() == 0 {
            return false;
        }
        match self.io.run_once(&mut self.ctx) {
            Ok(()) => true,
            Err(RunError::Stalled) if self.io.queued() == 0 => false,
            Err(error) => panic!("run_once: {error:?}"),
        }
    }

    /// Delivers everything still in flight, then checks every accepted op
    /// called back exactly once unless a crash dropped it.
    fn finish(&mut self) {
        self.io.heal_all();
        while self.run_once_while_queued() {}
        self.check_wild();
        // What is left waits on the network: withdraw it.
        for op in 0..self.ctx.callbacks.len() {
            self.ctx.canceled[op] |= self.ctx.live(op);
        }
        self.ctx.finishing = true;
        self.io.cancel_all();
        // Twice: a `Stop` still pending ends the first after one pass.
        self.io.run_until_done(&mut self.ctx).expect("run");
        self.io.run_until_done(&mut self.ctx).expect("run");
        self.check_wild();
        self.check_streams();
        for op in 0..self.ctx.callbacks.len() {
            let expected = u32::from(!self.ctx.dropped[op]);
            assert_eq!(self.ctx.callbacks[op], expected, "op {op} callbacks");
        }
        // The model and the file still agree after a last sync.
        self.fsync_strict(0);
        self.read_strict(0, (2 * SECTOR - 1) as u16);
    }
}

/// Opens (or formats) both files in a fresh `data` directory handle.
fn open_files(io: &mut SimIO<Ctx>, purpose: FilePurpose) -> (Fd, Fd) {
    let dir = io.open_dir(Path::new("data")).expect("open_dir");
    let mut open = |name: &str| {
        io.open_data_file(dir, Path::new(name), FILE_SIZE, purpose, DirectIo::Disabled)
            .unwrap_or_else(|error| panic!("open {name} ({purpose:?}): {error:?}"))
    };
    (open("strict"), open("wild"))
}

/// Runs `input` once; returns the trace hash and everything observed.
fn run(input: &Input) -> (u64, Vec<u64>) {
    let mut harness = Harness::new(input.seed, input.faults.config());
    for &action in input.actions.iter().take(200) {
        harness.step(action);
    }
    harness.finish();
    (harness.io.trace_hash(), std::mem::take(&mut harness.ctx.log))
}

fuzz_target!(|input: Input| {
    let first = run(&input);
    let second = run(&input);
    assert!(first == second, "the same input ran twice differently");
});
