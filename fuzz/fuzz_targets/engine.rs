//! The example storage engine (`twinio-kv`) under `SimIO`, with
//! fuzzer-chosen faults and crash points, through the same runner as
//! `vopr`: clients put, get and delete over the simulated network while the
//! server is crashed at the chosen instants; then faults go off and every
//! key is read back. Any correctness or liveness failure (or a panic) is a
//! crash for libFuzzer.
//!
//! Runs are short (two clients, a 2 s faults phase) so the fuzzer gets
//! hundreds of executions per second; `vopr` covers the long runs.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use twinio::{CrashPolicy, FaultConfig, Latency, Ratio};
use twinio_kv::vopr::{Options, Outcome, run_seed};

#[derive(Arbitrary, Debug)]
struct Input {
    seed: u64,
    /// Storage fault rates in thousandths, capped at 10%: latent sector
    /// error, bit rot, misdirected write, torn write, no space, fsync error.
    storage: [u8; 6],
    /// Network: partial send, partial recv, reset, refuse (thousandths,
    /// capped at 10%), and the one-way delay in units of 10 µs (plus 10 µs).
    network: [u8; 4],
    delay_10us: u8,
    /// Storage latencies in microseconds: read, write, fsync.
    latency_us: [u16; 3],
    crash: u8,
    /// Crash instants, in milliseconds after the start (at most 8 used).
    crash_points_ms: Vec<u16>,
}

fn ratio(thousandths: u8) -> Ratio {
    Ratio::new(u32::from(thousandths.min(100)), 1000).expect("at most one")
}

fn latency(us: u16) -> Latency {
    Latency { floor_ns: u64::from(us) * 1000, ..Latency::ZERO }
}

fuzz_target!(|input: Input| {
    let mut faults = FaultConfig::none();
    let s = &mut faults.storage;
    s.latent_sector_error = ratio(input.storage[0]);
    s.bit_rot = ratio(input.storage[1]);
    s.misdirected_write = ratio(input.storage[2]);
    s.torn_write = ratio(input.storage[3]);
    s.no_space = ratio(input.storage[4]);
    s.fsync_error = ratio(input.storage[5]);
    s.read_latency = latency(input.latency_us[0]);
    s.write_latency = latency(input.latency_us[1]);
    s.fsync_latency = latency(input.latency_us[2]);
    faults.crash = match input.crash % 4 {
        0 => CrashPolicy::LoseUnsynced,
        1 => CrashPolicy::KeepUnsynced,
        2 => CrashPolicy::TearUnsynced,
        _ => CrashPolicy::Any,
    };
    let n = &mut faults.network;
    n.partial_send = ratio(input.network[0]);
    n.partial_recv = ratio(input.network[1]);
    n.reset = ratio(input.network[2]);
    n.refuse = ratio(input.network[3]);
    // At least 10 µs: with zero delay and zero latency a closed-loop client
    // and the store could exchange requests forever at one virtual instant.
    n.delay_min_ns = (1 + u64::from(input.delay_10us)) * 10_000;
    let crash_points =
        input.crash_points_ms.iter().take(8).map(|&ms| u64::from(ms) * 1_000_000).collect();
    let options = Options {
        clients: 2,
        keys_per_client: 8,
        mutations_per_client: 30,
        liveness_ops_per_client: 3,
        // With zero storage latency a client could otherwise make ~10^5
        // requests in the 2 s phase: seconds per input under ASan.
        requests_per_client: Some(300),
        // Enough for every mutation the clients may make (2 x (30 + 3) plus
        // retries), and small: formatting and recovery stay cheap.
        log_slots: 512,
        faults: Some(faults),
        crash_points: Some(crash_points),
        faults_phase_ns: Some(2_000_000_000),
        ..Options::default()
    };
    let report = run_seed(input.seed, &options);
    match &report.outcome {
        Outcome::Passed => {}
        Outcome::Correctness(_) | Outcome::Liveness(_) => {
            panic!("{report}\nfaults: {}", report.faults)
        }
    }
});
