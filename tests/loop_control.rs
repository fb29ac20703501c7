//! Loop control on both backends: cancel (before the first flush, racing
//! readiness, from a callback, stale ids, cancel_all), reset_timeout, the
//! run modes and stop, and re-entering the loop from a callback.

mod support;

use support::typed::*;
use support::{Backend, both_backends};
use twinio::*;

fn running_the_loop_from_a_callback_is_refused<B: Backend<Ctx>>() {
    let _g = B::shared();
    let mut io = B::io(16);
    let mut ctx = Ctx::default();
    io.timeout(0, 1, on_reentry_probe).unwrap();
    wait(&mut io, &mut ctx, 1);
    assert_eq!(ctx.reentry, [Err(RunError::Reentrant); 6]);
    // The loop is unharmed: what the callback submitted runs.
    assert_eq!(wait(&mut io, &mut ctx, 2).done_timeout(), Ok(()));
    io.run_for_ns(&mut ctx, 1).unwrap();
    assert_eq!(io.in_flight(), 0);
}

fn cancel_basics<B: Backend<Ctx>>() {
    let _g = B::shared();
    let mut io = B::io(16);
    let mut ctx = Ctx::default();

    // A timeout.
    let t = io.timeout(10_000_000_000, 1, on_timeout).unwrap();
    io.cancel(t).unwrap();
    assert_eq!(io.cancel(t), Err(CancelError::AlreadyCanceled));
    assert_eq!(io.reset_timeout(t, 0), Err(CancelError::AlreadyCanceled));
    assert_eq!(expect_done!(wait(&mut io, &mut ctx, 1), Timeout), Err(TimeoutError::Canceled));
    assert_eq!(io.cancel(t), Err(CancelError::NotRunning));

    // A recv parked on a socket, which hands its buffer back; the data sent
    // afterwards goes to the next recv.
    let (client, server) = connected(&mut io, &mut ctx);
    let r = io.recv(server, Buffer::from_slice(b"mine").unwrap(), .., 2, on_recv).unwrap();
    pass(&mut io, &mut ctx);
    assert_eq!(io.reset_timeout(r, 0), Err(CancelError::NotATimeout));
    io.cancel(r).unwrap();
    let (buf, result) = expect_done!(wait(&mut io, &mut ctx, 2), Recv, 2);
    assert_eq!((result, &buf[..]), (Err(RecvError::Canceled), &b"mine"[..]));
    assert_eq!(send(&mut io, &mut ctx, client, b"after"), Ok(5));
    assert_eq!(recv(&mut io, &mut ctx, server, 16).unwrap(), b"after");

    // A send canceled before any pass never runs its syscall: the peer
    // receives only what was sent after it.
    let s = io.send(client, Buffer::from_slice(b"never").unwrap(), .., 5, on_send).unwrap();
    io.cancel(s).unwrap();
    assert_eq!(expect_done!(wait(&mut io, &mut ctx, 5), Send, 2).1, Err(SendError::Canceled));
    assert_eq!(send(&mut io, &mut ctx, client, b"sent"), Ok(4));
    assert_eq!(recv(&mut io, &mut ctx, server, 16).unwrap(), b"sent");

    // An event listener.
    let event = io.open_event().unwrap();
    let l = io.event_listen(event, 3, on_event).unwrap();
    io.cancel(l).unwrap();
    assert_eq!(expect_done!(wait(&mut io, &mut ctx, 3), Event), Err(EventError::Canceled));
    // The event is free for a new listener, which gets the next trigger.
    io.event_listen(event, 4, on_event).unwrap();
    io.event_trigger(event).unwrap();
    assert_eq!(expect_done!(wait(&mut io, &mut ctx, 4), Event), Ok(()));

    // Exactly one callback per canceled operation.
    assert!(ctx.log.is_empty(), "stray completions: {:?}", ctx.log);
    io.close_event(event).unwrap();
    close(&mut io, &mut ctx, client).unwrap();
    close(&mut io, &mut ctx, server).unwrap();
    assert_eq!(io.in_flight(), 0);
}

