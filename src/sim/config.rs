//! What the simulation may do wrong, and how often: the fault configuration.
//!
//! Every probability is a [`Ratio`] (integers only, so a configuration
//! means the same run on every machine). [`FaultConfig::swarm`] draws a
//! whole configuration from a seed, switching each fault on or off and
//! picking its rate, as in swarm testing: a run that only ever sees a few
//! kinds of fault explores each of them more deeply than one that sees all.

use std::fmt;

use super::clock::ClockFaults;
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
/// `multi_bit_rot`, `sector_garbage`, `misdirected_read`, `stale_read`,
/// `misdirected_write`, `torn_write`) spare files marked exempt with
/// `SimIO::set_fault_exempt` (and a misdirected write never lands in one);
/// the others (short transfers, `ENOSPC`, `EIO`, fsync and open errors,
/// crash tears, latencies) apply to every file. Every fault is off by
/// default; `docs/simulation.md` says what real system behaves each way.
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
    /// Linux behaviour after a writeback error. Every descriptor of the
    /// file open at the time sees the error once on its next fsync
    /// (errseq), the failing one now.
    pub fsync_error: Ratio,

    // ---- fault model v2 (all off by default) ----
    /// Per read: fewer bytes than asked for and than the file holds (whole
    /// sectors under direct IO, any count otherwise), as a signal or a
    /// device error part way does.
    pub short_read: Ratio,
    /// Per write: only a prefix lands and the count says so (whole sectors
    /// under direct IO, any count otherwise): ENOSPC or RLIMIT_FSIZE part
    /// way, or a signal after part of the data (the real IO retries
    /// `EINTR` itself, so an interrupted write is seen as a short count).
    pub short_write: Ratio,
    /// Per write: `WriteError::InputOutput`; a prefix of whole sectors
    /// (possibly none) may have landed, unsynced.
    pub write_io_error: Ratio,
    /// Per write: background writeback of the file fails: its dirty
    /// sectors are treated as by a failed fsync, and every descriptor of
    /// the file open now sees `FsyncError::InputOutput` once, on its next
    /// fsync (errseq).
    pub writeback_error: Ratio,
    /// Per fsync: `FsyncError::NoSpaceLeft` or `FsyncError::DiskQuota`
    /// (one half each), with the dirty sectors treated as by
    /// `fsync_error`.
    pub fsync_no_space: Ratio,
    /// Per failed sync (fsync, writeback): the sectors not made durable
    /// are dropped from the cache, so reads return their durable data
    /// (instead of keeping the unpersisted data readable).
    pub fsync_revert: Ratio,
    /// Per read: one sector of the range is read from another sector of
    /// the file; the stored data is unharmed, so a retry may heal.
    pub misdirected_read: Ratio,
    /// Per read: one sector of the range (drawn) returns the version
    /// before its newest, if it was rewritten since it was last durable
    /// (otherwise nothing happens); transient.
    pub stale_read: Ratio,
    /// Per misdirected write: it lands in another (non-exempt) file of the
    /// same node instead of elsewhere in its own.
    pub misdirected_write_other_file: Ratio,
    /// Per read: 2 to 16 bits of one sector in the range flip in the
    /// stored data (persistent, as `bit_rot`).
    pub multi_bit_rot: Ratio,
    /// Per read: one sector in the range is replaced by garbage in the
    /// stored data (persistent).
    pub sector_garbage: Ratio,
    /// Per unsynced sector a crash resolves to a newer version than its
    /// durable one (under `TearUnsynced` and `AnyVersion`): the version is
    /// torn in 512-byte pieces, each landed or not.
    pub crash_torn_sector: Ratio,
    /// Per torn sector: the pieces that did not land hold garbage instead
    /// of the older version.
    pub crash_torn_garbage: Ratio,
    /// Per `open_data_file` with `Format` (or `Open`, which syncs the file
    /// and its directory): `OpenError::NoSpaceLeft` (preallocation) or
    /// `OpenError::InputOutput` (the syncs), one half each. A failed
    /// `Format` removes its file, but not durably: a crash may bring it
    /// back, short (`NoSpaceLeft`) or whole but never synced (`InputOutput`).
    pub open_error: Ratio,
    /// What never-written sectors read as.
    pub unwritten: Unwritten,
    /// Per operation: a stall of the node's device, heavy-tailed: at
    /// least `stall_min_ns`, doubling with probability one half each time,
    /// at most `stall_max_ns`. Every operation of the node queued behind
    /// it waits too (correlated).
    pub stall: Ratio,
    /// The shortest stall.
    pub stall_min_ns: u64,
    /// The longest stall.
    pub stall_max_ns: u64,
    /// The node's device completes at most this many operations per second
    /// (0: unlimited); operations queue behind each other.
    pub iops: u64,
    /// The node's device moves at most this many bytes per second (0:
    /// unlimited).
    pub bandwidth: u64,
}

