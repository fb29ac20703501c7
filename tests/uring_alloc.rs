//! Zero heap allocations per operation through the io_uring ring (Linux).
//!
//! The ring is crate-private and not wired into `IO` yet, so this test
//! compiles its source file on its own (it depends on nothing else of the
//! crate). A counting global allocator, counting only this test's thread,
//! checks that after `Ring::new` and a warm-up, 2,000 rounds of 8 direct
//! writes, 8 direct reads, an fsync and a cancel — pushed, submitted,
//! waited for and reaped — allocate nothing.
#![cfg(target_os = "linux")]

use std::fs::OpenOptions;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::time::Duration;

#[allow(dead_code, reason = "only part of the ring's API is exercised here")]
#[path = "../src/real/uring/ring.rs"]
mod ring;

use ring::{Ring, RingOptions, TaskRun};

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

const BLOCK: usize = 4096;
const DEPTH: usize = 8;

#[repr(C, align(4096))]
struct Block([u8; BLOCK]);

/// Pushes `DEPTH` writes, `DEPTH` reads (of other blocks), an fsync and a
/// cancel, and waits for all of their completions; returns the failures.
fn round(ring: &mut Ring, fd: i32, blocks: &mut [Block], round: u64) -> u64 {
    let (writes, reads) = blocks.split_at_mut(DEPTH);
    for (i, block) in writes.iter_mut().enumerate() {
        block.0[0] = round as u8;
        let offset = (i * BLOCK) as u64;
        // SAFETY: `blocks` is borrowed for this whole function, which
        // returns only once every completion has been reaped.
        let pushed = unsafe { ring.push_write(fd, block.0.as_ptr(), BLOCK as u32, offset, 1) };
        pushed.expect("room");
    }
    for (i, block) in reads.iter_mut().enumerate() {
        let offset = ((DEPTH + i) * BLOCK) as u64;
        // SAFETY: as above.
        let pushed = unsafe { ring.push_read(fd, block.0.as_mut_ptr(), BLOCK as u32, offset, 2) };
        pushed.expect("room");
    }
    ring.push_fsync(fd, true, 3).expect("room");
    ring.push_cancel(u64::MAX, 4).expect("room");
    let mut failures = 0;
    let mut left = 2 * DEPTH + 2;
    while left > 0 {
        ring.submit_and_wait(1, Some(Duration::from_secs(10))).expect("wait");
        let reaped = ring.reap(|user_data, result| {
            let ok = match user_data {
                1 | 2 => result == Ok(BLOCK),
                3 => result == Ok(0),
                _ => result.is_err(),
            };
            failures += u64::from(!ok);
        });
        assert!(reaped > 0, "no completion within 10 s");
        left -= reaped;
    }
    failures
}

#[test]
fn ring_ops_do_not_allocate() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/uring-tests");
    std::fs::create_dir_all(&dir).expect("create target/uring-tests");
    let path = dir.join(format!("alloc-{}", std::process::id()));
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_DIRECT)
        .open(&path)
        .expect("open with O_DIRECT");
    let fd = file.as_raw_fd();
    let options = RingOptions {
        entries: 64,
        task_run: TaskRun::Cooperative,
        single_issuer: true,
        refuse: false,
    };
    let mut ring = Ring::with_options(options).expect("io_uring available");
    let mut blocks: Vec<Block> = (0..2 * DEPTH).map(|_| Block([1; BLOCK])).collect();
    // Every block written first, so the reads reach the device; then a
    // warm-up round.
    for (i, block) in blocks.iter().enumerate() {
        // SAFETY: the completion is reaped just below, before `blocks` is
        // touched again.
        let pushed =
            unsafe { ring.push_write(fd, block.0.as_ptr(), BLOCK as u32, (i * BLOCK) as u64, 1) };
        pushed.expect("room");
        ring.submit_and_wait(1, None).expect("wait");
        ring.reap(|_, result| assert_eq!(result, Ok(BLOCK)));
    }
    assert_eq!(round(&mut ring, fd, &mut blocks, 0), 0);

    let mut failures = 0;
    let allocations = counting_alloc::allocations_during(|| {
        for r in 1..=2_000 {
            failures += round(&mut ring, fd, &mut blocks, r);
        }
    });
    drop(ring);
    let _ = std::fs::remove_file(&path);
    assert_eq!(failures, 0);
    assert_eq!(allocations, 0, "allocations in 2,000 rounds of ring ops");
}
