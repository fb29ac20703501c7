//! Timers armed from a pass that had none: a pass with no timer armed and no
//! run deadline skips the clock, so the first timer armed by a callback of
//! pure network IO must still be seen and fired by the following passes.

use std::io::Write as _;
use std::os::fd::IntoRawFd;
use std::os::unix::net::UnixStream;

use twinio::{Buffer, Fd, IO, Io, RecvDone, TimeoutDone};

#[derive(Default)]
struct Ctx {
    received: usize,
    /// Tags of the timeouts that fired, in order.
    fired: Vec<u64>,
}

const YIELD: u64 = 1;
const ONE_MS: u64 = 2;

fn on_timeout(ctx: &mut Ctx, _: &mut IO<Ctx>, done: TimeoutDone) {
    assert_eq!(done.result, Ok(()));
    ctx.fired.push(done.tag);
}

fn on_recv(ctx: &mut Ctx, io: &mut IO<Ctx>, done: RecvDone) {
    ctx.received += done.result.expect("recv");
    io.timeout(0, YIELD, on_timeout).expect("arm the yield");
    io.timeout(1_000_000, ONE_MS, on_timeout).expect("arm the 1 ms timeout");
}

#[test]
fn a_timer_armed_by_a_network_callback_fires() {
    let (ours, mut theirs) = UnixStream::pair().unwrap();
    ours.set_nonblocking(true).unwrap();
    let socket = Fd::from_raw(ours.into_raw_fd());
    let mut io: IO<Ctx> = IO::init(8).unwrap();
    let mut ctx = Ctx::default();

    io.recv(socket, Buffer::new(16).unwrap(), .., 0, on_recv).unwrap();
    io.flush(&mut ctx, false).unwrap(); // parks the recv: no data yet
    assert_eq!(io.timeouts_armed(), 0);
    theirs.write_all(b"ping").unwrap();
    // Passes with no timer armed (the clock unread) until the recv lands.
    for _ in 0..1_000 {
        if ctx.received > 0 {
            break;
        }
        io.flush(&mut ctx, true).unwrap();
    }
    assert_eq!(ctx.received, 4);
    assert!(ctx.fired.is_empty(), "a zero timeout is a yield: not in the arming pass");
    assert_eq!(io.timeouts_armed(), 2);

    io.flush(&mut ctx, false).unwrap();
    // (The 1 ms timeout may fire in this pass too on a slow machine.)
    assert_eq!(ctx.fired.first(), Some(&YIELD), "the yield fires in the next pass");

    // Each waiting pass sleeps until the nearest deadline, so this ends
    // after about 1 ms; the bound only guards against a hang.
    for _ in 0..10_000 {
        if ctx.fired.len() == 2 {
            break;
        }
        io.flush(&mut ctx, true).unwrap();
    }
    assert_eq!(ctx.fired, [YIELD, ONE_MS]);
    assert_eq!(io.timeouts_armed(), 0);

    io.close(socket, 0, |_, _, _| {}).unwrap();
    io.run_until_done(&mut ctx).unwrap();
}
