//! Connect, listen and accept scenarios, over loopback (IPv4 and IPv6).

use std::net::SocketAddr;

use twinio::*;

use crate::harness::*;
use crate::ops::*;

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
        scenario!(three_clients_accepted_in_order),
        scenario!(peer_closed_before_accept),
        scenario!(backlog_full),
        scenario!(backlog_overflow),
        scenario!(listen_after_refused),
    ]
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
    let s = client_v4(io, &mut c, dead, 1);
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
    client_v4(io, &mut c, SocketAddr::new(env.v4, port), 1);
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
    let a = client_v4(io, &mut c, bound, 1);
    client_v4(io, &mut c, bound, 2);
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

fn three_clients_accepted_in_order<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let (l, bound) = listener_v4(io, &mut c);
    let mut clients = Vec::new();
    for tag in 1..4 {
        let s = client_v4(io, &mut c, bound, tag);
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

/// The client connects and closes before the server accepts: the accepted
/// socket reads end of stream.
fn peer_closed_before_accept<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let (l, bound) = listener_v4(io, &mut c);
    let s = client_v4(io, &mut c, bound, 1);
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
    client_v4(io, &mut c, bound, 1);
    client_v4(io, &mut c, bound, 2);
    finish(io, c, env, base)
}

/// A backlog of 0 holds one connection: the second client's SYN is
/// dropped and its connect waits (for a retransmission) instead of failing.
fn backlog_overflow<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let l = socket(io, &mut c, AddressFamily::Ipv4);
    let bound = listen(io, &mut c, l, env.any_v4(), 0).unwrap();
    client_v4(io, &mut c, bound, 1);
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
