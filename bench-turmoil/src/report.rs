//! The results: one line per workload while running, the markdown table
//! for docs/benchmarks.md, and the chart.

use std::path::Path;
use std::time::Duration;

use crate::measure::{Sample, median};
use crate::svg;

/// One side's medians.
#[derive(Clone, Copy, Debug)]
pub struct Side {
    cpu: Duration,
    wall: Duration,
    simulated: Duration,
}

impl Side {
    fn of(samples: &[Sample]) -> Side {
        let pick = |f: fn(&Sample) -> Duration| median(samples.iter().map(f).collect());
        Side { cpu: pick(|s| s.cpu), wall: pick(|s| s.wall), simulated: pick(|s| s.simulated) }
    }
}

/// One workload's medians.
#[derive(Debug)]
pub struct Row {
    name: &'static str,
    op: &'static str,
    ops: u64,
    sim: Side,
    turmoil: Side,
}

fn rate(ops: u64, time: Duration) -> f64 {
    ops as f64 / time.as_secs_f64().max(1e-9)
}

/// A simulated duration, in the unit that reads best.
fn simulated(time: Duration) -> String {
    if time.is_zero() {
        "0".into()
    } else if time >= Duration::from_secs(1) {
        format!("{:.2} s", time.as_secs_f64())
    } else {
        format!("{:.2} ms", time.as_secs_f64() * 1e3)
    }
}

impl Row {
    pub fn new(
        name: &'static str,
        op: &'static str,
        ops: u64,
        sim: &[Sample],
        turmoil: &[Sample],
    ) -> Row {
        Row { name, op, ops, sim: Side::of(sim), turmoil: Side::of(turmoil) }
    }

    fn cpu_ratio(&self) -> f64 {
        self.turmoil.cpu.as_secs_f64() / self.sim.cpu.as_secs_f64().max(1e-9)
    }

    fn wall_ratio(&self) -> f64 {
        self.turmoil.wall.as_secs_f64() / self.sim.wall.as_secs_f64().max(1e-9)
    }

    pub fn print_line(&self) {
        println!(
            "{:<38} {} {}: SimIO {}/CPU s ({}/s wall), turmoil {}/CPU s ({}/s wall): \
             SimIO/turmoil {:.2}x CPU, {:.2}x wall; simulated SimIO {}, turmoil {}",
            self.name,
            self.ops,
            self.op,
            svg::format_value(rate(self.ops, self.sim.cpu)),
            svg::format_value(rate(self.ops, self.sim.wall)),
            svg::format_value(rate(self.ops, self.turmoil.cpu)),
            svg::format_value(rate(self.ops, self.turmoil.wall)),
            self.cpu_ratio(),
            self.wall_ratio(),
            simulated(self.sim.simulated),
            simulated(self.turmoil.simulated),
        );
    }
}

/// One side alone (`--only`): its medians, no ratio.
pub fn print_one(name: &str, op: &str, ops: u64, samples: &[Sample]) {
    let side = Side::of(samples);
    println!(
        "{name:<38} {ops} {op}: {}/CPU s ({}/s wall); simulated {}",
        svg::format_value(rate(ops, side.cpu)),
        svg::format_value(rate(ops, side.wall)),
        simulated(side.simulated)
    );
}

/// The table for docs/benchmarks.md.
pub fn print_markdown(rows: &[Row]) {
    println!(
        "| workload | SimIO, per CPU s (wall) | turmoil, per CPU s (wall) | \
         **SimIO / turmoil, CPU** | SimIO / turmoil, wall | simulated time: SimIO, turmoil |"
    );
    println!("|---|---|---|---|---|---|");
    for row in rows {
        let side = |s: &Side| {
            format!(
                "{} ({}) {}/s",
                svg::format_value(rate(row.ops, s.cpu)),
                svg::format_value(rate(row.ops, s.wall)),
                row.op
            )
        };
        println!(
            "| {} ({} {}) | {} | {} | **{:.2}x** | {:.2}x | {}, {} |",
            row.name,
            row.ops,
            row.op,
            side(&row.sim),
            side(&row.turmoil),
            row.cpu_ratio(),
            row.wall_ratio(),
            simulated(row.sim.simulated),
            simulated(row.turmoil.simulated),
        );
    }
}

/// Writes docs/bench/turmoil.svg: per workload, each side's rate per CPU
/// second (the figure that holds on a shared machine).
pub fn write_chart(rows: &[Row], quick: bool, reps: usize) {
    let groups: Vec<svg::Group> = rows
        .iter()
        .map(|row| svg::Group {
            label: format!("{} (SimIO/turmoil {:.2}x)", row.name, row.cpu_ratio()),
            unit: if row.op == "rt" { "round trips/CPU s" } else { "writes/CPU s" },
            bars: vec![
                ("SimIO", rate(row.ops, row.sim.cpu)),
                ("turmoil", rate(row.ops, row.turmoil.cpu)),
            ],
        })
        .collect();
    let mode = if quick { "quick run" } else { "full run" };
    let note = format!(
        "median rate per CPU second of the benchmark thread (longer is better); {mode}, \
         {reps} repetitions, medians"
    );
    let chart = svg::bar_chart("SimIO vs turmoil, same simulated workloads", &note, &groups);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/bench");
    match std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(dir.join("turmoil.svg"), chart))
    {
        Ok(()) => println!("\nwrote docs/bench/turmoil.svg"),
        Err(error) => eprintln!("writing docs/bench/turmoil.svg: {error}"),
    }
}
