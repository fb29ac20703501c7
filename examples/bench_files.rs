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

use std::time::Instant;

use twinio::{DirectIo, FileDriver, IO, IoOptions};

// The workloads and both sides of them, shared with the `compare` benchmark.
#[path = "../benches/compare/files.rs"]
mod files;
mod support;

use files::{FileWork, Files};
use support::{flag, median};

const FILE_SIZE: u64 = 64 << 20;

#[derive(Clone, Copy)]
struct Workload {
    name: &'static str,
    work: FileWork,
    ops: u64,
}

/// Runs `run` once; returns nanoseconds per operation.
fn per_op(ops: u64, run: impl FnOnce()) -> f64 {
    let start = Instant::now();
    run();
    start.elapsed().as_nanos() as f64 / ops as f64
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let direct_io = args.iter().any(|a| a == "--direct");
    let reps = flag(&args, "--reps", 7) as usize;

    let driver = match args.iter().position(|a| a == "--driver").map(|i| args.get(i + 1)) {
        None => FileDriver::Auto,
        Some(Some(name)) if name == "uring" => FileDriver::IoUring,
        Some(Some(name)) if name == "workers" => FileDriver::Workers(4),
        Some(Some(name)) if name == "loop" => FileDriver::LoopThread,
        Some(_) => {
            eprintln!("bench_files: --driver takes uring, workers or loop");
            std::process::exit(2)
        }
    };
    let io = IO::with_options(IoOptions::new(8).file_driver(driver)).expect("init");
    let driver = io.file_driver();
    let mode = if direct_io { DirectIo::Required } else { DirectIo::Disabled };
    let mut files = Files::new(io, "bench-files", FILE_SIZE, mode);

    let workloads = [
        Workload { name: "rand-read-4k", work: FileWork::RandRead, ops: 50_000 },
        Workload { name: "rand-write-4k", work: FileWork::RandWrite, ops: 50_000 },
        Workload { name: "seq-write-1m+fsync", work: FileWork::SeqWriteFsync, ops: 16 },
    ];
    let scale = if direct_io { 0.1 } else { 1.0 };
    println!(
        "bench_files: {} MiB file, {}, {reps} repetitions, median ns/op, file driver {:?}",
        FILE_SIZE >> 20,
        if direct_io { "direct IO" } else { "buffered" },
        driver
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
            let (work, ops) = (workload.work, workload.ops);
            // Alternate which side goes first so drift favours neither.
            if rep % 2 == 0 {
                via_io.push(per_op(ops, || files.through_io(work, ops, seed)));
                via_syscall.push(per_op(ops, || files.direct(work, ops, seed)));
            } else {
                via_syscall.push(per_op(ops, || files.direct(work, ops, seed)));
                via_io.push(per_op(ops, || files.through_io(work, ops, seed)));
            }
        }
        let (a, b) = (median(&mut via_io), median(&mut via_syscall));
        println!("{:<20} {:>12.0} {:>12.0} {:>8.3}", workload.name, a, b, a / b);
    }
}
