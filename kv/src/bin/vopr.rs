//! The simulation runner (the README's main command).
//!
//! ```sh
//! vopr                      # a default batch of 400 seeds from a fresh base
//! vopr --seeds N            # N seeds
//! vopr --seed S             # replay exactly the run of seed S, verbosely
//! vopr --from S --seeds N   # seeds S, S+1, …, S+N-1
//! vopr --bug ack-before-fsync   # plant a bug: it must be found
//! ```
//!
//! Exit codes: 0 all passed, 1 bad usage, 2 correctness failure, 3 liveness
//! failure, 4 a panic (the simulated system crashed). The first failing
//! seed stops the batch and is printed with its fault configuration and a
//! one-line replay command.

use std::panic::{self, AssertUnwindSafe};
use std::process::ExitCode;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use clap::{Parser, ValueEnum};
use twinio_kv::cli::{self, Closed, Out};
use twinio_kv::store::Bugs;
use twinio_kv::vopr::{self, Options, Outcome};

const EXIT_CODES: &str = "\
Exit codes:
  0  every seed passed (or stdout was closed by its reader before the end)
  1  bad usage: the command line was refused
  2  correctness failure: an invariant broke
  3  liveness failure: with faults off, the clients did not finish in time
  4  a panic in the simulated system";

/// Hunts bugs in the example store: each seed is one deterministic run
/// under the simulated IO, with crashes, partitions and storage faults,
/// checked against a model.
#[derive(Parser, Debug)]
#[command(name = "vopr", after_help = EXIT_CODES, allow_negative_numbers = true)]
struct Cli {
    /// Replay exactly the run of seed S, with deterministic output.
    #[arg(long, value_name = "S", conflicts_with_all = ["from", "seeds"])]
    seed: Option<u64>,
    /// The first seed of the batch [default: a fresh one each time].
    #[arg(long, value_name = "S")]
    from: Option<u64>,
    /// How many seeds the batch runs.
    #[arg(long, value_name = "N", default_value_t = 400,
          value_parser = clap::value_parser!(u64).range(1..))]
    seeds: u64,
    /// Plant a bug in the store: the runner must find it.
    #[arg(long, value_enum)]
    bug: Option<Bug>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Bug {
    /// Acknowledge a batch before its fsyncs complete.
    AckBeforeFsync,
    /// Serve a get without checking its record's checksum.
    SkipChecksum,
}

impl Bug {
    fn plant(self) -> Bugs {
        match self {
            Bug::AckBeforeFsync => Bugs { ack_before_fsync: true, ..Bugs::default() },
            Bug::SkipChecksum => Bugs { skip_checksum: true, ..Bugs::default() },
        }
    }

    fn name(self) -> String {
        self.to_possible_value().map(|value| value.get_name().to_string()).unwrap_or_default()
    }
}

/// The command that replays `seed` exactly.
fn replay_command(seed: u64, bug: Option<Bug>) -> String {
    let bug = bug.map(|bug| format!(" --bug {}", bug.name())).unwrap_or_default();
    format!("cargo run --release --bin vopr -- --seed {seed}{bug}")
}

/// Runs one seed, turning a panic into its message.
fn run_one(seed: u64, options: &Options) -> Result<vopr::Report, String> {
    panic::catch_unwind(AssertUnwindSafe(|| vopr::run_seed(seed, options))).map_err(|payload| {
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "a panic".into())
    })
}

fn exit_code(outcome: &Outcome) -> u8 {
    match outcome {
        Outcome::Passed => 0,
        Outcome::Correctness(_) => 2,
        Outcome::Liveness(_) => 3,
    }
}

/// Replays one seed. Deterministic output only (no wall-clock figures), so
/// two replays of a seed print the same bytes.
fn replay(out: &mut Out, seed: u64, options: &Options) -> Result<u8, Closed> {
    match run_one(seed, options) {
        Ok(report) => {
            out.line(format_args!("faults: {}", report.faults))?;
            out.line(&report)?;
            Ok(exit_code(&report.outcome))
        }
        Err(panic) => {
            out.line(format_args!("seed {seed}: PANIC: {panic}"))?;
            Ok(4)
        }
    }
}

/// Runs `seeds` seeds from `from`; stops at the first failure.
fn batch(
    out: &mut Out,
    from: u64,
    seeds: u64,
    bug: Option<Bug>,
    options: &Options,
) -> Result<u8, Closed> {
    let planted = bug.map(|bug| format!(", planted bug: {}", bug.name())).unwrap_or_default();
    out.line(format_args!("vopr: {seeds} seeds from {from}{planted}"))?;
    let start = Instant::now();
    let mut last_progress = start;
    let (mut crashes, mut answered) = (0u64, 0u64);
    for (done, seed) in (from..=from + (seeds - 1)).enumerate() {
        let report = match run_one(seed, options) {
            Ok(report) => report,
            Err(panic) => {
                out.line(format_args!("seed {seed}: PANIC: {panic}"))?;
                out.line(format_args!("replay: {}", replay_command(seed, bug)))?;
                return Ok(4);
            }
        };
        crashes += u64::from(report.crashes);
        answered += report.answered;
        if report.outcome != Outcome::Passed {
            out.line(&report)?;
            out.line(format_args!("faults: {}", report.faults))?;
            out.line(format_args!("replay: {}", replay_command(seed, bug)))?;
            return Ok(exit_code(&report.outcome));
        }
        if last_progress.elapsed().as_secs() >= 2 {
            last_progress = Instant::now();
            let rate = (done + 1) as f64 / start.elapsed().as_secs_f64();
            out.progress(format_args!(
                "{} / {seeds} seeds, {rate:.1} seeds/s, 0 failures",
                done + 1
            ))?;
        }
    }
    out.line(format_args!(
        "{seeds} seeds passed in {:.1} s ({crashes} server crashes, {answered} answers checked), \
         0 failures",
        start.elapsed().as_secs_f64()
    ))?;
    Ok(0)
}

fn main() -> ExitCode {
    let args: Cli = match cli::parse() {
        Ok(args) => args,
        Err(code) => return code,
    };
    let options =
        Options { bugs: args.bug.map(Bug::plant).unwrap_or_default(), ..Options::default() };
    let mut out = Out::default();
    let result = match args.seed {
        Some(seed) => replay(&mut out, seed, &options),
        None => {
            // A batch starts at a fresh seed each time unless told where:
            // the point is to explore. Every failure prints the seed that
            // replays it.
            let from = args.from.unwrap_or_else(|| {
                let nanos =
                    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
                (nanos as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 16
            });
            if from.checked_add(args.seeds - 1).is_none() {
                return cli::refuse::<Cli>(format!(
                    "--from {from} --seeds {} runs past the last seed, {}: at most {} seeds from {from}",
                    args.seeds,
                    u64::MAX,
                    u64::MAX - from + 1
                ));
            }
            batch(&mut out, from, args.seeds, args.bug, &options)
        }
    };
    // A reader that went away (`vopr | head`) ends the run quietly.
    ExitCode::from(result.unwrap_or(0))
}
