//! The simulation runner (the README's main command).
//!
//! ```sh
//! vopr                      # a default batch of 400 seeds from a fresh base
//! vopr --seeds N            # N seeds
//! vopr --seed S             # replay exactly the run of seed S, verbosely
//! vopr --from S --seeds N   # seeds S, S+1, …, S+N-1
//! vopr --bug ack-before-fsync   # plant a bug: it must be found
//! vopr --jobs N --json      # N seeds at once; one JSON line per seed
//! ```
//!
//! Exit codes: 0 all passed, 1 bad usage, 2 correctness failure, 3 liveness
//! failure, 4 a panic (the simulated system crashed). The first failing
//! seed stops the batch and is printed with its fault configuration and a
//! one-line replay command.

use std::ops::ControlFlow;
use std::process::ExitCode;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use clap::{Parser, ValueEnum};
use twinio_kv::cli::{self, Closed, Out};
use twinio_kv::store::Bugs;
use twinio_kv::vopr::batch::{self, SeedRun};
use twinio_kv::vopr::{Options, Outcome};

const EXIT_CODES: &str = "\
Exit codes:
  0  every seed passed (or stdout was closed by its reader before the end)
  1  bad usage: the command line was refused
  2  correctness failure: an invariant broke
  3  liveness failure: a request stalled (unanswered for 5 s with no crash,
     restart or partition since it was sent), or with faults off the
     clients did not finish in time
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
    /// Seeds run at once, each on its own thread [default: every core].
    /// What is reported does not depend on it.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1024))]
    jobs: Option<u64>,
    /// With --seed: print the run's event log (the runner's crashes,
    /// restarts and partitions, every client request and answer, the
    /// store's recovery, repair and batch decisions), with virtual time.
    #[arg(long, requires = "seed")]
    trace: bool,
    /// One JSON object per seed on stdout (the batch's header and summary
    /// go to stderr), so shards run on many machines merge with `sort`.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Bug {
    /// Acknowledge a batch before its fsyncs complete.
    AckBeforeFsync,
    /// Serve a get without checking its record's checksum.
    SkipChecksum,
    /// Handle only the first request of each recv (pipelining stalls).
    OneFramePerRecv,
    /// Recovery misses the last slot of a full log.
    LastSlot,
    /// Recovery ignores deletes: deleted values come back after a restart.
    StaleAfterRestart,
    /// The server drops the unsent tail of a short send.
    ShortSend,
    /// Serve gets from mutations not yet durable.
    DirtyRead,
}

