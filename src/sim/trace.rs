//! The running trace hash: one `u64` summarising everything that happened
//! in a run (submits, completions with their results and times, crashes),
//! so two runs can be compared by a single number.

/// What a trace record is about (mixed into the hash).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub(crate) enum Record {
    Submit = 1,
    Complete = 2,
    Crash = 3,
    Restart = 4,
    Open = 5,
    Clock = 6,
    Pause = 7,
}

/// A running hash over 64-bit words: each word is xored in, multiplied by
/// an odd constant (the golden ratio's, as in Fibonacci hashing) and its
/// high half folded into the low half. Tiny, dependency-free and fully
/// specified, so the same records give the same hash on every platform;
/// a word at a time, so hashing costs little next to the simulated work.
/// Not cryptographic: it tells runs apart, it does not resist forgery.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Trace {
    hash: u64,
}

const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const MULTIPLIER: u64 = 0x9E37_79B9_7F4A_7C15;

impl Trace {
    pub(crate) fn new(seed: u64) -> Trace {
        let mut trace = Trace { hash: OFFSET_BASIS };
        trace.word(seed);
        trace
    }

    pub(crate) fn hash(&self) -> u64 {
        self.hash
    }

    fn word(&mut self, word: u64) {
        let mixed = (self.hash ^ word).wrapping_mul(MULTIPLIER);
        self.hash = mixed ^ (mixed >> 32);
    }

    /// Folds one record: its kind, then its fields.
    pub(crate) fn record(&mut self, record: Record, fields: [u64; 5]) {
        self.word(record as u64);
        for field in fields {
            self.word(field);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_and_content_change_the_hash() {
        let mut a = Trace::new(1);
        let mut b = Trace::new(1);
        a.record(Record::Submit, [1, 2, 3, 4, 5]);
        b.record(Record::Submit, [1, 2, 3, 4, 5]);
        assert_eq!(a.hash(), b.hash());
        a.record(Record::Complete, [0; 5]);
        b.record(Record::Crash, [0; 5]);
        assert_ne!(a.hash(), b.hash());
        assert_ne!(Trace::new(1).hash(), Trace::new(2).hash());
    }
}
