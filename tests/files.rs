//! Data files on both backends: round trips at offsets (every fsync mode,
//! reopened), end of file, the lock on a second open (also through another
//! path), and refused open arguments.

mod support;

use support::typed::*;
use support::{Backend, both_backends};
use twinio::*;

fn data_file_round_trips_at_offsets<B: Backend<Ctx>>() {
    let _g = B::shared();
    let tmp = B::dir("round-trips");
    let mut f = Files::new(B::io(16), tmp.as_ref());
    let size = 8 * SECTOR as u64;
    let fd = f.open("data", size, FilePurpose::Format).unwrap();
    // A formatted file reads as zeros.
    assert_eq!(f.read_all(fd, SECTOR, 0), vec![0; SECTOR]);
    let writes: [(u64, usize); 5] = [
        (0, SECTOR),
        (SECTOR as u64 + 100, 3000),
        (3 * SECTOR as u64, 2 * SECTOR),
        (7, 1),
        (size - 1, 1),
    ];
    for (i, &(offset, len)) in writes.iter().enumerate() {
        f.write_all(fd, &pattern(i as u64, len), offset);
    }
    // Later writes win where they overlap: keep an image to compare.
    let mut image = vec![0u8; size as usize];
    for (i, &(offset, len)) in writes.iter().enumerate() {
        image[offset as usize..offset as usize + len].copy_from_slice(&pattern(i as u64, len));
    }
    for &(offset, len) in &writes {
        let got = f.read_all(fd, len, offset);
        assert!(got == image[offset as usize..offset as usize + len], "at {offset}+{len}");
    }
    f.fsync(fd).unwrap();
    f.close(fd).unwrap();
    // Reopened, the whole file is the image.
    let fd = f.open("data", size, FilePurpose::Open).unwrap();
    assert!(f.read_all(fd, size as usize, 0) == image, "contents after reopen");
    // A sub-range of a buffer writes and reads only that range.
    let mut buf = buffer(64);
    buf.copy_from_slice(&pattern(9, 64));
    f.io.write(fd, buf, 16..48, 5 * SECTOR as u64, 4, on_write).unwrap();
    assert_eq!(expect_done!(wait(&mut f.io, &mut f.ctx, 4), Write, 2).1, Ok(32));
    f.io.read(fd, buffer(64), 8..40, 5 * SECTOR as u64, 5, on_read).unwrap();
    let (buf, n) = expect_done!(wait(&mut f.io, &mut f.ctx, 5), Read, 2);
    assert_eq!(n, Ok(32));
    assert_eq!(buf[8..40], pattern(9, 64)[16..48]);
    assert_eq!(buf[..8], [0; 8], "bytes outside the range are untouched");
    f.close(fd).unwrap();
    f.close(f.dir).unwrap();
    assert_eq!(f.io.in_flight(), 0);
}

