//! Socket scenarios: connect, accept, listen, transfers, end of stream,
//! resets, shutdown and close, over loopback (IPv4 and IPv6).

use std::net::SocketAddr;

use twinio::*;

use crate::harness::*;

pub fn table() -> Vec<Scenario> {
    vec![
        scenario!(connect_v4),
        scenario!(connect_v6),
        scenario!(connect_refused_v4),
        scenario!(connect_refused_v6),
        scenario!(connect_on_connected),
        scenario!(connect_twice_in_one_pass),
        scenario!(connect_after_refused),
        scenario!(connect_v4_address_on_v6_socket),
        scenario!(connect_v6_address_on_v4_socket),
        scenario!(connect_v4_mapped_on_v6_socket),
        scenario!(connect_v4_to_v6_wildcard_listener),
        scenario!(listen_v4_on_port_of_v6_wildcard),
        scenario!(connect_on_listener),
        scenario!(connect_on_directory),
        scenario!(connect_bad_fd),
        scenario!(listen_v4_address_on_v6_socket),
        scenario!(listen_v6_address_on_v4_socket),
        scenario!(listen_on_used_port),
        scenario!(listen_on_used_port_v6),
        scenario!(listen_twice),
        scenario!(listen_on_connected),
        scenario!(listen_on_directory),
        scenario!(listen_bad_fd),
        scenario!(listen_after_listener_closed),
        scenario!(accept_two_in_order),
        scenario!(accept_before_connect),
        scenario!(accept_on_unlistened),
        scenario!(accept_on_connected),
        scenario!(accept_on_directory),
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
        scenario!(send_after_own_shutdown_write),
        scenario!(send_on_unconnected),
        scenario!(send_on_listener),
        scenario!(send_after_refused),
        scenario!(recv_on_unconnected),
        scenario!(recv_on_listener),
        scenario!(recv_after_refused),
        scenario!(send_on_directory),
        scenario!(shutdown_write_connected),
        scenario!(shutdown_read_connected),
        scenario!(shutdown_both_connected),
        scenario!(shutdown_write_twice),
        scenario!(shutdown_after_peer_closed),
        scenario!(shutdown_unconnected_read),
        scenario!(shutdown_unconnected_write),
        scenario!(shutdown_unconnected_both),
        scenario!(shutdown_listener_read),
        scenario!(shutdown_listener_write),
        scenario!(shutdown_listener_both),
        scenario!(shutdown_directory),
        scenario!(close_with_pending_recv),
        scenario!(close_with_pending_accept),
        scenario!(close_with_pending_recv_and_send),
        scenario!(close_listener_with_backlog),
        scenario!(close_twice),
        scenario!(three_clients_accepted_in_order),
        scenario!(shutdown_read_then_peer_sends),
        scenario!(send_sub_range),
        scenario!(recv_into_sub_range),
        scenario!(peer_closed_before_accept),
        scenario!(backlog_full),
        scenario!(backlog_overflow),
        scenario!(listen_after_refused),
        scenario!(listen_after_listener_shutdown),
        scenario!(two_recvs_one_socket),
        scenario!(listen_after_shutdown_unconnected),
        scenario!(send_after_peer_shutdown_read),
    ]
}

fn v4<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> (Ctx, i32, Fd, Fd, Fd) {
    let (mut c, base) = begin(io, env);
    let (listener, client, server) = pair(io, &mut c, env.any_v4());
    (c, base, listener, client, server)
}

fn connect_v4<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (c, base, ..) = v4(io, env);
    finish(io, c, env, base)
}

fn connect_v6<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    pair(io, &mut c, env.any_v6());
    finish(io, c, env, base)
}

fn refused<I: Io<Context = Ctx>>(io: &mut I, env: &Env, ip: std::net::IpAddr) -> Outcome {
    let (mut c, base) = begin(io, env);
    let dead = dead_address(io, &mut c, ip);
    let s = socket(io, &mut c, AddressFamily::of(&dead));
    connect(io, &mut c, s, dead, 1);
    wait(io, &mut c, 1);
    finish(io, c, env, base)
}

fn connect_refused_v4<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    refused(io, env, env.v4)
}

fn connect_refused_v6<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    refused(io, env, env.v6)
}

