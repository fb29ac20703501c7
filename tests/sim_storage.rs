//! Simulated storage through the public `Io` trait: end of file, locks,
//! refused arguments, direct-IO alignment, the durability model across
//! crashes, every fault forced by its configuration, and a model check
//! (proptest) against a plain `Vec<u8>`. (Round trips at offsets, the same
//! on both backends, are in `files.rs`.)

use std::path::Path;

mod support;

use proptest::prelude::*;
use support::typed::*;
use twinio::*;

/// The twin with `faults`, and `dir` open as its directory.
fn sim(seed: u64, faults: FaultConfig, dir: &str) -> Files<SimIO<Ctx>> {
    Files::new(SimIO::new(seed, 64, faults), dir)
}

#[test]
fn end_of_file_reads_are_short_then_zero_and_writes_past_it_are_refused() {
    let mut s = sim(2, FaultConfig::none(), "d");
    let size = 2 * SECTOR as u64;
    let fd = s.open("data", size, FilePurpose::Format).unwrap();
    let tail = pattern(5, 2048);
    assert_eq!(s.write(fd, &tail, size - 2048), Ok(2048));
    assert_eq!(s.read(fd, SECTOR, size - 2048).unwrap(), tail);
    assert_eq!(s.read(fd, SECTOR, size).unwrap(), Vec::<u8>::new());
    assert_eq!(s.read(fd, SECTOR, size + 1_000_000).unwrap(), Vec::<u8>::new());
    // A write reaching past the end is refused whole, as on the kernel
    // backend (data files keep their size).
    assert_eq!(s.write(fd, &[1; 100], size - 10), Err(WriteError::FileTooBig));
    assert_eq!(s.read(fd, 10, size - 10).unwrap(), tail[2038..], "nothing landed");
    assert_eq!(s.write(fd, &[1; 100], size), Err(WriteError::FileTooBig));
}

#[test]
fn locks_inspect_and_directories() {
    let mut s = sim(3, FaultConfig::none(), "db");
    let dir = s.dir;
    let size = 4 * SECTOR as u64;
    let first = s.open("data", size, FilePurpose::Format).unwrap();
    s.write(first, b"owner", 0).unwrap();
    assert_eq!(s.open("data", size, FilePurpose::Open), Err(OpenError::Locked));
    assert_eq!(s.open("data", size, FilePurpose::Format), Err(OpenError::AlreadyExists));
    let inspect = s.open("data", size, FilePurpose::Inspect).unwrap();
    assert_eq!(s.read(inspect, 5, 0).unwrap(), b"owner");
    assert_eq!(s.write(inspect, b"x", 0), Err(WriteError::NotOpenForWriting));
    assert_eq!(s.fsync(inspect), Ok(()));
    s.close(inspect).unwrap();
    s.close(first).unwrap();
    let second = s.open("data", size, FilePurpose::Open).unwrap();
    assert_eq!(s.read(second, 5, 0).unwrap(), b"owner");
    // Directory descriptors: reads are EISDIR, writes EBADF, fsync fine.
    assert_eq!(s.read(dir, 16, 0), Err(ReadError::IsDirectory));
    assert_eq!(s.write(dir, b"x", 0), Err(WriteError::NotOpenForWriting));
    assert_eq!(s.fsync(dir), Ok(()));
    s.close(second).unwrap();
}

