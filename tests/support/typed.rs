//! The typed context: every completion is logged as a typed [`Done`] with
//! the pass it ran in and the clock when it ran. The callbacks only log;
//! a test drives the loop with `flush(wait = true)` until the completion it
//! waits for is logged ([`wait`], [`run_until`]), then matches on it. Every
//! wait is bounded in passes, never in time, so the scenarios hold for any
//! backend that behaves as the kernel does on loopback, with real or
//! virtual time.

use std::net::SocketAddr;
use std::ops::Range;
use std::path::Path;

use twinio::*;

// ---- context and callbacks ----

/// One completion, as logged by the suite's callbacks.
#[derive(Debug)]
pub enum Done {
    Accept(Result<Fd, AcceptError>),
    Connect(Fd, Result<(), ConnectError>),
    Recv(Buffer, Result<usize, RecvError>),
    Send(Buffer, Result<usize, SendError>),
    Read(Buffer, Result<usize, ReadError>),
    Write(Buffer, Result<usize, WriteError>),
    Fsync(Result<(), FsyncError>),
    Close(Result<(), CloseError>),
    Timeout(Result<(), TimeoutError>),
    Event(Result<(), EventError>),
}

/// A logged completion with the pass it ran in and the clock when it ran.
#[derive(Debug)]
pub struct Entry {
    pub tag: u64,
    pub pass: u64,
    pub now_ns: u64,
    pub done: Done,
}

/// The application context of every suite test.
#[derive(Default)]
pub struct Ctx {
    /// Incremented by the driver before each pass.
    pub pass: u64,
    pub log: Vec<Entry>,
    /// A timeout with this tag calls `stop()` when it fires.
    pub stop_tag: Option<u64>,
    /// Where `on_yield_probe` submits its recv.
    pub yield_socket: Option<Fd>,
    /// What `on_reentry_probe` got from each attempt to re-enter the loop.
    pub reentry: Vec<Result<(), RunError>>,
}

impl Ctx {
    fn push<I: Io>(&mut self, io: &I, tag: u64, done: Done) {
        let (pass, now_ns) = (self.pass, io.now_ns());
        self.log.push(Entry { tag, pass, now_ns, done });
    }

    pub fn position(&self, tag: u64) -> Option<usize> {
        self.log.iter().position(|entry| entry.tag == tag)
    }

    pub fn has(&self, tag: u64) -> bool {
        self.position(tag).is_some()
    }

    /// Removes and returns the first completion with `tag`.
    pub fn take(&mut self, tag: u64) -> Option<Entry> {
        self.position(tag).map(|at| self.log.remove(at))
    }

    pub fn count(&self, tag: u64) -> usize {
        self.log.iter().filter(|entry| entry.tag == tag).count()
    }
}

pub fn on_accept<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, d: AcceptDone) {
    ctx.push(io, d.tag, Done::Accept(d.result));
}
pub fn on_connect<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, d: ConnectDone) {
    ctx.push(io, d.tag, Done::Connect(d.socket, d.result));
}
pub fn on_recv<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, d: RecvDone) {
    ctx.push(io, d.tag, Done::Recv(d.buffer, d.result));
}
pub fn on_send<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, d: SendDone) {
    ctx.push(io, d.tag, Done::Send(d.buffer, d.result));
}
pub fn on_read<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, d: ReadDone) {
    ctx.push(io, d.tag, Done::Read(d.buffer, d.result));
}
pub fn on_write<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, d: WriteDone) {
    ctx.push(io, d.tag, Done::Write(d.buffer, d.result));
}
pub fn on_fsync<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, d: FsyncDone) {
    ctx.push(io, d.tag, Done::Fsync(d.result));
}
pub fn on_close<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, d: CloseDone) {
    ctx.push(io, d.tag, Done::Close(d.result));
}
pub fn on_timeout<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, d: TimeoutDone) {
    if ctx.stop_tag == Some(d.tag) {
        io.stop();
    }
    ctx.push(io, d.tag, Done::Timeout(d.result));
}
pub fn on_event<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, d: EventDone) {
    ctx.push(io, d.tag, Done::Event(d.result));
}

/// Submits, from inside the loop, a zero timeout (tag + 1) and then a recv
/// (tag + 2) on `ctx.yield_socket`, whose data is already there.
pub fn on_yield_probe<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, d: TimeoutDone) {
    ctx.push(io, d.tag, Done::Timeout(d.result));
    io.timeout(0, d.tag + 1, on_timeout).expect("a slot is free");
    let socket = ctx.yield_socket.expect("the test set the socket");
    io.recv(socket, buffer(16), .., d.tag + 2, on_recv).expect("a slot is free");
}

