//! Shutdown of each half on connected, unconnected and listening
//! sockets, and close with operations pending.

use twinio::*;

use crate::harness::*;
use crate::ops::*;

pub fn table() -> Vec<Scenario> {
    vec![
        scenario!(send_after_own_shutdown_write),
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
        scenario!(shutdown_read_then_peer_sends),
        scenario!(listen_after_listener_shutdown),
        scenario!(listen_after_shutdown_unconnected),
        scenario!(send_after_peer_shutdown_read),
    ]
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
    client_v4(io, &mut c, bound, 1);
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
    let s = client_v4(io, &mut c, bound, 1);
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