#[test]
fn refused_arguments_are_the_real_io_errors() {
    let mut s = sim(4, FaultConfig::none(), "refused");
    let sector = SECTOR as u64;
    s.open("small", sector, FilePurpose::Format).unwrap();
    s.open("sub/file", sector, FilePurpose::Format).unwrap();
    use FilePurpose::{Format, Inspect, Open};
    for purpose in [Format, Open, Inspect] {
        let mut open = |path: &str, size| s.open(path, size, purpose);
        assert_eq!(open("/etc/passwd", sector), Err(OpenError::AbsolutePath));
        assert_eq!(open("", sector), Err(OpenError::InvalidPath));
        assert_eq!(open("da\0ta", sector), Err(OpenError::InvalidPath));
        for size in [0, 1, sector - 1, sector + 1, 3 * sector / 2, u64::MAX] {
            assert_eq!(open("new", size), Err(OpenError::SizeNotSectorMultiple), "{size}");
        }
        assert_eq!(open("new", 1 << 63), Err(OpenError::FileTooBig));
        for bad_dir in [-1, -100, i32::MAX] {
            let result = s.io.open_data_file(
                Fd::from_raw(bad_dir),
                Path::new("new"),
                sector,
                purpose,
                DirectIo::Disabled,
            );
            assert_eq!(result, Err(OpenError::BadFileDescriptor), "dir {bad_dir}");
        }
    }
    for purpose in [Open, Inspect] {
        assert_eq!(s.open("missing", sector, purpose), Err(OpenError::NotFound));
        assert_eq!(s.open("sub", sector, purpose), Err(OpenError::NotRegularFile));
        assert_eq!(s.open("small/x", sector, purpose), Err(OpenError::NotADirectory));
    }
    assert_eq!(s.open("small", 2 * sector, Inspect), Err(OpenError::SizeMismatch));
    assert_eq!(s.open("sub", sector, Format), Err(OpenError::AlreadyExists));
    assert_eq!(s.open("small", sector, Format), Err(OpenError::AlreadyExists));
    assert_eq!(s.io.open_dir(Path::new("")), Err(OpenError::InvalidPath));
    assert_eq!(s.io.open_dir(Path::new("refused/small")), Err(OpenError::NotADirectory));
    let small = s.open("small", sector, Inspect).unwrap();
    assert_eq!(
        s.open_in(small, "x", sector, Open, DirectIo::Disabled),
        Err(OpenError::NotADirectory)
    );

    // Submit-time refusals hand the buffer back, exactly as the real IO.
    let refused =
        s.io.read(Fd::from_raw(-1), Buffer::new(8).unwrap(), .., 0, 0, on_read).unwrap_err();
    assert_eq!((refused.error, refused.returned.len()), (SubmitError::InvalidFd, 8));
    let refused = s.io.write(small, Buffer::new(8).unwrap(), 4..4, 0, 0, on_write).unwrap_err();
    assert_eq!(refused.error, SubmitError::EmptyRange);
    let refused = s.io.write(small, Buffer::new(8).unwrap(), 4..9, 0, 0, on_write).unwrap_err();
    assert_eq!(refused.error, SubmitError::RangeOutOfBounds);
    let refused =
        s.io.read(small, Buffer::new(8).unwrap(), .., u64::MAX - 3, 0, on_read).unwrap_err();
    assert_eq!(refused.error, SubmitError::OffsetOverflow);
    assert_eq!(
        s.io.fsync(Fd::from_raw(-1), FsyncMode::Full, 0, on_fsync),
        Err(SubmitError::InvalidFd)
    );

    // Closed and never-opened descriptors.
    s.close(small).unwrap();
    for fd in [small, Fd::from_raw(i32::MAX - 1)] {
        assert_eq!(s.read(fd, 16, 0), Err(ReadError::NotOpenForReading));
        assert_eq!(s.write(fd, b"data", 0), Err(WriteError::NotOpenForWriting));
        assert_eq!(s.fsync(fd), Err(FsyncError::BadFileDescriptor));
        assert_eq!(s.close(fd), Err(CloseError::BadFileDescriptor));
    }
}

#[test]
fn no_free_slot_is_refused_with_the_buffer() {
    let mut io: SimIO<Ctx> = SimIO::new(5, 2, FaultConfig::none());
    let dir = io.open_dir(Path::new("d")).unwrap();
    let fd = io
        .open_data_file(dir, Path::new("f"), 4096, FilePurpose::Format, DirectIo::Disabled)
        .unwrap();
    io.read(fd, Buffer::new(1).unwrap(), .., 0, 0, on_read).unwrap();
    io.read(fd, Buffer::new(1).unwrap(), .., 0, 0, on_read).unwrap();
    let refused = io.read(fd, Buffer::new(3).unwrap(), .., 0, 0, on_read).unwrap_err();
    assert_eq!((refused.error, refused.returned.len()), (SubmitError::NoFreeSlot, 3));
    assert_eq!(io.fsync(fd, FsyncMode::Full, 0, on_fsync), Err(SubmitError::NoFreeSlot));
    let mut ctx = Ctx::default();
    io.run_until_done(&mut ctx).unwrap();
    assert_eq!(io.in_flight(), 0);
}

