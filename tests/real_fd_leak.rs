//! No descriptor leaks: a workload through the real IO, error paths
//! included, leaves the process with exactly the descriptors it had.
//!
//! One test in its own binary, so no other test opens descriptors while the
//! count is taken. Linux only (it counts `/proc/self/fd`).
#![cfg(target_os = "linux")]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use twinio::*;

fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").expect("/proc/self/fd").count()
}

#[derive(Default)]
struct Ctx {
    accepted: Vec<Fd>,
    connected: Vec<(Fd, Result<(), ConnectError>)>,
    closes: Vec<Result<(), CloseError>>,
    recvs: Vec<Result<usize, RecvError>>,
    sends: Vec<Result<usize, SendError>>,
    other: usize,
}

fn on_accept(ctx: &mut Ctx, _: &mut IO<Ctx>, done: AcceptDone) {
    ctx.accepted.push(done.result.expect("accept"));
}
fn on_connect(ctx: &mut Ctx, _: &mut IO<Ctx>, done: ConnectDone) {
    ctx.connected.push((done.socket, done.result));
}
fn on_close(ctx: &mut Ctx, _: &mut IO<Ctx>, done: CloseDone) {
    ctx.closes.push(done.result);
}
fn on_recv(ctx: &mut Ctx, _: &mut IO<Ctx>, done: RecvDone) {
    ctx.recvs.push(done.result);
}
fn on_send(ctx: &mut Ctx, _: &mut IO<Ctx>, done: SendDone) {
    ctx.sends.push(done.result);
}
fn on_any<D>(ctx: &mut Ctx, _: &mut IO<Ctx>, _: D) {
    ctx.other += 1;
}

fn close_all(io: &mut IO<Ctx>, ctx: &mut Ctx, fds: &[Fd]) {
    for &fd in fds {
        io.close(fd, 0, on_close).unwrap();
    }
    io.run_until_done(ctx).unwrap();
    assert!(ctx.closes.drain(..).all(|r| r.is_ok()), "a close failed");
}

/// Sockets: connections with traffic, a reset, end of stream, a refused
/// connect, a listen on a taken address, parked ops canceled by close.
fn sockets(io: &mut IO<Ctx>, ctx: &mut Ctx) {
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let listener = io.open_socket(AddressFamily::Ipv4, SocketOptions::default()).unwrap();
    let address = io.listen(listener, any, 16).unwrap();
    let mut clients = Vec::new();
    for _ in 0..8 {
        let client = io.open_socket(AddressFamily::Ipv4, SocketOptions::default()).unwrap();
        io.connect(client, address, 0, on_connect).unwrap();
        io.accept(listener, 0, on_accept).unwrap();
        clients.push(client);
    }
    io.run_until_done(ctx).unwrap();
    assert!(ctx.connected.drain(..).all(|(_, r)| r.is_ok()));
    let servers: Vec<Fd> = ctx.accepted.drain(..).collect();
    assert_eq!(servers.len(), 8);
    for (&client, &server) in clients.iter().zip(&servers) {
        io.send(client, Buffer::from_slice(b"hello").unwrap(), .., 0, on_send).unwrap();
        io.recv(server, Buffer::new(2).unwrap(), .., 0, on_recv).unwrap();
    }
    io.run_until_done(ctx).unwrap();
    // Half the servers close with unread bytes (a reset); recvs parked on
    // the other half's clients are canceled by their close.
    close_all(io, ctx, &servers[..4]);
    for &client in &clients[4..] {
        io.recv(client, Buffer::new(8).unwrap(), .., 0, on_recv).unwrap();
    }
    io.tick(ctx).unwrap();
    for &client in &clients[..4] {
        io.send(client, Buffer::new(8).unwrap(), .., 0, on_send).unwrap();
    }
    close_all(io, ctx, &clients);
    close_all(io, ctx, &servers[4..]);

    // Listening on a taken address fails; the socket is still the caller's.
    let taken = io.open_socket(AddressFamily::Ipv4, SocketOptions::default()).unwrap();
    assert_eq!(io.listen(taken, address, 1), Err(ListenError::AddressInUse));
    close_all(io, ctx, &[taken, listener]);

    // A refused connect.
    let client = io.open_socket(AddressFamily::Ipv4, SocketOptions::default()).unwrap();
    io.connect(client, address, 0, on_connect).unwrap();
    io.run_until_done(ctx).unwrap();
    assert_eq!(ctx.connected.pop().unwrap().1, Err(ConnectError::ConnectionRefused));
    close_all(io, ctx, &[client]);
    // A connect canceled by close while it is in progress is not possible
    // on loopback (it completes at once); an accept parked and canceled is.
    let listener = io.open_socket(AddressFamily::Ipv4, SocketOptions::default()).unwrap();
    io.listen(listener, any, 1).unwrap();
    io.accept(listener, 0, on_any).unwrap();
    io.tick(ctx).unwrap();
    close_all(io, ctx, &[listener]);
}

