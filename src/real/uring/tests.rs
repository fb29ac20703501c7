//! The ring against a real kernel: direct-IO roundtrips on a file under
//! `target/` (a disk, not a tmpfs), a full queue, cancel, and the epoll
//! readiness of the ring's descriptor under every task-run mode.

use std::ffi::OsStr;
use std::fs::{File, OpenOptions};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::time::Duration;

use nix::errno::Errno;

use super::{Full, Ring, RingOptions, TaskRun, refusal_requested};

const BLOCK: usize = 4096;
/// How long a test waits for a completion before it fails: a liveness
/// bound, not a timing assertion.
const PATIENCE: Duration = Duration::from_secs(10);
const MODES: [TaskRun; 3] = [TaskRun::Interrupt, TaskRun::Cooperative, TaskRun::Deferred];

#[repr(C, align(4096))]
#[derive(Clone, Copy)]
struct Block([u8; BLOCK]);

fn blocks(n: usize, fill: impl Fn(usize) -> u8) -> Vec<Block> {
    (0..n).map(|i| Block([fill(i); BLOCK])).collect()
}

fn ring(entries: u32, task_run: TaskRun) -> Ring {
    let options = RingOptions { entries, task_run, single_issuer: true, refuse: false };
    Ring::with_options(options).expect("io_uring available")
}

/// A file opened with `O_DIRECT`, removed when dropped.
struct TestFile {
    file: File,
    path: PathBuf,
}

impl TestFile {
    fn new(name: &str) -> TestFile {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/uring-tests");
        std::fs::create_dir_all(&dir).expect("create target/uring-tests");
        let path = dir.join(format!("{name}-{}", std::process::id()));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .custom_flags(libc::O_DIRECT)
            .open(&path)
            .expect("open with O_DIRECT under target/");
        TestFile { file, path }
    }

    fn fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}

impl Drop for TestFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Submits, then waits and reaps until `n` completions came, recording
/// each as `(user_data, result)`.
fn complete(ring: &mut Ring, n: usize) -> Vec<(u64, Result<usize, Errno>)> {
    let mut done = Vec::new();
    ring.submit().expect("submit");
    while done.len() < n {
        let before = done.len();
        ring.submit_and_wait(1, Some(PATIENCE)).expect("wait");
        ring.reap(|user_data, result| done.push((user_data, result)));
        assert!(done.len() > before, "no completion within {PATIENCE:?}");
    }
    done.sort_by_key(|&(user_data, _)| user_data);
    done
}

#[test]
fn refusal_fails_as_eperm_without_asking_the_kernel() {
    let options = RingOptions {
        entries: 8,
        task_run: TaskRun::Cooperative,
        single_issuer: true,
        refuse: true,
    };
    assert_eq!(Ring::with_options(options).err(), Some(Errno::EPERM));
    assert!(refusal_requested(Some(OsStr::new("1"))));
    assert!(refusal_requested(Some(OsStr::new("yes"))));
    assert!(!refusal_requested(Some(OsStr::new("0"))));
    assert!(!refusal_requested(Some(OsStr::new(""))));
    assert!(!refusal_requested(None));
}

#[test]
fn new_refuses_exactly_when_the_environment_asks() {
    let asked = refusal_requested(std::env::var_os(super::REFUSE_ENV).as_deref());
    match Ring::new(8) {
        Ok(_) => assert!(!asked, "refusal asked for, ring built anyway"),
        Err(errno) => assert!(asked && errno == Errno::EPERM, "refused with {errno}"),
    }
}

#[test]
fn waiting_with_nothing_in_flight_returns_at_once() {
    let mut ring = ring(8, TaskRun::Cooperative);
    // No timeout: without the cap on `min_complete` this would never return.
    assert_eq!(ring.submit_and_wait(1, None), Ok(0));
    assert_eq!(ring.reap(|_, _| {}), 0);
}

#[test]
fn bad_entries_is_an_errno_not_a_panic() {
    let options = RingOptions {
        entries: 0,
        task_run: TaskRun::Cooperative,
        single_issuer: true,
        refuse: false,
    };
    assert_eq!(Ring::with_options(options).err(), Some(Errno::EINVAL));
}

