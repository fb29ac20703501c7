//! Benchmark (not a test): file operations through `IO` against the same
//! syscalls issued directly in a loop.
//!
//! Workloads, each run alternately through `IO` and directly, several
//! repetitions, reporting the median time per operation and the ratio:
//!
//! - 4 KiB reads at random sector offsets of a 64 MiB file (page cache warm:
//!   this isolates the per-operation overhead of the engine);
//! - 4 KiB writes at random sector offsets (into the page cache);
//! - sequential 1 MiB writes, each followed by a full fsync (disk bound).
//!
//! Through `IO`, each callback submits the next operation, which runs in
//! the same pass of the loop: the way a storage engine chains file IO.
//!
//! ```text
//! cargo run --release --example bench_files [-- --direct] [-- --reps N] [-- --driver uring|workers|loop]
//! ```
//!
//! `--driver` forces the IO's file driver (default: `Auto`); the one in use
//! is printed.
//!
//! `--direct` opens the file with `DirectIo::Required` (O_DIRECT / F_NOCACHE)
//! so the random reads and writes reach the device. The file lives under
//! `target/` (on the disk, not a tmpfs).

use std::path::{Path, PathBuf};
use std::time::Instant;

use twinio::{
    Buffer, DirectIo, FileDriver, FilePurpose, FsyncDone, FsyncMode, IO, Io, IoOptions, ReadDone,
    SECTOR_SIZE, WriteDone,
};

const FILE_SIZE: u64 = 64 << 20;
const SMALL: usize = 4096;
const LARGE: usize = 1 << 20;

#[derive(Clone, Copy)]
struct Workload {
    name: &'static str,
    ops: u64,
}

/// xorshift64*: a fixed sequence of offsets, identical for both sides.
struct Offsets(u64);

impl Offsets {
    fn next_sector(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        (x % (FILE_SIZE / SECTOR_SIZE as u64)) * SECTOR_SIZE as u64
    }
}

struct Ctx {
    fd: twinio::Fd,
    remaining: u64,
    offsets: Offsets,
    next_sequential: u64,
    buffer: Option<Buffer>,
}

fn on_read(ctx: &mut Ctx, io: &mut IO<Ctx>, done: ReadDone) {
    assert_eq!(done.result, Ok(SMALL), "read");
    ctx.remaining -= 1;
    if ctx.remaining == 0 {
        ctx.buffer = Some(done.buffer);
        return;
    }
    let offset = ctx.offsets.next_sector();
    io.read(ctx.fd, done.buffer, .., offset, 0, on_read).expect("submit read");
}

fn on_write(ctx: &mut Ctx, io: &mut IO<Ctx>, done: WriteDone) {
    assert_eq!(done.result, Ok(SMALL), "write");
    ctx.remaining -= 1;
    if ctx.remaining == 0 {
        ctx.buffer = Some(done.buffer);
        return;
    }
    let offset = ctx.offsets.next_sector();
    io.write(ctx.fd, done.buffer, .., offset, 0, on_write).expect("submit write");
}

fn on_large_write(ctx: &mut Ctx, io: &mut IO<Ctx>, done: WriteDone) {
    assert_eq!(done.result, Ok(LARGE), "large write");
    ctx.buffer = Some(done.buffer);
    io.fsync(ctx.fd, FsyncMode::Full, 0, on_fsync).expect("submit fsync");
}

fn on_fsync(ctx: &mut Ctx, io: &mut IO<Ctx>, done: FsyncDone) {
    assert_eq!(done.result, Ok(()), "fsync");
    ctx.remaining -= 1;
    if ctx.remaining == 0 {
        return;
    }
    let buffer = ctx.buffer.take().expect("buffer");
    let offset = ctx.next_sequential;
    ctx.next_sequential = (offset + LARGE as u64) % FILE_SIZE;
    io.write(ctx.fd, buffer, .., offset, 0, on_large_write).expect("submit write");
}

/// Runs `workload` through `IO`; returns nanoseconds per operation.
fn through_io(io: &mut IO<Ctx>, ctx: &mut Ctx, workload: Workload, seed: u64) -> f64 {
    ctx.remaining = workload.ops;
    ctx.offsets = Offsets(seed);
    ctx.next_sequential = 0;
    let start = Instant::now();
    match workload.name {
        "rand-read-4k" => {
            let buffer = ctx.buffer.take().filter(|b| b.len() == SMALL).unwrap_or_else(small);
            let offset = ctx.offsets.next_sector();
            io.read(ctx.fd, buffer, .., offset, 0, on_read).expect("submit");
        }
        "rand-write-4k" => {
            let buffer = ctx.buffer.take().filter(|b| b.len() == SMALL).unwrap_or_else(small);
            let offset = ctx.offsets.next_sector();
            io.write(ctx.fd, buffer, .., offset, 0, on_write).expect("submit");
        }
        _ => {
            let buffer = ctx.buffer.take().filter(|b| b.len() == LARGE).unwrap_or_else(large);
            ctx.next_sequential = LARGE as u64;
            io.write(ctx.fd, buffer, .., 0, 0, on_large_write).expect("submit");
        }
    }
    while ctx.remaining > 0 {
        io.flush(ctx, true).expect("flush");
    }
    start.elapsed().as_nanos() as f64 / workload.ops as f64
}

