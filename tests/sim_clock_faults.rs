//! The clock faults of the twin (fault model v2): each node's clock drifts
//! and starts from its own origin, timers fire on their node's clock, and
//! a paused node runs nothing while its clock moves on. For each: it fires,
//! its effect is the documented one (exact virtual times, from the
//! documented rate formula), clocks never go backwards, and a run replays
//! from its seed.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::path::Path;
use std::rc::Rc;

use proptest::prelude::*;
use twinio::*;

const SECOND: u64 = 1_000_000_000;
const MS: u64 = 1_000_000;

/// A callback that ran: its tag, its node, its node's clock and true time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Ran {
    tag: u64,
    node: NodeId,
    local: u64,
    at: u64,
}

#[derive(Default)]
struct Ctx {
    ran: Vec<Ran>,
    accepted: Option<Fd>,
    connected: bool,
    received: Vec<u8>,
    /// Periodic timers re-arm themselves until this true time.
    tick_until: u64,
}

type Sim = SimIO<Ctx>;

fn ran(ctx: &mut Ctx, io: &Sim, tag: u64) {
    let node = io.current_node();
    ctx.ran.push(Ran { tag, node, local: io.now_ns(), at: io.true_now_ns() });
}
fn on_timer(ctx: &mut Ctx, io: &mut Sim, done: TimeoutDone) {
    done.result.unwrap();
    ran(ctx, io, done.tag);
}
fn on_tick(ctx: &mut Ctx, io: &mut Sim, done: TimeoutDone) {
    done.result.unwrap();
    ran(ctx, io, done.tag);
    if io.true_now_ns() < ctx.tick_until {
        io.timeout(MS, done.tag, on_tick).unwrap();
    }
}
fn on_write(ctx: &mut Ctx, io: &mut Sim, done: WriteDone) {
    assert_eq!(done.result, Ok(4096));
    ran(ctx, io, done.tag);
}
fn on_send(ctx: &mut Ctx, io: &mut Sim, done: SendDone) {
    done.result.unwrap();
    ran(ctx, io, done.tag);
}
fn on_recv(ctx: &mut Ctx, io: &mut Sim, done: RecvDone) {
    let n = done.result.unwrap();
    ctx.received.extend_from_slice(&done.buffer[..n]);
    ran(ctx, io, done.tag);
}
fn on_accept(ctx: &mut Ctx, _: &mut Sim, done: AcceptDone) {
    ctx.accepted = Some(done.result.unwrap());
}
fn on_connect(ctx: &mut Ctx, _: &mut Sim, done: ConnectDone) {
    done.result.unwrap();
    ctx.connected = true;
}

fn sim(seed: u64, clock: ClockFaults) -> Sim {
    Sim::new(seed, 64, FaultConfig { clock, ..FaultConfig::none() })
}

fn drift(ppm: u32) -> ClockFaults {
    ClockFaults { drift_ppm: ppm, ..ClockFaults::none() }
}

/// The true time a clock off by `drift` ppm takes to move `ns` on from
/// where its rate began, rounded up (the rate `docs/simulation.md` gives).
fn true_ns_for(drift: i32, ns: u64) -> u64 {
    let rate = (1_000_000 + i128::from(drift)) as u128;
    (u128::from(ns) * 1_000_000).div_ceil(rate) as u64
}

/// What such a clock has moved after `true_ns`, rounded down.
fn local_ns_after(drift: i32, true_ns: u64) -> u64 {
    let rate = (1_000_000 + i128::from(drift)) as u128;
    (u128::from(true_ns) * rate / 1_000_000) as u64
}

/// A simulation with two nodes whose drawn drifts differ.
fn two_drifting_nodes(ppm: u32) -> (Sim, NodeId, i32, i32) {
    for seed in 1.. {
        let mut io = sim(seed, drift(ppm));
        let other = io.add_node();
        let (a, b) =
            (io.clock_drift_ppm(NodeId::FIRST).unwrap(), io.clock_drift_ppm(other).unwrap());
        if a != b {
            return (io, other, a, b);
        }
    }
    unreachable!()
}

// ---- drift and offset ----

