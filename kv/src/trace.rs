//! An event log for explaining one run: lines stamped with virtual time,
//! shared by the store and the simulation's clients so they interleave in
//! the order they happened. Off unless asked for (`vopr --seed S --trace`);
//! when off, nothing is formatted.

use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

/// Where trace lines go. Cloning shares the log.
#[derive(Clone, Default)]
pub struct Trace(Rc<RefCell<Vec<String>>>);

impl fmt::Debug for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Trace({} lines)", self.0.borrow().len())
    }
}

impl Trace {
    /// Appends `what` at virtual time `now_ns`.
    pub fn note(&self, now_ns: u64, what: impl fmt::Display) {
        let seconds = now_ns / 1_000_000_000;
        let micros = now_ns % 1_000_000_000 / 1_000;
        self.0.borrow_mut().push(format!("{seconds:>4}.{micros:06} s  {what}"));
    }

    /// Takes every line so far.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut self.0.borrow_mut())
    }
}
