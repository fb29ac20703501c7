//! The simulation's only source of randomness: xoshiro256++ seeded through
//! SplitMix64, vendored so a seed means the same run on every platform and
//! every version of every dependency. Integer-only: probabilities are
//! [`Ratio`]s, never floats, so no rounding mode can change a run.

use std::fmt;

/// A deterministic pseudo-random generator (xoshiro256++).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prng {
    state: [u64; 4],
}

/// SplitMix64: expands one `u64` seed into well-mixed state words, as the
/// xoshiro authors recommend (a raw seed like 0 or 1 would otherwise start
/// the generator in a poorly mixed state).
fn split_mix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Prng {
    /// A generator whose whole sequence is determined by `seed`.
    pub fn from_seed(seed: u64) -> Prng {
        let mut mix = seed;
        let state = [
            split_mix64(&mut mix),
            split_mix64(&mut mix),
            split_mix64(&mut mix),
            split_mix64(&mut mix),
        ];
        // SplitMix64 is a bijection over a counter, so four consecutive
        // outputs are never all zero (the one state xoshiro must avoid).
        Prng { state }
    }

    /// An independent generator derived from this one: sub-systems each get
    /// their own, so adding a draw in one does not shift every other.
    pub fn fork(&mut self) -> Prng {
        Prng::from_seed(self.next_u64())
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let [s0, s1, s2, s3] = self.state;
        let result = s0.wrapping_add(s3).rotate_left(23).wrapping_add(s0);
        let t = s1 << 17;
        let mut s = [s0, s1, s2 ^ s0, s3 ^ s1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        self.state = s;
        result
    }

    /// A uniform value in `0..bound`, without modulo bias (Lemire's
    /// multiply-and-reject). `bound == 0` returns 0.
    pub fn below(&mut self, bound: u64) -> u64 {
        if bound == 0 {
            return 0;
        }
        let threshold = bound.wrapping_neg() % bound;
        loop {
            let product = u128::from(self.next_u64()) * u128::from(bound);
            if (product as u64) >= threshold {
                return (product >> 64) as u64;
            }
        }
    }

    /// A uniform value in `low..=high` (`high < low` returns `low`).
    pub fn range_inclusive(&mut self, low: u64, high: u64) -> u64 {
        if high <= low {
            return low;
        }
        match (high - low).checked_add(1) {
            Some(span) => low + self.below(span),
            None => self.next_u64(),
        }
    }

    /// True with probability `ratio`.
    pub fn chance(&mut self, ratio: Ratio) -> bool {
        ratio.numerator > 0 && self.below(u64::from(ratio.denominator)) < u64::from(ratio.numerator)
    }

    /// A uniform index into a non-empty collection of `len` items.
    pub fn index(&mut self, len: usize) -> usize {
        self.below(len as u64) as usize
    }

    /// A heavy-tailed duration: `min_ns` (at least 1), doubled while a
    /// fair coin says so, then a uniform draw up to twice that, capped at
    /// `max_ns`: P(d > min * 2^k) is about 2^-k, a Pareto tail of index
    /// one, so long stalls come now and then.
    pub(crate) fn heavy_tailed(&mut self, min_ns: u64, max_ns: u64) -> u64 {
        let half = Ratio { numerator: 1, denominator: 2 };
        let max = max_ns.max(min_ns);
        let mut ns = min_ns.max(1);
        while ns < max && self.chance(half) {
            ns = ns.saturating_mul(2);
        }
        self.range_inclusive(ns, ns.saturating_mul(2)).min(max)
    }
}

/// A probability as `numerator / denominator`, `numerator <= denominator`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ratio {
    numerator: u32,
    denominator: u32,
}

impl Ratio {
    /// Never.
    pub const ZERO: Ratio = Ratio { numerator: 0, denominator: 1 };
    /// Always.
    pub const ONE: Ratio = Ratio { numerator: 1, denominator: 1 };

    /// `numerator / denominator`, or `None` if the denominator is zero or
    /// the ratio exceeds one.
    pub const fn new(numerator: u32, denominator: u32) -> Option<Ratio> {
        if denominator == 0 || numerator > denominator {
            None
        } else {
            Some(Ratio { numerator, denominator })
        }
    }

    /// The numerator.
    pub const fn numerator(self) -> u32 {
        self.numerator
    }

    /// The denominator.
    pub const fn denominator(self) -> u32 {
        self.denominator
    }

    /// True if this ratio never fires.
    pub const fn is_zero(self) -> bool {
        self.numerator == 0
    }
}

impl Default for Ratio {
    fn default() -> Ratio {
        Ratio::ZERO
    }
}

impl fmt::Debug for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.numerator, self.denominator)
    }
}

impl fmt::Display for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence_and_seeds_differ() {
        let mut a = Prng::from_seed(7);
        let mut b = Prng::from_seed(7);
        let mut c = Prng::from_seed(8);
        let xs: Vec<u64> = (0..64).map(|_| a.next_u64()).collect();
        let ys: Vec<u64> = (0..64).map(|_| b.next_u64()).collect();
        let zs: Vec<u64> = (0..64).map(|_| c.next_u64()).collect();
        assert_eq!(xs, ys);
        assert_ne!(xs, zs);
    }

    #[test]
    fn known_answer_pins_the_algorithm() {
        // Pinned from this implementation: if it changes, every recorded
        // seed replays differently, which must be a deliberate decision.
        let mut prng = Prng::from_seed(0);
        let first = prng.next_u64();
        let mut again = Prng::from_seed(0);
        assert_eq!(first, again.next_u64());
        assert_eq!(split_mix64(&mut 0), 0xE220_A839_7B1D_CDAF);
    }

    #[test]
    fn below_stays_in_bounds_and_covers_them() {
        let mut prng = Prng::from_seed(1);
        let mut seen = [false; 7];
        for _ in 0..1000 {
            let value = prng.below(7);
            assert!(value < 7);
            seen[value as usize] = true;
        }
        assert!(seen.iter().all(|&s| s));
        assert_eq!(prng.below(0), 0);
        assert_eq!(prng.range_inclusive(5, 5), 5);
        assert_eq!(prng.range_inclusive(9, 3), 9);
        let full = prng.range_inclusive(0, u64::MAX);
        let _ = full; // any value is in range; the point is no overflow panic
    }

    #[test]
    fn ratios_validate_and_extremes_are_exact() {
        assert!(Ratio::new(1, 0).is_none());
        assert!(Ratio::new(3, 2).is_none());
        let mut prng = Prng::from_seed(3);
        assert!((0..100).all(|_| !prng.chance(Ratio::ZERO)));
        assert!((0..100).all(|_| prng.chance(Ratio::ONE)));
        let half = Ratio::new(1, 2).unwrap();
        let hits = (0..10_000).filter(|_| prng.chance(half)).count();
        assert!((4_000..6_000).contains(&hits), "{hits}");
    }
}
