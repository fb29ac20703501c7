//! The twin agrees with the real thing: scenarios written once, generic
//! over `I: Io`, run on `IO` (real files under `CARGO_TARGET_TMPDIR`,
//! loopback sockets) and on `SimIO` (no faults), and their observable
//! results compared line by line. The scenarios in `scripted` need no real
//! time either: the same callbacks, in the same order, with the same results.

mod support;

use std::path::Path;

use support::{shared, temp_dir};
use twinio::*;

#[derive(Default)]
struct Log {
    lines: Vec<String>,
    server: Option<Fd>,
    client: Option<Fd>,
}

fn note(log: &mut Log, line: String) {
    log.lines.push(line);
}

fn on_read<I: Io<Context = Log>>(log: &mut Log, _: &mut I, done: ReadDone) {
    let result = done.result.map(|n| String::from_utf8_lossy(&done.buffer[..n]).into_owned());
    note(log, format!("read {} {result:?}", done.tag));
}
fn on_write<I: Io<Context = Log>>(log: &mut Log, _: &mut I, done: WriteDone) {
    note(log, format!("write {} {:?}", done.tag, done.result));
}
fn on_fsync<I: Io<Context = Log>>(log: &mut Log, _: &mut I, done: FsyncDone) {
    note(log, format!("fsync {} {:?}", done.tag, done.result));
}
fn on_close<I: Io<Context = Log>>(log: &mut Log, _: &mut I, done: CloseDone) {
    note(log, format!("close {} {:?}", done.tag, done.result));
}
fn on_timeout<I: Io<Context = Log>>(log: &mut Log, _: &mut I, done: TimeoutDone) {
    note(log, format!("timeout {} {:?}", done.tag, done.result));
}
fn on_event<I: Io<Context = Log>>(log: &mut Log, _: &mut I, done: EventDone) {
    note(log, format!("event {} {:?}", done.tag, done.result));
}

/// Files: round trips, end of file, locks, inspect, refused arguments and
/// closed descriptors. `dir_path` is where the real IO may create files.
fn files<I: Io<Context = Log>>(io: &mut I, dir_path: &Path) -> Vec<String> {
    let mut log = Log::default();
    let dir = io.open_dir(dir_path).unwrap();
    let size = 4 * SECTOR_SIZE as u64;
    let open = |io: &mut I, name: &str, size: u64, purpose| {
        io.open_data_file(dir, Path::new(name), size, purpose, DirectIo::Disabled)
    };
    let fd = open(io, "data", size, FilePurpose::Format).unwrap();
    for (tag, (text, offset)) in
        [("alpha", 0u64), ("beta", 5000), ("tail", size - 4)].iter().enumerate()
    {
        io.write(
            fd,
            Buffer::from_slice(text.as_bytes()).unwrap(),
            ..,
            *offset,
            tag as u64,
            on_write::<I>,
        )
        .unwrap();
    }
    io.fsync(fd, FsyncMode::Full, 9, on_fsync::<I>).unwrap();
    io.run_until_done(&mut log).unwrap();
    for (tag, (len, offset)) in
        [(5, 0u64), (4, 5000), (10, size - 2), (10, size), (10, size + 99)].iter().enumerate()
    {
        io.read(fd, Buffer::new(*len).unwrap(), .., *offset, tag as u64, on_read::<I>).unwrap();
    }
    io.run_until_done(&mut log).unwrap();
    note(&mut log, format!("second open {:?}", open(io, "data", size, FilePurpose::Open)));
    note(&mut log, format!("format again {:?}", open(io, "data", size, FilePurpose::Format)));
    let inspect = open(io, "data", size, FilePurpose::Inspect).unwrap();
    io.write(inspect, Buffer::from_slice(b"x").unwrap(), .., 0, 20, on_write::<I>).unwrap();
    io.read(inspect, Buffer::new(5).unwrap(), .., 0, 21, on_read::<I>).unwrap();
    io.close(inspect, 22, on_close::<I>).unwrap();
    io.close(fd, 23, on_close::<I>).unwrap();
    io.run_until_done(&mut log).unwrap();
    for (name, size, purpose) in [
        ("/abs", size, FilePurpose::Open),
        ("", size, FilePurpose::Open),
        ("data", 100, FilePurpose::Open),
        ("data", 2 * size, FilePurpose::Open),
        ("missing", size, FilePurpose::Open),
        ("missing", size, FilePurpose::Inspect),
        ("data/x", size, FilePurpose::Open),
    ] {
        note(
            &mut log,
            format!("open {name:?} {size} {purpose:?}: {:?}", open(io, name, size, purpose)),
        );
    }
    io.read(fd, Buffer::new(4).unwrap(), .., 0, 30, on_read::<I>).unwrap();
    io.write(fd, Buffer::new(4).unwrap(), .., 0, 31, on_write::<I>).unwrap();
    io.fsync(fd, FsyncMode::Full, 32, on_fsync::<I>).unwrap();
    io.close(fd, 33, on_close::<I>).unwrap();
    io.run_until_done(&mut log).unwrap();
    let refused = io.read(fd, Buffer::new(4).unwrap(), 2..2, 0, 40, on_read::<I>).unwrap_err();
    note(&mut log, format!("refused {:?} {}", refused.error, refused.returned.len()));
    let reopened = open(io, "data", size, FilePurpose::Open).unwrap();
    io.read(reopened, Buffer::new(5).unwrap(), .., 0, 50, on_read::<I>).unwrap();
    io.close(reopened, 51, on_close::<I>).unwrap();
    io.close(dir, 52, on_close::<I>).unwrap();
    io.run_until_done(&mut log).unwrap();
    log.lines
}

