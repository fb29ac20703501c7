//! Durable files through the public API of the real `IO`: subdirectories,
//! end of file, direct-IO alignment, locks (in this process and held by a
//! child), preallocation, refused arguments, closed descriptors, and data
//! surviving a `SIGKILL` right after an acknowledged fsync. (Round trips at
//! offsets, the same on both backends, are in `files.rs`.)
//!
//! Test directories live under `CARGO_TARGET_TMPDIR` (inside `target/`, on
//! the disk that holds the checkout) rather than `/tmp`, which may be a
//! tmpfs. Child processes are this test binary re-run with
//! `TWINIO_FILES_CHILD` set, entering `child_process_entry`.

mod support;

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use support::typed::*;
use support::{Backend, Real, exclusive, shared, temp_dir};
use twinio::*;

const CHILD_ENV: &str = "TWINIO_FILES_CHILD";

// ---- harness ----

/// The real IO (on the file driver the environment picks) with `path`
/// open as its directory.
fn files(path: &Path) -> Files<IO<Ctx>> {
    Files::new(<Real as Backend<Ctx>>::io(16), path)
}

fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|entries| entries.count()).unwrap_or(0)
}

fn spawn_child(mode: &str, dir: &Path) -> Child {
    let mut value = std::ffi::OsString::from(format!("{mode}:"));
    value.push(dir.as_os_str());
    Command::new(std::env::current_exe().expect("current_exe"))
        .args(["child_process_entry", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, value)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn child")
}

/// Reads the child's stderr until a line starting with `prefix` for which
/// `stop` is true; returns that line.
fn wait_for_line(
    lines: &mut impl Iterator<Item = std::io::Result<String>>,
    prefix: &str,
    stop: impl Fn(&str) -> bool,
) -> String {
    for line in lines {
        let line = line.expect("child stderr");
        if let Some(rest) = line.strip_prefix(prefix)
            && stop(rest)
        {
            return rest.to_string();
        }
    }
    panic!("child exited before printing {prefix}");
}

// ---- round trips ----

#[test]
fn files_in_subdirectories_and_fsync_of_a_directory() {
    let _g = shared();
    let tmp = temp_dir("subdir");
    std::fs::create_dir(tmp.path().join("sub")).unwrap();
    let mut f = files(tmp.path());
    let dir = f.dir;
    let fd = f.open("sub/data", 4096, FilePurpose::Format).unwrap();
    f.write_all(fd, b"nested", 0);
    assert_eq!(f.fsync(fd), Ok(()));
    assert_eq!(f.fsync(dir), Ok(()));
    assert_eq!(std::fs::read(tmp.path().join("sub/data")).unwrap()[..6], *b"nested");
    f.close(fd).unwrap();
    f.close(dir).unwrap();
}

#[test]
fn partial_read_at_end_of_file_and_zero_past_it() {
    let _g = shared();
    let tmp = temp_dir("eof");
    let mut f = files(tmp.path());
    let dir = f.dir;
    let size = 2 * SECTOR as u64;
    let fd = f.open("data", size, FilePurpose::Format).unwrap();
    let tail = pattern(5, 2048);
    f.write_all(fd, &tail, size - 2048);

    // A read straddling the end returns only what the file holds.
    assert_eq!(f.read(fd, SECTOR, size - 2048).unwrap(), tail);
    // At and past the end: 0 is end of file, not an error.
    assert_eq!(f.read(fd, SECTOR, size).unwrap(), Vec::<u8>::new());
    assert_eq!(f.read(fd, SECTOR, size + 1_000_000).unwrap(), Vec::<u8>::new());
    f.close(fd).unwrap();
    f.close(dir).unwrap();
}

// ---- direct IO ----

/// Formats `name` with direct IO required, or returns `None` (and says
/// so) where the test directory's file system has none.
fn format_direct(f: &mut Files<IO<Ctx>>, dir: Fd, name: &str, size: u64) -> Option<Fd> {
    match f.open_in(dir, name, size, FilePurpose::Format, DirectIo::Required) {
        Ok(fd) => Some(fd),
        Err(OpenError::DirectIoUnsupported) => {
            eprintln!("skipped: no direct IO under {}", env!("CARGO_TARGET_TMPDIR"));
            None
        }
        Err(error) => panic!("format with direct IO: {error}"),
    }
}

#[test]
fn direct_io_round_trip() {
    let _g = shared();
    let tmp = temp_dir("direct");
    let mut f = files(tmp.path());
    let dir = f.dir;
    let size = 8 * SECTOR as u64;
    let Some(fd) = format_direct(&mut f, dir, "data", size) else { return };
    let data = pattern(1, 2 * SECTOR);
    f.write_all(fd, &data, 2 * SECTOR as u64);
    assert_eq!(f.fsync_mode(fd, FsyncMode::Data), Ok(()));
    assert_eq!(f.read(fd, 2 * SECTOR, 2 * SECTOR as u64).unwrap(), data);
    // A direct read straddling the end of file is short, as a buffered one.
    assert_eq!(f.read(fd, 2 * SECTOR, size - SECTOR as u64).unwrap(), vec![0; SECTOR]);
    f.close(fd).unwrap();

    // The same file reopened with direct IO, and buffered, sees the data.
    for direct_io in [DirectIo::Required, DirectIo::Optional, DirectIo::Disabled] {
        let fd = f.open_in(dir, "data", size, FilePurpose::Open, direct_io).unwrap();
        assert_eq!(f.read(fd, 2 * SECTOR, 2 * SECTOR as u64).unwrap(), data, "{direct_io:?}");
        f.close(fd).unwrap();
    }
    f.close(dir).unwrap();
}

/// Linux `O_DIRECT` refuses a misaligned offset, length or buffer address
/// with `EINVAL` (open(2), "O_DIRECT"). FreeBSD and Apple do not refuse.
#[cfg(target_os = "linux")]
#[test]
fn direct_io_misalignment_is_a_typed_error() {
    let _g = shared();
    let tmp = temp_dir("align");
    let mut f = files(tmp.path());
    let dir = f.dir;
    let Some(fd) = format_direct(&mut f, dir, "data", 4 * SECTOR as u64) else { return };

    // Reads of never-written (unwritten-extent) blocks are served as zeros
    // without touching the device, and so without the alignment check: write
    // the blocks first.
    f.write_all(fd, &pattern(2, 4 * SECTOR), 0);
    // Misaligned offset, misaligned length, misaligned buffer address.
    let cases = [(0..SECTOR, 100), (0..100, 0), (1..SECTOR + 1, 0)];
    for (range, offset) in cases {
        let what = format!("range {range:?} at {offset}");
        let (buffer, result) =
            f.write_range(fd, Buffer::new(2 * SECTOR).unwrap(), range.clone(), offset);
        assert_eq!(result, Err(WriteError::Alignment), "write {what}");
        assert_eq!(buffer.len(), 2 * SECTOR, "buffer handed back");
        let (_, result) = f.read_range(fd, Buffer::new(2 * SECTOR).unwrap(), range, offset);
        assert_eq!(result, Err(ReadError::Alignment), "read {what}");
    }
    // An aligned transfer on the same descriptor works.
    let (_, result) = f.write_range(fd, Buffer::new(SECTOR).unwrap(), 0..SECTOR, SECTOR as u64);
    assert_eq!(result, Ok(SECTOR));
    f.close(fd).unwrap();
    f.close(dir).unwrap();
}

/// sysfs refuses `O_DIRECT` (its files have no direct-IO method) and its
/// attribute files report a size of one page: a real file system without
/// direct IO that needs no privileges. (The tmpfs of recent kernels, 6.18
/// here, accepts `O_DIRECT`, so it no longer serves.)
#[cfg(target_os = "linux")]
#[test]
fn direct_io_required_fails_where_unsupported_and_optional_falls_back() {
    let _g = shared();
    let sys = Path::new("/sys/kernel");
    let Ok(meta) = std::fs::metadata(sys.join("address_bits")) else {
        eprintln!("skipped: no /sys/kernel/address_bits");
        return;
    };
    let mut f = files(sys);
    let dir = f.dir;
    let size = meta.len();
    assert_eq!(
        f.open_in(dir, "address_bits", size, FilePurpose::Inspect, DirectIo::Required),
        Err(OpenError::DirectIoUnsupported)
    );
    for direct_io in [DirectIo::Optional, DirectIo::Disabled] {
        let fd = f.open_in(dir, "address_bits", size, FilePurpose::Inspect, direct_io).unwrap();
        let text = f.read(fd, SECTOR, 0).unwrap();
        let bits: u32 = String::from_utf8(text).unwrap().trim().parse().unwrap();
        assert!(bits == 32 || bits == 64, "{bits}");
        f.close(fd).unwrap();
    }
    f.close(dir).unwrap();
}

// ---- locks ----

#[test]
fn second_open_of_a_data_file_is_locked_and_inspect_tolerates_it() {
    let _g = shared();
    let tmp = temp_dir("lock");
    let mut f = files(tmp.path());
    let dir = f.dir;
    let size = 4 * SECTOR as u64;
    let first = f.open("data", size, FilePurpose::Format).unwrap();
    f.write_all(first, b"owner", 0);

    assert_eq!(f.open("data", size, FilePurpose::Open), Err(OpenError::Locked));
    assert_eq!(f.open("data", size, FilePurpose::Format), Err(OpenError::AlreadyExists));
    // A second IO in the same process is refused just the same.
    let mut g = files(tmp.path());
    assert_eq!(
        g.open_in(g.dir, "data", size, FilePurpose::Open, DirectIo::Optional),
        Err(OpenError::Locked)
    );
    g.close(g.dir).unwrap();

    // Inspect opens read-only despite the lock, and cannot write.
    let inspect = f.open("data", size, FilePurpose::Inspect).unwrap();
    assert_eq!(f.read(inspect, 5, 0).unwrap(), b"owner");
    assert_eq!(f.write(inspect, b"x", 0), Err(WriteError::NotOpenForWriting));
    f.close(inspect).unwrap();

    // Closing the owner releases the lock.
    f.close(first).unwrap();
    let second = f.open("data", size, FilePurpose::Open).unwrap();
    assert_eq!(f.read(second, 5, 0).unwrap(), b"owner");
    f.close(second).unwrap();
    f.close(dir).unwrap();
}

#[test]
fn lock_held_by_a_child_process() {
    // Exclusive: the child is forked with a copy of this process's
    // descriptors, so until it execs it holds (the flock of) any data file
    // another test has open, which then cannot be reopened.
    let _g = exclusive();
    let tmp = temp_dir("childlock");
    let mut f = files(tmp.path());
    let dir = f.dir;
    let size = 2 * SECTOR as u64;
    let fd = f.open("data", size, FilePurpose::Format).unwrap();
    f.write_all(fd, b"formatted", 0);
    f.close(fd).unwrap();

    let mut child = spawn_child("lock", tmp.path());
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    wait_for_line(&mut lines, "TWINIO-LOCKED", |_| true);

    assert_eq!(f.open("data", size, FilePurpose::Open), Err(OpenError::Locked));
    let inspect = f.open("data", size, FilePurpose::Inspect).unwrap();
    assert_eq!(f.read(inspect, 9, 0).unwrap(), b"formatted");
    f.close(inspect).unwrap();

    // Closing its stdin lets the child exit, which releases the lock.
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    let fd = f.open("data", size, FilePurpose::Open).unwrap();
    f.close(fd).unwrap();
    f.close(dir).unwrap();
}

// ---- preallocation ----

#[test]
fn format_preallocates_the_whole_size() {
    let _g = shared();
    let tmp = temp_dir("prealloc");
    let mut f = files(tmp.path());
    let dir = f.dir;
    let size = 1024 * SECTOR as u64; // 4 MiB
    let fd = f.open_in(dir, "data", size, FilePurpose::Format, DirectIo::Optional).unwrap();
    let meta = std::fs::metadata(tmp.path().join("data")).unwrap();
    assert!(meta.is_file());
    assert_eq!(meta.len(), size);
    // ext4, xfs, btrfs and tmpfs all support fallocate: the blocks are
    // reserved, not a sparse hole (st_blocks counts 512-byte units).
    assert!(meta.blocks() * 512 >= size, "{} blocks for {size} bytes", meta.blocks());
    assert_eq!(f.read(fd, SECTOR, size - SECTOR as u64).unwrap(), vec![0; SECTOR]);
    f.close(fd).unwrap();
    f.close(dir).unwrap();
}

// ---- refused arguments ----

#[test]
fn refused_arguments_are_typed_errors_and_leak_nothing() {
    let _g = exclusive();
    let tmp = temp_dir("refused");
    std::fs::create_dir(tmp.path().join("a_dir")).unwrap();
    std::fs::write(tmp.path().join("small"), vec![0u8; SECTOR]).unwrap();
    std::os::unix::fs::symlink("small", tmp.path().join("link")).unwrap();
    let fifo = std::ffi::CString::new(tmp.path().join("fifo").as_os_str().as_bytes()).unwrap();
    // SAFETY: a NUL-terminated path that outlives the call.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);

    let mut f = files(tmp.path());
    let dir = f.dir;
    let before = open_descriptors();
    let s = SECTOR as u64;
    let nul = Path::new(OsStr::from_bytes(b"da\0ta"));
    use DirectIo::Disabled as D;
    use FilePurpose::{Format, Inspect, Open};

    for purpose in [Format, Open, Inspect] {
        let open = |f: &mut Files<IO<Ctx>>, path: &Path, size| {
            f.io.open_data_file(dir, path, size, purpose, D)
        };
        let p = Path::new("new");
        assert_eq!(open(&mut f, Path::new("/etc/passwd"), s), Err(OpenError::AbsolutePath));
        assert_eq!(open(&mut f, Path::new(""), s), Err(OpenError::InvalidPath));
        assert_eq!(open(&mut f, nul, s), Err(OpenError::InvalidPath));
        for size in [0, 1, s - 1, s + 1, 3 * s / 2, u64::MAX] {
            assert_eq!(open(&mut f, p, size), Err(OpenError::SizeNotSectorMultiple), "{size}");
        }
        assert_eq!(open(&mut f, p, 1 << 63), Err(OpenError::FileTooBig));
        for bad_dir in [-1, -100, i32::MAX] {
            let result = f.io.open_data_file(Fd::from_raw(bad_dir), p, s, purpose, D);
            assert_eq!(result, Err(OpenError::BadFileDescriptor), "dir {bad_dir}");
        }
    }
    assert!(!tmp.path().join("new").exists(), "nothing was created");

    for purpose in [Open, Inspect] {
        for name in ["a_dir", "fifo", "link"] {
            let result = f.open(name, s, purpose);
            assert_eq!(result, Err(OpenError::NotRegularFile), "{name} {purpose:?}");
        }
        assert_eq!(f.open("missing", s, purpose), Err(OpenError::NotFound));
        assert_eq!(f.open("small", 2 * s, purpose), Err(OpenError::SizeMismatch));
        assert_eq!(f.open("missing/x", s, purpose), Err(OpenError::NotFound));
        assert_eq!(f.open("small/x", s, purpose), Err(OpenError::NotADirectory));
    }
    for name in ["a_dir", "fifo", "link", "small"] {
        assert_eq!(f.open(name, s, Format), Err(OpenError::AlreadyExists), "{name}");
    }
    // A directory descriptor that is not a directory.
    let small = f.open("small", s, Open).unwrap();
    assert_eq!(f.open_in(small, "x", s, Open, D), Err(OpenError::NotADirectory));
    assert_eq!(f.open_in(small, "x", s, Format, D), Err(OpenError::NotADirectory));
    f.close(small).unwrap();

    // A format that fails after creating the file (ext4 files end at 16 TiB)
    // removes it again, so the retry is not met with AlreadyExists.
    let huge = f.open("huge", 1 << 62, Format);
    assert!(matches!(huge, Err(OpenError::FileTooBig | OpenError::NoSpaceLeft)), "{huge:?}");
    assert!(!tmp.path().join("huge").exists(), "half-formatted file left behind");

    assert_eq!(f.io.open_dir(Path::new("")), Err(OpenError::InvalidPath));
    assert_eq!(f.io.open_dir(nul), Err(OpenError::InvalidPath));
    assert_eq!(f.io.open_dir(&tmp.path().join("small")), Err(OpenError::NotADirectory));
    // A missing directory is created (as the twin's are implicit).
    let created = f.io.open_dir(&tmp.path().join("missing")).expect("open_dir creates it");
    f.close(created).unwrap();
    assert!(tmp.path().join("missing").is_dir());

    assert_eq!(open_descriptors(), before, "a refused open leaked a descriptor");
    assert_eq!(std::fs::metadata(tmp.path().join("small")).unwrap().len(), s, "untouched");
    f.close(dir).unwrap();
}

// ---- closed descriptors ----

#[test]
fn operations_on_a_closed_descriptor_are_typed_errors() {
    // Exclusive: no other test may be handed the closed number meanwhile.
    let _g = exclusive();
    let tmp = temp_dir("closed");
    let mut f = files(tmp.path());
    let dir = f.dir;
    let fd = f.open("data", SECTOR as u64, FilePurpose::Format).unwrap();
    f.close(fd).unwrap();
    let never_opened = Fd::from_raw(i32::MAX - 1);

    for fd in [fd, never_opened] {
        assert_eq!(f.read(fd, 16, 0), Err(ReadError::NotOpenForReading), "{fd:?}");
        assert_eq!(f.write(fd, b"data", 0), Err(WriteError::NotOpenForWriting), "{fd:?}");
        assert_eq!(f.fsync(fd), Err(FsyncError::BadFileDescriptor), "{fd:?}");
        assert_eq!(f.close(fd), Err(CloseError::BadFileDescriptor), "{fd:?}");
    }
    // A negative descriptor is refused at submit, with the buffer handed back.
    let refused =
        f.io.read(Fd::from_raw(-1), Buffer::new(8).unwrap(), .., 0, 0, on_read).unwrap_err();
    assert_eq!(refused.error, SubmitError::InvalidFd);
    assert_eq!(refused.returned.len(), 8);
    assert_eq!(
        f.io.fsync(Fd::from_raw(-1), FsyncMode::Full, 0, on_fsync),
        Err(SubmitError::InvalidFd)
    );
    f.close(dir).unwrap();
}

// ---- crash ----

#[test]
fn acknowledged_writes_survive_sigkill() {
    // Exclusive: the child is forked with a copy of this process's
    // descriptors, so until it execs it holds (the flock of) any data file
    // another test has open, which then cannot be reopened.
    let _g = exclusive();
    let tmp = temp_dir("kill");
    let mut f = files(tmp.path());
    let dir = f.dir;
    let size = KILL_SECTORS * SECTOR as u64;
    let fd = f.open("data", size, FilePurpose::Format).unwrap();
    f.close(fd).unwrap();

    let mut child = spawn_child("kill", tmp.path());
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let acked: u64 = wait_for_line(&mut lines, "TWINIO-ACK ", |n| n.parse::<u64>().unwrap() >= 5)
        .parse()
        .unwrap();
    // SIGKILL at once, while the child is in the middle of its next write.
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "the child was killed, not finished: {status:?}");

    // The kernel releases the dead child's lock: at once when its file ops
    // ran on its own threads, only once they finish when they were in its
    // io_uring (an op in flight holds the file after the process is gone).
    // Then every acknowledged sector is there.
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let fd = loop {
        match f.open("data", size, FilePurpose::Open) {
            Err(OpenError::Locked) if std::time::Instant::now() < give_up => {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            other => break other.expect("reopen after the kill"),
        }
    };
    for sector in 0..=acked {
        let data = f.read(fd, SECTOR, sector * SECTOR as u64).unwrap();
        assert_eq!(data, pattern(sector, SECTOR), "acknowledged sector {sector}");
    }
    f.close(fd).unwrap();
    f.close(dir).unwrap();
}

const KILL_SECTORS: u64 = 1024;

// ---- child processes ----

/// Not a test: the body of the child processes above, run only when
/// `TWINIO_FILES_CHILD` is `lock:<dir>` or `kill:<dir>`.
#[test]
#[ignore = "entered by child processes of the tests in this file"]
fn child_process_entry() {
    let Some(value) = std::env::var_os(CHILD_ENV) else { return };
    let value = value.as_bytes();
    let split = value.iter().position(|&b| b == b':').expect("mode:dir");
    let dir_path = Path::new(OsStr::from_bytes(&value[split + 1..]));
    let mut f = files(dir_path);
    let dir = f.dir;
    match &value[..split] {
        b"lock" => {
            let size = 2 * SECTOR as u64;
            let _fd = f.open("data", size, FilePurpose::Open).unwrap();
            eprintln!("TWINIO-LOCKED");
            // Hold the lock until the parent closes our stdin.
            let _ = std::io::stdin().read_to_end(&mut Vec::new());
        }
        b"kill" => {
            let size = KILL_SECTORS * SECTOR as u64;
            let fd = f.open_in(dir, "data", size, FilePurpose::Open, DirectIo::Optional).unwrap();
            for sector in 0..KILL_SECTORS {
                f.write_all(fd, &pattern(sector, SECTOR), sector * SECTOR as u64);
                f.fsync(fd).unwrap();
                eprintln!("TWINIO-ACK {sector}");
            }
            // The parent kills us long before; never exit on our own with the lock.
            let _ = std::io::stdin().read_to_end(&mut Vec::new());
        }
        other => panic!("unknown child mode {:?}", String::from_utf8_lossy(other)),
    }
}
