//! File workloads through `IO` against the same syscalls issued directly,
//! the approach of `examples/bench_files.rs`: 4 KiB reads and writes at
//! random sector offsets of a file in the page cache (the engine's overhead
//! per operation), and sequential 1 MiB writes each followed by a full
//! fsync (device bound). Through `IO` each callback submits the next
//! operation, the way a storage engine chains file IO.

use std::path::{Path, PathBuf};

use twinio::{Buffer, DirectIo, Fd, FilePurpose, FsyncDone, FsyncMode, IO, Io, ReadDone};
use twinio::{FileDriver, IoOptions, SECTOR_SIZE, WriteDone};

const FILE_SIZE: u64 = 32 << 20;
const SMALL: usize = 4096;
const LARGE: usize = 1 << 20;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum FileWork {
    RandRead,
    RandWrite,
    SeqWriteFsync,
}

/// xorshift64*: a fixed sequence of sector offsets, identical for both sides.
struct Offsets(u64);

impl Offsets {
    fn next_sector(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        (x % (FILE_SIZE / SECTOR_SIZE as u64)) * SECTOR_SIZE as u64
    }
}

struct Ctx {
    fd: Fd,
    remaining: u64,
    offsets: Offsets,
    next_sequential: u64,
    small: Option<Buffer>,
    large: Option<Buffer>,
}

fn on_read(ctx: &mut Ctx, io: &mut IO<Ctx>, done: ReadDone) {
    assert_eq!(done.result, Ok(SMALL), "read");
    ctx.remaining -= 1;
    if ctx.remaining == 0 {
        ctx.small = Some(done.buffer);
        return;
    }
    let offset = ctx.offsets.next_sector();
    io.read(ctx.fd, done.buffer, .., offset, 0, on_read).expect("submit read");
}

fn on_write(ctx: &mut Ctx, io: &mut IO<Ctx>, done: WriteDone) {
    assert_eq!(done.result, Ok(SMALL), "write");
    ctx.remaining -= 1;
    if ctx.remaining == 0 {
        ctx.small = Some(done.buffer);
        return;
    }
    let offset = ctx.offsets.next_sector();
    io.write(ctx.fd, done.buffer, .., offset, 0, on_write).expect("submit write");
}

fn on_large_write(ctx: &mut Ctx, io: &mut IO<Ctx>, done: WriteDone) {
    assert_eq!(done.result, Ok(LARGE), "large write");
    ctx.large = Some(done.buffer);
    io.fsync(ctx.fd, FsyncMode::Full, 0, on_fsync).expect("submit fsync");
}

fn on_fsync(ctx: &mut Ctx, io: &mut IO<Ctx>, done: FsyncDone) {
    assert_eq!(done.result, Ok(()), "fsync");
    ctx.remaining -= 1;
    if ctx.remaining == 0 {
        return;
    }
    let buffer = ctx.large.take().expect("buffer");
    let offset = ctx.next_sequential;
    ctx.next_sequential = (offset + LARGE as u64) % FILE_SIZE;
    io.write(ctx.fd, buffer, .., offset, 0, on_large_write).expect("submit write");
}

/// A formatted, filled data file under `target/`, and an `IO` over it.
pub struct Files {
    io: IO<Ctx>,
    ctx: Ctx,
    dir_path: PathBuf,
    direct_buffers: (Buffer, Buffer),
}