/// Timers (deadline order, ties in submission order, zero timeout, reset,
/// cancel) and user events.
fn timers_and_events<I: Io<Context = Log>>(io: &mut I) -> Vec<String> {
    let mut log = Log::default();
    let ms = 1_000_000;
    for (tag, deadline) in [3u64, 1, 2, 1, 0].iter().enumerate() {
        io.timeout(deadline * ms, tag as u64, on_timeout::<I>).unwrap();
    }
    let moved = io.timeout(10 * ms, 5, on_timeout::<I>).unwrap();
    io.reset_timeout(moved, 0).unwrap();
    let canceled = io.timeout(ms, 6, on_timeout::<I>).unwrap();
    io.cancel(canceled).unwrap();
    note(&mut log, format!("cancel twice {:?}", io.cancel(canceled)));
    io.run_until_done(&mut log).unwrap();
    note(&mut log, format!("cancel done {:?}", io.cancel(canceled)));
    let event = io.open_event().unwrap();
    io.event_listen(event, 10, on_event::<I>).unwrap();
    note(&mut log, format!("listen twice {:?}", io.event_listen(event, 11, on_event::<I>).err()));
    io.event_trigger(event).unwrap();
    io.event_trigger(event).unwrap();
    io.run_until_done(&mut log).unwrap();
    io.event_listen(event, 12, on_event::<I>).unwrap();
    io.close_event(event).unwrap();
    io.run_until_done(&mut log).unwrap();
    note(&mut log, format!("trigger closed {:?}", io.event_trigger(event)));
    log.lines
}

fn on_accept<I: Io<Context = Log>>(log: &mut Log, io: &mut I, done: AcceptDone) {
    let server = done.result.unwrap();
    log.server = Some(server);
    io.recv(server, Buffer::new(64).unwrap(), .., 1, on_server_recv::<I>).unwrap();
}
fn on_server_recv<I: Io<Context = Log>>(log: &mut Log, io: &mut I, done: RecvDone) {
    let n = done.result.unwrap();
    note(log, format!("server got {:?}", String::from_utf8_lossy(&done.buffer[..n])));
    if n > 0 {
        let server = log.server.unwrap();
        io.send(server, done.buffer, ..n, 2, on_send::<I>).unwrap();
        io.recv(server, Buffer::new(64).unwrap(), .., 1, on_server_recv::<I>).unwrap();
    } else {
        io.close(log.server.unwrap(), 3, on_close::<I>).unwrap();
    }
}
fn on_send<I: Io<Context = Log>>(log: &mut Log, _: &mut I, done: SendDone) {
    note(log, format!("send {} {:?}", done.tag, done.result));
}
fn on_connect<I: Io<Context = Log>>(log: &mut Log, io: &mut I, done: ConnectDone) {
    note(log, format!("connect {:?}", done.result));
    log.client = Some(done.socket);
    io.send(done.socket, Buffer::from_slice(b"ping").unwrap(), .., 4, on_send::<I>).unwrap();
    io.recv(done.socket, Buffer::new(64).unwrap(), .., 5, on_client_recv::<I>).unwrap();
}
fn on_client_recv<I: Io<Context = Log>>(log: &mut Log, io: &mut I, done: RecvDone) {
    let n = done.result.unwrap();
    note(log, format!("client got {:?}", String::from_utf8_lossy(&done.buffer[..n])));
    if n > 0 {
        io.shutdown(log.client.unwrap(), Shutdown::Write).unwrap();
        io.recv(log.client.unwrap(), Buffer::new(64).unwrap(), .., 5, on_client_recv::<I>).unwrap();
    } else {
        io.close(log.client.unwrap(), 6, on_close::<I>).unwrap();
    }
}

