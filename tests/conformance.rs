//! The conformance suite: one table of scenarios, each a short program
//! generic over `I: Io`, run on the real `IO` (loopback, files in a
//! temporary directory) and on `SimIO` (`FaultConfig::none()`), whose whole
//! recorded outcome must be equal. A scenario may differ only if the
//! allow-list names it, and the allow-list mirrors the table of differences
//! in `docs/simulation.md` (checked below); any other difference fails.
//!
//! The real IO runs on the file driver `TWINIO_FILE_DRIVER` names
//! (`tests/support`; CI runs the suite under each).
//!
//! `CONFORMANCE_ONLY=name` runs the scenarios whose name contains `name`;
//! `CONFORMANCE_VERBOSE=1` prints both outcomes of each (with
//! `--nocapture`).

#[path = "conformance/allowed.rs"]
mod allowed;
#[path = "conformance/cancel.rs"]
mod cancel;
#[path = "conformance/connect.rs"]
mod connect;
#[path = "conformance/events.rs"]
mod events;
#[path = "conformance/file_io.rs"]
mod file_io;
#[path = "conformance/harness.rs"]
mod harness;
#[path = "conformance/open.rs"]
mod open;
#[path = "conformance/ops.rs"]
mod ops;
#[path = "conformance/shutdown.rs"]
mod shutdown;
#[path = "conformance/streams.rs"]
mod streams;
#[path = "conformance/timers.rs"]
mod timers;
// Only for the file driver `TWINIO_FILE_DRIVER` names (`real_options`).
mod support;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use harness::{Ctx, Env, Scenario};
use twinio::{FaultConfig, IO, SimIO};

/// Serialises the tests of this binary: the descriptor probe must not see
/// another test's descriptors come and go.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn table() -> Vec<Scenario> {
    let mut table = Vec::new();
    table.extend(connect::table());
    table.extend(streams::table());
    table.extend(shutdown::table());
    table.extend(open::table());
    table.extend(file_io::table());
    table.extend(timers::table());
    table.extend(events::table());
    table.extend(cancel::table());
    table
}

/// Where the real IO's scenarios keep their files, one directory each.
fn real_root() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("conformance-{}", std::process::id()))
}

fn real_dir(name: &str) -> PathBuf {
    let path = real_root().join(name);
    let _ = std::fs::remove_dir_all(&path);
    std::fs::create_dir_all(&path).expect("create the scenario's directory");
    path
}

/// Runs a scenario, recording a panic as its last line.
fn guarded(run: impl FnOnce() -> Vec<String>) -> Vec<String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).unwrap_or_else(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        vec![format!("panicked: {message}")]
    })
}

fn run_real(scenario: &Scenario) -> Vec<String> {
    let env = Env::new(real_dir(scenario.name));
    let mut io: IO<Ctx> = IO::with_options(support::real_options(64)).expect("IO::init");
    let outcome = guarded(|| (scenario.real)(&mut io, &env));
    drop(io);
    let _ = std::fs::remove_dir_all(&env.dir);
    outcome
}

fn run_sim(scenario: &Scenario) -> Vec<String> {
    let env = Env::new(PathBuf::from("/conformance").join(scenario.name));
    let mut io: SimIO<Ctx> = SimIO::new(12, 64, FaultConfig::none());
    guarded(|| (scenario.sim)(&mut io, &env))
}

/// The first line where two outcomes part, for the failure message.
fn first_difference(real: &[String], sim: &[String]) -> String {
    let at = real.iter().zip(sim).take_while(|(a, b)| a == b).count();
    let show = |lines: &[String]| lines.get(at).cloned().unwrap_or_else(|| "<end>".into());
    format!("line {at}: real {:?} / sim {:?}", show(real), show(sim))
}

#[test]
fn io_and_sim_agree_on_every_scenario() {
    let _serial = serial();
    let table = table();
    assert!(table.len() >= 120, "the table has {} scenarios", table.len());
    let mut names: Vec<&str> = table.iter().map(|s| s.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), table.len(), "scenario names are unique");
    for entry in allowed::ALLOWED {
        for name in entry.scenarios {
            assert!(names.contains(name), "{}: names unknown scenario {name}", entry.id);
        }
    }
    let verbose = std::env::var_os("CONFORMANCE_VERBOSE").is_some();
    let (mut agree, mut allowed_differ, mut failures) = (0, 0, Vec::new());
    let only = std::env::var("CONFORMANCE_ONLY").ok();
    for scenario in &table {
        if only.as_deref().is_some_and(|only| !scenario.name.contains(only)) {
            continue;
        }
        let real = run_real(scenario);
        let sim = run_sim(scenario);
        if verbose {
            println!("== {}\n real: {real:#?}\n sim:  {sim:#?}", scenario.name);
        }
        if real == sim {
            agree += 1;
            match allowed::lookup(scenario.name) {
                // A pending difference that is gone is fixed: its entry
                // must go too, so the list never hides a regression.
                Some(entry) if entry.status == allowed::Status::Pending => failures.push(format!(
                    "{}: agrees, but {} still lists it as a pending difference",
                    scenario.name, entry.id
                )),
                Some(entry) => println!(
                    "note: {} agrees although {} allows it to differ",
                    scenario.name, entry.id
                ),
                None => {}
            }
            continue;
        }
        let difference = first_difference(&real, &sim);
        match allowed::lookup(scenario.name) {
            Some(entry) => {
                allowed_differ += 1;
                println!("{} differs as allowed by {}: {difference}", scenario.name, entry.id);
            }
            None => failures.push(format!("{}: {difference}", scenario.name)),
        }
    }
    let _ = std::fs::remove_dir_all(real_root());
    println!(
        "{} scenarios: {agree} agree, {allowed_differ} differ as allowed, {} differ",
        table.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "differences not in the allow-list:\n{}", failures.join("\n"));
}

#[test]
fn allow_list_mirrors_the_documented_differences() {
    let _serial = serial();
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/simulation.md"))
        .expect("read docs/simulation.md");
    let documented = allowed::parse_doc_table(&doc);
    let listed: Vec<(String, String)> = allowed::ALLOWED
        .iter()
        .map(|entry| (entry.id.to_string(), entry.status.word().to_string()))
        .collect();
    assert!(!documented.is_empty(), "docs/simulation.md has no table of differences");
    assert_eq!(documented, listed, "docs/simulation.md's table and tests/conformance/allowed.rs");
    for entry in allowed::ALLOWED {
        assert!(!entry.reason.is_empty(), "{} gives no reason", entry.id);
    }
}
