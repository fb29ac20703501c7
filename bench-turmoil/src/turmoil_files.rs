//! The file workload on turmoil's simulated file system (`unstable-fs`):
//! the std-style shim `File` with `FileExt::write_at` and `sync_all`,
//! called from a client host, then every block read back and checked.

use std::cell::Cell;
use std::os::unix::fs::FileExt;
use std::rc::Rc;
use std::time::Duration;

use turmoil::fs::shim::std::fs::{OpenOptions, create_dir_all};

use crate::measure::{Sample, Stopwatch};
use crate::workload::{BLOCK, BLOCKS, FILE_SIZE, FSYNC_EVERY, Files, Offsets, Shadow, fill_block};

/// The whole workload inside the simulation; returns the cost of the
/// writes alone (the read-back is not timed).
async fn workload(files: Files, timed: Rc<Cell<Option<Sample>>>) -> turmoil::Result {
    create_dir_all("/bench")?;
    let file = OpenOptions::new().read(true).write(true).create(true).open("/bench/data")?;
    file.set_len(FILE_SIZE)?;
    file.sync_all()?;
    let (mut offsets, mut shadow, mut block_bytes) = (Offsets::new(), Shadow::new(), [0u8; BLOCK]);
    let start = turmoil::elapsed();
    let watch = Stopwatch::start();
    for write in 1..=files.writes {
        let block = offsets.next_block();
        fill_block(&mut block_bytes, block, write as u32);
        shadow.record(block, write as u32);
        let n = file.write_at(&block_bytes, block * BLOCK as u64)?;
        if n != BLOCK {
            return Err(format!("write {write}: {n} bytes").into());
        }
        if write % FSYNC_EVERY == 0 {
            file.sync_all()?;
        }
    }
    timed.set(Some(watch.stop(turmoil::elapsed() - start)));
    for block in 0..BLOCKS {
        let n = file.read_at(&mut block_bytes, block * BLOCK as u64)?;
        shadow.check(block, &block_bytes[..n])?;
    }
    Ok(())
}

/// A simulation set up and ready to run.
pub struct TurmoilFiles {
    sim: turmoil::Sim<'static>,
    timed: Rc<Cell<Option<Sample>>>,
}

impl TurmoilFiles {
    pub fn new(files: Files, seed: u64) -> TurmoilFiles {
        // No latency configured: turmoil's file operations are instant, as
        // SimIO's with `FaultConfig::none()`; one tick is all it needs.
        let mut sim = turmoil::Builder::new()
            .simulation_duration(Duration::from_secs(10))
            .rng_seed(seed)
            .build();
        let timed = Rc::new(Cell::new(None));
        sim.client("files", workload(files, Rc::clone(&timed)));
        TurmoilFiles { sim, timed }
    }

    /// Runs the workload. Panics on a wrong byte or any error.
    pub fn run(mut self) -> Sample {
        if let Err(error) = self.sim.run() {
            panic!("turmoil files failed: {error}");
        }
        self.timed.take().expect("the workload ran")
    }
}
