//! Zero heap allocations per operation in steady state.
//!
//! A counting global allocator (tests/support/counting_alloc.rs; this file
//! is its own test binary) counts the allocations the test's thread makes.
//! After `init` and a warm-up (which registers the sockets with the poller
//! and sizes the descriptor table once), a loopback send → recv → zero
//! timeout cycle runs 10,000 times and must not allocate at all; so must
//! file write → read (→ fsync) and event listen → trigger cycles, with file
//! IO on the loop thread and on worker threads.

use std::net::SocketAddr;

use twinio::*;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::allocations_during;

/// Preallocated state: the buffers travel through the ops and come back.
#[derive(Default)]
struct Cycle {
    client: Option<Fd>,
    server: Option<Fd>,
    send_buffer: Option<Buffer>,
    recv_buffer: Option<Buffer>,
    sent: bool,
    received: usize,
    timed_out: bool,
    failures: u64,
    done: u64,
}

const MESSAGE: usize = 64;

fn sent(ctx: &mut Cycle, _: &mut IO<Cycle>, done: SendDone) {
    ctx.failures += u64::from(done.result != Ok(MESSAGE));
    ctx.send_buffer = Some(done.buffer);
    ctx.sent = true;
}

fn received(ctx: &mut Cycle, io: &mut IO<Cycle>, done: RecvDone) {
    match done.result {
        Ok(n) if n > 0 => ctx.received += n,
        _ => ctx.failures += 1,
    }
    if ctx.received < MESSAGE {
        // A short read: take the rest (the kernel may split the message).
        let server = ctx.server.expect("connected");
        let from = ctx.received;
        if io.recv(server, done.buffer, from..MESSAGE, 0, received).is_err() {
            ctx.failures += 1;
        }
        return;
    }
    ctx.recv_buffer = Some(done.buffer);
}

fn timed_out(ctx: &mut Cycle, _: &mut IO<Cycle>, done: TimeoutDone) {
    ctx.failures += u64::from(done.result.is_err());
    ctx.timed_out = true;
}

/// One send → recv → timeout(0) cycle, run to completion.
fn cycle(io: &mut IO<Cycle>, ctx: &mut Cycle) {
    let (client, server) = (ctx.client.unwrap(), ctx.server.unwrap());
    let out = ctx.send_buffer.take().expect("buffer back");
    let into = ctx.recv_buffer.take().expect("buffer back");
    ctx.sent = false;
    ctx.received = 0;
    ctx.timed_out = false;
    io.recv(server, into, .., 0, received).unwrap();
    io.send(client, out, .., 0, sent).unwrap();
    io.timeout(0, 0, timed_out).unwrap();
    while !(ctx.sent && ctx.received == MESSAGE && ctx.recv_buffer.is_some() && ctx.timed_out) {
        io.run_once(ctx).unwrap();
    }
    ctx.done += 1;
}

fn connect(io: &mut IO<Cycle>, ctx: &mut Cycle) {
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let listener = io.open_socket(AddressFamily::Ipv4, SocketOptions::default()).unwrap();
    let address = io.listen(listener, any, 1).unwrap();
    let client = io.open_socket(AddressFamily::Ipv4, SocketOptions::default()).unwrap();
    io.accept(listener, 0, |ctx: &mut Cycle, _: &mut IO<Cycle>, done| {
        ctx.server = Some(done.result.unwrap());
    })
    .unwrap();
    io.connect(client, address, 0, |_, _, done| done.result.unwrap()).unwrap();
    io.run_until_done(ctx).unwrap();
    io.close(listener, 0, |_, _, done| done.result.unwrap()).unwrap();
    io.run_until_done(ctx).unwrap();
    ctx.client = Some(client);
}

#[test]
fn send_recv_timeout_cycles_allocate_nothing_after_warm_up() {
    let mut io: IO<Cycle> = IO::init(16).unwrap();
    let mut ctx = Cycle {
        send_buffer: Some(Buffer::from_slice(&[0xA5; MESSAGE]).unwrap()),
        recv_buffer: Some(Buffer::new(MESSAGE).unwrap()),
        ..Cycle::default()
    };
    connect(&mut io, &mut ctx);
    // Warm-up: the first cycles register the descriptors with the poller.
    for _ in 0..100 {
        cycle(&mut io, &mut ctx);
    }
    // The counter itself works: an allocation in the window is seen.
    let seen = allocations_during(|| drop(std::hint::black_box(Box::new(1u64))));
    assert_eq!(seen, 1, "the counting allocator counts");

    const CYCLES: u64 = 10_000;
    let allocations = allocations_during(|| {
        for _ in 0..CYCLES {
            cycle(&mut io, &mut ctx);
        }
    });
    assert_eq!(ctx.failures, 0);
    assert_eq!(ctx.done, 100 + CYCLES);
    assert_eq!(allocations, 0, "{allocations} allocations over {CYCLES} cycles");

    // The receive path that parks (EAGAIN, then readiness) allocates
    // nothing either: post the recv first and let it wait a pass.
    let allocations = allocations_during(|| {
        for _ in 0..1000 {
            let server = ctx.server.unwrap();
            let into = ctx.recv_buffer.take().unwrap();
            ctx.received = 0;
            io.recv(server, into, .., 0, received).unwrap();
            io.tick(&mut ctx).unwrap();
            let out = ctx.send_buffer.take().unwrap();
            ctx.sent = false;
            io.send(ctx.client.unwrap(), out, .., 0, sent).unwrap();
            while !(ctx.sent && ctx.recv_buffer.is_some()) {
                io.run_once(&mut ctx).unwrap();
            }
        }
    });
    assert_eq!(ctx.failures, 0);
    assert_eq!(allocations, 0, "{allocations} allocations on the parking path");

    for fd in [ctx.client.unwrap(), ctx.server.unwrap()] {
        io.close(fd, 0, |_, _, done| done.result.unwrap()).unwrap();
    }
    io.run_until_done(&mut ctx).unwrap();
}

