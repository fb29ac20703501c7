//! Cancel and stop in every state of an operation, re-entrancy, and slot
//! exhaustion.

use std::path::Path;

use twinio::*;

use crate::harness::*;
use crate::ops::*;

pub fn table() -> Vec<Scenario> {
    vec![
        scenario!(cancel_pending_timeout),
        scenario!(cancel_twice),
        scenario!(cancel_completed),
        scenario!(cancel_parked_recv_keeps_data),
        scenario!(cancel_parked_accept),
        scenario!(cancel_queued_write_writes_nothing),
        scenario!(cancel_queued_fsync),
        scenario!(cancel_queued_close),
        scenario!(cancel_from_another_callback),
        scenario!(cancel_own_op_in_callback),
        scenario!(cancel_all_mixed),
        scenario!(cancel_all_nothing),
        scenario!(stop_in_callback),
        scenario!(stop_before_run),
        scenario!(stop_ignored_by_tick),
        scenario!(reentry_refused),
        scenario!(slots_exhausted_timeouts),
        scenario!(slots_exhausted_buffer_returned),
        scenario!(slots_freed_in_callback_reused),
        scenario!(run_until_done_with_nothing),
        scenario!(run_once_with_nothing),
        scenario!(bounded_run_with_a_recv_nobody_answers),
        scenario!(cancel_parked_send),
        scenario!(close_with_parked_send),
        scenario!(run_for_zero),
        scenario!(flush_wait_with_nothing),
        scenario!(run_once_runs_the_first_due),
        scenario!(negative_descriptor_everywhere),
        scenario!(unknown_descriptor_everywhere),
    ]
}

const MS: u64 = 1_000_000;
/// A deadline no scenario waits for: its timer is canceled at the end.
const LATER: u64 = 60_000 * MS;

fn cancel<I: Io<Context = Ctx>>(io: &mut I, c: &mut Ctx, tag: u64) {
    let result = match c.id(tag) {
        Some(id) => io.cancel(id),
        None => Err(CancelError::NotRunning),
    };
    c.note(format!("cancel t{tag}: {result:?}"));
}

fn cancel_pending_timeout<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    timeout(io, &mut c, 10 * MS, 1);
    timeout(io, &mut c, MS, 2);
    cancel(io, &mut c, 1);
    drain(io, &mut c);
    finish(io, c, env, base)
}

fn cancel_twice<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    timeout(io, &mut c, 10 * MS, 1);
    cancel(io, &mut c, 1);
    cancel(io, &mut c, 1);
    drain(io, &mut c);
    cancel(io, &mut c, 1);
    finish(io, c, env, base)
}

fn cancel_completed<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    timeout(io, &mut c, 0, 1);
    drain(io, &mut c);
    cancel(io, &mut c, 1);
    finish(io, c, env, base)
}

fn cancel_parked_recv_keeps_data<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let (_, client, server) = pair(io, &mut c, env.any_v4());
    recv(io, &mut c, server, 8, 1);
    ticks(io, &mut c, 2);
    cancel(io, &mut c, 1);
    wait(io, &mut c, 1);
    send(io, &mut c, client, b"kept", 2);
    wait(io, &mut c, 2);
    recv(io, &mut c, server, 8, 3);
    wait(io, &mut c, 3);
    finish(io, c, env, base)
}

/// A run that can never finish on its own is bounded by its deadline on
/// both backends; the op is then still in flight, and completes once data
/// arrives.
fn bounded_run_with_a_recv_nobody_answers<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let (_, client, server) = pair(io, &mut c, env.any_v4());
    recv(io, &mut c, server, 8, 1);
    let result = io.run_until_done_within(&mut c, 20_000_000);
    c.note(format!("run_until_done_within {result:?}, in_flight {}", io.in_flight()));
    let result = io.run_once_within(&mut c, 1_000_000);
    c.note(format!("run_once_within {result:?}"));
    send(io, &mut c, client, b"late", 2);
    let result = io.run_until_done_within(&mut c, 5_000_000_000);
    c.note(format!("run_until_done_within {result:?}"));
    finish(io, c, env, base)
}

