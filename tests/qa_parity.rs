//! QA: scenarios whose outcome does not depend on real time give the same
//! callbacks, in the same order, with the same results, on `IO` and
//! `SimIO`.

mod qa;

use std::path::Path;

use qa::*;
use twinio::*;

/// Ready IO, zero timeouts, events and file ops submitted together: the
/// order callbacks run in, and what they return.
fn mixed_order<I: Backend>() -> Vec<Entry> {
    let mut io = I::make(64);
    let mut ctx = Ctx::default();
    let (client, server) = connected(&mut io, &mut ctx);
    io.send(client, Buffer::from_slice(b"ready").unwrap(), .., 1, on_send).unwrap();
    wait(&mut io, &mut ctx, 1);
    // Give loopback a moment: the data must be readable before the batch.
    io.recv(server, buf(2), .., 2, on_recv).unwrap();
    wait(&mut io, &mut ctx, 2);
    let d = io.open_dir(&I::dir("parity")).unwrap();
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
fn half_close<I: Backend>() -> Vec<Entry> {
    let mut io = I::make(64);
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
fn close_with_pending_connect<I: Backend>() -> Vec<Entry> {
    let mut io = I::make(64);
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
    let _g = serial();
    compare(mixed_order::<IO<Ctx>>(), mixed_order::<SimIO<Ctx>>());
}

#[test]
fn same_half_close_semantics_on_both_backends() {
    let _g = serial();
    compare(half_close::<IO<Ctx>>(), half_close::<SimIO<Ctx>>());
}

#[test]
fn close_cancels_a_pending_connect_on_both_backends() {
    let _g = serial();
    compare(close_with_pending_connect::<IO<Ctx>>(), close_with_pending_connect::<SimIO<Ctx>>());
}
