//! Loop control on the twin, mirroring `tests/real_loop_control.rs` on the real
//! IO: cancel before the first flush, after an operation waits, racing its
//! completion; run modes jumping virtual time; timer order with ties; user
//! events; and exactly one callback per operation under any interleaving
//! (proptest). Virtual time makes every one of them instant and exact.
//! (Cancel twice, timer reset and run_once/stop, the same on both backends,
//! are in `loop_control.rs`.)

use std::path::Path;

mod support;

use proptest::prelude::*;
use support::scripted::*;
use twinio::*;

type Sim = SimIO<Ctx>;

/// A twin whose storage operations take 1 ms of virtual time.
fn slow_storage(seed: u64) -> (Sim, Fd) {
    let latency = Latency { floor_ns: 1_000_000, ..Latency::ZERO };
    let storage =
        StorageFaults { read_latency: latency, write_latency: latency, ..Default::default() };
    let mut io = Sim::new(seed, 64, FaultConfig { storage, ..FaultConfig::none() });
    let dir = io.open_dir(Path::new("d")).unwrap();
    let fd = io
        .open_data_file(dir, Path::new("f"), 4096, FilePurpose::Format, DirectIo::Disabled)
        .unwrap();
    (io, fd)
}

#[test]
fn cancel_before_the_first_flush() {
    let (mut io, fd) = slow_storage(1);
    let id = io.write(fd, Buffer::from_slice(b"gone").unwrap(), .., 0, 1, on_write).unwrap();
    io.cancel(id).unwrap();
    let mut ctx = Ctx::default();
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(ctx.entries(), [(1, "Err(Canceled)")]);
    assert_eq!(io.cancel(id), Err(CancelError::NotRunning));
    io.read(fd, buf(4), .., 0, 2, on_read).unwrap();
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(ctx.entries()[1], (2, "Ok(4)"));
    assert_eq!(ctx.buffers.last().unwrap()[..4], [0; 4], "a canceled write writes nothing");
}

#[test]
fn cancel_after_the_operation_waits() {
    let (mut io, fd) = slow_storage(2);
    let mut ctx = Ctx::default();
    let id = io.write(fd, Buffer::from_slice(b"late").unwrap(), .., 0, 1, on_write).unwrap();
    io.tick(&mut ctx).unwrap(); // issued: waiting out its latency
    assert!(ctx.log.is_empty());
    assert_eq!(io.queued(), 1);
    io.cancel(id).unwrap();
    assert_eq!(io.queued(), 0);
    io.tick(&mut ctx).unwrap();
    assert_eq!(ctx.entries(), [(1, "Err(Canceled)")]);

    // The same for an armed event listener.
    let event = io.open_event().unwrap();
    let id = io.event_listen(event, 3, on_event).unwrap();
    io.tick(&mut ctx).unwrap();
    io.cancel(id).unwrap();
    io.event_trigger(event).unwrap(); // pending for the next listener
    io.tick(&mut ctx).unwrap();
    assert_eq!(ctx.entries()[1], (3, "Err(Canceled)"));
    io.event_listen(event, 4, on_event).unwrap();
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(ctx.entries()[2], (4, "Ok(())"));
}

#[test]
fn cancel_racing_completion_in_the_same_pass() {
    // A timer's callback cancels a write that became due in the same pass:
    // the cancel wins and the write never touches the file.
    let (mut io, fd) = slow_storage(3);
    let mut ctx = Ctx::default();
    io.timeout(1_000_000, 1, on_timeout).unwrap();
    let write = io.write(fd, Buffer::from_slice(b"race").unwrap(), .., 0, 2, on_write).unwrap();
    io.tick(&mut ctx).unwrap(); // the write is issued: due at +1 ms, after the timer
    ctx.on(1, Action::Cancel(write));
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(ctx.outcomes, ["cancel Ok(())"]);
    assert_eq!(ctx.entries(), [(1, "Ok(())"), (2, "Err(Canceled)")]);
    io.read(fd, buf(4), .., 0, 3, on_read).unwrap();
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(ctx.entries()[2], (3, "Ok(4)"));
    assert_eq!(ctx.buffers.last().unwrap()[..4], [0; 4], "the canceled write wrote nothing");
}

#[test]
fn timers_fire_in_deadline_order_ties_in_submission_order() {
    let mut io = Sim::new(6, 64, FaultConfig::none());
    let deadlines = [30u64, 10, 20, 10, 0, 30, 20, 10];
    for (tag, &ms) in deadlines.iter().enumerate() {
        io.timeout(ms * 1_000_000, tag as u64, on_timeout).unwrap();
    }
    let mut ctx = Ctx::default();
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(ctx.tags(), [4, 1, 3, 7, 2, 6, 0, 5]);
}

#[test]
fn zero_timeout_is_a_yield() {
    let mut io = Sim::new(7, 8, FaultConfig::none());
    let mut ctx = Ctx::default();
    io.timeout(0, 1, on_timeout).unwrap();
    let start = io.now_ns();
    io.tick(&mut ctx).unwrap();
    assert_eq!(ctx.log.len(), 1);
    assert_eq!(io.now_ns(), start, "no time passed");
    // The twin is a `Clock` too, reading the same virtual time.
    fn read<T: Clock>(clock: &T) -> u64 {
        clock.now_ns()
    }
    assert_eq!(read(&io), Io::now_ns(&io));
    assert!(format!("{io:?}").contains("seed: 7"));
}