/// What never-written sectors of a data file read as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Unwritten {
    /// Zeros: what ext4 and XFS return for preallocated, unwritten extents.
    #[default]
    Zeros,
    /// One byte repeated (an NVMe namespace deallocated to 0xFF, say).
    Pattern(u8),
    /// Garbage that stays the same from read to read (a raw device, or a
    /// drive that returns stale blocks).
    Garbage,
}

impl fmt::Display for Unwritten {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unwritten::Pattern(byte) => write!(f, "Pattern(0x{byte:02x})"),
            other => fmt::Debug::fmt(other, f),
        }
    }
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
    /// Each unsynced sector comes back as its durable copy or as any
    /// version written since (uniformly), so a sector rewritten several
    /// times can return an intermediate state; writes in flight at the
    /// crash are candidates too.
    AnyVersion,
}

impl fmt::Display for CrashPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// The whole fault configuration of a simulation. Print it (`Display`)
/// with the seed to make a run reproducible.
///
/// Swarm testing draws a different mix of faults for every seed; the same
/// seed always draws the same mix, and [`FaultConfig::liveness`] turns the
/// faults off again to check that progress resumes:
///
/// ```
/// use twinio::{FaultConfig, Ratio, SimIO};
///
/// let a = FaultConfig::swarm(7);
/// assert_eq!(a, FaultConfig::swarm(7), "a seed draws one configuration");
/// println!("seed 7: {a}");
///
/// // Or by hand: every faulty read, and nothing else.
/// let mut faults = FaultConfig::none();
/// faults.storage.latent_sector_error = Ratio::new(1, 1).expect("a valid ratio");
/// let sim: SimIO<()> = SimIO::new(7, 64, faults);
/// assert_eq!(sim.faults().storage.latent_sector_error, Ratio::new(1, 1).unwrap());
/// assert_eq!(a.liveness().storage.latent_sector_error, Ratio::ZERO);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct FaultConfig {
    /// Storage faults and latencies.
    pub storage: StorageFaults,
    /// What a crash does to unsynced data.
    pub crash: CrashPolicy,
    /// Network delays and faults.
    pub network: NetworkFaults,
    /// The nodes' clocks: drift, offsets, pauses.
    pub clock: ClockFaults,
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
            ..StorageFaults::default()
        };
        let mut crash = match prng.below(4) {
            0 => CrashPolicy::LoseUnsynced,
            1 => CrashPolicy::KeepUnsynced,
            2 => CrashPolicy::TearUnsynced,
            _ => CrashPolicy::Any,
        };
        let network = NetworkFaults::swarm(&mut prng);
        // Fault model v2, drawn after everything older so the older
        // fields of a seed's configuration stay as they were.
        let mut storage = storage;
        v2_swarm(&mut storage, &mut prng, fault);
        if prng.chance(Ratio::new(1, 3).expect("valid ratio")) {
            crash = CrashPolicy::AnyVersion;
        }
        let mut network = network;
        network.swarm_v2(&mut prng);
        let clock = ClockFaults::swarm(&mut prng);
        FaultConfig { storage, crash, network, clock }
    }

    /// This configuration with every fault off but latencies (and the crash
    /// policy) kept: for checking that a system makes progress once the
    /// faults stop. The clocks are kept as they are (drift, offsets and
    /// pauses are how machines behave, and a pause ends by itself).
    pub fn liveness(&self) -> FaultConfig {
        let s = &self.storage;
        FaultConfig {
            storage: StorageFaults {
                read_latency: s.read_latency,
                write_latency: s.write_latency,
                fsync_latency: s.fsync_latency,
                unwritten: s.unwritten,
                stall: s.stall,
                stall_min_ns: s.stall_min_ns,
                stall_max_ns: s.stall_max_ns,
                iops: s.iops,
                bandwidth: s.bandwidth,
                ..StorageFaults::default()
            },
            crash: self.crash,
            network: self.network.liveness(),
            clock: self.clock,
        }
    }
}

