//! The behavioural suite: what every `Io` backend must do, written once,
//! generic over the backend, and instantiated by one small file per backend
//! (`tests/behaviour_real.rs`, and `tests/behaviour_sim.rs` for the twin).
//!
//! A backend supplies a [`Backend`] impl (how to build an IO, where data
//! files may live, how to keep descriptor numbers stable) and invokes
//! [`suite!`], which expands to one `#[test]` per function below. For the
//! twin that is, in full:
//!
//! ```ignore
//! mod behaviour;
//! struct Sim;
//! impl behaviour::Backend for Sim {
//!     type Io = twinio::SimIO<behaviour::Ctx>;
//!     type Dir = std::path::PathBuf;
//!     type Guard = ();
//!     fn io(entries: u32) -> Self::Io {
//!         twinio::SimIO::new(SEED, entries, twinio::FaultConfig::none())
//!     }
//!     fn dir(name: &str) -> Self::Dir { std::path::PathBuf::from("/sim").join(name) }
//!     fn shared() {}
//!     fn exclusive() {}
//! }
//! behaviour::suite!(Sim);
//! ```
//!
//! The tests hold for any backend that behaves as the kernel does on
//! loopback: time may be real or virtual (nothing asserts a duration; a
//! peer's reset is given time to arrive), descriptor numbers may be real or
//! simulated.
//!
//! The callbacks only log completions into [`Ctx`]; each test drives the loop
//! with `flush(wait = true)` until the completion it waits for is logged,
//! then matches on it. Every wait is bounded in passes, never in time.

#![allow(dead_code)] // Each test binary uses the suite through the macro.

use std::net::SocketAddr;
use std::path::Path;

use twinio::*;

/// What a backend provides to the suite.
pub trait Backend {
    /// The IO under test.
    type Io: Io<Context = Ctx>;
    /// A directory data files may be created in, alive as long as the value.
    type Dir: AsRef<Path>;
    /// Held for the whole of a test (see [`Backend::shared`]).
    type Guard;

    /// A fresh IO with `entries` operation slots.
    fn io(entries: u32) -> Self::Io;
    /// A fresh, empty directory for data files; `name` is unique per test.
    fn dir(name: &str) -> Self::Dir;
    /// Taken by every test that opens descriptors.
    fn shared() -> Self::Guard;
    /// Taken by a test that uses a descriptor number after closing it: no
    /// other test may be handed that number meanwhile.
    fn exclusive() -> Self::Guard;
}

/// Expands to one `#[test]` per suite function, for backend `$backend`.
macro_rules! suite {
    ($backend:ty) => {
        $crate::behaviour::suite!(@each $backend;
            accept_and_connect_hand_out_connected_sockets,
            ping_pong_round_trips,
            large_transfers_resume_partial_sends,
            many_small_sends_and_small_receives,
            end_of_stream_after_the_peer_closes_or_shuts_down,
            connect_refused,
            recv_from_a_reset_peer,
            close_completes_pending_operations_first_with_canceled,
            several_recvs_parked_on_one_socket,
            close_queued_behind_much_work_still_completes_pending_operations_first,
            socket_misuse_is_a_typed_error,
            send_to_a_closed_or_reset_peer_is_a_typed_error,
            timers_fire_in_deadline_order_ties_in_submission_order,
            a_timeout_that_never_expires_can_be_canceled,
            zero_timeout_is_a_yield,
            events_listen_trigger_coalesce_and_close,
            a_canceled_listener_leaves_its_trigger_to_the_next,
            data_file_round_trips_at_offsets,
            data_file_reads_at_end_of_file,
            second_open_of_a_data_file_is_locked,
            refused_open_arguments,
            zero_length_and_out_of_range_buffers_are_refused,
            negative_descriptor_is_refused_at_submit,
            closed_descriptor_is_a_typed_error,
            submit_beyond_the_reserved_slots_returns_the_buffer,
            running_the_loop_from_a_callback_is_refused,
            cancel_basics,
            reset_timeout_basics,
            run_modes,
        );
    };
    (@each $backend:ty; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $crate::behaviour::$name::<$backend>();
            }
        )*
    };
}
pub(crate) use suite;

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

    fn position(&self, tag: u64) -> Option<usize> {
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

fn on_accept<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, d: AcceptDone) {
    ctx.push(io, d.tag, Done::Accept(d.result));
}
fn on_connect<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, d: ConnectDone) {
    ctx.push(io, d.tag, Done::Connect(d.socket, d.result));
}
fn on_recv<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, d: RecvDone) {
    ctx.push(io, d.tag, Done::Recv(d.buffer, d.result));
}
fn on_send<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, d: SendDone) {
    ctx.push(io, d.tag, Done::Send(d.buffer, d.result));
}
fn on_read<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, d: ReadDone) {
    ctx.push(io, d.tag, Done::Read(d.buffer, d.result));
}
fn on_write<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, d: WriteDone) {
    ctx.push(io, d.tag, Done::Write(d.buffer, d.result));
}
fn on_fsync<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, d: FsyncDone) {
    ctx.push(io, d.tag, Done::Fsync(d.result));
}
fn on_close<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, d: CloseDone) {
    ctx.push(io, d.tag, Done::Close(d.result));
}
fn on_timeout<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, d: TimeoutDone) {
    if ctx.stop_tag == Some(d.tag) {
        io.stop();
    }
    ctx.push(io, d.tag, Done::Timeout(d.result));
}
fn on_event<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, d: EventDone) {
    ctx.push(io, d.tag, Done::Event(d.result));
}

/// Submits, from inside the loop, a zero timeout (tag + 1) and then a recv
/// (tag + 2) on `ctx.yield_socket`, whose data is already there.
fn on_yield_probe<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, d: TimeoutDone) {
    ctx.push(io, d.tag, Done::Timeout(d.result));
    io.timeout(0, d.tag + 1, on_timeout).expect("a slot is free");
    let socket = ctx.yield_socket.expect("the test set the socket");
    io.recv(socket, buffer(16), .., d.tag + 2, on_recv).expect("a slot is free");
}

