//! Cross-thread user events on the real IO: `EventTrigger` from other
//! threads, coalescing, and the guarantee that the last trigger is always
//! delivered.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;

use twinio::*;

/// Triggers per thread.
const TRIGGERS: u64 = 20_000;

struct Counter {
    event: EventId,
    /// Each triggering thread stores its trigger's number here, with
    /// `Release`, before triggering.
    sequences: Vec<Arc<AtomicU64>>,
    deliveries: u64,
    /// What each sequence read when the latest delivery ran.
    last_seen: Vec<u64>,
    /// The listener was canceled by `close_event`.
    canceled: bool,
}

/// Counts the delivery, records what the triggering threads had published
/// when it ran, and re-arms.
fn delivered(ctx: &mut Counter, io: &mut IO<Counter>, done: EventDone) {
    if done.result == Err(EventError::Canceled) {
        ctx.canceled = true;
        return;
    }
    done.result.expect("event delivery");
    ctx.deliveries += 1;
    for (seen, sequence) in ctx.last_seen.iter_mut().zip(&ctx.sequences) {
        *seen = sequence.load(Ordering::Acquire);
    }
    io.event_listen(ctx.event, 0, delivered).expect("re-arm");
}

/// Runs `threads` threads that each trigger `TRIGGERS` times while the loop
/// counts deliveries.
///
/// Coalescing allows fewer deliveries than triggers, never more. And the
/// last trigger is never lost: a trigger that arrives after a delivery's
/// kernel read produces another delivery, so the loop must end up with a
/// delivery that ran after every thread's final sequence was published.
/// Were a final trigger lost, no delivery would follow it and `last_seen`
/// would stay short of `TRIGGERS` for that thread.
fn trigger_from_threads(threads: usize) {
    // A short maximum wait keeps the pass that notices the threads ending quick.
    let options = IoOptions::new(8).max_wait_ns(10_000_000);
    let mut io: IO<Counter> = IO::with_options(options).unwrap();
    let event = io.open_event().unwrap();
    let sequences: Vec<_> = (0..threads).map(|_| Arc::new(AtomicU64::new(0))).collect();
    let mut ctx = Counter {
        event,
        sequences: sequences.clone(),
        deliveries: 0,
        last_seen: vec![0; threads],
        canceled: false,
    };
    io.event_listen(event, 0, delivered).unwrap();

    let workers: Vec<_> = sequences
        .into_iter()
        .map(|sequence| {
            let trigger = io.event_trigger_handle(event).unwrap();
            thread::spawn(move || {
                for i in 1..=TRIGGERS {
                    sequence.store(i, Ordering::Release);
                    trigger.trigger().expect("trigger");
                    if i % 1000 == 0 {
                        thread::yield_now(); // vary the interleaving
                    }
                }
            })
        })
        .collect();

    // Run the loop while the threads trigger. Each pass waits at most until
    // a trigger (or the IO's maximum wait) and the bound is in passes.
    let mut passes = 0u64;
    while !workers.iter().all(|w| w.is_finished()) {
        io.flush(&mut ctx, true).unwrap();
        passes += 1;
        assert!(passes < 10 * TRIGGERS * threads as u64, "the loop is not making progress");
    }
    for worker in workers {
        worker.join().unwrap();
    }
    // Every trigger has been made. Any still unseen is pending in the
    // kernel: a few passes must deliver it.
    let finished = [TRIGGERS].repeat(threads);
    for _ in 0..5 {
        if ctx.last_seen == finished {
            break;
        }
        io.flush(&mut ctx, true).unwrap();
    }
    assert_eq!(ctx.last_seen, finished, "a final trigger was not delivered");
    let total = TRIGGERS * threads as u64;
    assert!(ctx.deliveries >= 1 && ctx.deliveries <= total, "{} deliveries", ctx.deliveries);
    // Once idle, a pass delivers at most the one trigger that may have
    // landed after the final delivery's read; nothing beyond.
    let before = ctx.deliveries;
    io.timeout(1_000_000, 0, |_, _, done| done.result.unwrap()).unwrap();
    io.run_once(&mut ctx).unwrap();
    io.tick(&mut ctx).unwrap();
    assert!(ctx.deliveries <= before + 1 && ctx.deliveries <= total);

    // Closing the event ends the re-arming listener with Canceled.
    io.close_event(event).unwrap();
    io.run_until_done(&mut ctx).unwrap();
    assert!(ctx.canceled);
    assert_eq!(io.in_flight(), 0);
}

