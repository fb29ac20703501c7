//! File workloads through `IO` against the same syscalls issued directly:
//! 4 KiB reads and writes at random sector offsets of a file in the page
//! cache (the engine's overhead per operation), and sequential 1 MiB writes
//! each followed by a full fsync (device bound). Through `IO` each callback
//! submits the next operation, the way a storage engine chains file IO.
//!
//! Shared by the `compare` benchmark and `examples/bench_files.rs` (which
//! includes this file), so both measure the same program.

use std::path::{Path, PathBuf};

use twinio::{Buffer, DirectIo, Fd, FilePurpose, FsyncDone, FsyncMode, IO, Io, ReadDone};
use twinio::{FileDriver, SECTOR_SIZE, WriteDone};

const SMALL: usize = 4096;
const LARGE: usize = 1 << 20;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum FileWork {
    RandRead,
    RandWrite,
    SeqWriteFsync,
}

/// xorshift64*: a fixed sequence of sector offsets in a file of `size`
/// bytes, identical for both sides.
struct Offsets {
    state: u64,
    size: u64,
}

impl Offsets {
    fn next_sector(&mut self) -> u64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        let x = self.state.wrapping_mul(0x2545_f491_4f6c_dd1d);
        (x % (self.size / SECTOR_SIZE as u64)) * SECTOR_SIZE as u64
    }
}

/// The context of the benchmark's `IO`.
pub struct Ctx {
    fd: Fd,
    file_size: u64,
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
    ctx.next_sequential = (offset + LARGE as u64) % ctx.file_size;
    io.write(ctx.fd, buffer, .., offset, 0, on_large_write).expect("submit write");
}

/// A formatted, filled data file under `target/`, and an `IO` over it.
pub struct Files {
    io: IO<Ctx>,
    ctx: Ctx,
    dir_path: PathBuf,
    direct_buffers: (Buffer, Buffer),
    /// Whether a pass waits for completions: the loop thread completes a
    /// file operation in the pass that attempts it, the other drivers later.
    wait: bool,
}

impl Files {
    /// Formats and fills a `file_size`-byte file in `target/<dir_name>`
    /// (on the disk, not a tmpfs) with `io`, opened with `direct_io`.
    pub fn new(mut io: IO<Ctx>, dir_name: &str, file_size: u64, direct_io: DirectIo) -> Files {
        let dir_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join(dir_name);
        let _ = std::fs::remove_dir_all(&dir_path);
        std::fs::create_dir_all(&dir_path).expect("create bench directory");
        let dir = io.open_dir(&dir_path).expect("open_dir");
        let fd = io
            .open_data_file(dir, Path::new("bench.dat"), file_size, FilePurpose::Format, direct_io)
            .expect("format bench file");
        // Filled once, so that reads hit written blocks.
        let fill = Buffer::from_slice(&vec![0x11u8; LARGE]).expect("buffer");
        for i in 0..file_size / LARGE as u64 {
            // SAFETY: `fill` is valid for reads of LARGE bytes (and
            // sector-aligned, for direct IO).
            let n = unsafe {
                libc::pwrite(fd.raw(), fill.as_ptr().cast(), LARGE, (i * LARGE as u64) as i64)
            };
            assert_eq!(n, LARGE as isize, "fill");
        }
        assert_eq!(full_sync(fd.raw()), 0, "fsync");
        let ctx = Ctx {
            fd,
            file_size,
            remaining: 0,
            offsets: Offsets { state: 1, size: file_size },
            next_sequential: 0,
            small: Some(Buffer::from_slice(&[0x5a; SMALL]).expect("buffer")),
            large: Some(Buffer::from_slice(&vec![0xa5; LARGE]).expect("buffer")),
        };
        let direct_buffers =
            (Buffer::new(SMALL).expect("buffer"), Buffer::new(LARGE).expect("buffer"));
        let wait = io.file_driver() != FileDriver::LoopThread;
        Files { io, ctx, dir_path, direct_buffers, wait }
    }

    /// Runs `ops` operations through `IO`.
    pub fn through_io(&mut self, work: FileWork, ops: u64, seed: u64) {
        let (io, ctx) = (&mut self.io, &mut self.ctx);
        ctx.remaining = ops;
        ctx.offsets.state = seed;
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
            io.flush(ctx, self.wait).expect("flush");
        }
    }

    /// The same syscalls in a plain loop.
    pub fn direct(&mut self, work: FileWork, ops: u64, seed: u64) {
        let fd = self.ctx.fd.raw();
        let file_size = self.ctx.file_size;
        let mut offsets = Offsets { state: seed, size: file_size };
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
                    let offset = (i * LARGE as u64) % file_size;
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
