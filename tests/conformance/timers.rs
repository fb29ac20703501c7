//! Timer scenarios: deadline order, ties, zero timeouts, reset.

use twinio::*;

use crate::harness::*;
use crate::ops::*;

pub fn table() -> Vec<Scenario> {
    vec![
        scenario!(deadline_order),
        scenario!(ties_in_submission_order),
        scenario!(zero_timeouts_in_order),
        scenario!(zero_before_later),
        scenario!(zero_from_callback_runs_next_pass),
        scenario!(chain_from_callbacks),
        scenario!(reset_later),
        scenario!(reset_earlier),
        scenario!(reset_to_zero),
        scenario!(reset_twice),
        scenario!(reset_fired),
        scenario!(reset_canceled),
        scenario!(reset_not_a_timeout),
        scenario!(reset_from_callback),
        scenario!(reset_unknown_id),
        scenario!(long_timeout_outlives_run_for),
        scenario!(in_flight_counts_timers),
        scenario!(timeout_max_then_cancel),
        scenario!(reset_to_max_then_cancel),
    ]
}

const MS: u64 = 1_000_000;
/// The step between the deadlines of scenarios whose outcome depends on
/// which timer is due in a pass: far more than a loaded machine's delay.
const STEP: u64 = 100 * MS;

fn deadline_order<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    for (ns, tag) in [(3 * MS, 3), (MS, 1), (2 * MS, 2)] {
        timeout(io, &mut c, ns, tag);
    }
    drain(io, &mut c);
    finish(io, c, env, base)
}

fn ties_in_submission_order<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    for tag in [5, 1, 4, 2, 3] {
        timeout(io, &mut c, 2 * MS, tag);
    }
    drain(io, &mut c);
    finish(io, c, env, base)
}

fn zero_timeouts_in_order<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    for tag in 1..5 {
        timeout(io, &mut c, 0, tag);
    }
    io.tick(&mut c).unwrap();
    c.note(format!("after one tick: in_flight {}", io.in_flight()));
    drain(io, &mut c);
    finish(io, c, env, base)
}

fn zero_before_later<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    timeout(io, &mut c, MS, 2);
    timeout(io, &mut c, 0, 1);
    drain(io, &mut c);
    finish(io, c, env, base)
}

fn zero_from_callback_runs_next_pass<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    c.on(1, Act::Timeout(0, 3));
    timeout(io, &mut c, 0, 1);
    timeout(io, &mut c, 0, 2);
    io.tick(&mut c).unwrap();
    c.note(format!("after one tick: in_flight {}", io.in_flight()));
    io.tick(&mut c).unwrap();
    c.note(format!("after two ticks: in_flight {}", io.in_flight()));
    finish(io, c, env, base)
}

fn chain_from_callbacks<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    c.on(1, Act::Timeout(MS, 2));
    c.on(2, Act::Timeout(0, 3));
    c.on(3, Act::Timeout(MS, 4));
    timeout(io, &mut c, MS, 1);
    drain(io, &mut c);
    finish(io, c, env, base)
}

fn two_timers<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> (Ctx, i32) {
    let (mut c, base) = begin(io, env);
    timeout(io, &mut c, 2 * STEP, 1);
    timeout(io, &mut c, 4 * STEP, 2);
    (c, base)
}

fn reset<I: Io<Context = Ctx>>(io: &mut I, c: &mut Ctx, tag: u64, ns: u64) {
    let result = match c.id(tag) {
        Some(id) => io.reset_timeout(id, ns),
        None => Err(CancelError::NotRunning),
    };
    c.note(format!("reset t{tag} {ns}: {result:?}"));
}

fn reset_later<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = two_timers(io, env);
    reset(io, &mut c, 1, 8 * STEP);
    drain(io, &mut c);
    finish(io, c, env, base)
}

fn reset_earlier<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = two_timers(io, env);
    reset(io, &mut c, 2, STEP);
    drain(io, &mut c);
    finish(io, c, env, base)
}

fn reset_to_zero<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = two_timers(io, env);
    reset(io, &mut c, 2, 0);
    io.tick(&mut c).unwrap();
    c.note(format!("after one tick: in_flight {}", io.in_flight()));
    io.tick(&mut c).unwrap();
    drain(io, &mut c);
    finish(io, c, env, base)
}

fn reset_twice<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = two_timers(io, env);
    reset(io, &mut c, 1, 8 * STEP);
    reset(io, &mut c, 1, 3 * STEP);
    drain(io, &mut c);
    finish(io, c, env, base)
}

fn reset_fired<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = two_timers(io, env);
    drain(io, &mut c);
    reset(io, &mut c, 1, MS);
    finish(io, c, env, base)
}

fn reset_canceled<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = two_timers(io, env);
    let id = c.id(1).unwrap();
    c.note(format!("cancel: {:?}", io.cancel(id)));
    reset(io, &mut c, 1, MS);
    drain(io, &mut c);
    finish(io, c, env, base)
}

fn reset_not_a_timeout<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    let event = io.open_event().unwrap();
    c.track_event(event);
    listen_event(io, &mut c, event, 1);
    reset(io, &mut c, 1, MS);
    io.event_trigger(event).unwrap();
    drain(io, &mut c);
    finish(io, c, env, base)
}

fn reset_from_callback<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    timeout(io, &mut c, MS, 1);
    timeout(io, &mut c, 2 * MS, 2);
    c.on(1, Act::Reset(2, 5 * MS));
    timeout(io, &mut c, 4 * MS, 3);
    drain(io, &mut c);
    finish(io, c, env, base)
}

fn reset_unknown_id<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    timeout(io, &mut c, 0, 1);
    drain(io, &mut c);
    // The slot is free again; its old id is stale.
    reset(io, &mut c, 1, 0);
    finish(io, c, env, base)
}

fn long_timeout_outlives_run_for<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    timeout(io, &mut c, 3_600_000 * MS, 1);
    io.run_for_ns(&mut c, 2 * MS).unwrap();
    c.note(format!("in_flight {}", io.in_flight()));
    finish(io, c, env, base)
}

fn in_flight_counts_timers<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    c.on(1, Act::InFlight);
    c.on(2, Act::InFlight);
    timeout(io, &mut c, MS, 1);
    timeout(io, &mut c, 2 * MS, 2);
    c.note(format!("in_flight {}", io.in_flight()));
    drain(io, &mut c);
    finish(io, c, env, base)
}

fn timeout_max_then_cancel<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = begin(io, env);
    timeout(io, &mut c, u64::MAX, 1);
    timeout(io, &mut c, MS, 2);
    cancel_the_far_timer(io, &mut c);
    finish(io, c, env, base)
}

fn reset_to_max_then_cancel<I: Io<Context = Ctx>>(io: &mut I, env: &Env) -> Outcome {
    let (mut c, base) = two_timers(io, env);
    reset(io, &mut c, 1, u64::MAX);
    cancel_the_far_timer(io, &mut c);
    finish(io, c, env, base)
}

/// Waits for timer 2, then cancels timer 1 (armed at the end of time),
/// noting what is in flight before and what the cancel returned.
fn cancel_the_far_timer<I: Io<Context = Ctx>>(io: &mut I, c: &mut Ctx) {
    wait(io, c, 2);
    c.note(format!("in_flight {}", io.in_flight()));
    let id = c.id(1).unwrap();
    c.note(format!("cancel {:?}", io.cancel(id)));
    drain(io, c);
}