/// Writes at offsets, made durable by every fsync mode, read back before
/// and after a reopen; the file is locked also through another path that
/// names it; a closed directory descriptor is refused.
fn write_read_round_trips_at_offsets<B: Backend<Ctx>>() {
    // Exclusive: the directory is closed twice, and no other test may be
    // handed its number in between.
    let _g = B::exclusive();
    let tmp = B::dir("offsets");
    B::mkdir(&tmp.join("node"));
    let mut f = Files::new(B::io(16), tmp.join("node"));
    let size = 16 * SECTOR as u64;
    let fd = f.open("data", size, FilePurpose::Format).unwrap();
    let writes: [(u64, usize); 4] = [
        (0, SECTOR),
        (3 * SECTOR as u64, 2 * SECTOR),
        (5 * SECTOR as u64 + 100, 333),
        (size - 10, 10),
    ];
    for (i, &(offset, len)) in writes.iter().enumerate() {
        assert_eq!(f.write(fd, &pattern(i as u64, len), offset), Ok(len), "write {i}");
    }
    for mode in [FsyncMode::Full, FsyncMode::Data, FsyncMode::Barrier, FsyncMode::FullOrPlain] {
        assert_eq!(f.fsync_mode(fd, mode), Ok(()), "{mode:?}");
    }
    for (i, &(offset, len)) in writes.iter().enumerate() {
        assert_eq!(f.read(fd, len, offset).unwrap(), pattern(i as u64, len), "write {i}");
    }
    // Untouched bytes of the formatted file read as zeros.
    assert_eq!(f.read(fd, SECTOR, SECTOR as u64).unwrap(), vec![0; SECTOR]);
    // A range inside a larger buffer lands at the start of the range.
    let (buf, result) = f.read_range(fd, buffer(3 * SECTOR), SECTOR..2 * SECTOR, 0);
    assert_eq!(result, Ok(SECTOR));
    assert_eq!(&buf[SECTOR..2 * SECTOR], &pattern(0, SECTOR)[..]);
    assert!(buf[..SECTOR].iter().all(|&b| b == 0));

    // The data is there after close and reopen.
    assert_eq!(f.close(fd), Ok(()));
    let fd = f.open("data", size, FilePurpose::Open).unwrap();
    for (i, &(offset, len)) in writes.iter().enumerate() {
        assert_eq!(f.read(fd, len, offset).unwrap(), pattern(i as u64, len), "reopened {i}");
    }
    // The same file through another directory path that names it.
    let parent = f.open_dir(&*tmp);
    let other_path = f.open_in(parent, "node/data", size, FilePurpose::Open, DirectIo::Disabled);
    assert_eq!(other_path, Err(OpenError::Locked));
    assert_eq!(f.close(parent), Ok(()));
    assert_eq!(f.close(fd), Ok(()));
    assert_eq!(f.close(f.dir), Ok(()));
    assert_eq!(f.close(f.dir), Err(CloseError::BadFileDescriptor));
}

fn data_file_reads_at_end_of_file<B: Backend<Ctx>>() {
    let _g = B::shared();
    let tmp = B::dir("eof");
    let mut f = Files::new(B::io(16), tmp.as_ref());
    let size = 2 * SECTOR as u64;
    let fd = f.open("data", size, FilePurpose::Format).unwrap();
    let tail = pattern(5, 10);
    f.write_all(fd, &tail, size - 10);
    // A read across the end is short; at and past the end it is 0.
    assert_eq!(f.read(fd, 100, size - 10).unwrap(), tail);
    assert_eq!(f.read(fd, 100, size).unwrap(), b"");
    assert_eq!(f.read(fd, 100, size + 12345).unwrap(), b"");
    f.close(fd).unwrap();
    f.close(f.dir).unwrap();
}

fn second_open_of_a_data_file_is_locked<B: Backend<Ctx>>() {
    let _g = B::shared();
    let tmp = B::dir("locked");
    let mut f = Files::new(B::io(16), tmp.as_ref());
    let size = SECTOR as u64;
    let first = f.open("data", size, FilePurpose::Format).unwrap();
    assert_eq!(f.open("data", size, FilePurpose::Open), Err(OpenError::Locked));
    assert_eq!(f.open("data", size, FilePurpose::Format), Err(OpenError::AlreadyExists));
    f.close(first).unwrap();
    // Closing releases the lock.
    let second = f.open("data", size, FilePurpose::Open).unwrap();
    assert_eq!(f.open("data", size, FilePurpose::Open), Err(OpenError::Locked));
    f.close(second).unwrap();
    f.close(f.dir).unwrap();
}

fn refused_open_arguments<B: Backend<Ctx>>() {
    let _g = B::shared();
    let tmp = B::dir("refused");
    let mut f = Files::new(B::io(16), tmp.as_ref());
    let s = SECTOR as u64;
    for purpose in [FilePurpose::Format, FilePurpose::Open, FilePurpose::Inspect] {
        assert_eq!(f.open("/abs/data", s, purpose), Err(OpenError::AbsolutePath), "{purpose:?}");
        assert_eq!(f.open("", s, purpose), Err(OpenError::InvalidPath), "{purpose:?}");
        for size in [0, 1, s - 1, s + 1, 3 * s / 2] {
            assert_eq!(
                f.open("data", size, purpose),
                Err(OpenError::SizeNotSectorMultiple),
                "{purpose:?} {size}"
            );
        }
    }
    assert_eq!(f.open("missing", s, FilePurpose::Open), Err(OpenError::NotFound));
    assert_eq!(f.open("missing", s, FilePurpose::Inspect), Err(OpenError::NotFound));
    let fd = f.open("data", s, FilePurpose::Format).unwrap();
    f.close(fd).unwrap();
    assert_eq!(f.open("data", s, FilePurpose::Format), Err(OpenError::AlreadyExists));
    assert_eq!(f.open("data", 2 * s, FilePurpose::Open), Err(OpenError::SizeMismatch));
    // None of the refusals left anything open or in flight.
    assert_eq!(f.io.in_flight(), 0);
    let fd = f.open("data", s, FilePurpose::Open).unwrap();
    f.close(fd).unwrap();
    f.close(f.dir).unwrap();
}

