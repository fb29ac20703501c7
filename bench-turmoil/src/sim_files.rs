//! The file workload on `SimIO`: one chain of writes, each callback
//! submitting the next write (or the fsync due), then every block read back
//! and checked.

use std::path::Path;
use std::time::Duration;

use twinio::{
    Buffer, DirectIo, FaultConfig, Fd, FilePurpose, FsyncDone, FsyncMode, Io, ReadDone, SimIO,
    WriteDone,
};

use crate::measure::{Sample, Stopwatch};
use crate::workload::{BLOCK, BLOCKS, FILE_SIZE, FSYNC_EVERY, Files, Offsets, Shadow, fill_block};

type Sim = SimIO<Ctx>;

#[derive(Debug)]
struct Ctx {
    fd: Fd,
    writes: u64,
    /// Writes completed.
    written: u64,
    offsets: Offsets,
    shadow: Shadow,
    buffer: Option<Buffer>,
    failure: Option<String>,
}

fn fail(ctx: &mut Ctx, why: String) {
    ctx.failure.get_or_insert(why);
}

/// Submits write number `ctx.written + 1`.
fn submit_write(ctx: &mut Ctx, io: &mut Sim, mut buffer: Buffer) {
    let write = ctx.written as u32 + 1;
    let block = ctx.offsets.next_block();
    fill_block(&mut buffer, block, write);
    ctx.shadow.record(block, write);
    if let Err(error) = io.write(ctx.fd, buffer, .., block * BLOCK as u64, 0, written) {
        fail(ctx, format!("submit write: {error}"));
    }
}

fn written(ctx: &mut Ctx, io: &mut Sim, done: WriteDone) {
    match done.result {
        Ok(BLOCK) => ctx.written += 1,
        other => return fail(ctx, format!("write {}: {other:?}", ctx.written + 1)),
    }
    if ctx.written.is_multiple_of(FSYNC_EVERY) {
        ctx.buffer = Some(done.buffer);
        if let Err(error) = io.fsync(ctx.fd, FsyncMode::Full, 0, synced) {
            fail(ctx, format!("submit fsync: {error}"));
        }
    } else if ctx.written < ctx.writes {
        submit_write(ctx, io, done.buffer);
    } else {
        ctx.buffer = Some(done.buffer);
    }
}

fn synced(ctx: &mut Ctx, io: &mut Sim, done: FsyncDone) {
    if let Err(error) = done.result {
        return fail(ctx, format!("fsync after write {}: {error}", ctx.written));
    }
    if ctx.written < ctx.writes {
        let buffer = ctx.buffer.take().expect("the chain's buffer");
        submit_write(ctx, io, buffer);
    }
}

fn read_back(ctx: &mut Ctx, _: &mut Sim, done: ReadDone) {
    let block = done.tag;
    let result = match done.result {
        Ok(n) => ctx.shadow.check(block, &done.buffer[..n]),
        Err(error) => Err(format!("read back block {block}: {error}")),
    };
    if let Err(why) = result {
        fail(ctx, why);
    }
    ctx.buffer = Some(done.buffer);
}

/// A workload set up (the file formatted) and ready to run.
pub struct SimFiles {
    io: Sim,
    ctx: Ctx,
}

impl SimFiles {
    pub fn new(files: Files, seed: u64) -> SimFiles {
        let mut io: Sim = SimIO::new(seed, 8, FaultConfig::none());
        let dir = io.open_dir(Path::new("/bench")).expect("open_dir");
        let fd = io
            .open_data_file(
                dir,
                Path::new("data"),
                FILE_SIZE,
                FilePurpose::Format,
                DirectIo::Disabled,
            )
            .expect("format the data file");
        let ctx = Ctx {
            fd,
            writes: files.writes,
            written: 0,
            offsets: Offsets::new(),
            shadow: Shadow::new(),
            buffer: Some(Buffer::new(BLOCK).expect("a block buffer")),
            failure: None,
        };
        SimFiles { io, ctx }
    }

    /// Runs the writes (timed), then reads every block back and checks it
    /// (not timed). Panics on a wrong byte or any error.
    pub fn run(mut self) -> Sample {
        let start_ns = self.io.now_ns();
        let watch = Stopwatch::start();
        let buffer = self.ctx.buffer.take().expect("the buffer");
        submit_write(&mut self.ctx, &mut self.io, buffer);
        self.io.run_until_done(&mut self.ctx).expect("SimIO run");
        let sample = watch.stop(Duration::from_nanos(self.io.now_ns() - start_ns));
        self.check(&format!("after {} of {} writes", self.ctx.written, self.ctx.writes));
        for block in 0..BLOCKS {
            let buffer = self.ctx.buffer.take().expect("the buffer");
            let offset = block * BLOCK as u64;
            self.io.read(self.ctx.fd, buffer, .., offset, block, read_back).expect("submit read");
            self.io.run_until_done(&mut self.ctx).expect("SimIO run");
            self.check("reading back");
        }
        sample
    }

    fn check(&mut self, when: &str) {
        if let Some(why) = self.ctx.failure.take() {
            panic!("SimIO files failed {when}: {why}");
        }
        assert_eq!(self.ctx.written, self.ctx.writes, "SimIO files: writes missing");
    }
}
