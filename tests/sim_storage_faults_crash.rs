//! Fault model v2: crash states, `open_data_file` faults, latency and the
//! device model, and the swarm configuration. Each fault forced on,
//! checked to fire, to have its documented effect, and to replay
//! identically from its seed.

mod support;

#[path = "sim_storage_faults_harness/mod.rs"]
mod harness;

use harness::*;
use twinio::*;

fn crash_config(crash: CrashPolicy, f: impl FnOnce(&mut StorageFaults)) -> FaultConfig {
    let mut storage = StorageFaults::default();
    f(&mut storage);
    FaultConfig { storage, crash, ..FaultConfig::none() }
}

/// Sector 0 durable as version 0, then rewritten as versions 1..=3
/// unsynced; returns what it holds after a crash.
fn rewritten_then_crashed(seed: u64, faults: FaultConfig) -> (Vec<u8>, Sim) {
    let mut s = Sim::new(seed, faults);
    let fd = s.format("f");
    s.write(fd, &block(0, 0), 0).unwrap();
    s.fsync(fd).unwrap();
    for version in 1..=3 {
        s.write(fd, &block(0, version), 0).unwrap();
    }
    s.crash();
    let fd = s.open("f", FilePurpose::Open, false).unwrap();
    let got = s.read(fd, SECTOR, 0).unwrap();
    (got, s)
}

#[test]
fn any_version_can_bring_back_an_intermediate_state() {
    let faults = crash_config(CrashPolicy::AnyVersion, |_| {});
    let mut seen = [false; 4];
    for seed in 0..40 {
        let got = replays(seed, |seed| rewritten_then_crashed(seed, faults));
        let version = (0..4).find(|&v| block(0, v) == got).expect("one of the versions");
        seen[version as usize] = true;
    }
    assert_eq!(seen, [true; 4], "durable, both intermediates and the newest all occur");
}

#[test]
fn torn_sectors_mix_versions_in_512_byte_pieces() {
    let faults = crash_config(CrashPolicy::TearUnsynced, |f| f.crash_torn_sector = Ratio::ONE);
    let mut torn = 0;
    for seed in 0..20 {
        let got = replays(seed, |seed| rewritten_then_crashed(seed, faults));
        if got == block(0, 0) {
            continue; // the sector did not change at all
        }
        let (old, new) = (block(0, 2), block(0, 3));
        let pieces: Vec<bool> = (0..8)
            .map(|p| {
                let range = p * 512..(p + 1) * 512;
                assert!(
                    got[range.clone()] == new[range.clone()]
                        || got[range.clone()] == old[range.clone()]
                );
                got[range.clone()] == new[range]
            })
            .collect();
        assert!(pieces.contains(&true) && pieces.contains(&false), "really torn");
        torn += 1;
    }
    assert!(torn > 0);
}

#[test]
fn torn_pieces_can_be_garbage() {
    let faults = crash_config(CrashPolicy::TearUnsynced, |f| {
        f.crash_torn_sector = Ratio::ONE;
        f.crash_torn_garbage = Ratio::ONE;
    });
    let mut garbage_seen = false;
    for seed in 0..20 {
        let got = replays(seed, |seed| rewritten_then_crashed(seed, faults));
        if got == block(0, 0) {
            continue;
        }
        let new = block(0, 3);
        let landed = (0..8).filter(|p| got[p * 512..][..512] == new[p * 512..][..512]).count();
        assert!((1..8).contains(&landed), "some pieces landed, not all");
        let older = (0..3).map(|v| block(0, v)).collect::<Vec<_>>();
        garbage_seen |= (0..8).any(|p| {
            let piece = &got[p * 512..][..512];
            piece != &new[p * 512..][..512] && older.iter().all(|o| piece != &o[p * 512..][..512])
        });
    }
    assert!(garbage_seen);
}