fn connect_on_connected<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, _, client, _) = v4(io, env);
    let address = c.last_bound.unwrap();
    connect(io, &mut c, client, address, 1);
    wait(io, &mut c, 1);
    connect(io, &mut c, client, address, 2);
    wait(io, &mut c, 2);
    finish(io, c, env, base)
}

fn listener_v4<I: Io<Context = Ctx>>(io: &mut I, c: &mut Ctx) -> (Fd, SocketAddr) {
    let address = SocketAddr::new(std::net::Ipv4Addr::LOCALHOST.into(), 0);
    listener(io, c, address)
}

fn connect_twice_in_one_pass<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let (l, bound) = listener_v4(io, &mut c);
    let s = socket(io, &mut c, AddressFamily::Ipv4);
    connect(io, &mut c, s, bound, 1);
    connect(io, &mut c, s, bound, 2);
    wait(io, &mut c, 1);
    wait(io, &mut c, 2);
    accept(io, &mut c, l, 3);
    wait(io, &mut c, 3);
    finish(io, c, env, base)
}

fn connect_after_refused<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let dead = dead_address(io, &mut c, env.v4);
    let s = socket(io, &mut c, AddressFamily::Ipv4);
    connect(io, &mut c, s, dead, 1);
    wait(io, &mut c, 1);
    connect(io, &mut c, s, dead, 2);
    wait(io, &mut c, 2);
    finish(io, c, env, base)
}

fn family_mismatch_connect<I: Io<Context = Ctx>>(
    io: &mut I,
    env: &Env,
    family: AddressFamily,
    target: std::net::IpAddr,
) -> Outcome {
    let (mut c, base) = begin(io, env);
    let (_, bound) = listener(io, &mut c, SocketAddr::new(target, 0));
    let s = socket(io, &mut c, family);
    connect(io, &mut c, s, bound, 1);
    wait(io, &mut c, 1);
    finish(io, c, env, base)
}

fn connect_v4_address_on_v6_socket<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    family_mismatch_connect(io, env, AddressFamily::Ipv6, env.v4)
}

fn connect_v6_address_on_v4_socket<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    family_mismatch_connect(io, env, AddressFamily::Ipv4, env.v6)
}

/// An IPv6 socket reaches an IPv4 listener through a v4-mapped address
/// (sockets are dual-stack by default on Linux).
fn connect_v4_mapped_on_v6_socket<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let (l, bound) = listener_v4(io, &mut c);
    let std::net::IpAddr::V4(ip) = bound.ip() else { unreachable!() };
    let mapped = SocketAddr::new(ip.to_ipv6_mapped().into(), bound.port());
    let s = socket(io, &mut c, AddressFamily::Ipv6);
    connect(io, &mut c, s, mapped, 1);
    wait(io, &mut c, 1);
    accept(io, &mut c, l, 2);
    wait(io, &mut c, 2);
    finish(io, c, env, base)
}

fn v6_wildcard<I: Io<Context = Ctx>>(io: &mut I, c: &mut Ctx) -> (Fd, u16) {
    let any = SocketAddr::new(std::net::Ipv6Addr::UNSPECIFIED.into(), 0);
    let (l, bound) = listener(io, c, any);
    (l, bound.port())
}

fn connect_v4_to_v6_wildcard_listener<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let (l, port) = v6_wildcard(io, &mut c);
    let s = socket(io, &mut c, AddressFamily::Ipv4);
    connect(io, &mut c, s, SocketAddr::new(env.v4, port), 1);
    wait(io, &mut c, 1);
    accept(io, &mut c, l, 2);
    wait(io, &mut c, 2);
    finish(io, c, env, base)
}

fn listen_v4_on_port_of_v6_wildcard<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let (_, port) = v6_wildcard(io, &mut c);
    let s = socket(io, &mut c, AddressFamily::Ipv4);
    listen(io, &mut c, s, SocketAddr::new(env.v4, port), 8);
    finish(io, c, env, base)
}

fn connect_on_listener<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let (l, bound) = listener_v4(io, &mut c);
    connect(io, &mut c, l, bound, 1);
    wait(io, &mut c, 1);
    finish(io, c, env, base)
}

fn connect_on_directory<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let d = open_dir(io, &mut c, &env.dir).or_bad();
    let (_, bound) = listener_v4(io, &mut c);
    connect(io, &mut c, d, bound, 1);
    wait(io, &mut c, 1);
    finish(io, c, env, base)
}