impl Bug {
    fn plant(self) -> Bugs {
        match self {
            Bug::AckBeforeFsync => Bugs { ack_before_fsync: true, ..Bugs::default() },
            Bug::SkipChecksum => Bugs { skip_checksum: true, ..Bugs::default() },
            Bug::OneFramePerRecv => Bugs { one_frame_per_recv: true, ..Bugs::default() },
            Bug::LastSlot => Bugs { last_slot: true, ..Bugs::default() },
            Bug::StaleAfterRestart => Bugs { stale_after_restart: true, ..Bugs::default() },
            Bug::ShortSend => Bugs { short_send: true, ..Bugs::default() },
            Bug::DirtyRead => Bugs { dirty_read: true, ..Bugs::default() },
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

fn exit_code(outcome: &Outcome) -> u8 {
    match outcome {
        Outcome::Passed => 0,
        Outcome::Correctness(_) => 2,
        Outcome::Liveness(_) => 3,
    }
}

/// How a run ended, as an exit code.
fn run_code(run: &SeedRun) -> u8 {
    match &run.result {
        Ok(report) => exit_code(&report.outcome),
        Err(_) => 4,
    }
}

/// One seed as a JSON object on one line. The wall time is last, so
/// `sed 's/,"wall_ms":[^}]*//'` leaves only what a replay reproduces.
fn json_line(run: &SeedRun) -> String {
    let mut line = format!("{{\"seed\":{}", run.seed);
    match &run.result {
        Ok(report) => {
            let (verdict, why) = match &report.outcome {
                Outcome::Passed => ("passed", None),
                Outcome::Correctness(why) => ("correctness", Some(why)),
                Outcome::Liveness(why) => ("liveness", Some(why)),
            };
            line += &format!(
                ",\"verdict\":\"{verdict}\",\"trace_hash\":\"{:016x}\",\"virtual_ns\":{},\
                 \"crashes\":{},\"answers\":{},\"checks\":{},\"faults\":{}",
                report.trace_hash,
                report.virtual_ns,
                report.crashes,
                report.answered,
                report.checks,
                json_string(
                    &format!("{}; corruption on {}", report.faults, report.damaged_copy)
                        .replace('\n', "; ")
                ),
            );
            line += &format!(",\"workload\":{}", json_string(&report.workload.to_string()));
            let r = &report.reached;
            line += &format!(
                ",\"reached\":{{\"max_in_flight\":{},\"full_answers\":{},\
                 \"unacknowledged_reads\":{},\"racing_gets\":{},\"crashes_in_recovery\":{}}}",
                r.max_in_flight,
                r.full_answers,
                r.unacknowledged_reads,
                r.racing_gets,
                r.crashes_in_recovery
            );
            if let Some(why) = why {
                line += &format!(",\"why\":{}", json_string(why));
            }
        }
        Err(panic) => line += &format!(",\"verdict\":\"panic\",\"why\":{}", json_string(panic)),
    }
    line + &format!(",\"wall_ms\":{:.3}}}", run.wall.as_secs_f64() * 1e3)
}

/// `text` as a JSON string literal.
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Prints a failing seed: what broke, its faults, how to replay it.
fn explain(out: &mut Out, run: &SeedRun, bug: Option<Bug>) -> Result<(), Closed> {
    match &run.result {
        Ok(report) => {
            out.line(report)?;
            out.line(format_args!("workload: {}", report.workload))?;
            out.line(format_args!("faults: {}", report.faults))?;
        }
        Err(panic) => out.line(format_args!("seed {}: PANIC: {panic}", run.seed))?,
    }
    out.line(format_args!("replay: {}", replay_command(run.seed, bug)))
}

/// Replays one seed. Deterministic output only (no wall-clock figures,
/// unless `--json` asks for them), so two replays print the same bytes.
fn replay(out: &mut Out, seed: u64, args: &Cli, options: &Options) -> Result<u8, Closed> {
    let run = batch::run_one(seed, options);
    if args.json {
        out.line(json_line(&run))?;
        return Ok(run_code(&run));
    }
    match &run.result {
        Ok(report) => {
            out.line(format_args!("faults: {}", report.faults))?;
            out.line(format_args!("workload: {}", report.workload))?;
            for line in &report.trace {
                out.line(line)?;
            }
            out.line(format_args!("reached: {}", report.reached))?;
            out.line(report)?;
        }
        Err(panic) => out.line(format_args!("seed {seed}: PANIC: {panic}"))?,
    }
    Ok(run_code(&run))
}

/// Runs `seeds` seeds from `from` on `jobs` threads; stops at the lowest
/// failing seed.
fn run_batch(out: &mut Out, from: u64, seeds: u64, args: &Cli, options: &Options) -> u8 {
    let jobs = args.jobs.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        |jobs| jobs as usize,
    );
    let planted = args.bug.map(|bug| format!(", planted bug: {}", bug.name())).unwrap_or_default();
    let header = format!("vopr: {seeds} seeds from {from}, {jobs} jobs{planted}");
    if args.json {
        eprintln!("{header}");
    } else if out.line(header).is_err() {
        return 0;
    }
    let start = Instant::now();
    let mut last_progress = start;
    let (mut done, mut crashes, mut answered, mut code) = (0u64, 0u64, 0u64, 0u8);
    let mut closed = false;
    batch::run_batch(from, seeds, jobs, options, |run| {
        done += 1;
        if let Ok(report) = &run.result {
            crashes += u64::from(report.crashes);
            answered += report.answered;
        }
        code = run_code(&run);
        let printed = if args.json {
            out.line(json_line(&run))
        } else if code != 0 {
            explain(out, &run, args.bug)
        } else if last_progress.elapsed().as_secs() >= 2 {
            last_progress = Instant::now();
            let rate = done as f64 / start.elapsed().as_secs_f64();
            out.progress(format_args!("{done} / {seeds} seeds, {rate:.1} seeds/s, 0 failures"))
        } else {
            Ok(())
        };
        closed = printed.is_err();
        if closed { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
    });
    if closed || code != 0 {
        // A reader that went away (`vopr | head`) ends the run quietly.
        return code;
    }
    let summary = format!(
        "{seeds} seeds passed in {:.1} s ({:.1} seeds/s on {jobs} jobs; {crashes} server crashes, \
         {answered} answers checked), 0 failures",
        start.elapsed().as_secs_f64(),
        seeds as f64 / start.elapsed().as_secs_f64(),
    );
    if args.json {
        eprintln!("{summary}");
    } else {
        let _ = out.line(summary);
    }
    0
}

fn main() -> ExitCode {
    let args: Cli = match cli::parse() {
        Ok(args) => args,
        Err(code) => return code,
    };
    let options = Options {
        bugs: args.bug.map(Bug::plant).unwrap_or_default(),
        trace: args.trace,
        ..Options::default()
    };
    let mut out = Out::default();
    let code = match args.seed {
        Some(seed) => replay(&mut out, seed, &args, &options).unwrap_or(0),
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
                    "--from {from} --seeds {} runs past the last seed, {}: \
                     at most {} seeds from {from}",
                    args.seeds,
                    u64::MAX,
                    u64::MAX - from + 1
                ));
            }
            run_batch(&mut out, from, args.seeds, &args, &options)
        }
    };
    ExitCode::from(code)
}
