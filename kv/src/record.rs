//! Log records: one sector each, self-describing and checksummed.
//!
//! ```text
//! [0..4)    magic "TWKV"
//! [4..8)    CRC-32C of bytes [8..4096)
//! [8..16)   lsn (log sequence number, from 1)
//! [16..24)  slot: the record's own position in the log
//! [24]      operation: 1 put, 2 delete
//! [25]      key length
//! [26..28)  value length
//! [28..32)  parent: the checksum of the previous record (0 for slot 0)
//! [32..40)  epoch: which run of the store wrote it (see below)
//! [40..)    key, then value, then zeros to the end of the sector
//! ```
//!
//! The slot lets recovery tell a misdirected write (a valid record at the
//! wrong place) from the record that belongs there; the checksum covers it,
//! so bit-rot and torn sectors are caught; the parent chains each record to
//! its predecessor, so a stale record left beyond the end of the log by an
//! earlier crash cannot be replayed after newer records. The epoch is what
//! makes that last promise hold: without it a new run could write, at the
//! slot where the log ended, a record byte for byte equal to one a crashed
//! run left there (the same delete, say), and the crashed run's next record
//! would chain to it. Each run's epoch is above every epoch recovery saw,
//! so its records differ from any a crashed run wrote. All integers are
//! little-endian.
//! `decode` takes untrusted bytes and never panics.

use twinio::SECTOR_SIZE;

use crate::crc32c::crc32c;

/// The size of one record on disk.
pub const RECORD_SIZE: usize = SECTOR_SIZE;
/// Bytes before the key.
pub const HEADER_SIZE: usize = 40;
const MAGIC: [u8; 4] = *b"TWKV";
/// The longest key.
pub const MAX_KEY: usize = 255;
/// The longest value: what fits in a sector beside the header and a
/// longest key.
pub const MAX_VALUE: usize = RECORD_SIZE - HEADER_SIZE - MAX_KEY;

const OP_PUT: u8 = 1;
const OP_DELETE: u8 = 2;

/// A change to the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mutation {
    /// Set `key` to `value`.
    Put {
        /// The key, at most [`MAX_KEY`] bytes.
        key: Vec<u8>,
        /// The value, at most [`MAX_VALUE`] bytes.
        value: Vec<u8>,
    },
    /// Remove `key`.
    Delete {
        /// The key, at most [`MAX_KEY`] bytes.
        key: Vec<u8>,
    },
}

impl Mutation {
    /// The key this mutation changes.
    pub fn key(&self) -> &[u8] {
        match self {
            Mutation::Put { key, .. } | Mutation::Delete { key } => key,
        }
    }

    /// True if the key and value fit in one record.
    pub fn fits(&self) -> bool {
        match self {
            Mutation::Put { key, value } => key.len() <= MAX_KEY && value.len() <= MAX_VALUE,
            Mutation::Delete { key } => key.len() <= MAX_KEY,
        }
    }
}

/// A decoded record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// Its log sequence number.
    pub lsn: u64,
    /// Its position in the log.
    pub slot: u64,
    /// The checksum of the record before it (0 for the first).
    pub parent: u32,
    /// The run of the store that wrote it.
    pub epoch: u64,
    /// What it does.
    pub mutation: Mutation,
}

/// Why a sector does not hold the record expected there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// All zeros: never written (the log's end, on a preallocated file).
    Blank,
    /// The sector is shorter than a record.
    Truncated,
    /// Not a record at all.
    BadMagic,
    /// The checksum does not match: torn, rotted or garbage.
    BadChecksum,
    /// A valid record, but of another slot: a misdirected write.
    Misplaced {
        /// The slot the record says it belongs to.
        found: u64,
    },
    /// The lengths or the operation are impossible (only reachable when the
    /// checksum matched bytes this code never wrote).
    Malformed,
}

/// The checksum stored in an encoded record (what the next record's parent
/// must be). Meaningful for a sector that [`decode`] accepted; bytes too
/// short to hold a checksum give 0 rather than a panic.
pub fn checksum_of(sector: &[u8]) -> u32 {
    match sector.get(4..8) {
        Some(&[a, b, c, d]) => u32::from_le_bytes([a, b, c, d]),
        _ => 0,
    }
}

