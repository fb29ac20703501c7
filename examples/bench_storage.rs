//! Benchmark (not a test): how fast the twin's simulated storage takes a
//! file workload, with faults off.
//!
//! The workload (the one issue 15 compares against other simulators):
//! 100,000 writes of 4 KiB at pseudo-random 4 KiB-aligned offsets of a
//! 64 MiB data file, an fsync after every 16th write, each callback
//! submitting the next operation. Every written block carries its write's
//! number, so no two writes copy the same bytes; after the run every
//! sector is read back and checked against a model of what was written
//! last (the check is outside the timed part).
//!
//! A second line runs the same workload with crashes in it: every 1,000
//! writes the node crashes under `CrashPolicy::Any` and restarts, so the
//! cost of resolving unsynced versions shows (the check then only counts
//! sectors that match the model: lost unsynced writes are allowed).
//!
//! ```text
//! cargo run --release --example bench_storage -- [--writes N] [--reps N]
//! ```
//!
//! Each repetition is a fresh simulation, so its first writes touch fresh
//! memory. Whether a repetition reuses the heap its predecessor freed
//! depends on the allocator (glibc returns a large free region at the top
//! of the heap to the kernel, see `MALLOC_TRIM_THRESHOLD_`), so compare
//! layouts with `--reps 1` in fresh processes, alternating, as well as
//! with the in-process median.

use std::path::Path;
use std::time::Instant;

use twinio::{
    Buffer, DirectIo, Fd, FilePurpose, FsyncDone, FsyncMode, Io, ReadDone, SECTOR_SIZE, WriteDone,
};
use twinio::{CrashPolicy, FaultConfig, SimIO};

mod support;

use support::{flag, median};

const FILE_SIZE: u64 = 64 << 20;
const SECTORS: u64 = FILE_SIZE / SECTOR_SIZE as u64;
const FSYNC_EVERY: u64 = 16;

struct Ctx {
    fd: Fd,
    written: u64,
    target: u64,
    state: u64,
    /// Per sector: the number of the last write to it (0: never).
    model: Vec<u64>,
    buffer: Option<Buffer>,
    verify_failures: u64,
}

impl Ctx {
    /// xorshift64*: the same offsets on every run.
    fn next_sector(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        (self.state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 8) % SECTORS
    }
}

fn submit_next(ctx: &mut Ctx, io: &mut SimIO<Ctx>, mut buffer: Buffer) {
    if ctx.written == ctx.target {
        ctx.buffer = Some(buffer);
        return;
    }
    ctx.written += 1;
    let sector = ctx.next_sector();
    buffer[..8].copy_from_slice(&ctx.written.to_le_bytes());
    ctx.model[sector as usize] = ctx.written;
    io.write(ctx.fd, buffer, .., sector * SECTOR_SIZE as u64, 0, on_write).expect("submit");
}

fn on_write(ctx: &mut Ctx, io: &mut SimIO<Ctx>, done: WriteDone) {
    assert_eq!(done.result, Ok(SECTOR_SIZE), "write");
    if ctx.written.is_multiple_of(FSYNC_EVERY) {
        ctx.buffer = Some(done.buffer);
        io.fsync(ctx.fd, FsyncMode::Full, 0, on_fsync).expect("submit fsync");
    } else {
        submit_next(ctx, io, done.buffer);
    }
}

fn on_fsync(ctx: &mut Ctx, io: &mut SimIO<Ctx>, done: FsyncDone) {
    assert!(done.result.is_ok(), "fsync");
    let buffer = ctx.buffer.take().expect("the chain's buffer");
    submit_next(ctx, io, buffer);
}

fn on_check(ctx: &mut Ctx, _: &mut SimIO<Ctx>, done: ReadDone) {
    assert_eq!(done.result, Ok(SECTOR_SIZE), "read");
    let sector = done.tag as usize;
    let stamp = u64::from_le_bytes(done.buffer[..8].try_into().expect("8 bytes"));
    if stamp != ctx.model[sector] {
        ctx.verify_failures += 1;
    }
    ctx.buffer = Some(done.buffer);
}

fn open(io: &mut SimIO<Ctx>, purpose: FilePurpose) -> Fd {
    let dir = io.open_dir(Path::new("/bench")).expect("open_dir");
    io.open_data_file(dir, Path::new("bench.dat"), FILE_SIZE, purpose, DirectIo::Required)
        .expect("open bench file")
}

/// One run: seconds taken by the writes, and sectors that disagree with
/// the model afterwards.
fn run(writes: u64, crash_every: Option<u64>, seed: u64) -> (f64, u64) {
    let mut faults = FaultConfig::none();
    faults.crash = CrashPolicy::Any;
    let mut io: SimIO<Ctx> = SimIO::new(seed, 8, faults);
    let fd = open(&mut io, FilePurpose::Format);
    let mut ctx = Ctx {
        fd,
        written: 0,
        target: 0,
        state: 0x9e37_79b9_7f4a_7c15,
        model: vec![0; SECTORS as usize],
        buffer: Some(Buffer::new(SECTOR_SIZE).expect("buffer")),
        verify_failures: 0,
    };
    let step = crash_every.unwrap_or(writes).max(1);
    let start = Instant::now();
    while ctx.written < writes {
        ctx.target = (ctx.written + step).min(writes);
        let buffer = ctx.buffer.take().expect("buffer");
        submit_next(&mut ctx, &mut io, buffer);
        io.run_until_done(&mut ctx).expect("run");
        if crash_every.is_some() {
            let node = io.current_node();
            io.crash_node(node).expect("crash");
            io.restart_node(node).expect("restart");
            ctx.fd = open(&mut io, FilePurpose::Open);
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    for sector in 0..SECTORS {
        let buffer = ctx.buffer.take().expect("buffer");
        io.read(ctx.fd, buffer, .., sector * SECTOR_SIZE as u64, sector, on_check)
            .expect("submit read");
        io.run_until_done(&mut ctx).expect("run");
    }
    (seconds, ctx.verify_failures)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let writes = flag(&args, "--writes", 100_000).max(1);
    let reps = flag(&args, "--reps", 5).max(1);
    println!(
        "bench_storage: {writes} random 4 KiB writes into 64 MiB, fsync every {FSYNC_EVERY}, \
         medians of {reps}"
    );
    for (label, crash_every) in [("no crashes", None), ("crash every 1000 writes", Some(1000))] {
        let mut rates = Vec::new();
        let mut mismatched = 0;
        for rep in 0..reps {
            let (seconds, failures) = run(writes, crash_every, rep);
            rates.push(writes as f64 / seconds);
            mismatched += failures;
        }
        let rate = median(&mut rates);
        println!("SimIO, {label:<24} {rate:>12.0} writes/s  ({mismatched} sectors off the model)");
        if crash_every.is_none() {
            assert_eq!(mismatched, 0, "without crashes every sector holds its last write");
        }
    }
}
