//! Timers on both backends: deadline order with ties in submission order,
//! a timeout that never expires, zero timeouts as yields, and extreme
//! deadlines.

mod support;

use support::typed::*;
use support::{Backend, both_backends};
use twinio::*;

fn timers_fire_in_deadline_order_ties_in_submission_order<B: Backend<Ctx>>() {
    let _g = B::shared();
    const N: usize = 64;
    let mut io = B::io(N as u32 + 4);
    let mut ctx = Ctx::default();
    // Delays in whole milliseconds with many repeats: a repeat is a tie on
    // a virtual clock and submission-ordered on a real one.
    let delays: Vec<u64> = (0..N as u64).map(|i| (i * 7 + i * i) % 9 * 1_000_000).collect();
    // The deadline of timer i lies in [before[i], after[i]] + delay.
    let mut before = Vec::new();
    let mut after = Vec::new();
    for (i, &delay) in delays.iter().enumerate() {
        before.push(io.now_ns());
        io.timeout(delay, i as u64, on_timeout).unwrap();
        after.push(io.now_ns());
    }
    run_until(&mut io, &mut ctx, |ctx| ctx.log.len() == N);
    let fired: Vec<usize> = ctx.log.iter().map(|e| e.tag as usize).collect();
    let mut sorted = fired.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..N).collect::<Vec<_>>(), "each fires exactly once");
    for entry in &ctx.log {
        let i = entry.tag as usize;
        assert_eq!(entry.done_timeout(), Ok(()));
        assert!(entry.now_ns >= before[i] + delays[i], "timer {i} fired early");
    }
    // i must fire before j when its deadline is surely earlier, or when
    // their delays tie and i was submitted first.
    let must_precede = |i: usize, j: usize| {
        (delays[i] == delays[j] && i < j) || after[i] + delays[i] < before[j] + delays[j]
    };
    for (a, &j) in fired.iter().enumerate() {
        for &i in &fired[a + 1..] {
            assert!(!must_precede(i, j), "timer {j} fired before {i}: order {fired:?}");
        }
    }
    assert_eq!(io.in_flight(), 0);
}

fn a_timeout_that_never_expires_can_be_canceled<B: Backend<Ctx>>() {
    let _g = B::shared();
    let mut io = B::io(16);
    let mut ctx = Ctx::default();
    // The deadline saturates instead of wrapping into the past.
    let never = io.timeout(u64::MAX, 1, on_timeout).unwrap();
    io.timeout(1_000_000, 2, on_timeout).unwrap();
    wait(&mut io, &mut ctx, 2);
    assert!(!ctx.has(1), "a u64::MAX timeout fired");
    io.reset_timeout(never, u64::MAX).unwrap();
    io.cancel(never).unwrap();
    assert_eq!(expect_done!(wait(&mut io, &mut ctx, 1), Timeout), Err(TimeoutError::Canceled));
    assert_eq!(io.in_flight(), 0);
}

fn zero_timeout_is_a_yield<B: Backend<Ctx>>() {
    let _g = B::shared();
    let mut io = B::io(16);
    let mut ctx = Ctx::default();

    // Submitted outside the loop, a zero timeout fires in the next pass.
    io.timeout(0, 1, on_timeout).unwrap();
    pass(&mut io, &mut ctx);
    assert_eq!(ctx.take(1).map(|e| e.done_timeout()), Some(Ok(())));

    // Submitted from a callback, it fires in the pass after that one, and
    // after IO that is ready at once (a recv of bytes already received).
    let (client, server) = connected(&mut io, &mut ctx);
    assert_eq!(send(&mut io, &mut ctx, client, b"ab"), Ok(2));
    assert_eq!(recv(&mut io, &mut ctx, server, 1).unwrap(), b"a");
    ctx.yield_socket = Some(server);
    io.timeout(0, 10, on_yield_probe).unwrap();
    run_until(&mut io, &mut ctx, |ctx| ctx.has(11) && ctx.has(12));
    let tags: Vec<u64> = ctx.log.iter().map(|e| e.tag).collect();
    assert_eq!(tags, [10, 12, 11], "the recv runs before the yield");
    let probe = ctx.take(10).unwrap();
    let yielded = ctx.take(11).unwrap();
    let received = ctx.take(12).unwrap();
    assert_eq!(received.pass, probe.pass, "ready IO submitted by a callback runs in its pass");
    assert_eq!(yielded.pass, probe.pass + 1, "the yield runs in the next pass");
    let (buf, n) = expect_done!(received, Recv, 2);
    assert_eq!(&buf[..n.unwrap()], b"b");

    // A chain of yields advances one pass per link.
    for link in 0..5u64 {
        io.timeout(0, 100 + link, on_timeout).unwrap();
        let fired = wait(&mut io, &mut ctx, 100 + link);
        assert_eq!(fired.done_timeout(), Ok(()));
    }
    close(&mut io, &mut ctx, client).unwrap();
    close(&mut io, &mut ctx, server).unwrap();
    assert_eq!(io.in_flight(), 0);
}

both_backends!(
    timers_fire_in_deadline_order_ties_in_submission_order,
    a_timeout_that_never_expires_can_be_canceled,
    zero_timeout_is_a_yield
);

/// Timers from callbacks, in the scripted style.
mod scripted {
    use super::support::scripted::*;
    use super::support::{Backend, both_backends, exclusive};
    use twinio::*;

    /// A zero timeout submitted from a callback runs in a later pass, after
    /// the work already ready: a yield, never a busy loop within one pass.
    fn zero_timeout_from_callback_is_a_later_pass<B: Backend<Ctx>>() {
        let _g = exclusive();
        let mut io = B::io(16);
        let mut ctx = Ctx::default();
        io.timeout(0, 1, on_timeout).unwrap();
        ctx.on(1, Action::Submit(2));
        io.tick(&mut ctx).unwrap();
        assert_eq!(ctx.tags(), [1], "the yield ran in the pass that submitted it");
        io.tick(&mut ctx).unwrap();
        assert_eq!(ctx.tags(), [1, 2]);
    }

    /// A huge timeout does not overflow anything: it sits in the heap, never
    /// fires in a bounded run, and cancels cleanly.
    fn huge_timeouts<B: Backend<Ctx>>() {
        let _g = exclusive();
        let mut io = B::io(16);
        let mut ctx = Ctx::default();
        let a = io.timeout(u64::MAX, 1, on_timeout).unwrap();
        let b = io.timeout(u64::MAX - 1, 2, on_timeout).unwrap();
        io.timeout(0, 3, on_timeout).unwrap();
        io.run_once(&mut ctx).unwrap();
        io.run_for_ns(&mut ctx, 1_000_000).unwrap();
        assert_eq!(ctx.tags(), [3]);
        io.cancel(b).unwrap();
        io.cancel(a).unwrap();
        io.run_until_done(&mut ctx).unwrap();
        assert_eq!(ctx.tags(), [3, 2, 1], "canceled in the order canceled");
    }

    both_backends!(zero_timeout_from_callback_is_a_later_pass, huge_timeouts);
}
