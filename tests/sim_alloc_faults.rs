//! The twin allocates nothing per operation in steady state under faults:
//! partial sends and receives, network delays with jitter and a tail,
//! link bandwidth (segments queued per link), an armed retransmission
//! timeout, drifting node clocks and node pauses,
//! storage latencies and the storage faults (latent sector errors, bit
//! rot, misdirected and torn writes, no space; failed fsyncs not yet, see
//! `heavy`). A counting
//! global allocator (counting only this thread) watches a workload of
//! streams in both directions of one connection, a write / read / fsync
//! cycle over a file and a timer, after a warm-up that brings every list
//! and buffer to its working size.

use std::cell::Cell;
use std::net::SocketAddr;
use std::path::Path;

use twinio::*;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::allocations;

const CHUNK: usize = 4096;
const SECTORS: u64 = 16;

/// Tags: which loop a completion belongs to.
const CLIENT: u64 = 1;
const SERVER: u64 = 2;

#[derive(Default)]
struct Load {
    client: Option<Fd>,
    server: Option<Fd>,
    file: Option<Fd>,
    /// Where each sender is in its buffer.
    sent: [usize; 3],
    /// Bytes each receiver got, checked against the sender's pattern.
    received: [u64; 3],
    ops: u64,
    /// Once set, every loop stops resubmitting.
    stopping: bool,
    /// The stream's pattern, twice over.
    expected: Vec<u8>,
}

impl Load {
    fn socket(&self, side: u64) -> Fd {
        if side == CLIENT { self.client.unwrap() } else { self.server.unwrap() }
    }
    fn peer(&self, side: u64) -> Fd {
        self.socket(3 - side)
    }
}

/// The byte at stream position `at`: both ends agree on it, so every byte
/// read is checked without keeping a copy.
fn pattern(at: u64) -> u8 {
    (at % 251) as u8
}

fn on_send(load: &mut Load, io: &mut SimIO<Load>, done: SendDone) {
    if load.stopping {
        return;
    }
    let side = done.tag;
    let n = done.result.expect("no reset fault: sends succeed");
    load.ops += 1;
    load.sent[side as usize] = (load.sent[side as usize] + n) % CHUNK;
    let from = load.sent[side as usize];
    io.send(load.socket(side), done.buffer, from.., side, on_send).unwrap();
}

fn on_recv(load: &mut Load, io: &mut SimIO<Load>, done: RecvDone) {
    // The receiving side is the sender's peer: tag names the sender.
    if load.stopping {
        return;
    }
    let side = done.tag;
    let n = done.result.expect("recv succeeds");
    assert!(n > 0, "the peer never closes");
    load.ops += 1;
    let start = load.received[side as usize];
    // The sender's buffer repeats every CHUNK bytes; `expected` holds two.
    let position = (start % CHUNK as u64) as usize;
    assert!(done.buffer[..n] == load.expected[position..position + n], "stream at {start}");
    load.received[side as usize] += n as u64;
    io.recv(load.peer(side), done.buffer, .., side, on_recv).unwrap();
}

fn on_write(load: &mut Load, io: &mut SimIO<Load>, done: WriteDone) {
    load.ops += 1;
    let offset = (load.ops % SECTORS) * SECTOR_SIZE as u64;
    io.read(load.file.unwrap(), done.buffer, .., offset, 0, on_read).unwrap();
}

fn on_read(load: &mut Load, io: &mut SimIO<Load>, done: ReadDone) {
    load.ops += 1;
    PARKED.with(|parked| parked.set(Some(done.buffer)));
    io.fsync(load.file.unwrap(), FsyncMode::Full, 0, on_fsync).unwrap();
}

fn on_fsync(load: &mut Load, io: &mut SimIO<Load>, _done: FsyncDone) {
    load.ops += 1;
    io.timeout(1_000, 0, on_timeout).unwrap();
}

fn on_timeout(load: &mut Load, io: &mut SimIO<Load>, _done: TimeoutDone) {
    load.ops += 1;
    if load.stopping {
        return;
    }
    let buffer = PARKED.with(|parked| parked.take()).unwrap();
    let offset = (load.ops % SECTORS) * SECTOR_SIZE as u64;
    io.write(load.file.unwrap(), buffer, .., offset, 0, on_write).unwrap();
}

thread_local! {
    /// The file cycle's one buffer, between its read and its next write.
    static PARKED: Cell<Option<Buffer>> = const { Cell::new(None) };
}

fn on_accept(load: &mut Load, _: &mut SimIO<Load>, done: AcceptDone) {
    load.server = Some(done.result.unwrap());
}

fn on_connect(_: &mut Load, _: &mut SimIO<Load>, done: ConnectDone) {
    done.result.unwrap();
}

fn ratio(numerator: u32, denominator: u32) -> Ratio {
    Ratio::new(numerator, denominator).unwrap()
}

fn ignore_write(_: &mut Load, _: &mut SimIO<Load>, _: WriteDone) {}
fn ignore_fsync(_: &mut Load, _: &mut SimIO<Load>, _: FsyncDone) {}

/// Brings the file to its most expensive state once, without faults: every
/// sector with a durable and a cached copy (written, synced, written
/// again, synced), so the blocks any later state needs exist already.
fn precondition(io: &mut SimIO<Load>, load: &mut Load, size: u64) {
    let fd = load.file.unwrap();
    for _ in 0..2 {
        let data = Buffer::new(size as usize).unwrap();
        io.write(fd, data, .., 0, 0, ignore_write).unwrap();
        io.run_until_done(load).unwrap();
        io.fsync(fd, FsyncMode::Full, 0, ignore_fsync).unwrap();
        io.run_until_done(load).unwrap();
    }
    let data = Buffer::new(size as usize).unwrap();
    io.write(fd, data, .., 0, 0, ignore_write).unwrap();
    io.run_until_done(load).unwrap();
}

