//! The scripted context: every completion is logged as its tag and its
//! printed result, and a test can script what a callback does besides
//! logging (an [`Action`]: cancel, re-enter the run modes, stop, submit,
//! reset, listen, trigger). Written as an outside user would, against the
//! public API only; the printed form lets a test compare the two backends
//! line by line.

use std::fmt::Debug;
use std::net::SocketAddr;

use twinio::*;

/// One completion: its tag and its outcome, printed (the completions of
/// different operations have different types; comparing the printed form
/// across backends is what the checks need).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub tag: u64,
    pub what: String,
}

/// What a callback should do besides logging, chosen by the test.
#[derive(Clone, Copy, Debug, Default)]
pub enum Action {
    #[default]
    None,
    /// Cancel this op (the callback's own id, or another's).
    Cancel(OpId),
    /// Call every run mode and record what each returned.
    Reenter,
    /// Call `stop()`.
    Stop,
    /// Submit a zero timeout with this tag.
    Submit(u64),
    /// Reset this timeout to fire after `ns`.
    Reset(OpId, u64),
    /// Arm a listener on the event, with this tag.
    Listen(EventId, u64),
    /// Trigger the event.
    Trigger(EventId),
}

#[derive(Default)]
pub struct Ctx {
    pub log: Vec<Entry>,
    /// What the callback with a given tag does, looked up by tag.
    pub actions: Vec<(u64, Action)>,
    /// What the actions returned, printed.
    pub outcomes: Vec<String>,
    /// Buffers handed back by completions (so none is lost).
    pub buffers: Vec<Buffer>,
    /// Descriptors handed out by completions (accept).
    pub fds: Vec<Fd>,
}

impl Ctx {
    pub fn count(&self, tag: u64) -> usize {
        self.log.iter().filter(|e| e.tag == tag).count()
    }
    pub fn get(&self, tag: u64) -> Option<&str> {
        self.log.iter().find(|e| e.tag == tag).map(|e| e.what.as_str())
    }
    pub fn tags(&self) -> Vec<u64> {
        self.log.iter().map(|e| e.tag).collect()
    }
    /// The log as (tag, printed result) pairs, to compare with a literal.
    pub fn entries(&self) -> Vec<(u64, &str)> {
        self.log.iter().map(|e| (e.tag, e.what.as_str())).collect()
    }
    pub fn on(&mut self, tag: u64, action: Action) {
        self.actions.push((tag, action));
    }
}

fn act<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, tag: u64) {
    let actions: Vec<Action> =
        ctx.actions.iter().filter(|(t, _)| *t == tag).map(|(_, a)| *a).collect();
    for action in actions {
        let outcome = match action {
            Action::None => continue,
            Action::Cancel(id) => format!("cancel {:?}", io.cancel(id)),
            Action::Reenter => format!(
                "flush {:?} tick {:?} run_for_ns {:?} run_once {:?} run_until_done {:?}",
                io.flush(ctx, true),
                io.tick(ctx),
                io.run_for_ns(ctx, 1_000),
                io.run_once(ctx),
                io.run_until_done(ctx),
            ),
            Action::Stop => {
                io.stop();
                "stop".to_string()
            }
            Action::Submit(t) => format!("submit {:?}", io.timeout(0, t, on_timeout).map(drop)),
            Action::Reset(id, ns) => format!("reset {:?}", io.reset_timeout(id, ns)),
            Action::Listen(event, t) => {
                format!("listen {:?}", io.event_listen(event, t, on_event).map(drop))
            }
            Action::Trigger(event) => format!("trigger {:?}", io.event_trigger(event)),
        };
        ctx.outcomes.push(outcome);
    }
}

fn log<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, tag: u64, what: impl Debug) {
    ctx.log.push(Entry { tag, what: format!("{what:?}") });
    act(ctx, io, tag);
}