#[test]
fn direct_io_misalignment_is_a_typed_error() {
    let mut s = sim(6, FaultConfig::none(), "direct");
    let dir = s.dir;
    let size = 4 * SECTOR as u64;
    let fd = s.open_in(dir, "data", size, FilePurpose::Format, DirectIo::Required).unwrap();
    for (range, offset) in [(0..SECTOR, 100), (0..100, 0), (1..SECTOR + 1, 0)] {
        let what = format!("range {range:?} at {offset}");
        let (_, result) =
            s.write_range(fd, Buffer::new(2 * SECTOR).unwrap(), range.clone(), offset);
        assert_eq!(result, Err(WriteError::Alignment), "write {what}");
        let (_, result) = s.read_range(fd, Buffer::new(2 * SECTOR).unwrap(), range, offset);
        assert_eq!(result, Err(ReadError::Alignment), "read {what}");
    }
    assert_eq!(
        s.write_range(fd, Buffer::new(SECTOR).unwrap(), 0..SECTOR, SECTOR as u64).1,
        Ok(SECTOR)
    );
    // The same file opened buffered takes any alignment.
    s.close(fd).unwrap();
    let fd = s.open("data", size, FilePurpose::Open).unwrap();
    assert_eq!(s.write(fd, b"abc", 7), Ok(3));
}

#[test]
fn crash_keeps_exactly_what_the_policy_allows() {
    let size = 8 * SECTOR as u64;
    for (policy, expect_kept) in [
        (CrashPolicy::LoseUnsynced, Some(false)),
        (CrashPolicy::KeepUnsynced, Some(true)),
        (CrashPolicy::TearUnsynced, None),
    ] {
        let faults = FaultConfig { crash: policy, ..FaultConfig::none() };
        let mut s = sim(7, faults, "node0");
        let fd = s.open("data", size, FilePurpose::Format).unwrap();
        s.write(fd, &[1; SECTOR * 2], 0).unwrap();
        s.fsync(fd).unwrap();
        s.write(fd, &[2; SECTOR * 4], 2 * SECTOR as u64).unwrap();
        // Unsynced data is readable before the crash.
        assert_eq!(s.read(fd, SECTOR, 5 * SECTOR as u64).unwrap(), vec![2; SECTOR]);
        s.io.crash_node(NodeId::FIRST).unwrap();
        assert!(!s.io.is_alive(NodeId::FIRST));
        assert_eq!(s.io.open_dir(Path::new("node0")), Err(OpenError::Unexpected(Errno::ESRCH)));
        s.io.restart_node(NodeId::FIRST).unwrap();
        s.dir = s.open_dir("node0");
        // The lock died with the process.
        let fd = s.open("data", size, FilePurpose::Open).unwrap();
        assert_eq!(s.read(fd, 2 * SECTOR, 0).unwrap(), vec![1; 2 * SECTOR], "{policy:?}: synced");
        let unsynced = s.read(fd, 4 * SECTOR, 2 * SECTOR as u64).unwrap();
        let kept: Vec<bool> = unsynced.chunks(SECTOR).map(|c| c == [2; SECTOR]).collect();
        for chunk in unsynced.chunks(SECTOR) {
            assert!(chunk == [2; SECTOR] || chunk == [0; SECTOR], "{policy:?}: sector-granular");
        }
        match expect_kept {
            Some(all) => assert!(kept.iter().all(|&k| k == all), "{policy:?}: {kept:?}"),
            None => assert_eq!(kept.len(), 4),
        }
    }
}