/// Runs the workload under `faults`; returns (allocations, operations) of
/// the measured window.
fn measure(seed: u64, faults: FaultConfig) -> (u64, u64) {
    let mut io: SimIO<Load> = SimIO::new(seed, 64, FaultConfig::none());
    let mut load = Load {
        expected: (0..2 * CHUNK as u64).map(|at| pattern(at % CHUNK as u64)).collect(),
        ..Load::default()
    };
    let listener = io.open_socket(AddressFamily::Ipv4, SocketOptions::default()).unwrap();
    let address: SocketAddr = "10.0.0.1:7000".parse().unwrap();
    io.listen(listener, address, 4).unwrap();
    let client = io.open_socket(AddressFamily::Ipv4, SocketOptions::default()).unwrap();
    io.accept(listener, 0, on_accept).unwrap();
    io.connect(client, address, 0, on_connect).unwrap();
    io.run_until_done(&mut load).unwrap();
    load.client = Some(client);
    let dir = io.open_dir(Path::new("alloc")).unwrap();
    let size = SECTORS * SECTOR_SIZE as u64;
    let file =
        io.open_data_file(dir, Path::new("data"), size, FilePurpose::Format, DirectIo::Required);
    load.file = Some(file.unwrap());
    precondition(&mut io, &mut load, size);
    io.set_faults(faults);

    let mut stream = Buffer::new(CHUNK).unwrap();
    for (at, byte) in stream.iter_mut().enumerate() {
        *byte = pattern(at as u64);
    }
    for side in [CLIENT, SERVER] {
        io.send(load.socket(side), stream.clone(), .., side, on_send).unwrap();
        io.recv(load.peer(side), Buffer::new(CHUNK).unwrap(), .., side, on_recv).unwrap();
    }
    PARKED.with(|parked| parked.set(Some(Buffer::new(SECTOR_SIZE).unwrap())));
    io.timeout(0, 0, on_timeout).unwrap();

    // Warm-up: every queue and buffer at its working size (the slowest
    // segments take tens of milliseconds: many times that).
    io.run_for_ns(&mut load, 150_000_000).unwrap();
    let (ops_before, before) = (load.ops, allocations());
    io.run_for_ns(&mut load, 100_000_000).unwrap();
    let (allocated, ops) = (allocations() - before, load.ops - ops_before);
    if faults.clock.pause_interval_ns > 0 && faults.clock.pause_interval_ns < 50_000_000 {
        assert!(io.pauses(NodeId::FIRST).unwrap() > 0, "the node paused");
    }
    load.stopping = true;
    io.cancel_all();
    io.run_for_ns(&mut load, 1_000_000_000).unwrap();
    assert!(load.received[1] > 0 && load.received[2] > 0, "both streams moved");
    (allocated, ops)
}

/// Every network fault but resets and refusals (they end the connection,
/// and with it the steady state), and every storage fault but failed
/// fsyncs, often.
fn heavy() -> FaultConfig {
    let latency =
        Latency { floor_ns: 2_000, spread_ns: 30_000, tail: ratio(1, 20), tail_ns: 5_000_000 };
    let storage = StorageFaults {
        read_latency: latency,
        write_latency: latency,
        fsync_latency: latency,
        latent_sector_error: ratio(1, 10),
        bit_rot: ratio(1, 10),
        misdirected_write: ratio(1, 10),
        torn_write: ratio(1, 10),
        no_space: ratio(1, 10),
        fsync_error: ratio(1, 10),
        ..StorageFaults::default()
    };
    let network = NetworkFaults {
        delay_min_ns: 5_000,
        delay_jitter_ns: 200_000,
        delay_tail: ratio(1, 50),
        delay_tail_ns: 20_000_000,
        partial_send: ratio(1, 2),
        partial_recv: ratio(1, 2),
        reset: Ratio::ZERO,
        refuse: Ratio::ZERO,
        // Links queue segments; the timeout is armed but never due.
        bandwidth_bytes_per_s: 50_000_000,
        rto_ns: 60_000_000_000,
        ..NetworkFaults::none()
    };
    // Drifting clocks from their own origins, and frequent pauses: held
    // operations wait in the deadline heap, which keeps its capacity.
    let clock = ClockFaults {
        drift_ppm: 2_000,
        offset_ns: 5_000_000_000,
        pause_interval_ns: 20_000_000,
        pause_min_ns: 100_000,
        pause_max_ns: 5_000_000,
    };
    FaultConfig { storage, network, clock, ..FaultConfig::none() }
}

#[test]
fn steady_state_allocates_nothing_under_heavy_faults() {
    let (allocated, ops) = measure(1, heavy());
    println!("heavy: {ops} operations, {allocated} allocations");
    assert!(ops > 2_000, "the workload ran: {ops} ops");
    assert_eq!(allocated, 0, "{allocated} allocations over {ops} operations");
}

#[test]
fn steady_state_allocates_nothing_under_swarm_faults() {
    for seed in 1..=8 {
        let mut faults = FaultConfig::swarm(seed);
        faults.network.reset = Ratio::ZERO;
        faults.network.refuse = Ratio::ZERO;
        // See `heavy`.
        faults.storage.fsync_error = Ratio::ZERO;
        let (allocated, ops) = measure(seed, faults);
        println!("seed {seed}: {ops} operations, {allocated} allocations");
        assert!(ops > 500, "seed {seed}: the workload ran: {ops} ops");
        assert_eq!(allocated, 0, "seed {seed}: {allocated} allocations over {ops} operations");
    }
}
