//! Loop control of the twin: cancellation, timer reset and run modes, with
//! the real IO's rules (`src/real/control.rs`):
//! - a canceled operation is marked with a forced `ECANCELED` and moved to
//!   the ready FIFO, so its callback runs once, in the next drain;
//! - an operation already in the ready FIFO is only marked: the mark wins
//!   over running it (a canceled write writes nothing, a canceled recv
//!   consumes nothing);
//! - an id whose slot was released has a stale generation: `NotRunning`.

use super::SimIO;
use super::op::{Op, Place};
use crate::error::{CancelError, Errno, RunError};
use crate::fd::{EventId, OpId};

impl<C> SimIO<C> {
    /// The slot index of `target` if it is still in flight.
    fn live_slot(&self, target: OpId) -> Result<u32, CancelError> {
        let slot = self.slots.get(target.slot as usize).ok_or(CancelError::NotRunning)?;
        if slot.generation != target.generation || slot.place == Place::Free {
            return Err(CancelError::NotRunning);
        }
        Ok(target.slot)
    }

    /// Withdraws an operation that has not completed; see
    /// [`crate::Io::cancel`]. A queued storage operation leaves the event
    /// queue without touching its file.
    pub fn cancel(&mut self, target: OpId) -> Result<(), CancelError> {
        let index = self.live_slot(target)?;
        if self.slots[index as usize].forced == Some(Errno::ECANCELED) {
            return Err(CancelError::AlreadyCanceled);
        }
        // A listener already in the ready FIFO was fired by a trigger that
        // nobody will see once it completes as canceled: hand it back.
        let fired = self.slots[index as usize].place == Place::Ready;
        self.withdraw(index);
        if fired && let Op::EventListen { event, .. } = self.slots[index as usize].op {
            self.return_trigger(event);
        }
        self.slots[index as usize].forced = Some(Errno::ECANCELED);
        Ok(())
    }

    /// Gives a trigger back to `event` (if it is still open): to the
    /// listener armed since, or kept pending for the next one.
    fn return_trigger(&mut self, event: EventId) {
        let Some(slot) = self.events.get_mut(event.index as usize) else { return };
        if !slot.open || slot.generation != event.generation {
            return;
        }
        slot.fired = false;
        self.deliver_trigger(event.index as usize);
    }

    /// A trigger of open event `at`: fires the armed listener, coalesces
    /// into a fired listener whose callback has not started (it will see
    /// what the trigger announces), or is kept for the next listener.
    pub(crate) fn deliver_trigger(&mut self, at: usize) {
        let event = &mut self.events[at];
        match event.listener.take() {
            Some(index) => {
                event.fired = true;
                self.armed_listeners -= 1;
                self.slots[index as usize].place = Place::Ready;
                self.ready.push_back(&mut self.links, index);
            }
            None if event.fired => {}
            None => event.pending = true,
        }
    }

    /// A listener of `event` is delivered (its callback is about to
    /// start): triggers from now on are for the next listener.
    pub(crate) fn listener_delivered(&mut self, event: EventId) {
        if let Some(slot) = self.events.get_mut(event.index as usize)
            && slot.open
            && slot.generation == event.generation
        {
            slot.fired = false;
        }
    }

    /// Cancels every operation in flight; returns how many were canceled.
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
    /// the ready FIFO (one already there stays where it is).
    fn withdraw(&mut self, index: u32) {
        match self.slots[index as usize].place {
            Place::Free | Place::Ready => return,
            Place::Parked => self.parked.remove(&mut self.links, index),
            Place::Queued => {
                self.queue.remove(index);
            }
            Place::Listener(event) => {
                self.events[event as usize].listener = None;
                self.armed_listeners -= 1;
            }
        }
        let slot = &mut self.slots[index as usize];
        slot.place = Place::Ready;
        slot.due = false;
        self.ready.push_back(&mut self.links, index);
    }

    /// Moves a pending timeout to fire `ns` nanoseconds from now, without a
    /// callback for the old deadline; see [`crate::Io::reset_timeout`].
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
            Place::Queued => {
                self.queue.remove(index);
            }
            Place::Ready => self.ready.remove(&mut self.links, index),
            _ => return Err(CancelError::NotRunning),
        }
        let deadline = self.clock.now().saturating_add(ns);
        self.slots[index as usize].place = Place::Queued;
        self.queue.push(index, deadline);
        Ok(())
    }

    /// Asks the running (or next) `run_for_ns`, `run_once` or
    /// `run_until_done` to return after its current pass.
    pub fn stop(&mut self) {
        self.stop_requested = true;
    }

    /// Operations accepted whose callback has not run yet.
    pub fn in_flight(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// Timeouts and storage operations waiting in the event queue.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Runs waiting passes until at least one callback has run; returns at
    /// once if nothing is in flight.
    pub fn run_once(&mut self, ctx: &mut C) -> Result<(), RunError> {
        self.run_while(ctx, |io, start| io.callbacks_run == start && io.in_flight() > 0)
    }

    /// Runs waiting passes until nothing is in flight (or `stop`).
    pub fn run_until_done(&mut self, ctx: &mut C) -> Result<(), RunError> {
        self.run_while(ctx, |io, _| io.in_flight() > 0)
    }

    /// Runs the loop until `ns` nanoseconds of virtual time have passed
    /// (or `stop`), jumping straight from one due event to the next.
    pub fn run_for_ns(&mut self, ctx: &mut C, ns: u64) -> Result<(), RunError> {
        if self.in_flush {
            return Err(RunError::Reentrant);
        }
        let deadline = self.clock.now().saturating_add(ns);
        loop {
            self.flush_guarded(ctx, true, Some(deadline))?;
            if std::mem::take(&mut self.stop_requested) || self.clock.now() >= deadline {
                return Ok(());
            }
        }
    }

    fn run_while(
        &mut self,
        ctx: &mut C,
        mut go_on: impl FnMut(&SimIO<C>, u64) -> bool,
    ) -> Result<(), RunError> {
        if self.in_flush {
            return Err(RunError::Reentrant);
        }
        let start = self.callbacks_run;
        while go_on(self, start) {
            self.flush_guarded(ctx, true, None)?;
            if std::mem::take(&mut self.stop_requested) {
                break;
            }
        }
        Ok(())
    }
}
