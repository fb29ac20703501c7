//! Benchmark (not a test): how many simulated operations per second the
//! twin runs on one core, against the real IO doing the same operations.
//!
//! The workload is one chain of 4 KiB file operations at pseudo-random
//! sector offsets of a 16 MiB data file: of every 16 operations, 8 are
//! writes, 7 reads and 1 an fsync. Each callback submits the next operation,
//! as a storage engine chains its IO. The same code, generic over `I: Io`,
//! runs against:
//!
//! - `SimIO` with faults off (`FaultConfig::none()`: no latency, so virtual
//!   time costs nothing) — the headline simulated ops/s;
//! - `SimIO` with a swarm fault configuration (latencies, corruption,
//!   ENOSPC, fsync errors: failed operations count as operations);
//! - the real `IO` on a data file under `target/` (the page cache for reads
//!   and writes, the device for fsync). The real run is disk bound (every
//!   16th op is an fsync), so the peer comparison uses `--real-ops`
//!   operations (default 50,000) on both sides, SimIO measured again at
//!   that count; the headline SimIO runs use `--ops` (default 1,000,000).
//!
//! ```text
//! cargo run --release --example bench_sim -- [--ops N] [--real-ops N] [--reps N]
//!     [--swarm-seed N] [--print-faults] [--sim-only]
//! ```

use std::path::{Path, PathBuf};
use std::time::Instant;

use twinio::{
    Buffer, DirectIo, Fd, FilePurpose, FsyncDone, FsyncMode, IO, Io, ReadDone, SECTOR_SIZE,
    WriteDone,
};
use twinio::{FaultConfig, SimIO};

mod support;

use support::{flag, median};

const FILE_SIZE: u64 = 16 << 20;
const BLOCK: usize = 4096;

struct Ctx {
    fd: Fd,
    remaining: u64,
    state: u64,
    failed: u64,
    buffer: Option<Buffer>,
}

impl Ctx {
    /// xorshift64*: the same sequence of operations for every backend.
    fn next(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// Counts one finished operation and submits the next, if any.
fn next_op<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, buffer: Buffer, ok: bool) {
    ctx.failed += u64::from(!ok);
    ctx.remaining -= 1;
    if ctx.remaining == 0 {
        ctx.buffer = Some(buffer);
        return;
    }
    let x = ctx.next();
    let offset = ((x >> 8) % (FILE_SIZE / SECTOR_SIZE as u64)) * SECTOR_SIZE as u64;
    match x % 16 {
        0..=7 => {
            io.write(ctx.fd, buffer, .., offset, 0, on_write::<I>).expect("submit write");
        }
        8..=14 => {
            io.read(ctx.fd, buffer, .., offset, 0, on_read::<I>).expect("submit read");
        }
        _ => {
            ctx.buffer = Some(buffer);
            io.fsync(ctx.fd, FsyncMode::Full, 0, on_fsync::<I>).expect("submit fsync");
        }
    }
}

fn on_write<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, done: WriteDone) {
    next_op(ctx, io, done.buffer, done.result == Ok(BLOCK));
}

fn on_read<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, done: ReadDone) {
    next_op(ctx, io, done.buffer, done.result == Ok(BLOCK));
}

fn on_fsync<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, done: FsyncDone) {
    let buffer = ctx.buffer.take().expect("the chain's buffer");
    next_op(ctx, io, buffer, done.result.is_ok());
}

/// Runs `ops` operations; returns (seconds, failed operations).
fn run<I: Io<Context = Ctx>>(io: &mut I, ctx: &mut Ctx, ops: u64) -> (f64, u64) {
    ctx.remaining = ops + 1;
    ctx.failed = 0;
    ctx.state = 0x9e37_79b9_7f4a_7c15;
    let buffer = ctx.buffer.take().expect("buffer");
    let start = Instant::now();
    // The first call submits the first operation (it counts nothing real:
    // `remaining` starts one higher).
    next_op(ctx, io, buffer, true);
    ctx.failed = 0;
    while ctx.remaining > 0 {
        io.run_once(ctx).expect("run");
    }
    (start.elapsed().as_secs_f64(), ctx.failed)
}

fn open_file<I: Io<Context = Ctx>>(io: &mut I, dir: &Path) -> Fd {
    let dir = io.open_dir(dir).expect("open_dir");
    io.open_data_file(
        dir,
        Path::new("bench.dat"),
        FILE_SIZE,
        FilePurpose::Format,
        DirectIo::Disabled,
    )
    .expect("format bench file")
}

fn context(fd: Fd) -> Ctx {
    let buffer = Buffer::from_slice(&[0x5a; BLOCK]).expect("buffer");
    Ctx { fd, remaining: 0, state: 1, failed: 0, buffer: Some(buffer) }
}

/// Runs `ops` operations on a fresh `SimIO` per repetition; returns the
/// median rate and the failed operations over all repetitions.
fn sim_rate(faults: FaultConfig, ops: u64, reps: usize) -> (f64, u64) {
    let mut rates = Vec::with_capacity(reps);
    let mut failed = 0;
    for rep in 0..reps {
        let mut io: SimIO<Ctx> = SimIO::new(rep as u64, 8, faults);
        let fd = open_file(&mut io, Path::new("/bench"));
        let mut ctx = context(fd);
        let (seconds, f) = run(&mut io, &mut ctx, ops);
        failed += f;
        rates.push(ops as f64 / seconds);
    }
    (median(&mut rates), failed)
}

fn report(label: &str, ops: u64, (rate, failed): (f64, u64)) -> f64 {
    println!("{label:<34} {ops:>9} ops {rate:>12.0} ops/s  ({failed} failed)");
    rate
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let ops = flag(&args, "--ops", 1_000_000).max(1);
    let real_ops = flag(&args, "--real-ops", 50_000).max(1);
    let reps = flag(&args, "--reps", 5).max(1) as usize;
    let swarm_seed = flag(&args, "--swarm-seed", 6);
    let swarm = FaultConfig::swarm(swarm_seed);
    println!(
        "bench_sim: 4 KiB ops (8 write : 7 read : 1 fsync), SimIO rates are medians of {reps}"
    );
    report("SimIO, faults off", ops, sim_rate(FaultConfig::none(), ops, reps));
    report(&format!("SimIO, swarm faults (seed {swarm_seed})"), ops, sim_rate(swarm, ops, reps));
    if args.iter().any(|a| a == "--print-faults") {
        println!("{swarm}");
    }
    if args.iter().any(|a| a == "--sim-only") {
        return;
    }

    // The peer comparison: the same operations, as many of them, on both.
    let sim = report("SimIO, faults off", real_ops, sim_rate(FaultConfig::none(), real_ops, reps));
    let dir: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-sim");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create bench directory");
    let mut io: IO<Ctx> = IO::init(8).expect("init");
    let fd = open_file(&mut io, &dir);
    let mut ctx = context(fd);
    let (seconds, failed) = run(&mut io, &mut ctx, real_ops);
    let real = report(
        "IO (real file under target/, 1 run)",
        real_ops,
        (real_ops as f64 / seconds, failed),
    );
    println!("SimIO / IO at {real_ops} ops: {:.0}x", sim / real);
    let _ = std::fs::remove_dir_all(&dir);
}
