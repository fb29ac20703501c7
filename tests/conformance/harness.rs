//! The scenario harness: a context that records everything a scenario
//! observes, with descriptor numbers and ports replaced by names in the
//! order they were first seen, so the records of `IO` and `SimIO` compare
//! exactly.
//!
//! Every wait is bounded in passes of `run_for_ns(1 ms)`, never in time, so
//! a scenario whose operation never completes on one backend records
//! `never` instead of hanging.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use twinio::*;

use crate::ops::{listen_event, timeout};

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
    pub(crate) fds: Vec<(i32, usize)>,
    pub(crate) next_fd: usize,
    pub(crate) ports: Vec<u16>,
    pub(crate) events: Vec<EventId>,
    pub(crate) ids: Vec<(u64, OpId)>,
    pub(crate) acts: Vec<(u64, Act)>,
    /// Completions seen, by tag.
    pub(crate) seen: Vec<u64>,
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

    pub(crate) fn forget(&mut self, fd: Fd) {
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
pub(crate) fn digest(bytes: &[u8]) -> String {
    if bytes.len() <= 16 {
        return format!("{:?}", String::from_utf8_lossy(bytes));
    }
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in bytes {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3);
    }
    format!("#{hash:016x}")
}

pub(crate) fn on_accept<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, done: AcceptDone) {
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

pub(crate) fn on_connect<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, done: ConnectDone) {
    let socket = ctx.name(done.socket);
    ctx.note(format!("t{} connect {socket} {:?}", done.tag, done.result));
    act(ctx, io, done.tag);
}

pub(crate) fn on_recv<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, done: RecvDone) {
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

pub(crate) fn on_send<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, done: SendDone) {
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

pub(crate) fn on_read<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, done: ReadDone) {
    let what = match done.result {
        Ok(n) => format!("Ok({n}) {}", digest(&done.buffer[..n])),
        Err(error) => format!("Err({error:?})"),
    };
    ctx.note(format!("t{} read {what}", done.tag));
    act(ctx, io, done.tag);
}

pub(crate) fn on_write<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, done: WriteDone) {
    ctx.note(format!("t{} write {:?}", done.tag, done.result));
    act(ctx, io, done.tag);
}

pub(crate) fn on_fsync<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, done: FsyncDone) {
    ctx.note(format!("t{} fsync {:?}", done.tag, done.result));
    act(ctx, io, done.tag);
}

pub(crate) fn on_close<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, done: CloseDone) {
    ctx.note(format!("t{} close {:?}", done.tag, done.result));
    act(ctx, io, done.tag);
}

pub(crate) fn on_timeout<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, done: TimeoutDone) {
    ctx.note(format!("t{} timeout {:?}", done.tag, done.result));
    act(ctx, io, done.tag);
}

pub(crate) fn on_event<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, done: EventDone) {
    ctx.note(format!("t{} event {:?}", done.tag, done.result));
    act(ctx, io, done.tag);
}

pub(crate) fn submitted(ctx: &mut Ctx, tag: u64, what: &str, result: Result<OpId, SubmitError>) {
    match result {
        Ok(id) => ctx.ids.push((tag, id)),
        Err(error) => ctx.note(format!("t{tag} {what} refused {error:?}")),
    }
}

pub(crate) fn submitted_buffer(
    ctx: &mut Ctx,
    tag: u64,
    what: &str,
    result: Result<OpId, Rejected<Buffer>>,
) {
    submitted(ctx, tag, what, result.map_err(|rejected| rejected.error));
}
