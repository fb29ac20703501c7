//! What scenarios are written with: submits that record a refusal, loop
//! drivers bounded in passes, the start and end of a scenario, and the
//! connections and files several scenarios set up the same way.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use twinio::*;

use crate::harness::*;

/// A buffer of `len` bytes, each `fill`.
pub fn filled(len: usize, fill: u8) -> Buffer {
    let mut buffer = Buffer::new(len).expect("buffer");
    buffer.fill(fill);
    buffer
}

pub fn accept<I: Io<Context = Ctx>>(io: &mut I, ctx: &mut Ctx, fd: Fd, tag: u64) {
    let result = io.accept(fd, tag, on_accept);
    submitted(ctx, tag, "accept", result);
}

pub fn connect<I: Io<Context = Ctx>>(
    io: &mut I,
    ctx: &mut Ctx,
    fd: Fd,
    address: SocketAddr,
    tag: u64,
) {
    let result = io.connect(fd, address, tag, on_connect);
    submitted(ctx, tag, "connect", result);
}

pub fn recv<I: Io<Context = Ctx>>(io: &mut I, ctx: &mut Ctx, fd: Fd, len: usize, tag: u64) {
    let result = io.recv(fd, Buffer::new(len).expect("buffer"), .., tag, on_recv);
    submitted_buffer(ctx, tag, "recv", result);
}

pub fn send<I: Io<Context = Ctx>>(io: &mut I, ctx: &mut Ctx, fd: Fd, bytes: &[u8], tag: u64) {
    send_buffer(io, ctx, fd, Buffer::from_slice(bytes).expect("buffer"), tag);
}

pub fn send_buffer<I: Io<Context = Ctx>>(
    io: &mut I,
    ctx: &mut Ctx,
    fd: Fd,
    buffer: Buffer,
    tag: u64,
) {
    let result = io.send(fd, buffer, .., tag, on_send);
    submitted_buffer(ctx, tag, "send", result);
}

pub fn read<I: Io<Context = Ctx>>(
    io: &mut I,
    ctx: &mut Ctx,
    fd: Fd,
    buffer: Buffer,
    range: std::ops::Range<usize>,
    offset: u64,
    tag: u64,
) {
    let result = io.read(fd, buffer, range, offset, tag, on_read);
    submitted_buffer(ctx, tag, "read", result);
}

pub fn write<I: Io<Context = Ctx>>(
    io: &mut I,
    ctx: &mut Ctx,
    fd: Fd,
    buffer: Buffer,
    range: std::ops::Range<usize>,
    offset: u64,
    tag: u64,
) {
    let result = io.write(fd, buffer, range, offset, tag, on_write);
    submitted_buffer(ctx, tag, "write", result);
}

pub fn fsync<I: Io<Context = Ctx>>(io: &mut I, ctx: &mut Ctx, fd: Fd, mode: FsyncMode, tag: u64) {
    let result = io.fsync(fd, mode, tag, on_fsync);
    submitted(ctx, tag, "fsync", result);
}

pub fn close<I: Io<Context = Ctx>>(io: &mut I, ctx: &mut Ctx, fd: Fd, tag: u64) {
    let result = io.close(fd, tag, on_close);
    if result.is_ok() {
        ctx.forget(fd);
    }
    submitted(ctx, tag, "close", result);
}

pub fn timeout<I: Io<Context = Ctx>>(io: &mut I, ctx: &mut Ctx, ns: u64, tag: u64) {
    let result = io.timeout(ns, tag, on_timeout);
    submitted(ctx, tag, "timeout", result);
}

pub fn listen_event<I: Io<Context = Ctx>>(io: &mut I, ctx: &mut Ctx, event: EventId, tag: u64) {
    let result = io.event_listen(event, tag, on_event);
    submitted(ctx, tag, "event_listen", result);
}

/// Opens a socket and records the outcome; the socket, if any.
pub fn socket<I: Io<Context = Ctx>>(io: &mut I, ctx: &mut Ctx, family: AddressFamily) -> Fd {
    match io.open_socket(family, SocketOptions::default()) {
        Ok(fd) => {
            ctx.adopt(fd);
            fd
        }
        Err(error) => {
            ctx.note(format!("open_socket {error:?}"));
            Fd::from_raw(-1)
        }
    }
}

/// `listen`, recorded with the port named.
pub fn listen<I: Io<Context = Ctx>>(
    io: &mut I,
    ctx: &mut Ctx,
    fd: Fd,
    address: SocketAddr,
    backlog: u32,
) -> Option<SocketAddr> {
    let result = io.listen(fd, address, backlog);
    let what = match result {
        Ok(bound) => {
            ctx.last_bound = Some(bound);
            format!("Ok({})", ctx.addr(bound))
        }
        Err(error) => format!("Err({error:?})"),
    };
    ctx.note(format!("listen {} {what}", ctx.name(fd)));
    result.ok()
}