fn reset_timeout_basics<B: Backend<Ctx>>() {
    let _g = B::shared();
    let mut io = B::io(16);
    let mut ctx = Ctx::default();

    // Earlier: a 10 s timer moved to 1 ms fires first, once.
    let late = io.timeout(10_000_000_000, 1, on_timeout).unwrap();
    let other = io.timeout(5_000_000_000, 2, on_timeout).unwrap();
    io.reset_timeout(late, 1_000_000).unwrap();
    assert_eq!(wait(&mut io, &mut ctx, 1).done_timeout(), Ok(()));
    assert!(!ctx.has(2));
    assert_eq!(io.reset_timeout(late, 0), Err(CancelError::NotRunning));

    // Later: a 1 ms timer moved to 10 s does not fire at its old deadline
    // (a 5 ms timer armed after it fires first).
    let soon = io.timeout(1_000_000, 3, on_timeout).unwrap();
    io.reset_timeout(soon, 10_000_000_000).unwrap();
    io.timeout(5_000_000, 4, on_timeout).unwrap();
    wait(&mut io, &mut ctx, 4);
    assert!(!ctx.has(3), "the old deadline fired");
    io.cancel(soon).unwrap();
    io.cancel(other).unwrap();
    assert_eq!(expect_done!(wait(&mut io, &mut ctx, 3), Timeout), Err(TimeoutError::Canceled));
    assert_eq!(expect_done!(wait(&mut io, &mut ctx, 2), Timeout), Err(TimeoutError::Canceled));
    assert!(ctx.log.is_empty(), "stray completions: {:?}", ctx.log);
    assert_eq!(io.in_flight(), 0);
}

fn run_modes<B: Backend<Ctx>>() {
    let _g = B::shared();
    let mut io = B::io(16);
    let mut ctx = Ctx::default();

    // With nothing in flight every run mode returns at once.
    io.run_once(&mut ctx).unwrap();
    io.run_until_done(&mut ctx).unwrap();
    io.tick(&mut ctx).unwrap();
    assert!(ctx.log.is_empty());

    // run_once: until at least one callback ran.
    io.timeout(0, 1, on_timeout).unwrap();
    io.timeout(10_000_000_000, 2, on_timeout).unwrap();
    io.run_once(&mut ctx).unwrap();
    assert_eq!(ctx.log.iter().map(|e| e.tag).collect::<Vec<_>>(), [1]);
    assert_eq!(io.in_flight(), 1);

    // cancel_all + run_until_done: everything delivered, once.
    assert_eq!(io.cancel_all(), 1);
    assert_eq!(io.cancel_all(), 0, "already canceled");
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(io.in_flight(), 0);
    assert_eq!(ctx.take(2).map(|e| e.done_timeout()), Some(Err(TimeoutError::Canceled)));

    // stop from a callback ends run_for_ns after that pass.
    ctx.log.clear();
    ctx.stop_tag = Some(3);
    io.timeout(1_000_000, 3, on_timeout).unwrap();
    io.timeout(5_000_000_000, 4, on_timeout).unwrap();
    io.run_for_ns(&mut ctx, 10_000_000_000).unwrap();
    assert!(ctx.has(3));
    assert!(!ctx.has(4), "run_for_ns went on past stop()");
    assert_eq!(io.cancel_all(), 1);
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(ctx.count(4), 1);

    // run_for_ns with nothing to do returns once the time has passed.
    let start = io.now_ns();
    io.run_for_ns(&mut ctx, 2_000_000).unwrap();
    assert!(io.now_ns() >= start + 2_000_000);
    assert_eq!(io.in_flight(), 0);
}

/// Cancel twice, after completion, and through an old id whose slot a new
/// operation took.
fn cancel_twice_and_after_completion<B: Backend<Ctx>>() {
    let _g = B::shared();
    let mut io = B::io(8);
    let mut ctx = Ctx::default();
    let id = io.timeout(1_000_000_000, 7, on_timeout).unwrap();
    io.cancel(id).unwrap();
    assert_eq!(io.cancel(id), Err(CancelError::AlreadyCanceled));
    assert_eq!(B::timeouts_armed(&io), 0);
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(expect_done!(ctx.take(7).expect("logged"), Timeout), Err(TimeoutError::Canceled));
    assert!(ctx.log.is_empty(), "stray completions: {:?}", ctx.log);
    assert_eq!(io.cancel(id), Err(CancelError::NotRunning));
    // A new op in the same slot is not reachable through the old id.
    let fresh = io.timeout(1_000_000_000, 8, on_timeout).unwrap();
    assert_eq!(fresh.slot(), id.slot());
    assert_eq!(io.cancel(id), Err(CancelError::NotRunning));
    assert_eq!(io.cancel_all(), 1);
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(ctx.count(8), 1);
}

