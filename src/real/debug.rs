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
            .field("file_driver", &self.file_driver())
            .field("in_flush", &self.core.in_flush)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::real::IoOptions;

    #[test]
    fn shows_capacity_and_outstanding_work() {
        let mut io: IO<()> = IO::with_options(IoOptions::new(8).file_workers(2)).expect("init");
        crate::io::Io::timeout(&mut io, 1_000_000_000, 0, |_, _, _| {}).expect("timeout");
        assert_eq!(
            format!("{io:?}"),
            "IO { entries: 8, in_flight: 1, timeouts_armed: 1, parked: 0, listeners_armed: 0, \
             file_driver: Workers(2), in_flush: false, .. }"
        );
    }
}