/// The same syscalls, issued directly in a loop.
fn direct(fd: i32, workload: Workload, seed: u64) -> f64 {
    let mut offsets = Offsets(seed);
    let len = if workload.name == "seq-write-1m+fsync" { LARGE } else { SMALL };
    let mut buffer = Buffer::new(len).expect("buffer");
    let start = Instant::now();
    for i in 0..workload.ops {
        let n = match workload.name {
            // SAFETY: `buffer` is valid and exclusively borrowed for `len` bytes.
            "rand-read-4k" => unsafe {
                libc::pread(fd, buffer.as_mut_ptr().cast(), len, offsets.next_sector() as i64)
            },
            // SAFETY: `buffer` is valid for reads of `len` bytes.
            "rand-write-4k" => unsafe {
                libc::pwrite(fd, buffer.as_ptr().cast(), len, offsets.next_sector() as i64)
            },
            _ => {
                let offset = (i * LARGE as u64) % FILE_SIZE;
                // SAFETY: `buffer` is valid for reads of `len` bytes.
                let n = unsafe { libc::pwrite(fd, buffer.as_ptr().cast(), len, offset as i64) };
                assert_eq!(full_sync(fd), 0, "fsync");
                n
            }
        };
        assert_eq!(n, len as isize, "{}", workload.name);
    }
    start.elapsed().as_nanos() as f64 / workload.ops as f64
}

/// What `FsyncMode::Full` issues on this platform.
fn full_sync(fd: i32) -> i32 {
    #[cfg(target_vendor = "apple")]
    // SAFETY: F_FULLFSYNC takes no argument.
    return unsafe { libc::fcntl(fd, libc::F_FULLFSYNC) };
    #[cfg(not(target_vendor = "apple"))]
    // SAFETY: a syscall on an open descriptor.
    return unsafe { libc::fsync(fd) };
}

fn small() -> Buffer {
    Buffer::from_slice(&[0x5a; SMALL]).expect("buffer")
}

fn large() -> Buffer {
    Buffer::from_slice(&vec![0xa5; LARGE]).expect("buffer")
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let direct_io = args.iter().any(|a| a == "--direct");
    let reps: usize = args
        .iter()
        .position(|a| a == "--reps")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(7);

    let dir_path: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-files");
    let _ = std::fs::remove_dir_all(&dir_path);
    std::fs::create_dir_all(&dir_path).expect("create bench directory");

    let driver = match args.iter().position(|a| a == "--driver").map(|i| args.get(i + 1)) {
        None => FileDriver::Auto,
        Some(Some(name)) if name == "uring" => FileDriver::IoUring,
        Some(Some(name)) if name == "workers" => FileDriver::Workers(4),
        Some(Some(name)) if name == "loop" => FileDriver::LoopThread,
        Some(_) => panic!("--driver takes uring, workers or loop"),
    };
    let mut io: IO<Ctx> = IO::with_options(IoOptions::new(8).file_driver(driver)).expect("init");
    let dir = io.open_dir(&dir_path).expect("open_dir");
    let mode = if direct_io { DirectIo::Required } else { DirectIo::Disabled };
    let fd = io
        .open_data_file(dir, Path::new("bench.dat"), FILE_SIZE, FilePurpose::Format, mode)
        .expect("format bench file");
    // Fill the file once so that reads hit written blocks.
    {
        let buffer = Buffer::from_slice(&vec![0x11u8; LARGE]).expect("buffer");
        for i in 0..FILE_SIZE / LARGE as u64 {
            // SAFETY: `buffer` is valid for LARGE bytes (and sector-aligned).
            let n = unsafe {
                libc::pwrite(fd.raw(), buffer.as_ptr().cast(), LARGE, (i * LARGE as u64) as i64)
            };
            assert_eq!(n, LARGE as isize);
        }
        assert_eq!(full_sync(fd.raw()), 0);
    }

    let workloads = [
        Workload { name: "rand-read-4k", ops: 50_000 },
        Workload { name: "rand-write-4k", ops: 50_000 },
        Workload { name: "seq-write-1m+fsync", ops: 16 },
    ];
    let mut ctx = Ctx { fd, remaining: 0, offsets: Offsets(1), next_sequential: 0, buffer: None };
    let scale = if direct_io { 0.1 } else { 1.0 };
    println!(
        "bench_files: {} MiB file, {}, {reps} repetitions, median ns/op, file driver {:?}",
        FILE_SIZE >> 20,
        if direct_io { "direct IO" } else { "buffered" },
        io.file_driver()
    );
    println!("{:<20} {:>12} {:>12} {:>8}", "workload", "IO", "direct", "IO/direct");
    for mut workload in workloads {
        if workload.ops > 100 {
            workload.ops = ((workload.ops as f64) * scale) as u64;
        }
        let mut via_io = Vec::with_capacity(reps);
        let mut via_syscall = Vec::with_capacity(reps);
        for rep in 0..reps {
            let seed = 0x9e37_79b9_7f4a_7c15 ^ rep as u64;
            // Alternate which side goes first so drift favours neither.
            if rep % 2 == 0 {
                via_io.push(through_io(&mut io, &mut ctx, workload, seed));
                via_syscall.push(direct(fd.raw(), workload, seed));
            } else {
                via_syscall.push(direct(fd.raw(), workload, seed));
                via_io.push(through_io(&mut io, &mut ctx, workload, seed));
            }
        }
        let (a, b) = (median(&mut via_io), median(&mut via_syscall));
        println!("{:<20} {:>12.0} {:>12.0} {:>8.3}", workload.name, a, b, a / b);
    }
    let _ = std::fs::remove_dir_all(&dir_path);
}
