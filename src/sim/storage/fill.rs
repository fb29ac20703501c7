//! What never-written bytes read as, and garbage.

use crate::sim::config::Unwritten;
use crate::sim::prng::Prng;

/// A file's never-written content: a function of the byte offset only, so
/// every read of the same place sees the same bytes.
#[derive(Clone, Copy)]
pub(crate) struct Fill {
    pub mode: Unwritten,
    /// Seeds `Unwritten::Garbage` (drawn per file at its creation).
    pub seed: u64,
}

impl Fill {
    /// Fills `out`, which stands for the bytes at `offset..`.
    pub(crate) fn unwritten(&self, out: &mut [u8], offset: u64) {
        match self.mode {
            Unwritten::Zeros => out.fill(0),
            Unwritten::Pattern(byte) => out.fill(byte),
            Unwritten::Garbage => garbage_at(out, offset, self.seed),
        }
    }
}

/// Byte `at` of the garbage is byte `at % 8` of `mix(seed ^ at / 8)`: one
/// mix per aligned 8-byte word, copied whole where the word lies within
/// `out` (profiled: mixing per byte was a tenth of a runner's time, in
/// recovery scans of never-written sectors).
fn garbage_at(out: &mut [u8], offset: u64, seed: u64) {
    let mut done = 0;
    while done < out.len() {
        let at = offset + done as u64;
        let word = mix(seed ^ (at / 8)).to_le_bytes();
        let within = (at % 8) as usize;
        let n = (8 - within).min(out.len() - done);
        out[done..done + n].copy_from_slice(&word[within..within + n]);
        done += n;
    }
}

/// Fills `out` with bytes from `prng` (fresh garbage each time).
pub(crate) fn garbage(out: &mut [u8], prng: &mut Prng) {
    for word in out.chunks_mut(8) {
        let bytes = prng.next_u64().to_le_bytes();
        word.copy_from_slice(&bytes[..word.len()]);
    }
}

/// SplitMix64's finaliser: a well-mixed word from any input.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The definition, a byte at a time.
    fn garbage_byte(seed: u64, at: u64) -> u8 {
        mix(seed ^ (at / 8)).to_le_bytes()[(at % 8) as usize]
    }

    proptest! {
        #[test]
        fn garbage_is_a_function_of_the_offset(
            seed in any::<u64>(),
            offset in 0u64..1 << 40,
            len in 0usize..100,
        ) {
            let fill = Fill { mode: Unwritten::Garbage, seed };
            let mut out = vec![0u8; len];
            fill.unwritten(&mut out, offset);
            for (i, &byte) in out.iter().enumerate() {
                prop_assert_eq!(byte, garbage_byte(seed, offset + i as u64), "byte {}", i);
            }
        }
    }
}