#[test]
fn direct_write_fsync_read_roundtrip_many_in_flight() {
    const N: usize = 48;
    for mode in MODES {
        let file = TestFile::new("roundtrip");
        let mut ring = ring(64, mode);
        let written = blocks(N, |i| i as u8 + 1);
        for (i, block) in written.iter().enumerate() {
            let offset = (i * BLOCK) as u64;
            // SAFETY: `written` outlives the completions reaped below and is
            // not touched until then.
            unsafe { ring.push_write(file.fd(), block.0.as_ptr(), BLOCK as u32, offset, i as u64) }
                .expect("room");
        }
        assert_eq!(ring.in_flight(), N as u32);
        let done = complete(&mut ring, N);
        assert_eq!(done, (0..N as u64).map(|i| (i, Ok(BLOCK))).collect::<Vec<_>>());

        // Both fsync kinds, after the writes completed: what they cover.
        ring.push_fsync(file.fd(), false, 100).expect("room");
        ring.push_fsync(file.fd(), true, 101).expect("room");
        assert_eq!(complete(&mut ring, 2), [(100, Ok(0)), (101, Ok(0))]);

        let mut read = blocks(N, |_| 0);
        for (i, block) in read.iter_mut().enumerate().rev() {
            let offset = (i * BLOCK) as u64;
            // SAFETY: `read` outlives the completions reaped below and is
            // not touched until then.
            unsafe {
                ring.push_read(file.fd(), block.0.as_mut_ptr(), BLOCK as u32, offset, i as u64)
            }
            .expect("room");
        }
        let done = complete(&mut ring, N);
        assert_eq!(done, (0..N as u64).map(|i| (i, Ok(BLOCK))).collect::<Vec<_>>());
        for (i, block) in read.iter().enumerate() {
            assert!(block.0.iter().all(|&b| b == i as u8 + 1), "{mode:?}: block {i} differs");
        }
        assert_eq!(ring.in_flight(), 0);
    }
}

#[test]
fn submit_chunk_submits_only_once_a_chunk_is_queued() {
    let file = TestFile::new("chunk");
    let mut ring = ring(16, TaskRun::Cooperative);
    let written = blocks(6, |i| i as u8);
    for (i, block) in written.iter().enumerate() {
        let offset = (i * BLOCK) as u64;
        // SAFETY: `written` outlives the completions reaped below and is
        // not touched until then.
        unsafe { ring.push_write(file.fd(), block.0.as_ptr(), BLOCK as u32, offset, i as u64) }
            .expect("room");
        let submitted = ring.submit_chunk(4).expect("submit");
        // The 4th push hands over the first four; the 5th and 6th wait.
        let expected = if i == 3 { 4 } else { 0 };
        assert_eq!((i, submitted), (i, expected));
        assert_eq!(ring.queued(), [1, 2, 3, 0, 1, 2][i]);
    }
    assert_eq!(ring.submit(), Ok(2));
    let done = complete(&mut ring, 6);
    assert_eq!(done, (0..6).map(|i| (i, Ok(BLOCK))).collect::<Vec<_>>());
}

#[test]
fn errors_come_back_as_the_operations_errno() {
    let file = TestFile::new("errors");
    let mut ring = ring(8, TaskRun::Cooperative);
    let block = blocks(1, |_| 7);
    // SAFETY: `block` outlives the completions reaped below.
    unsafe {
        // O_DIRECT needs aligned offsets: 1 is not.
        ring.push_write(file.fd(), block[0].0.as_ptr(), BLOCK as u32, 1, 1).expect("room");
        ring.push_write(-1, block[0].0.as_ptr(), BLOCK as u32, 0, 2).expect("room");
    }
    ring.push_fsync(-1, true, 3).expect("room");
    let done = complete(&mut ring, 3);
    assert_eq!(done, [(1, Err(Errno::EINVAL)), (2, Err(Errno::EBADF)), (3, Err(Errno::EBADF))]);
}

#[test]
fn a_full_queue_refuses_instead_of_blocking() {
    let file = TestFile::new("full");
    let mut ring = ring(4, TaskRun::Cooperative);
    assert_eq!(ring.capacity(), 8);
    // The submission queue holds 4 unsubmitted entries.
    for i in 0..4 {
        ring.push_fsync(file.fd(), true, i).expect("room in the SQ");
    }
    assert_eq!(ring.push_fsync(file.fd(), true, 4), Err(Full));
    assert_eq!(ring.submit(), Ok(4));
    // The SQ is empty again; in flight stops at the CQ's size.
    for i in 4..8 {
        ring.push_fsync(file.fd(), true, i).expect("room in the CQ");
    }
    assert_eq!(ring.in_flight(), 8);
    assert_eq!(ring.push_fsync(file.fd(), true, 8), Err(Full));
    let done = complete(&mut ring, 8);
    assert_eq!(done, (0..8).map(|i| (i, Ok(0))).collect::<Vec<_>>());
    ring.push_fsync(file.fd(), true, 9).expect("room after reaping");
    assert_eq!(complete(&mut ring, 1), [(9, Ok(0))]);
}

