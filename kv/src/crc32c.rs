//! CRC-32C (Castagnoli), the checksum of log records.
//!
//! The polynomial (reflected 0x82F63B78) detects every burst error up to
//! 32 bits, which is what torn and rotted sectors look like. Computed by the
//! `crc32c` crate, which uses the CPU's CRC32 instruction (SSE 4.2 on
//! x86_64, the CRC extension on aarch64) with a software fallback: every get
//! and every recovered slot checksums a whole 4 KiB sector, and a byte-wise
//! table was the runner's single largest cost.

/// The CRC-32C of `bytes`.
pub fn crc32c(bytes: &[u8]) -> u32 {
    ::crc32c::crc32c(bytes)
}

#[cfg(test)]
mod tests {
    use super::crc32c;

    #[test]
    fn known_vectors() {
        // The standard check value (RFC 3720, appendix B.4).
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
        assert_eq!(crc32c(&[0xFFu8; 32]), 0x62A8_AB43);
        assert_eq!(crc32c(b""), 0);
    }
}