#[test]
fn drift_parts_two_clocks_by_their_drawn_rates() {
    let (mut io, other, d0, d1) = two_drifting_nodes(1_000);
    assert!(d0.unsigned_abs() <= 1_000 && d1.unsigned_abs() <= 1_000);
    let start = io.true_now_ns();
    // No offset: both clocks start at true time.
    assert_eq!(io.node_now_ns(NodeId::FIRST).unwrap(), start);
    assert_eq!(io.node_now_ns(other).unwrap(), start);
    // 100 s on node 0's clock (the current node's: a run's deadline is on it).
    io.run_for_ns(&mut Ctx::default(), 100 * SECOND).unwrap();
    let elapsed = io.true_now_ns() - start;
    assert_eq!(elapsed, true_ns_for(d0, 100 * SECOND));
    let local0 = io.node_now_ns(NodeId::FIRST).unwrap() - start;
    let local1 = io.node_now_ns(other).unwrap() - start;
    assert_eq!(local0, local_ns_after(d0, elapsed));
    assert_eq!(local1, local_ns_after(d1, elapsed));
    assert!((100 * SECOND..=100 * SECOND + 1).contains(&local0), "100 s on node 0's clock");
    // 1 ppm over 100 s is 100 µs: the clocks differ by the drifts' difference.
    let gap = local1 as i64 - local0 as i64;
    let expected = i64::from(d1 - d0) * 100_000;
    assert!((gap - expected).abs() <= expected.abs() / 500 + 2, "gap {gap}, expected {expected}");
    assert_eq!(io.now_ns(), io.node_now_ns(NodeId::FIRST).unwrap(), "now_ns: the current node");
    io.set_current_node(other).unwrap();
    assert_eq!(io.now_ns(), io.node_now_ns(other).unwrap());
}

#[test]
fn each_node_starts_from_its_own_offset() {
    let faults = ClockFaults { offset_ns: 1_000 * SECOND, ..ClockFaults::none() };
    let mut io = sim(4, faults);
    let nodes = [NodeId::FIRST, io.add_node(), io.add_node()];
    let now = io.true_now_ns();
    let readings: Vec<u64> = nodes.iter().map(|&n| io.node_now_ns(n).unwrap()).collect();
    assert!(readings.iter().all(|&r| (now..=now + 1_000 * SECOND).contains(&r)), "{readings:?}");
    assert!(readings.windows(2).any(|w| w[0] != w[1]), "offsets are drawn per node");
    // No drift: every clock moves as true time does.
    io.run_for_ns(&mut Ctx::default(), 7 * SECOND).unwrap();
    for (&node, &before) in nodes.iter().zip(&readings) {
        assert_eq!(io.node_now_ns(node).unwrap(), before + 7 * SECOND);
    }
}

// ---- timers on the node's own clock ----

#[test]
fn a_timer_fires_when_its_nodes_clock_reaches_the_deadline() {
    let (mut io, other, d0, d1) = two_drifting_nodes(100_000);
    let start = io.true_now_ns();
    for (tag, node) in [(0, NodeId::FIRST), (1, other)] {
        io.set_current_node(node).unwrap();
        io.timeout(SECOND, tag, on_timer).unwrap();
    }
    let mut ctx = Ctx::default();
    io.run_until_done(&mut ctx).unwrap();
    for (ran, drift) in ctx.ran.iter().map(|r| (r, if r.tag == 0 { d0 } else { d1 })) {
        // At the first true nanosecond its own clock reads the deadline.
        assert_eq!(ran.at, start + true_ns_for(drift, SECOND), "{ran:?}");
        assert!(ran.local >= start + SECOND && ran.local <= start + SECOND + 1, "{ran:?}");
    }
    // The faster clock's timer fires first.
    let first = if d0 > d1 { 0 } else { 1 };
    assert_eq!(ctx.ran[0].tag, first);
    assert_ne!(ctx.ran[0].at, ctx.ran[1].at);
}

#[test]
fn a_reset_timer_stays_on_its_nodes_clock() {
    let (mut io, other, _, d1) = two_drifting_nodes(100_000);
    io.set_current_node(other).unwrap();
    let timer = io.timeout(10 * SECOND, 1, on_timer).unwrap();
    io.set_current_node(NodeId::FIRST).unwrap();
    let mut ctx = Ctx::default();
    io.run_for_ns(&mut ctx, 3 * SECOND).unwrap();
    let local_at_reset = io.node_now_ns(other).unwrap();
    // Reset while node 0 is current: still `other`'s timer, on its clock.
    io.reset_timeout(timer, SECOND).unwrap();
    io.run_until_done(&mut ctx).unwrap();
    let ran = ctx.ran[0];
    assert_eq!(ran.node, other);
    assert!(ran.local >= local_at_reset + SECOND && ran.local <= local_at_reset + SECOND + 1);
    assert_ne!(d1, 0);
}