#[test]
fn writes_in_flight_at_a_crash_may_land_or_not() {
    let faults = FaultConfig {
        storage: StorageFaults {
            write_latency: Latency { floor_ns: 1_000_000, ..Latency::ZERO },
            ..StorageFaults::default()
        },
        crash: CrashPolicy::AnyVersion,
        ..FaultConfig::none()
    };
    let mut outcomes = [0; 2];
    for seed in 0..30 {
        let landed = replays(seed, |seed| {
            let mut s = Sim::new(seed, faults);
            let fd = s.format("f");
            let buffer = Buffer::from_slice(&[block(0, 1), block(1, 1)].concat()).unwrap();
            let f = &mut s.files;
            f.io.write(fd, buffer, .., 0, 0, |_, _, _| panic!("the crash drops the callback"))
                .unwrap();
            f.io.flush(&mut f.ctx, false).unwrap(); // issued, its latency running
            s.crash();
            let fd = s.open("f", FilePurpose::Open, false).unwrap();
            let got = s.read(fd, 2 * SECTOR, 0).unwrap();
            let landed =
                (0..2).filter(|&i| got[i * SECTOR..][..SECTOR] == block(i as u64, 1)).count();
            for i in 0..2 {
                let sector = &got[i * SECTOR..][..SECTOR];
                assert!(sector == block(i as u64, 1) || sector.iter().all(|&b| b == 0));
            }
            (landed, s)
        });
        outcomes[usize::from(landed > 0)] += 1;
    }
    assert!(outcomes[0] > 0 && outcomes[1] > 0, "{outcomes:?}");
}

#[test]
fn format_can_fail_and_a_crash_can_bring_the_file_back() {
    let faults = crash_config(CrashPolicy::LoseUnsynced, |f| f.open_error = Ratio::ONE);
    let mut after = Vec::new();
    for seed in 0..40 {
        let outcome = replays(seed, |seed| {
            let mut s = Sim::new(seed, faults);
            let error = s.open("f", FilePurpose::Format, false).unwrap_err();
            assert!(matches!(error, OpenError::NoSpaceLeft | OpenError::InputOutput), "{error:?}");
            s.set_storage(StorageFaults::default());
            assert_eq!(s.open("f", FilePurpose::Open, false).unwrap_err(), OpenError::NotFound);
            s.crash();
            let reopened = s.open("f", FilePurpose::Open, false).map(drop);
            if error == OpenError::InputOutput {
                assert!(matches!(reopened, Ok(()) | Err(OpenError::NotFound)), "{reopened:?}");
            } else {
                let short = Err(OpenError::SizeMismatch);
                assert!(reopened == short || reopened == Err(OpenError::NotFound), "{reopened:?}");
            }
            ((error, reopened), s)
        });
        after.push(outcome);
    }
    for wanted in [
        (OpenError::InputOutput, Ok(())),
        (OpenError::InputOutput, Err(OpenError::NotFound)),
        (OpenError::NoSpaceLeft, Err(OpenError::SizeMismatch)),
        (OpenError::NoSpaceLeft, Err(OpenError::NotFound)),
    ] {
        assert!(after.contains(&wanted), "{wanted:?} never happened");
    }
}

#[test]
fn open_can_fail_its_sync_and_leaves_the_file_usable() {
    replays(1, |seed| {
        let mut s = Sim::with(seed, StorageFaults::default());
        let fd = s.format("f");
        s.write(fd, &block(0, 0), 0).unwrap();
        s.fsync(fd).unwrap();
        s.crash();
        s.set_storage(StorageFaults { open_error: Ratio::ONE, ..StorageFaults::default() });
        assert_eq!(s.open("f", FilePurpose::Open, false).unwrap_err(), OpenError::InputOutput);
        s.set_storage(StorageFaults::default());
        let fd = s.open("f", FilePurpose::Open, false).expect("not locked by the failed open");
        assert_eq!(s.read(fd, SECTOR, 0).unwrap(), block(0, 0));
        ((), s)
    });
}

/// Submits `count` writes at once and returns their completion times.
fn completion_times(seed: u64, storage: StorageFaults, count: u64) -> (Vec<u64>, Sim) {
    fn done(times: &mut Vec<u64>, io: &mut SimIO<Vec<u64>>, d: WriteDone) {
        d.result.unwrap();
        times.push(io.now_ns());
    }
    let mut io: SimIO<Vec<u64>> =
        SimIO::new(seed, 64, FaultConfig { storage, ..FaultConfig::none() });
    let dir = io.open_dir(std::path::Path::new("/d")).unwrap();
    let fd = io
        .open_data_file(
            dir,
            std::path::Path::new("f"),
            SIZE,
            FilePurpose::Format,
            DirectIo::Disabled,
        )
        .unwrap();
    let start = io.now_ns();
    for i in 0..count {
        io.write(fd, Buffer::new(SECTOR).unwrap(), .., i * SECTOR as u64, 0, done).unwrap();
    }
    let mut times = Vec::new();
    io.run_until_done(&mut times).unwrap();
    let mut s = Sim::with(seed, StorageFaults::default());
    s.note(&io.trace_hash().to_le_bytes());
    (times.into_iter().map(|t| t - start).collect(), s)
}