/// A data file keeps the size it was formatted with: a write reaching past
/// it is refused whole, `FileTooBig`, and the file does not grow (it still
/// opens with its size).
fn data_file_writes_past_the_end_are_refused<B: Backend<Ctx>>() {
    let _g = B::shared();
    let tmp = B::dir("fixed-size");
    let mut f = Files::new(B::io(16), tmp.as_ref());
    let size = 2 * SECTOR as u64;
    let fd = f.open("data", size, FilePurpose::Format).unwrap();
    let cases: [(u64, usize); 4] =
        [(SECTOR as u64, 2 * SECTOR), (size, SECTOR), (size - 1, 2), (1 << 40, SECTOR)];
    for (tag, &(offset, len)) in (10..).zip(&cases) {
        f.io.write(fd, buffer(len), .., offset, tag, on_write).unwrap();
        let (_, result) = expect_done!(wait(&mut f.io, &mut f.ctx, tag), Write, 2);
        assert_eq!(result, Err(WriteError::FileTooBig), "write of {len} at {offset}");
    }
    // Up to the last byte is fine.
    f.write_all(fd, &pattern(1, SECTOR), size - SECTOR as u64);
    f.close(fd).unwrap();
    let fd = f.open("data", size, FilePurpose::Open).expect("the file kept its size");
    assert_eq!(f.read(fd, 2 * SECTOR, SECTOR as u64).unwrap(), pattern(1, SECTOR));
    f.close(fd).unwrap();
    f.close(f.dir).unwrap();
}

both_backends!(
    data_file_round_trips_at_offsets,
    write_read_round_trips_at_offsets,
    data_file_reads_at_end_of_file,
    data_file_writes_past_the_end_are_refused,
    second_open_of_a_data_file_is_locked,
    refused_open_arguments
);

/// `open_data_file` and `open_dir` arguments get the same typed error from
/// `IO` and `SimIO`, compared line by line.
mod scripted {
    use std::path::Path;

    use super::support::scripted::*;
    use super::support::{Backend, Real, Sim, exclusive};
    use twinio::*;