#[test]
fn a_bounded_run_is_measured_on_the_current_nodes_clock() {
    let (mut io, other, _, d1) = two_drifting_nodes(100_000);
    io.set_current_node(other).unwrap();
    let (local, start) = (io.now_ns(), io.true_now_ns());
    io.timeout(60 * SECOND, 0, on_timer).unwrap();
    let result = io.run_until_done_within(&mut Ctx::default(), 5 * SECOND);
    assert_eq!(result, Err(RunError::DeadlinePassed));
    assert_eq!(io.true_now_ns() - start, true_ns_for(d1, 5 * SECOND));
    assert!(io.now_ns() - local >= 5 * SECOND);
}

// ---- pauses ----

/// Node 0 listens, node 1 connects; node 1 also has a data file. Returns
/// node 1, the server's socket, the client's socket and the client's file.
fn pair(io: &mut Sim, ctx: &mut Ctx) -> (NodeId, Fd, Fd, Fd) {
    let address: SocketAddr = "10.0.0.1:7000".parse().unwrap();
    let listener = io.open_socket(AddressFamily::Ipv4, SocketOptions::default()).unwrap();
    io.listen(listener, address, 4).unwrap();
    io.accept(listener, 0, on_accept).unwrap();
    let client_node = io.add_node();
    io.set_current_node(client_node).unwrap();
    let client = io.open_socket(AddressFamily::Ipv4, SocketOptions::default()).unwrap();
    io.connect(client, address, 0, on_connect).unwrap();
    io.run_until_done(ctx).unwrap();
    assert!(ctx.connected);
    let dir = io.open_dir(Path::new("/data")).unwrap();
    let file = io
        .open_data_file(dir, Path::new("f"), 1 << 20, FilePurpose::Format, DirectIo::Disabled)
        .unwrap();
    (client_node, ctx.accepted.unwrap(), client, file)
}

#[test]
fn a_pause_holds_the_nodes_callbacks_and_its_clock_jumps_forward() {
    let mut io = sim(5, ClockFaults::none());
    let mut ctx = Ctx::default();
    let (paused, server, client, file) = pair(&mut io, &mut ctx);
    io.set_current_node(paused).unwrap();
    io.timeout(100 * MS, 1, on_timer).unwrap();
    let (start, local) = (io.true_now_ns(), io.now_ns());
    io.pause_node(paused, 2 * SECOND).unwrap();
    assert!(io.is_paused(paused) && !io.is_paused(NodeId::FIRST));
    assert_eq!(io.pauses(paused), Ok(1));
    // Submitted during the pause: they start only after it.
    io.write(file, Buffer::from_slice(&[7; 4096]).unwrap(), .., 0, 2, on_write).unwrap();
    io.recv(client, Buffer::new(1000).unwrap(), .., 3, on_recv).unwrap();
    // The other node runs meanwhile, and its data reaches the paused
    // node's socket: the kernel is not paused.
    io.set_current_node(NodeId::FIRST).unwrap();
    io.send(server, Buffer::from_slice(&[9; 100]).unwrap(), .., 4, on_send).unwrap();
    io.run_until_done(&mut ctx).unwrap();
    let end = start + 2 * SECOND;
    let by_tag = |tag| *ctx.ran.iter().find(|r| r.tag == tag).unwrap();
    assert!(by_tag(4).at < end, "the peer ran during the pause");
    for tag in [1, 2, 3] {
        let ran = by_tag(tag);
        assert_eq!((ran.node, ran.at), (paused, end), "{ran:?}: right after the pause");
        // No drift: the clock moved on by the whole pause.
        assert_eq!(ran.local, local + 2 * SECOND);
    }
    assert_eq!(ctx.received, vec![9; 100], "one recv took what arrived during the pause");
    assert!(!io.is_paused(paused));
    assert_eq!(io.paused_ns(paused), Ok(2 * SECOND));
    assert_eq!(io.paused_ns(NodeId::FIRST), Ok(0));
}