#[test]
fn crash_drops_pending_operations_without_callbacks() {
    let latency = Latency { floor_ns: 1_000_000, ..Latency::ZERO };
    let faults = FaultConfig {
        storage: StorageFaults { write_latency: latency, ..StorageFaults::default() },
        ..FaultConfig::none()
    };
    let mut s = sim(8, faults, "d");
    let fd = s.open("data", SECTOR as u64, FilePurpose::Format).unwrap();
    s.io.write(fd, Buffer::from_slice(&[9; SECTOR]).unwrap(), .., 0, 0, on_write).unwrap();
    s.io.tick(&mut s.ctx).unwrap(); // issued, waiting out its latency
    assert_eq!(s.io.in_flight(), 1);
    s.io.crash_node(NodeId::FIRST).unwrap();
    assert_eq!(s.io.in_flight(), 0);
    s.io.run_for_ns(&mut s.ctx, 10_000_000).unwrap();
    assert!(s.ctx.log.is_empty(), "a dead process gets no callback: {:?}", s.ctx.log);
    assert_eq!(
        s.io.read(fd, Buffer::new(1).unwrap(), .., 0, 0, on_read).unwrap_err().error,
        SubmitError::Closed
    );
    s.io.restart_node(NodeId::FIRST).unwrap();
    s.dir = s.open_dir("d");
    let fd = s.open("data", SECTOR as u64, FilePurpose::Open).unwrap();
    assert_eq!(s.read(fd, SECTOR, 0).unwrap(), vec![0; SECTOR], "the write never happened");
}

#[test]
fn nodes_have_separate_storage_and_descriptors() {
    let mut s = sim(9, FaultConfig::none(), "same/path");
    let fa = s.open("data", SECTOR as u64, FilePurpose::Format).unwrap();
    s.write(fa, b"node zero", 0).unwrap();
    let other = s.io.add_node();
    s.io.set_current_node(other).unwrap();
    assert_eq!(s.read(fa, 4, 0), Err(ReadError::NotOpenForReading), "another process's fd");
    s.dir = s.open_dir("same/path");
    assert_eq!(s.open("data", SECTOR as u64, FilePurpose::Open), Err(OpenError::NotFound));
    let fb = s.open("data", SECTOR as u64, FilePurpose::Format).unwrap();
    assert_eq!(s.read(fb, 4, 0).unwrap(), vec![0; 4]);
    s.io.crash_node(NodeId::FIRST).unwrap();
    assert!(s.io.is_alive(other));
    assert_eq!(s.write(fb, b"alive", 0), Ok(5));
    assert_eq!(s.io.set_current_node(NodeId(99)), Err(NodeError::UnknownNode));
    assert_eq!(s.io.crash_node(NodeId(99)), Err(NodeError::UnknownNode));
}

// ---- faults, each forced by its configuration ----

fn forced(storage: StorageFaults) -> Files<SimIO<Ctx>> {
    sim(10, FaultConfig { storage, ..FaultConfig::none() }, "faults")
}

fn formatted(s: &mut Files<SimIO<Ctx>>, name: &str) -> Fd {
    s.open(name, 4 * SECTOR as u64, FilePurpose::Format).unwrap()
}

#[test]
fn latent_sector_error_persists_until_rewritten() {
    let mut s = forced(StorageFaults { latent_sector_error: Ratio::ONE, ..Default::default() });
    let fd = formatted(&mut s, "data");
    s.write(fd, &[3; SECTOR], 0).unwrap();
    assert_eq!(s.read(fd, SECTOR, 0), Err(ReadError::InputOutput));
    s.io.set_faults(FaultConfig::none());
    assert_eq!(s.read(fd, SECTOR, 0), Err(ReadError::InputOutput), "stays bad");
    s.write(fd, &[4; SECTOR], 0).unwrap();
    assert_eq!(s.read(fd, SECTOR, 0).unwrap(), vec![4; SECTOR], "healed by the rewrite");
}