/// State of the file and event cycles.
#[derive(Default)]
struct Other {
    buffer: Option<Buffer>,
    completions: u64,
    failures: u64,
}

fn other_write(ctx: &mut Other, _: &mut IO<Other>, done: WriteDone) {
    ctx.failures += u64::from(done.result != Ok(done.buffer.len()));
    ctx.buffer = Some(done.buffer);
    ctx.completions += 1;
}

fn other_read(ctx: &mut Other, _: &mut IO<Other>, done: ReadDone) {
    ctx.failures += u64::from(done.result != Ok(done.buffer.len()));
    ctx.buffer = Some(done.buffer);
    ctx.completions += 1;
}

fn other_fsync(ctx: &mut Other, _: &mut IO<Other>, done: FsyncDone) {
    ctx.failures += u64::from(done.result.is_err());
    ctx.completions += 1;
}

fn other_event(ctx: &mut Other, _: &mut IO<Other>, done: EventDone) {
    ctx.failures += u64::from(done.result.is_err());
    ctx.completions += 1;
}

#[test]
fn file_and_event_cycles_allocate_nothing_after_warm_up() {
    file_and_event_cycles(FileDriver::LoopThread);
}

#[test]
fn file_cycles_on_worker_threads_allocate_nothing_after_warm_up() {
    file_and_event_cycles(FileDriver::Workers(2));
}

#[cfg(target_os = "linux")]
#[test]
fn file_cycles_on_the_io_uring_allocate_nothing_after_warm_up() {
    // The CI run that simulates a refused io_uring: the forced driver must
    // be refused, with the errno a seccomp profile gives.
    if std::env::var_os("TWINIO_IO_URING_REFUSE").is_some_and(|v| !v.is_empty() && v != "0") {
        let refused =
            IO::<Other>::with_options(IoOptions::new(16).file_driver(FileDriver::IoUring));
        assert_eq!(refused.err(), Some(InitError::IoUring(Errno::EPERM)));
        return;
    }
    file_and_event_cycles(FileDriver::IoUring);
}

/// Counts only the loop thread: the workers are the pool's business, but
/// handing jobs to them and harvesting results must not allocate either.
/// On the io_uring: pushing, submitting and reaping.
fn file_and_event_cycles(driver: FileDriver) {
    let path = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("alloc-{}-{driver:?}", std::process::id()));
    let _ = std::fs::remove_dir_all(&path);
    std::fs::create_dir_all(&path).unwrap();
    let options = IoOptions::new(16).file_driver(driver);
    let mut io: IO<Other> = IO::with_options(options).unwrap();
    assert_eq!(io.file_driver(), driver);
    let mut ctx = Other { buffer: Some(Buffer::new(SECTOR_SIZE).unwrap()), ..Other::default() };
    let dir = io.open_dir(&path).unwrap();
    let size = 16 * SECTOR_SIZE as u64;
    let name = std::path::Path::new("data");
    let file = io.open_data_file(dir, name, size, FilePurpose::Format, DirectIo::Disabled).unwrap();
    let event = io.open_event().unwrap();

    // One cycle: write a sector, read it back, fsync every 100th, and a
    // listen + trigger of a user event.
    let cycle = |io: &mut IO<Other>, ctx: &mut Other, i: u64| {
        let offset = (i % 16) * SECTOR_SIZE as u64;
        let buffer = ctx.buffer.take().unwrap();
        io.write(file, buffer, .., offset, 0, other_write).unwrap();
        io.run_until_done(ctx).unwrap();
        let buffer = ctx.buffer.take().unwrap();
        io.read(file, buffer, .., offset, 0, other_read).unwrap();
        if i.is_multiple_of(100) {
            io.fsync(file, FsyncMode::Data, 0, other_fsync).unwrap();
        }
        io.event_listen(event, 0, other_event).unwrap();
        io.event_trigger(event).unwrap();
        io.run_until_done(ctx).unwrap();
    };
    for i in 0..100 {
        cycle(&mut io, &mut ctx, i);
    }
    const CYCLES: u64 = 2_000;
    let before = ctx.completions;
    let allocations = allocations_during(|| {
        for i in 0..CYCLES {
            cycle(&mut io, &mut ctx, i);
        }
    });
    assert_eq!(ctx.failures, 0);
    assert_eq!(ctx.completions - before, CYCLES * 3 + CYCLES / 100);
    assert_eq!(allocations, 0, "{allocations} allocations over {CYCLES} file/event cycles");

    io.close_event(event).unwrap();
    for fd in [file, dir] {
        io.close(fd, 0, |_, _, done| done.result.unwrap()).unwrap();
    }
    io.run_until_done(&mut ctx).unwrap();
    std::fs::remove_dir_all(&path).unwrap();
}