/// Tries every way of re-entering the loop from a callback.
pub fn on_reentry_probe<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, d: TimeoutDone) {
    ctx.push(io, d.tag, Done::Timeout(d.result));
    let attempts = [
        io.run_for_ns(ctx, 1),
        io.flush(ctx, false),
        io.flush(ctx, true),
        io.tick(ctx),
        io.run_once(ctx),
        io.run_until_done(ctx),
    ];
    ctx.reentry.extend(attempts);
    // Submitting from a callback is what callbacks are for: still allowed.
    io.timeout(0, d.tag + 1, on_timeout).expect("a slot is free");
}

// ---- driving ----

/// The most loop passes any single wait may take: a bound on a broken
/// backend, never reached by a working one.
const MAX_PASSES: u32 = 100_000;

/// Runs waiting passes until `cond` holds.
pub fn run_until<I: Io<Context = Ctx>>(io: &mut I, ctx: &mut Ctx, cond: impl Fn(&Ctx) -> bool) {
    for _ in 0..MAX_PASSES {
        if cond(ctx) {
            return;
        }
        pass(io, ctx);
    }
    panic!("condition not reached in {MAX_PASSES} passes; log: {:?}", ctx.log);
}

/// One waiting pass, counted in `ctx.pass`.
pub fn pass<I: Io<Context = Ctx>>(io: &mut I, ctx: &mut Ctx) {
    ctx.pass += 1;
    io.flush(ctx, true).expect("flush");
}

/// Waits for the completion tagged `tag` and takes it off the log.
pub fn wait<I: Io<Context = Ctx>>(io: &mut I, ctx: &mut Ctx, tag: u64) -> Entry {
    run_until(io, ctx, |ctx| ctx.has(tag));
    ctx.take(tag).expect("present")
}

pub fn buffer(len: usize) -> Buffer {
    Buffer::new(len).expect("small buffer")
}

/// Deterministic test bytes, distinct per `seed`.
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

macro_rules! expect_done {
    ($entry:expr, $variant:ident) => {
        match $entry.done {
            Done::$variant(a) => a,
            other => panic!("expected {}, got {other:?}", stringify!($variant)),
        }
    };
    ($entry:expr, $variant:ident, 2) => {
        match $entry.done {
            Done::$variant(a, b) => (a, b),
            other => panic!("expected {}, got {other:?}", stringify!($variant)),
        }
    };
}
#[allow(unused_imports)]
pub(crate) use expect_done;

const LOOPBACK: &str = "127.0.0.1:0";

pub fn loopback() -> SocketAddr {
    LOOPBACK.parse().expect("valid address")
}

/// Opens a listener on loopback (port 0) and returns it with its address.
pub fn listener<I: Io<Context = Ctx>>(io: &mut I) -> (Fd, SocketAddr) {
    let socket = io.open_socket(AddressFamily::Ipv4, SocketOptions::default()).expect("socket");
    let address = io.listen(socket, loopback(), 64).expect("listen");
    assert_ne!(address.port(), 0, "port 0 is resolved");
    (socket, address)
}

/// A connected pair over loopback: (client, server). The listener is closed.
pub fn connected<I: Io<Context = Ctx>>(io: &mut I, ctx: &mut Ctx) -> (Fd, Fd) {
    connected_with(io, ctx, SocketOptions::default())
}

pub fn connected_with<I: Io<Context = Ctx>>(
    io: &mut I,
    ctx: &mut Ctx,
    options: SocketOptions,
) -> (Fd, Fd) {
    const ACCEPT: u64 = 9_000_001;
    const CONNECT: u64 = 9_000_002;
    let (listener, address) = listener(io);
    let client = io.open_socket(AddressFamily::Ipv4, options).expect("socket");
    io.accept(listener, ACCEPT, on_accept).expect("accept");
    io.connect(client, address, CONNECT, on_connect).expect("connect");
    let (socket, result) = expect_done!(wait(io, ctx, CONNECT), Connect, 2);
    assert_eq!(socket, client, "the completion names the connecting socket");
    result.expect("connect");
    let server = expect_done!(wait(io, ctx, ACCEPT), Accept).expect("accept");
    assert_ne!(server, client);
    close(io, ctx, listener).expect("close listener");
    (client, server)
}

