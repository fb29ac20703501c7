//! What an fsync covers, held to in the twin (docs/durability.md): the
//! writes whose callbacks ran before it was submitted, and no others. An
//! engine that submits its fsync before the write's callback ran must be
//! able to lose the write in a crash, even though the fsync succeeded.

mod support;

#[path = "sim_storage_faults_harness/mod.rs"]
mod harness;

use harness::*;
use twinio::*;

/// Crashes lose whatever is not durable.
fn lose_unsynced() -> FaultConfig {
    FaultConfig { crash: CrashPolicy::LoseUnsynced, ..FaultConfig::none() }
}

/// Submits a write of `data` at 0 and an fsync without waiting between
/// them; runs both to completion and checks both succeeded.
fn write_and_fsync_together(s: &mut Sim, fd: Fd, data: &[u8]) {
    let buffer = Buffer::from_slice(data).unwrap();
    let f = &mut s.files;
    f.io.write(fd, buffer, .., 0, 1, |_, _, done: WriteDone| assert_eq!(done.result, Ok(SECTOR)))
        .unwrap();
    f.io.fsync(fd, FsyncMode::Full, 2, |_, _, done: FsyncDone| assert_eq!(done.result, Ok(())))
        .unwrap();
    f.io.run_until_done(&mut f.ctx).unwrap();
}

fn after_crash(s: &mut Sim) -> Vec<u8> {
    s.crash();
    let fd = s.open("f", FilePurpose::Open, false).unwrap();
    s.read(fd, SECTOR, 0).unwrap()
}

#[test]
fn an_fsync_submitted_before_the_write_completed_does_not_cover_it() {
    for seed in 0..8 {
        let got = replays(seed, |seed| {
            let mut s = Sim::new(seed, lose_unsynced());
            let fd = s.format("f");
            write_and_fsync_together(&mut s, fd, &block(0, 1));
            (after_crash(&mut s), s)
        });
        assert_ne!(got, block(0, 1), "seed {seed}: the in-flight write was made durable");
        assert_eq!(got, vec![0; SECTOR], "seed {seed}: the formatted (zeroed) sector");
    }
}

#[test]
fn an_fsync_submitted_after_the_write_callback_covers_it() {
    for seed in 0..8 {
        let got = replays(seed, |seed| {
            let mut s = Sim::new(seed, lose_unsynced());
            let fd = s.format("f");
            s.write(fd, &block(0, 1), 0).unwrap(); // waits for the callback
            s.fsync(fd).unwrap();
            (after_crash(&mut s), s)
        });
        assert_eq!(got, block(0, 1), "seed {seed}");
    }
}

#[test]
fn an_fsync_covers_the_version_completed_before_it_not_the_rewrite_in_flight() {
    for seed in 0..8 {
        let got = replays(seed, |seed| {
            let mut s = Sim::new(seed, lose_unsynced());
            let fd = s.format("f");
            s.write(fd, &block(0, 1), 0).unwrap(); // completed: covered
            write_and_fsync_together(&mut s, fd, &block(0, 2)); // in flight: not
            (after_crash(&mut s), s)
        });
        assert_eq!(got, block(0, 1), "seed {seed}");
    }
}

#[test]
fn a_later_fsync_covers_the_write_the_earlier_one_did_not() {
    let got = replays(3, |seed| {
        let mut s = Sim::new(seed, lose_unsynced());
        let fd = s.format("f");
        write_and_fsync_together(&mut s, fd, &block(0, 1));
        s.fsync(fd).unwrap();
        (after_crash(&mut s), s)
    });
    assert_eq!(got, block(0, 1));
}