fn cancel_parked_accept<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let (l, bound) = listener(io, &mut c, env.any_v4());
    accept(io, &mut c, l, 1);
    ticks(io, &mut c, 2);
    cancel(io, &mut c, 1);
    wait(io, &mut c, 1);
    client_v4(io, &mut c, bound, 2);
    accept(io, &mut c, l, 3);
    wait(io, &mut c, 3);
    finish(io, c, env, base)
}

fn file<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> (Ctx, i32, Fd) {
    let (mut c, base) = begin(io, env);
    let d = open_dir(io, &mut c, &env.dir).or_bad();
    let f = open_file(io, &mut c, d, Path::new("f"), 8192, FilePurpose::Format, DirectIo::Disabled);
    (c, base, f.unwrap())
}

fn cancel_queued_write_writes_nothing<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, f) = file(io, env);
    write(io, &mut c, f, filled(4096, b'x'), 0..4096, 0, 1);
    cancel(io, &mut c, 1);
    drain(io, &mut c);
    read(io, &mut c, f, Buffer::new(4096).unwrap(), 0..4096, 0, 2);
    wait(io, &mut c, 2);
    finish(io, c, env, base)
}

fn cancel_queued_fsync<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, f) = file(io, env);
    fsync(io, &mut c, f, FsyncMode::Full, 1);
    cancel(io, &mut c, 1);
    drain(io, &mut c);
    finish(io, c, env, base)
}

/// A close withdrawn before it ran: the descriptor stays open and usable.
fn cancel_queued_close<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, f) = file(io, env);
    let result = io.close(f, 1, |ctx: &mut Ctx, _, done| {
        ctx.note(format!("t1 close {:?}", done.result));
        ctx.note_seen(1);
    });
    c.remember(1, result);
    cancel(io, &mut c, 1);
    drain(io, &mut c);
    read(io, &mut c, f, Buffer::new(8).unwrap(), 0..8, 0, 2);
    wait(io, &mut c, 2);
    finish(io, c, env, base)
}

fn cancel_from_another_callback<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    timeout(io, &mut c, MS, 1);
    timeout(io, &mut c, 5 * MS, 2);
    c.on(1, Act::Cancel(2));
    c.on(1, Act::Cancel(1));
    drain(io, &mut c);
    finish(io, c, env, base)
}

fn cancel_own_op_in_callback<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    timeout(io, &mut c, 0, 1);
    timeout(io, &mut c, 0, 2);
    // Tag 2 is already due in the same pass when 1 cancels it.
    c.on(1, Act::Cancel(2));
    drain(io, &mut c);
    finish(io, c, env, base)
}

fn cancel_all_mixed<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let (_, _, server) = pair(io, &mut c, env.any_v4());
    let e = io.open_event().unwrap();
    c.track_event(e);
    recv(io, &mut c, server, 8, 1);
    timeout(io, &mut c, 60_000 * MS, 2);
    listen_event(io, &mut c, e, 3);
    timeout(io, &mut c, 0, 4);
    ticks(io, &mut c, 1);
    c.note(format!("cancel_all {}", io.cancel_all()));
    c.note(format!("cancel_all again {}", io.cancel_all()));
    drain(io, &mut c);
    finish(io, c, env, base)
}

fn cancel_all_nothing<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    c.note(format!("cancel_all {}", io.cancel_all()));
    finish(io, c, env, base)
}

fn stop_in_callback<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    c.on(1, Act::Stop);
    c.on(3, Act::Stop);
    timeout(io, &mut c, MS, 1);
    timeout(io, &mut c, LATER, 2);
    io.run_until_done(&mut c).unwrap();
    c.note(format!("returned: in_flight {}", io.in_flight()));
    timeout(io, &mut c, MS, 3);
    io.run_until_done(&mut c).unwrap();
    c.note(format!("returned: in_flight {}", io.in_flight()));
    cancel(io, &mut c, 2);
    drain(io, &mut c);
    finish(io, c, env, base)
}

