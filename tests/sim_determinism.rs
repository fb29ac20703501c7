//! Determinism of the simulated twin across processes: the same seed gives
//! the same trace hash in two separate processes; different seeds give
//! different hashes.
//!
//! The parent test re-runs this test binary (`std::env::current_exe()`)
//! with `TWINIO_SIM_CHILD_SEED` set; in that mode [`child_prints_trace`]
//! runs the workload once and prints its hash for the parent to compare.
//! The workload uses storage, the network and timers under a swarm fault
//! configuration, and crashes and restarts the server node midway.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use twinio::{
    AcceptDone, AddressFamily, Buffer, CloseDone, ConnectDone, DirectIo, Fd, FilePurpose,
    FsyncDone, FsyncMode, Io, NodeId, ReadDone, RecvDone, SendDone, SocketOptions, TimeoutDone,
    WriteDone,
};
use twinio::{FaultConfig, SimIO};

type Sim = SimIO<Ctx>;

const CHILD_ENV: &str = "TWINIO_SIM_CHILD_SEED";
const FILE_SIZE: u64 = 1 << 20;
const MESSAGE: usize = 4096;
const CLIENTS: u64 = 3;
const ROUND_TRIPS: u32 = 20;
const TICKS: u32 = 40;
const RECONNECTS: u32 = 5;

#[derive(Default)]
struct Ctx {
    file: Option<Fd>,
    listener: Option<Fd>,
    next_offset: u64,
    round_trips: [u32; CLIENTS as usize],
    reconnects: [u32; CLIENTS as usize],
    ticks: u32,
    /// Failures seen (any error result): part of what the trace covers,
    /// counted here so the workload's own logic is visible too.
    errors: u64,
}

fn server_address() -> SocketAddr {
    "10.0.0.1:7000".parse().expect("address")
}

fn message() -> Buffer {
    Buffer::from_slice(&[0x42; MESSAGE]).expect("buffer")
}

fn fd_tag(fd: Fd) -> u64 {
    fd.raw() as u32 as u64
}

fn tag_fd(tag: u64) -> Fd {
    Fd::from_raw(tag as u32 as i32)
}

// ---- server: accept, recv a message, write it to the file, send it back ----

fn on_accept(ctx: &mut Ctx, io: &mut Sim, done: AcceptDone) {
    match done.result {
        Ok(fd) => {
            let _ = io.recv(fd, message(), .., fd_tag(fd), on_server_recv);
        }
        Err(_) => ctx.errors += 1,
    }
    if let Some(listener) = ctx.listener
        && ctx.errors < 100
    {
        let _ = io.accept(listener, 0, on_accept);
    }
}

fn on_server_recv(ctx: &mut Ctx, io: &mut Sim, done: RecvDone) {
    let fd = tag_fd(done.tag);
    match (done.result, ctx.file) {
        (Ok(n), Some(file)) if n > 0 => {
            let offset = ctx.next_offset;
            ctx.next_offset = (offset + MESSAGE as u64) % FILE_SIZE;
            let _ = io.write(file, done.buffer, .., offset, done.tag, on_server_write);
        }
        (result, _) => {
            ctx.errors += u64::from(result.is_err());
            let _ = io.close(fd, 0, on_close);
        }
    }
}

fn on_server_write(ctx: &mut Ctx, io: &mut Sim, done: WriteDone) {
    ctx.errors += u64::from(done.result.is_err());
    let _ = io.send(tag_fd(done.tag), done.buffer, ..64, done.tag, on_server_send);
}

fn on_server_send(ctx: &mut Ctx, io: &mut Sim, done: SendDone) {
    let fd = tag_fd(done.tag);
    if done.result.is_ok() {
        let _ = io.recv(fd, done.buffer, .., done.tag, on_server_recv);
    } else {
        ctx.errors += 1;
        let _ = io.close(fd, 0, on_close);
    }
}

// ---- timers: fsync and read back the file every millisecond ----

fn on_tick(ctx: &mut Ctx, io: &mut Sim, _done: TimeoutDone) {
    ctx.ticks += 1;
    if let Some(file) = ctx.file {
        let _ = io.fsync(file, FsyncMode::Full, 0, on_fsync);
        let offset = u64::from(ctx.ticks) * MESSAGE as u64 % FILE_SIZE;
        let _ = io.read(file, message(), .., offset, 0, on_read);
    }
    if ctx.ticks < TICKS {
        let _ = io.timeout(1_000_000, 0, on_tick);
    }
}

fn on_fsync(ctx: &mut Ctx, _io: &mut Sim, done: FsyncDone) {
    ctx.errors += u64::from(done.result.is_err());
}

fn on_read(ctx: &mut Ctx, _io: &mut Sim, done: ReadDone) {
    ctx.errors += u64::from(done.result.is_err());
}

fn on_close(ctx: &mut Ctx, _io: &mut Sim, done: CloseDone) {
    ctx.errors += u64::from(done.result.is_err());
}

// ---- clients: connect, then round trips of one message ----

fn on_connect(ctx: &mut Ctx, io: &mut Sim, done: ConnectDone) {
    if done.result.is_ok() {
        let _ =
            io.send(done.socket, message(), .., client_tag(done.socket, done.tag), on_client_send);
    } else {
        ctx.errors += 1;
        client_failed(ctx, io, done.socket, done.tag);
    }
}

/// Closes a client's socket and, a few times, connects it again (the
/// server may be back after a crash).
fn client_failed(ctx: &mut Ctx, io: &mut Sim, fd: Fd, client: u64) {
    let _ = io.close(fd, 0, on_close);
    let attempts = &mut ctx.reconnects[client as usize];
    if *attempts < RECONNECTS {
        *attempts += 1;
        if let Ok(socket) = io.open_socket(AddressFamily::Ipv4, SocketOptions::default()) {
            let _ = io.connect(socket, server_address(), client, on_connect);
        }
    }
}

