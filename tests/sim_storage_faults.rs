//! Fault model v2, data path: each fault forced on (rate one), checked to
//! fire, to have its documented effect, and to replay identically from its
//! seed. (Crash, open and latency faults: `sim_storage_faults_crash.rs`.)

mod support;

#[path = "sim_storage_faults_harness/mod.rs"]
mod harness;

use harness::*;
use twinio::*;

fn on(f: impl FnOnce(&mut StorageFaults)) -> StorageFaults {
    let mut storage = StorageFaults::default();
    f(&mut storage);
    storage
}

#[test]
fn short_reads_are_shorter_and_whole_sectors_under_direct_io() {
    for direct in [false, true] {
        for seed in 0..20 {
            let n = replays(seed, |seed| {
                let mut s = Sim::with(seed, StorageFaults::default());
                let fd = s.open("f", FilePurpose::Format, direct).unwrap();
                let data = [block(0, 1), block(1, 1), block(2, 1)].concat();
                s.write(fd, &data, 0).unwrap();
                s.set_storage(on(|f| f.short_read = Ratio::ONE));
                let got = s.read(fd, 3 * SECTOR, 0).unwrap();
                assert_eq!(got[..], data[..got.len()], "a short read returns a prefix");
                (got.len(), s)
            });
            assert!((1..3 * SECTOR).contains(&n), "short: {n}");
            assert!(!direct || n.is_multiple_of(SECTOR), "direct IO: whole sectors, got {n}");
        }
    }
}

#[test]
fn short_writes_land_exactly_the_count_they_report() {
    for direct in [false, true] {
        for seed in 0..20 {
            let n = replays(seed, |seed| {
                let mut s = Sim::with(seed, on(|f| f.short_write = Ratio::ONE));
                let fd = s.open("f", FilePurpose::Format, direct).unwrap();
                let data = [block(0, 1), block(1, 1)].concat();
                let n = s.write(fd, &data, 0).unwrap();
                let got = s.read(fd, 2 * SECTOR, 0).unwrap();
                assert_eq!(got[..n], data[..n], "the reported prefix landed");
                assert!(got[n..].iter().all(|&b| b == 0), "nothing past it did");
                (n, s)
            });
            assert!((1..2 * SECTOR).contains(&n), "short: {n}");
            assert!(!direct || n.is_multiple_of(SECTOR), "direct IO: whole sectors, got {n}");
        }
    }
}

#[test]
fn write_io_error_fails_and_may_land_a_prefix_of_sectors() {
    let mut prefixes = [false; 5];
    for seed in 0..40 {
        let landed = replays(seed, |seed| {
            let mut s = Sim::with(seed, on(|f| f.write_io_error = Ratio::ONE));
            let fd = s.format("f");
            let data: Vec<u8> = (0..4).flat_map(|i| block(i, 1)).collect();
            assert_eq!(s.write(fd, &data, 0), Err(WriteError::InputOutput));
            let got = s.read(fd, 4 * SECTOR, 0).unwrap();
            let same = |i: usize| got[i * SECTOR..][..SECTOR] == data[i * SECTOR..][..SECTOR];
            let landed = (0..4).take_while(|&i| same(i)).count();
            assert!(got[landed * SECTOR..].iter().all(|&b| b == 0), "only a prefix landed");
            (landed, s)
        });
        prefixes[landed] = true;
    }
    assert!(prefixes[0] && prefixes[1..4].iter().any(|&p| p), "{prefixes:?}");
    assert!(!prefixes[4], "a failed write never lands whole");
}

#[test]
fn writeback_error_surfaces_once_on_every_open_descriptor() {
    for seed in 0..10 {
        replays(seed, |seed| {
            let mut s = Sim::with(seed, StorageFaults::default());
            let a = s.format("f");
            let b = s.open("f", FilePurpose::Inspect, false).unwrap();
            s.set_storage(on(|f| f.writeback_error = Ratio::ONE));
            assert_eq!(s.write(a, &block(0, 1), 0), Ok(SECTOR), "the write itself succeeds");
            s.set_storage(StorageFaults::default());
            assert_eq!(s.fsync(a), Err(FsyncError::InputOutput), "the writer sees it");
            assert_eq!(s.fsync(a), Ok(()), "once");
            assert_eq!(s.fsync(b), Err(FsyncError::InputOutput), "another descriptor too");
            assert_eq!(s.fsync(b), Ok(()));
            let c = s.open("f", FilePurpose::Inspect, false).unwrap();
            assert_eq!(s.fsync(c), Ok(()), "a descriptor opened after it was seen does not");
            ((), s)
        });
    }
}