/// Tries every way of re-entering the loop from a callback.
fn on_reentry_probe<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, d: TimeoutDone) {
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

macro_rules! expect {
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

const LOOPBACK: &str = "127.0.0.1:0";

fn loopback() -> SocketAddr {
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
    let (socket, result) = expect!(wait(io, ctx, CONNECT), Connect, 2);
    assert_eq!(socket, client, "the completion names the connecting socket");
    result.expect("connect");
    let server = expect!(wait(io, ctx, ACCEPT), Accept).expect("accept");
    assert_ne!(server, client);
    close(io, ctx, listener).expect("close listener");
    (client, server)
}

pub fn close<I: Io<Context = Ctx>>(io: &mut I, ctx: &mut Ctx, fd: Fd) -> Result<(), CloseError> {
    const CLOSE: u64 = 9_000_003;
    io.close(fd, CLOSE, on_close).expect("close");
    expect!(wait(io, ctx, CLOSE), Close)
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
    expect!(wait(io, ctx, SEND), Send, 2).1
}

pub fn recv<I: Io<Context = Ctx>>(
    io: &mut I,
    ctx: &mut Ctx,
    fd: Fd,
    len: usize,
) -> Result<Vec<u8>, RecvError> {
    const RECV: u64 = 9_000_005;
    io.recv(fd, buffer(len), .., RECV, on_recv).expect("recv");
    let (buf, result) = expect!(wait(io, ctx, RECV), Recv, 2);
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
            let (buf, result) = expect!(entry, Send, 2);
            let n = result.expect("send");
            let offered = send_chunk.min(data.len() - sent);
            assert!(n > 0 && n <= offered, "sent {n} of {offered}");
            stats.partial_sends += usize::from(n < offered);
            sent += n;
            send_buf = Some(buf);
        }
        if let Some(entry) = ctx.take(RECV) {
            let (buf, result) = expect!(entry, Recv, 2);
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

// ---- sockets ----

pub fn accept_and_connect_hand_out_connected_sockets<B: Backend>() {
    let _g = B::shared();
    let mut io = B::io(16);
    let mut ctx = Ctx::default();
    let (client, server) = connected(&mut io, &mut ctx);
    // Both directions carry data.
    assert_eq!(send(&mut io, &mut ctx, client, b"ping"), Ok(4));
    assert_eq!(recv(&mut io, &mut ctx, server, 64).unwrap(), b"ping");
    assert_eq!(send(&mut io, &mut ctx, server, b"pong!"), Ok(5));
    assert_eq!(recv(&mut io, &mut ctx, client, 64).unwrap(), b"pong!");
    // A listener accepts more than one connection.
    let (listener, address) = listener(&mut io);
    for round in 0..3u64 {
        let client = io.open_socket(AddressFamily::Ipv4, SocketOptions::default()).unwrap();
        io.connect(client, address, 10 + round, on_connect).unwrap();
        io.accept(listener, 20 + round, on_accept).unwrap();
        expect!(wait(&mut io, &mut ctx, 10 + round), Connect, 2).1.unwrap();
        let accepted = expect!(wait(&mut io, &mut ctx, 20 + round), Accept).unwrap();
        close(&mut io, &mut ctx, accepted).unwrap();
        close(&mut io, &mut ctx, client).unwrap();
    }
    for fd in [listener, client, server] {
        close(&mut io, &mut ctx, fd).unwrap();
    }
    assert_eq!(io.in_flight(), 0);
}

pub fn ping_pong_round_trips<B: Backend>() {
    let _g = B::shared();
    let mut io = B::io(16);
    let mut ctx = Ctx::default();
    let (client, server) = connected(&mut io, &mut ctx);
    for round in 0..50u64 {
        let len = 1 + (round as usize * 37) % 500;
        let message = pattern(round, len);
        let t = transfer(&mut io, &mut ctx, (client, server), &message, len, len);
        assert!(t.sends >= 1 && t.recvs >= 1);
        let reply = pattern(round + 1000, len);
        transfer(&mut io, &mut ctx, (server, client), &reply, len, len);
    }
    close(&mut io, &mut ctx, client).unwrap();
    close(&mut io, &mut ctx, server).unwrap();
    assert_eq!(io.in_flight(), 0);
}

pub fn large_transfers_resume_partial_sends<B: Backend>() {
    let _g = B::shared();
    let mut io = B::io(16);
    let mut ctx = Ctx::default();
    let (client, server) = connected(&mut io, &mut ctx);
    // Far more than a socket buffer takes at once, so sends come back short
    // and must be resumed from where they stopped.
    let data = pattern(1, 4 << 20);
    transfer(&mut io, &mut ctx, (client, server), &data, data.len(), 64 << 10);
    let data = pattern(2, 1 << 20);
    transfer(&mut io, &mut ctx, (server, client), &data, data.len(), 1000);
    close(&mut io, &mut ctx, client).unwrap();
    close(&mut io, &mut ctx, server).unwrap();
}

pub fn many_small_sends_and_small_receives<B: Backend>() {
    let _g = B::shared();
    let mut io = B::io(16);
    let mut ctx = Ctx::default();
    let (client, server) = connected(&mut io, &mut ctx);
    let data = pattern(3, 7 * 2000);
    let t = transfer(&mut io, &mut ctx, (client, server), &data, 7, 4096);
    assert!(t.sends >= 2000, "every send offered 7 bytes: {t:?}");
    let data = pattern(4, 30_000);
    let t = transfer(&mut io, &mut ctx, (server, client), &data, 30_000, 3);
    assert!(t.recvs >= 10_000, "every recv took at most 3 bytes: {t:?}");
    close(&mut io, &mut ctx, client).unwrap();
    close(&mut io, &mut ctx, server).unwrap();
}

pub fn end_of_stream_after_the_peer_closes_or_shuts_down<B: Backend>() {
    let _g = B::shared();
    let mut io = B::io(16);
    let mut ctx = Ctx::default();

    // Close: the data sent before it arrives, then end of stream, repeatedly.
    let (client, server) = connected(&mut io, &mut ctx);
    assert_eq!(send(&mut io, &mut ctx, client, b"bye"), Ok(3));
    close(&mut io, &mut ctx, client).unwrap();
    assert_eq!(recv(&mut io, &mut ctx, server, 64).unwrap(), b"bye");
    assert_eq!(recv(&mut io, &mut ctx, server, 64).unwrap(), b"");
    assert_eq!(recv(&mut io, &mut ctx, server, 64).unwrap(), b"");
    close(&mut io, &mut ctx, server).unwrap();

    // A recv parked before the close is woken by it with end of stream.
    let (client, server) = connected(&mut io, &mut ctx);
    io.recv(server, buffer(16), .., 1, on_recv).unwrap();
    io.tick(&mut ctx).unwrap();
    close(&mut io, &mut ctx, client).unwrap();
    assert_eq!(expect!(wait(&mut io, &mut ctx, 1), Recv, 2).1, Ok(0));
    close(&mut io, &mut ctx, server).unwrap();

    // Shutting down the write half: the peer sees end of stream, and the
    // other direction still works.
    let (client, server) = connected(&mut io, &mut ctx);
    io.shutdown(server, Shutdown::Write).unwrap();
    assert_eq!(recv(&mut io, &mut ctx, client, 64).unwrap(), b"");
    assert_eq!(send(&mut io, &mut ctx, client, b"still open"), Ok(10));
    assert_eq!(recv(&mut io, &mut ctx, server, 64).unwrap(), b"still open");
    close(&mut io, &mut ctx, client).unwrap();
    assert_eq!(recv(&mut io, &mut ctx, server, 64).unwrap(), b"");
    close(&mut io, &mut ctx, server).unwrap();
    assert_eq!(io.in_flight(), 0);
}

pub fn connect_refused<B: Backend>() {
    let _g = B::shared();
    let mut io = B::io(16);
    let mut ctx = Ctx::default();
    // An address that was listened on and no longer is.
    let (listener, address) = listener(&mut io);
    close(&mut io, &mut ctx, listener).unwrap();
    let client = io.open_socket(AddressFamily::Ipv4, SocketOptions::default()).unwrap();
    io.connect(client, address, 1, on_connect).unwrap();
    let (socket, result) = expect!(wait(&mut io, &mut ctx, 1), Connect, 2);
    assert_eq!(socket, client);
    assert_eq!(result, Err(ConnectError::ConnectionRefused));
    close(&mut io, &mut ctx, client).unwrap();
    assert_eq!(io.in_flight(), 0);
}

pub fn recv_from_a_reset_peer<B: Backend>() {
    let _g = B::shared();
    let mut io = B::io(16);
    let mut ctx = Ctx::default();
    // Closing with unread data resets the connection (RFC 2525, 2.17).
    let (client, server) = connected(&mut io, &mut ctx);
    assert_eq!(send(&mut io, &mut ctx, client, b"unread"), Ok(6));
    // The server must hold the bytes before it closes: wait for them to
    // arrive by reading all but the last.
    assert_eq!(recv(&mut io, &mut ctx, server, 5).unwrap(), b"unrea");
    close(&mut io, &mut ctx, server).unwrap();
    assert_eq!(recv(&mut io, &mut ctx, client, 64), Err(RecvError::ConnectionResetByPeer));
    close(&mut io, &mut ctx, client).unwrap();

    // A recv already parked when the reset arrives is woken with it.
    let (client, server) = connected(&mut io, &mut ctx);
    assert_eq!(send(&mut io, &mut ctx, client, b"unread"), Ok(6));
    assert_eq!(recv(&mut io, &mut ctx, server, 5).unwrap(), b"unrea");
    io.recv(client, buffer(64), .., 1, on_recv).unwrap();
    pass(&mut io, &mut ctx);
    assert!(!ctx.has(1), "nothing to receive yet");
    close(&mut io, &mut ctx, server).unwrap();
    let result = expect!(wait(&mut io, &mut ctx, 1), Recv, 2).1;
    assert_eq!(result, Err(RecvError::ConnectionResetByPeer));
    close(&mut io, &mut ctx, client).unwrap();
    assert_eq!(io.in_flight(), 0);
}

pub fn several_recvs_parked_on_one_socket<B: Backend>() {
    let _g = B::shared();
    let mut io = B::io(16);
    let mut ctx = Ctx::default();
    let (client, server) = connected(&mut io, &mut ctx);
    for tag in 1..=3 {
        io.recv(server, buffer(16), .., tag, on_recv).unwrap();
    }
    pass(&mut io, &mut ctx);
    assert!(ctx.log.is_empty(), "nothing to receive yet");
    assert_eq!(send(&mut io, &mut ctx, client, b"abc"), Ok(3));
    // The bytes arrive once, in order, across however many of the recvs
    // take them; the first recv takes the first bytes.
    let mut got = Vec::new();
    run_until(&mut io, &mut ctx, |ctx| {
        let n: usize = ctx
            .log
            .iter()
            .map(|e| match &e.done {
                Done::Recv(_, Ok(n)) => *n,
                _ => 0,
            })
            .sum();
        n == 3
    });
    let mut completed = Vec::new();
    for entry in ctx.log.drain(..) {
        completed.push(entry.tag);
        let (buf, n) = expect!(entry, Recv, 2);
        got.extend_from_slice(&buf[..n.expect("recv")]);
    }
    assert_eq!(got, b"abc");
    assert_eq!(completed[0], 1, "the first parked recv is served first");
    // Closing the socket completes the others, once each, with Canceled.
    close(&mut io, &mut ctx, server).unwrap();
    for tag in (1..=3).filter(|tag| !completed.contains(tag)) {
        let result = expect!(ctx.take(tag).expect("completed before the close"), Recv, 2).1;
        assert_eq!(result, Err(RecvError::Canceled));
    }
    assert!(ctx.log.is_empty(), "stray completions: {:?}", ctx.log);
    close(&mut io, &mut ctx, client).unwrap();
    assert_eq!(io.in_flight(), 0);
}

pub fn close_completes_pending_operations_first_with_canceled<B: Backend>() {
    let _g = B::shared();
    let mut io = B::io(16);
    let mut ctx = Ctx::default();
    let (listener, _) = listener(&mut io);
    let (client, server) = connected(&mut io, &mut ctx);
    io.accept(listener, 1, on_accept).unwrap();
    io.recv(server, Buffer::from_slice(b"mine").unwrap(), .., 2, on_recv).unwrap();
    pass(&mut io, &mut ctx); // both park: nothing to accept or receive
    assert!(ctx.log.is_empty());
    io.close(listener, 3, on_close).unwrap();
    io.close(server, 4, on_close).unwrap();
    run_until(&mut io, &mut ctx, |ctx| ctx.has(3) && ctx.has(4));
    let order: Vec<u64> = ctx.log.iter().map(|e| e.tag).collect();
    let at = |tag| order.iter().position(|&t| t == tag).unwrap();
    assert!(at(1) < at(3) && at(2) < at(4), "pending ops complete before the close: {order:?}");
    assert_eq!(expect!(ctx.take(1).unwrap(), Accept), Err(AcceptError::Canceled));
    let (buf, result) = expect!(ctx.take(2).unwrap(), Recv, 2);
    assert_eq!((result, &buf[..]), (Err(RecvError::Canceled), &b"mine"[..]));
    assert_eq!(expect!(ctx.take(3).unwrap(), Close), Ok(()));
    assert_eq!(expect!(ctx.take(4).unwrap(), Close), Ok(()));
    // The peer sees the connection end.
    assert_eq!(recv(&mut io, &mut ctx, client, 8).unwrap(), b"");
    close(&mut io, &mut ctx, client).unwrap();
    assert_eq!(io.in_flight(), 0);
}

/// The first of many zero timeouts closes `ctx.yield_socket`.
fn on_close_probe<I: Io<Context = Ctx>>(ctx: &mut Ctx, io: &mut I, d: TimeoutDone) {
    if d.tag == 0 {
        let socket = ctx.yield_socket.expect("the test set the socket");
        io.close(socket, CLOSE_PROBE, on_close).expect("a slot is free");
    }
}

const CLOSE_PROBE: u64 = 1 << 40;

pub fn close_queued_behind_much_work_still_completes_pending_operations_first<B: Backend>() {
    let _g = B::shared();
    // More ready work than one pass may drain (the real loop drains at most
    // 4096 per pass, then polls before the rest): the close is queued
    // behind the rest, and the recv parked on its socket becomes ready in
    // between. It must still complete first, never after the close.
    const TIMEOUTS: u64 = 5000;
    let mut io = B::io(TIMEOUTS as u32 + 16);
    let mut ctx = Ctx::default();
    let (client, server) = connected(&mut io, &mut ctx);
    io.recv(server, buffer(16), .., 1, on_recv).unwrap();
    pass(&mut io, &mut ctx);
    assert!(ctx.log.is_empty(), "nothing to receive yet");
    io.send(client, Buffer::from_slice(b"x").unwrap(), .., 2, on_send).unwrap();
    ctx.yield_socket = Some(server);
    // The closing timeout fires first; the rest queue up after it.
    io.timeout(0, 0, on_close_probe).unwrap();
    for tag in 0..TIMEOUTS {
        io.timeout(0, tag + 10, on_close_probe).unwrap();
    }
    run_until(&mut io, &mut ctx, |ctx| ctx.has(1) && ctx.has(CLOSE_PROBE));
    let at = |tag| ctx.position(tag).unwrap();
    assert!(at(1) < at(CLOSE_PROBE), "the recv completed after its socket's close");
    let (buf, result) = expect!(ctx.take(1).unwrap(), Recv, 2);
    match result {
        Ok(n) => assert_eq!(&buf[..n], b"x"),
        Err(error) => assert_eq!(error, RecvError::Canceled),
    }
    assert_eq!(expect!(ctx.take(CLOSE_PROBE).unwrap(), Close), Ok(()));
    run_until(&mut io, &mut ctx, |ctx| ctx.has(2));
    assert_eq!(expect!(ctx.take(2).unwrap(), Send, 2).1, Ok(1));
    io.run_until_done(&mut ctx).unwrap();
    close(&mut io, &mut ctx, client).unwrap();
    assert_eq!(io.in_flight(), 0);
}

pub fn socket_misuse_is_a_typed_error<B: Backend>() {
    let _g = B::shared();
    let mut io = B::io(16);
    let mut ctx = Ctx::default();
    let open = |io: &mut B::Io| io.open_socket(AddressFamily::Ipv4, SocketOptions::default());
    let (listener, address) = listener(&mut io);

    // An address in use, and a socket bound twice.
    let second = open(&mut io).unwrap();
    assert_eq!(io.listen(second, address, 1), Err(ListenError::AddressInUse));
    close(&mut io, &mut ctx, second).unwrap();
    assert_eq!(io.listen(listener, loopback(), 1), Err(ListenError::AlreadyBound));

    // A socket that is neither listening nor connected.
    let idle = open(&mut io).unwrap();
    io.accept(idle, 1, on_accept).unwrap();
    assert_eq!(expect!(wait(&mut io, &mut ctx, 1), Accept), Err(AcceptError::SocketNotListening));
    assert_eq!(recv(&mut io, &mut ctx, idle, 8), Err(RecvError::NotConnected));
    assert_eq!(io.shutdown(idle, Shutdown::Both), Err(ShutdownError::NotConnected));
    close(&mut io, &mut ctx, idle).unwrap();

    // Connecting a connected socket.
    let client = open(&mut io).unwrap();
    io.accept(listener, 2, on_accept).unwrap();
    io.connect(client, address, 3, on_connect).unwrap();
    expect!(wait(&mut io, &mut ctx, 3), Connect, 2).1.unwrap();
    let server = expect!(wait(&mut io, &mut ctx, 2), Accept).unwrap();
    // Linux answers the first connect after an asynchronous one with
    // success (it only then moves the socket to "connected"; the engine
    // read the outcome from SO_ERROR instead of connecting again); the BSDs
    // answer EISCONN. Either way the next one is AlreadyConnected and the
    // connection is unharmed.
    io.connect(client, address, 4, on_connect).unwrap();
    let again = expect!(wait(&mut io, &mut ctx, 4), Connect, 2).1;
    assert!(matches!(again, Ok(()) | Err(ConnectError::AlreadyConnected)), "{again:?}");
    io.connect(client, address, 5, on_connect).unwrap();
    assert_eq!(
        expect!(wait(&mut io, &mut ctx, 5), Connect, 2).1,
        Err(ConnectError::AlreadyConnected)
    );
    assert_eq!(send(&mut io, &mut ctx, client, b"ok"), Ok(2));
    assert_eq!(recv(&mut io, &mut ctx, server, 8).unwrap(), b"ok");
    for fd in [client, server, listener] {
        close(&mut io, &mut ctx, fd).unwrap();
    }
    assert_eq!(io.in_flight(), 0);
}

pub fn send_to_a_closed_or_reset_peer_is_a_typed_error<B: Backend>() {
    let _g = B::shared();
    let mut io = B::io(16);
    let mut ctx = Ctx::default();
    for reset in [false, true] {
        let (client, server) = connected(&mut io, &mut ctx);
        if reset {
            assert_eq!(send(&mut io, &mut ctx, client, b"xy"), Ok(2));
            assert_eq!(recv(&mut io, &mut ctx, server, 1).unwrap(), b"x");
        }
        close(&mut io, &mut ctx, server).unwrap();
        // Without a reset the first sends may still be accepted (the peer
        // answers them with one, a network round trip later: let time pass
        // between sends); the error must come, typed, and never as a SIGPIPE
        // (which would kill this process).
        let mut error = None;
        for _ in 0..100 {
            match send(&mut io, &mut ctx, client, b"data") {
                Ok(n) => {
                    assert_eq!(n, 4);
                    io.timeout(1_000_000, 1, on_timeout).unwrap();
                    wait(&mut io, &mut ctx, 1);
                }
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        let error = error.unwrap_or_else(|| panic!("reset {reset}: no error in 100 sends"));
        assert!(
            matches!(error, SendError::BrokenPipe | SendError::ConnectionResetByPeer),
            "reset {reset}: {error:?}"
        );
        close(&mut io, &mut ctx, client).unwrap();
    }
    assert_eq!(io.in_flight(), 0);
}

// ---- timers ----

pub fn timers_fire_in_deadline_order_ties_in_submission_order<B: Backend>() {
    let _g = B::shared();
    const N: usize = 64;
    let mut io = B::io(N as u32 + 4);
    let mut ctx = Ctx::default();
    // Delays in whole milliseconds with many repeats: a repeat is a tie on
    // a virtual clock and submission-ordered on a real one.
    let delays: Vec<u64> = (0..N as u64).map(|i| (i * 7 + i * i) % 9 * 1_000_000).collect();
    // The deadline of timer i lies in [before[i], after[i]] + delay.
    let mut before = Vec::new();
    let mut after = Vec::new();
    for (i, &delay) in delays.iter().enumerate() {
        before.push(io.now_ns());
        io.timeout(delay, i as u64, on_timeout).unwrap();
        after.push(io.now_ns());
    }
    run_until(&mut io, &mut ctx, |ctx| ctx.log.len() == N);
    let fired: Vec<usize> = ctx.log.iter().map(|e| e.tag as usize).collect();
    let mut sorted = fired.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..N).collect::<Vec<_>>(), "each fires exactly once");
    for entry in &ctx.log {
        let i = entry.tag as usize;
        assert_eq!(entry.done_timeout(), Ok(()));
        assert!(entry.now_ns >= before[i] + delays[i], "timer {i} fired early");
    }
    // i must fire before j when its deadline is surely earlier, or when
    // their delays tie and i was submitted first.
    let must_precede = |i: usize, j: usize| {
        (delays[i] == delays[j] && i < j) || after[i] + delays[i] < before[j] + delays[j]
    };
    for (a, &j) in fired.iter().enumerate() {
        for &i in &fired[a + 1..] {
            assert!(!must_precede(i, j), "timer {j} fired before {i}: order {fired:?}");
        }
    }
    assert_eq!(io.in_flight(), 0);
}

impl Entry {
    fn done_timeout(&self) -> Result<(), TimeoutError> {
        match &self.done {
            Done::Timeout(result) => *result,
            other => panic!("expected a timeout, got {other:?}"),
        }
    }
}

pub fn a_timeout_that_never_expires_can_be_canceled<B: Backend>() {
    let _g = B::shared();
    let mut io = B::io(16);
    let mut ctx = Ctx::default();
    // The deadline saturates instead of wrapping into the past.
    let never = io.timeout(u64::MAX, 1, on_timeout).unwrap();
    io.timeout(1_000_000, 2, on_timeout).unwrap();
    wait(&mut io, &mut ctx, 2);
    assert!(!ctx.has(1), "a u64::MAX timeout fired");
    io.reset_timeout(never, u64::MAX).unwrap();
    io.cancel(never).unwrap();
    assert_eq!(expect!(wait(&mut io, &mut ctx, 1), Timeout), Err(TimeoutError::Canceled));
    assert_eq!(io.in_flight(), 0);
}

pub fn zero_timeout_is_a_yield<B: Backend>() {
    let _g = B::shared();
    let mut io = B::io(16);
    let mut ctx = Ctx::default();

    // Submitted outside the loop, a zero timeout fires in the next pass.
    io.timeout(0, 1, on_timeout).unwrap();
    pass(&mut io, &mut ctx);
    assert_eq!(ctx.take(1).map(|e| e.done_timeout()), Some(Ok(())));

    // Submitted from a callback, it fires in the pass after that one, and
    // after IO that is ready at once (a recv of bytes already received).
    let (client, server) = connected(&mut io, &mut ctx);
    assert_eq!(send(&mut io, &mut ctx, client, b"ab"), Ok(2));
    assert_eq!(recv(&mut io, &mut ctx, server, 1).unwrap(), b"a");
    ctx.yield_socket = Some(server);
    io.timeout(0, 10, on_yield_probe).unwrap();
    run_until(&mut io, &mut ctx, |ctx| ctx.has(11) && ctx.has(12));
    let tags: Vec<u64> = ctx.log.iter().map(|e| e.tag).collect();
    assert_eq!(tags, [10, 12, 11], "the recv runs before the yield");
    let probe = ctx.take(10).unwrap();
    let yielded = ctx.take(11).unwrap();
    let received = ctx.take(12).unwrap();
    assert_eq!(received.pass, probe.pass, "ready IO submitted by a callback runs in its pass");
    assert_eq!(yielded.pass, probe.pass + 1, "the yield runs in the next pass");
    let (buf, n) = expect!(received, Recv, 2);
    assert_eq!(&buf[..n.unwrap()], b"b");

    // A chain of yields advances one pass per link.
    for link in 0..5u64 {
        io.timeout(0, 100 + link, on_timeout).unwrap();
        let fired = wait(&mut io, &mut ctx, 100 + link);
        assert_eq!(fired.done_timeout(), Ok(()));
    }
    close(&mut io, &mut ctx, client).unwrap();
    close(&mut io, &mut ctx, server).unwrap();
    assert_eq!(io.in_flight(), 0);
}

// ---- events ----

pub fn events_listen_trigger_coalesce_and_close<B: Backend>() {
    let _g = B::shared();
    let mut io = B::io(16);
    let mut ctx = Ctx::default();
    let event = io.open_event().unwrap();

    // Listen, then trigger.
    io.event_listen(event, 1, on_event).unwrap();
    io.event_trigger(event).unwrap();
    assert_eq!(expect!(wait(&mut io, &mut ctx, 1), Event), Ok(()));

    // Triggers before the listener coalesce into one completion.
    io.event_trigger(event).unwrap();
    io.event_trigger(event).unwrap();
    io.event_listen(event, 2, on_event).unwrap();
    assert_eq!(expect!(wait(&mut io, &mut ctx, 2), Event), Ok(()));
    io.event_listen(event, 3, on_event).unwrap();
    assert_eq!(io.event_listen(event, 4, on_event), Err(SubmitError::AlreadyListening));
    // Let the loop run a while: nothing is left to deliver to listener 3.
    io.timeout(2_000_000, 5, on_timeout).unwrap();
    wait(&mut io, &mut ctx, 5);
    assert!(!ctx.has(3), "a coalesced trigger was delivered twice");

    // Closing the event completes its armed listener with Canceled.
    io.close_event(event).unwrap();
    assert_eq!(expect!(wait(&mut io, &mut ctx, 3), Event), Err(EventError::Canceled));
    assert_eq!(ctx.count(3), 0);
    // The closed id is dead for every call, even once its slot is reused.
    let reused = io.open_event().unwrap();
    assert_ne!(reused, event);
    assert_eq!(io.event_listen(event, 6, on_event), Err(SubmitError::UnknownEvent));
    assert_eq!(io.event_trigger(event), Err(EventError::UnknownEvent));
    assert_eq!(io.close_event(event), Err(EventError::UnknownEvent));
    // The new event did not inherit a trigger.
    io.event_listen(reused, 7, on_event).unwrap();
    io.timeout(1_000_000, 8, on_timeout).unwrap();
    wait(&mut io, &mut ctx, 8);
    assert!(!ctx.has(7));
    io.event_trigger(reused).unwrap();
    assert_eq!(expect!(wait(&mut io, &mut ctx, 7), Event), Ok(()));
    io.close_event(reused).unwrap();
    assert!(ctx.log.is_empty(), "stray completions: {:?}", ctx.log);
    assert_eq!(io.in_flight(), 0);
}

pub fn a_canceled_listener_leaves_its_trigger_to_the_next<B: Backend>() {
    let _g = B::shared();
    let mut io = B::io(16);
    let mut ctx = Ctx::default();
    let event = io.open_event().unwrap();
    // As a recv canceled while its data is ready leaves the data to the next
    // recv, a listener canceled after a trigger reached it, before its
    // callback ran, leaves the trigger to the next listener: it was never
    // delivered, so it must not be lost.
    for armed_first in [false, true] {
        let tag = if armed_first { 10 } else { 20 };
        let first = if armed_first {
            let id = io.event_listen(event, tag, on_event).unwrap();
            io.event_trigger(event).unwrap();
            id
        } else {
            io.event_trigger(event).unwrap();
            io.event_listen(event, tag, on_event).unwrap()
        };
        io.cancel(first).unwrap();
        assert_eq!(expect!(wait(&mut io, &mut ctx, tag), Event), Err(EventError::Canceled));
        io.event_listen(event, tag + 1, on_event).unwrap();
        io.timeout(5_000_000, tag + 2, on_timeout).unwrap();
        run_until(&mut io, &mut ctx, |ctx| ctx.has(tag + 1) || ctx.has(tag + 2));
        assert!(ctx.has(tag + 1), "armed first {armed_first}: the trigger was lost");
        assert_eq!(expect!(ctx.take(tag + 1).unwrap(), Event), Ok(()));
        wait(&mut io, &mut ctx, tag + 2);
    }
    // A listener armed while the canceled one still waited for its callback
    // gets the trigger.
    io.event_trigger(event).unwrap();
    let first = io.event_listen(event, 30, on_event).unwrap();
    let second = io.event_listen(event, 31, on_event);
    if second.is_ok() {
        io.cancel(first).unwrap();
        assert_eq!(expect!(wait(&mut io, &mut ctx, 30), Event), Err(EventError::Canceled));
        assert_eq!(expect!(wait(&mut io, &mut ctx, 31), Event), Ok(()));
    } else {
        // Still counted as the event's listener: that is fine too.
        assert_eq!(second, Err(SubmitError::AlreadyListening));
        assert_eq!(expect!(wait(&mut io, &mut ctx, 30), Event), Ok(()));
    }
    io.close_event(event).unwrap();
    assert!(ctx.log.is_empty(), "stray completions: {:?}", ctx.log);
    assert_eq!(io.in_flight(), 0);
}

// ---- data files ----

const SECTOR: usize = SECTOR_SIZE;

struct Files<I> {
    io: I,
    ctx: Ctx,
    dir: Fd,
}

impl<I: Io<Context = Ctx>> Files<I> {
    fn new(mut io: I, path: &Path) -> Files<I> {
        let dir = io.open_dir(path).expect("open_dir");
        Files { io, ctx: Ctx::default(), dir }
    }

    fn open(&mut self, name: &str, size: u64, purpose: FilePurpose) -> Result<Fd, OpenError> {
        self.io.open_data_file(self.dir, Path::new(name), size, purpose, DirectIo::Disabled)
    }

    fn write_all(&mut self, fd: Fd, data: &[u8], offset: u64) {
        let mut buf = Buffer::from_slice(data).expect("buffer");
        let mut done = 0;
        while done < data.len() {
            let at = offset + done as u64;
            self.io.write(fd, buf, done.., at, 1, on_write).expect("write");
            let (returned, result) = expect!(wait(&mut self.io, &mut self.ctx, 1), Write, 2);
            let n = result.expect("write");
            assert!(n > 0, "a write made no progress");
            done += n;
            buf = returned;
        }
    }

    fn read(&mut self, fd: Fd, len: usize, offset: u64) -> Result<Vec<u8>, ReadError> {
        self.io.read(fd, buffer(len), .., offset, 2, on_read).expect("read");
        let (buf, result) = expect!(wait(&mut self.io, &mut self.ctx, 2), Read, 2);
        result.map(|n| buf[..n].to_vec())
    }

    /// Reads `len` bytes, resuming short reads, stopping at end of file.
    fn read_all(&mut self, fd: Fd, len: usize, offset: u64) -> Vec<u8> {
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

    fn fsync(&mut self, fd: Fd) -> Result<(), FsyncError> {
        self.io.fsync(fd, FsyncMode::Full, 3, on_fsync).expect("fsync");
        expect!(wait(&mut self.io, &mut self.ctx, 3), Fsync)
    }

    fn close(&mut self, fd: Fd) -> Result<(), CloseError> {
        close(&mut self.io, &mut self.ctx, fd)
    }
}

pub fn data_file_round_trips_at_offsets<B: Backend>() {
    let _g = B::shared();
    let tmp = B::dir("round-trips");
    let mut f = Files::new(B::io(16), tmp.as_ref());
    let size = 8 * SECTOR as u64;
    let fd = f.open("data", size, FilePurpose::Format).unwrap();
    // A formatted file reads as zeros.
    assert_eq!(f.read_all(fd, SECTOR, 0), vec![0; SECTOR]);
    let writes: [(u64, usize); 5] = [
        (0, SECTOR),
        (SECTOR as u64 + 100, 3000),
        (3 * SECTOR as u64, 2 * SECTOR),
        (7, 1),
        (size - 1, 1),
    ];
    for (i, &(offset, len)) in writes.iter().enumerate() {
        f.write_all(fd, &pattern(i as u64, len), offset);
    }
    // Later writes win where they overlap: keep an image to compare.
    let mut image = vec![0u8; size as usize];
    for (i, &(offset, len)) in writes.iter().enumerate() {
        image[offset as usize..offset as usize + len].copy_from_slice(&pattern(i as u64, len));
    }
    for &(offset, len) in &writes {
        let got = f.read_all(fd, len, offset);
        assert!(got == image[offset as usize..offset as usize + len], "at {offset}+{len}");
    }
    f.fsync(fd).unwrap();
    f.close(fd).unwrap();
    // Reopened, the whole file is the image.
    let fd = f.open("data", size, FilePurpose::Open).unwrap();
    assert!(f.read_all(fd, size as usize, 0) == image, "contents after reopen");
    // A sub-range of a buffer writes and reads only that range.
    let mut buf = buffer(64);
    buf.copy_from_slice(&pattern(9, 64));
    f.io.write(fd, buf, 16..48, 5 * SECTOR as u64, 4, on_write).unwrap();
    assert_eq!(expect!(wait(&mut f.io, &mut f.ctx, 4), Write, 2).1, Ok(32));
    f.io.read(fd, buffer(64), 8..40, 5 * SECTOR as u64, 5, on_read).unwrap();
    let (buf, n) = expect!(wait(&mut f.io, &mut f.ctx, 5), Read, 2);
    assert_eq!(n, Ok(32));
    assert_eq!(buf[8..40], pattern(9, 64)[16..48]);
    assert_eq!(buf[..8], [0; 8], "bytes outside the range are untouched");
    f.close(fd).unwrap();
    f.close(f.dir).unwrap();
    assert_eq!(f.io.in_flight(), 0);
}

pub fn data_file_reads_at_end_of_file<B: Backend>() {
    let _g = B::shared();
    let tmp = B::dir("eof");
    let mut f = Files::new(B::io(16), tmp.as_ref());
    let size = 2 * SECTOR as u64;
    let fd = f.open("data", size, FilePurpose::Format).unwrap();
    let tail = pattern(5, 10);
    f.write_all(fd, &tail, size - 10);
    // A read across the end is short; at and past the end it is 0.
    assert_eq!(f.read(fd, 100, size - 10).unwrap(), tail);
    assert_eq!(f.read(fd, 100, size).unwrap(), b"");
    assert_eq!(f.read(fd, 100, size + 12345).unwrap(), b"");
    f.close(fd).unwrap();
    f.close(f.dir).unwrap();
}

pub fn second_open_of_a_data_file_is_locked<B: Backend>() {
    let _g = B::shared();
    let tmp = B::dir("locked");
    let mut f = Files::new(B::io(16), tmp.as_ref());
    let size = SECTOR as u64;
    let first = f.open("data", size, FilePurpose::Format).unwrap();
    assert_eq!(f.open("data", size, FilePurpose::Open), Err(OpenError::Locked));
    assert_eq!(f.open("data", size, FilePurpose::Format), Err(OpenError::AlreadyExists));
    f.close(first).unwrap();
    // Closing releases the lock.
    let second = f.open("data", size, FilePurpose::Open).unwrap();
    assert_eq!(f.open("data", size, FilePurpose::Open), Err(OpenError::Locked));
    f.close(second).unwrap();
    f.close(f.dir).unwrap();
}

pub fn refused_open_arguments<B: Backend>() {
    let _g = B::shared();
    let tmp = B::dir("refused");
    let mut f = Files::new(B::io(16), tmp.as_ref());
    let s = SECTOR as u64;
    for purpose in [FilePurpose::Format, FilePurpose::Open, FilePurpose::Inspect] {
        assert_eq!(f.open("/abs/data", s, purpose), Err(OpenError::AbsolutePath), "{purpose:?}");
        assert_eq!(f.open("", s, purpose), Err(OpenError::InvalidPath), "{purpose:?}");
        for size in [0, 1, s - 1, s + 1, 3 * s / 2] {
            assert_eq!(
                f.open("data", size, purpose),
                Err(OpenError::SizeNotSectorMultiple),
                "{purpose:?} {size}"
            );
        }
    }
    assert_eq!(f.open("missing", s, FilePurpose::Open), Err(OpenError::NotFound));
    assert_eq!(f.open("missing", s, FilePurpose::Inspect), Err(OpenError::NotFound));
    let fd = f.open("data", s, FilePurpose::Format).unwrap();
    f.close(fd).unwrap();
    assert_eq!(f.open("data", s, FilePurpose::Format), Err(OpenError::AlreadyExists));
    assert_eq!(f.open("data", 2 * s, FilePurpose::Open), Err(OpenError::SizeMismatch));
    // None of the refusals left anything open or in flight.
    assert_eq!(f.io.in_flight(), 0);
    let fd = f.open("data", s, FilePurpose::Open).unwrap();
    f.close(fd).unwrap();
    f.close(f.dir).unwrap();
}

// ---- refused submits ----

pub fn zero_length_and_out_of_range_buffers_are_refused<B: Backend>() {
    let _g = B::shared();
    let tmp = B::dir("ranges");
    let mut f = Files::new(B::io(16), tmp.as_ref());
    let file = f.open("data", SECTOR as u64, FilePurpose::Format).unwrap();
    let (client, server) = connected(&mut f.io, &mut f.ctx);
    let io = &mut f.io;

    // Each case: (buffer length, range, expected refusal).
    type Range = (std::ops::Bound<usize>, std::ops::Bound<usize>);
    use std::ops::Bound::{Excluded, Included, Unbounded};
    let cases: [(usize, Range, SubmitError); 5] = [
        (0, (Unbounded, Unbounded), SubmitError::EmptyRange),
        (8, (Included(3), Excluded(3)), SubmitError::EmptyRange),
        (8, (Included(4), Excluded(9)), SubmitError::RangeOutOfBounds),
        (8, (Included(6), Excluded(5)), SubmitError::RangeOutOfBounds),
        (8, (Excluded(usize::MAX), Unbounded), SubmitError::RangeOutOfBounds),
    ];
    for (len, range, error) in cases {
        let check = |rejected: Rejected<Buffer>, what: &str| {
            assert_eq!(rejected.error, error, "{what} {len} {range:?}");
            assert_eq!(rejected.returned.len(), len, "{what}: the buffer comes back");
        };
        let fill = || Buffer::from_slice(&pattern(7, len)).unwrap();
        check(io.recv(server, fill(), range, 1, on_recv).unwrap_err(), "recv");
        check(io.send(client, fill(), range, 1, on_send).unwrap_err(), "send");
        check(io.read(file, fill(), range, 0, 1, on_read).unwrap_err(), "read");
        check(io.write(file, fill(), range, 0, 1, on_write).unwrap_err(), "write");
    }
    // The returned buffer is the caller's, contents intact.
    let rejected = io.send(client, Buffer::from_slice(b"keep").unwrap(), 2..2, 1, on_send);
    assert_eq!(&rejected.unwrap_err().returned[..], b"keep");
    // File offsets past i64::MAX are refused.
    for offset in [u64::MAX, i64::MAX as u64] {
        let rejected = io.read(file, buffer(8), .., offset, 1, on_read).unwrap_err();
        assert_eq!(rejected.error, SubmitError::OffsetOverflow);
        let rejected = io.write(file, buffer(8), .., offset, 1, on_write).unwrap_err();
        assert_eq!(rejected.error, SubmitError::OffsetOverflow);
    }
    assert_eq!(io.in_flight(), 0, "nothing refused was queued");
    for _ in 0..3 {
        pass(io, &mut f.ctx);
    }
    assert!(f.ctx.log.is_empty(), "a refused submit ran a callback: {:?}", f.ctx.log);
    for fd in [client, server, file, f.dir] {
        f.close(fd).unwrap();
    }
}

pub fn negative_descriptor_is_refused_at_submit<B: Backend>() {
    let _g = B::shared();
    let mut io = B::io(16);
    let mut ctx = Ctx::default();
    let address = loopback();
    for raw in [-1, i32::MIN] {
        let bad = Fd::from_raw(raw);
        let invalid = Err(SubmitError::InvalidFd);
        assert_eq!(io.accept(bad, 1, on_accept), invalid);
        assert_eq!(io.connect(bad, address, 1, on_connect), invalid);
        assert_eq!(io.close(bad, 1, on_close), invalid);
        assert_eq!(io.fsync(bad, FsyncMode::Full, 1, on_fsync), invalid);
        let rejected = io.recv(bad, buffer(8), .., 1, on_recv).unwrap_err();
        assert_eq!((rejected.error, rejected.returned.len()), (SubmitError::InvalidFd, 8));
        let rejected = io.send(bad, buffer(8), .., 1, on_send).unwrap_err();
        assert_eq!((rejected.error, rejected.returned.len()), (SubmitError::InvalidFd, 8));
        let rejected = io.read(bad, buffer(8), .., 0, 1, on_read).unwrap_err();
        assert_eq!((rejected.error, rejected.returned.len()), (SubmitError::InvalidFd, 8));
        let rejected = io.write(bad, buffer(8), .., 0, 1, on_write).unwrap_err();
        assert_eq!((rejected.error, rejected.returned.len()), (SubmitError::InvalidFd, 8));
        assert_eq!(io.listen(bad, address, 1), Err(ListenError::BadFileDescriptor));
        assert_eq!(io.shutdown(bad, Shutdown::Both), Err(ShutdownError::BadFileDescriptor));
        let result =
            io.open_data_file(bad, Path::new("x"), 4096, FilePurpose::Open, DirectIo::Disabled);
        assert_eq!(result, Err(OpenError::BadFileDescriptor));
    }
    assert_eq!(io.in_flight(), 0);
    pass(&mut io, &mut ctx);
    assert!(ctx.log.is_empty());
}

pub fn closed_descriptor_is_a_typed_error<B: Backend>() {
    // Exclusive: the closed number must not be handed to another test.
    let _g = B::exclusive();
    let tmp = B::dir("closed");
    let mut f = Files::new(B::io(16), tmp.as_ref());
    let file = f.open("data", SECTOR as u64, FilePurpose::Format).unwrap();
    f.close(file).unwrap();
    let (client, server) = connected(&mut f.io, &mut f.ctx);
    f.close(server).unwrap();
    let socket = f.io.open_socket(AddressFamily::Ipv4, SocketOptions::default()).unwrap();
    f.close(socket).unwrap();
    let (io, ctx) = (&mut f.io, &mut f.ctx);
    let address = loopback();
    for closed in [server, socket] {
        io.recv(closed, buffer(8), .., 1, on_recv).unwrap();
        assert_eq!(expect!(wait(io, ctx, 1), Recv, 2).1, Err(RecvError::BadFileDescriptor));
        io.send(closed, buffer(8), .., 2, on_send).unwrap();
        assert_eq!(expect!(wait(io, ctx, 2), Send, 2).1, Err(SendError::BadFileDescriptor));
        io.accept(closed, 3, on_accept).unwrap();
        assert_eq!(expect!(wait(io, ctx, 3), Accept), Err(AcceptError::BadFileDescriptor));
        io.connect(closed, address, 4, on_connect).unwrap();
        assert_eq!(expect!(wait(io, ctx, 4), Connect, 2).1, Err(ConnectError::BadFileDescriptor));
        assert_eq!(close(io, ctx, closed), Err(CloseError::BadFileDescriptor));
        assert_eq!(io.shutdown(closed, Shutdown::Both), Err(ShutdownError::BadFileDescriptor));
        assert_eq!(io.listen(closed, address, 1), Err(ListenError::BadFileDescriptor));
    }
    io.read(file, buffer(8), .., 0, 5, on_read).unwrap();
    assert_eq!(expect!(wait(io, ctx, 5), Read, 2).1, Err(ReadError::NotOpenForReading));
    io.write(file, buffer(8), .., 0, 6, on_write).unwrap();
    assert_eq!(expect!(wait(io, ctx, 6), Write, 2).1, Err(WriteError::NotOpenForWriting));
    io.fsync(file, FsyncMode::Full, 7, on_fsync).unwrap();
    assert_eq!(expect!(wait(io, ctx, 7), Fsync), Err(FsyncError::BadFileDescriptor));
    assert_eq!(close(io, ctx, file), Err(CloseError::BadFileDescriptor));
    // The peer of the closed socket sees end of stream.
    assert_eq!(recv(io, ctx, client, 8).unwrap(), b"");
    f.close(client).unwrap();
    f.close(f.dir).unwrap();
    assert_eq!(f.io.in_flight(), 0);
}

pub fn submit_beyond_the_reserved_slots_returns_the_buffer<B: Backend>() {
    let _g = B::shared();
    let mut io = B::io(2);
    let mut ctx = Ctx::default();
    let (client, server) = connected(&mut io, &mut ctx);
    let event = io.open_event().unwrap();
    let a = io.timeout(10_000_000_000, 1, on_timeout).unwrap();
    io.recv(server, buffer(8), .., 2, on_recv).unwrap();
    assert_eq!(io.in_flight(), 2);

    let full = SubmitError::NoFreeSlot;
    let rejected = io.send(client, Buffer::from_slice(b"mine").unwrap(), .., 3, on_send);
    let rejected = rejected.unwrap_err();
    assert_eq!((rejected.error, &rejected.returned[..]), (full, &b"mine"[..]));
    let rejected = io.recv(client, Buffer::from_slice(b"also").unwrap(), .., 3, on_recv);
    let rejected = rejected.unwrap_err();
    assert_eq!((rejected.error, &rejected.returned[..]), (full, &b"also"[..]));
    assert_eq!(io.timeout(0, 3, on_timeout), Err(full));
    assert_eq!(io.accept(server, 3, on_accept), Err(full));
    assert_eq!(io.connect(client, loopback(), 3, on_connect), Err(full));
    assert_eq!(io.close(client, 3, on_close), Err(full));
    assert_eq!(io.fsync(client, FsyncMode::Full, 3, on_fsync), Err(full));
    assert_eq!(io.event_listen(event, 3, on_event), Err(full));
    assert_eq!(io.in_flight(), 2);

    // A slot freed is a slot usable again: the canceled timeout's slot
    // carries the send that wakes the recv.
    io.cancel(a).unwrap();
    assert_eq!(expect!(wait(&mut io, &mut ctx, 1), Timeout), Err(TimeoutError::Canceled));
    assert_eq!(send(&mut io, &mut ctx, client, b"go"), Ok(2));
    let (buf, n) = expect!(wait(&mut io, &mut ctx, 2), Recv, 2);
    assert_eq!(&buf[..n.unwrap()], b"go");
    assert!(!ctx.has(3), "a refused submit ran a callback");
    io.close_event(event).unwrap();
    close(&mut io, &mut ctx, client).unwrap();
    close(&mut io, &mut ctx, server).unwrap();
    assert_eq!(io.in_flight(), 0);
}

pub fn running_the_loop_from_a_callback_is_refused<B: Backend>() {
    let _g = B::shared();
    let mut io = B::io(16);
    let mut ctx = Ctx::default();
    io.timeout(0, 1, on_reentry_probe).unwrap();
    wait(&mut io, &mut ctx, 1);
    assert_eq!(ctx.reentry, [Err(RunError::Reentrant); 6]);
    // The loop is unharmed: what the callback submitted runs.
    assert_eq!(wait(&mut io, &mut ctx, 2).done_timeout(), Ok(()));
    io.run_for_ns(&mut ctx, 1).unwrap();
    assert_eq!(io.in_flight(), 0);
}

// ---- loop control ----

pub fn cancel_basics<B: Backend>() {
    let _g = B::shared();
    let mut io = B::io(16);
    let mut ctx = Ctx::default();

    // A timeout.
    let t = io.timeout(10_000_000_000, 1, on_timeout).unwrap();
    io.cancel(t).unwrap();
    assert_eq!(io.cancel(t), Err(CancelError::AlreadyCanceled));
    assert_eq!(io.reset_timeout(t, 0), Err(CancelError::AlreadyCanceled));
    assert_eq!(expect!(wait(&mut io, &mut ctx, 1), Timeout), Err(TimeoutError::Canceled));
    assert_eq!(io.cancel(t), Err(CancelError::NotRunning));

    // A recv parked on a socket, which hands its buffer back; the data sent
    // afterwards goes to the next recv.
    let (client, server) = connected(&mut io, &mut ctx);
    let r = io.recv(server, Buffer::from_slice(b"mine").unwrap(), .., 2, on_recv).unwrap();
    pass(&mut io, &mut ctx);
    assert_eq!(io.reset_timeout(r, 0), Err(CancelError::NotATimeout));
    io.cancel(r).unwrap();
    let (buf, result) = expect!(wait(&mut io, &mut ctx, 2), Recv, 2);
    assert_eq!((result, &buf[..]), (Err(RecvError::Canceled), &b"mine"[..]));
    assert_eq!(send(&mut io, &mut ctx, client, b"after"), Ok(5));
    assert_eq!(recv(&mut io, &mut ctx, server, 16).unwrap(), b"after");

    // A send canceled before any pass never runs its syscall: the peer
    // receives only what was sent after it.
    let s = io.send(client, Buffer::from_slice(b"never").unwrap(), .., 5, on_send).unwrap();
    io.cancel(s).unwrap();
    assert_eq!(expect!(wait(&mut io, &mut ctx, 5), Send, 2).1, Err(SendError::Canceled));
    assert_eq!(send(&mut io, &mut ctx, client, b"sent"), Ok(4));
    assert_eq!(recv(&mut io, &mut ctx, server, 16).unwrap(), b"sent");

    // An event listener.
    let event = io.open_event().unwrap();
    let l = io.event_listen(event, 3, on_event).unwrap();
    io.cancel(l).unwrap();
    assert_eq!(expect!(wait(&mut io, &mut ctx, 3), Event), Err(EventError::Canceled));
    // The event is free for a new listener, which gets the next trigger.
    io.event_listen(event, 4, on_event).unwrap();
    io.event_trigger(event).unwrap();
    assert_eq!(expect!(wait(&mut io, &mut ctx, 4), Event), Ok(()));

    // Exactly one callback per canceled operation.
    assert!(ctx.log.is_empty(), "stray completions: {:?}", ctx.log);
    io.close_event(event).unwrap();
    close(&mut io, &mut ctx, client).unwrap();
    close(&mut io, &mut ctx, server).unwrap();
    assert_eq!(io.in_flight(), 0);
}

pub fn reset_timeout_basics<B: Backend>() {
    let _g = B::shared();
    let mut io = B::io(16);
    let mut ctx = Ctx::default();

    // Earlier: a 10 s timer moved to 1 ms fires first, once.
    let late = io.timeout(10_000_000_000, 1, on_timeout).unwrap();
    let other = io.timeout(5_000_000_000, 2, on_timeout).unwrap();
    io.reset_timeout(late, 1_000_000).unwrap();
    assert_eq!(wait(&mut io, &mut ctx, 1).done_timeout(), Ok(()));
    assert!(!ctx.has(2));
    assert_eq!(io.reset_timeout(late, 0), Err(CancelError::NotRunning));

    // Later: a 1 ms timer moved to 10 s does not fire at its old deadline
    // (a 5 ms timer armed after it fires first).
    let soon = io.timeout(1_000_000, 3, on_timeout).unwrap();
    io.reset_timeout(soon, 10_000_000_000).unwrap();
    io.timeout(5_000_000, 4, on_timeout).unwrap();
    wait(&mut io, &mut ctx, 4);
    assert!(!ctx.has(3), "the old deadline fired");
    io.cancel(soon).unwrap();
    io.cancel(other).unwrap();
    assert_eq!(expect!(wait(&mut io, &mut ctx, 3), Timeout), Err(TimeoutError::Canceled));
    assert_eq!(expect!(wait(&mut io, &mut ctx, 2), Timeout), Err(TimeoutError::Canceled));
    assert!(ctx.log.is_empty(), "stray completions: {:?}", ctx.log);
    assert_eq!(io.in_flight(), 0);
}

pub fn run_modes<B: Backend>() {
    let _g = B::shared();
    let mut io = B::io(16);
    let mut ctx = Ctx::default();

    // With nothing in flight every run mode returns at once.
    io.run_once(&mut ctx).unwrap();
    io.run_until_done(&mut ctx).unwrap();
    io.tick(&mut ctx).unwrap();
    assert!(ctx.log.is_empty());

    // run_once: until at least one callback ran.
    io.timeout(0, 1, on_timeout).unwrap();
    io.timeout(10_000_000_000, 2, on_timeout).unwrap();
    io.run_once(&mut ctx).unwrap();
    assert_eq!(ctx.log.iter().map(|e| e.tag).collect::<Vec<_>>(), [1]);
    assert_eq!(io.in_flight(), 1);

    // cancel_all + run_until_done: everything delivered, once.
    assert_eq!(io.cancel_all(), 1);
    assert_eq!(io.cancel_all(), 0, "already canceled");
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(io.in_flight(), 0);
    assert_eq!(ctx.take(2).map(|e| e.done_timeout()), Some(Err(TimeoutError::Canceled)));

    // stop from a callback ends run_for_ns after that pass.
    ctx.log.clear();
    ctx.stop_tag = Some(3);
    io.timeout(1_000_000, 3, on_timeout).unwrap();
    io.timeout(5_000_000_000, 4, on_timeout).unwrap();
    io.run_for_ns(&mut ctx, 10_000_000_000).unwrap();
    assert!(ctx.has(3));
    assert!(!ctx.has(4), "run_for_ns went on past stop()");
    assert_eq!(io.cancel_all(), 1);
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(ctx.count(4), 1);

    // run_for_ns with nothing to do returns once the time has passed.
    let start = io.now_ns();
    io.run_for_ns(&mut ctx, 2_000_000).unwrap();
    assert!(io.now_ns() >= start + 2_000_000);
    assert_eq!(io.in_flight(), 0);
}
