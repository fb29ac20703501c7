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
//! cargo bench --bench compare -- --reps 31       # more repetitions per side (default 9, quick 3)
//! cargo bench --bench compare -- --syscalls      # syscalls per round trip, under strace -f -c
//! cargo bench --bench compare -- --instructions  # user-space instructions per round trip, callgrind
//! cargo bench --bench compare -- --write-charts  # also rewrite the charts in docs/bench/
//! ```
//!
//! A ratio "IO x" is `peer time per op / IO time per op`, which is the same
//! as `IO throughput / peer throughput`: above 1 means `IO` is faster.

#[path = "compare/alloc.rs"]
mod alloc;
#[path = "compare/counted.rs"]
mod counted;
#[path = "compare/cpu_time.rs"]
mod cpu_time;
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
#[path = "compare/timers.rs"]
mod timers;

use std::path::Path;
use std::time::{Duration, Instant};

use cpu_time::thread_cpu_ns;

use files::{FileWork, Files};
use pingpong_io::PingPongIo;
use pingpong_mio::PingPongMio;
use pingpong_tokio::PingPongTokio;
use svg::Group;
use timers::{FlushCost, TimersIo, TimersTokio};
use twinio::{DirectIo, FileDriver, IO, IoOptions};

#[global_allocator]
static GLOBAL: alloc::Counting = alloc::Counting;

/// The ping-pong configurations: (message bytes, connections).
const PINGPONG: [(usize, usize); 4] = [(64, 1), (4096, 1), (64, 64), (4096, 64)];
const TIMERS: usize = 100_000;
/// The bound of the "mio-bounded" side: `IO`'s default longest wait.
const MAX_WAIT: Duration = Duration::from_nanos(twinio::DEFAULT_MAX_WAIT_NS);
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

/// The cost of one operation, in nanoseconds: wall-clock time, and the
/// CPU time of this thread (user + system), which other processes on the
/// shared machine inflate much less. Every side runs on this one thread.
#[derive(Clone, Copy, Debug)]
struct Cost {
    wall: f64,
    cpu: f64,
}

/// Runs `run` once; its cost per operation for `ops` operations.
fn measure(ops: f64, run: impl FnOnce()) -> Cost {
    let (wall, cpu) = (Instant::now(), thread_cpu_ns());
    run();
    let cpu = thread_cpu_ns() - cpu;
    Cost { wall: wall.elapsed().as_nanos() as f64 / ops, cpu: cpu as f64 / ops }
}