    /// open_data_file and open_dir arguments.
    fn probe_open<B: Backend<Ctx>>() -> Vec<String> {
        let dir = B::dir("open");
        let dir: &Path = &dir;
        let mut io = B::io(16);
        let mut lines = Vec::new();
        let d = io.open_dir(dir).unwrap();
        B::mkdir(&dir.join("sub"));
        let fmt = FilePurpose::Format;
        let off = DirectIo::Disabled;
        let mut open = |io: &mut B::Io, label: &str, dir: Fd, path: &str, size: u64, purpose| {
            let r = io.open_data_file(dir, Path::new(path), size, purpose, off);
            lines.push(format!("{label}: {:?}", r.map(drop)));
            r.ok()
        };
        let held = open(&mut io, "format sub/f", d, "sub/f", 4096, fmt);
        open(&mut io, "absolute path", d, "/etc/passwd", 4096, fmt);
        open(&mut io, "empty path", d, "", 4096, fmt);
        open(&mut io, "path with NUL", d, "a\0b", 4096, fmt);
        open(&mut io, "size 0", d, "x", 0, fmt);
        open(&mut io, "size 4095", d, "x", 4095, fmt);
        open(&mut io, "size 4097", d, "x", 4097, fmt);
        open(&mut io, "size u64::MAX", d, "x", u64::MAX, fmt);
        open(&mut io, "size u64::MAX rounded", d, "x", !4095, fmt);
        open(&mut io, "dir fd -1", Fd::from_raw(-1), "x", 4096, fmt);
        open(&mut io, "dir fd -100 (AT_FDCWD)", Fd::from_raw(-100), "x", 4096, fmt);
        open(&mut io, "dir fd never opened", Fd::from_raw(100_000), "x", 4096, fmt);
        if let Some(f) = held {
            open(&mut io, "dir fd is a data file", f, "x", 4096, fmt);
        }
        let socket = io.open_socket(AddressFamily::Ipv4, SocketOptions::default()).unwrap();
        open(&mut io, "dir fd is a socket", socket, "x", 4096, fmt);
        open(&mut io, "format a directory", d, "sub", 4096, fmt);
        open(&mut io, "open a directory", d, "sub", 4096, FilePurpose::Open);
        open(&mut io, "inspect a directory", d, "sub", 4096, FilePurpose::Inspect);
        open(&mut io, "format .", d, ".", 4096, fmt);
        open(&mut io, "open .", d, ".", 4096, FilePurpose::Open);
        open(&mut io, "open missing", d, "missing", 4096, FilePurpose::Open);
        open(&mut io, "inspect missing", d, "missing", 4096, FilePurpose::Inspect);
        open(&mut io, "format existing", d, "sub/f", 4096, fmt);
        open(&mut io, "second open: locked", d, "sub/f", 4096, FilePurpose::Open);
        open(&mut io, "open wrong size", d, "sub/f", 8192, FilePurpose::Open);
        let inspect = open(&mut io, "inspect while locked", d, "sub/f", 4096, FilePurpose::Inspect);
        open(&mut io, "same file via ./sub/f: locked", d, "./sub/f", 4096, FilePurpose::Open);
        open(&mut io, "under a file", d, "sub/f/x", 4096, fmt);
        open(&mut io, "inspect wrong size", d, "sub/f", 8192, FilePurpose::Inspect);
        open(&mut io, "inspect sub/./f", d, "sub/./f", 4096, FilePurpose::Inspect);
        open(&mut io, "inspect sub/f/", d, "sub/f/", 4096, FilePurpose::Inspect);
        open(&mut io, "inspect sub/../sub/f", d, "sub/../sub/f", 4096, FilePurpose::Inspect);
        open(&mut io, "format ..", d, "..", 4096, fmt);
        open(&mut io, "open ..", d, "..", 4096, FilePurpose::Open);
        open(&mut io, "format sub/..", d, "sub/..", 4096, fmt);
        open(&mut io, "format ././", d, "././", 4096, fmt);
        open(&mut io, "inspect ./.", d, "./.", 4096, FilePurpose::Inspect);
        open(&mut io, "absolute with NUL", d, "/a\0", 4096, fmt);
        open(&mut io, "format y/", d, "y/", 4096, fmt);
        open(&mut io, "format sub/", d, "sub/", 4096, fmt);
        open(&mut io, "open_dir empty", d, "", 4096, fmt);
        // The directory itself, with no file under it yet (the twin created a
        // file at the directory's own path here).
        B::mkdir(&dir.join("fresh"));
        let fresh = io.open_dir(&dir.join("fresh")).unwrap();
        open(&mut io, "format . in an empty dir", fresh, ".", 4096, fmt);
        open(&mut io, "open . in an empty dir", fresh, ".", 4096, FilePurpose::Open);
        let reopened = io.open_dir(&dir.join("fresh"));
        lines.push(format!("open_dir after: {:?}", reopened.map(drop)));
        let reopened = reopened.ok();
        let r = io.open_dir(Path::new(""));
        lines.push(format!("open_dir empty: {:?}", r.map(drop)));
        let r = io.open_dir(&dir.join("sub/f"));
        lines.push(format!("open_dir of a data file: {:?}", r.map(drop)));
        let mut ctx = Ctx::default();
        for fd in
            [held, inspect, Some(socket), Some(d), Some(fresh), reopened].into_iter().flatten()
        {
            lines.push(format!("close: {}", close(&mut io, &mut ctx, fd)));
        }
        assert_eq!(io.in_flight(), 0);
        lines
    }

    #[test]
    fn open_arguments_same_typed_error_on_both_backends() {
        let _g = exclusive();
        let real = probe_open::<Real>();
        let sim = probe_open::<Sim>();
        compare_lines(real, sim);
    }
}