fn reset_moves_a_timer_earlier_or_later_without_a_callback_for_the_old_deadline<B: Backend<Ctx>>() {
    let _g = B::shared();
    let mut io = B::io(8);
    let mut ctx = Ctx::default();
    let start = io.now_ns();
    let late = io.timeout(5_000_000_000, 1, on_timeout).unwrap();
    let early = io.timeout(1_000_000, 2, on_timeout).unwrap();
    io.timeout(2_000_000, 3, on_timeout).unwrap();
    io.reset_timeout(late, 500_000).unwrap(); // now first
    io.reset_timeout(early, 3_000_000).unwrap(); // now last
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(ctx.log.iter().map(|e| e.tag).collect::<Vec<_>>(), [1, 3, 2]);
    let elapsed = io.now_ns() - start;
    if B::VIRTUAL_TIME {
        assert_eq!(elapsed, 3_000_000, "virtual time jumped to the last deadline");
    } else {
        assert!(elapsed >= 3_000_000, "the last timer fired {elapsed} ns after the start");
    }
    assert_eq!(io.reset_timeout(late, 1), Err(CancelError::NotRunning));

    // Nothing but a timeout can be reset: a parked recv, an event listener
    // (armed or canceled).
    let (client, server) = connected(&mut io, &mut ctx);
    let recv = io.recv(server, buffer(4), .., 9, on_recv).unwrap();
    assert_eq!(io.reset_timeout(recv, 1), Err(CancelError::NotATimeout));
    io.cancel(recv).unwrap();
    let event = io.open_event().unwrap();
    let listener = io.event_listen(event, 10, on_event).unwrap();
    assert_eq!(io.reset_timeout(listener, 1), Err(CancelError::NotATimeout));
    io.cancel(listener).unwrap();
    assert_eq!(io.reset_timeout(listener, 1), Err(CancelError::NotATimeout));
    io.run_until_done(&mut ctx).unwrap();
    io.close_event(event).unwrap();
    close(&mut io, &mut ctx, client).unwrap();
    close(&mut io, &mut ctx, server).unwrap();
}

fn run_once_runs_at_least_one_callback_and_stop_ends_a_run<B: Backend<Ctx>>() {
    let _g = B::shared();
    let mut io = B::io(8);
    let mut ctx = Ctx::default();
    io.run_once(&mut ctx).unwrap(); // nothing in flight: returns at once
    io.timeout(1_000_000, 1, on_timeout).unwrap();
    io.timeout(60_000_000_000, 2, on_timeout).unwrap();
    io.run_once(&mut ctx).unwrap();
    assert_eq!(ctx.log.len(), 1);
    assert_eq!(io.in_flight(), 1);

    // `stop` from a callback ends a 60-second run after a millisecond.
    ctx.stop_tag = Some(3);
    io.timeout(1_000_000, 3, on_timeout).unwrap();
    let start = io.now_ns();
    io.run_for_ns(&mut ctx, 60_000_000_000).unwrap();
    let elapsed = io.now_ns() - start;
    if B::VIRTUAL_TIME {
        assert_eq!(elapsed, 1_000_000, "stopped right after the timer");
    } else {
        assert!(elapsed < 60_000_000_000, "the run went on for {elapsed} ns");
    }
    assert_eq!(ctx.log.last().unwrap().tag, 3);
    io.cancel_all();
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(io.in_flight(), 0);
    assert_eq!(ctx.count(2), 1);
}

both_backends!(
    running_the_loop_from_a_callback_is_refused,
    cancel_basics,
    reset_timeout_basics,
    run_modes,
    cancel_twice_and_after_completion,
    reset_moves_a_timer_earlier_or_later_without_a_callback_for_the_old_deadline,
    run_once_runs_at_least_one_callback_and_stop_ends_a_run
);

/// Exactly one callback per accepted operation under the interleavings that
/// are easy to get wrong (ghost callbacks after cancel, lost re-arms, cancel
/// before the first tick), in the scripted style.
#[path = "loop_control/scripted.rs"]
mod scripted;