/// What only virtual time does: a run or a waiting flush with nothing due
/// jumps straight to its end or to the next deadline. (run_once and stop:
/// `loop_control.rs`, `run_once_runs_at_least_one_callback_and_stop_ends_a_run`.)
#[test]
fn run_modes_jump_virtual_time_to_the_next_deadline() {
    let mut io = Sim::new(8, 8, FaultConfig::none());
    let mut ctx = Ctx::default();
    io.timeout(60_000_000_000, 2, on_timeout).unwrap();

    // run_for_ns with nothing due jumps straight to its end.
    let start = io.now_ns();
    io.run_for_ns(&mut ctx, 5_000_000_000).unwrap();
    assert_eq!(io.now_ns() - start, 5_000_000_000);
    assert_eq!(io.in_flight(), 1);
    assert!(ctx.log.is_empty());
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(ctx.count(2), 1);
    assert_eq!(io.in_flight(), 0);

    // A flush that waits with nothing due but a timer pending jumps to it.
    io.timeout(7_000, 4, on_timeout).unwrap();
    let start = io.now_ns();
    io.flush(&mut ctx, true).unwrap();
    assert_eq!(io.now_ns() - start, 7_000);
    assert_eq!(ctx.count(4), 1);
}

#[test]
fn running_the_loop_from_a_callback_is_refused() {
    let mut io = Sim::new(9, 8, FaultConfig::none());
    io.timeout(0, 1, on_timeout).unwrap();
    let mut ctx = Ctx::default();
    ctx.on(1, Action::Reenter);
    io.run_until_done(&mut ctx).unwrap();
    let r = Err::<(), _>(RunError::Reentrant);
    let refused =
        format!("flush {r:?} tick {r:?} run_for_ns {r:?} run_once {r:?} run_until_done {r:?}");
    assert_eq!(ctx.outcomes, [refused]);
    assert_eq!(ctx.entries(), [(1, "Ok(())")]);
}

#[test]
fn user_events_coalesce_and_close_cancels_the_listener() {
    let mut io = Sim::new(10, 8, FaultConfig::none());
    let mut ctx = Ctx::default();
    let event = io.open_event().unwrap();
    io.event_listen(event, 1, on_event).unwrap();
    assert_eq!(io.event_listen(event, 2, on_event), Err(SubmitError::AlreadyListening));
    io.event_trigger(event).unwrap();
    io.event_trigger(event).unwrap();
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(ctx.entries(), [(1, "Ok(())")]);
    // A trigger with no listener is kept for the next one.
    io.event_trigger(event).unwrap();
    io.event_listen(event, 3, on_event).unwrap();
    io.tick(&mut ctx).unwrap();
    assert_eq!(ctx.count(3), 1);
    io.event_listen(event, 4, on_event).unwrap();
    io.close_event(event).unwrap();
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(ctx.entries().last(), Some(&(4, "Err(Canceled)")));
    assert_eq!(io.event_trigger(event), Err(EventError::UnknownEvent));
    assert_eq!(io.close_event(event), Err(EventError::UnknownEvent));
    assert_eq!(io.event_listen(event, 5, on_event), Err(SubmitError::UnknownEvent));
}

#[derive(Clone, Debug)]
enum Step {
    Timeout(u64),
    Write,
    Listen,
    Trigger,
    Cancel(prop::sample::Index),
    Reset(prop::sample::Index, u64),
    Tick,
    RunFor(u64),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0u64..3_000_000).prop_map(Step::Timeout),
        Just(Step::Write),
        Just(Step::Listen),
        Just(Step::Trigger),
        any::<prop::sample::Index>().prop_map(Step::Cancel),
        (any::<prop::sample::Index>(), 0u64..2_000_000).prop_map(|(i, ns)| Step::Reset(i, ns)),
        Just(Step::Tick),
        (0u64..2_000_000).prop_map(Step::RunFor),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Whatever the interleaving of submits, cancels, resets, triggers and
    /// passes, every accepted op gets exactly one callback.
    #[test]
    fn every_op_gets_exactly_one_callback(steps in proptest::collection::vec(step(), 1..60)) {
        let (mut io, fd) = slow_storage(11);
        let event = io.open_event().unwrap();
        let mut ctx = Ctx::default();
        let mut ids = Vec::new();
        for step in steps {
            let tag = ids.len() as u64;
            match step {
                Step::Timeout(ns) => ids.push(io.timeout(ns, tag, on_timeout).unwrap()),
                Step::Write => {
                    let buffer = Buffer::new(16).unwrap();
                    ids.push(io.write(fd, buffer, .., 0, tag, on_write).unwrap());
                }
                Step::Listen => {
                    if let Ok(id) = io.event_listen(event, tag, on_event) {
                        ids.push(id);
                    }
                }
                Step::Trigger => io.event_trigger(event).unwrap(),
                Step::Cancel(i) if !ids.is_empty() => {
                    let _ = io.cancel(ids[i.index(ids.len())]);
                }
                Step::Reset(i, ns) if !ids.is_empty() => {
                    let _ = io.reset_timeout(ids[i.index(ids.len())], ns);
                }
                Step::Tick => io.tick(&mut ctx).unwrap(),
                Step::RunFor(ns) => io.run_for_ns(&mut ctx, ns).unwrap(),
                _ => {}
            }
        }
        io.cancel_all();
        io.run_until_done(&mut ctx).unwrap();
        prop_assert_eq!(io.in_flight(), 0);
        for tag in 0..ids.len() as u64 {
            prop_assert_eq!(ctx.count(tag), 1, "op {} in {:?}", tag, ctx.log);
        }
    }
}
