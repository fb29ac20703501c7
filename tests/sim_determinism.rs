//! Determinism of the twin within one process: the same seed and the same
//! inputs give the same results and the same trace hash; different seeds
//! give different traces. (The two-process check lives elsewhere.)

use std::path::Path;

use twinio::*;

#[derive(Default)]
struct Workload {
    fd: Option<Fd>,
    remaining: u32,
    results: Vec<String>,
    crashes: u32,
}

const SIZE: u64 = 64 * SECTOR_SIZE as u64;

fn on_write(w: &mut Workload, io: &mut SimIO<Workload>, done: WriteDone) {
    w.results.push(format!("w{} {:?} @{}", done.tag, done.result, io.now_ns()));
    next(w, io, done.buffer);
}

fn on_read(w: &mut Workload, io: &mut SimIO<Workload>, done: ReadDone) {
    let sum: u64 = done.buffer.iter().map(|&b| u64::from(b)).sum();
    w.results.push(format!("r{} {:?} {sum} @{}", done.tag, done.result, io.now_ns()));
    next(w, io, done.buffer);
}

fn on_fsync(w: &mut Workload, io: &mut SimIO<Workload>, done: FsyncDone) {
    w.results.push(format!("f{} {:?} @{}", done.tag, done.result, io.now_ns()));
    if let Ok(buffer) = Buffer::new(SECTOR_SIZE) {
        next(w, io, buffer);
    }
}

/// Submits the next operation of a read/write/fsync mix whose shape
/// depends on the clock, so any divergence in timing shows in the results.
fn next(w: &mut Workload, io: &mut SimIO<Workload>, mut buffer: Buffer) {
    let Some(fd) = w.fd else { return };
    if w.remaining == 0 {
        return;
    }
    w.remaining -= 1;
    let tag = u64::from(w.remaining);
    let mix = io.now_ns() / 1000 + tag;
    let offset = (mix * 7919) % (SIZE / SECTOR_SIZE as u64) * SECTOR_SIZE as u64;
    match mix % 3 {
        0 => {
            buffer.fill(tag as u8);
            let _ = io.write(fd, buffer, .., offset, tag, on_write);
        }
        1 => {
            let _ = io.read(fd, buffer, .., offset, tag, on_read);
        }
        _ => {
            let _ = io.fsync(fd, FsyncMode::Full, tag, on_fsync);
        }
    }
}

fn run(seed: u64) -> (u64, Vec<String>) {
    let mut io: SimIO<Workload> = SimIO::new(seed, 64, FaultConfig::swarm(seed));
    let mut w = Workload { remaining: 300, ..Workload::default() };
    let dir = io.open_dir(Path::new("det")).unwrap();
    let fd =
        io.open_data_file(dir, Path::new("data"), SIZE, FilePurpose::Format, DirectIo::Required);
    w.fd = fd.ok();
    for _ in 0..4 {
        next(&mut w, &mut io, Buffer::new(SECTOR_SIZE).unwrap());
    }
    for round in 0..3 {
        io.run_for_ns(&mut w, 20_000_000).unwrap();
        io.crash_node(NodeId::FIRST).unwrap();
        w.crashes += 1;
        io.restart_node(NodeId::FIRST).unwrap();
        let dir = io.open_dir(Path::new("det")).unwrap();
        w.fd = io
            .open_data_file(dir, Path::new("data"), SIZE, FilePurpose::Open, DirectIo::Required)
            .ok();
        w.results.push(format!("restart {round} {:?}", w.fd));
        for _ in 0..4 {
            next(&mut w, &mut io, Buffer::new(SECTOR_SIZE).unwrap());
        }
    }
    io.run_until_done(&mut w).unwrap();
    (io.trace_hash(), w.results)
}

#[test]
fn same_seed_same_trace_and_results() {
    for seed in [0, 1, 42, u64::MAX] {
        let (hash_a, results_a) = run(seed);
        let (hash_b, results_b) = run(seed);
        assert_eq!(hash_a, hash_b, "seed {seed}");
        assert_eq!(results_a, results_b, "seed {seed}");
        assert!(results_a.len() > 50, "the workload ran: {}", results_a.len());
    }
}

#[test]
fn different_seeds_different_traces() {
    let hashes: Vec<u64> = (0..8).map(|seed| run(seed).0).collect();
    for (i, a) in hashes.iter().enumerate() {
        for b in &hashes[i + 1..] {
            assert_ne!(a, b, "{hashes:x?}");
        }
    }
}

#[test]
fn swarm_configuration_prints_every_field() {
    let text = FaultConfig::swarm(7).to_string();
    for field in [
        "read_latency",
        "write_latency",
        "fsync_latency",
        "latent_sector_error",
        "bit_rot",
        "misdirected_write",
        "torn_write",
        "no_space",
        "fsync_error",
        "crash",
    ] {
        assert!(text.contains(field), "{field} missing from {text}");
    }
}