#[test]
fn fsync_error_reaches_other_descriptors_later() {
    replays(1, |seed| {
        let mut s = Sim::with(seed, StorageFaults::default());
        let a = s.format("f");
        let b = s.open("f", FilePurpose::Inspect, false).unwrap();
        s.write(a, &block(0, 1), 0).unwrap();
        s.set_storage(on(|f| f.fsync_error = Ratio::ONE));
        assert_eq!(s.fsync(a), Err(FsyncError::InputOutput));
        s.set_storage(StorageFaults::default());
        assert_eq!(s.fsync(a), Ok(()));
        assert_eq!(s.fsync(b), Err(FsyncError::InputOutput), "errseq: b has not seen it");
        ((), s)
    });
}

#[test]
fn fsync_no_space_is_enospc_or_edquot() {
    let mut seen = Vec::new();
    for seed in 0..20 {
        let result = replays(seed, |seed| {
            let mut s = Sim::with(seed, on(|f| f.fsync_no_space = Ratio::ONE));
            let fd = s.format("f");
            s.write(fd, &block(0, 1), 0).unwrap();
            (s.fsync(fd), s)
        });
        assert!(
            matches!(result, Err(FsyncError::NoSpaceLeft | FsyncError::DiskQuota)),
            "{result:?}"
        );
        seen.push(result);
    }
    assert!(seen.contains(&Err(FsyncError::NoSpaceLeft)));
    assert!(seen.contains(&Err(FsyncError::DiskQuota)));
}

/// After a failed fsync of 8 fresh sectors: how many read back as the new
/// data (the rest read as the old).
fn after_failed_fsync(seed: u64, revert: Ratio) -> (usize, Sim) {
    let mut s = Sim::with(seed, StorageFaults::default());
    let fd = s.format("f");
    for i in 0..8 {
        s.write(fd, &block(i, 0), i * SECTOR as u64).unwrap();
    }
    s.fsync(fd).unwrap();
    for i in 0..8 {
        s.write(fd, &block(i, 1), i * SECTOR as u64).unwrap();
    }
    s.set_storage(on(|f| {
        f.fsync_error = Ratio::ONE;
        f.fsync_revert = revert;
    }));
    assert_eq!(s.fsync(fd), Err(FsyncError::InputOutput));
    s.set_storage(StorageFaults::default());
    let mut new = 0;
    for i in 0..8 {
        let got = s.read(fd, SECTOR, i * SECTOR as u64).unwrap();
        if got == block(i, 1) {
            new += 1;
        } else {
            assert_eq!(got, block(i, 0), "old or new, nothing else");
        }
    }
    (new, s)
}

#[test]
fn failed_fsync_keeps_new_data_readable_ext4_like_or_reverts_it() {
    for seed in 0..5 {
        assert_eq!(replays(seed, |seed| after_failed_fsync(seed, Ratio::ZERO)), 8);
    }
    let reverted: Vec<usize> =
        (0..5).map(|seed| replays(seed, |seed| after_failed_fsync(seed, Ratio::ONE))).collect();
    assert!(reverted.iter().all(|&n| n < 8), "some sectors read old: {reverted:?}");
}

#[test]
fn misdirected_read_returns_another_sector_and_a_retry_heals() {
    for seed in 0..10 {
        replays(seed, |seed| {
            let mut s = Sim::with(seed, StorageFaults::default());
            let fd = s.format("f");
            for i in 0..64 {
                s.write(fd, &block(i, 0), i * SECTOR as u64).unwrap();
            }
            s.set_storage(on(|f| f.misdirected_read = Ratio::ONE));
            let got = s.read(fd, SECTOR, 5 * SECTOR as u64).unwrap();
            let source = (0..64).find(|&i| block(i, 0) == got).expect("some sector's data");
            assert_ne!(source, 5, "another sector");
            s.set_storage(StorageFaults::default());
            assert_eq!(s.read(fd, SECTOR, 5 * SECTOR as u64).unwrap(), block(5, 0), "healed");
            (source, s)
        });
    }
}

#[test]
fn stale_read_returns_the_version_before_and_is_transient() {
    replays(3, |seed| {
        let mut s = Sim::with(seed, StorageFaults::default());
        let fd = s.format("f");
        s.write(fd, &block(0, 0), 0).unwrap();
        s.fsync(fd).unwrap();
        s.write(fd, &block(0, 1), 0).unwrap();
        s.write(fd, &block(0, 2), 0).unwrap();
        s.set_storage(on(|f| f.stale_read = Ratio::ONE));
        assert_eq!(s.read(fd, SECTOR, 0).unwrap(), block(0, 1), "the previous version");
        s.set_storage(StorageFaults::default());
        assert_eq!(s.read(fd, SECTOR, 0).unwrap(), block(0, 2));
        ((), s)
    });
}