pub fn close<I: Io<Context = Ctx>>(io: &mut I, ctx: &mut Ctx, fd: Fd) -> Result<(), CloseError> {
    const CLOSE: u64 = 9_000_003;
    io.close(fd, CLOSE, on_close).expect("close");
    expect_done!(wait(io, ctx, CLOSE), Close)
}

pub fn send<I: Io<Context = Ctx>>(
    io: &mut I,
    ctx: &mut Ctx,
    fd: Fd,
    data: &[u8],
) -> Result<usize, SendError> {
    const SEND: u64 = 9_000_004;
    let buf = Buffer::from_slice(data).expect("buffer");
    io.send(fd, buf, .., SEND, on_send).expect("send");
    expect_done!(wait(io, ctx, SEND), Send, 2).1
}

pub fn recv<I: Io<Context = Ctx>>(
    io: &mut I,
    ctx: &mut Ctx,
    fd: Fd,
    len: usize,
) -> Result<Vec<u8>, RecvError> {
    const RECV: u64 = 9_000_005;
    io.recv(fd, buffer(len), .., RECV, on_recv).expect("recv");
    let (buf, result) = expect_done!(wait(io, ctx, RECV), Recv, 2);
    result.map(|n| buf[..n].to_vec())
}

/// What [`transfer`] observed.
#[derive(Debug, Default)]
pub struct Transfer {
    pub sends: usize,
    /// Sends that took fewer bytes than offered.
    pub partial_sends: usize,
    pub recvs: usize,
}

/// Moves `data` from `from` to `to` with one send and one recv in flight at
/// once, each send offering at most `send_chunk` bytes and each recv taking
/// at most `recv_chunk`; resumes partial sends; checks every byte arrives in
/// order.
pub fn transfer<I: Io<Context = Ctx>>(
    io: &mut I,
    ctx: &mut Ctx,
    (from, to): (Fd, Fd),
    data: &[u8],
    send_chunk: usize,
    recv_chunk: usize,
) -> Transfer {
    const SEND: u64 = 9_000_006;
    const RECV: u64 = 9_000_007;
    let mut stats = Transfer::default();
    let mut received = Vec::with_capacity(data.len());
    let mut sent = 0;
    let mut send_buf = Some(Buffer::from_slice(data).expect("buffer"));
    let mut recv_buf = Some(buffer(recv_chunk));
    while received.len() < data.len() {
        if let Some(buf) = send_buf.take_if(|_| sent < data.len()) {
            let end = (sent + send_chunk).min(data.len());
            io.send(from, buf, sent..end, SEND, on_send).expect("send");
            stats.sends += 1;
        }
        if let Some(buf) = recv_buf.take() {
            io.recv(to, buf, .., RECV, on_recv).expect("recv");
            stats.recvs += 1;
        }
        run_until(io, ctx, |ctx| ctx.has(SEND) || ctx.has(RECV));
        if let Some(entry) = ctx.take(SEND) {
            let (buf, result) = expect_done!(entry, Send, 2);
            let n = result.expect("send");
            let offered = send_chunk.min(data.len() - sent);
            assert!(n > 0 && n <= offered, "sent {n} of {offered}");
            stats.partial_sends += usize::from(n < offered);
            sent += n;
            send_buf = Some(buf);
        }
        if let Some(entry) = ctx.take(RECV) {
            let (buf, result) = expect_done!(entry, Recv, 2);
            let n = result.expect("recv");
            assert!(n > 0, "end of stream in the middle of a transfer");
            received.extend_from_slice(&buf[..n]);
            let at = received.len();
            assert!(at <= data.len(), "received more than was sent");
            assert!(received[at - n..] == data[at - n..at], "bytes {}..{at} differ", at - n);
            recv_buf = Some(buf);
        }
    }
    assert_eq!(sent, data.len());
    assert!(ctx.log.is_empty(), "stray completions: {:?}", ctx.log);
    stats
}

impl Entry {
    pub fn done_timeout(&self) -> Result<(), TimeoutError> {
        match &self.done {
            Done::Timeout(result) => *result,
            other => panic!("expected a timeout, got {other:?}"),
        }
    }
}

// ---- data files ----

pub const SECTOR: usize = SECTOR_SIZE;

