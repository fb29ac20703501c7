//! The scenario harness: a context that records everything a scenario
//! observes, with descriptor numbers and ports replaced by names in the
//! order they were first seen, so the records of `IO` and `SimIO` compare
//! exactly.
//!
//! Every wait is bounded in passes of `run_for_ns(1 ms)`, never in time, so
//! a scenario whose operation never completes on one backend records
//! `never` instead of hanging.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use twinio::*;

/// What a scenario observed, one line per result, in order.
pub type Outcome = Vec<String>;

/// Where a scenario may put files, and the loopback addresses.
pub struct Env {
    /// An existing, empty directory (real), or a fresh name (twin).
    pub dir: PathBuf,
    pub v4: IpAddr,
    pub v6: IpAddr,
}

impl Env {
    pub fn new(dir: PathBuf) -> Env {
        Env { dir, v4: IpAddr::V4(Ipv4Addr::LOCALHOST), v6: IpAddr::V6(Ipv6Addr::LOCALHOST) }
    }
    pub fn any_v4(&self) -> SocketAddr {
        SocketAddr::new(self.v4, 0)
    }
    pub fn any_v6(&self) -> SocketAddr {
        SocketAddr::new(self.v6, 0)
    }
}

/// A descriptor that a backend refused to open stands in as `-1`, so the
/// scenario goes on and records what each later operation says.
pub trait OrBad {
    fn or_bad(self) -> Fd;
}

impl OrBad for Option<Fd> {
    fn or_bad(self) -> Fd {
        self.unwrap_or(Fd::from_raw(-1))
    }
}

/// One entry of the table: a generic program, instantiated for each backend.
pub struct Scenario {
    pub name: &'static str,
    pub real: fn(&mut IO<Ctx>, &Env) -> Outcome,
    pub sim: fn(&mut SimIO<Ctx>, &Env) -> Outcome,
}

/// `scenario!(f)`: a table entry for the generic function `f`.
macro_rules! scenario {
    ($name:ident) => {
        $crate::harness::Scenario {
            name: stringify!($name),
            real: $name::<twinio::IO<$crate::harness::Ctx>>,
            sim: $name::<twinio::SimIO<$crate::harness::Ctx>>,
        }
    };
}
pub(crate) use scenario;

/// What a callback does besides recording, chosen by tag.
#[derive(Clone, Copy, Debug)]
pub enum Act {
    /// Cancel the operation submitted with this tag.
    Cancel(u64),
    Stop,
    /// Submit a timeout: (ns, tag).
    Timeout(u64, u64),
    /// Reset the timeout submitted with this tag.
    Reset(u64, u64),
    Listen(EventId, u64),
    Trigger(EventId),
    CloseEvent(EventId),
    /// Record `in_flight()`.
    InFlight,
    /// Call every run mode from the callback and record what each returned.
    Reenter,
}

#[derive(Default)]
pub struct Ctx {
    pub log: Vec<String>,
    /// Live descriptors: (raw number, name).
    fds: Vec<(i32, usize)>,
    next_fd: usize,
    ports: Vec<u16>,
    events: Vec<EventId>,
    ids: Vec<(u64, OpId)>,
    acts: Vec<(u64, Act)>,
    /// Completions seen, by tag.
    seen: Vec<u64>,
    /// Accepted sockets, in order.
    pub accepted: Vec<Fd>,
    /// Bytes received, concatenated, per scenario.
    pub received: Vec<u8>,
    /// Bytes accepted by sends.
    pub sent: usize,
    /// Bulk transfers: count bytes, record no line per send or recv.
    pub quiet: bool,
    /// The address the last successful `listen` bound.
    pub last_bound: Option<SocketAddr>,
}

impl Ctx {
    pub fn new() -> Ctx {
        Ctx::default()
    }

    pub fn note(&mut self, line: impl Into<String>) {
        self.log.push(line.into());
    }

    /// Names a descriptor just handed out.
    pub fn adopt(&mut self, fd: Fd) -> String {
        self.fds.retain(|&(raw, _)| raw != fd.raw());
        self.next_fd += 1;
        self.fds.push((fd.raw(), self.next_fd));
        format!("fd{}", self.next_fd)
    }

    /// The name of a live descriptor (or `fd?` for one never handed out).
    pub fn name(&self, fd: Fd) -> String {
        match self.fds.iter().find(|&&(raw, _)| raw == fd.raw()) {
            Some((_, name)) => format!("fd{name}"),
            None => "fd?".into(),
        }
    }

    fn forget(&mut self, fd: Fd) {
        self.fds.retain(|&(raw, _)| raw != fd.raw());
    }

    /// The name of a port, by first sight.
    pub fn port(&mut self, port: u16) -> String {
        let at = match self.ports.iter().position(|&p| p == port) {
            Some(at) => at,
            None => {
                self.ports.push(port);
                self.ports.len() - 1
            }
        };
        format!("port{at}")
    }

    pub fn addr(&mut self, address: SocketAddr) -> String {
        let port = self.port(address.port());
        format!("{}:{port}", address.ip())
    }

    pub fn on(&mut self, tag: u64, act: Act) {
        self.acts.push((tag, act));
    }

    pub fn id(&self, tag: u64) -> Option<OpId> {
        self.ids.iter().rev().find(|(t, _)| *t == tag).map(|&(_, id)| id)
    }

    pub fn seen(&self, tag: u64) -> bool {
        self.seen.contains(&tag)
    }

    /// How many completions tagged `tag` were seen.
    pub fn seen_count(&self, tag: u64) -> usize {
        self.seen.iter().filter(|&&t| t == tag).count()
    }