fn pipe() -> (File, File) {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid array of two descriptors for `pipe2` to fill.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0, "pipe2");
    // SAFETY: both descriptors were just created and are owned by nothing else.
    unsafe {
        (std::os::fd::FromRawFd::from_raw_fd(fds[0]), std::os::fd::FromRawFd::from_raw_fd(fds[1]))
    }
}

#[test]
fn cancel_yields_exactly_one_completion_for_each() {
    for mode in MODES {
        let (reader, _writer) = pipe();
        let mut ring = ring(8, mode);
        let mut buffer = [0u8; 16];
        // A read of an empty pipe stays pending until canceled. Offset -1:
        // the file's position (a pipe has none).
        // SAFETY: `buffer` outlives the completions reaped below.
        unsafe { ring.push_read(reader.as_raw_fd(), buffer.as_mut_ptr(), 16, u64::MAX, 1) }
            .expect("room");
        ring.submit().expect("submit");
        ring.push_cancel(1, 2).expect("room");
        ring.push_cancel(77, 3).expect("room");
        let done = complete(&mut ring, 3);
        assert_eq!(
            done,
            [(1, Err(Errno::ECANCELED)), (2, Ok(0)), (3, Err(Errno::ENOENT))],
            "{mode:?}"
        );
        // Nothing else arrives for them.
        ring.submit_and_wait(0, Some(Duration::ZERO)).expect("poll");
        assert_eq!(ring.reap(|_, _| {}), 0);
        assert_eq!(ring.in_flight(), 0);
    }
}

#[test]
fn a_direct_read_canceled_in_its_batch_completes_once() {
    let file = TestFile::new("cancel-direct");
    let mut ring = ring(8, TaskRun::Cooperative);
    let block = blocks(1, |_| 9);
    // SAFETY: `block` outlives the completions reaped below.
    unsafe { ring.push_write(file.fd(), block[0].0.as_ptr(), BLOCK as u32, 0, 1) }.expect("room");
    complete(&mut ring, 1);
    let mut read = blocks(1, |_| 0);
    // SAFETY: `read` outlives the completions reaped below.
    unsafe { ring.push_read(file.fd(), read[0].0.as_mut_ptr(), BLOCK as u32, 0, 1) }.expect("room");
    ring.push_cancel(1, 2).expect("room");
    let done = complete(&mut ring, 2);
    // Too late to cancel, or canceled: either way once, and the cancel says which.
    match done[..] {
        [(1, Ok(BLOCK)), (2, Err(Errno::ENOENT | Errno::EALREADY))] => {
            assert!(read[0].0.iter().all(|&b| b == 9));
        }
        [(1, Err(Errno::ECANCELED)), (2, Ok(0))] => {}
        _ => panic!("unexpected completions {done:?}"),
    }
}

#[test]
fn dropping_a_ring_with_ops_in_flight_waits_for_them() {
    for mode in MODES {
        let (reader, _writer) = pipe();
        let mut ring = ring(8, mode);
        let mut buffer = [0u8; 16];
        // SAFETY: the ring is dropped (which waits for this read's
        // completion) before `buffer` goes out of scope.
        unsafe { ring.push_read(reader.as_raw_fd(), buffer.as_mut_ptr(), 16, u64::MAX, 1) }
            .expect("room");
        ring.submit().expect("submit");
        // Queued, never submitted: the drop submits it too.
        // SAFETY: as above.
        unsafe { ring.push_read(reader.as_raw_fd(), buffer.as_mut_ptr(), 16, u64::MAX, 2) }
            .expect("room");
        drop(ring);
    }
}

struct Epoll(File);

impl Epoll {
    fn watching(fd: RawFd, edge: bool) -> Epoll {
        // SAFETY: plain syscall; the result is checked.
        let epfd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        assert!(epfd >= 0, "epoll_create1");
        // SAFETY: `epfd` was just created and is owned by nothing else.
        let epoll = Epoll(unsafe { std::os::fd::FromRawFd::from_raw_fd(epfd) });
        let trigger = if edge { libc::EPOLLET } else { 0 };
        let mut event = libc::epoll_event { events: (libc::EPOLLIN | trigger) as u32, u64: 7 };
        // SAFETY: `event` is a valid epoll_event for the call's duration.
        let rc = unsafe { libc::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, fd, &mut event) };
        assert_eq!(rc, 0, "epoll_ctl");
        epoll
    }

    /// Whether the watched fd is reported readable within `timeout`.
    fn readable(&self, timeout: Duration) -> bool {
        let mut event = libc::epoll_event { events: 0, u64: 0 };
        loop {
            // SAFETY: `event` is room for the one event asked for.
            let n = unsafe {
                libc::epoll_wait(self.0.as_raw_fd(), &mut event, 1, timeout.as_millis() as i32)
            };
            if n < 0 && Errno::last() == Errno::EINTR {
                continue;
            }
            assert!(n >= 0, "epoll_wait");
            return n == 1 && event.u64 == 7 && event.events & libc::EPOLLIN as u32 != 0;
        }
    }
}

