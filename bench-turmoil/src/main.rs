//! SimIO side by side with turmoil (issue 15): the same four simulated
//! workloads on both, in one run, alternating SimIO, turmoil, SimIO, ...
//!
//! 1. TCP echo, 1 connection, 64 B messages, 100k round trips;
//! 2. TCP echo, 64 connections x 2k round trips;
//! 3. as 2, with latency 1 ms + U(0..=1 ms) (turmoil: its 1–2 ms spread);
//! 4. files: 100k random 4 KiB writes into a 64 MiB file, fsync every 16.
//!
//! Network latency 1 ms one way on both sides, every fault off, every echo
//! and every block checked (a wrong byte panics). Reports medians of the
//! repetitions, as rates per CPU second of this thread and per wall-clock
//! second, and the ratio SimIO / turmoil.
//!
//! ```text
//! cargo run --release -p twinio-bench-turmoil -- [--quick] [--reps N] [--write-charts]
//!     [--workload N]... [--only simio|turmoil]
//! ```
//!
//! `--workload` and `--only` narrow a run down for a profiler.

#[path = "../../benches/compare/cpu_time.rs"]
mod cpu_time;
#[path = "../../benches/compare/svg.rs"]
mod svg;

mod measure;
mod report;
mod sim_echo;
mod sim_files;
mod turmoil_echo;
mod turmoil_files;
mod workload;

use clap::Parser;

use measure::Sample;
use report::Row;
use sim_echo::SimEcho;
use sim_files::SimFiles;
use turmoil_echo::TurmoilEcho;
use turmoil_files::TurmoilFiles;
use workload::{Echo, Files};

/// SimIO side by side with turmoil on four simulated workloads.
#[derive(Parser, Debug)]
struct Args {
    /// Small counts (a smoke run of a few seconds, every echo and block
    /// still checked); one repetition unless --reps says otherwise.
    #[arg(long)]
    quick: bool,
    /// Repetitions per side (default 5; 1 with --quick).
    #[arg(long)]
    reps: Option<usize>,
    /// Also rewrite the chart docs/bench/turmoil.svg (a tracked file).
    #[arg(long)]
    write_charts: bool,
    /// Only these workloads (1 to 4; repeat the flag for several).
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=4))]
    workload: Vec<u8>,
    /// Only one side (for a profiler): no ratios then.
    #[arg(long, value_enum)]
    only: Option<Only>,
}

/// The side `--only` keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Only {
    Simio,
    Turmoil,
}

/// One workload of the comparison.
#[derive(Clone, Copy, Debug)]
enum Work {
    Echo(Echo),
    Files(Files),
}

impl Work {
    fn ops(&self) -> u64 {
        match self {
            Work::Echo(echo) => echo.round_trips(),
            Work::Files(files) => files.writes,
        }
    }

    fn sim(&self, seed: u64) -> Sample {
        match *self {
            Work::Echo(echo) => SimEcho::new(echo, seed).run(),
            Work::Files(files) => SimFiles::new(files, seed).run(),
        }
    }

    fn turmoil(&self, seed: u64) -> Sample {
        match *self {
            Work::Echo(echo) => TurmoilEcho::new(echo, seed).run(),
            Work::Files(files) => TurmoilFiles::new(files, seed).run(),
        }
    }
}

fn workloads(quick: bool) -> Vec<(&'static str, &'static str, Work)> {
    let scale = |full: u32, small: u32| if quick { small } else { full };
    let echo = |conns, rounds, jitter| Work::Echo(Echo { conns, rounds, jitter });
    vec![
        ("TCP echo, 1 conn", "rt", echo(1, scale(100_000, 2_000), false)),
        ("TCP echo, 64 conns", "rt", echo(64, scale(2_000, 50), false)),
        ("TCP echo, 64 conns, jitter", "rt", echo(64, scale(2_000, 50), true)),
        (
            "files: 4 KiB random writes, fsync/16",
            "write",
            Work::Files(Files { writes: u64::from(scale(100_000, 4_096)) }),
        ),
    ]
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| text.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn main() {
    let args = Args::parse();
    let reps = args.reps.unwrap_or(if args.quick { 1 } else { 5 }).max(1);
    println!(
        "SimIO vs turmoil: {reps} repetition(s) per side, alternating SimIO, turmoil, ...; \
         medians; load average at start {}",
        load_average()
    );
    let mut rows = Vec::new();
    for (number, (name, op, work)) in (1..).zip(workloads(args.quick)) {
        if !args.workload.is_empty() && !args.workload.contains(&number) {
            continue;
        }
        let (mut sim, mut turmoil) = (Vec::new(), Vec::new());
        // Repetition n of either side runs seed n: the same jitter draws
        // for every run of a side, from one invocation to the next.
        for rep in 0..reps as u64 {
            if args.only != Some(Only::Turmoil) {
                sim.push(work.sim(rep));
            }
            if args.only != Some(Only::Simio) {
                turmoil.push(work.turmoil(rep));
            }
        }
        if args.only.is_some() {
            let samples = if sim.is_empty() { &turmoil } else { &sim };
            report::print_one(name, op, work.ops(), samples);
            continue;
        }
        let row = Row::new(name, op, work.ops(), &sim, &turmoil);
        row.print_line();
        rows.push(row);
    }
    println!("load average at end {}\n", load_average());
    if rows.is_empty() {
        return;
    }
    report::print_markdown(&rows);
    if args.write_charts {
        report::write_chart(&rows, args.quick, reps);
    }
}