/// Writes `record` into `out` (exactly [`RECORD_SIZE`] bytes) and returns
/// its checksum. The caller checks [`Mutation::fits`] first.
pub fn encode(record: &Record, out: &mut [u8]) -> u32 {
    assert_eq!(out.len(), RECORD_SIZE, "a record fills one sector");
    assert!(record.mutation.fits(), "key or value too long for a record");
    out.fill(0);
    let (op, key, value): (u8, &[u8], &[u8]) = match &record.mutation {
        Mutation::Put { key, value } => (OP_PUT, key, value),
        Mutation::Delete { key } => (OP_DELETE, key, &[]),
    };
    out[0..4].copy_from_slice(&MAGIC);
    out[8..16].copy_from_slice(&record.lsn.to_le_bytes());
    out[16..24].copy_from_slice(&record.slot.to_le_bytes());
    out[24] = op;
    out[25] = key.len() as u8;
    out[26..28].copy_from_slice(&(value.len() as u16).to_le_bytes());
    out[28..32].copy_from_slice(&record.parent.to_le_bytes());
    out[32..40].copy_from_slice(&record.epoch.to_le_bytes());
    out[HEADER_SIZE..HEADER_SIZE + key.len()].copy_from_slice(key);
    let value_at = HEADER_SIZE + key.len();
    out[value_at..value_at + value.len()].copy_from_slice(value);
    let checksum = crc32c(&out[8..]);
    out[4..8].copy_from_slice(&checksum.to_le_bytes());
    checksum
}

/// The key and value lengths a header claims, unverified. Only for the
/// store's planted `skip_checksum` bug; never panics.
pub fn lengths_unchecked(sector: &[u8]) -> (usize, usize) {
    match sector.get(25..28) {
        Some(&[key, v0, v1]) => (usize::from(key), usize::from(u16::from_le_bytes([v0, v1]))),
        _ => (0, 0),
    }
}

/// True if every byte is zero. An OR over all of them, not a search for
/// the first non-zero one: the compiler vectorises it, and recovery checks
/// two sectors per slot of the log on every start.
fn all_zero(bytes: &[u8]) -> bool {
    bytes.iter().fold(0u8, |acc, &b| acc | b) == 0
}