/// Level- and edge-triggered (the engine registers edge-triggered: each
/// posting must wake it again). Not under `TaskRun::Deferred`: there the
/// completion waits as task work that only an `io_uring_enter` runs, and
/// epoll is not woken (measured on Linux 6.18: not readable after a second,
/// for a pipe or a disk read).
#[test]
fn the_ring_fd_polls_readable_in_epoll_when_completions_are_posted() {
    let cases = [TaskRun::Interrupt, TaskRun::Cooperative]
        .into_iter()
        .flat_map(|m| [(m, false), (m, true)]);
    for (mode, edge) in cases {
        let (reader, writer) = pipe();
        let file = TestFile::new("epoll");
        let mut ring = ring(8, mode);
        let epoll = Epoll::watching(ring.fd(), edge);
        let mode = (mode, if edge { "edge" } else { "level" });
        assert!(!epoll.readable(Duration::ZERO), "{mode:?}: readable with nothing done");

        // A completion that comes while the loop is blocked in epoll_wait.
        let mut buffer = [0u8; 16];
        // SAFETY: `buffer` outlives the completion reaped below.
        unsafe { ring.push_read(reader.as_raw_fd(), buffer.as_mut_ptr(), 16, u64::MAX, 1) }
            .expect("room");
        ring.submit().expect("submit");
        assert!(!epoll.readable(Duration::ZERO), "{mode:?}: readable while pending");
        let feeder = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            std::io::Write::write_all(&mut &writer, b"hello").expect("write to pipe");
            writer
        });
        assert!(epoll.readable(PATIENCE), "{mode:?}: pipe read completion not seen");
        let mut done = Vec::new();
        ring.reap(|user_data, result| done.push((user_data, result)));
        assert_eq!(done, [(1, Ok(5))], "{mode:?}");
        assert_eq!(&buffer[..5], b"hello");
        assert!(!epoll.readable(Duration::ZERO), "{mode:?}: still readable after reaping");
        drop(feeder.join());

        // A direct read of the disk, of a block written first (a read of
        // a hole or past the end never reaches the device).
        let written = blocks(1, |_| 5);
        // SAFETY: `written` outlives the completion reaped by `complete`.
        unsafe { ring.push_write(file.fd(), written[0].0.as_ptr(), BLOCK as u32, 0, 3) }
            .expect("room");
        assert_eq!(complete(&mut ring, 1), [(3, Ok(BLOCK))]);
        let mut read = blocks(1, |_| 0);
        // SAFETY: `read` outlives the completion reaped below.
        unsafe { ring.push_read(file.fd(), read[0].0.as_mut_ptr(), BLOCK as u32, 0, 2) }
            .expect("room");
        ring.submit().expect("submit");
        assert!(epoll.readable(PATIENCE), "{mode:?}: file read completion not seen");
        let mut done = Vec::new();
        ring.reap(|user_data, result| done.push((user_data, result)));
        assert_eq!(done, [(2, Ok(BLOCK))], "{mode:?}");
        assert!(read[0].0.iter().all(|&b| b == 5));
    }
}

#[test]
fn deferred_completions_are_reaped_without_a_waiting_enter() {
    let file = TestFile::new("deferred");
    let mut ring = ring(8, TaskRun::Deferred);
    let written = blocks(1, |_| 3);
    // SAFETY: `written` outlives the completion reaped below.
    unsafe { ring.push_write(file.fd(), written[0].0.as_ptr(), BLOCK as u32, 0, 1) }.expect("room");
    ring.submit().expect("submit");
    // Poll `reap` alone (no waiting enter): it must run the pending work.
    let start = std::time::Instant::now();
    let mut done = Vec::new();
    while done.is_empty() {
        ring.reap(|user_data, result| done.push((user_data, result)));
        assert!(start.elapsed() < PATIENCE, "deferred completion never reaped");
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(done, [(1, Ok(BLOCK))]);
}
