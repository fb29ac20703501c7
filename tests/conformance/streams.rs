//! Stream scenarios: transfers, partial sends and receives, end of
//! stream, resets, and operations on sockets that are not connected.

use twinio::*;

use crate::harness::*;
use crate::ops::*;

pub fn table() -> Vec<Scenario> {
    vec![
        scenario!(send_and_recv),
        scenario!(recv_posted_before_send),
        scenario!(recv_partial),
        scenario!(recv_both_directions),
        scenario!(send_partial_bulk),
        scenario!(send_empty_range),
        scenario!(recv_empty_range),
        scenario!(recv_range_out_of_bounds),
        scenario!(eof_after_peer_close),
        scenario!(eof_after_peer_shutdown_write),
        scenario!(eof_after_data),
        scenario!(send_after_fin),
        scenario!(send_after_rst),
        scenario!(recv_after_rst),
        scenario!(rst_after_buffered_data),
        scenario!(send_on_unconnected),
        scenario!(send_on_listener),
        scenario!(send_after_refused),
        scenario!(recv_on_unconnected),
        scenario!(recv_on_listener),
        scenario!(recv_after_refused),
        scenario!(send_on_directory),
        scenario!(send_sub_range),
        scenario!(recv_into_sub_range),
        scenario!(two_recvs_one_socket),
    ]
}

fn send_and_recv<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, _, client, server) = v4(io, env);
    send(io, &mut c, client, b"hello", 1);
    wait(io, &mut c, 1);
    recv(io, &mut c, server, 64, 2);
    wait(io, &mut c, 2);
    finish(io, c, env, base)
}

fn recv_posted_before_send<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, _, client, server) = v4(io, env);
    recv(io, &mut c, server, 64, 1);
    ticks(io, &mut c, 3);
    c.note(format!("in_flight {}", io.in_flight()));
    send(io, &mut c, client, b"late", 2);
    wait(io, &mut c, 2);
    wait(io, &mut c, 1);
    finish(io, c, env, base)
}

fn recv_partial<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, _, client, server) = v4(io, env);
    send(io, &mut c, client, b"0123456789", 1);
    wait(io, &mut c, 1);
    settle(io, &mut c);
    recv(io, &mut c, server, 4, 2);
    wait(io, &mut c, 2);
    recv(io, &mut c, server, 4, 3);
    wait(io, &mut c, 3);
    recv(io, &mut c, server, 4, 4);
    wait(io, &mut c, 4);
    finish(io, c, env, base)
}

fn recv_both_directions<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, _, client, server) = v4(io, env);
    send(io, &mut c, client, b"ping", 1);
    wait(io, &mut c, 1);
    recv(io, &mut c, server, 16, 2);
    wait(io, &mut c, 2);
    send(io, &mut c, server, b"pong", 3);
    wait(io, &mut c, 3);
    recv(io, &mut c, client, 16, 4);
    wait(io, &mut c, 4);
    finish(io, c, env, base)
}

/// 4 MiB through one connection: sends may be short (the count is the
/// kernel's or the window's), the bytes read back must be the same.
fn send_partial_bulk<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, _, client, server) = v4(io, env);
    let total = 4 << 20;
    let mut data = Buffer::new(total).unwrap();
    for (at, byte) in data.iter_mut().enumerate() {
        *byte = (at % 251) as u8;
    }
    c.quiet = true;
    let (mut tag, mut sends, mut recv_tag) = (10, 0, 1_000_000);
    while c.received.len() < total && tag < 100_000 {
        if c.sent < total && c.id(tag).is_none() {
            let from = c.sent;
            let result = io.send(client, data.clone(), from.., tag, |ctx: &mut Ctx, _, done| {
                ctx.sent += done.result.unwrap_or(0);
                ctx.note_seen(done.tag);
            });
            c.remember(tag, result.map_err(|r| r.error));
            sends += 1;
        }
        recv(io, &mut c, server, 256 << 10, recv_tag);
        wait(io, &mut c, recv_tag);
        recv_tag += 1;
        if c.seen(tag) {
            tag += 2;
        }
    }
    let short = sends > 1;
    c.quiet = false;
    c.note(format!("some send was short: {short}"));
    let matches = c.received.len() == total
        && c.received.iter().enumerate().all(|(at, &b)| b == (at % 251) as u8);
    c.note(format!("read back {} bytes, equal: {matches}", c.received.len()));
    c.received.clear();
    c.sent = 0;
    finish(io, c, env, base)
}

