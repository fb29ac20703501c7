//! The user-event state machine, shared by both backends.
//!
//! An event has at most one listener. A trigger fires the armed listener
//! (moving it to `completed`); a trigger while the fired listener's
//! callback has not started coalesces into that completion; a trigger with
//! no listener is remembered, so the next listener fires at once. The
//! backend only creates and closes what backs an event (an eventfd or a
//! kqueue knote; nothing in the twin) and reports the kernel's triggers.

use super::Backend;
use super::op::{Op, Place};
use super::submit::listener_slot;
use crate::done::EventDone;
use crate::error::{Errno, EventError, SubmitError};
use crate::fd::{EventId, OpId};
use crate::io::Callback;

/// One user event.
pub(crate) struct EventSlot<D> {
    pub generation: u32,
    /// What the backend keeps while the event is open.
    pub data: Option<D>,
    /// The armed listener's op slot.
    pub listener: Option<u32>,
    /// A trigger arrived while no listener was armed.
    pub pending: bool,
    /// A listener fired and its callback has not started: triggers
    /// arriving now coalesce into that completion.
    pub fired: bool,
}

pub(crate) struct Events<D> {
    pub slots: Vec<EventSlot<D>>,
    free: Vec<u32>,
    /// Listeners armed (waiting for a trigger).
    pub armed: usize,
}

impl<D> Events<D> {
    pub(crate) fn new() -> Events<D> {
        Events { slots: Vec::new(), free: Vec::new(), armed: 0 }
    }

    /// The key the backend files event `index` under: its generation and
    /// index, so a report for a closed event never reaches its successor.
    pub(crate) fn key(index: u32, generation: u32) -> u64 {
        (u64::from(generation) << 32) | u64::from(index)
    }

    /// The open event filed under `key`.
    pub(crate) fn by_key(&self, key: u64) -> Option<(u32, &D)> {
        let index = key as u32;
        let slot = self.slots.get(index as usize)?;
        if slot.generation != (key >> 32) as u32 {
            return None;
        }
        Some((index, slot.data.as_ref()?))
    }

    /// Closes event `index` without a callback for its listener (the twin's
    /// crash, whose listener was already dropped with the node's
    /// operations). Returns what backed it.
    pub(crate) fn close_silently(&mut self, index: usize) -> Option<D> {
        let slot = &mut self.slots[index];
        let data = slot.data.take()?;
        debug_assert!(slot.listener.is_none());
        slot.generation = slot.generation.wrapping_add(1);
        slot.pending = false;
        slot.fired = false;
        self.free.push(index as u32);
        Some(data)
    }
}

/// The index of the open event `event` names, if the caller may use it.
pub(crate) fn lookup<B: Backend>(io: &B, event: EventId) -> Option<usize> {
    let core = io.core();
    if event.io != core.id {
        return None;
    }
    let slot = core.events.slots.get(event.index as usize)?;
    let data = slot.data.as_ref()?;
    (slot.generation == event.generation && io.event_visible(data)).then_some(event.index as usize)
}

pub(crate) fn open<B: Backend>(io: &mut B) -> Result<EventId, EventError> {
    let events = &mut io.core_mut().events;
    let index = match events.free.pop() {
        Some(index) => index,
        None => {
            // Index u32::MAX is never handed out: the real IO files its
            // worker pool's wake-up under that key.
            let index = u32::try_from(events.slots.len())
                .ok()
                .filter(|&index| index < u32::MAX)
                .ok_or(EventError::SystemResources)?;
            events.slots.push(EventSlot {
                generation: 0,
                data: None,
                listener: None,
                pending: false,
                fired: false,
            });
            index
        }
    };
    let generation = io.core().events.slots[index as usize].generation;
    match io.open_event_data(Events::<B::EventData>::key(index, generation)) {
        Ok(data) => {
            let slot = &mut io.core_mut().events.slots[index as usize];
            slot.data = Some(data);
            slot.listener = None;
            slot.pending = false;
            slot.fired = false;
            Ok(EventId { index, generation, io: io.core().id })
        }
        Err(error) => {
            io.core_mut().events.free.push(index);
            Err(error)
        }
    }
}

pub(crate) fn listen<B: Backend>(
    io: &mut B,
    event: EventId,
    tag: u64,
    callback: Callback<B, EventDone>,
) -> Result<OpId, SubmitError> {
    let at = lookup(io, event).ok_or(SubmitError::UnknownEvent)?;
    let slot = &io.core().events.slots[at];
    // One listener per event: armed, or fired with its callback to come.
    if slot.listener.is_some() || slot.fired {
        return Err(SubmitError::AlreadyListening);
    }
    let (index, id) = listener_slot(io, Op::EventListen { event, tag, callback })?;
    let core = io.core_mut();
    let event_slot = &mut core.events.slots[at];
    if std::mem::take(&mut event_slot.pending) {
        // A trigger arrived since the last delivery: fire now.
        event_slot.fired = true;
        core.make_ready(index);
    } else {
        event_slot.listener = Some(index);
        core.events.armed += 1;
        core.slots[index as usize].place = Place::Listener(at as u32);
    }
    io.submitted(index);
    Ok(id)
}

/// A trigger from the loop thread: no syscall, delivered directly.
pub(crate) fn trigger<B: Backend>(io: &mut B, event: EventId) -> Result<(), EventError> {
    let at = lookup(io, event).ok_or(EventError::UnknownEvent)?;
    deliver(io, at as u32);
    Ok(())
}

pub(crate) fn close<B: Backend>(io: &mut B, event: EventId) -> Result<(), EventError> {
    let at = lookup(io, event).ok_or(EventError::UnknownEvent)?;
    let core = io.core_mut();
    let slot = &mut core.events.slots[at];
    let listener = slot.listener.take();
    let data = core.events.close_silently(at).expect("lookup found it open");
    if let Some(index) = listener {
        core.events.armed -= 1;
        core.slots[index as usize].outcome = Some(Err(Errno::ECANCELED));
        core.make_ready(index);
    }
    io.close_event_data(data);
    Ok(())
}

/// A trigger of open event `index`: fires the armed listener, coalesces
/// into a fired listener whose callback has not started (it will see what
/// the trigger announces), or is kept for the next listener.
pub(crate) fn deliver<B: Backend>(io: &mut B, index: u32) {
    let core = io.core_mut();
    let slot = &mut core.events.slots[index as usize];
    match slot.listener.take() {
        Some(op) => {
            slot.fired = true;
            core.events.armed -= 1;
            core.make_ready(op);
        }
        None if slot.fired => {}
        None => slot.pending = true,
    }
}

/// Whether `event` still names the open event it named when issued.
fn still_open<D>(events: &Events<D>, event: EventId) -> bool {
    events
        .slots
        .get(event.index as usize)
        .is_some_and(|slot| slot.data.is_some() && slot.generation == event.generation)
}

/// A canceled listener that a trigger had fired gives the trigger back to
/// its event (if still open): to the listener armed since, or kept pending.
pub(crate) fn return_trigger<B: Backend>(io: &mut B, event: EventId) {
    if still_open(&io.core().events, event) {
        io.core_mut().events.slots[event.index as usize].fired = false;
        deliver(io, event.index);
    }
}

/// A listener of `event` is delivered (its callback is about to start):
/// triggers from now on are for the next listener.
pub(crate) fn delivered<D>(events: &mut Events<D>, event: EventId) {
    if still_open(events, event) {
        events.slots[event.index as usize].fired = false;
    }
}