fn on_event(ctx: &mut Ctx, io: &mut Sim, done: EventDone) {
    let tag = if done.result.is_ok() { done.tag } else { 100 + done.tag };
    ran(ctx, io, tag);
}

#[test]
fn a_held_listener_canceled_gives_its_trigger_back() {
    let mut io = sim(10, ClockFaults::none());
    let event = io.open_event().unwrap();
    let first = io.event_listen(event, 1, on_event).unwrap();
    let end = io.true_now_ns() + SECOND;
    io.pause_node(NodeId::FIRST, SECOND).unwrap();
    io.event_trigger(event).unwrap();
    let mut ctx = Ctx::default();
    io.run_for_ns(&mut ctx, 10 * MS).unwrap();
    assert!(ctx.ran.is_empty(), "fired, but held by the pause");
    io.cancel(first).unwrap();
    io.event_listen(event, 2, on_event).unwrap();
    io.run_until_done(&mut ctx).unwrap();
    let tags: Vec<u64> = ctx.ran.iter().map(|r| r.tag).collect();
    // The canceled one completes after the pause; the trigger it carried
    // fires the next listener.
    assert_eq!(tags, vec![101, 2]);
    assert!(ctx.ran.iter().all(|r| r.at == end), "{:?}", ctx.ran);
}

#[test]
fn a_crash_ends_a_pause() {
    let mut io = sim(6, ClockFaults::none());
    let node = io.add_node();
    io.pause_node(node, 10 * SECOND).unwrap();
    let before = io.node_now_ns(node).unwrap();
    io.crash_node(node).unwrap();
    io.restart_node(node).unwrap();
    assert!(!io.is_paused(node));
    io.set_current_node(node).unwrap();
    io.timeout(0, 1, on_timer).unwrap();
    let mut ctx = Ctx::default();
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(ctx.ran[0].local, before, "the new process runs at once");
}

#[test]
fn a_restart_draws_a_new_rate_from_the_same_reading() {
    let mut changed = false;
    for seed in 0..16 {
        let mut io = sim(seed, drift(500));
        io.run_for_ns(&mut Ctx::default(), SECOND).unwrap();
        let (reading, rate) = (io.now_ns(), io.clock_drift_ppm(NodeId::FIRST).unwrap());
        io.crash_node(NodeId::FIRST).unwrap();
        io.restart_node(NodeId::FIRST).unwrap();
        assert_eq!(io.now_ns(), reading, "seed {seed}: no jump at the restart");
        changed |= io.clock_drift_ppm(NodeId::FIRST).unwrap() != rate;
    }
    assert!(changed);
}

/// A 1 ms periodic timer on node 0 for 10 s under drawn pauses, drift and
/// an offset; returns the ticks, the pauses the event log saw and the trace.
fn paused_run(seed: u64) -> (Vec<Ran>, Vec<u64>, u64) {
    let clock = ClockFaults {
        drift_ppm: 500,
        offset_ns: 100 * SECOND,
        pause_interval_ns: 100 * MS,
        pause_min_ns: 5 * MS,
        pause_max_ns: 50 * MS,
    };
    let mut io = sim(seed, clock);
    let pauses = Rc::new(RefCell::new(Vec::new()));
    let sink = Rc::clone(&pauses);
    io.set_event_log(Some(Box::new(move |event| {
        if let SimEventKind::Pause { ns } = event.kind {
            sink.borrow_mut().push(ns);
        }
    })));
    let mut ctx = Ctx { tick_until: io.true_now_ns() + 10 * SECOND, ..Ctx::default() };
    io.timeout(MS, 0, on_tick).unwrap();
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(io.pauses(NodeId::FIRST).unwrap(), pauses.borrow().len() as u64);
    let pauses = pauses.borrow().clone();
    (ctx.ran, pauses, io.trace_hash())
}

#[test]
fn drawn_pauses_fire_delay_timers_and_replay_from_the_seed() {
    let (ticks, pauses, hash) = paused_run(7);
    // About one pause per 100 ms of true time.
    assert!((30..300).contains(&pauses.len()), "{} pauses", pauses.len());
    assert!(pauses.iter().all(|&ns| (5 * MS..=50 * MS).contains(&ns)), "{pauses:?}");
    let gaps: Vec<u64> = ticks.windows(2).map(|w| w[1].local - w[0].local).collect();
    assert!(gaps.iter().all(|&gap| gap >= MS), "a timer never fires early");
    let long = gaps.iter().filter(|&&gap| gap >= 5 * MS).count();
    assert!(long > 0 && long <= pauses.len(), "{long} long gaps, {} pauses", pauses.len());
    assert_eq!(paused_run(7), (ticks.clone(), pauses, hash), "replays from its seed");
    assert_ne!(paused_run(8).2, hash, "another seed, another run");
}