fn send_empty_range<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, _, client, _) = v4(io, env);
    let result = io.send(client, Buffer::new(8).unwrap(), 4..4, 1, |_, _, _| {});
    c.note(format!("send 4..4: {:?}", result.map(drop).map_err(|r| (r.error, r.returned.len()))));
    finish(io, c, env, base)
}

fn recv_empty_range<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, _, _, server) = v4(io, env);
    let result = io.recv(server, Buffer::new(8).unwrap(), 8.., 1, |_, _, _| {});
    c.note(format!("recv 8..: {:?}", result.map(drop).map_err(|r| (r.error, r.returned.len()))));
    finish(io, c, env, base)
}

fn recv_range_out_of_bounds<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, _, _, server) = v4(io, env);
    let result = io.recv(server, Buffer::new(8).unwrap(), 4..9, 1, |_, _, _| {});
    c.note(format!("recv 4..9: {:?}", result.map(drop).map_err(|r| r.error)));
    #[allow(clippy::reversed_empty_ranges)]
    let result = io.recv(server, Buffer::new(8).unwrap(), 6..2, 1, |_, _, _| {});
    c.note(format!("recv 6..2: {:?}", result.map(drop).map_err(|r| r.error)));
    finish(io, c, env, base)
}

fn eof_after_peer_close<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, _, client, server) = v4(io, env);
    close(io, &mut c, client, 1);
    wait(io, &mut c, 1);
    recv(io, &mut c, server, 8, 2);
    wait(io, &mut c, 2);
    recv(io, &mut c, server, 8, 3);
    wait(io, &mut c, 3);
    finish(io, c, env, base)
}

fn eof_after_peer_shutdown_write<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, _, client, server) = v4(io, env);
    shutdown(io, &mut c, client, Shutdown::Write);
    recv(io, &mut c, server, 8, 1);
    wait(io, &mut c, 1);
    // The other direction still works.
    send(io, &mut c, server, b"back", 2);
    wait(io, &mut c, 2);
    recv(io, &mut c, client, 8, 3);
    wait(io, &mut c, 3);
    finish(io, c, env, base)
}

fn eof_after_data<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, _, client, server) = v4(io, env);
    send(io, &mut c, client, b"last words", 1);
    wait(io, &mut c, 1);
    close(io, &mut c, client, 2);
    wait(io, &mut c, 2);
    settle(io, &mut c);
    for tag in 3..6 {
        recv(io, &mut c, server, 6, tag);
        wait(io, &mut c, tag);
    }
    finish(io, c, env, base)
}

/// The peer closed (FIN); our first send reaches a closed socket, which
/// answers RST; the sends after it, and a recv, see what the kernel says.
fn send_after_fin<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, _, client, server) = v4(io, env);
    close(io, &mut c, server, 1);
    wait(io, &mut c, 1);
    settle(io, &mut c);
    send(io, &mut c, client, b"hello", 2);
    wait(io, &mut c, 2);
    settle(io, &mut c);
    for tag in 3..5 {
        send(io, &mut c, client, b"again", tag);
        wait(io, &mut c, tag);
    }
    recv(io, &mut c, client, 8, 5);
    wait(io, &mut c, 5);
    recv(io, &mut c, client, 8, 6);
    wait(io, &mut c, 6);
    finish(io, c, env, base)
}

/// The peer closed with our data unread: RST instead of FIN.
fn peer_reset<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> (Ctx, i32, Fd) {
    let (mut c, base, _, client, server) = v4(io, env);
    send(io, &mut c, client, b"unread", 1);
    wait(io, &mut c, 1);
    settle(io, &mut c);
    close(io, &mut c, server, 2);
    wait(io, &mut c, 2);
    settle(io, &mut c);
    (c, base, client)
}

fn send_after_rst<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, client) = peer_reset(io, env);
    for tag in 3..5 {
        send(io, &mut c, client, b"more", tag);
        wait(io, &mut c, tag);
    }
    recv(io, &mut c, client, 8, 5);
    wait(io, &mut c, 5);
    finish(io, c, env, base)
}

fn recv_after_rst<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, client) = peer_reset(io, env);
    for tag in 3..5 {
        recv(io, &mut c, client, 8, tag);
        wait(io, &mut c, tag);
    }
    send(io, &mut c, client, b"more", 5);
    wait(io, &mut c, 5);
    finish(io, c, env, base)
}