/// An echo over loopback: connect, ping, pong, half-close, end of stream.
fn echo<I: Io<Context = Log>>(io: &mut I) -> Vec<String> {
    let mut log = Log::default();
    let listener = io.open_socket(AddressFamily::Ipv4, SocketOptions::default()).unwrap();
    let address = io.listen(listener, "127.0.0.1:0".parse().unwrap(), 8).unwrap();
    note(&mut log, format!("listening port>0 {}", address.port() > 0));
    io.accept(listener, 0, on_accept::<I>).unwrap();
    let client = io.open_socket(AddressFamily::Ipv4, SocketOptions::default()).unwrap();
    io.connect(client, address, 0, on_connect::<I>).unwrap();
    io.run_until_done(&mut log).unwrap();
    io.close(listener, 7, on_close::<I>).unwrap();
    io.run_until_done(&mut log).unwrap();
    let refused = io.open_socket(AddressFamily::Ipv4, SocketOptions::default()).unwrap();
    io.connect(refused, address, 0, |log: &mut Log, _: &mut I, done: ConnectDone| {
        note(log, format!("connect to closed listener {:?}", done.result));
    })
    .unwrap();
    io.run_until_done(&mut log).unwrap();
    io.close(refused, 8, on_close::<I>).unwrap();
    io.run_until_done(&mut log).unwrap();
    log.lines
}

fn both<T: PartialEq + std::fmt::Debug>(real: T, sim: T) {
    assert_eq!(real, sim, "the twin disagrees with the real IO");
}

#[test]
fn files_agree() {
    let _g = shared();
    let dir = temp_dir("files");
    // File completions in pass order, as the twin's.
    let mut real: IO<Log> = support::real_io_in_pass_order(32);
    let real_lines = files(&mut real, &dir);
    let mut sim: SimIO<Log> = SimIO::new(1, 32, FaultConfig::none());
    both(real_lines, files(&mut sim, Path::new("/twin/files")));
}

#[test]
fn timers_and_events_agree() {
    let _g = shared();
    // File completions in pass order, as the twin's.
    let mut real: IO<Log> = support::real_io_in_pass_order(32);
    let mut sim: SimIO<Log> = SimIO::new(2, 32, FaultConfig::none());
    both(timers_and_events(&mut real), timers_and_events(&mut sim));
}

#[test]
fn echo_agrees() {
    let _g = shared();
    // File completions in pass order, as the twin's.
    let mut real: IO<Log> = support::real_io_in_pass_order(32);
    let mut sim: SimIO<Log> = SimIO::new(3, 32, FaultConfig::none());
    both(echo(&mut real), echo(&mut sim));
}

/// Ready work, half close and a close with a connect pending, in the
/// scripted style.
mod scripted {
    use std::path::Path;

    use super::support::scripted::*;
    use super::support::{Backend, Real, Sim, exclusive};
    use twinio::*;

    /// Ready IO, zero timeouts, events and file ops submitted together: the
    /// order callbacks run in, and what they return. (On the io_uring or
    /// workers the kernel orders file completions: the loop thread's order
    /// is the one the twin models.)
    fn mixed_order<B: Backend<Ctx>>() -> Vec<Entry> {
        let mut io = B::io_in_pass_order(64);
        let mut ctx = Ctx::default();
        let (client, server) = connected(&mut io, &mut ctx);
        io.send(client, Buffer::from_slice(b"ready").unwrap(), .., 1, on_send).unwrap();
        wait(&mut io, &mut ctx, 1);
        // Give loopback a moment: the data must be readable before the batch.
        io.recv(server, buf(2), .., 2, on_recv).unwrap();
        wait(&mut io, &mut ctx, 2);
        let dir = B::dir("parity");
        let d = io.open_dir(&dir).unwrap();
        let f = io
            .open_data_file(d, Path::new("f"), 8192, FilePurpose::Format, DirectIo::Disabled)
            .unwrap();
        let event = io.open_event().unwrap();
        ctx.log.clear();

        io.timeout(0, 10, on_timeout).unwrap();
        io.recv(server, buf(8), .., 11, on_recv).unwrap();
        io.write(f, Buffer::from_slice(b"abc").unwrap(), .., 4096, 12, on_write).unwrap();
        io.event_listen(event, 13, on_event).unwrap();
        io.event_trigger(event).unwrap();
        io.read(f, buf(8), .., 4094, 14, on_read).unwrap();
        io.fsync(f, FsyncMode::Data, 15, on_fsync).unwrap();
        let canceled = io.timeout(0, 16, on_timeout).unwrap();
        io.timeout(0, 17, on_timeout).unwrap();
        io.cancel(canceled).unwrap();
        ctx.on(10, Action::Submit(18));
        ctx.on(11, Action::Submit(19));
        io.run_until_done(&mut ctx).unwrap();
        for fd in [client, server, f, d] {
            close(&mut io, &mut ctx, fd);
        }
        io.close_event(event).unwrap();
        ctx.log
    }

