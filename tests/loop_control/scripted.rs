use super::support::scripted::*;
use super::support::{Backend, both_backends, exclusive};
use twinio::*;

const LONG: u64 = 10_000_000_000;

/// Every op kind canceled before the loop ever ran: one `Canceled` callback
/// each, and nothing of the op happened (a recv consumed nothing, a send
/// sent nothing, an accept took no connection, a close closed nothing).
fn cancel_before_first_flush<B: Backend<Ctx>>() {
    let _g = exclusive();
    let mut io = B::io(64);
    let mut ctx = Ctx::default();
    let (client, server) = connected(&mut io, &mut ctx);
    // Data already waiting, so an uncanceled recv would take it at once.
    io.send(client, Buffer::from_slice(b"early").unwrap(), .., 1, on_send).unwrap();
    assert_eq!(wait(&mut io, &mut ctx, 1), "Ok(5)");
    run_until(&mut io, &mut ctx, |_| true);
    let (l, address) = listener(&mut io);
    let pending_client = io.open_socket(AddressFamily::Ipv4, SocketOptions::default()).unwrap();
    io.connect(pending_client, address, 2, on_connect).unwrap();
    assert_eq!(wait(&mut io, &mut ctx, 2), "Ok(())");
    let event = io.open_event().unwrap();
    io.event_trigger(event).unwrap();
    ctx.log.clear();

    let ids = [
        io.timeout(0, 10, on_timeout).unwrap(),
        io.recv(server, buf(16), .., 11, on_recv).unwrap(),
        io.send(client, Buffer::from_slice(b"never").unwrap(), .., 12, on_send).unwrap(),
        io.accept(l, 13, on_accept).unwrap(),
        io.event_listen(event, 14, on_event).unwrap(),
        io.close(server, 15, on_close).unwrap(),
    ];
    for id in ids {
        io.cancel(id).unwrap();
        assert_eq!(io.cancel(id), Err(CancelError::AlreadyCanceled));
    }
    io.run_until_done(&mut ctx).unwrap();
    for tag in 10..=15 {
        assert_eq!(ctx.count(tag), 1, "tag {tag}: {:?}", ctx.log);
        assert!(ctx.get(tag).unwrap().contains("Canceled"), "tag {tag}: {:?}", ctx.log);
    }
    for id in ids {
        assert_eq!(io.cancel(id), Err(CancelError::NotRunning));
    }
    assert_eq!(io.in_flight(), 0);
    // Nothing happened: the data is still there, the peer got nothing, the
    // connection is still in the backlog, the trigger is still pending,
    // and the server socket is still open.
    io.recv(server, buf(16), .., 20, on_recv).unwrap();
    assert_eq!(wait(&mut io, &mut ctx, 20), "Ok(5)");
    assert_eq!(&ctx.buffers.last().unwrap()[..5], b"early");
    io.accept(l, 21, on_accept).unwrap();
    assert_eq!(wait(&mut io, &mut ctx, 21), "Ok(())");
    io.event_listen(event, 22, on_event).unwrap();
    assert_eq!(wait(&mut io, &mut ctx, 22), "Ok(())");
    io.send(server, Buffer::from_slice(b"x").unwrap(), .., 23, on_send).unwrap();
    assert_eq!(wait(&mut io, &mut ctx, 23), "Ok(1)");
    // The canceled send sent nothing: only "x" arrives at the client.
    io.recv(client, buf(16), .., 24, on_recv).unwrap();
    assert_eq!(wait(&mut io, &mut ctx, 24), "Ok(1)");
    assert_eq!(ctx.buffers.last().unwrap()[0], b'x');
    let accepted = ctx.fds.pop().unwrap();
    for fd in [client, server, l, pending_client, accepted] {
        assert_eq!(close(&mut io, &mut ctx, fd), "Ok(())");
    }
    io.close_event(event).unwrap();
    assert_eq!(io.in_flight(), 0);
}