#[test]
fn device_limits_make_concurrent_operations_queue() {
    let storage = StorageFaults { iops: 1000, bandwidth: 4096 * 1000, ..StorageFaults::default() };
    let times = replays(1, |seed| completion_times(seed, storage, 8));
    // Each write occupies the device 1 ms (IOPS) + 1 ms (bandwidth).
    let expected: Vec<u64> = (1..=8).map(|i| i * 2_000_000).collect();
    assert_eq!(times, expected);
    let free = replays(1, |seed| completion_times(seed, StorageFaults::default(), 8));
    assert!(free.iter().all(|&t| t == 0), "no limits, no latency: at once");
}

#[test]
fn stalls_are_long_and_hold_up_the_operations_behind_them() {
    let storage = StorageFaults {
        stall: Ratio::new(1, 4).unwrap(),
        stall_min_ns: 10_000_000,
        stall_max_ns: 2_000_000_000,
        ..StorageFaults::default()
    };
    let mut longest = 0;
    for seed in 0..20 {
        let times = replays(seed, |seed| completion_times(seed, storage, 16));
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "a stall delays everything after it");
        longest = longest.max(*times.last().unwrap());
    }
    assert!(longest >= 100_000_000, "the tail reaches far past the minimum: {longest}");
}

#[test]
fn new_faults_are_off_in_none_and_drawn_in_swarm() {
    let none = FaultConfig::none().storage;
    assert_eq!(none, StorageFaults::default());
    assert!(none.short_write.is_zero() && none.open_error.is_zero() && none.stall.is_zero());
    assert_eq!(none.unwritten, Unwritten::Zeros);
    let swarms: Vec<FaultConfig> = (0..64).map(FaultConfig::swarm).collect();
    let on =
        |f: fn(&StorageFaults) -> Ratio| swarms.iter().filter(|c| !f(&c.storage).is_zero()).count();
    for (name, count) in [
        ("short_write", on(|s| s.short_write)),
        ("stale_read", on(|s| s.stale_read)),
        ("crash_torn_sector", on(|s| s.crash_torn_sector)),
        ("open_error", on(|s| s.open_error)),
        ("stall", on(|s| s.stall)),
    ] {
        assert!(count > 0 && count < 64, "{name}: on in {count} of 64");
    }
    assert!(swarms.iter().any(|c| c.crash == CrashPolicy::AnyVersion));
    assert!(swarms.iter().any(|c| c.storage.unwritten == Unwritten::Garbage));
    let text = swarms[0].to_string();
    for field in ["short_read", "writeback_error", "fsync_revert", "unwritten", "stall", "device"] {
        assert!(text.contains(field), "{field} missing from\n{text}");
    }
}

#[test]
fn each_node_has_its_own_device_queue() {
    fn done(times: &mut Vec<(u32, u64)>, io: &mut SimIO<Vec<(u32, u64)>>, d: WriteDone) {
        d.result.unwrap();
        times.push((io.current_node().0, io.now_ns()));
    }
    let storage = StorageFaults { iops: 1000, ..StorageFaults::default() };
    let mut io: SimIO<Vec<(u32, u64)>> =
        SimIO::new(1, 64, FaultConfig { storage, ..FaultConfig::none() });
    let other = io.add_node();
    let start = io.now_ns();
    for (node, writes) in [(io.current_node(), 4), (other, 1)] {
        io.set_current_node(node).unwrap();
        let dir = io.open_dir(std::path::Path::new("/d")).unwrap();
        let name = std::path::Path::new("f");
        let fd = io.open_data_file(dir, name, SIZE, FilePurpose::Format, DirectIo::Disabled);
        let fd = fd.unwrap();
        for i in 0..writes {
            io.write(fd, Buffer::new(SECTOR).unwrap(), .., i * SECTOR as u64, 0, done).unwrap();
        }
    }
    let mut times = Vec::new();
    io.run_until_done(&mut times).unwrap();
    let of = |node: u32| -> Vec<u64> {
        times.iter().filter(|t| t.0 == node).map(|t| t.1 - start).collect()
    };
    assert_eq!(of(0), [1_000_000, 2_000_000, 3_000_000, 4_000_000], "node 0's writes queue");
    assert_eq!(of(other.0), [1_000_000], "node 1 does not wait behind node 0");
}