/// A listening socket on `address` (port 0): its descriptor and address.
pub fn listener<I: Io<Context = Ctx>>(
    io: &mut I,
    ctx: &mut Ctx,
    address: SocketAddr,
) -> (Fd, SocketAddr) {
    let fd = socket(io, ctx, AddressFamily::of(&address));
    let bound = listen(io, ctx, fd, address, 16).expect("listen");
    (fd, bound)
}

/// A connected pair over loopback: (client, server), handshake recorded.
pub fn pair<I: Io<Context = Ctx>>(io: &mut I, ctx: &mut Ctx, address: SocketAddr) -> (Fd, Fd, Fd) {
    let (lfd, bound) = listener(io, ctx, address);
    let client = socket(io, ctx, AddressFamily::of(&address));
    accept(io, ctx, lfd, 900);
    connect(io, ctx, client, bound, 901);
    wait(io, ctx, 900);
    wait(io, ctx, 901);
    let server = *ctx.accepted.last().expect("accepted");
    (lfd, client, server)
}

/// Opens an IPv4 socket, connects it to `address` with `tag` and waits for
/// that completion, whatever it is; the socket.
pub fn client_v4<I: Io<Context = Ctx>>(
    io: &mut I,
    ctx: &mut Ctx,
    address: SocketAddr,
    tag: u64,
) -> Fd {
    let s = socket(io, ctx, AddressFamily::Ipv4);
    connect(io, ctx, s, address, tag);
    wait(io, ctx, tag);
    s
}

/// A port nothing listens on: bound, then closed.
pub fn dead_address<I: Io<Context = Ctx>>(io: &mut I, ctx: &mut Ctx, ip: IpAddr) -> SocketAddr {
    let (fd, bound) = listener(io, ctx, SocketAddr::new(ip, 0));
    close(io, ctx, fd, 902);
    wait(io, ctx, 902);
    bound
}

pub fn shutdown<I: Io<Context = Ctx>>(io: &mut I, ctx: &mut Ctx, fd: Fd, how: Shutdown) {
    let result = io.shutdown(fd, how);
    ctx.note(format!("shutdown {} {how:?} {result:?}", ctx.name(fd)));
}

pub fn open_dir<I: Io<Context = Ctx>>(io: &mut I, ctx: &mut Ctx, path: &Path) -> Option<Fd> {
    match io.open_dir(path) {
        Ok(fd) => {
            let name = ctx.adopt(fd);
            ctx.note(format!("open_dir Ok({name})"));
            Some(fd)
        }
        Err(error) => {
            ctx.note(format!("open_dir Err({error:?})"));
            None
        }
    }
}

pub fn open_file<I: Io<Context = Ctx>>(
    io: &mut I,
    ctx: &mut Ctx,
    dir: Fd,
    path: &Path,
    size: u64,
    purpose: FilePurpose,
    direct: DirectIo,
) -> Option<Fd> {
    match io.open_data_file(dir, path, size, purpose, direct) {
        Ok(fd) => {
            let name = ctx.adopt(fd);
            ctx.note(format!("open {purpose:?} Ok({name})"));
            Some(fd)
        }
        Err(error) => {
            ctx.note(format!("open {purpose:?} Err({error:?})"));
            None
        }
    }
}

/// The most 1 ms slices a wait runs: loopback answers within a few.
const PATIENCE: usize = 1000;

/// Runs 1 ms slices until the completion tagged `tag` was seen, at most
/// [`PATIENCE`] of them; records `never` if it was not.
pub fn wait<I: Io<Context = Ctx>>(io: &mut I, ctx: &mut Ctx, tag: u64) {
    for _ in 0..PATIENCE {
        if ctx.seen(tag) {
            return;
        }
        io.run_for_ns(ctx, 1_000_000).expect("run");
    }
    if !ctx.seen(tag) {
        ctx.note(format!("t{tag} never"));
    }
}

/// Runs until nothing is in flight (bounded as [`wait`]).
pub fn drain<I: Io<Context = Ctx>>(io: &mut I, ctx: &mut Ctx) {
    for _ in 0..PATIENCE {
        if io.in_flight() == 0 {
            return;
        }
        io.run_for_ns(ctx, 1_000_000).expect("run");
    }
    ctx.note(format!("still in flight: {}", io.in_flight()));
}

/// Gives loopback a moment: a few passes, enough for segments in flight to
/// arrive on either backend (the twin's delay is 10 µs; loopback's is the
/// kernel's own softirq).
pub fn settle<I: Io<Context = Ctx>>(io: &mut I, ctx: &mut Ctx) {
    for _ in 0..20 {
        io.run_for_ns(ctx, 1_000_000).expect("run");
    }
}

