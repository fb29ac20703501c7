//! Benchmarks of `IO` side by side with the crates users would pick instead
//! (issue 7): a hand-written `mio` loop and tokio's current-thread runtime
//! for TCP ping-pong, tokio for timers, direct syscalls for files.
//!
//! Every workload runs for twinio and each peer in this one process,
//! alternating (the side that goes first rotates with each repetition), and
//! reports medians and ratios: the machines are shared and noisy, so
//! absolute times drift while ratios measured side by side hold.
//!
//! ```text
//! cargo bench --bench compare                    # the full run (a few minutes)
//! cargo bench --bench compare -- --quick         # a short run, fewer repetitions
//! cargo bench --bench compare -- pingpong        # only workloads whose name contains "pingpong"
//! cargo bench --bench compare -- --syscalls      # syscalls per round trip, under strace -f -c
//! ```
//!
//! A ratio "IO x" is `peer time per op / IO time per op`, which is the same
//! as `IO throughput / peer throughput`: above 1 means `IO` is faster.

#[path = "compare/alloc.rs"]
mod alloc;
#[path = "compare/files.rs"]
mod files;
#[path = "compare/pingpong_io.rs"]
mod pingpong_io;
#[path = "compare/pingpong_mio.rs"]
mod pingpong_mio;
#[path = "compare/pingpong_tokio.rs"]
mod pingpong_tokio;
#[path = "compare/svg.rs"]
mod svg;
#[path = "compare/syscalls.rs"]
mod syscalls;
#[path = "compare/timers.rs"]
mod timers;

use std::path::Path;
use std::time::Instant;

use files::{FileWork, Files};
use pingpong_io::PingPongIo;
use pingpong_mio::PingPongMio;
use pingpong_tokio::PingPongTokio;
use svg::Group;
use timers::{FlushCost, TimersIo, TimersTokio};

#[global_allocator]
static GLOBAL: alloc::Counting = alloc::Counting;

/// The ping-pong configurations: (message bytes, connections).
const PINGPONG: [(usize, usize); 4] = [(64, 1), (4096, 1), (64, 64), (4096, 64)];
const TIMERS: usize = 100_000;
const FLUSH_PENDING: [usize; 3] = [1_000, 10_000, 100_000];

struct Settings {
    quick: bool,
    reps: usize,
    filters: Vec<String>,
}

impl Settings {
    fn wants(&self, name: &str) -> bool {
        self.filters.is_empty() || self.filters.iter().any(|f| name.contains(f.as_str()))
    }

    /// Scales an operation count down for `--quick`.
    fn ops(&self, full: u64) -> u64 {
        if self.quick { (full / 5).max(1) } else { full }
    }
}