/// Data from the peer is buffered, unread, when its RST arrives.
fn rst_after_buffered_data<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, _, client, server) = v4(io, env);
    send(io, &mut c, client, b"unread", 1);
    wait(io, &mut c, 1);
    send(io, &mut c, server, b"reply", 2);
    wait(io, &mut c, 2);
    settle(io, &mut c);
    close(io, &mut c, server, 3);
    wait(io, &mut c, 3);
    settle(io, &mut c);
    for tag in 4..7 {
        recv(io, &mut c, client, 8, tag);
        wait(io, &mut c, tag);
    }
    finish(io, c, env, base)
}

fn send_on_unconnected<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let s = socket(io, &mut c, AddressFamily::Ipv4);
    send(io, &mut c, s, b"x", 1);
    wait(io, &mut c, 1);
    finish(io, c, env, base)
}

fn send_on_listener<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let (l, _) = listener_v4(io, &mut c);
    send(io, &mut c, l, b"x", 1);
    wait(io, &mut c, 1);
    finish(io, c, env, base)
}

fn send_after_refused<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, s) = refused_socket(io, env);
    send(io, &mut c, s, b"x", 2);
    wait(io, &mut c, 2);
    finish(io, c, env, base)
}

fn recv_on_unconnected<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let s = socket(io, &mut c, AddressFamily::Ipv4);
    recv(io, &mut c, s, 8, 1);
    wait(io, &mut c, 1);
    finish(io, c, env, base)
}

fn recv_on_listener<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let (l, _) = listener_v4(io, &mut c);
    recv(io, &mut c, l, 8, 1);
    wait(io, &mut c, 1);
    finish(io, c, env, base)
}

fn recv_after_refused<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, s) = refused_socket(io, env);
    recv(io, &mut c, s, 8, 2);
    wait(io, &mut c, 2);
    finish(io, c, env, base)
}

fn send_on_directory<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let d = open_dir(io, &mut c, &env.dir).or_bad();
    send(io, &mut c, d, b"x", 1);
    wait(io, &mut c, 1);
    recv(io, &mut c, d, 8, 2);
    wait(io, &mut c, 2);
    send(io, &mut c, Fd::from_raw(100_000), b"x", 3);
    wait(io, &mut c, 3);
    finish(io, c, env, base)
}

fn send_sub_range<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, _, client, server) = v4(io, env);
    let result = io.send(
        client,
        Buffer::from_slice(b"0123456789").unwrap(),
        3..7,
        1,
        |ctx: &mut Ctx, _, done| {
            ctx.note(format!("t1 send {:?}", done.result));
            ctx.note_seen(1);
        },
    );
    c.remember(1, result.map_err(|r| r.error));
    wait(io, &mut c, 1);
    recv(io, &mut c, server, 16, 2);
    wait(io, &mut c, 2);
    finish(io, c, env, base)
}

fn recv_into_sub_range<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, _, client, server) = v4(io, env);
    send(io, &mut c, client, b"abcdefgh", 1);
    wait(io, &mut c, 1);
    settle(io, &mut c);
    let result = io.recv(server, filled(10, b'.'), 2..5, 2, |ctx: &mut Ctx, _, done| {
        let text = String::from_utf8_lossy(&done.buffer).into_owned();
        ctx.note(format!("t2 recv {:?} buffer {text:?}", done.result));
        ctx.note_seen(2);
    });
    c.remember(2, result.map_err(|r| r.error));
    wait(io, &mut c, 2);
    recv(io, &mut c, server, 16, 3);
    wait(io, &mut c, 3);
    finish(io, c, env, base)
}

fn two_recvs_one_socket<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, _, client, server) = v4(io, env);
    recv(io, &mut c, server, 16, 1);
    recv(io, &mut c, server, 16, 2);
    ticks(io, &mut c, 2);
    send(io, &mut c, client, b"one", 3);
    wait(io, &mut c, 3);
    wait(io, &mut c, 1);
    settle(io, &mut c);
    c.note(format!("second seen: {}", c.seen(2)));
    send(io, &mut c, client, b"two", 4);
    wait(io, &mut c, 4);
    wait(io, &mut c, 2);
    finish(io, c, env, base)
}
