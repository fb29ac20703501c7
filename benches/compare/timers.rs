//! Timer workloads: many concurrent timeouts armed and fired (`IO` vs
//! tokio), and the cost of one loop pass with many far-future timers armed.

use std::time::Duration;

use tokio::runtime::{Builder, Runtime};
use twinio::{IO, Io, TimeoutDone};

/// Deadline of timer `i`: spread over [1 ms, 2 ms), the same on both sides.
fn deadline_ns(i: usize) -> u64 {
    1_000_000 + (i as u64 * 7_919 % 1_000) * 1_000
}

struct FireCtx {
    fired: usize,
}

fn fired(ctx: &mut FireCtx, _io: &mut IO<FireCtx>, done: TimeoutDone) {
    assert_eq!(done.result, Ok(()), "timeout");
    ctx.fired += 1;
}

/// `count` timeouts through `IO`, slots reserved once.
pub struct TimersIo {
    io: IO<FireCtx>,
    count: usize,
}

impl TimersIo {
    pub fn new(count: usize) -> TimersIo {
        TimersIo { io: IO::init(count as u32).expect("init"), count }
    }

    /// Arms every timer, then runs the loop until all fired.
    pub fn run(&mut self) {
        let mut ctx = FireCtx { fired: 0 };
        for i in 0..self.count {
            self.io.timeout(deadline_ns(i), i as u64, fired).expect("arm");
        }
        while ctx.fired < self.count {
            self.io.flush(&mut ctx, true).expect("flush");
        }
    }
}

/// The same with tokio: a task per timer awaiting `tokio::time::sleep`
/// (the idiomatic way to hold many concurrent timeouts), on the
/// current-thread runtime with the real clock (not paused).
pub struct TimersTokio {
    runtime: Runtime,
    count: usize,
}

impl TimersTokio {
    pub fn new(count: usize) -> TimersTokio {
        let runtime = Builder::new_current_thread().enable_all().build().expect("runtime");
        TimersTokio { runtime, count }
    }

    pub fn run(&mut self) {
        let count = self.count;
        self.runtime.block_on(async move {
            let mut tasks = Vec::with_capacity(count);
            for i in 0..count {
                let ns = deadline_ns(i);
                tasks.push(tokio::spawn(tokio::time::sleep(Duration::from_nanos(ns))));
            }
            for task in tasks {
                task.await.expect("join");
            }
        })
    }
}

struct FlushCtx {
    fired: u64,
}

fn yielded(ctx: &mut FlushCtx, _io: &mut IO<FlushCtx>, _done: TimeoutDone) {
    ctx.fired += 1;
}

fn never(_ctx: &mut FlushCtx, _io: &mut IO<FlushCtx>, _done: TimeoutDone) {
    unreachable!("armed an hour ahead: never fires during the benchmark")
}

/// An `IO` holding `pending` timers an hour ahead.
pub struct FlushCost {
    io: IO<FlushCtx>,
    ctx: FlushCtx,
}

impl FlushCost {
    pub fn new(pending: usize) -> FlushCost {
        let mut io: IO<FlushCtx> = IO::init(pending as u32 + 1).expect("init");
        for i in 0..pending {
            // Distinct deadlines, so the heap is a real heap, not ties.
            io.timeout(3_600_000_000_000 + i as u64 * 997 % 1_000_003, 0, never).expect("arm");
        }
        FlushCost { io, ctx: FlushCtx { fired: 0 } }
    }

    /// Runs `passes` passes in each of which one timer is armed and fires: a zero
    /// timeout (a yield) goes into the heap above every pending timer and
    /// comes out again, so each pass sifts through the heap's height.
    pub fn fire_one(&mut self, passes: u64) {
        let before = self.ctx.fired;
        for _ in 0..passes {
            self.io.timeout(0, 0, yielded).expect("arm");
            self.io.tick(&mut self.ctx).expect("tick");
        }
        assert_eq!(self.ctx.fired - before, passes, "every yield fired in its pass");
    }

    /// Runs `passes` passes with nothing due: the loop only peeks at the
    /// heap's top.
    pub fn idle(&mut self, passes: u64) {
        for _ in 0..passes {
            self.io.tick(&mut self.ctx).expect("tick");
        }
    }
}