/// An IO with a directory open, and the typed context, for file tests: each
/// call submits one operation and waits for its completion.
pub struct Files<I> {
    pub io: I,
    pub ctx: Ctx,
    /// The directory [`Files::open`] opens files in.
    pub dir: Fd,
}

impl<I: Io<Context = Ctx>> Files<I> {
    pub fn new(mut io: I, path: impl AsRef<Path>) -> Files<I> {
        let dir = io.open_dir(path.as_ref()).expect("open_dir");
        Files { io, ctx: Ctx::default(), dir }
    }

    /// Opens (or makes) a directory of this IO.
    pub fn open_dir(&mut self, path: impl AsRef<Path>) -> Fd {
        self.io.open_dir(path.as_ref()).expect("open_dir")
    }

    /// Opens `name` in [`Files::dir`], buffered.
    pub fn open(&mut self, name: &str, size: u64, purpose: FilePurpose) -> Result<Fd, OpenError> {
        self.open_in(self.dir, name, size, purpose, DirectIo::Disabled)
    }

    pub fn open_in(
        &mut self,
        dir: Fd,
        name: &str,
        size: u64,
        purpose: FilePurpose,
        direct_io: DirectIo,
    ) -> Result<Fd, OpenError> {
        self.io.open_data_file(dir, Path::new(name), size, purpose, direct_io)
    }

    /// One write of `range` of `buf` at `offset`; hands the buffer back.
    pub fn write_range(
        &mut self,
        fd: Fd,
        buf: Buffer,
        range: Range<usize>,
        offset: u64,
    ) -> (Buffer, Result<usize, WriteError>) {
        self.io.write(fd, buf, range, offset, 1, on_write).expect("write");
        expect_done!(wait(&mut self.io, &mut self.ctx, 1), Write, 2)
    }

    /// One write of all of `data` at `offset`: how much it took.
    pub fn write(&mut self, fd: Fd, data: &[u8], offset: u64) -> Result<usize, WriteError> {
        let buf = Buffer::from_slice(data).expect("buffer");
        self.write_range(fd, buf, 0..data.len(), offset).1
    }

    /// Writes all of `data`, resubmitting the rest after a partial write.
    pub fn write_all(&mut self, fd: Fd, data: &[u8], offset: u64) {
        let mut buf = Buffer::from_slice(data).expect("buffer");
        let mut done = 0;
        while done < data.len() {
            let (returned, result) =
                self.write_range(fd, buf, done..data.len(), offset + done as u64);
            let n = result.expect("write");
            assert!(n > 0, "a write made no progress");
            done += n;
            buf = returned;
        }
    }

    /// One read into `range` of `buf` at `offset`; hands the buffer back.
    pub fn read_range(
        &mut self,
        fd: Fd,
        buf: Buffer,
        range: Range<usize>,
        offset: u64,
    ) -> (Buffer, Result<usize, ReadError>) {
        self.io.read(fd, buf, range, offset, 2, on_read).expect("read");
        expect_done!(wait(&mut self.io, &mut self.ctx, 2), Read, 2)
    }

    /// One read of up to `len` bytes at `offset`: what it read.
    pub fn read(&mut self, fd: Fd, len: usize, offset: u64) -> Result<Vec<u8>, ReadError> {
        let (buf, result) = self.read_range(fd, buffer(len), 0..len, offset);
        result.map(|n| buf[..n].to_vec())
    }

    /// Reads `len` bytes, resuming short reads, stopping at end of file.
    pub fn read_all(&mut self, fd: Fd, len: usize, offset: u64) -> Vec<u8> {
        let mut out = Vec::new();
        while out.len() < len {
            let chunk = self.read(fd, len - out.len(), offset + out.len() as u64).expect("read");
            if chunk.is_empty() {
                break;
            }
            out.extend_from_slice(&chunk);
        }
        out
    }

    pub fn fsync(&mut self, fd: Fd) -> Result<(), FsyncError> {
        self.fsync_mode(fd, FsyncMode::Full)
    }

    pub fn fsync_mode(&mut self, fd: Fd, mode: FsyncMode) -> Result<(), FsyncError> {
        self.io.fsync(fd, mode, 3, on_fsync).expect("fsync");
        expect_done!(wait(&mut self.io, &mut self.ctx, 3), Fsync)
    }

    pub fn close(&mut self, fd: Fd) -> Result<(), CloseError> {
        close(&mut self.io, &mut self.ctx, fd)
    }
}