/// Reads the record expected at `slot` from `bytes`, checking everything.
pub fn decode(bytes: &[u8], slot: u64) -> Result<Record, DecodeError> {
    let sector = bytes.get(..RECORD_SIZE).ok_or(DecodeError::Truncated)?;
    if all_zero(sector) {
        return Err(DecodeError::Blank);
    }
    if sector[0..4] != MAGIC {
        return Err(DecodeError::BadMagic);
    }
    let stored = u32::from_le_bytes(sector[4..8].try_into().expect("4 bytes"));
    if crc32c(&sector[8..]) != stored {
        return Err(DecodeError::BadChecksum);
    }
    let lsn = u64::from_le_bytes(sector[8..16].try_into().expect("8 bytes"));
    let found = u64::from_le_bytes(sector[16..24].try_into().expect("8 bytes"));
    if found != slot {
        return Err(DecodeError::Misplaced { found });
    }
    let key_len = usize::from(sector[25]);
    let value_len = usize::from(u16::from_le_bytes([sector[26], sector[27]]));
    let parent = u32::from_le_bytes(sector[28..32].try_into().expect("4 bytes"));
    let epoch = u64::from_le_bytes(sector[32..40].try_into().expect("8 bytes"));
    let end = HEADER_SIZE + key_len + value_len;
    // Accept only what `encode` writes: a value that fits beside a longest
    // key, and zeros after it. Anything else passed the checksum by chance
    // or was written by other code, and must not be replayed.
    if value_len > MAX_VALUE || !all_zero(&sector[end..]) {
        return Err(DecodeError::Malformed);
    }
    let key = sector[HEADER_SIZE..HEADER_SIZE + key_len].to_vec();
    let mutation = match sector[24] {
        OP_PUT => Mutation::Put { key, value: sector[HEADER_SIZE + key_len..end].to_vec() },
        OP_DELETE if value_len == 0 => Mutation::Delete { key },
        _ => return Err(DecodeError::Malformed),
    };
    Ok(Record { lsn, slot, parent, epoch, mutation })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn put(key: &[u8], value: &[u8]) -> Mutation {
        Mutation::Put { key: key.to_vec(), value: value.to_vec() }
    }

    #[test]
    fn round_trip_and_damage_is_caught() {
        let record =
            Record { lsn: 7, slot: 6, parent: 99, epoch: 3, mutation: put(b"k", b"value") };
        let mut sector = vec![0u8; RECORD_SIZE];
        let checksum = encode(&record, &mut sector);
        assert_eq!(checksum_of(&sector), checksum);
        assert_eq!(decode(&sector, 6), Ok(record.clone()));
        assert_eq!(decode(&sector, 5), Err(DecodeError::Misplaced { found: 6 }));
        assert_eq!(decode(&vec![0u8; RECORD_SIZE], 0), Err(DecodeError::Blank));
        assert_eq!(decode(&sector[..100], 6), Err(DecodeError::Truncated));
        for at in [4, 9, 30, 4095] {
            let mut rotted = sector.clone();
            rotted[at] ^= 0x10;
            assert_eq!(decode(&rotted, 6), Err(DecodeError::BadChecksum), "flip at {at}");
        }
        // A torn sector: the second half is from an older write (zeros).
        let mut torn = sector.clone();
        torn[2048..].fill(0);
        torn[2047] = 1;
        assert_eq!(decode(&torn, 6), Err(DecodeError::BadChecksum));
    }

    // Seed 5,000,737: a new run wrote, where the log had ended, a record
    // equal to one a crashed run left there, and the crashed run's next
    // record chained to it. The epoch makes the two differ.
    #[test]
    fn the_same_mutation_in_another_epoch_has_another_checksum() {
        let record =
            |epoch| Record { lsn: 131, slot: 130, parent: 7, epoch, mutation: put(b"k", b"") };
        let (mut old, mut new) = (vec![0u8; RECORD_SIZE], vec![0u8; RECORD_SIZE]);
        assert_ne!(encode(&record(1), &mut old), encode(&record(2), &mut new));
        assert_eq!(decode(&new, 130).map(|r| r.epoch), Ok(2));
    }

    #[test]
    fn largest_record_fits() {
        let mutation = put(&[1; MAX_KEY], &[2; MAX_VALUE]);
        assert!(mutation.fits());
        assert!(!put(&[1; MAX_KEY], &[2; MAX_VALUE + 1]).fits());
        let record = Record { lsn: 1, slot: 0, parent: 0, epoch: u64::MAX, mutation };
        let mut sector = vec![0u8; RECORD_SIZE];
        encode(&record, &mut sector);
        assert_eq!(decode(&sector, 0), Ok(record));
    }

    /// Seals `sector` as `encode` would: the checksum over bytes [8..).
    fn seal(sector: &mut [u8]) {
        let checksum = crc32c(&sector[8..]);
        sector[4..8].copy_from_slice(&checksum.to_le_bytes());
    }

    // Found by the `record_decode` fuzz target: a sector with a valid
    // checksum but bytes after the value was accepted, so two different
    // sectors decoded to the same record.
    #[test]
    fn nonzero_padding_is_malformed() {
        let record = Record { lsn: 1, slot: 0, parent: 0, epoch: 1, mutation: put(b"", b"") };
        let mut sector = vec![0u8; RECORD_SIZE];
        encode(&record, &mut sector);
        sector[RECORD_SIZE - 1] = 0xff;
        seal(&mut sector);
        assert_eq!(decode(&sector, 0), Err(DecodeError::Malformed));
    }

    // Seen while writing the `record_decode` target, whose canonical check
    // covers it: a short key leaves room for a value longer than
    // `MAX_VALUE`, which decoded into a mutation that `encode` refuses.
    #[test]
    fn value_beyond_max_is_malformed() {
        let longest = RECORD_SIZE - HEADER_SIZE;
        let mut sector = vec![0u8; RECORD_SIZE];
        sector[0..4].copy_from_slice(&MAGIC);
        sector[24] = OP_PUT;
        sector[26..28].copy_from_slice(&(longest as u16).to_le_bytes());
        sector[HEADER_SIZE..].fill(7);
        seal(&mut sector);
        assert_eq!(decode(&sector, 0), Err(DecodeError::Malformed));
    }

    #[test]
    fn checksum_of_short_bytes_does_not_panic() {
        assert_eq!(checksum_of(&[1, 2, 3]), 0);
        assert_eq!(checksum_of(&[0, 0, 0, 0, 1, 0, 0, 0]), 1);
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..5000), slot in 0u64..4) {
            let _ = decode(&bytes, slot);
        }

        #[test]
        fn encode_decode_round_trips(
            key in proptest::collection::vec(any::<u8>(), 0..=MAX_KEY),
            value in proptest::collection::vec(any::<u8>(), 0..64),
            delete in any::<bool>(),
            slot in 0u64..1_000_000,
        ) {
            let mutation = if delete { Mutation::Delete { key } } else { Mutation::Put { key, value } };
            let record = Record { lsn: slot + 1, slot, parent: slot as u32, epoch: slot, mutation };
            let mut sector = vec![0u8; RECORD_SIZE];
            encode(&record, &mut sector);
            prop_assert_eq!(decode(&sector, slot), Ok(record));
        }
    }
}
