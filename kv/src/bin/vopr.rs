//! The simulation runner (the README's main command).
//!
//! ```sh
//! vopr                      # a default batch of seeds (about a minute)
//! vopr --seeds N            # N seeds
//! vopr --seed S             # replay exactly the run of seed S, verbosely
//! vopr --from S --seeds N   # seeds S, S+1, …, S+N-1
//! vopr --bug ack-before-fsync|skip-checksum   # plant a bug: it must be found
//! ```
//!
//! Exit codes: 0 all passed, 1 bad usage, 2 correctness failure, 3 liveness
//! failure, 4 a panic (the simulated system crashed). The first failing
//! seed stops the batch and is printed with its fault configuration and a
//! one-line replay command.

use std::io::Write;
use std::panic::{self, AssertUnwindSafe};
use std::process::ExitCode;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use twinio_kv::store::Bugs;
use twinio_kv::vopr::{self, Options, Outcome};

const DEFAULT_SEEDS: u64 = 400;

struct Args {
    replay: Option<u64>,
    from: Option<u64>,
    seeds: u64,
    bug: Option<String>,
    options: Options,
}

fn usage() -> String {
    "usage: vopr [--seed S | [--from S] [--seeds N]] [--bug ack-before-fsync|skip-checksum]".into()
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        replay: None,
        from: None,
        seeds: DEFAULT_SEEDS,
        bug: None,
        options: Options::default(),
    };
    let mut argv = std::env::args().skip(1);
    while let Some(flag) = argv.next() {
        if flag == "--help" || flag == "-h" {
            return Err(usage());
        }
        let value = argv.next().ok_or_else(|| format!("{flag} needs a value\n{}", usage()))?;
        let number = || value.parse::<u64>().map_err(|_| format!("{flag}: not a number: {value}"));
        match flag.as_str() {
            "--seed" => args.replay = Some(number()?),
            "--from" => args.from = Some(number()?),
            "--seeds" => args.seeds = number()?,
            "--bug" => {
                args.options.bugs = match value.as_str() {
                    "ack-before-fsync" => Bugs { ack_before_fsync: true, ..Bugs::default() },
                    "skip-checksum" => Bugs { skip_checksum: true, ..Bugs::default() },
                    _ => return Err(format!("unknown bug {value}\n{}", usage())),
                };
                args.bug = Some(value);
            }
            _ => return Err(format!("unknown flag {flag}\n{}", usage())),
        }
    }
    Ok(args)
}

/// The command that replays `seed` exactly.
fn replay_command(seed: u64, bug: &Option<String>) -> String {
    let bug = bug.as_ref().map(|bug| format!(" --bug {bug}")).unwrap_or_default();
    format!("cargo run --release --bin vopr -- --seed {seed}{bug}")
}

/// Runs one seed, turning a panic into an exit code.
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

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(why) => {
            eprintln!("{why}");
            return ExitCode::from(1);
        }
    };
    if let Some(seed) = args.replay {
        // Replay: deterministic output only (no wall-clock figures), so two
        // replays of a seed print the same bytes.
        return match run_one(seed, &args.options) {
            Ok(report) => {
                println!("faults: {}", report.faults);
                println!("{report}");
                ExitCode::from(exit_code(&report.outcome))
            }
            Err(panic) => {
                println!("seed {seed}: PANIC: {panic}");
                ExitCode::from(4)
            }
        };
    }
    // A batch starts at a fresh seed each time unless told where: the point
    // is to explore. Every failure prints the seed that replays it.
    let from = args.from.unwrap_or_else(|| {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        (nanos as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 16
    });
    println!(
        "vopr: {} seeds from {from}{}",
        args.seeds,
        match &args.bug {
            Some(bug) => format!(", planted bug: {bug}"),
            None => String::new(),
        }
    );
    let start = Instant::now();
    let mut last_progress = start;
    let (mut crashes, mut answered) = (0u64, 0u64);
    for (done, seed) in (from..from.saturating_add(args.seeds)).enumerate() {
        let report = match run_one(seed, &args.options) {
            Ok(report) => report,
            Err(panic) => {
                println!("\nseed {seed}: PANIC: {panic}");
                println!("replay: {}", replay_command(seed, &args.bug));
                return ExitCode::from(4);
            }
        };
        crashes += u64::from(report.crashes);
        answered += report.answered;
        if report.outcome != Outcome::Passed {
            println!("\n{report}");
            println!("faults: {}", report.faults);
            println!("replay: {}", replay_command(seed, &args.bug));
            return ExitCode::from(exit_code(&report.outcome));
        }
        if last_progress.elapsed().as_secs() >= 2 {
            last_progress = Instant::now();
            let rate = (done + 1) as f64 / start.elapsed().as_secs_f64();
            print!("\r{} / {} seeds, {rate:.1} seeds/s, 0 failures", done + 1, args.seeds);
            let _ = std::io::stdout().flush();
        }
    }
    println!(
        "\r{} seeds passed in {:.1} s ({crashes} server crashes, {answered} answers checked), \
         0 failures",
        args.seeds,
        start.elapsed().as_secs_f64()
    );
    ExitCode::SUCCESS
}