/// One workload's medians, in nanoseconds per operation (lower is better).
struct Row {
    workload: String,
    op: &'static str,
    medians: Vec<(&'static str, f64)>,
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

/// Runs each side `reps` times, rotating which goes first; each call
/// returns nanoseconds per operation. Returns the medians, in side order.
fn alternate(
    reps: usize,
    sides: &mut [(&'static str, &mut dyn FnMut() -> f64)],
) -> Vec<(&'static str, f64)> {
    let mut samples = vec![Vec::with_capacity(reps); sides.len()];
    for rep in 0..reps {
        for k in 0..sides.len() {
            let i = (rep + k) % sides.len();
            samples[i].push((sides[i].1)());
        }
    }
    sides.iter().zip(&mut samples).map(|((name, _), values)| (*name, median(values))).collect()
}

fn print_row(row: &Row) {
    let (_, io) = row.medians[0];
    let mut line = format!("{:<34}", row.workload);
    for &(name, ns) in &row.medians {
        line += &format!(" {name} {:>10.0} ns/{}", ns, row.op);
    }
    for &(name, ns) in &row.medians[1..] {
        line += &format!("  IO vs {name} {:.2}x", ns / io);
    }
    println!("{line}");
}

fn pingpong(settings: &Settings, rows: &mut Vec<Row>) {
    for (size, conns) in PINGPONG {
        let name = format!("pingpong/{size}B/{conns}conn");
        if !settings.wants(&name) {
            continue;
        }
        // Round trips per repetition: about a tenth of a second each.
        let total = settings.ops(if conns == 1 { 8_000 } else { 16_000 });
        let rounds = (total / conns as u64).max(1) as u32;
        let ops = f64::from(rounds) * conns as f64;
        let mut io = PingPongIo::new(size, conns).expect("twinio set-up");
        let mut mio = PingPongMio::new(size, conns).expect("mio set-up");
        let mut tokio = PingPongTokio::new(size, conns).expect("tokio set-up");
        // Warm up every side once (page faults, socket buffers, caches).
        io.run(rounds / 4 + 1);
        mio.run(rounds / 4 + 1);
        tokio.run(rounds / 4 + 1);
        let time = |run: &mut dyn FnMut()| {
            let start = Instant::now();
            run();
            start.elapsed().as_nanos() as f64 / ops
        };
        let medians = alternate(
            settings.reps,
            &mut [
                ("IO", &mut || time(&mut || io.run(rounds))),
                ("mio", &mut || time(&mut || mio.run(rounds))),
                ("tokio", &mut || time(&mut || tokio.run(rounds))),
            ],
        );
        let row = Row { workload: name, op: "rt", medians };
        print_row(&row);
        rows.push(row);
    }
}

/// Heap allocations per round trip in steady state: the difference between
/// a run of `2r` and a run of `r` rounds on the same connections, so set-up
/// (and tokio's per-repetition task spawns) cancel out.
fn allocations(settings: &Settings) -> Vec<(String, [f64; 3])> {
    let mut out = Vec::new();
    for (size, conns) in PINGPONG {
        let name = format!("pingpong/{size}B/{conns}conn");
        if !settings.wants(&name) {
            continue;
        }
        let rounds = if conns == 1 { 1_000 } else { 50 };
        let per_rt = |run: &mut dyn FnMut(u32)| {
            run(rounds); // warm-up: buffers and registrations settle
            let before = alloc::allocations();
            run(rounds);
            let once = alloc::allocations() - before;
            let before = alloc::allocations();
            run(2 * rounds);
            let twice = alloc::allocations() - before;
            (twice as f64 - once as f64) / (f64::from(rounds) * conns as f64)
        };
        let mut io = PingPongIo::new(size, conns).expect("twinio set-up");
        let mut mio = PingPongMio::new(size, conns).expect("mio set-up");
        let mut tokio = PingPongTokio::new(size, conns).expect("tokio set-up");
        let counts = [
            per_rt(&mut |r| io.run(r)),
            per_rt(&mut |r| mio.run(r)),
            per_rt(&mut |r| tokio.run(r)),
        ];
        println!(
            "{:<34} allocations per round trip: IO {:.3}  mio {:.3}  tokio {:.3}",
            name, counts[0], counts[1], counts[2]
        );
        out.push((name, counts));
    }
    out
}

fn timer_workloads(settings: &Settings, rows: &mut Vec<Row>) -> Option<f64> {
    let name = format!("timers/{}k-armed-fired", TIMERS / 1000);
    if settings.wants(&name) {
        let mut io = TimersIo::new(TIMERS);
        let mut tokio = TimersTokio::new(TIMERS);
        let before = alloc::allocations();
        io.run();
        let io_allocs = (alloc::allocations() - before) as f64 / TIMERS as f64;
        let before = alloc::allocations();
        tokio.run();
        let tokio_allocs = (alloc::allocations() - before) as f64 / TIMERS as f64;
        let medians = alternate(
            settings.reps,
            &mut [
                ("IO", &mut || io.run().as_nanos() as f64 / TIMERS as f64),
                ("tokio", &mut || tokio.run().as_nanos() as f64 / TIMERS as f64),
            ],
        );
        let row = Row { workload: name, op: "timer", medians };
        print_row(&row);
        println!(
            "{:<34} allocations per timer: IO {io_allocs:.3}  tokio {tokio_allocs:.3}",
            row.workload
        );
        rows.push(row);
    }
    let name = "timers/flush";
    if !settings.wants(name) {
        return None;
    }
    let passes = settings.ops(200_000);
    let mut costs: Vec<FlushCost> = FLUSH_PENDING.iter().map(|&n| FlushCost::new(n)).collect();
    for cost in &mut costs {
        cost.fire_one(passes / 10); // warm-up
    }
    let [a, b, c] = &mut costs[..] else { unreachable!("three sizes") };
    let fire = alternate(
        settings.reps,
        &mut [
            ("1k", &mut || a.fire_one(passes)),
            ("10k", &mut || b.fire_one(passes)),
            ("100k", &mut || c.fire_one(passes)),
        ],
    );
    let idle = alternate(
        settings.reps,
        &mut [
            ("1k", &mut || a.idle(passes)),
            ("10k", &mut || b.idle(passes)),
            ("100k", &mut || c.idle(passes)),
        ],
    );
    let growth = fire[2].1 / fire[0].1;
    let log_growth = (FLUSH_PENDING[2] as f64).log2() / (FLUSH_PENDING[0] as f64).log2();
    println!(
        "{:<34} ns per pass firing one timer with N pending: 1k {:.0}  10k {:.0}  100k {:.0}; \
         100k/1k = {growth:.2} (log2 ratio {log_growth:.2})",
        name, fire[0].1, fire[1].1, fire[2].1
    );
    println!(
        "{:<34} ns per idle pass with N pending:             1k {:.0}  10k {:.0}  100k {:.0}",
        name, idle[0].1, idle[1].1, idle[2].1
    );
    rows.push(Row { workload: "timers/flush-fire-one".into(), op: "pass", medians: fire });
    rows.push(Row { workload: "timers/flush-idle".into(), op: "pass", medians: idle });
    Some(growth)
}

fn file_workloads(settings: &Settings, rows: &mut Vec<Row>) {
    let works = [
        ("files/rand-read-4k", FileWork::RandRead, 20_000),
        ("files/rand-write-4k", FileWork::RandWrite, 20_000),
        ("files/seq-write-1m+fsync", FileWork::SeqWriteFsync, 8),
    ];
    if !works.iter().any(|(name, _, _)| settings.wants(name)) {
        return;
    }
    let mut files = Files::new();
    for (name, work, ops) in works {
        if !settings.wants(name) {
            continue;
        }
        let ops = if ops > 100 { settings.ops(ops) } else { ops };
        let files = std::cell::RefCell::new(&mut files);
        // The n-th run of each side uses the n-th seed: both see the same offsets.
        let seed = |n: &mut u64| {
            *n += 1;
            0x9e37_79b9_7f4a_7c15 ^ *n
        };
        let (mut via_io, mut via_direct) = (0, 0);
        let medians = alternate(
            settings.reps,
            &mut [
                ("IO", &mut || files.borrow_mut().through_io(work, ops, seed(&mut via_io))),
                ("direct", &mut || files.borrow_mut().direct(work, ops, seed(&mut via_direct))),
            ],
        );
        let row = Row { workload: name.into(), op: "op", medians };
        print_row(&row);
        rows.push(row);
    }
    if which("fio") {
        println!(
            "fio is installed: run it separately for the device ceiling (see docs/benchmarks.md)"
        );
    } else {
        println!("fio: not installed, no device ceiling measured");
    }
}

fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

fn write_charts(settings: &Settings, rows: &[Row]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/bench");
    let mode = if settings.quick { "quick run" } else { "full run" };
    let pingpong: Vec<Group> = rows
        .iter()
        .filter(|row| row.workload.starts_with("pingpong/"))
        .map(|row| Group {
            label: row.workload.clone(),
            unit: "round trips/s",
            bars: row.medians.iter().map(|&(name, ns)| (name, 1e9 / ns)).collect(),
        })
        .collect();
    let timers: Vec<Group> = rows
        .iter()
        .filter(|row| row.workload.starts_with("timers/"))
        .map(|row| Group {
            label: row.workload.clone(),
            unit: if row.op == "timer" { "ns/timer" } else { "ns/pass" },
            bars: row.medians.clone(),
        })
        .collect();
    let charts = [
        (
            "pingpong.svg",
            "TCP ping-pong over loopback, one thread",
            "median round trips per second (longer is better)",
            pingpong,
        ),
        (
            "timers.svg",
            "Timers",
            "median ns per timer / per loop pass (shorter is better); flush rows: N timers pending",
            timers,
        ),
    ];
    for (file, title, note, groups) in charts {
        if groups.is_empty() {
            continue;
        }
        let note = format!("{note}; {mode}, {} repetitions, medians", settings.reps);
        let chart = svg::bar_chart(title, &note, &groups);
        if let Err(error) =
            std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(dir.join(file), chart))
        {
            eprintln!("writing {file}: {error}");
        } else {
            println!("wrote docs/bench/{file}");
        }
    }
}

/// The table for `docs/benchmarks.md`.
fn print_markdown(rows: &[Row], allocs: &[(String, [f64; 3])], growth: Option<f64>) {
    println!("\n| workload | IO | peer(s) | IO speed vs peer |");
    println!("|---|---|---|---|");
    for row in rows {
        let (_, io) = row.medians[0];
        let peers: Vec<String> = row.medians[1..]
            .iter()
            .map(|&(name, ns)| format!("{name} {} ns/{}", svg::format_value(ns), row.op))
            .collect();
        let ratios: Vec<String> = row.medians[1..]
            .iter()
            .map(|&(name, ns)| format!("vs {name} **{:.2}x**", ns / io))
            .collect();
        println!(
            "| {} | {} ns/{} | {} | {} |",
            row.workload,
            svg::format_value(io),
            row.op,
            peers.join(", "),
            ratios.join(", ")
        );
    }
    if !allocs.is_empty() {
        println!("\n| allocations per round trip | IO | mio | tokio |");
        println!("|---|---|---|---|");
        for (name, [io, mio, tokio]) in allocs {
            println!("| {name} | {io:.3} | {mio:.3} | {tokio:.3} |");
        }
    }
    if let Some(growth) = growth {
        println!("\nflush firing one timer, 100k pending / 1k pending: {growth:.2}");
    }
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    if args.first().map(String::as_str) == Some("--single") {
        // A child run for the syscall count: one ping-pong, nothing printed.
        syscalls::single(&args[1..]);
        return;
    }
    let take = |args: &mut Vec<String>, flag: &str| {
        let found = args.iter().any(|a| a == flag);
        args.retain(|a| a != flag);
        found
    };
    let quick = take(&mut args, "--quick");
    let syscall_mode = take(&mut args, "--syscalls");
    let settings = Settings { quick, reps: if quick { 3 } else { 7 }, filters: args };
    if syscall_mode {
        syscalls::report(&PINGPONG);
        return;
    }
    println!(
        "twinio compare: {} repetitions per side, alternating; medians; \
         'IO vs X' = X time per op / IO time per op (>1: IO faster)",
        settings.reps
    );
    let start = Instant::now();
    let mut rows = Vec::new();
    pingpong(&settings, &mut rows);
    let allocs = allocations(&settings);
    let growth = timer_workloads(&settings, &mut rows);
    file_workloads(&settings, &mut rows);
    write_charts(&settings, &rows);
    print_markdown(&rows, &allocs, growth);
    println!("\ntotal wall time {:.1} s", start.elapsed().as_secs_f64());
}
