//! User events on both backends: listen, trigger, coalescing, close, and a
//! canceled listener that leaves its trigger to the next.

mod support;

use support::typed::*;
use support::{Backend, both_backends};
use twinio::*;

fn events_listen_trigger_coalesce_and_close<B: Backend<Ctx>>() {
    let _g = B::shared();
    let mut io = B::io(16);
    let mut ctx = Ctx::default();
    let event = io.open_event().unwrap();

    // Listen, then trigger.
    io.event_listen(event, 1, on_event).unwrap();
    io.event_trigger(event).unwrap();
    assert_eq!(expect_done!(wait(&mut io, &mut ctx, 1), Event), Ok(()));

    // Triggers before the listener coalesce into one completion.
    io.event_trigger(event).unwrap();
    io.event_trigger(event).unwrap();
    io.event_listen(event, 2, on_event).unwrap();
    assert_eq!(expect_done!(wait(&mut io, &mut ctx, 2), Event), Ok(()));
    io.event_listen(event, 3, on_event).unwrap();
    assert_eq!(io.event_listen(event, 4, on_event), Err(SubmitError::AlreadyListening));
    // Let the loop run a while: nothing is left to deliver to listener 3.
    io.timeout(2_000_000, 5, on_timeout).unwrap();
    wait(&mut io, &mut ctx, 5);
    assert!(!ctx.has(3), "a coalesced trigger was delivered twice");

    // Closing the event completes its armed listener with Canceled.
    io.close_event(event).unwrap();
    assert_eq!(expect_done!(wait(&mut io, &mut ctx, 3), Event), Err(EventError::Canceled));
    assert_eq!(ctx.count(3), 0);
    // The closed id is dead for every call, even once its slot is reused.
    let reused = io.open_event().unwrap();
    assert_ne!(reused, event);
    assert_eq!(io.event_listen(event, 6, on_event), Err(SubmitError::UnknownEvent));
    assert_eq!(io.event_trigger(event), Err(EventError::UnknownEvent));
    assert_eq!(io.close_event(event), Err(EventError::UnknownEvent));
    // The new event did not inherit a trigger.
    io.event_listen(reused, 7, on_event).unwrap();
    io.timeout(1_000_000, 8, on_timeout).unwrap();
    wait(&mut io, &mut ctx, 8);
    assert!(!ctx.has(7));
    io.event_trigger(reused).unwrap();
    assert_eq!(expect_done!(wait(&mut io, &mut ctx, 7), Event), Ok(()));
    io.close_event(reused).unwrap();
    assert!(ctx.log.is_empty(), "stray completions: {:?}", ctx.log);
    assert_eq!(io.in_flight(), 0);
}

fn a_canceled_listener_leaves_its_trigger_to_the_next<B: Backend<Ctx>>() {
    let _g = B::shared();
    let mut io = B::io(16);
    let mut ctx = Ctx::default();
    let event = io.open_event().unwrap();
    // As a recv canceled while its data is ready leaves the data to the next
    // recv, a listener canceled after a trigger reached it, before its
    // callback ran, leaves the trigger to the next listener: it was never
    // delivered, so it must not be lost.
    for armed_first in [false, true] {
        let tag = if armed_first { 10 } else { 20 };
        let first = if armed_first {
            let id = io.event_listen(event, tag, on_event).unwrap();
            io.event_trigger(event).unwrap();
            id
        } else {
            io.event_trigger(event).unwrap();
            io.event_listen(event, tag, on_event).unwrap()
        };
        io.cancel(first).unwrap();
        assert_eq!(expect_done!(wait(&mut io, &mut ctx, tag), Event), Err(EventError::Canceled));
        io.event_listen(event, tag + 1, on_event).unwrap();
        io.timeout(5_000_000, tag + 2, on_timeout).unwrap();
        run_until(&mut io, &mut ctx, |ctx| ctx.has(tag + 1) || ctx.has(tag + 2));
        assert!(ctx.has(tag + 1), "armed first {armed_first}: the trigger was lost");
        assert_eq!(expect_done!(ctx.take(tag + 1).unwrap(), Event), Ok(()));
        wait(&mut io, &mut ctx, tag + 2);
    }
    // A listener armed while the canceled one still waited for its callback
    // gets the trigger.
    io.event_trigger(event).unwrap();
    let first = io.event_listen(event, 30, on_event).unwrap();
    let second = io.event_listen(event, 31, on_event);
    if second.is_ok() {
        io.cancel(first).unwrap();
        assert_eq!(expect_done!(wait(&mut io, &mut ctx, 30), Event), Err(EventError::Canceled));
        assert_eq!(expect_done!(wait(&mut io, &mut ctx, 31), Event), Ok(()));
    } else {
        // Still counted as the event's listener: that is fine too.
        assert_eq!(second, Err(SubmitError::AlreadyListening));
        assert_eq!(expect_done!(wait(&mut io, &mut ctx, 30), Event), Ok(()));
    }
    io.close_event(event).unwrap();
    assert!(ctx.log.is_empty(), "stray completions: {:?}", ctx.log);
    assert_eq!(io.in_flight(), 0);
}

both_backends!(
    events_listen_trigger_coalesce_and_close,
    a_canceled_listener_leaves_its_trigger_to_the_next
);