    /// Half-closed and closed connections: end of stream, broken pipe,
    /// shutdown twice, recv after a local shutdown.
    fn half_close<B: Backend<Ctx>>() -> Vec<Entry> {
        let mut io = B::io(64);
        let mut ctx = Ctx::default();
        let (client, server) = connected(&mut io, &mut ctx);
        let mut lines = Vec::new();
        let mut note = |tag, what: String| lines.push(Entry { tag, what });
        note(0, format!("{:?}", io.shutdown(client, Shutdown::Write)));
        note(0, format!("{:?}", io.shutdown(client, Shutdown::Write)));
        io.send(client, Buffer::from_slice(b"x").unwrap(), .., 1, on_send).unwrap();
        note(1, wait(&mut io, &mut ctx, 1));
        for tag in [2, 3] {
            io.recv(server, buf(8), .., tag, on_recv).unwrap();
            note(tag, wait(&mut io, &mut ctx, tag));
        }
        // The other direction still works.
        io.send(server, Buffer::from_slice(b"back").unwrap(), .., 4, on_send).unwrap();
        note(4, wait(&mut io, &mut ctx, 4));
        io.recv(client, buf(8), .., 5, on_recv).unwrap();
        note(5, wait(&mut io, &mut ctx, 5));
        note(0, format!("{:?}", io.shutdown(server, Shutdown::Both)));
        io.recv(client, buf(8), .., 6, on_recv).unwrap();
        note(6, wait(&mut io, &mut ctx, 6));
        note(0, format!("{:?}", io.shutdown(client, Shutdown::Read)));
        for fd in [client, server] {
            note(0, close(&mut io, &mut ctx, fd));
        }
        lines
    }

    /// Closing a socket with a connect in progress (to a listener that never
    /// accepts) and a send parked behind a full window.
    fn close_with_pending_connect<B: Backend<Ctx>>() -> Vec<Entry> {
        let mut io = B::io(64);
        let mut ctx = Ctx::default();
        let (l, address) = listener(&mut io);
        let s = io.open_socket(AddressFamily::Ipv4, SocketOptions::default()).unwrap();
        io.connect(s, address, 1, on_connect).unwrap();
        io.close(s, 2, on_close).unwrap();
        io.run_until_done(&mut ctx).unwrap();
        // Canceled or, if the handshake finished first, connected.
        let connect = ctx.get(1).unwrap().to_string();
        assert!(connect == "Err(Canceled)" || connect == "Ok(())", "{connect}");
        close(&mut io, &mut ctx, l);
        ctx.log.retain(|e| e.tag != 1);
        ctx.log
    }

    fn compare(real: Vec<Entry>, sim: Vec<Entry>) {
        let show =
            |log: &[Entry]| log.iter().map(|e| format!("{} {}", e.tag, e.what)).collect::<Vec<_>>();
        assert_eq!(show(&real), show(&sim), "real (left) and sim (right) differ");
    }

    #[test]
    fn same_order_for_ready_work_on_both_backends() {
        let _g = exclusive();
        compare(mixed_order::<Real>(), mixed_order::<Sim>());
    }

    #[test]
    fn same_half_close_semantics_on_both_backends() {
        let _g = exclusive();
        compare(half_close::<Real>(), half_close::<Sim>());
    }

    #[test]
    fn close_cancels_a_pending_connect_on_both_backends() {
        let _g = exclusive();
        compare(close_with_pending_connect::<Real>(), close_with_pending_connect::<Sim>());
    }
}