/// Runs `flush(wait = false)` `passes` times.
pub fn ticks<I: Io<Context = Ctx>>(io: &mut I, ctx: &mut Ctx, passes: usize) {
    for _ in 0..passes {
        io.tick(ctx).expect("tick");
    }
}

/// The lowest free descriptor, as an offset from `base` (what a leak moves).
fn probe<I: Io<Context = Ctx>>(io: &mut I, ctx: &mut Ctx, env: &Env) -> i32 {
    let fd = io.open_dir(&env.dir).expect("probe open_dir");
    let raw = fd.raw();
    let _ = io.close(fd, u64::MAX, |_, _, _| {});
    drain(io, ctx);
    raw
}

/// Starts a scenario: a context, and the probe's base.
pub fn begin<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> (Ctx, i32) {
    let mut ctx = Ctx::new();
    let base = probe(io, &mut ctx, env);
    (ctx, base)
}

/// Ends a scenario: records what is still in flight and open, closes it,
/// and records how far the lowest free descriptor moved (untracked leaks).
pub fn finish<I: Io<Context = Ctx>>(io: &mut I, mut ctx: Ctx, env: &Env, base: i32) -> Outcome {
    ctx.note(format!("end: in_flight {}", io.in_flight()));
    let mut open: Vec<(i32, usize)> = ctx.fds.clone();
    open.sort_by_key(|&(_, name)| name);
    let names: Vec<String> = open.iter().map(|&(_, name)| format!("fd{name}")).collect();
    ctx.note(format!("end: open [{}]", names.join(" ")));
    ctx.acts.clear();
    for (raw, _) in open {
        let _ = io.close(Fd::from_raw(raw), u64::MAX, |_, _, _| {});
    }
    for event in std::mem::take(&mut ctx.events) {
        let _ = io.close_event(event);
    }
    drain(io, &mut ctx);
    io.cancel_all();
    drain(io, &mut ctx);
    let moved = probe(io, &mut ctx, env) - base;
    ctx.note(format!("end: lowest free fd moved {moved}"));
    ctx.note(format!("end: received {} sent {}", digest(&ctx.received), ctx.sent));
    ctx.log
}

/// Path of `len` bytes made of `name_len`-byte components joined by `/`.
pub fn long_path(len: usize, name_len: usize) -> PathBuf {
    let mut path = String::new();
    while path.len() < len {
        if !path.is_empty() {
            path.push('/');
        }
        let left = len - path.len();
        let take = left.min(name_len);
        path.push_str(&"n".repeat(take));
    }
    PathBuf::from(path)
}

/// The size of the scenarios' data files: two sectors.
pub const SIZE: u64 = 8192;
pub const SECTOR: usize = SECTOR_SIZE;

pub fn v4<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> (Ctx, i32, Fd, Fd, Fd) {
    let (mut c, base) = begin(io, env);
    let (listener, client, server) = pair(io, &mut c, env.any_v4());
    (c, base, listener, client, server)
}

pub fn listener_v4<I: Io<Context = Ctx>>(io: &mut I, c: &mut Ctx) -> (Fd, SocketAddr) {
    let address = SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), 0);
    listener(io, c, address)
}

pub fn refused_socket<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> (Ctx, i32, Fd) {
    let (mut c, base) = begin(io, env);
    let dead = dead_address(io, &mut c, env.v4);
    let s = client_v4(io, &mut c, dead, 1);
    (c, base, s)
}

pub fn dir<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> (Ctx, i32, Fd) {
    let (mut c, base) = begin(io, env);
    let d = open_dir(io, &mut c, &env.dir).expect("the scenario's directory opens");
    (c, base, d)
}

pub fn format<I: Io<Context = Ctx>>(io: &mut I, c: &mut Ctx, d: Fd, name: &str) -> Option<Fd> {
    open_file(io, c, d, Path::new(name), SIZE, FilePurpose::Format, DirectIo::Disabled)
}

pub fn formatted<I: Io<Context = Ctx>>(io: &mut I, env: &Env, direct: DirectIo) -> (Ctx, i32, Fd) {
    let (mut c, base, d) = dir(io, env);
    let f = open_file(io, &mut c, d, Path::new("data"), SIZE, FilePurpose::Format, direct);
    (c, base, f.expect("format"))
}

pub fn open_as<I: Io<Context = Ctx>>(
    io: &mut I,
    c: &mut Ctx,
    d: Fd,
    name: &str,
    size: u64,
    purpose: FilePurpose,
) -> Option<Fd> {
    open_file(io, c, d, Path::new(name), size, purpose, DirectIo::Disabled)
}

pub fn closed_file<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> (Ctx, i32, Fd) {
    let (mut c, base, d) = dir(io, env);
    let f = format(io, &mut c, d, "f").or_bad();
    close(io, &mut c, f, 1);
    wait(io, &mut c, 1);
    (c, base, d)
}