fn connect_bad_fd<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let (_, bound) = listener_v4(io, &mut c);
    connect(io, &mut c, Fd::from_raw(100_000), bound, 1);
    connect(io, &mut c, Fd::from_raw(-1), bound, 2);
    wait(io, &mut c, 1);
    finish(io, c, env, base)
}

fn family_mismatch_listen<I: Io<Context = Ctx>>(
    io: &mut I,
    env: &Env,
    family: AddressFamily,
    address: SocketAddr,
) -> Outcome {
    let (mut c, base) = begin(io, env);
    let s = socket(io, &mut c, family);
    listen(io, &mut c, s, address, 8);
    // The socket is still usable with its own family.
    let own = match family {
        AddressFamily::Ipv4 => env.any_v4(),
        AddressFamily::Ipv6 => env.any_v6(),
    };
    listen(io, &mut c, s, own, 8);
    finish(io, c, env, base)
}

fn listen_v4_address_on_v6_socket<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    family_mismatch_listen(io, env, AddressFamily::Ipv6, env.any_v4())
}

fn listen_v6_address_on_v4_socket<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    family_mismatch_listen(io, env, AddressFamily::Ipv4, env.any_v6())
}

fn used_port<I: Io<Context = Ctx>>(io: &mut I, env: &Env, any: SocketAddr) -> Outcome {
    let (mut c, base) = begin(io, env);
    let (_, bound) = listener(io, &mut c, any);
    let s = socket(io, &mut c, AddressFamily::of(&any));
    listen(io, &mut c, s, bound, 8);
    finish(io, c, env, base)
}

fn listen_on_used_port<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    used_port(io, env, env.any_v4())
}

fn listen_on_used_port_v6<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    used_port(io, env, env.any_v6())
}

fn listen_twice<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let (l, _) = listener_v4(io, &mut c);
    listen(io, &mut c, l, env.any_v4(), 8);
    finish(io, c, env, base)
}

fn listen_on_connected<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, _, client, server) = v4(io, env);
    listen(io, &mut c, client, env.any_v4(), 8);
    listen(io, &mut c, server, env.any_v4(), 8);
    finish(io, c, env, base)
}

fn listen_on_directory<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let d = open_dir(io, &mut c, &env.dir).or_bad();
    listen(io, &mut c, d, env.any_v4(), 8);
    finish(io, c, env, base)
}

fn listen_bad_fd<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    listen(io, &mut c, Fd::from_raw(100_000), env.any_v4(), 8);
    listen(io, &mut c, Fd::from_raw(-1), env.any_v4(), 8);
    finish(io, c, env, base)
}

fn listen_after_listener_closed<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let (l, bound) = listener_v4(io, &mut c);
    close(io, &mut c, l, 1);
    wait(io, &mut c, 1);
    let s = socket(io, &mut c, AddressFamily::Ipv4);
    listen(io, &mut c, s, bound, 8);
    finish(io, c, env, base)
}

fn accept_two_in_order<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let (l, bound) = listener_v4(io, &mut c);
    let a = socket(io, &mut c, AddressFamily::Ipv4);
    connect(io, &mut c, a, bound, 1);
    wait(io, &mut c, 1);
    let b = socket(io, &mut c, AddressFamily::Ipv4);
    connect(io, &mut c, b, bound, 2);
    wait(io, &mut c, 2);
    settle(io, &mut c);
    accept(io, &mut c, l, 3);
    wait(io, &mut c, 3);
    accept(io, &mut c, l, 4);
    wait(io, &mut c, 4);
    // Which accepted socket is whose: a's peer reads "a".
    send(io, &mut c, a, b"a", 5);
    wait(io, &mut c, 5);
    let first = c.accepted[0];
    recv(io, &mut c, first, 8, 6);
    wait(io, &mut c, 6);
    finish(io, c, env, base)
}

fn accept_before_connect<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let (l, bound) = listener_v4(io, &mut c);
    accept(io, &mut c, l, 1);
    ticks(io, &mut c, 3);
    c.note(format!("in_flight {}", io.in_flight()));
    let s = socket(io, &mut c, AddressFamily::Ipv4);
    connect(io, &mut c, s, bound, 2);
    wait(io, &mut c, 1);
    wait(io, &mut c, 2);
    finish(io, c, env, base)
}

