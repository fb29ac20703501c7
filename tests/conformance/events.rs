//! User-event scenarios: listen, trigger and close in every order.

use twinio::*;

use crate::harness::*;
use crate::ops::*;

pub fn table() -> Vec<Scenario> {
    vec![
        scenario!(listen_then_trigger),
        scenario!(trigger_then_listen),
        scenario!(triggers_coalesce_before_listen),
        scenario!(triggers_coalesce_before_callback),
        scenario!(event_listen_twice),
        scenario!(listen_again_after_fired_before_callback),
        scenario!(relisten_from_callback),
        scenario!(trigger_from_timeout),
        scenario!(close_with_armed_listener),
        scenario!(close_then_trigger_listen_close),
        scenario!(stale_id_after_reopen),
        scenario!(two_events_independent),
        scenario!(cancel_armed_listener),
        scenario!(trigger_without_listener_is_kept),
        scenario!(close_in_own_callback),
    ]
}

fn event<I: Io<Context = Ctx>>(io: &mut I, c: &mut Ctx) -> EventId {
    let event = io.open_event().expect("open_event");
    c.track_event(event);
    event
}

fn trigger<I: Io<Context = Ctx>>(io: &mut I, c: &mut Ctx, event: EventId) {
    let result = io.event_trigger(event);
    c.note(format!("trigger {result:?}"));
}

fn listen_then_trigger<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let e = event(io, &mut c);
    listen_event(io, &mut c, e, 1);
    ticks(io, &mut c, 2);
    c.note(format!("before trigger: in_flight {}", io.in_flight()));
    trigger(io, &mut c, e);
    wait(io, &mut c, 1);
    finish(io, c, env, base)
}

fn trigger_then_listen<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let e = event(io, &mut c);
    trigger(io, &mut c, e);
    ticks(io, &mut c, 2);
    listen_event(io, &mut c, e, 1);
    wait(io, &mut c, 1);
    finish(io, c, env, base)
}

fn triggers_coalesce_before_listen<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let e = event(io, &mut c);
    trigger(io, &mut c, e);
    trigger(io, &mut c, e);
    listen_event(io, &mut c, e, 1);
    wait(io, &mut c, 1);
    listen_event(io, &mut c, e, 2);
    ticks(io, &mut c, 3);
    c.note(format!("second listener armed: in_flight {}", io.in_flight()));
    finish(io, c, env, base)
}

fn triggers_coalesce_before_callback<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let e = event(io, &mut c);
    listen_event(io, &mut c, e, 1);
    trigger(io, &mut c, e);
    trigger(io, &mut c, e);
    wait(io, &mut c, 1);
    listen_event(io, &mut c, e, 2);
    ticks(io, &mut c, 3);
    c.note(format!("in_flight {}", io.in_flight()));
    finish(io, c, env, base)
}

fn event_listen_twice<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let e = event(io, &mut c);
    listen_event(io, &mut c, e, 1);
    listen_event(io, &mut c, e, 2);
    trigger(io, &mut c, e);
    wait(io, &mut c, 1);
    finish(io, c, env, base)
}

/// The docs allow one listener per event: a second one while the first
/// has fired but its callback has not run yet.
fn listen_again_after_fired_before_callback<I: Io<Context = Ctx>>(
    io: &mut I,
    env: &Env,
) -> Outcome {
    let (mut c, base) = begin(io, env);
    let e = event(io, &mut c);
    trigger(io, &mut c, e);
    listen_event(io, &mut c, e, 1);
    listen_event(io, &mut c, e, 2);
    trigger(io, &mut c, e);
    wait(io, &mut c, 1);
    ticks(io, &mut c, 3);
    c.note(format!("in_flight {}", io.in_flight()));
    finish(io, c, env, base)
}

fn relisten_from_callback<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let e = event(io, &mut c);
    c.on(1, Act::Listen(e, 2));
    c.on(1, Act::Trigger(e));
    listen_event(io, &mut c, e, 1);
    trigger(io, &mut c, e);
    wait(io, &mut c, 1);
    wait(io, &mut c, 2);
    finish(io, c, env, base)
}

fn trigger_from_timeout<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let e = event(io, &mut c);
    c.on(1, Act::Trigger(e));
    listen_event(io, &mut c, e, 2);
    timeout(io, &mut c, 1_000_000, 1);
    wait(io, &mut c, 2);
    finish(io, c, env, base)
}

fn close_with_armed_listener<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let e = io.open_event().unwrap();
    listen_event(io, &mut c, e, 1);
    ticks(io, &mut c, 2);
    c.note(format!("close {:?}", io.close_event(e)));
    wait(io, &mut c, 1);
    finish(io, c, env, base)
}

fn close_then_trigger_listen_close<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let e = io.open_event().unwrap();
    c.note(format!("close {:?}", io.close_event(e)));
    trigger(io, &mut c, e);
    listen_event(io, &mut c, e, 1);
    c.note(format!("close {:?}", io.close_event(e)));
    finish(io, c, env, base)
}

fn stale_id_after_reopen<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let old = io.open_event().unwrap();
    io.close_event(old).unwrap();
    let new = event(io, &mut c);
    trigger(io, &mut c, old);
    listen_event(io, &mut c, old, 1);
    listen_event(io, &mut c, new, 2);
    trigger(io, &mut c, new);
    wait(io, &mut c, 2);
    finish(io, c, env, base)
}

fn two_events_independent<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let a = event(io, &mut c);
    let b = event(io, &mut c);
    listen_event(io, &mut c, a, 1);
    listen_event(io, &mut c, b, 2);
    trigger(io, &mut c, b);
    wait(io, &mut c, 2);
    c.note(format!("in_flight {}", io.in_flight()));
    trigger(io, &mut c, a);
    wait(io, &mut c, 1);
    finish(io, c, env, base)
}

fn cancel_armed_listener<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let e = event(io, &mut c);
    listen_event(io, &mut c, e, 1);
    c.note(format!("cancel {:?}", io.cancel(c.id(1).unwrap())));
    wait(io, &mut c, 1);
    trigger(io, &mut c, e);
    listen_event(io, &mut c, e, 2);
    wait(io, &mut c, 2);
    finish(io, c, env, base)
}

fn trigger_without_listener_is_kept<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let e = event(io, &mut c);
    trigger(io, &mut c, e);
    settle(io, &mut c);
    listen_event(io, &mut c, e, 1);
    wait(io, &mut c, 1);
    finish(io, c, env, base)
}

fn close_in_own_callback<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let e = io.open_event().unwrap();
    c.on(1, Act::CloseEvent(e));
    c.on(1, Act::Trigger(e));
    listen_event(io, &mut c, e, 1);
    trigger(io, &mut c, e);
    wait(io, &mut c, 1);
    finish(io, c, env, base)
}