/// A recv parked on a socket, canceled, then the socket closed at once:
/// the recv's callback runs once (Canceled), the close's once (Ok).
fn cancel_parked_recv_then_close<B: Backend<Ctx>>() {
    let _g = exclusive();
    let mut io = B::io(16);
    let mut ctx = Ctx::default();
    let (client, server) = connected(&mut io, &mut ctx);
    let r = io.recv(server, buf(8), .., 1, on_recv).unwrap();
    io.tick(&mut ctx).unwrap();
    io.tick(&mut ctx).unwrap();
    assert_eq!(ctx.count(1), 0, "parked");
    io.cancel(r).unwrap();
    io.close(server, 2, on_close).unwrap();
    // Parked again, not canceled: the close cancels it.
    let r2 = io.recv(client, buf(8), .., 3, on_recv).unwrap();
    io.tick(&mut ctx).unwrap();
    io.close(client, 4, on_close).unwrap();
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(ctx.tags().iter().filter(|&&t| t < 5).count(), 4, "{:?}", ctx.log);
    assert_eq!(ctx.get(1), Some("Err(Canceled)"));
    assert_eq!(ctx.get(2), Some("Ok(())"));
    // The peer's close may reach the recv first as end of stream.
    assert!(matches!(ctx.get(3), Some("Err(Canceled)") | Some("Ok(0)")), "{:?}", ctx.log);
    assert_eq!(ctx.get(4), Some("Ok(())"));
    assert_eq!(io.cancel(r2), Err(CancelError::NotRunning));
    assert_eq!(io.in_flight(), 0);
}

/// Two recvs parked on two sockets; data arrives for both in the same
/// pass; whichever callback runs first cancels the other. Exactly one
/// completes with data, the other with `Canceled`, and the canceled one's
/// data is still there for the next recv.
fn cancel_racing_readiness_in_one_pass<B: Backend<Ctx>>() {
    let _g = exclusive();
    let mut io = B::io(32);
    let mut ctx = Ctx::default();
    let (c1, s1) = connected(&mut io, &mut ctx);
    let (c2, s2) = connected(&mut io, &mut ctx);
    let a = io.recv(s1, buf(8), .., 1, on_recv).unwrap();
    let b = io.recv(s2, buf(8), .., 2, on_recv).unwrap();
    io.tick(&mut ctx).unwrap();
    ctx.on(1, Action::Cancel(b));
    ctx.on(2, Action::Cancel(a));
    io.send(c1, Buffer::from_slice(b"one").unwrap(), .., 3, on_send).unwrap();
    io.send(c2, Buffer::from_slice(b"two").unwrap(), .., 4, on_send).unwrap();
    run_until(&mut io, &mut ctx, |c| c.count(1) + c.count(2) == 2);
    let (won, lost, lost_fd, data) =
        if ctx.get(1) == Some("Ok(3)") { (1, 2, s2, b"two") } else { (2, 1, s1, b"one") };
    assert_eq!(ctx.get(won), Some("Ok(3)"), "{:?}", ctx.log);
    assert_eq!(ctx.get(lost), Some("Err(Canceled)"), "{:?}", ctx.log);
    // The loser's callback (with `Canceled`) tries to cancel the winner,
    // which has completed.
    assert_eq!(ctx.outcomes, ["cancel Ok(())", "cancel Err(NotRunning)"]);
    io.recv(lost_fd, buf(8), .., 5, on_recv).unwrap();
    assert_eq!(wait(&mut io, &mut ctx, 5), "Ok(3)");
    assert_eq!(&ctx.buffers.last().unwrap()[..3], data);
    io.run_for_ns(&mut ctx, 1_000_000).unwrap();
    assert_eq!(ctx.count(1) + ctx.count(2), 2, "no ghost callback: {:?}", ctx.log);
    for fd in [c1, s1, c2, s2] {
        close(&mut io, &mut ctx, fd);
    }
    assert_eq!(io.in_flight(), 0);
}

/// Canceling from inside a callback: its own id is `NotRunning` (it is
/// running), even when the callback's slot was already reused by a new
/// op, which must not be canceled.
fn cancel_own_op_from_its_callback<B: Backend<Ctx>>() {
    let _g = exclusive();
    let mut io = B::io(1);
    let mut ctx = Ctx::default();
    let t = io.timeout(0, 1, on_timeout).unwrap();
    // The callback submits (reusing the only slot), then cancels itself.
    ctx.on(1, Action::Submit(2));
    ctx.on(1, Action::Cancel(t));
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(ctx.outcomes, ["submit Ok(())", "cancel Err(NotRunning)"]);
    assert_eq!(ctx.tags(), [1, 2], "the new op was not canceled: {:?}", ctx.log);
    assert_eq!(ctx.get(2), Some("Ok(())"));
    assert_eq!(io.in_flight(), 0);
}