fn accept_on_unlistened<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let s = socket(io, &mut c, AddressFamily::Ipv4);
    accept(io, &mut c, s, 1);
    wait(io, &mut c, 1);
    finish(io, c, env, base)
}

fn accept_on_connected<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, _, client, _) = v4(io, env);
    accept(io, &mut c, client, 1);
    wait(io, &mut c, 1);
    finish(io, c, env, base)
}

fn accept_on_directory<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let d = open_dir(io, &mut c, &env.dir).or_bad();
    accept(io, &mut c, d, 1);
    wait(io, &mut c, 1);
    accept(io, &mut c, Fd::from_raw(100_000), 2);
    wait(io, &mut c, 2);
    finish(io, c, env, base)
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

fn send_after_own_shutdown_write<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, _, client, _) = v4(io, env);
    shutdown(io, &mut c, client, Shutdown::Write);
    send(io, &mut c, client, b"x", 1);
    wait(io, &mut c, 1);
    send(io, &mut c, client, b"y", 2);
    wait(io, &mut c, 2);
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

fn refused_socket<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> (Ctx, i32, Fd) {
    let (mut c, base) = begin(io, env);
    let dead = dead_address(io, &mut c, env.v4);
    let s = socket(io, &mut c, AddressFamily::Ipv4);
    connect(io, &mut c, s, dead, 1);
    wait(io, &mut c, 1);
    (c, base, s)
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

fn shutdown_write_connected<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, _, client, server) = v4(io, env);
    send(io, &mut c, client, b"bye", 1);
    wait(io, &mut c, 1);
    shutdown(io, &mut c, client, Shutdown::Write);
    for tag in 2..4 {
        recv(io, &mut c, server, 8, tag);
        wait(io, &mut c, tag);
    }
    finish(io, c, env, base)
}

fn shutdown_read_connected<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, _, client, server) = v4(io, env);
    send(io, &mut c, client, b"before", 1);
    wait(io, &mut c, 1);
    settle(io, &mut c);
    shutdown(io, &mut c, server, Shutdown::Read);
    recv(io, &mut c, server, 16, 2);
    wait(io, &mut c, 2);
    recv(io, &mut c, server, 16, 3);
    wait(io, &mut c, 3);
    // The write half still works.
    send(io, &mut c, server, b"still", 4);
    wait(io, &mut c, 4);
    recv(io, &mut c, client, 16, 5);
    wait(io, &mut c, 5);
    finish(io, c, env, base)
}

fn shutdown_both_connected<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, _, client, server) = v4(io, env);
    shutdown(io, &mut c, client, Shutdown::Both);
    recv(io, &mut c, client, 8, 1);
    wait(io, &mut c, 1);
    send(io, &mut c, client, b"x", 2);
    wait(io, &mut c, 2);
    recv(io, &mut c, server, 8, 3);
    wait(io, &mut c, 3);
    finish(io, c, env, base)
}

fn shutdown_write_twice<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, _, client, _) = v4(io, env);
    shutdown(io, &mut c, client, Shutdown::Write);
    shutdown(io, &mut c, client, Shutdown::Write);
    shutdown(io, &mut c, client, Shutdown::Read);
    finish(io, c, env, base)
}

fn shutdown_after_peer_closed<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, _, client, server) = v4(io, env);
    close(io, &mut c, server, 1);
    wait(io, &mut c, 1);
    settle(io, &mut c);
    shutdown(io, &mut c, client, Shutdown::Write);
    shutdown(io, &mut c, client, Shutdown::Both);
    finish(io, c, env, base)
}

fn shutdown_unconnected<I: Io<Context = Ctx>>(io: &mut I, env: &Env, how: Shutdown) -> Outcome {
    let (mut c, base) = begin(io, env);
    let s = socket(io, &mut c, AddressFamily::Ipv4);
    shutdown(io, &mut c, s, how);
    // Still usable: it can listen afterwards.
    listen(io, &mut c, s, env.any_v4(), 8);
    finish(io, c, env, base)
}

fn shutdown_unconnected_read<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    shutdown_unconnected(io, env, Shutdown::Read)
}

fn shutdown_unconnected_write<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    shutdown_unconnected(io, env, Shutdown::Write)
}

