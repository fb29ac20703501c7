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
            Unwritten::Garbage => {
                for (i, byte) in out.iter_mut().enumerate() {
                    let at = offset + i as u64;
                    *byte = mix(self.seed ^ (at / 8)).to_le_bytes()[(at % 8) as usize];
                }
            }
        }
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