pub fn on_timeout<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, d: TimeoutDone) {
    log(ctx, io, d.tag, d.result);
}
pub fn on_recv<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, d: RecvDone) {
    ctx.buffers.push(d.buffer);
    log(ctx, io, d.tag, d.result);
}
pub fn on_send<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, d: SendDone) {
    ctx.buffers.push(d.buffer);
    log(ctx, io, d.tag, d.result);
}
pub fn on_read<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, d: ReadDone) {
    ctx.buffers.push(d.buffer);
    log(ctx, io, d.tag, d.result);
}
pub fn on_write<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, d: WriteDone) {
    ctx.buffers.push(d.buffer);
    log(ctx, io, d.tag, d.result);
}
pub fn on_fsync<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, d: FsyncDone) {
    log(ctx, io, d.tag, d.result);
}
pub fn on_close<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, d: CloseDone) {
    log(ctx, io, d.tag, d.result);
}
pub fn on_accept<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, d: AcceptDone) {
    // The number differs between backends: log only success or the error.
    if let Ok(fd) = d.result {
        ctx.fds.push(fd);
    }
    log(ctx, io, d.tag, d.result.map(drop));
}
pub fn on_connect<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, d: ConnectDone) {
    log(ctx, io, d.tag, d.result);
}
pub fn on_event<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, d: EventDone) {
    log(ctx, io, d.tag, d.result);
}

/// Runs passes until `cond` holds; bounded (a hang fails instead).
pub fn run_until<I: Io<Context = Ctx>>(io: &mut I, ctx: &mut Ctx, cond: impl Fn(&Ctx) -> bool) {
    for _ in 0..10_000 {
        if cond(ctx) {
            return;
        }
        io.run_for_ns(ctx, 1_000_000).expect("run");
    }
    panic!("condition not reached; log: {:?}", ctx.log);
}

/// Runs until the completion of `tag` is logged, and returns it.
pub fn wait<I: Io<Context = Ctx>>(io: &mut I, ctx: &mut Ctx, tag: u64) -> String {
    run_until(io, ctx, |c| c.count(tag) > 0);
    ctx.get(tag).expect("logged").to_string()
}

pub fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().expect("address")
}

pub fn listener<I: Io<Context = Ctx>>(io: &mut I) -> (Fd, SocketAddr) {
    let socket = io.open_socket(AddressFamily::Ipv4, SocketOptions::default()).expect("socket");
    let address = io.listen(socket, loopback(), 64).expect("listen");
    (socket, address)
}

/// A connected pair (client, server); the listener is closed.
pub fn connected<I: Io<Context = Ctx>>(io: &mut I, ctx: &mut Ctx) -> (Fd, Fd) {
    let (l, address) = listener(io);
    let client = io.open_socket(AddressFamily::Ipv4, SocketOptions::default()).expect("socket");
    io.accept(l, 900_001, on_accept).expect("accept");
    io.connect(client, address, 900_002, on_connect).expect("connect");
    assert_eq!(wait(io, ctx, 900_002), "Ok(())");
    assert_eq!(wait(io, ctx, 900_001), "Ok(())");
    let server = ctx.fds.pop().expect("accepted");
    close(io, ctx, l);
    ctx.log.clear();
    (client, server)
}

pub fn close<I: Io<Context = Ctx>>(io: &mut I, ctx: &mut Ctx, fd: Fd) -> String {
    io.close(fd, 900_003, on_close).expect("close");
    let what = wait(io, ctx, 900_003);
    ctx.log.retain(|e| e.tag != 900_003);
    what
}

pub fn buf(len: usize) -> Buffer {
    Buffer::new(len).expect("buffer")
}

/// Open descriptors of this process (real backend leak checks).
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
}

/// Asserts two backends answered the same lines; `QA_PRINT=1` prints the
/// real answers.
pub fn compare_lines(real: Vec<String>, sim: Vec<String>) {
    if std::env::var_os("QA_PRINT").is_some() {
        println!("{}", real.join("\n"));
    }
    let differ: Vec<String> = real
        .iter()
        .zip(&sim)
        .filter(|(r, s)| r != s)
        .map(|(r, s)| format!("real {r}\n   sim {s}"))
        .collect();
    assert!(differ.is_empty(), "{} differences:\n{}", differ.len(), differ.join("\n"));
    assert_eq!(real.len(), sim.len(), "real {real:#?}\nsim {sim:#?}");
}