/// Listeners canceled or re-armed from callbacks, in the scripted style.
mod scripted {
    use super::support::scripted::*;
    use super::support::{Backend, both_backends, exclusive};
    use twinio::*;

    /// A listener that a trigger already fired, canceled before its callback
    /// ran: the trigger is not lost with it (a lost wake-up would hang the
    /// next listener forever).
    fn canceled_fired_listener_hands_its_trigger_back<B: Backend<Ctx>>() {
        let _g = exclusive();
        let mut io = B::io(16);
        let mut ctx = Ctx::default();
        let event = io.open_event().unwrap();
        // Triggered before the listener was armed.
        io.event_trigger(event).unwrap();
        let a = io.event_listen(event, 1, on_event).unwrap();
        io.cancel(a).unwrap();
        io.event_listen(event, 2, on_event).unwrap();
        io.run_until_done(&mut ctx).unwrap();
        assert_eq!(ctx.get(1), Some("Err(Canceled)"));
        assert_eq!(ctx.get(2), Some("Ok(())"));
        // Triggered while armed: the fired listener is still the event's
        // one listener until its callback starts, so a second is refused;
        // armed after the cancel, it gets the handed-back trigger at once.
        let b = io.event_listen(event, 3, on_event).unwrap();
        io.event_trigger(event).unwrap();
        let refused = io.event_listen(event, 4, on_event).err();
        assert_eq!(refused, Some(SubmitError::AlreadyListening));
        io.cancel(b).unwrap();
        io.event_listen(event, 4, on_event).unwrap();
        io.run_until_done(&mut ctx).unwrap();
        assert_eq!(ctx.get(3), Some("Err(Canceled)"));
        assert_eq!(ctx.get(4), Some("Ok(())"));
        // A canceled listener that was never fired leaves nothing pending.
        let c = io.event_listen(event, 5, on_event).unwrap();
        io.cancel(c).unwrap();
        io.run_until_done(&mut ctx).unwrap();
        io.event_listen(event, 6, on_event).unwrap();
        io.run_for_ns(&mut ctx, 1_000_000).unwrap();
        assert_eq!(ctx.count(6), 0, "a trigger appeared from nowhere");
        // Fired, then the event closed, then canceled: nothing to hand back to.
        io.close_event(event).unwrap();
        assert_eq!(wait(&mut io, &mut ctx, 6), "Err(Canceled)");
        let event = io.open_event().unwrap();
        let d = io.event_listen(event, 7, on_event).unwrap();
        io.event_trigger(event).unwrap();
        io.close_event(event).unwrap();
        io.cancel(d).unwrap();
        io.run_until_done(&mut ctx).unwrap();
        assert_eq!(ctx.get(7), Some("Err(Canceled)"));
        assert_eq!(ctx.log.len(), 7, "{:?}", ctx.log);
        assert_eq!(io.in_flight(), 0);
    }

    /// A listener re-armed from its own callback, with triggers before and
    /// after the re-arm: no rearm is lost, and triggers that arrive before a
    /// fired listener's callback runs coalesce into it (as documented) instead
    /// of firing the next listener too.
    fn rearm_from_the_listener_callback<B: Backend<Ctx>>() {
        let _g = exclusive();
        let mut io = B::io(16);
        let mut ctx = Ctx::default();
        let event = io.open_event().unwrap();
        io.event_listen(event, 1, on_event).unwrap();
        // Trigger first, then re-arm: the new listener fires (pending trigger).
        ctx.on(1, Action::Trigger(event));
        ctx.on(1, Action::Listen(event, 2));
        // Re-arm first, then trigger twice: both before listener 3's callback
        // runs, so they coalesce into its one completion.
        ctx.on(2, Action::Listen(event, 3));
        ctx.on(2, Action::Trigger(event));
        ctx.on(2, Action::Trigger(event));
        // Re-arm with no trigger since: stays armed.
        ctx.on(3, Action::Listen(event, 4));
        io.event_trigger(event).unwrap();
        for _ in 0..5 {
            io.run_for_ns(&mut ctx, 1_000_000).unwrap();
        }
        assert_eq!(ctx.tags(), [1, 2, 3], "{:?}", ctx.log);
        assert_eq!(io.in_flight(), 1);
        // Two triggers before listener 4 runs: one completion, nothing left
        // for listener 5.
        io.event_trigger(event).unwrap();
        io.event_trigger(event).unwrap();
        io.run_once(&mut ctx).unwrap();
        io.event_listen(event, 5, on_event).unwrap();
        io.run_for_ns(&mut ctx, 1_000_000).unwrap();
        assert_eq!(ctx.tags(), [1, 2, 3, 4]);
        assert!(ctx.outcomes.iter().all(|o| o.ends_with("Ok(())")), "{:?}", ctx.outcomes);
        io.close_event(event).unwrap();
        io.run_until_done(&mut ctx).unwrap();
        assert_eq!(ctx.get(5), Some("Err(Canceled)"));
        assert_eq!(io.in_flight(), 0);
    }

    both_backends!(
        canceled_fired_listener_hands_its_trigger_back,
        rearm_from_the_listener_callback
    );
}