fn stop_before_run<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    timeout(io, &mut c, 0, 1);
    timeout(io, &mut c, LATER, 2);
    io.stop();
    io.run_until_done(&mut c).unwrap();
    c.note(format!("returned: in_flight {}", io.in_flight()));
    cancel(io, &mut c, 2);
    drain(io, &mut c);
    finish(io, c, env, base)
}

fn stop_ignored_by_tick<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    c.on(1, Act::Stop);
    timeout(io, &mut c, 0, 1);
    timeout(io, &mut c, 0, 2);
    io.tick(&mut c).unwrap();
    io.tick(&mut c).unwrap();
    c.note(format!("after ticks: in_flight {}", io.in_flight()));
    // The stop asked for during the tick ends this run after its first
    // pass; were it ignored, the run would wait for t4 (2 s).
    timeout(io, &mut c, MS, 3);
    timeout(io, &mut c, 2_000 * MS, 4);
    io.run_until_done(&mut c).unwrap();
    c.note(format!("returned: in_flight {}", io.in_flight()));
    cancel(io, &mut c, 4);
    drain(io, &mut c);
    finish(io, c, env, base)
}

fn reentry_refused<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    c.on(1, Act::Reenter);
    timeout(io, &mut c, 0, 1);
    drain(io, &mut c);
    finish(io, c, env, base)
}

fn slots_exhausted_timeouts<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    for tag in 1..=64 {
        timeout(io, &mut c, MS, tag);
    }
    timeout(io, &mut c, MS, 65);
    let e = io.open_event().unwrap();
    c.track_event(e);
    listen_event(io, &mut c, e, 66);
    c.note(format!("in_flight {}", io.in_flight()));
    c.note(format!("cancel_all {}", io.cancel_all()));
    drain(io, &mut c);
    timeout(io, &mut c, 0, 67);
    drain(io, &mut c);
    finish(io, c, env, base)
}

fn slots_exhausted_buffer_returned<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base, f) = file(io, env);
    for tag in 1..=64 {
        timeout(io, &mut c, 10 * MS, tag);
    }
    let result = io.write(f, Buffer::from_slice(b"mine").unwrap(), .., 0, 65, |_, _, _| {});
    c.note(format!("write: {:?}", result.map(drop).map_err(|r| (r.error, r.returned.to_vec()))));
    let result = io.fsync(f, FsyncMode::Full, 66, |_, _, _| {});
    c.note(format!("fsync: {:?}", result.map(drop)));
    io.cancel_all();
    drain(io, &mut c);
    finish(io, c, env, base)
}

fn slots_freed_in_callback_reused<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    for tag in 1..=64 {
        timeout(io, &mut c, MS, tag);
    }
    // Each callback's slot is free while it runs: it can submit again. (The
    // last one submits: its deadline is past every other one's.)
    c.on(64, Act::Timeout(0, 100));
    c.on(100, Act::InFlight);
    drain(io, &mut c);
    finish(io, c, env, base)
}

fn run_until_done_with_nothing<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let result = io.run_until_done(&mut c);
    c.note(format!("{result:?}"));
    finish(io, c, env, base)
}

fn run_once_with_nothing<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let result = io.run_once(&mut c);
    c.note(format!("{result:?}"));
    timeout(io, &mut c, 0, 1);
    let result = io.run_once(&mut c);
    c.note(format!("{result:?}"));
    finish(io, c, env, base)
}

