//! What the simulation may do wrong, and how often: the fault configuration.
//!
//! Every probability is a [`Ratio`] (integers only, so a configuration
//! means the same run on every machine). [`FaultConfig::swarm`] draws a
//! whole configuration from a seed, switching each fault on or off and
//! picking its rate, as in swarm testing: a run that only ever sees a few
//! kinds of fault explores each of them more deeply than one that sees all.

use std::fmt;

use super::network::NetworkFaults;
use super::prng::{Prng, Ratio};

/// A latency distribution: `floor_ns`, plus a uniform draw in
/// `0..=spread_ns`, plus, with probability `tail`, a second uniform draw in
/// `0..=tail_ns` (the slow outliers a real device has).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Latency {
    /// The least any operation takes.
    pub floor_ns: u64,
    /// The width of the common, uniform part above the floor.
    pub spread_ns: u64,
    /// How often an operation is an outlier.
    pub tail: Ratio,
    /// The most an outlier adds.
    pub tail_ns: u64,
}

impl Latency {
    /// No latency: the operation completes in the pass that runs it.
    pub const ZERO: Latency = Latency { floor_ns: 0, spread_ns: 0, tail: Ratio::ZERO, tail_ns: 0 };

    /// Draws one latency.
    pub fn draw(&self, prng: &mut Prng) -> u64 {
        let mut ns = self.floor_ns.saturating_add(prng.range_inclusive(0, self.spread_ns));
        if prng.chance(self.tail) {
            ns = ns.saturating_add(prng.range_inclusive(0, self.tail_ns));
        }
        ns
    }

    /// True if every draw is zero.
    pub fn is_zero(&self) -> bool {
        self.floor_ns == 0 && self.spread_ns == 0 && (self.tail.is_zero() || self.tail_ns == 0)
    }
}

impl fmt::Display for Latency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}ns+U(0..={})ns tail {} +U(0..={})ns",
            self.floor_ns, self.spread_ns, self.tail, self.tail_ns
        )
    }
}

/// Faults and latencies of simulated storage. Rates are per operation.
///
/// The corruption faults (`latent_sector_error`, `bit_rot`,
/// `misdirected_write`, `torn_write`) spare files marked exempt with
/// `SimIO::set_fault_exempt`; the others (`no_space`, `fsync_error`,
/// latencies) apply to every file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct StorageFaults {
    /// Latency of a read.
    pub read_latency: Latency,
    /// Latency of a write.
    pub write_latency: Latency,
    /// Latency of an fsync.
    pub fsync_latency: Latency,
    /// Per read: one sector in the range goes bad. Reads covering it fail
    /// with `ReadError::InputOutput` until the sector is written again.
    pub latent_sector_error: Ratio,
    /// Per read: one bit of one sector in the range flips in the stored
    /// data. The read succeeds with the wrong byte, and so does every retry.
    pub bit_rot: Ratio,
    /// Per write: the data lands at another sector-aligned offset of the
    /// same file; the intended sectors keep their old contents. The write
    /// reports success.
    pub misdirected_write: Ratio,
    /// Per write: only a prefix of whole sectors (possibly none) lands; the
    /// rest keeps its old contents. The write reports success.
    pub torn_write: Ratio,
    /// Per write: `WriteError::NoSpaceLeft`, nothing written.
    pub no_space: Ratio,
    /// Per fsync: `FsyncError::InputOutput`. Each dirty sector was then
    /// either made durable or not (drawn per sector); those that were not
    /// stay readable from the cache but are no longer dirty, so a later
    /// successful fsync does not write them and a crash loses them: the
    /// Linux behaviour after a writeback error.
    pub fsync_error: Ratio,
}

/// What a crash (power loss) does to data written but not yet synced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CrashPolicy {
    /// Every unsynced sector is lost: files hold exactly what was synced.
    #[default]
    LoseUnsynced,
    /// Every unsynced sector reached the disk after all.
    KeepUnsynced,
    /// Each unsynced sector independently reached the disk or not
    /// (probability one half), so a multi-sector write can be torn.
    TearUnsynced,
    /// One of the three above, drawn afresh at each crash.
    Any,
}

impl fmt::Display for CrashPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// The whole fault configuration of a simulation. Print it (`Display`)
/// with the seed to make a run reproducible.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct FaultConfig {
    /// Storage faults and latencies.
    pub storage: StorageFaults,
    /// What a crash does to unsynced data.
    pub crash: CrashPolicy,
    /// Network delays and faults.
    pub network: NetworkFaults,
}

impl FaultConfig {
    /// No faults, no storage latency, crashes lose exactly the unsynced
    /// data, and the network delivers every segment after a fixed 10 µs
    /// ([`NetworkFaults::none`]): the simulation behaves like a perfect
    /// machine.
    pub fn none() -> FaultConfig {
        FaultConfig::default()
    }