#[test]
fn bit_rot_is_silent_and_a_retry_does_not_heal_it() {
    let mut s = forced(StorageFaults { bit_rot: Ratio::ONE, ..Default::default() });
    let fd = formatted(&mut s, "data");
    s.write(fd, &[5; SECTOR], 0).unwrap();
    let first = s.read(fd, SECTOR, 0).unwrap();
    let flipped: u32 = first.iter().map(|b| (b ^ 5).count_ones()).sum();
    assert_eq!(flipped, 1);
    s.io.set_faults(FaultConfig::none());
    assert_eq!(s.read(fd, SECTOR, 0).unwrap(), first, "the retry sees the same rot");
}

#[test]
fn misdirected_write_lands_elsewhere_and_leaves_the_target_stale() {
    let mut s = sim(11, FaultConfig::none(), "faults");
    let fd = formatted(&mut s, "data");
    s.io.set_faults(FaultConfig {
        storage: StorageFaults { misdirected_write: Ratio::ONE, ..Default::default() },
        ..FaultConfig::none()
    });
    let mut misdirected = false;
    for sector in 0..4u64 {
        assert_eq!(s.write(fd, &[7; SECTOR], sector * SECTOR as u64), Ok(SECTOR));
    }
    s.io.set_faults(FaultConfig::none());
    let all = s.read(fd, 4 * SECTOR, 0).unwrap();
    let sevens = all.chunks(SECTOR).filter(|c| *c == [7; SECTOR]).count();
    if sevens < 4 {
        misdirected = true;
    }
    assert!(misdirected, "four misdirected writes all landed on their own sector");
}

#[test]
fn torn_write_lands_a_strict_prefix_of_sectors() {
    let mut s = sim(12, FaultConfig::none(), "faults");
    let fd = formatted(&mut s, "data");
    s.io.set_faults(FaultConfig {
        storage: StorageFaults { torn_write: Ratio::ONE, ..Default::default() },
        ..FaultConfig::none()
    });
    assert_eq!(s.write(fd, &[8; 4 * SECTOR], 0), Ok(4 * SECTOR), "reported whole");
    s.io.set_faults(FaultConfig::none());
    let all = s.read(fd, 4 * SECTOR, 0).unwrap();
    let landed: Vec<bool> = all.chunks(SECTOR).map(|c| c == [8; SECTOR]).collect();
    assert!(!landed[3], "{landed:?}");
    assert!(landed.windows(2).all(|w| w[0] || !w[1]), "a prefix: {landed:?}");
}

#[test]
fn no_space_and_fsync_error_are_reported() {
    let mut s = forced(StorageFaults { no_space: Ratio::ONE, ..Default::default() });
    let fd = formatted(&mut s, "data");
    assert_eq!(s.write(fd, &[1; 10], 0), Err(WriteError::NoSpaceLeft));
    s.io.set_faults(FaultConfig {
        storage: StorageFaults { fsync_error: Ratio::ONE, ..Default::default() },
        crash: CrashPolicy::KeepUnsynced,
        ..FaultConfig::none()
    });
    s.write(fd, &[6; 4 * SECTOR], 0).unwrap();
    assert_eq!(s.fsync(fd), Err(FsyncError::InputOutput));
    // After the failed fsync the cache still serves the new data...
    assert_eq!(s.read(fd, 4 * SECTOR, 0).unwrap(), vec![6; 4 * SECTOR]);
    // ...but sectors the failed fsync dropped are gone after a crash, even
    // though the policy keeps unsynced (dirty) data: they are no longer dirty.
    s.io.crash_node(NodeId::FIRST).unwrap();
    s.io.restart_node(NodeId::FIRST).unwrap();
    s.io.set_faults(FaultConfig::none());
    s.dir = s.open_dir("faults");
    let fd = s.open("data", 4 * SECTOR as u64, FilePurpose::Open).unwrap();
    for chunk in s.read(fd, 4 * SECTOR, 0).unwrap().chunks(SECTOR) {
        assert!(chunk == [6; SECTOR] || chunk == [0; SECTOR]);
    }
}