/// Draws the fault model v2 fields of a swarm configuration. The error
/// rates are lower than the older faults': a store that stops on an IO
/// error (a fair choice) restarts on each, and a run must still progress.
fn v2_swarm(s: &mut StorageFaults, prng: &mut Prng, fault: impl Fn(&mut Prng, u32) -> Ratio) {
    s.short_read = fault(prng, 10);
    s.short_write = fault(prng, 10);
    s.write_io_error = fault(prng, 5);
    s.writeback_error = fault(prng, 2);
    s.fsync_no_space = fault(prng, 5);
    s.fsync_revert = fault(prng, 1000);
    s.misdirected_read = fault(prng, 10);
    s.stale_read = fault(prng, 10);
    s.misdirected_write_other_file = fault(prng, 1000);
    s.multi_bit_rot = fault(prng, 10);
    s.sector_garbage = fault(prng, 5);
    s.crash_torn_sector = fault(prng, 500);
    s.crash_torn_garbage = fault(prng, 1000);
    s.open_error = fault(prng, 100);
    s.unwritten = match prng.below(4) {
        0 | 1 => Unwritten::Zeros,
        2 => Unwritten::Pattern(prng.below(256) as u8),
        _ => Unwritten::Garbage,
    };
    s.stall = fault(prng, 5);
    s.stall_min_ns = prng.range_inclusive(100_000, 5_000_000);
    s.stall_max_ns = prng.range_inclusive(200_000_000, 2_000_000_000);
    let half = Ratio::new(1, 2).expect("valid ratio");
    s.iops = if prng.chance(half) { prng.range_inclusive(2_000, 500_000) } else { 0 };
    s.bandwidth =
        if prng.chance(half) { prng.range_inclusive(50_000_000, 4_000_000_000) } else { 0 };
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
        let ratios = [
            ("short_read", s.short_read),
            ("short_write", s.short_write),
            ("write_io_error", s.write_io_error),
            ("writeback_error", s.writeback_error),
            ("fsync_no_space", s.fsync_no_space),
            ("fsync_revert", s.fsync_revert),
            ("misdirected_read", s.misdirected_read),
            ("stale_read", s.stale_read),
            ("misdirected_write_other_file", s.misdirected_write_other_file),
            ("multi_bit_rot", s.multi_bit_rot),
            ("sector_garbage", s.sector_garbage),
            ("crash_torn_sector", s.crash_torn_sector),
            ("crash_torn_garbage", s.crash_torn_garbage),
            ("open_error", s.open_error),
        ];
        for (name, ratio) in ratios {
            writeln!(f, "storage.{name}: {ratio}")?;
        }
        writeln!(f, "storage.unwritten: {}", s.unwritten)?;
        writeln!(
            f,
            "storage.stall: {} {}..={}ns (doubling)",
            s.stall, s.stall_min_ns, s.stall_max_ns
        )?;
        writeln!(f, "storage.device: {} IOPS, {} B/s (0: unlimited)", s.iops, s.bandwidth)?;
        writeln!(f, "crash: {}", self.crash)?;
        writeln!(f, "network: {}", self.network)?;
        write!(f, "clock: {}", self.clock)
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
        let v2 = FaultConfig::swarm(3).liveness().storage;
        assert!(v2.short_write.is_zero() && v2.open_error.is_zero() && v2.stale_read.is_zero());
        assert_eq!(v2.stall, FaultConfig::swarm(3).storage.stall, "stalls are latency: kept");
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
