//! Sockets on both backends: accept and connect, round trips, partial sends
//! resumed, end of stream, refused connects, resets, closes that complete
//! pending operations first, and socket misuse as typed errors.

mod support;

use support::typed::*;
use support::{Backend, both_backends};
use twinio::*;

fn accept_and_connect_hand_out_connected_sockets<B: Backend<Ctx>>() {
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
        expect_done!(wait(&mut io, &mut ctx, 10 + round), Connect, 2).1.unwrap();
        let accepted = expect_done!(wait(&mut io, &mut ctx, 20 + round), Accept).unwrap();
        close(&mut io, &mut ctx, accepted).unwrap();
        close(&mut io, &mut ctx, client).unwrap();
    }
    for fd in [listener, client, server] {
        close(&mut io, &mut ctx, fd).unwrap();
    }
    assert_eq!(io.in_flight(), 0);
}

fn ping_pong_round_trips<B: Backend<Ctx>>() {
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

fn large_transfers_resume_partial_sends<B: Backend<Ctx>>() {
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

fn many_small_sends_and_small_receives<B: Backend<Ctx>>() {
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

fn end_of_stream_after_the_peer_closes_or_shuts_down<B: Backend<Ctx>>() {
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
    assert_eq!(expect_done!(wait(&mut io, &mut ctx, 1), Recv, 2).1, Ok(0));
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

fn connect_refused<B: Backend<Ctx>>() {
    let _g = B::shared();
    let mut io = B::io(16);
    let mut ctx = Ctx::default();
    // An address that was listened on and no longer is.
    let (listener, address) = listener(&mut io);
    close(&mut io, &mut ctx, listener).unwrap();
    let client = io.open_socket(AddressFamily::Ipv4, SocketOptions::default()).unwrap();
    io.connect(client, address, 1, on_connect).unwrap();
    let (socket, result) = expect_done!(wait(&mut io, &mut ctx, 1), Connect, 2);
    assert_eq!(socket, client);
    assert_eq!(result, Err(ConnectError::ConnectionRefused));
    close(&mut io, &mut ctx, client).unwrap();
    assert_eq!(io.in_flight(), 0);
}

fn recv_from_a_reset_peer<B: Backend<Ctx>>() {
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
    let result = expect_done!(wait(&mut io, &mut ctx, 1), Recv, 2).1;
    assert_eq!(result, Err(RecvError::ConnectionResetByPeer));
    close(&mut io, &mut ctx, client).unwrap();
    assert_eq!(io.in_flight(), 0);
}

fn several_recvs_parked_on_one_socket<B: Backend<Ctx>>() {
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
        let (buf, n) = expect_done!(entry, Recv, 2);
        got.extend_from_slice(&buf[..n.expect("recv")]);
    }
    assert_eq!(got, b"abc");
    assert_eq!(completed[0], 1, "the first parked recv is served first");
    // Closing the socket completes the others, once each, with Canceled.
    close(&mut io, &mut ctx, server).unwrap();
    for tag in (1..=3).filter(|tag| !completed.contains(tag)) {
        let result = expect_done!(ctx.take(tag).expect("completed before the close"), Recv, 2).1;
        assert_eq!(result, Err(RecvError::Canceled));
    }
    assert!(ctx.log.is_empty(), "stray completions: {:?}", ctx.log);
    close(&mut io, &mut ctx, client).unwrap();
    assert_eq!(io.in_flight(), 0);
}

fn close_completes_pending_operations_first_with_canceled<B: Backend<Ctx>>() {
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
    assert_eq!(expect_done!(ctx.take(1).unwrap(), Accept), Err(AcceptError::Canceled));
    let (buf, result) = expect_done!(ctx.take(2).unwrap(), Recv, 2);
    assert_eq!((result, &buf[..]), (Err(RecvError::Canceled), &b"mine"[..]));
    assert_eq!(expect_done!(ctx.take(3).unwrap(), Close), Ok(()));
    assert_eq!(expect_done!(ctx.take(4).unwrap(), Close), Ok(()));
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

fn close_queued_behind_much_work_still_completes_pending_operations_first<B: Backend<Ctx>>() {
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
    let (buf, result) = expect_done!(ctx.take(1).unwrap(), Recv, 2);
    match result {
        Ok(n) => assert_eq!(&buf[..n], b"x"),
        Err(error) => assert_eq!(error, RecvError::Canceled),
    }
    assert_eq!(expect_done!(ctx.take(CLOSE_PROBE).unwrap(), Close), Ok(()));
    run_until(&mut io, &mut ctx, |ctx| ctx.has(2));
    assert_eq!(expect_done!(ctx.take(2).unwrap(), Send, 2).1, Ok(1));
    io.run_until_done(&mut ctx).unwrap();
    close(&mut io, &mut ctx, client).unwrap();
    assert_eq!(io.in_flight(), 0);
}

fn socket_misuse_is_a_typed_error<B: Backend<Ctx>>() {
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
    assert_eq!(
        expect_done!(wait(&mut io, &mut ctx, 1), Accept),
        Err(AcceptError::SocketNotListening)
    );
    assert_eq!(recv(&mut io, &mut ctx, idle, 8), Err(RecvError::NotConnected));
    assert_eq!(io.shutdown(idle, Shutdown::Both), Err(ShutdownError::NotConnected));
    close(&mut io, &mut ctx, idle).unwrap();

    // Connecting a connected socket.
    let client = open(&mut io).unwrap();
    io.accept(listener, 2, on_accept).unwrap();
    io.connect(client, address, 3, on_connect).unwrap();
    expect_done!(wait(&mut io, &mut ctx, 3), Connect, 2).1.unwrap();
    let server = expect_done!(wait(&mut io, &mut ctx, 2), Accept).unwrap();
    // Linux answers the first connect after an asynchronous one with
    // success (it only then moves the socket to "connected"; the engine
    // read the outcome from SO_ERROR instead of connecting again); the BSDs
    // answer EISCONN. Either way the next one is AlreadyConnected and the
    // connection is unharmed.
    io.connect(client, address, 4, on_connect).unwrap();
    let again = expect_done!(wait(&mut io, &mut ctx, 4), Connect, 2).1;
    assert!(matches!(again, Ok(()) | Err(ConnectError::AlreadyConnected)), "{again:?}");
    io.connect(client, address, 5, on_connect).unwrap();
    assert_eq!(
        expect_done!(wait(&mut io, &mut ctx, 5), Connect, 2).1,
        Err(ConnectError::AlreadyConnected)
    );
    assert_eq!(send(&mut io, &mut ctx, client, b"ok"), Ok(2));
    assert_eq!(recv(&mut io, &mut ctx, server, 8).unwrap(), b"ok");
    for fd in [client, server, listener] {
        close(&mut io, &mut ctx, fd).unwrap();
    }
    assert_eq!(io.in_flight(), 0);
}

fn send_to_a_closed_or_reset_peer_is_a_typed_error<B: Backend<Ctx>>() {
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

both_backends!(
    accept_and_connect_hand_out_connected_sockets,
    ping_pong_round_trips,
    large_transfers_resume_partial_sends,
    many_small_sends_and_small_receives,
    end_of_stream_after_the_peer_closes_or_shuts_down,
    connect_refused,
    recv_from_a_reset_peer,
    several_recvs_parked_on_one_socket,
    close_completes_pending_operations_first_with_canceled,
    close_queued_behind_much_work_still_completes_pending_operations_first,
    socket_misuse_is_a_typed_error,
    send_to_a_closed_or_reset_peer_is_a_typed_error
);