#[test]
fn one_thread_triggering_the_last_trigger_is_delivered() {
    trigger_from_threads(1);
}

#[test]
fn four_threads_triggering_each_last_trigger_is_delivered() {
    trigger_from_threads(4);
}

#[test]
fn triggers_after_close_or_drop_are_refused() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<EventTrigger>();

    let mut io: IO<()> = IO::init(4).unwrap();
    let event = io.open_event().unwrap();
    let handle = io.event_trigger_handle(event).unwrap();
    let from_thread = {
        let handle = handle.clone();
        thread::spawn(move || handle.trigger()).join().unwrap()
    };
    assert_eq!(from_thread, Ok(()));
    // The trigger made before the listener is delivered once it is armed.
    io.event_listen(event, 7, |_, _, done| assert_eq!((done.tag, done.result), (7, Ok(()))))
        .unwrap();
    io.run_until_done(&mut ()).unwrap();
    assert_eq!(io.in_flight(), 0);

    io.close_event(event).unwrap();
    assert_eq!(handle.trigger(), Err(EventError::Closed));
    assert_eq!(io.event_trigger_handle(event).unwrap_err(), EventError::UnknownEvent);

    let other = io.open_event().unwrap();
    let handle = io.event_trigger_handle(other).unwrap();
    drop(io);
    let from_thread = thread::spawn(move || handle.trigger()).join().unwrap();
    assert_eq!(from_thread, Err(EventError::Closed));
}

/// A waiting pass with nothing but an armed listener returns after the IO's
/// maximum wait: the loop never blocks forever. Nothing is asserted about
/// how long it took, only that every call returns and the listener is left
/// armed.
#[test]
fn a_waiting_pass_with_only_a_listener_returns() {
    let options = IoOptions::new(4).max_wait_ns(2_000_000);
    let mut io: IO<u32> = IO::with_options(options).unwrap();
    let event = io.open_event().unwrap();
    io.event_listen(event, 0, |fired: &mut u32, _, _| *fired += 1).unwrap();
    let mut fired = 0;
    for _ in 0..5 {
        io.flush(&mut fired, true).unwrap();
    }
    assert_eq!((fired, io.in_flight()), (0, 1));
    // run_once would wait for a callback: a trigger from another thread
    // ends it.
    let handle = io.event_trigger_handle(event).unwrap();
    let trigger = thread::spawn(move || handle.trigger());
    io.run_once(&mut fired).unwrap();
    assert_eq!(trigger.join().unwrap(), Ok(()));
    assert_eq!((fired, io.in_flight()), (1, 0));
}

fn mark_fired(fired: &mut bool, _: &mut IO<bool>, done: EventDone) {
    *fired = done.result.is_ok();
}

/// With no bound on the wait (no timer armed for it), a trigger from
/// another thread still ends the wait, and a waiting pass with nothing in
/// flight still returns at once.
#[test]
fn an_unbounded_wait_ends_on_a_cross_thread_trigger() {
    let mut io: IO<bool> = IO::with_options(IoOptions::new(4).max_wait_ns(UNBOUNDED_WAIT)).unwrap();
    let mut fired = false;
    io.flush(&mut fired, true).unwrap();
    let event = io.open_event().unwrap();
    io.event_listen(event, 0, mark_fired).unwrap();
    let handle = io.event_trigger_handle(event).unwrap();
    let triggering = thread::spawn(move || {
        thread::sleep(std::time::Duration::from_millis(20));
        handle.trigger()
    });
    io.run_once(&mut fired).unwrap();
    assert!(fired);
    triggering.join().unwrap().unwrap();
    io.close_event(event).unwrap();
}