#[test]
fn misdirected_write_can_land_in_another_file_of_the_node() {
    for seed in 0..10 {
        replays(seed, |seed| {
            let storage = on(|f| {
                f.misdirected_write = Ratio::ONE;
                f.misdirected_write_other_file = Ratio::ONE;
            });
            let mut s = Sim::with(seed, StorageFaults::default());
            let a = s.format("a");
            let b = s.format("b");
            s.set_storage(storage);
            s.write(a, &block(9, 1), 0).unwrap();
            s.set_storage(StorageFaults::default());
            let whole_a = s.read(a, SIZE as usize, 0).unwrap();
            let whole_b = s.read(b, SIZE as usize, 0).unwrap();
            assert!(whole_a.iter().all(|&x| x == 0), "nothing landed in the file written");
            let found = whole_b.chunks(SECTOR).position(|c| c == block(9, 1));
            assert!(found.is_some(), "the data is in the other file");
            (found, s)
        });
    }
}

#[test]
fn misdirected_write_spares_exempt_files() {
    let storage = on(|f| {
        f.misdirected_write = Ratio::ONE;
        f.misdirected_write_other_file = Ratio::ONE;
    });
    let mut s = Sim::with(4, StorageFaults::default());
    let node = s.files.io.current_node();
    s.files.io.set_fault_exempt(node, std::path::Path::new("b"), true);
    let a = s.format("a");
    let b = s.format("b");
    s.set_storage(storage);
    s.write(a, &block(9, 1), 0).unwrap();
    s.set_storage(StorageFaults::default());
    assert!(s.read(b, SIZE as usize, 0).unwrap().iter().all(|&x| x == 0));
    let whole_a = s.read(a, SIZE as usize, 0).unwrap();
    assert!(whole_a.chunks(SECTOR).any(|c| c == block(9, 1)), "stayed in its own file");
}

#[test]
fn multi_bit_rot_flips_several_bits_persistently() {
    for seed in 0..20 {
        let bits = replays(seed, |seed| {
            let mut s = Sim::with(seed, StorageFaults::default());
            let fd = s.format("f");
            s.write(fd, &block(0, 0), 0).unwrap();
            s.set_storage(on(|f| f.multi_bit_rot = Ratio::ONE));
            let rotten = s.read(fd, SECTOR, 0).unwrap();
            s.set_storage(StorageFaults::default());
            assert_eq!(s.read(fd, SECTOR, 0).unwrap(), rotten, "a retry does not heal it");
            (bit_distance(&rotten, &block(0, 0)), s)
        });
        assert!((2..=16).contains(&bits), "{bits} bits");
    }
}

#[test]
fn sector_garbage_replaces_a_whole_sector_persistently() {
    replays(5, |seed| {
        let mut s = Sim::with(seed, StorageFaults::default());
        let fd = s.format("f");
        s.write(fd, &block(0, 0), 0).unwrap();
        s.set_storage(on(|f| f.sector_garbage = Ratio::ONE));
        let junk = s.read(fd, SECTOR, 0).unwrap();
        assert!(bit_distance(&junk, &block(0, 0)) > 1000, "garbage, not rot");
        s.set_storage(StorageFaults::default());
        assert_eq!(s.read(fd, SECTOR, 0).unwrap(), junk, "persistent");
        ((), s)
    });
}

#[test]
fn never_written_sectors_read_as_configured() {
    let mut s = Sim::with(1, on(|f| f.unwritten = Unwritten::Pattern(0xab)));
    let fd = s.format("f");
    assert!(s.read(fd, 2 * SECTOR, 0).unwrap().iter().all(|&b| b == 0xab));
    let garbage = replays(2, |seed| {
        let mut s = Sim::with(seed, on(|f| f.unwritten = Unwritten::Garbage));
        let fd = s.format("f");
        let first = s.read(fd, SECTOR, 0).unwrap();
        assert_eq!(s.read(fd, SECTOR, 0).unwrap(), first, "stable from read to read");
        s.write(fd, &[7; 100], 10).unwrap();
        let after = s.read(fd, SECTOR, 0).unwrap();
        assert_eq!(after[..10], first[..10], "a partial write keeps the rest of the sector");
        assert_eq!(after[110..], first[110..]);
        (first, s)
    });
    assert!(garbage.iter().filter(|&&b| b == 0).count() < 100, "not zeros");
    let mut s = Sim::with(1, StorageFaults::default());
    let fd = s.format("f");
    assert!(s.read(fd, SECTOR, 0).unwrap().iter().all(|&b| b == 0), "zeros by default");
}
