//! `Debug` for [`IO`]: what a user inspecting a loop wants to see (its
//! capacity and what is outstanding), not the internal tables.

use std::fmt;

use super::IO;

impl<C> fmt::Debug for IO<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IO")
            .field("entries", &self.entries())
            .field("in_flight", &self.in_flight())
            .field("timeouts_armed", &self.timeouts_armed())
            .field("file_workers", &self.pool.as_ref().map_or(0, |pool| pool.threads()))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::real::IoOptions;

    #[test]
    fn shows_capacity_and_outstanding_work() {
        let mut io: IO<()> =
            IO::with_options(IoOptions { file_workers: 2, ..IoOptions::new(8) }).expect("init");
        crate::io::Io::timeout(&mut io, 1_000_000_000, 0, |_, _, _| {}).expect("timeout");
        let shown = format!("{io:?}");
        assert_eq!(
            shown,
            "IO { entries: 8, in_flight: 1, timeouts_armed: 1, file_workers: 2, .. }"
        );
    }
}