fn shutdown_unconnected_both<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    shutdown_unconnected(io, env, Shutdown::Both)
}

/// Shutdown of a listener, then what a connect to it and an accept see.
fn shutdown_listener<I: Io<Context = Ctx>>(io: &mut I, env: &Env, how: Shutdown) -> Outcome {
    let (mut c, base) = begin(io, env);
    let (l, bound) = listener_v4(io, &mut c);
    shutdown(io, &mut c, l, how);
    let s = socket(io, &mut c, AddressFamily::Ipv4);
    connect(io, &mut c, s, bound, 1);
    wait(io, &mut c, 1);
    accept(io, &mut c, l, 2);
    wait(io, &mut c, 2);
    finish(io, c, env, base)
}

fn shutdown_listener_read<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    shutdown_listener(io, env, Shutdown::Read)
}

fn shutdown_listener_write<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    shutdown_listener(io, env, Shutdown::Write)
}

fn shutdown_listener_both<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    shutdown_listener(io, env, Shutdown::Both)
}

fn shutdown_directory<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let d = open_dir(io, &mut c, &env.dir).or_bad();
    shutdown(io, &mut c, d, Shutdown::Both);
    shutdown(io, &mut c, Fd::from_raw(100_000), Shutdown::Both);
    shutdown(io, &mut c, Fd::from_raw(-1), Shutdown::Both);
    finish(io, c, env, base)
}

fn close_with_pending_recv<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, _, _, server) = v4(io, env);
    recv(io, &mut c, server, 8, 1);
    ticks(io, &mut c, 2);
    close(io, &mut c, server, 2);
    wait(io, &mut c, 2);
    finish(io, c, env, base)
}

fn close_with_pending_accept<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let (l, _) = listener_v4(io, &mut c);
    accept(io, &mut c, l, 1);
    ticks(io, &mut c, 2);
    close(io, &mut c, l, 2);
    wait(io, &mut c, 2);
    finish(io, c, env, base)
}

fn close_with_pending_recv_and_send<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, _, client, _) = v4(io, env);
    recv(io, &mut c, client, 8, 1);
    send(io, &mut c, client, b"queued", 2);
    close(io, &mut c, client, 3);
    wait(io, &mut c, 3);
    finish(io, c, env, base)
}

fn close_listener_with_backlog<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let (l, bound) = listener_v4(io, &mut c);
    let s = socket(io, &mut c, AddressFamily::Ipv4);
    connect(io, &mut c, s, bound, 1);
    wait(io, &mut c, 1);
    settle(io, &mut c);
    close(io, &mut c, l, 2);
    wait(io, &mut c, 2);
    settle(io, &mut c);
    recv(io, &mut c, s, 8, 3);
    wait(io, &mut c, 3);
    recv(io, &mut c, s, 8, 4);
    wait(io, &mut c, 4);
    finish(io, c, env, base)
}

fn close_twice<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let s = socket(io, &mut c, AddressFamily::Ipv4);
    close(io, &mut c, s, 1);
    wait(io, &mut c, 1);
    close(io, &mut c, s, 2);
    wait(io, &mut c, 2);
    finish(io, c, env, base)
}

fn three_clients_accepted_in_order<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let (l, bound) = listener_v4(io, &mut c);
    let mut clients = Vec::new();
    for tag in 1..4 {
        let s = socket(io, &mut c, AddressFamily::Ipv4);
        connect(io, &mut c, s, bound, tag);
        wait(io, &mut c, tag);
        clients.push(s);
    }
    settle(io, &mut c);
    for tag in 4..7 {
        accept(io, &mut c, l, tag);
        wait(io, &mut c, tag);
    }
    for (at, &client) in clients.iter().enumerate() {
        send(io, &mut c, client, &[b'a' + at as u8], 10 + at as u64);
        wait(io, &mut c, 10 + at as u64);
    }
    settle(io, &mut c);
    for at in 0..3 {
        let server = c.accepted[at];
        recv(io, &mut c, server, 8, 20 + at as u64);
        wait(io, &mut c, 20 + at as u64);
    }
    finish(io, c, env, base)
}

