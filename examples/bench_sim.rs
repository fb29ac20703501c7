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
//!   and writes, the device for fsync), for the same number of operations.
//!
//! ```text
//! cargo run --release --example bench_sim [-- --ops N] [-- --reps N] [-- --sim-only]
//! ```

use std::path::{Path, PathBuf};
use std::time::Instant;

use twinio::{
    Buffer, DirectIo, Fd, FilePurpose, FsyncDone, FsyncMode, IO, Io, ReadDone, SECTOR_SIZE,
    WriteDone,
};
use twinio::{FaultConfig, SimIO};

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

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

fn flag(args: &[String], name: &str, default: u64) -> u64 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let ops = flag(&args, "--ops", 50_000).max(1);
    let reps = flag(&args, "--reps", 5).max(1) as usize;
    println!(
        "bench_sim: {ops} ops per run (4 KiB; 8 write : 7 read : 1 fsync), {reps} runs, median"
    );

    let sim_rate = |faults: FaultConfig, label: &str| {
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
        let rate = median(&mut rates);
        println!("{label:<28} {rate:>14.0} ops/s   ({failed} failed ops in all runs)");
        rate
    };
    let sim = sim_rate(FaultConfig::none(), "SimIO, faults off");
    sim_rate(FaultConfig::swarm(7), "SimIO, swarm faults (seed 7)");
    if args.iter().any(|a| a == "--sim-only") {
        return;
    }

    let dir: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-sim");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create bench directory");
    let mut io: IO<Ctx> = IO::init(8).expect("init");
    let fd = open_file(&mut io, &dir);
    let mut ctx = context(fd);
    let (seconds, failed) = run(&mut io, &mut ctx, ops);
    assert_eq!(failed, 0, "the real IO failed operations");
    let real = ops as f64 / seconds;
    println!("{:<28} {real:>14.0} ops/s   (one run)", "IO (real, target/ on disk)");
    println!("SimIO / IO: {:.1}x", sim / real);
    let _ = std::fs::remove_dir_all(&dir);
}
