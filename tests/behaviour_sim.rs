//! The behavioural suite (`tests/behaviour/mod.rs`) on the twin, `SimIO`,
//! with faults off: the same tests the real `IO` passes.

mod behaviour;

use std::path::PathBuf;

use behaviour::{Backend, Ctx};
use twinio::{FaultConfig, SimIO};

struct Sim;

impl Backend for Sim {
    type Io = SimIO<Ctx>;
    type Dir = PathBuf;
    type Guard = ();

    fn io(entries: u32) -> SimIO<Ctx> {
        SimIO::new(0x5eed, entries, FaultConfig::none())
    }

    /// Simulated directories exist implicitly; each IO has its own storage.
    fn dir(name: &str) -> PathBuf {
        PathBuf::from("/sim").join(name)
    }

    /// Descriptor numbers are per simulation: tests cannot disturb each other.
    fn shared() {}

    fn exclusive() {}
}

behaviour::suite!(Sim);