    /// Marks a completion seen (for callbacks written in a scenario).
    pub fn note_seen(&mut self, tag: u64) {
        self.seen.push(tag);
    }

    /// Records a submit made by a scenario itself.
    pub fn remember(&mut self, tag: u64, result: Result<OpId, SubmitError>) {
        submitted(self, tag, "submit", result);
    }

    pub fn track_event(&mut self, event: EventId) {
        self.events.push(event);
    }
}

fn act<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, tag: u64) {
    ctx.seen.push(tag);
    let acts: Vec<Act> = ctx.acts.iter().filter(|(t, _)| *t == tag).map(|&(_, a)| a).collect();
    for act in acts {
        match act {
            Act::Cancel(target) => {
                let result = match ctx.id(target) {
                    Some(id) => io.cancel(id),
                    None => Err(CancelError::NotRunning),
                };
                ctx.note(format!("  cancel t{target}: {result:?}"));
            }
            Act::Stop => io.stop(),
            Act::Timeout(ns, tag) => timeout(io, ctx, ns, tag),
            Act::Reset(target, ns) => {
                let result = match ctx.id(target) {
                    Some(id) => io.reset_timeout(id, ns),
                    None => Err(CancelError::NotRunning),
                };
                ctx.note(format!("  reset t{target}: {result:?}"));
            }
            Act::Listen(event, tag) => listen_event(io, ctx, event, tag),
            Act::Trigger(event) => {
                let result = io.event_trigger(event);
                ctx.note(format!("  trigger: {result:?}"));
            }
            Act::CloseEvent(event) => {
                let result = io.close_event(event);
                ctx.note(format!("  close_event: {result:?}"));
            }
            Act::Reenter => {
                let flush = io.flush(ctx, false);
                let run = io.run_for_ns(ctx, 1);
                let once = io.run_once(ctx);
                let done = io.run_until_done(ctx);
                ctx.note(format!("  reenter: {flush:?} {run:?} {once:?} {done:?}"));
            }
            Act::InFlight => {
                let n = io.in_flight();
                ctx.note(format!("  in_flight: {n}"));
            }
        }
    }
}

/// A short, comparable digest of bytes: the bytes themselves when short.
fn digest(bytes: &[u8]) -> String {
    if bytes.len() <= 16 {
        return format!("{:?}", String::from_utf8_lossy(bytes));
    }
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in bytes {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3);
    }
    format!("#{hash:016x}")
}

fn on_accept<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, done: AcceptDone) {
    let what = match done.result {
        Ok(fd) => {
            ctx.accepted.push(fd);
            format!("Ok({})", ctx.adopt(fd))
        }
        Err(error) => format!("Err({error:?})"),
    };
    ctx.note(format!("t{} accept {what}", done.tag));
    act(ctx, io, done.tag);
}

fn on_connect<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, done: ConnectDone) {
    let socket = ctx.name(done.socket);
    ctx.note(format!("t{} connect {socket} {:?}", done.tag, done.result));
    act(ctx, io, done.tag);
}

fn on_recv<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, done: RecvDone) {
    let what = match done.result {
        Ok(n) => {
            ctx.received.extend_from_slice(&done.buffer[..n]);
            format!("Ok({n}) {}", digest(&done.buffer[..n]))
        }
        Err(error) => format!("Err({error:?})"),
    };
    if !ctx.quiet || done.result.is_err() {
        ctx.note(format!("t{} recv {what}", done.tag));
    }
    act(ctx, io, done.tag);
}

fn on_send<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, done: SendDone) {
    let what = match done.result {
        Ok(n) => {
            ctx.sent += n;
            if n == done.buffer.len() { format!("Ok({n})") } else { "Ok(short)".into() }
        }
        Err(error) => format!("Err({error:?})"),
    };
    if !ctx.quiet || done.result.is_err() {
        ctx.note(format!("t{} send {what}", done.tag));
    }
    act(ctx, io, done.tag);
}

fn on_read<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, done: ReadDone) {
    let what = match done.result {
        Ok(n) => format!("Ok({n}) {}", digest(&done.buffer[..n])),
        Err(error) => format!("Err({error:?})"),
    };
    ctx.note(format!("t{} read {what}", done.tag));
    act(ctx, io, done.tag);
}

fn on_write<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, done: WriteDone) {
    ctx.note(format!("t{} write {:?}", done.tag, done.result));
    act(ctx, io, done.tag);
}

fn on_fsync<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, done: FsyncDone) {
    ctx.note(format!("t{} fsync {:?}", done.tag, done.result));
    act(ctx, io, done.tag);
}

fn on_close<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, done: CloseDone) {
    ctx.note(format!("t{} close {:?}", done.tag, done.result));
    act(ctx, io, done.tag);
}

fn on_timeout<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, done: TimeoutDone) {
    ctx.note(format!("t{} timeout {:?}", done.tag, done.result));
    act(ctx, io, done.tag);
}

fn on_event<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, done: EventDone) {
    ctx.note(format!("t{} event {:?}", done.tag, done.result));
    act(ctx, io, done.tag);
}

fn submitted(ctx: &mut Ctx, tag: u64, what: &str, result: Result<OpId, SubmitError>) {
    match result {
        Ok(id) => ctx.ids.push((tag, id)),
        Err(error) => ctx.note(format!("t{tag} {what} refused {error:?}")),
    }
}

fn submitted_buffer(ctx: &mut Ctx, tag: u64, what: &str, result: Result<OpId, Rejected<Buffer>>) {
    submitted(ctx, tag, what, result.map_err(|rejected| rejected.error));
}

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