/// A client's tag: its index in the high half, its socket in the low half.
fn client_tag(fd: Fd, client: u64) -> u64 {
    (client << 32) | fd_tag(fd)
}

fn on_client_send(ctx: &mut Ctx, io: &mut Sim, done: SendDone) {
    let fd = tag_fd(done.tag);
    if done.result.is_ok() {
        let _ = io.recv(fd, done.buffer, .., done.tag, on_client_recv);
    } else {
        ctx.errors += 1;
        client_failed(ctx, io, fd, done.tag >> 32);
    }
}

fn on_client_recv(ctx: &mut Ctx, io: &mut Sim, done: RecvDone) {
    let fd = tag_fd(done.tag);
    let client = (done.tag >> 32) as usize;
    match done.result {
        Ok(n) if n > 0 => {
            ctx.round_trips[client] += 1;
            if ctx.round_trips[client] < ROUND_TRIPS {
                let _ = io.send(fd, done.buffer, .., done.tag, on_client_send);
            } else {
                let _ = io.close(fd, 0, on_close);
            }
        }
        result => {
            ctx.errors += u64::from(result.is_err());
            client_failed(ctx, io, fd, client as u64);
        }
    }
}

/// Runs the workload for `seed` and returns the simulation's trace hash.
fn run(seed: u64) -> u64 {
    run_with_context(seed).0
}

/// Runs the workload for `seed`; returns the trace hash and the context.
fn run_with_context(seed: u64) -> (u64, Ctx) {
    let mut io: Sim = SimIO::new(seed, 256, FaultConfig::swarm(seed));
    let mut ctx = Ctx::default();
    let server = NodeId(0);
    let client = io.add_node();

    io.set_current_node(server).expect("server node");
    start_server(&mut io, &mut ctx);
    let _ = io.timeout(1_000_000, 0, on_tick);

    io.set_current_node(client).expect("client node");
    for index in 0..CLIENTS {
        if let Ok(socket) = io.open_socket(AddressFamily::Ipv4, SocketOptions::default()) {
            let _ = io.connect(socket, server_address(), index, on_connect);
        }
    }

    io.run_for_ns(&mut ctx, 20_000_000).expect("run");
    io.crash_node(server).expect("crash");
    io.restart_node(server).expect("restart");
    io.set_current_node(server).expect("server node");
    ctx.file = None;
    ctx.listener = None;
    start_server(&mut io, &mut ctx);
    // The crash dropped the timer chain with the rest of the node's ops.
    let _ = io.timeout(1_000_000, 0, on_tick);
    io.run_for_ns(&mut ctx, 200_000_000).expect("run");
    (io.trace_hash(), ctx)
}

fn start_server(io: &mut Sim, ctx: &mut Ctx) {
    if let Ok(dir) = io.open_dir(Path::new("/data"))
        && let Ok(file) = io.open_data_file(
            dir,
            Path::new("log.dat"),
            FILE_SIZE,
            if ctx.ticks == 0 { FilePurpose::Format } else { FilePurpose::Open },
            DirectIo::Disabled,
        )
    {
        ctx.file = Some(file);
    }
    if let Ok(listener) = io.open_socket(AddressFamily::Ipv4, SocketOptions::default())
        && io.listen(listener, server_address(), 16).is_ok()
    {
        ctx.listener = Some(listener);
        let _ = io.accept(listener, 0, on_accept);
    }
}

/// Runs the child mode of this binary for `seed`; returns its trace hash.
fn hash_in_child(seed: u64) -> u64 {
    let exe = std::env::current_exe().expect("test binary path");
    let output = Command::new(exe)
        .args(["--exact", "child_prints_trace", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, seed.to_string())
        .output()
        .expect("spawn child");
    assert!(output.status.success(), "child failed: {}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout
        .lines()
        // The harness prints "test child_prints_trace ... " on the same line.
        .find_map(|line| line.split_once(&format!("TRACE {seed} ")).map(|(_, hash)| hash))
        .unwrap_or_else(|| panic!("no trace line in child output:\n{stdout}"));
    u64::from_str_radix(line.trim(), 16).expect("hash")
}

/// In child mode, prints the trace hash of the seed it was given. Run
/// directly, it checks determinism within one process instead.
#[test]
fn child_prints_trace() {
    match std::env::var(CHILD_ENV) {
        Ok(seed) => {
            let seed: u64 = seed.parse().expect("seed");
            println!("TRACE {seed} {:016x}", run(seed));
        }
        Err(_) => {
            let (hash, ctx) = run_with_context(11);
            assert_eq!(hash, run(11));
            eprintln!(
                "seed 11: round trips {:?}, ticks {}, errors {}",
                ctx.round_trips, ctx.ticks, ctx.errors
            );
            // The workload did what it is for: timers ran, messages crossed.
            assert_eq!(ctx.ticks, TICKS);
            assert!(ctx.round_trips.iter().sum::<u32>() > 0);
        }
    }
}

#[test]
fn same_seed_same_trace_in_separate_processes() {
    let seeds = [1u64, 2, 3, 0xdead_beef];
    let mut hashes = Vec::new();
    for &seed in &seeds {
        let first = hash_in_child(seed);
        let second = hash_in_child(seed);
        assert_eq!(first, second, "seed {seed}: two processes disagree");
        assert_eq!(first, run(seed), "seed {seed}: child and parent disagree");
        hashes.push(first);
    }
    let mut distinct = hashes.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), hashes.len(), "different seeds gave equal traces: {hashes:x?}");
}