fn shutdown_read_then_peer_sends<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, _, client, server) = v4(io, env);
    shutdown(io, &mut c, server, Shutdown::Read);
    recv(io, &mut c, server, 16, 1);
    wait(io, &mut c, 1);
    send(io, &mut c, client, b"after", 2);
    wait(io, &mut c, 2);
    settle(io, &mut c);
    recv(io, &mut c, server, 16, 3);
    wait(io, &mut c, 3);
    recv(io, &mut c, server, 16, 4);
    wait(io, &mut c, 4);
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

/// The client connects and closes before the server accepts: the accepted
/// socket reads end of stream.
fn peer_closed_before_accept<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let (l, bound) = listener_v4(io, &mut c);
    let s = socket(io, &mut c, AddressFamily::Ipv4);
    connect(io, &mut c, s, bound, 1);
    wait(io, &mut c, 1);
    send(io, &mut c, s, b"bye", 2);
    wait(io, &mut c, 2);
    close(io, &mut c, s, 3);
    wait(io, &mut c, 3);
    settle(io, &mut c);
    accept(io, &mut c, l, 4);
    wait(io, &mut c, 4);
    let server = c.accepted.last().copied().unwrap_or(Fd::from_raw(-1));
    recv(io, &mut c, server, 8, 5);
    wait(io, &mut c, 5);
    recv(io, &mut c, server, 8, 6);
    wait(io, &mut c, 6);
    finish(io, c, env, base)
}

/// A backlog of one, two clients, no accept yet.
fn backlog_full<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let l = socket(io, &mut c, AddressFamily::Ipv4);
    let bound = listen(io, &mut c, l, env.any_v4(), 1).unwrap();
    let a = socket(io, &mut c, AddressFamily::Ipv4);
    connect(io, &mut c, a, bound, 1);
    wait(io, &mut c, 1);
    let b = socket(io, &mut c, AddressFamily::Ipv4);
    connect(io, &mut c, b, bound, 2);
    wait(io, &mut c, 2);
    finish(io, c, env, base)
}

fn send_after_peer_shutdown_read<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, _, client, server) = v4(io, env);
    shutdown(io, &mut c, server, Shutdown::Read);
    send(io, &mut c, client, b"still", 1);
    wait(io, &mut c, 1);
    settle(io, &mut c);
    recv(io, &mut c, server, 16, 2);
    wait(io, &mut c, 2);
    finish(io, c, env, base)
}

/// A backlog of 0 holds one connection: the second client's SYN is
/// dropped and its connect waits (for a retransmission) instead of failing.
fn backlog_overflow<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let l = socket(io, &mut c, AddressFamily::Ipv4);
    let bound = listen(io, &mut c, l, env.any_v4(), 0).unwrap();
    let a = socket(io, &mut c, AddressFamily::Ipv4);
    connect(io, &mut c, a, bound, 1);
    wait(io, &mut c, 1);
    let b = socket(io, &mut c, AddressFamily::Ipv4);
    connect(io, &mut c, b, bound, 2);
    settle(io, &mut c);
    c.note(format!("second connected: {}, in_flight {}", c.seen(2), io.in_flight()));
    accept(io, &mut c, l, 3);
    wait(io, &mut c, 3);
    finish(io, c, env, base)
}

fn listen_after_refused<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, s) = refused_socket(io, env);
    listen(io, &mut c, s, env.any_v4(), 8);
    finish(io, c, env, base)
}

/// A listener whose read half was shut stops listening; then it listens
/// again, on any port and on its old one.
fn listen_after_listener_shutdown<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let (l, bound) = listener_v4(io, &mut c);
    shutdown(io, &mut c, l, Shutdown::Read);
    listen(io, &mut c, l, bound, 8);
    listen(io, &mut c, l, env.any_v4(), 8);
    let s = socket(io, &mut c, AddressFamily::Ipv4);
    listen(io, &mut c, s, bound, 8);
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

fn listen_after_shutdown_unconnected<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let s = socket(io, &mut c, AddressFamily::Ipv4);
    shutdown(io, &mut c, s, Shutdown::Read);
    let bound = listen(io, &mut c, s, env.any_v4(), 8);
    let t = socket(io, &mut c, AddressFamily::Ipv4);
    if let Some(bound) = bound {
        connect(io, &mut c, t, bound, 1);
        wait(io, &mut c, 1);
        accept(io, &mut c, s, 2);
        wait(io, &mut c, 2);
    }
    finish(io, c, env, base)
}
