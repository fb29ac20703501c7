//! The user-event semantics both IO targets check listeners against (the
//! `Io` trait's: one listener per event — an armed one, or a fired one
//! whose callback has not started — and triggers coalesce):
//! - a trigger fires the armed listener; with none armed it is remembered
//!   for the next listen, unless a fired listener's callback has not started
//!   yet (that callback announces this trigger too);
//! - canceling a fired listener whose callback has not started hands its
//!   trigger back to the event (to the armed listener, or remembered);
//! - closing an event withdraws its armed listener and forgets the rest.
//!
//! Ops are the targets' op numbers. A listener completes `Ok` only if it is
//! in [`Events::fired`]; `Canceled` only if the target withdrew it.

use twinio::EventId;

struct Event {
    id: EventId,
    open: bool,
    /// The armed listener.
    listener: Option<usize>,
    /// A trigger no listener has taken.
    pending: bool,
    /// A fired listener whose callback has not started.
    fired: Option<usize>,
}

#[derive(Default)]
pub struct Events {
    events: Vec<Event>,
    /// Every listener a trigger fired (and no cancel took back).
    fired: Vec<usize>,
}

impl Events {
    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn add(&mut self, id: EventId) {
        self.events.push(Event { id, open: true, listener: None, pending: false, fired: None });
    }

    /// The event's id, whether it is open, and whether it has its one
    /// listener (armed, or fired with its callback still to start): a
    /// second listen is then refused.
    pub fn state(&self, index: usize) -> (EventId, bool, bool) {
        let event = &self.events[index];
        (event.id, event.open, event.listener.is_some() || event.fired.is_some())
    }

    /// Ids of the events still open.
    #[allow(dead_code)] // only `real_io` closes its events at the end
    pub fn open_ids(&self) -> Vec<EventId> {
        self.events.iter().filter(|event| event.open).map(|event| event.id).collect()
    }

    /// `op` listens on open event `index` (accepted).
    pub fn listened(&mut self, index: usize, op: usize) {
        let event = &mut self.events[index];
        if std::mem::take(&mut event.pending) {
            event.fired = Some(op);
            self.fired.push(op);
        } else {
            event.listener = Some(op);
        }
    }

    /// Open event `index` was triggered.
    pub fn triggered(&mut self, index: usize) {
        Self::deliver(&mut self.events[index], &mut self.fired);
    }

    fn deliver(event: &mut Event, fired: &mut Vec<usize>) {
        match event.listener.take() {
            Some(op) => {
                event.fired = Some(op);
                fired.push(op);
            }
            None if event.fired.is_some() => {}
            None => event.pending = true,
        }
    }

    /// Open event `index` was closed; returns the listener it withdrew.
    pub fn closed(&mut self, index: usize) -> Option<usize> {
        let event = &mut self.events[index];
        event.open = false;
        event.pending = false;
        event.fired = None;
        event.listener.take()
    }

    /// `op` (of any kind) was canceled while in flight.
    pub fn canceled(&mut self, op: usize) {
        for event in &mut self.events {
            if event.listener == Some(op) {
                event.listener = None;
            }
            if event.fired == Some(op) {
                event.fired = None;
                self.fired.retain(|&f| f != op);
                Self::deliver(event, &mut self.fired);
            }
        }
    }

    /// The callback of listener `op` started.
    pub fn started(&mut self, op: usize) {
        for event in &mut self.events {
            if event.fired == Some(op) {
                event.fired = None;
            }
        }
    }

    /// True if listener `op` may complete `Ok`.
    pub fn may_succeed(&self, op: usize) -> bool {
        self.fired.contains(&op)
    }

    /// The process died: every event is gone, with its listeners.
    #[allow(dead_code)] // only `sim_ops` crashes its node
    pub fn crashed(&mut self) {
        for event in &mut self.events {
            event.open = false;
            event.pending = false;
            event.fired = None;
            event.listener = None;
        }
    }
}
