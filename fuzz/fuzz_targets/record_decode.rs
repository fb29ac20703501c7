//! The log record decoder (`twinio_kv::record`) on untrusted sectors.
//!
//! Three kinds of input, chosen by the first byte:
//! - raw bytes: `decode` never panics, and accepts only a sector whose magic,
//!   checksum and slot are right;
//! - sealed bytes: fuzzer-chosen contents with the magic, slot and checksum
//!   made right, so the fuzzer explores what lies behind the checksum (the
//!   lengths, the operation, the padding): anything accepted must be exactly
//!   what `encode` writes for the decoded record;
//! - a valid record: encode→decode is the identity, and a flipped bit, a
//!   torn tail or a wrong slot is caught.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use twinio_kv::crc32c::crc32c;
use twinio_kv::record::{
    DecodeError, MAX_KEY, MAX_VALUE, Mutation, RECORD_SIZE, Record, checksum_of, decode, encode,
};

/// A valid record and what happens to it on the way to the disk.
#[derive(Arbitrary, Debug)]
struct Valid {
    lsn: u64,
    slot: u64,
    parent: u32,
    epoch: u64,
    delete: bool,
    key: Vec<u8>,
    value: Vec<u8>,
    damage: Damage,
}

#[derive(Arbitrary, Debug)]
enum Damage {
    FlipBit {
        at: u16,
        bit: u8,
    },
    /// The sector from `at` on is still the old contents (zeros).
    Torn {
        at: u16,
    },
    OtherSlot {
        xor: u64,
    },
}

/// Whatever `decode` accepted must be the canonical encoding of its result.
fn assert_canonical(sector: &[u8], record: &Record) {
    assert!(record.mutation.fits(), "decoded a record that cannot be encoded: {record:?}");
    let mut again = vec![0u8; RECORD_SIZE];
    let checksum = encode(record, &mut again);
    assert!(again == sector[..RECORD_SIZE], "accepted a non-canonical sector for {record:?}");
    assert_eq!(checksum, checksum_of(sector));
}

fn raw(slot: u64, bytes: &[u8]) {
    let Ok(record) = decode(bytes, slot) else { return };
    let sector = &bytes[..RECORD_SIZE];
    assert_eq!(&sector[..4], b"TWKV");
    assert_eq!(crc32c(&sector[8..]), checksum_of(sector), "accepted a bad checksum");
    assert_eq!(record.slot, slot);
    assert_canonical(sector, &record);
}

fn sealed(slot: u64, tail: &[u8]) {
    let mut sector = vec![0u8; RECORD_SIZE];
    sector[..4].copy_from_slice(b"TWKV");
    sector[8..16].copy_from_slice(&slot.wrapping_add(1).to_le_bytes());
    sector[16..24].copy_from_slice(&slot.to_le_bytes());
    let n = tail.len().min(RECORD_SIZE - 24);
    sector[24..24 + n].copy_from_slice(&tail[..n]);
    let checksum = crc32c(&sector[8..]);
    sector[4..8].copy_from_slice(&checksum.to_le_bytes());
    match decode(&sector, slot) {
        Ok(record) => assert_canonical(&sector, &record),
        Err(DecodeError::Malformed) => {}
        Err(error) => panic!("a sealed sector refused for {error:?}"),
    }
}

fn valid(record: Record, damage: Damage) {
    let mut sector = vec![0u8; RECORD_SIZE];
    let checksum = encode(&record, &mut sector);
    assert_eq!(checksum, checksum_of(&sector));
    assert_eq!(decode(&sector, record.slot), Ok(record.clone()));
    // Trailing bytes past the sector are not part of the record.
    let mut longer = sector.clone();
    longer.extend_from_slice(b"next sector");
    assert_eq!(decode(&longer, record.slot), Ok(record.clone()));

    match damage {
        Damage::FlipBit { at, bit } => {
            let at = usize::from(at) % RECORD_SIZE;
            sector[at] ^= 1 << (bit % 8);
            let expected = if at < 4 { DecodeError::BadMagic } else { DecodeError::BadChecksum };
            assert_eq!(decode(&sector, record.slot), Err(expected), "bit flip at {at}");
        }
        Damage::Torn { at } => {
            let at = usize::from(at) % RECORD_SIZE;
            let before = sector.clone();
            sector[at..].fill(0);
            let result = decode(&sector, record.slot);
            if sector == before {
                assert_eq!(result, Ok(record));
            } else {
                assert!(result.is_err(), "torn at {at} yet accepted: {result:?}");
            }
        }
        Damage::OtherSlot { xor } => {
            let other = record.slot ^ xor;
            let expected = if other == record.slot {
                Ok(record.clone())
            } else {
                Err(DecodeError::Misplaced { found: record.slot })
            };
            assert_eq!(decode(&sector, other), expected);
        }
    }
}

// The input is split by hand, not derived: the first byte picks the mode,
// the next eight the slot, and the rest is the sector as is (a derived
// `Vec<u8>` would interleave it with length bytes and blunt the mutator).
fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let mut slot = [0u8; 8];
    let n = rest.len().min(8);
    slot[..n].copy_from_slice(&rest[..n]);
    let (slot, bytes) = (u64::from_le_bytes(slot), &rest[n..]);
    match mode % 3 {
        0 => raw(slot, bytes),
        1 => sealed(slot, bytes),
        _ => {
            let Ok(mut input) = Valid::arbitrary(&mut Unstructured::new(rest)) else { return };
            input.key.truncate(MAX_KEY);
            input.value.truncate(MAX_VALUE);
            let Valid { lsn, slot, parent, epoch, delete, key, value, damage } = input;
            let mutation =
                if delete { Mutation::Delete { key } } else { Mutation::Put { key, value } };
            valid(Record { lsn, slot, parent, epoch, mutation }, damage);
        }
    }
});