/// One workload's medians per side, the first side being `IO`.
struct Row {
    workload: String,
    op: &'static str,
    medians: Vec<(&'static str, Cost)>,
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

/// Runs each side `reps` times, rotating which goes first. Returns the
/// medians (wall and CPU separately), in side order.
fn alternate(
    reps: usize,
    sides: &mut [(&'static str, &mut dyn FnMut() -> Cost)],
) -> Vec<(&'static str, Cost)> {
    let mut samples = vec![Vec::with_capacity(reps); sides.len()];
    for rep in 0..reps {
        for k in 0..sides.len() {
            let i = (rep + k) % sides.len();
            samples[i].push((sides[i].1)());
        }
    }
    sides
        .iter()
        .zip(&samples)
        .map(|((name, _), costs)| {
            let mut wall: Vec<f64> = costs.iter().map(|c| c.wall).collect();
            let mut cpu: Vec<f64> = costs.iter().map(|c| c.cpu).collect();
            (*name, Cost { wall: median(&mut wall), cpu: median(&mut cpu) })
        })
        .collect()
}

fn print_row(row: &Row) {
    let (_, io) = row.medians[0];
    let mut line = format!("{:<30}", row.workload);
    for &(name, cost) in &row.medians {
        line += &format!(" {name} {:>8.0} ({:>8.0} cpu) ns/{}", cost.wall, cost.cpu, row.op);
    }
    for &(name, cost) in &row.medians[1..] {
        line +=
            &format!("  IO vs {name} {:.2}x ({:.2}x cpu)", cost.wall / io.wall, cost.cpu / io.cpu);
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
        let mut mio = PingPongMio::new(size, conns, None).expect("mio set-up");
        let mut tokio = PingPongTokio::new(size, conns).expect("tokio set-up");
        let mut bounded = PingPongMio::new(size, conns, Some(MAX_WAIT)).expect("mio set-up");
        // A second, independent `IO` measured like a peer: what "IO vs IO
        // again" strays from 1.00x is this run's noise, the yardstick for
        // every other ratio in the row.
        let mut again = PingPongIo::new(size, conns).expect("twinio set-up");
        // Warm up every side once (page faults, socket buffers, caches).
        io.run(rounds / 4 + 1);
        again.run(rounds / 4 + 1);
        mio.run(rounds / 4 + 1);
        tokio.run(rounds / 4 + 1);
        bounded.run(rounds / 4 + 1);
        let medians = alternate(
            settings.reps,
            &mut [
                ("IO", &mut || measure(ops, || io.run(rounds))),
                ("mio", &mut || measure(ops, || mio.run(rounds))),
                ("tokio", &mut || measure(ops, || tokio.run(rounds))),
                ("mio-bounded", &mut || measure(ops, || bounded.run(rounds))),
                ("IO again", &mut || measure(ops, || again.run(rounds))),
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
        let mut mio = PingPongMio::new(size, conns, None).expect("mio set-up");
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

/// How the cost of a pass grows with the number of pending timers.
#[derive(Clone, Copy)]
struct Growth {
    /// cost(largest N) / cost(smallest N).
    ratio: f64,
    /// log2(largest N) / log2(smallest N): the ratio if the cost were all heap.
    log_ratio: f64,
    /// Least-squares fit cost = intercept + slope * log2(N).
    intercept: f64,
    slope: f64,
}

impl Growth {
    fn fit(sizes: &[usize], costs: &[f64]) -> Growth {
        let xs: Vec<f64> = sizes.iter().map(|&n| (n as f64).log2()).collect();
        let n = xs.len() as f64;
        let (mx, my) = (xs.iter().sum::<f64>() / n, costs.iter().sum::<f64>() / n);
        let sxy: f64 = xs.iter().zip(costs).map(|(x, y)| (x - mx) * (y - my)).sum();
        let sxx: f64 = xs.iter().map(|x| (x - mx) * (x - mx)).sum();
        let slope = sxy / sxx;
        let last = xs.len() - 1;
        Growth {
            ratio: costs[last] / costs[0],
            log_ratio: xs[last] / xs[0],
            intercept: my - slope * mx,
            slope,
        }
    }
}

fn timer_workloads(settings: &Settings, rows: &mut Vec<Row>) -> Option<Growth> {
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
                ("IO", &mut || measure(TIMERS as f64, || io.run())),
                ("tokio", &mut || measure(TIMERS as f64, || tokio.run())),
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
            ("1k pending", &mut || measure(passes as f64, || a.fire_one(passes))),
            ("10k pending", &mut || measure(passes as f64, || b.fire_one(passes))),
            ("100k pending", &mut || measure(passes as f64, || c.fire_one(passes))),
        ],
    );
    let idle = alternate(
        settings.reps,
        &mut [
            ("1k pending", &mut || measure(passes as f64, || a.idle(passes))),
            ("10k pending", &mut || measure(passes as f64, || b.idle(passes))),
            ("100k pending", &mut || measure(passes as f64, || c.idle(passes))),
        ],
    );
    // CPU time: a pass is a few hundred ns, where preemption noise is large.
    let cpu: Vec<f64> = fire.iter().map(|(_, cost)| cost.cpu).collect();
    let growth = Growth::fit(&FLUSH_PENDING, &cpu);
    println!(
        "{:<30} CPU ns per pass firing one timer, N pending: 1k {:.0}  10k {:.0}  100k {:.0}",
        name, cpu[0], cpu[1], cpu[2]
    );
    println!(
        "{:<30} 100k/1k = {:.2} (log2 ratio {:.2}, linear would be 100); fit {:.0} + {:.1} * log2(N) ns",
        name, growth.ratio, growth.log_ratio, growth.intercept, growth.slope
    );
    println!(
        "{:<30} CPU ns per idle pass, N pending:             1k {:.0}  10k {:.0}  100k {:.0}",
        name, idle[0].1.cpu, idle[1].1.cpu, idle[2].1.cpu
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
    // The loop thread: this workload measures the engine's cost per op
    // against the same syscalls (one op at a time, page cache warm); the
    // file drivers are compared in examples/bench_uring.rs.
    let options = IoOptions::new(8).file_driver(FileDriver::LoopThread);
    let io = IO::with_options(options).expect("init");
    let mut files = Files::new(io, "bench-compare-files", 32 << 20, DirectIo::Disabled);
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
                ("IO", &mut || {
                    let seed = seed(&mut via_io);
                    measure(ops as f64, || files.borrow_mut().through_io(work, ops, seed))
                }),
                ("direct", &mut || {
                    let seed = seed(&mut via_direct);
                    measure(ops as f64, || files.borrow_mut().direct(work, ops, seed))
                }),
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
    // Ping-pong twice: per CPU second (this thread's CPU time, the figure
    // that holds on a shared machine) and per wall-clock second.
    let pingpong = |pick: fn(Cost) -> f64, unit: &'static str| -> Vec<Group> {
        rows.iter()
            .filter(|row| row.workload.starts_with("pingpong/"))
            .map(|row| Group {
                label: row.workload.clone(),
                unit,
                bars: row.medians.iter().map(|&(name, cost)| (name, 1e9 / pick(cost))).collect(),
            })
            .collect()
    };
    // Timers in CPU time: a pass costs a few hundred ns, below the noise
    // that preemption adds to wall time on a shared machine.
    let timers: Vec<Group> = rows
        .iter()
        .filter(|row| row.workload.starts_with("timers/"))
        .map(|row| Group {
            label: row.workload.clone(),
            unit: if row.op == "timer" { "CPU ns/timer" } else { "CPU ns/pass" },
            bars: row.medians.iter().map(|&(name, cost)| (name, cost.cpu)).collect(),
        })
        .collect();
    let charts = [
        (
            "pingpong.svg",
            "TCP ping-pong over loopback, one thread: CPU time",
            "median round trips per CPU second of the benchmark thread (longer is better)",
            pingpong(|cost| cost.cpu, "round trips/CPU s"),
        ),
        (
            "pingpong-wall.svg",
            "TCP ping-pong over loopback, one thread: wall time",
            "median round trips per second, wall clock (longer is better; noisy when shared)",
            pingpong(|cost| cost.wall, "round trips/s"),
        ),
        (
            "timers.svg",
            "Timers",
            "median CPU ns per timer / per loop pass (shorter is better)",
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

/// The tables for `docs/benchmarks.md`.
fn print_markdown(rows: &[Row], allocs: &[(String, [f64; 3])], growth: Option<Growth>) {
    println!(
        "\n| workload | IO wall (CPU) | peers wall (CPU) | IO vs peer: wall | IO vs peer: CPU |"
    );
    println!("|---|---|---|---|---|");
    let cost = |c: Cost| format!("{} ({})", svg::format_value(c.wall), svg::format_value(c.cpu));
    // The flush rows compare sizes, not peers: they have their own line.
    for row in rows.iter().filter(|row| !row.workload.starts_with("timers/flush")) {
        let (_, io) = row.medians[0];
        let peers = &row.medians[1..];
        let list = |f: &dyn Fn(&(&str, Cost)) -> String| {
            peers.iter().map(f).collect::<Vec<_>>().join(", ")
        };
        println!(
            "| {} | {} ns/{} | {} | {} | {} |",
            row.workload,
            cost(io),
            row.op,
            list(&|(name, c)| format!("{name} {}", cost(*c))),
            list(&|(name, c)| format!("{name} **{:.2}x**", c.wall / io.wall)),
            list(&|(name, c)| format!("{name} **{:.2}x**", c.cpu / io.cpu)),
        );
    }
    if !allocs.is_empty() {
        println!("\n| allocations per round trip | IO | mio | tokio |");
        println!("|---|---|---|---|");
        for (name, [io, mio, tokio]) in allocs {
            println!("| {name} | {io:.3} | {mio:.3} | {tokio:.3} |");
        }
    }
    let flush: Vec<&Row> = rows.iter().filter(|r| r.workload.starts_with("timers/flush")).collect();
    if let [fire, idle] = flush[..] {
        println!("\n| timers pending | pass firing one timer (CPU ns) | idle pass (CPU ns) |");
        println!("|---|---|---|");
        for ((name, f), (_, i)) in fire.medians.iter().zip(&idle.medians) {
            println!("| {name} | {:.0} | {:.0} |", f.cpu, i.cpu);
        }
    }
    if let Some(g) = growth {
        println!(
            "\nflush firing one timer, CPU, 100k pending / 1k pending: {:.2} (log2 ratio {:.2}); \
             fit {:.0} + {:.1} * log2(N) ns",
            g.ratio, g.log_ratio, g.intercept, g.slope
        );
    }
}

/// Removes `flag N` from `args`: `N`, a positive count, if given.
fn take_value(args: &mut Vec<String>, flag: &str) -> Result<Option<usize>, String> {
    let Some(at) = args.iter().position(|a| a == flag) else { return Ok(None) };
    let value = args.get(at + 1).cloned();
    args.drain(at..(at + 2).min(args.len()));
    match value.as_deref().map(str::parse::<usize>) {
        Some(Ok(n)) if n > 0 => Ok(Some(n)),
        _ => Err(format!(
            "{flag} takes a positive count, got {}",
            value.as_deref().unwrap_or("none")
        )),
    }
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    if args.first().map(String::as_str) == Some("--single") {
        // A child run for the syscall count: one ping-pong, nothing printed.
        counted::single(&args[1..]);
        return;
    }
    let take = |args: &mut Vec<String>, flag: &str| {
        let found = args.iter().any(|a| a == flag);
        args.retain(|a| a != flag);
        found
    };
    let quick = take(&mut args, "--quick");
    let syscall_mode = take(&mut args, "--syscalls");
    let instruction_mode = take(&mut args, "--instructions");
    // The charts are tracked files: a run rewrites them only when asked.
    let charts = take(&mut args, "--write-charts");
    let reps = match take_value(&mut args, "--reps") {
        Ok(None) => {
            if quick {
                3
            } else {
                9
            }
        }
        Ok(Some(reps)) => reps,
        Err(why) => {
            eprintln!("twinio compare: {why}");
            std::process::exit(2);
        }
    };
    let settings = Settings { quick, reps, filters: args };
    if syscall_mode || instruction_mode {
        if syscall_mode {
            counted::report(&PINGPONG);
        }
        if instruction_mode {
            counted::report_instructions(&PINGPONG);
        }
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
    if charts {
        write_charts(&settings, &rows);
    }
    print_markdown(&rows, &allocs, growth);
    println!("\ntotal wall time {:.1} s", start.elapsed().as_secs_f64());
}
