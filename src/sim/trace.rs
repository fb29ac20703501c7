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

/// A running hash over records of 64-bit words. A record's fields are
/// each multiplied by their own odd constant and xored together (five
/// independent multiplies, which the CPU overlaps), then the record is
/// folded into the running hash with one dependent step: xored in,
/// multiplied by the golden ratio's odd constant (as in Fibonacci hashing)
/// and its high half folded into the low half. A chain of one dependent
/// multiply per word cost the twin a tenth of a small-message echo
/// (profiled); this is one per record. Tiny, dependency-free and fully
/// specified, so the same records give the same hash on every platform.
/// Not cryptographic: it tells runs apart, it does not resist forgery.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Trace {
    hash: u64,
}

const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
const MULTIPLIER: u64 = 0x9E37_79B9_7F4A_7C15;
/// One odd constant per field position, so equal values in different
/// positions (or swapped fields) mix differently.
const FIELD_MULTIPLIERS: [u64; 5] = [
    0xD6E8_FEB8_6659_FD93,
    0xA076_1D64_78BD_642F,
    0xE703_7ED1_A0B4_28DB,
    0x8EBC_6AF0_9C88_C6E3,
    0x5899_65CC_7537_4CC3,
];

impl Trace {
    pub(crate) fn new(seed: u64) -> Trace {
        let mut trace = Trace { hash: OFFSET_BASIS };
        trace.word(seed);
        trace
    }

    pub(crate) fn hash(&self) -> u64 {
        self.hash
    }

    #[inline]
    fn word(&mut self, word: u64) {
        let mixed = (self.hash ^ word).wrapping_mul(MULTIPLIER);
        self.hash = mixed ^ (mixed >> 32);
    }

    /// Folds one record: its kind and its fields, each field by its
    /// position's multiplier (rotated, so a field's high bits reach the
    /// low half of the product too).
    #[inline]
    pub(crate) fn record(&mut self, record: Record, fields: [u64; 5]) {
        let mut combined = record as u64;
        for (field, multiplier) in fields.into_iter().zip(FIELD_MULTIPLIERS) {
            combined ^= field.wrapping_mul(multiplier).rotate_left(29);
        }
        self.word(combined);
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

    #[test]
    fn each_field_and_its_position_change_the_hash() {
        let base = [10, 20, 30, 40, 50];
        let hash_of = |fields: [u64; 5]| {
            let mut trace = Trace::new(1);
            trace.record(Record::Complete, fields);
            trace.hash()
        };
        let reference = hash_of(base);
        for at in 0..5 {
            for delta in [1u64, 1 << 32, 1 << 63] {
                let mut changed = base;
                changed[at] ^= delta;
                assert_ne!(hash_of(changed), reference, "field {at} ^ {delta:#x}");
            }
        }
        let mut swapped = base;
        swapped.swap(0, 1);
        assert_ne!(hash_of(swapped), reference, "swapped fields");
    }
}
