//! Costs per round trip counted on child runs of this binary (`--single`)
//! under a tool: system calls with `strace -f -c`, user-space instructions
//! with `valgrind --tool=callgrind` (an instruction count, repeatable
//! whatever else the machine is doing). Each ping-pong runs once with `r`
//! and once with `2r` rounds; the difference of the two counts, divided by
//! the extra round trips, is the steady-state cost (set-up and teardown
//! cancel out). The tools slow the child down but change neither count.

use std::collections::BTreeMap;
use std::process::Command;

use crate::MAX_WAIT;
use crate::pingpong_io::PingPongIo;
use crate::pingpong_mio::PingPongMio;
use crate::pingpong_tokio::PingPongTokio;

const SIDES: [&str; 3] = ["IO", "mio", "tokio"];

/// Child: `--single <side> <size> <conns> <rounds>` runs one ping-pong.
pub fn single(args: &[String]) {
    let number = |i: usize| -> usize {
        args.get(i).and_then(|a| a.parse().ok()).expect("--single <side> <size> <conns> <rounds>")
    };
    let (size, conns, rounds) = (number(1), number(2), number(3) as u32);
    match args.first().map(String::as_str) {
        Some("IO") => PingPongIo::new(size, conns).expect("set-up").run(rounds),
        Some("mio") => PingPongMio::new(size, conns, None).expect("set-up").run(rounds),
        Some("mio-bounded") => {
            PingPongMio::new(size, conns, Some(MAX_WAIT)).expect("set-up").run(rounds)
        }
        Some("tokio") => PingPongTokio::new(size, conns).expect("set-up").run(rounds),
        other => panic!("unknown side {other:?}"),
    }
}

fn child_args(side: &str, size: usize, conns: usize, rounds: u32) -> Vec<String> {
    let mut args = vec!["--single".to_string(), side.to_string()];
    args.extend([size.to_string(), conns.to_string(), rounds.to_string()]);
    args
}

/// Calls per syscall name in one child run under strace.
fn count(side: &str, size: usize, conns: usize, rounds: u32) -> Option<BTreeMap<String, u64>> {
    let exe = std::env::current_exe().ok()?;
    let out = std::env::temp_dir().join(format!("twinio-strace-{}.txt", std::process::id()));
    let status = Command::new("strace")
        .args(["-f", "-c", "-o"])
        .arg(&out)
        .arg(&exe)
        .args(child_args(side, size, conns, rounds))
        .status()
        .ok()?;
    let text = std::fs::read_to_string(&out).ok()?;
    let _ = std::fs::remove_file(&out);
    if !status.success() {
        return None;
    }
    // Rows: "% time  seconds  usecs/call  calls  [errors]  syscall".
    let mut calls = BTreeMap::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 5 || fields[0].parse::<f64>().is_err() {
            continue;
        }
        let name = fields[fields.len() - 1];
        if name == "total" {
            continue;
        }
        if let Ok(n) = fields[3].parse::<u64>() {
            calls.insert(name.to_string(), n);
        }
    }
    Some(calls)
}

/// User-space instructions of one child run under callgrind.
fn instructions(side: &str, size: usize, conns: usize, rounds: u32) -> Option<u64> {
    let exe = std::env::current_exe().ok()?;
    let output = Command::new("valgrind")
        .args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
        .arg(&exe)
        .args(child_args(side, size, conns, rounds))
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    // valgrind reports "==pid== Collected : N" on stderr.
    let text = String::from_utf8_lossy(&output.stderr);
    let line = text.lines().find(|line| line.contains("Collected :"))?;
    line.rsplit(':').next()?.trim().replace(',', "").parse().ok()
}

/// Parent: prints user-space instructions per round trip for every side
/// and configuration.
pub fn report_instructions(configs: &[(usize, usize)]) {
    if Command::new("valgrind").arg("--version").output().is_err() {
        println!("valgrind is not installed: instruction counts skipped");
        return;
    }
    println!("user-space instructions per round trip (both ends), callgrind, 2r minus r rounds:");
    println!("| workload | IO | mio | tokio |");
    println!("|---|---|---|---|");
    for &(size, conns) in configs {
        let rounds: u32 = if conns == 1 { 2_000 } else { 40 };
        let trips = f64::from(rounds) * conns as f64;
        let counts: Vec<String> = SIDES
            .iter()
            .map(|side| {
                match (
                    instructions(side, size, conns, rounds),
                    instructions(side, size, conns, 2 * rounds),
                ) {
                    (Some(once), Some(twice)) => {
                        format!("{:.0}", (twice as f64 - once as f64) / trips)
                    }
                    _ => "failed".to_string(),
                }
            })
            .collect();
        println!("| pingpong/{size}B/{conns}conn | {} |", counts.join(" | "));
    }
}

/// Parent: prints syscalls per round trip (both ends of each connection,
/// since client and server share the loop) for every side and configuration.
pub fn report(configs: &[(usize, usize)]) {
    if Command::new("strace").arg("-V").output().is_err() {
        println!("strace is not installed: syscall counts skipped");
        return;
    }
    println!(
        "syscalls per round trip (client and server ends together), strace -f -c, 2r minus r rounds:"
    );
    for &(size, conns) in configs {
        let rounds: u32 = if conns == 1 { 1_000 } else { 20 };
        for side in SIDES {
            let (Some(once), Some(twice)) =
                (count(side, size, conns, rounds), count(side, size, conns, 2 * rounds))
            else {
                println!("pingpong/{size}B/{conns}conn {side}: strace run failed");
                continue;
            };
            let trips = f64::from(rounds) * conns as f64;
            let mut total = 0.0;
            let mut parts = Vec::new();
            for (name, &n2) in &twice {
                let n1 = once.get(name).copied().unwrap_or(0);
                let per = (n2 as f64 - n1 as f64) / trips;
                if per.abs() >= 0.005 {
                    total += per;
                    parts.push(format!("{name} {per:.2}"));
                }
            }
            println!(
                "| pingpong/{size}B/{conns}conn | {side} | {total:.2} | {} |",
                parts.join(", ")
            );
        }
    }
}