#[test]
fn clock_faults_off_draw_nothing_and_leave_the_trace_alone() {
    // Pauses off (interval 0) whatever their lengths, no drift, no offset:
    // nothing is drawn or recorded; a drift is recorded.
    let run = |clock| {
        let mut io = sim(3, clock);
        io.timeout(SECOND, 0, on_timer).unwrap();
        io.run_until_done(&mut Ctx::default()).unwrap();
        io.trace_hash()
    };
    assert_eq!(
        run(ClockFaults::none()),
        run(ClockFaults { pause_min_ns: 9, ..ClockFaults::none() })
    );
    assert_ne!(run(ClockFaults::none()), run(drift(10)));
}

// ---- never backwards ----

#[derive(Clone, Debug)]
enum Step {
    Timer { node: usize, ns: u64 },
    Pause { node: usize, ns: u64 },
    CrashRestart { node: usize },
    Run { ns: u64 },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0..3usize, 0..2 * SECOND).prop_map(|(node, ns)| Step::Timer { node, ns }),
        (0..3usize, 0..3 * SECOND).prop_map(|(node, ns)| Step::Pause { node, ns }),
        (0..3usize).prop_map(|node| Step::CrashRestart { node }),
        (0..SECOND).prop_map(|ns| Step::Run { ns }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn clocks_never_go_backwards_and_timers_never_fire_early(
        seed in any::<u64>(),
        drift_ppm in 0..=100_000u32,
        offset_ns in 0..=10_000 * SECOND,
        pause_interval_ns in prop_oneof![Just(0), 1..=2 * SECOND],
        pause_min_ns in 0..=100 * MS,
        pause_max_ns in 0..=3 * SECOND,
        steps in prop::collection::vec(step(), 1..40),
    ) {
        let clock = ClockFaults { drift_ppm, offset_ns, pause_interval_ns, pause_min_ns, pause_max_ns };
        let mut io = sim(seed, clock);
        let nodes = [NodeId::FIRST, io.add_node(), io.add_node()];
        let mut ctx = Ctx::default();
        let mut last = [0u64; 3];
        // Timers armed: tag -> (node, reading when armed + its duration).
        let mut due: Vec<(usize, u64)> = Vec::new();
        let mut checked = 0;
        for step in steps {
            match step {
                Step::Timer { node, ns } => {
                    io.set_current_node(nodes[node]).unwrap();
                    let tag = due.len() as u64;
                    if io.timeout(ns, tag, on_timer).is_ok() {
                        due.push((node, io.now_ns() + ns));
                    } else {
                        due.push((node, u64::MAX));
                    }
                }
                Step::Pause { node, ns } => io.pause_node(nodes[node], ns).unwrap(),
                Step::CrashRestart { node } => {
                    io.crash_node(nodes[node]).unwrap();
                    io.restart_node(nodes[node]).unwrap();
                }
                Step::Run { ns } => io.run_for_ns(&mut ctx, ns).unwrap(),
            }
            for (at, &node) in nodes.iter().enumerate() {
                let reading = io.node_now_ns(node).unwrap();
                prop_assert!(reading >= last[at], "node {at} went back: {} -> {reading}", last[at]);
                last[at] = reading;
            }
            for ran in &ctx.ran[checked..] {
                let (node, deadline) = due[ran.tag as usize];
                prop_assert_eq!(ran.node, nodes[node]);
                prop_assert!(ran.local >= deadline, "fired early: {:?}, due {}", ran, deadline);
                prop_assert!(ran.local <= last[node], "a callback's reading is a reading of its clock");
            }
            checked = ctx.ran.len();
        }
    }
}

// ---- the configuration ----

