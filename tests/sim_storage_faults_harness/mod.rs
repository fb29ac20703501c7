//! The storage fault tests' driver: the shared typed file driver
//! (`support::typed::Files`, one operation at a time) with a transcript of
//! everything a scenario observed, so every scenario can be run twice to
//! check it replays identically.

#![allow(dead_code)]

pub use super::support::typed::SECTOR;
use super::support::typed::{Ctx, Files};
use twinio::*;

/// The twin, and what the scenario observed.
pub struct Sim {
    pub files: Files<SimIO<Ctx>>,
    /// Everything the scenario observed, for the replay check.
    pub transcript: Vec<u8>,
}

pub const SIZE: u64 = 64 * SECTOR as u64;

/// The directory every scenario's files are in.
const DIR: &str = "/data";

impl Sim {
    pub fn new(seed: u64, faults: FaultConfig) -> Sim {
        let files = Files::new(SimIO::new(seed, 64, faults), DIR);
        Sim { files, transcript: Vec::new() }
    }

    /// Sets one storage field on top of `FaultConfig::none()`.
    pub fn with(seed: u64, storage: StorageFaults) -> Sim {
        Sim::new(seed, FaultConfig { storage, ..FaultConfig::none() })
    }

    /// Opens `name` in a freshly opened directory (the previous one may
    /// have died with a crash).
    pub fn open(
        &mut self,
        name: &str,
        purpose: FilePurpose,
        direct: bool,
    ) -> Result<Fd, OpenError> {
        let dir = self.files.open_dir(DIR);
        let direct = if direct { DirectIo::Required } else { DirectIo::Disabled };
        let result = self.files.open_in(dir, name, SIZE, purpose, direct);
        self.note(format!("open {name} {result:?}").as_bytes());
        result
    }

    pub fn format(&mut self, name: &str) -> Fd {
        self.open(name, FilePurpose::Format, false).unwrap()
    }

    pub fn write(&mut self, fd: Fd, data: &[u8], offset: u64) -> Result<usize, WriteError> {
        let result = self.files.write(fd, data, offset);
        self.note(format!("write {result:?}").as_bytes());
        result
    }

    pub fn read(&mut self, fd: Fd, len: usize, offset: u64) -> Result<Vec<u8>, ReadError> {
        let result = self.files.read(fd, len, offset);
        match &result {
            Ok(data) => self.note(data),
            Err(error) => self.note(format!("read {error:?}").as_bytes()),
        }
        result
    }

    pub fn fsync(&mut self, fd: Fd) -> Result<(), FsyncError> {
        let result = self.files.fsync(fd);
        self.note(format!("fsync {result:?}").as_bytes());
        result
    }

    /// Power loss and restart of the current node.
    pub fn crash(&mut self) {
        let node = self.files.io.current_node();
        self.files.io.crash_node(node).unwrap();
        self.files.io.restart_node(node).unwrap();
    }

    pub fn set_storage(&mut self, storage: StorageFaults) {
        let mut faults = *self.files.io.faults();
        faults.storage = storage;
        self.files.io.set_faults(faults);
    }

    pub fn note(&mut self, bytes: &[u8]) {
        self.transcript.extend_from_slice(bytes);
    }

    /// The transcript and the trace hash: what a replay must reproduce.
    pub fn outcome(&self) -> (Vec<u8>, u64) {
        (self.transcript.clone(), self.files.io.trace_hash())
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