/// Sends 1 MiB at a time, tagged 100, to a peer that never reads, until
/// one send waits for room (how many that takes is the kernel's buffer
/// size, or the twin's window: not recorded). True if one waits.
fn park_a_send<I: Io<Context = Ctx>>(io: &mut I, c: &mut Ctx, client: Fd) -> bool {
    let chunk = Buffer::new(1 << 20).unwrap();
    c.quiet = true;
    let mut parked = false;
    for _ in 0..100 {
        let before = c.seen_count(100);
        send_buffer(io, c, client, chunk.clone(), 100);
        settle(io, c);
        if c.seen_count(100) == before {
            parked = true;
            break;
        }
    }
    c.quiet = false;
    c.sent = 0;
    parked
}

fn cancel_parked_send<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let (_, client, _) = pair(io, &mut c, env.any_v4());
    let parked = park_a_send(io, &mut c, client);
    c.note(format!("a send waits: {parked}"));
    if parked {
        let before = c.seen_count(100);
        cancel(io, &mut c, 100);
        for _ in 0..100 {
            if c.seen_count(100) > before {
                break;
            }
            io.run_for_ns(&mut c, 1_000_000).unwrap();
        }
    }
    finish(io, c, env, base)
}

fn close_with_parked_send<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let (_, client, _) = pair(io, &mut c, env.any_v4());
    let parked = park_a_send(io, &mut c, client);
    c.note(format!("a send waits: {parked}"));
    close(io, &mut c, client, 1);
    wait(io, &mut c, 1);
    finish(io, c, env, base)
}

fn run_for_zero<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    timeout(io, &mut c, 0, 1);
    timeout(io, &mut c, LATER, 2);
    io.run_for_ns(&mut c, 0).unwrap();
    c.note(format!("after run_for_ns(0): in_flight {}", io.in_flight()));
    cancel(io, &mut c, 2);
    drain(io, &mut c);
    finish(io, c, env, base)
}

fn flush_wait_with_nothing<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let result = io.flush(&mut c, true);
    c.note(format!("flush(wait): {result:?}"));
    finish(io, c, env, base)
}

fn run_once_runs_the_first_due<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    timeout(io, &mut c, 2 * MS, 1);
    timeout(io, &mut c, LATER, 2);
    let result = io.run_once(&mut c);
    c.note(format!("run_once {result:?}: in_flight {}", io.in_flight()));
    cancel(io, &mut c, 2);
    drain(io, &mut c);
    finish(io, c, env, base)
}

/// Every descriptor-taking call with `-1`: refused or failed, typed.
fn negative_descriptor_everywhere<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    everywhere(io, env, Fd::from_raw(-1))
}

/// Every descriptor-taking call with a number nothing has opened.
fn unknown_descriptor_everywhere<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    everywhere(io, env, Fd::from_raw(100_000))
}

fn everywhere<I: Io<Context = Ctx>>(io: &mut I, env: &Env, fd: Fd) -> Outcome {
    let (mut c, base) = begin(io, env);
    let address = env.any_v4();
    accept(io, &mut c, fd, 1);
    connect(io, &mut c, fd, address, 2);
    recv(io, &mut c, fd, 8, 3);
    send(io, &mut c, fd, b"x", 4);
    read(io, &mut c, fd, Buffer::new(8).unwrap(), 0..8, 0, 5);
    write(io, &mut c, fd, Buffer::new(8).unwrap(), 0..8, 0, 6);
    fsync(io, &mut c, fd, FsyncMode::Full, 7);
    let result = io.close(fd, 8, |ctx: &mut Ctx, _, done| {
        ctx.note(format!("t8 close {:?}", done.result));
        ctx.note_seen(8);
    });
    c.remember(8, result);
    drain(io, &mut c);
    c.note(format!("listen {:?}", io.listen(fd, address, 1)));
    c.note(format!("shutdown {:?}", io.shutdown(fd, Shutdown::Both)));
    let opened = io.open_data_file(
        fd,
        std::path::Path::new("f"),
        4096,
        FilePurpose::Format,
        DirectIo::Disabled,
    );
    c.note(format!("open_data_file {:?}", opened.map(drop)));
    finish(io, c, env, base)
}
