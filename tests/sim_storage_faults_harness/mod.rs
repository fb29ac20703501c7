//! A small synchronous driver for the storage fault tests: each call
//! submits one operation and runs the twin until it completes, and every
//! scenario can be run twice to check it replays identically.

#![allow(dead_code)]

use std::path::Path;

use twinio::*;

pub const SECTOR: usize = SECTOR_SIZE;

#[derive(Default)]
pub struct Ctx {
    read: Option<ReadDone>,
    write: Option<WriteDone>,
    fsync: Option<FsyncDone>,
}

fn on_read(ctx: &mut Ctx, _: &mut SimIO<Ctx>, done: ReadDone) {
    ctx.read = Some(done);
}
fn on_write(ctx: &mut Ctx, _: &mut SimIO<Ctx>, done: WriteDone) {
    ctx.write = Some(done);
}
fn on_fsync(ctx: &mut Ctx, _: &mut SimIO<Ctx>, done: FsyncDone) {
    ctx.fsync = Some(done);
}

pub struct Sim {
    pub io: SimIO<Ctx>,
    pub ctx: Ctx,
    /// Everything the scenario observed, for the replay check.
    pub transcript: Vec<u8>,
}

pub const SIZE: u64 = 64 * SECTOR as u64;

impl Sim {
    pub fn new(seed: u64, faults: FaultConfig) -> Sim {
        Sim { io: SimIO::new(seed, 64, faults), ctx: Ctx::default(), transcript: Vec::new() }
    }

    /// Sets one storage field on top of `FaultConfig::none()`.
    pub fn with(seed: u64, storage: StorageFaults) -> Sim {
        Sim::new(seed, FaultConfig { storage, ..FaultConfig::none() })
    }

    fn until<T>(&mut self, take: fn(&mut Ctx) -> Option<T>) -> T {
        for _ in 0..10_000 {
            if let Some(done) = take(&mut self.ctx) {
                return done;
            }
            self.io.run_once(&mut self.ctx).unwrap();
        }
        panic!("operation never completed");
    }

    pub fn open(
        &mut self,
        name: &str,
        purpose: FilePurpose,
        direct: bool,
    ) -> Result<Fd, OpenError> {
        let dir = self.io.open_dir(Path::new("/data")).unwrap();
        let direct = if direct { DirectIo::Required } else { DirectIo::Disabled };
        let result = self.io.open_data_file(dir, Path::new(name), SIZE, purpose, direct);
        self.note(format!("open {name} {result:?}").as_bytes());
        result
    }

    pub fn format(&mut self, name: &str) -> Fd {
        self.open(name, FilePurpose::Format, false).unwrap()
    }

    pub fn write(&mut self, fd: Fd, data: &[u8], offset: u64) -> Result<usize, WriteError> {
        let buffer = Buffer::from_slice(data).unwrap();
        self.io.write(fd, buffer, .., offset, 0, on_write).unwrap();
        let result = self.until(|c| c.write.take()).result;
        self.note(format!("write {result:?}").as_bytes());
        result
    }

    pub fn read(&mut self, fd: Fd, len: usize, offset: u64) -> Result<Vec<u8>, ReadError> {
        self.io.read(fd, Buffer::new(len).unwrap(), .., offset, 0, on_read).unwrap();
        let done = self.until(|c| c.read.take());
        let result = done.result.map(|n| done.buffer[..n].to_vec());
        match &result {
            Ok(data) => self.note(data),
            Err(error) => self.note(format!("read {error:?}").as_bytes()),
        }
        result
    }

    pub fn fsync(&mut self, fd: Fd) -> Result<(), FsyncError> {
        self.io.fsync(fd, FsyncMode::Full, 0, on_fsync).unwrap();
        let result = self.until(|c| c.fsync.take()).result;
        self.note(format!("fsync {result:?}").as_bytes());
        result
    }

    /// Power loss and restart of the current node.
    pub fn crash(&mut self) {
        let node = self.io.current_node();
        self.io.crash_node(node).unwrap();
        self.io.restart_node(node).unwrap();
    }

    pub fn set_storage(&mut self, storage: StorageFaults) {
        let mut faults = *self.io.faults();
        faults.storage = storage;
        self.io.set_faults(faults);
    }

    pub fn note(&mut self, bytes: &[u8]) {
        self.transcript.extend_from_slice(bytes);
    }

    /// The transcript and the trace hash: what a replay must reproduce.
    pub fn outcome(&self) -> (Vec<u8>, u64) {
        (self.transcript.clone(), self.io.trace_hash())
    }
}

/// Sector `index`'s content in version `version`: distinct for every pair.
pub fn block(index: u64, version: u8) -> Vec<u8> {
    (0..SECTOR)
        .map(|i| (i as u64 * 131 + index * 17 + u64::from(version) * 101 + 1) as u8)
        .collect()
}

/// Runs `scenario` twice from `seed` and checks both runs saw the same
/// thing; returns what it returned the first time.
pub fn replays<T: PartialEq + std::fmt::Debug>(seed: u64, scenario: impl Fn(u64) -> (T, Sim)) -> T {
    let (first, a) = scenario(seed);
    let (second, b) = scenario(seed);
    assert_eq!(first, second, "seed {seed}: the scenario's result differs on replay");
    assert_eq!(a.outcome(), b.outcome(), "seed {seed}: the run differs on replay");
    first
}

/// How many bits differ between two equal-length byte strings.
pub fn bit_distance(a: &[u8], b: &[u8]) -> u32 {
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
}