/// A stale id whose slot now holds another op: cancel and reset are
/// `NotRunning` and leave the new op alone.
fn stale_id_after_slot_reuse<B: Backend<Ctx>>() {
    let _g = exclusive();
    let mut io = B::io(1);
    let mut ctx = Ctx::default();
    let old = io.timeout(0, 1, on_timeout).unwrap();
    io.run_until_done(&mut ctx).unwrap();
    let new = io.timeout(1_000_000, 2, on_timeout).unwrap();
    assert_eq!(old.slot(), new.slot(), "one slot: reused");
    assert_ne!(old, new);
    assert_eq!(io.cancel(old), Err(CancelError::NotRunning));
    assert_eq!(io.reset_timeout(old, LONG), Err(CancelError::NotRunning));
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(ctx.get(2), Some("Ok(())"));
    // Reused again by a canceled op: the stale id still cannot touch it.
    let newer = io.timeout(LONG, 3, on_timeout).unwrap();
    io.cancel(newer).unwrap();
    assert_eq!(io.cancel(new), Err(CancelError::NotRunning));
    assert_eq!(io.cancel(old), Err(CancelError::NotRunning));
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(ctx.tags(), [1, 2, 3]);
    assert_eq!(ctx.get(3), Some("Err(Canceled)"));
}

/// cancel_all over every kind of pending op, then run_until_done: each
/// callback exactly once; callbacks that submit more work during the drain
/// get that work run too (not canceled, not lost).
fn cancel_all_then_run_until_done<B: Backend<Ctx>>() {
    let _g = exclusive();
    let mut io = B::io(64);
    let mut ctx = Ctx::default();
    let (client, server) = connected(&mut io, &mut ctx);
    let (l, _) = listener(&mut io);
    let event = io.open_event().unwrap();
    io.timeout(LONG, 1, on_timeout).unwrap();
    io.timeout(0, 2, on_timeout).unwrap();
    io.recv(server, buf(8), .., 3, on_recv).unwrap();
    io.accept(l, 4, on_accept).unwrap();
    io.event_listen(event, 5, on_event).unwrap();
    io.tick(&mut ctx).unwrap(); // 2 fires; 3 and 4 park.
    io.recv(client, buf(8), .., 6, on_recv).unwrap(); // Fresh, never run.
    io.timeout(0, 7, on_timeout).unwrap();
    ctx.on(1, Action::Submit(100));
    ctx.on(3, Action::Submit(101));
    assert_eq!(ctx.get(2), Some("Ok(())"), "a zero timeout fires in the next pass");
    let expected = 6; // In flight: 1, 3, 4, 5, 6, 7.
    assert_eq!(io.cancel_all(), expected);
    assert_eq!(io.cancel_all(), 0);
    io.run_until_done(&mut ctx).unwrap();
    for tag in [1, 2, 3, 4, 5, 6, 7, 100, 101] {
        assert_eq!(ctx.count(tag), 1, "tag {tag}: {:?}", ctx.log);
    }
    for tag in [1, 3, 4, 5, 6, 7] {
        assert!(ctx.get(tag).unwrap().contains("Canceled"), "tag {tag}: {:?}", ctx.log);
    }
    assert_eq!(ctx.get(100), Some("Ok(())"));
    assert_eq!(io.in_flight(), 0);
    for fd in [client, server, l] {
        assert_eq!(close(&mut io, &mut ctx, fd), "Ok(())");
    }
    io.close_event(event).unwrap();
}

/// Timer resets: earlier, later, of a timer that expired in this pass but
/// whose callback has not run (the old expiry must not fire), of a
/// canceled, a completed and a non-timer op, and to u64::MAX.
fn reset_timeout_cases<B: Backend<Ctx>>() {
    let _g = exclusive();
    let mut io = B::io(16);
    let mut ctx = Ctx::default();
    // Two timers due in the same pass; the first moves the second later.
    let a = io.timeout(1_000, 1, on_timeout).unwrap();
    let b = io.timeout(1_000, 2, on_timeout).unwrap();
    ctx.on(1, Action::Reset(b, 50_000_000));
    io.timeout(20_000_000, 3, on_timeout).unwrap();
    run_until(&mut io, &mut ctx, |c| c.count(2) > 0);
    assert_eq!(ctx.outcomes, ["reset Ok(())"]);
    assert_eq!(ctx.tags(), [1, 3, 2], "the reset timer fired once, at its new deadline");
    assert_eq!(io.reset_timeout(a, 0), Err(CancelError::NotRunning));

    // Of a canceled one; of a non-timer.
    let c = io.timeout(LONG, 4, on_timeout).unwrap();
    io.cancel(c).unwrap();
    assert_eq!(io.reset_timeout(c, 0), Err(CancelError::AlreadyCanceled));
    let event = io.open_event().unwrap();
    let l = io.event_listen(event, 5, on_event).unwrap();
    assert_eq!(io.reset_timeout(l, 0), Err(CancelError::NotATimeout));
    // To the end of time, then earlier again, then canceled.
    let d = io.timeout(0, 6, on_timeout).unwrap();
    io.reset_timeout(d, u64::MAX).unwrap();
    io.run_for_ns(&mut ctx, 1_000_000).unwrap();
    assert_eq!(ctx.count(6), 0);
    io.reset_timeout(d, 0).unwrap();
    io.reset_timeout(d, 0).unwrap();
    io.run_for_ns(&mut ctx, 1_000_000).unwrap();
    assert_eq!(ctx.count(6), 1);
    io.close_event(event).unwrap();
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(ctx.count(4), 1);
    assert_eq!(ctx.get(5), Some("Err(Canceled)"));
    assert_eq!(io.in_flight(), 0);
}