/// Data files: formats, opens, a lock refusal, refused arguments.
fn files(io: &mut IO<Ctx>, ctx: &mut Ctx, path: &Path) {
    let dir = io.open_dir(path).unwrap();
    let s = SECTOR_SIZE as u64;
    let (fmt, open, no) = (FilePurpose::Format, FilePurpose::Open, DirectIo::Disabled);
    let file = io.open_data_file(dir, Path::new("data"), s, fmt, no).unwrap();
    // Every refusal below happens after something was opened (the lock and
    // size checks) or before (argument checks): none may keep a descriptor.
    assert_eq!(io.open_data_file(dir, Path::new("data"), s, open, no), Err(OpenError::Locked));
    assert_eq!(
        io.open_data_file(dir, Path::new("data"), s, fmt, no),
        Err(OpenError::AlreadyExists)
    );
    let inspect = io.open_data_file(dir, Path::new("data"), s, FilePurpose::Inspect, no).unwrap();
    close_all(io, ctx, &[file, inspect]);
    assert_eq!(
        io.open_data_file(dir, Path::new("data"), 2 * s, open, no),
        Err(OpenError::SizeMismatch)
    );
    assert_eq!(io.open_data_file(dir, Path::new("."), s, open, no), Err(OpenError::NotRegularFile));
    assert_eq!(io.open_data_file(dir, Path::new("/x"), s, open, no), Err(OpenError::AbsolutePath));
    assert_eq!(io.open_data_file(dir, Path::new("missing"), s, open, no), Err(OpenError::NotFound));
    assert_eq!(
        io.open_data_file(dir, Path::new("data"), 100, open, no),
        Err(OpenError::SizeNotSectorMultiple)
    );
    assert_eq!(io.open_dir(&path.join("data")), Err(OpenError::NotADirectory));
    // A missing directory is created (directories are implicit, as in the
    // twin); a path under a file still cannot be.
    let created = io.open_dir(&path.join("missing")).expect("open_dir creates it");
    close_all(io, ctx, &[created]);
    assert_eq!(io.open_dir(&path.join("data/below")), Err(OpenError::NotADirectory));
    // Direct IO probing opens and closes descriptors of its own.
    for direct in [DirectIo::Required, DirectIo::Optional] {
        let name = format!("direct-{direct:?}");
        match io.open_data_file(dir, Path::new(&name), s, fmt, direct) {
            Ok(fd) => close_all(io, ctx, &[fd]),
            Err(OpenError::DirectIoUnsupported) => {}
            Err(error) => panic!("{name}: {error}"),
        }
    }
    let file = io.open_data_file(dir, Path::new("data"), s, open, no).unwrap();
    io.write(file, Buffer::new(4096).unwrap(), .., 0, 0, on_any).unwrap();
    io.fsync(file, FsyncMode::Full, 0, on_any).unwrap();
    io.read(file, Buffer::new(4096).unwrap(), .., 0, 0, on_any).unwrap();
    io.run_until_done(ctx).unwrap();
    close_all(io, ctx, &[file, dir]);
    // Closing again is a typed error, not a second close of a reused number
    // (this binary runs nothing else concurrently).
    io.close(file, 0, on_close).unwrap();
    io.run_until_done(ctx).unwrap();
    assert_eq!(ctx.closes.pop(), Some(Err(CloseError::BadFileDescriptor)));
}

/// User events, closed and left open at drop, with trigger handles.
fn events(io: &mut IO<Ctx>, ctx: &mut Ctx) -> EventTrigger {
    let closed = io.open_event().unwrap();
    io.event_listen(closed, 0, on_any).unwrap();
    io.close_event(closed).unwrap();
    io.run_until_done(ctx).unwrap();
    let open = io.open_event().unwrap();
    io.event_trigger_handle(open).unwrap()
}

#[test]
fn a_workload_with_error_paths_leaks_no_descriptor() {
    let path =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("fd-leak-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&path);
    std::fs::create_dir_all(&path).unwrap();
    // Warm up anything the standard library opens lazily.
    let _ = open_descriptors();

    let before = open_descriptors();
    for workers in [0, 2] {
        let options = IoOptions::new(64).file_workers(workers);
        let mut io: IO<Ctx> = IO::with_options(options).unwrap();
        let mut ctx = Ctx::default();
        sockets(&mut io, &mut ctx);
        let dir = path.join(format!("w{workers}"));
        std::fs::create_dir_all(&dir).unwrap();
        files(&mut io, &mut ctx, &dir);
        let handle = events(&mut io, &mut ctx);
        assert_eq!(io.in_flight(), 0);
        assert!(open_descriptors() > before, "the IO holds its poller at least");
        drop(io);
        // A trigger handle that outlives the IO keeps its kernel object
        // until it is dropped itself.
        assert_eq!(handle.trigger(), Err(EventError::Closed));
        drop(handle);
        assert_eq!(open_descriptors(), before, "leaked with {workers} file workers");
    }
    // Failed constructions leak nothing either.
    assert!(IO::<Ctx>::init(0).is_err());
    assert_eq!(open_descriptors(), before);
    std::fs::remove_dir_all(&path).unwrap();
}
