//! Loop control beyond `flush`: cancellation, timer reset and run modes.
//!
//! The rules that keep "exactly one callback per operation" true:
//! - a canceled operation is not completed on the spot; it is marked with a
//!   forced `ECANCELED` and moved to `completed`, so its callback runs once,
//!   in the next drain, like every other callback;
//! - an operation already on `completed` (a fresh submit, or one whose
//!   descriptor just became ready in this very pass) is only marked: the mark
//!   wins over its syscall, which then never runs;
//! - an id whose slot was released (callback run or running) has a stale
//!   generation and is `NotRunning`.

use super::IO;
use super::op::{Op, Place};
use crate::error::{CancelError, Errno, RunError};
use crate::fd::OpId;
use crate::io::Io;

impl<C> IO<C> {
    /// The slot index of `target` if it is still in flight.
    fn live_slot(&self, target: OpId) -> Result<u32, CancelError> {
        let slot = self.slots.get(target.slot as usize).ok_or(CancelError::NotRunning)?;
        if slot.generation != target.generation || slot.place == Place::Free {
            return Err(CancelError::NotRunning);
        }
        Ok(target.slot)
    }

    /// Withdraws an operation that has not completed. Its callback runs
    /// once, in the next pass, with its error type's `Canceled`.
    ///
    /// A parked network operation leaves its descriptor's wait queue (the
    /// descriptor stays registered: registration is per descriptor, not per
    /// operation), a timeout leaves the heap, a listener leaves its event.
    /// A file operation running on a worker thread cannot be withdrawn
    /// ([`CancelError::Running`]).
    pub fn cancel(&mut self, target: OpId) -> Result<(), CancelError> {
        let index = self.live_slot(target)?;
        if self.slots[index as usize].forced == Some(Errno::ECANCELED) {
            return Err(CancelError::AlreadyCanceled);
        }
        // A listener already on `completed` was fired by a trigger that
        // nobody will see once it completes as canceled: hand it back.
        let fired = self.slots[index as usize].place == Place::Completed;
        self.withdraw(index)?;
        if fired && let Op::EventListen { event, .. } = self.slots[index as usize].op {
            self.return_trigger(event);
        }
        self.slots[index as usize].forced = Some(Errno::ECANCELED);
        Ok(())
    }

    /// Cancels every operation in flight (those on worker threads excepted,
    /// which complete with their real result). Returns how many were
    /// canceled. For shutdown: run the loop afterwards to deliver the
    /// callbacks.
    pub fn cancel_all(&mut self) -> usize {
        let mut canceled = 0;
        for index in 0..self.slots.len() as u32 {
            let slot = &self.slots[index as usize];
            if slot.place == Place::Free || slot.forced == Some(Errno::ECANCELED) {
                continue;
            }
            let target = OpId { slot: index, generation: slot.generation };
            if self.cancel(target).is_ok() {
                canceled += 1;
            }
        }
        canceled
    }

    /// Unlinks operation `index` from wherever it waits and appends it to
    /// `completed`. An operation already there stays where it is.
    fn withdraw(&mut self, index: u32) -> Result<(), CancelError> {
        match self.slots[index as usize].place {
            Place::Free => return Err(CancelError::NotRunning),
            Place::Completed => return Ok(()),
            Place::Pool(_) => return Err(CancelError::Running),
            Place::WaitRead(fd) | Place::WaitWrite(fd) | Place::WaitPool(fd) => {
                let state = &mut self.fds[fd as usize];
                let list = match self.slots[index as usize].place {
                    Place::WaitRead(_) => &mut state.readers,
                    Place::WaitWrite(_) => &mut state.writers,
                    _ => &mut state.closers,
                };
                list.remove(&mut self.links, index);
                self.pending -= 1;
            }
            Place::Timer => {
                self.timers.remove(index);
            }
            Place::Listener(event) => {
                self.events[event as usize].listener = None;
                self.armed_listeners -= 1;
            }
        }
        self.slots[index as usize].place = Place::Completed;
        self.completed.push_back(&mut self.links, index);
        Ok(())
    }

    /// Moves a pending timeout to fire `ns` nanoseconds from now, without a
    /// callback for the old deadline. A timeout that has expired but whose
    /// callback has not run yet is re-armed too. Among timers with the same
    /// deadline, a reset one fires after those armed before the reset.
    pub fn reset_timeout(&mut self, target: OpId, ns: u64) -> Result<(), CancelError> {
        let index = self.live_slot(target)?;
        let slot = &self.slots[index as usize];
        if !matches!(slot.op, Op::Timeout { .. }) {
            return Err(CancelError::NotATimeout);
        }
        if slot.forced == Some(Errno::ECANCELED) {
            return Err(CancelError::AlreadyCanceled);
        }
        match slot.place {
            Place::Timer => {
                self.timers.remove(index);
            }
            Place::Completed => self.completed.remove(&mut self.links, index),
            _ => return Err(CancelError::NotRunning),
        }
        let deadline = self.clock_now().saturating_add(ns);
        self.slots[index as usize].place = Place::Timer;
        self.timers.push(index, deadline);
        Ok(())
    }

    /// Asks the running (or next) `run_for_ns`, `run_once` or
    /// `run_until_done` to return after its current pass. Callable from a
    /// callback. A plain `flush` or `tick` ignores it.
    pub fn stop(&mut self) {
        self.stop_requested = true;
    }

    /// Runs waiting passes until at least one callback has run. Returns at
    /// once if nothing is in flight (nothing could ever run).
    pub fn run_once(&mut self, ctx: &mut C) -> Result<(), RunError> {
        self.run_while(ctx, |io, start| io.callbacks_run == start && io.in_flight() > 0)
    }

    /// Runs waiting passes until nothing is in flight.
    pub fn run_until_done(&mut self, ctx: &mut C) -> Result<(), RunError> {
        self.run_while(ctx, |io, _| io.in_flight() > 0)
    }

    fn run_while(
        &mut self,
        ctx: &mut C,
        mut go_on: impl FnMut(&IO<C>, u64) -> bool,
    ) -> Result<(), RunError> {
        if self.in_flush {
            return Err(RunError::Reentrant);
        }
        let start = self.callbacks_run;
        while go_on(self, start) {
            self.flush(ctx, true)?;
            if std::mem::take(&mut self.stop_requested) {
                break;
            }
        }
        Ok(())
    }
}