impl Files {
    pub fn new() -> Files {
        let dir_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-compare-files");
        let _ = std::fs::remove_dir_all(&dir_path);
        std::fs::create_dir_all(&dir_path).expect("create bench directory");
        // The loop thread: this workload measures the engine's cost per op
        // against the same syscalls (one op at a time, page cache warm);
        // the file drivers are compared in examples/bench_uring.rs.
        let options = IoOptions::new(8).file_driver(FileDriver::LoopThread);
        let mut io: IO<Ctx> = IO::with_options(options).expect("init");
        let dir = io.open_dir(&dir_path).expect("open_dir");
        let fd = io
            .open_data_file(
                dir,
                Path::new("bench.dat"),
                FILE_SIZE,
                FilePurpose::Format,
                DirectIo::Disabled,
            )
            .expect("format bench file");
        let fill = Buffer::from_slice(&vec![0x11u8; LARGE]).expect("buffer");
        for i in 0..FILE_SIZE / LARGE as u64 {
            // SAFETY: `fill` is valid for reads of LARGE bytes.
            let n = unsafe {
                libc::pwrite(fd.raw(), fill.as_ptr().cast(), LARGE, (i * LARGE as u64) as i64)
            };
            assert_eq!(n, LARGE as isize, "fill");
        }
        assert_eq!(full_sync(fd.raw()), 0, "fsync");
        let ctx = Ctx {
            fd,
            remaining: 0,
            offsets: Offsets(1),
            next_sequential: 0,
            small: Some(Buffer::from_slice(&[0x5a; SMALL]).expect("buffer")),
            large: Some(Buffer::from_slice(&vec![0xa5; LARGE]).expect("buffer")),
        };
        let direct_buffers =
            (Buffer::new(SMALL).expect("buffer"), Buffer::new(LARGE).expect("buffer"));
        Files { io, ctx, dir_path, direct_buffers }
    }

    /// Runs `ops` operations through `IO`.
    pub fn through_io(&mut self, work: FileWork, ops: u64, seed: u64) {
        let (io, ctx) = (&mut self.io, &mut self.ctx);
        ctx.remaining = ops;
        ctx.offsets = Offsets(seed);
        match work {
            FileWork::RandRead => {
                let buffer = ctx.small.take().expect("idle buffer");
                let offset = ctx.offsets.next_sector();
                io.read(ctx.fd, buffer, .., offset, 0, on_read).expect("submit");
            }
            FileWork::RandWrite => {
                let buffer = ctx.small.take().expect("idle buffer");
                let offset = ctx.offsets.next_sector();
                io.write(ctx.fd, buffer, .., offset, 0, on_write).expect("submit");
            }
            FileWork::SeqWriteFsync => {
                let buffer = ctx.large.take().expect("idle buffer");
                ctx.next_sequential = LARGE as u64;
                io.write(ctx.fd, buffer, .., 0, 0, on_large_write).expect("submit");
            }
        }
        while ctx.remaining > 0 {
            io.flush(ctx, false).expect("flush");
        }
    }

    /// The same syscalls in a plain loop.
    pub fn direct(&mut self, work: FileWork, ops: u64, seed: u64) {
        let fd = self.ctx.fd.raw();
        let mut offsets = Offsets(seed);
        let (small, large) = &mut self.direct_buffers;
        for i in 0..ops {
            let (n, len) = match work {
                // SAFETY: `small` is valid and exclusively borrowed for SMALL bytes.
                FileWork::RandRead => (
                    unsafe {
                        libc::pread(
                            fd,
                            small.as_mut_ptr().cast(),
                            SMALL,
                            offsets.next_sector() as i64,
                        )
                    },
                    SMALL,
                ),
                // SAFETY: `small` is valid for reads of SMALL bytes.
                FileWork::RandWrite => (
                    unsafe {
                        libc::pwrite(fd, small.as_ptr().cast(), SMALL, offsets.next_sector() as i64)
                    },
                    SMALL,
                ),
                FileWork::SeqWriteFsync => {
                    let offset = (i * LARGE as u64) % FILE_SIZE;
                    // SAFETY: `large` is valid for reads of LARGE bytes.
                    let n =
                        unsafe { libc::pwrite(fd, large.as_ptr().cast(), LARGE, offset as i64) };
                    assert_eq!(full_sync(fd), 0, "fsync");
                    (n, LARGE)
                }
            };
            assert_eq!(n, len as isize, "direct file op");
        }
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir_path);
    }
}

/// What `FsyncMode::Full` issues on this platform.
fn full_sync(fd: i32) -> i32 {
    #[cfg(target_vendor = "apple")]
    // SAFETY: F_FULLFSYNC takes no argument.
    return unsafe { libc::fcntl(fd, libc::F_FULLFSYNC) };
    #[cfg(not(target_vendor = "apple"))]
    // SAFETY: a syscall on an open descriptor.
    return unsafe { libc::fsync(fd) };
}