/// Every run mode called from a callback is `Reentrant` (never a panic),
/// whichever run mode is running the callback, and the loop carries on.
fn reentrant_run_modes_are_refused<B: Backend<Ctx>>() {
    let _g = exclusive();
    let mut io = B::io(16);
    let mut ctx = Ctx::default();
    for (mode, tag) in [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5)] {
        io.timeout(0, tag, on_timeout).unwrap();
        ctx.on(tag, Action::Reenter);
        match mode {
            0 => run_until(&mut io, &mut ctx, |c| c.count(tag) > 0),
            1 => io.run_once(&mut ctx).unwrap(),
            2 => io.run_until_done(&mut ctx).unwrap(),
            3 => {
                io.flush(&mut ctx, true).unwrap();
                io.flush(&mut ctx, true).unwrap();
            }
            _ => {
                io.tick(&mut ctx).unwrap();
                io.tick(&mut ctx).unwrap();
            }
        }
        assert_eq!(ctx.count(tag), 1, "mode {mode}: {:?}", ctx.log);
    }
    let refused = "flush Err(Reentrant) tick Err(Reentrant) run_for_ns Err(Reentrant) \
                   run_once Err(Reentrant) run_until_done Err(Reentrant)";
    assert_eq!(ctx.outcomes, [refused; 5]);
    io.timeout(0, 9, on_timeout).unwrap();
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(ctx.get(9), Some("Ok(())"));
}

/// stop() from a callback ends each run mode after that pass, leaving the
/// rest in flight; a plain flush ignores it (but the request is kept for
/// the next run, as documented).
fn stop_in_each_run_mode<B: Backend<Ctx>>() {
    let _g = exclusive();
    let mut io = B::io(16);
    let mut ctx = Ctx::default();
    let far = io.timeout(LONG, 99, on_timeout).unwrap();
    for (mode, tag) in [(0, 1), (1, 2), (2, 3)] {
        io.timeout(1_000, tag, on_timeout).unwrap();
        ctx.on(tag, Action::Stop);
        match mode {
            0 => io.run_for_ns(&mut ctx, 2 * LONG).unwrap(),
            1 => io.run_once(&mut ctx).unwrap(),
            _ => io.run_until_done(&mut ctx).unwrap(),
        }
        assert_eq!(ctx.count(tag), 1, "mode {mode}: {:?}", ctx.log);
        assert_eq!(ctx.count(99), 0, "mode {mode} ran past stop()");
        assert_eq!(io.in_flight(), 1);
    }
    // A stop requested before a run mode starts ends it after one pass.
    // (The second timer is far: a near one could already be due in that
    // pass on a loaded machine.)
    io.stop();
    io.timeout(0, 4, on_timeout).unwrap();
    io.timeout(LONG, 5, on_timeout).unwrap();
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(ctx.count(4), 1);
    assert_eq!(ctx.count(5), 0, "ran past the stop requested before it started");
    assert_eq!(io.cancel_all(), 2);
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(ctx.get(99), Some("Err(Canceled)"));
    assert_eq!(ctx.get(5), Some("Err(Canceled)"));
    let _ = far;
    // Nothing in flight: every run mode returns at once.
    io.run_once(&mut ctx).unwrap();
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(io.in_flight(), 0);
}

both_backends!(
    cancel_before_first_flush,
    cancel_parked_recv_then_close,
    cancel_racing_readiness_in_one_pass,
    cancel_own_op_from_its_callback,
    stale_id_after_slot_reuse,
    cancel_all_then_run_until_done,
    reset_timeout_cases,
    reentrant_run_modes_are_refused,
    stop_in_each_run_mode
);
