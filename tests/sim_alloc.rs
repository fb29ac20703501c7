//! The twin allocates nothing per operation in steady state: a counting
//! global allocator (counting only this thread) watches a write / read /
//! fsync / timeout cycle, with latencies, after a warm-up that touches
//! every sector the cycle uses.

use std::cell::Cell;
use std::path::Path;

use twinio::*;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::allocations;

#[derive(Default)]
struct Cycle {
    fd: Option<Fd>,
    left: u32,
    ops: u64,
}

const SECTORS: u64 = 16;

fn on_write(cycle: &mut Cycle, io: &mut SimIO<Cycle>, done: WriteDone) {
    done.result.unwrap();
    cycle.ops += 1;
    let offset = (cycle.ops % SECTORS) * SECTOR_SIZE as u64;
    io.read(cycle.fd.unwrap(), done.buffer, .., offset, 0, on_read).unwrap();
}

fn on_read(cycle: &mut Cycle, io: &mut SimIO<Cycle>, done: ReadDone) {
    done.result.unwrap();
    cycle.ops += 1;
    PARKED.with(|parked| parked.set(Some(done.buffer)));
    io.fsync(cycle.fd.unwrap(), FsyncMode::Full, 0, on_fsync).unwrap();
}

fn on_fsync(cycle: &mut Cycle, io: &mut SimIO<Cycle>, done: FsyncDone) {
    done.result.unwrap();
    cycle.ops += 1;
    io.timeout(1_000, 0, on_timeout).unwrap();
}

fn on_timeout(cycle: &mut Cycle, io: &mut SimIO<Cycle>, done: TimeoutDone) {
    done.result.unwrap();
    cycle.ops += 1;
    if cycle.left == 0 {
        return;
    }
    cycle.left -= 1;
    let buffer = PARKED.with(|parked| parked.take()).unwrap();
    let offset = (cycle.ops % SECTORS) * SECTOR_SIZE as u64;
    io.write(cycle.fd.unwrap(), buffer, .., offset, 0, on_write).unwrap();
}

thread_local! {
    /// The one buffer the cycle passes around between operations.
    static PARKED: Cell<Option<Buffer>> = const { Cell::new(None) };
}

fn latencies() -> StorageFaults {
    let latency = Latency { floor_ns: 2_000, spread_ns: 3_000, ..Latency::ZERO };
    StorageFaults {
        read_latency: latency,
        write_latency: latency,
        fsync_latency: latency,
        ..StorageFaults::default()
    }
}

#[test]
fn steady_state_allocates_nothing_per_operation() {
    assert_steady_state_allocates_nothing(latencies());
}

/// The storage faults that leave every result a success, on at once, and
/// the device model: their draws and effects allocate nothing either.
#[test]
fn storage_faults_allocate_nothing_per_operation() {
    let some = Ratio::new(1, 10).unwrap();
    assert_steady_state_allocates_nothing(StorageFaults {
        misdirected_read: some,
        stale_read: some,
        multi_bit_rot: some,
        sector_garbage: some,
        torn_write: some,
        misdirected_write: some,
        unwritten: Unwritten::Garbage,
        stall: some,
        stall_min_ns: 1_000,
        stall_max_ns: 1_000_000,
        iops: 100_000,
        bandwidth: 1 << 30,
        ..latencies()
    });
}

fn assert_steady_state_allocates_nothing(storage: StorageFaults) {
    let mut io: SimIO<Cycle> = SimIO::new(1, 16, FaultConfig { storage, ..FaultConfig::none() });
    let dir = io.open_dir(Path::new("alloc")).unwrap();
    let size = SECTORS * SECTOR_SIZE as u64;
    let fd =
        io.open_data_file(dir, Path::new("data"), size, FilePurpose::Format, DirectIo::Required);
    let mut cycle = Cycle { fd: Some(fd.unwrap()), left: 200, ops: 0 };
    PARKED.with(|parked| parked.set(Some(Buffer::new(SECTOR_SIZE).unwrap())));
    io.timeout(0, 0, on_timeout).unwrap();
    // Warm-up: every sector written once, every list at its working size.
    io.run_for_ns(&mut cycle, 500_000).unwrap();
    let ops_before = cycle.ops;
    let before = allocations();
    io.run_until_done(&mut cycle).unwrap();
    let allocated = allocations() - before;
    let ops = cycle.ops - ops_before;
    assert!(ops > 400, "the cycle ran: {ops} ops");
    assert_eq!(allocated, 0, "{allocated} allocations over {ops} operations");
}