#[test]
fn swarm_draws_each_clock_fault_on_and_off_and_display_shows_it() {
    let configs: Vec<ClockFaults> = (0..64).map(|s| FaultConfig::swarm(s).clock).collect();
    let varies =
        |on: &dyn Fn(&ClockFaults) -> bool| configs.iter().any(on) && !configs.iter().all(on);
    assert!(varies(&|c| c.drift_ppm > 0));
    assert!(varies(&|c| c.offset_ns > 0));
    assert!(varies(&|c| c.pause_interval_ns > 0));
    assert!(configs.iter().all(|c| c.drift_ppm <= 2_000 && c.pause_min_ns <= c.pause_max_ns));
    assert_eq!(FaultConfig::none().clock, ClockFaults::none());
    let none = ClockFaults::none();
    assert!(none.drift_ppm == 0 && none.offset_ns == 0 && none.pause_interval_ns == 0);
    let text = FaultConfig::swarm(5).to_string();
    for field in ["clock: drift=", "offset=", "pause_interval=", "pause="] {
        assert!(text.contains(field), "{text}");
    }
    let swarm = FaultConfig::swarm(5);
    assert_eq!(swarm.liveness().clock, swarm.clock, "how machines behave: kept");
}

#[test]
fn turning_pauses_on_later_schedules_them() {
    let mut io = sim(9, ClockFaults::none());
    let mut faults = *io.faults();
    faults.clock = ClockFaults {
        pause_interval_ns: 10 * MS,
        pause_min_ns: MS,
        pause_max_ns: MS,
        ..faults.clock
    };
    io.set_faults(faults);
    let mut ctx = Ctx { tick_until: io.true_now_ns() + SECOND, ..Ctx::default() };
    io.timeout(MS, 0, on_tick).unwrap();
    io.run_until_done(&mut ctx).unwrap();
    assert!(io.pauses(NodeId::FIRST).unwrap() > 10);
    io.set_faults(FaultConfig::none());
    let before = io.pauses(NodeId::FIRST).unwrap();
    ctx.tick_until = io.true_now_ns() + SECOND;
    io.timeout(MS, 0, on_tick).unwrap();
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(io.pauses(NodeId::FIRST).unwrap(), before, "off again");
}

#[test]
fn extreme_configurations_neither_panic_nor_hang() {
    let clock = ClockFaults {
        drift_ppm: u32::MAX,
        offset_ns: u64::MAX,
        pause_interval_ns: 1,
        pause_min_ns: 0,
        pause_max_ns: u64::MAX,
    };
    for seed in 0..8 {
        let mut io = sim(seed, clock);
        let other = io.add_node();
        assert!(io.clock_drift_ppm(other).unwrap().unsigned_abs() <= 100_000, "capped");
        let mut ctx = Ctx { tick_until: io.true_now_ns() + SECOND, ..Ctx::default() };
        io.timeout(MS, 0, on_tick).unwrap();
        io.set_current_node(other).unwrap();
        io.timeout(u64::MAX, 1, on_timer).unwrap();
        io.pause_node(other, u64::MAX).unwrap();
        io.pause_node(other, u64::MAX).unwrap();
        io.run_for_ns(&mut ctx, SECOND).unwrap();
        io.run_until_done(&mut ctx).unwrap();
        assert!(io.paused_ns(other).unwrap() > 0);
        io.crash_node(other).unwrap();
        io.restart_node(other).unwrap();
        let _ = (io.now_ns(), io.node_now_ns(NodeId::FIRST), io.pauses(other));
    }
}

#[test]
fn the_event_log_stamps_each_event_with_its_nodes_clock() {
    let faults = ClockFaults { offset_ns: 1_000 * SECOND, ..ClockFaults::none() };
    let mut io = sim(11, faults);
    let other = io.add_node();
    let stamps = Rc::new(RefCell::new(Vec::new()));
    let sink = Rc::clone(&stamps);
    io.set_event_log(Some(Box::new(move |event| {
        sink.borrow_mut().push((event.node, event.at_ns))
    })));
    for node in [NodeId::FIRST, other] {
        io.set_current_node(node).unwrap();
        io.timeout(SECOND, 0, on_timer).unwrap();
    }
    let mut ctx = Ctx::default();
    io.run_until_done(&mut ctx).unwrap();
    let stamps = stamps.borrow();
    assert_eq!(stamps.len(), 4, "two submits, two completions");
    for ran in &ctx.ran {
        assert!(stamps.contains(&(ran.node, ran.local)), "{ran:?} in {stamps:?}");
    }
    assert_ne!(io.node_now_ns(NodeId::FIRST), io.node_now_ns(other), "offsets drawn apart");
}