    /// A whole configuration drawn from `seed`: each fault independently
    /// on (with probability one half) or off, and, when on, its rate drawn
    /// from a range that keeps a run making progress.
    pub fn swarm(seed: u64) -> FaultConfig {
        // Mixed so that `swarm(s)` and `SimIO::new(s, ..)` draw unrelated streams.
        let mut prng = Prng::from_seed(seed ^ 0x5157_4152_4D00_0001);
        let latency = |prng: &mut Prng| Latency {
            floor_ns: prng.range_inclusive(1_000, 50_000),
            spread_ns: prng.range_inclusive(0, 200_000),
            tail: per_mille(prng, 50),
            tail_ns: prng.range_inclusive(0, 20_000_000),
        };
        let fault = |prng: &mut Prng, max_per_mille: u32| {
            if prng.chance(Ratio::new(1, 2).expect("valid ratio")) {
                per_mille(prng, max_per_mille)
            } else {
                Ratio::ZERO
            }
        };
        let storage = StorageFaults {
            read_latency: latency(&mut prng),
            write_latency: latency(&mut prng),
            fsync_latency: latency(&mut prng),
            latent_sector_error: fault(&mut prng, 10),
            bit_rot: fault(&mut prng, 10),
            misdirected_write: fault(&mut prng, 10),
            torn_write: fault(&mut prng, 20),
            no_space: fault(&mut prng, 20),
            fsync_error: fault(&mut prng, 20),
        };
        let crash = match prng.below(4) {
            0 => CrashPolicy::LoseUnsynced,
            1 => CrashPolicy::KeepUnsynced,
            2 => CrashPolicy::TearUnsynced,
            _ => CrashPolicy::Any,
        };
        let network = NetworkFaults::swarm(&mut prng);
        FaultConfig { storage, crash, network }
    }

    /// This configuration with every fault off but latencies (and the crash
    /// policy) kept: for checking that a system makes progress once the
    /// faults stop.
    pub fn liveness(&self) -> FaultConfig {
        let s = &self.storage;
        FaultConfig {
            storage: StorageFaults {
                read_latency: s.read_latency,
                write_latency: s.write_latency,
                fsync_latency: s.fsync_latency,
                ..StorageFaults::default()
            },
            crash: self.crash,
            network: NetworkFaults {
                partial_send: Ratio::ZERO,
                partial_recv: Ratio::ZERO,
                reset: Ratio::ZERO,
                refuse: Ratio::ZERO,
                ..self.network
            },
        }
    }
}

/// A rate in `1..=max` per thousand.
fn per_mille(prng: &mut Prng, max: u32) -> Ratio {
    let numerator = prng.range_inclusive(1, u64::from(max)) as u32;
    Ratio::new(numerator, 1000).expect("numerator <= 1000")
}

impl fmt::Display for FaultConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.storage;
        writeln!(f, "storage.read_latency: {}", s.read_latency)?;
        writeln!(f, "storage.write_latency: {}", s.write_latency)?;
        writeln!(f, "storage.fsync_latency: {}", s.fsync_latency)?;
        writeln!(f, "storage.latent_sector_error: {}", s.latent_sector_error)?;
        writeln!(f, "storage.bit_rot: {}", s.bit_rot)?;
        writeln!(f, "storage.misdirected_write: {}", s.misdirected_write)?;
        writeln!(f, "storage.torn_write: {}", s.torn_write)?;
        writeln!(f, "storage.no_space: {}", s.no_space)?;
        writeln!(f, "storage.fsync_error: {}", s.fsync_error)?;
        writeln!(f, "crash: {}", self.crash)?;
        write!(f, "network: {}", self.network)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swarm_is_a_function_of_the_seed_and_varies() {
        assert_eq!(FaultConfig::swarm(1), FaultConfig::swarm(1));
        let configs: Vec<FaultConfig> = (0..32).map(FaultConfig::swarm).collect();
        assert!(configs.iter().any(|c| c.storage.bit_rot.is_zero()));
        assert!(configs.iter().any(|c| !c.storage.bit_rot.is_zero()));
        assert!(configs.iter().any(|c| c != &configs[0]));
    }

    #[test]
    fn liveness_turns_faults_off_and_keeps_latency() {
        let swarm = FaultConfig::swarm(9);
        let live = swarm.liveness();
        assert_eq!(live.storage.read_latency, swarm.storage.read_latency);
        assert!(live.storage.torn_write.is_zero() && live.storage.fsync_error.is_zero());
        assert!(live.network.reset.is_zero() && live.network.refuse.is_zero());
        assert_eq!(live.network.delay_min_ns, swarm.network.delay_min_ns);
        let text = swarm.to_string();
        for field in
            ["bit_rot", "misdirected_write", "fsync_error", "crash", "read_latency", "reset"]
        {
            assert!(text.contains(field), "{text}");
        }
    }

    #[test]
    fn latency_has_a_floor() {
        let latency = Latency { floor_ns: 10, spread_ns: 5, tail: Ratio::ONE, tail_ns: 100 };
        let mut prng = Prng::from_seed(1);
        for _ in 0..100 {
            let ns = latency.draw(&mut prng);
            assert!((10..=115).contains(&ns), "{ns}");
        }
        assert_eq!(Latency::ZERO.draw(&mut prng), 0);
        assert!(Latency::ZERO.is_zero());
    }
}