#[test]
fn exempt_files_get_no_corruption() {
    let corrupt = StorageFaults {
        latent_sector_error: Ratio::ONE,
        bit_rot: Ratio::ONE,
        misdirected_write: Ratio::ONE,
        torn_write: Ratio::ONE,
        ..Default::default()
    };
    let mut s = forced(corrupt);
    s.io.set_fault_exempt(NodeId::FIRST, Path::new("log.b"), true);
    let fd = formatted(&mut s, "log.b");
    for sector in 0..4u64 {
        s.write(fd, &pattern(sector, SECTOR), sector * SECTOR as u64).unwrap();
    }
    for sector in 0..4u64 {
        assert_eq!(s.read(fd, SECTOR, sector * SECTOR as u64).unwrap(), pattern(sector, SECTOR));
    }
    let other = formatted(&mut s, "log.a");
    s.write(other, &[1; SECTOR], 0).unwrap();
    assert_ne!(s.read(other, SECTOR, 0), Ok(vec![1; SECTOR]), "the other copy is not spared");
}

#[test]
fn latency_moves_virtual_time_and_only_virtual_time() {
    let latency = Latency { floor_ns: 5_000_000, ..Latency::ZERO };
    let mut s = forced(StorageFaults { read_latency: latency, ..Default::default() });
    let fd = formatted(&mut s, "data");
    let before = s.io.now_ns();
    s.read(fd, 16, 0).unwrap();
    assert_eq!(s.io.now_ns() - before, 5_000_000);
}

// ---- model check ----

#[derive(Clone, Debug)]
enum Step {
    Write { offset: u64, len: usize, byte: u8 },
    Read { offset: u64, len: usize },
    Fsync,
    Crash,
}

const MODEL_SIZE: u64 = 8 * SECTOR as u64;

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..MODEL_SIZE, 1usize..3 * SECTOR, any::<u8>())
            .prop_map(|(offset, len, byte)| Step::Write { offset, len, byte }),
        3 => (0..MODEL_SIZE + 100, 1usize..3 * SECTOR).prop_map(|(offset, len)| Step::Read { offset, len }),
        2 => Just(Step::Fsync),
        1 => Just(Step::Crash),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// With faults off, the file reads back as a plain `Vec<u8>` model; a
    /// crash (losing unsynced data) brings it back to the synced model.
    #[test]
    fn storage_matches_a_model_and_synced_bytes_survive_crashes(
        steps in proptest::collection::vec(step(), 1..40),
        seed in any::<u64>(),
    ) {
        let mut s = sim(seed, FaultConfig::none(), "model");
        let mut fd = s.open("data", MODEL_SIZE, FilePurpose::Format).unwrap();
        let mut model = vec![0u8; MODEL_SIZE as usize];
        let mut synced = model.clone();
        for step in steps {
            match step {
                Step::Write { offset, len, byte } => {
                    let written = s.write(fd, &vec![byte; len], offset);
                    if offset + len as u64 > MODEL_SIZE {
                        // Past the end: refused whole, the file untouched.
                        prop_assert_eq!(written, Err(WriteError::FileTooBig));
                    } else {
                        prop_assert_eq!(written, Ok(len));
                        model[offset as usize..offset as usize + len].fill(byte);
                    }
                }
                Step::Read { offset, len } => {
                    let got = s.read(fd, len, offset).unwrap();
                    let start = (offset as usize).min(model.len());
                    let end = (start + len).min(model.len());
                    prop_assert_eq!(&got[..], &model[start..end]);
                }
                Step::Fsync => {
                    s.fsync(fd).unwrap();
                    synced.clone_from(&model);
                }
                Step::Crash => {
                    s.io.crash_node(NodeId::FIRST).unwrap();
                    s.io.restart_node(NodeId::FIRST).unwrap();
                    s.dir = s.open_dir("model");
                    fd = s.open("data", MODEL_SIZE, FilePurpose::Open).unwrap();
                    model.clone_from(&synced);
                    let got = s.read(fd, MODEL_SIZE as usize, 0).unwrap();
                    prop_assert!(got == synced, "synced bytes lost");
                }
            }
        }
    }
}
