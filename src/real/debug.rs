//! `Debug` for the real IO: what a reader of a log needs, not its tables.

use std::fmt;

use super::IO;

impl<C> fmt::Debug for IO<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IO")
            .field("entries", &self.core.slots.len())
            .field("in_flight", &self.core.in_flight())
            .field("timeouts_armed", &self.core.timers.len())
            .field("parked", &self.pending)
            .field("listeners_armed", &self.core.events.armed)
            .field("file_workers", &self.file_workers())
            .field("in_flush", &self.core.in_flush)
            .finish_non_exhaustive()
    }
}
