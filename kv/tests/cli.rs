//! The command lines as a new user meets them: help, refusals with exit
//! code 1 and a precise message, a closed pipe, a missing directory.

use std::process::{Command, Output, Stdio};

const VOPR: &str = env!("CARGO_BIN_EXE_vopr");
const SERVER: &str = env!("CARGO_BIN_EXE_kv-server");
const CLIENT: &str = env!("CARGO_BIN_EXE_kv-client");

fn run(binary: &str, args: &[&str]) -> Output {
    Command::new(binary).args(args).stdin(Stdio::null()).output().expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `args` must be refused with exit code 1, a message naming `expected`,
/// and nothing on stdout.
fn refused(binary: &str, args: &[&str], expected: &str) {
    let output = run(binary, args);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{args:?} must exit 1; stderr: {stderr}");
    assert!(stderr.contains(expected), "{args:?}: stderr {stderr:?} does not say {expected:?}");
    assert!(output.stdout.is_empty(), "{args:?} printed {:?}", text(&output.stdout));
}

#[test]
fn help_prints_usage_and_exit_codes_to_stdout() {
    for binary in [VOPR, SERVER, CLIENT] {
        for flag in ["--help", "-h"] {
            let output = run(binary, &[flag]);
            assert_eq!(output.status.code(), Some(0), "{binary} {flag}");
            let stdout = text(&output.stdout);
            assert!(stdout.contains("Usage:"), "{binary} {flag}: {stdout}");
            assert!(stdout.contains("Exit codes:"), "{binary} {flag}: {stdout}");
            assert!(output.stderr.is_empty(), "{binary} {flag}");
        }
    }
}

#[test]
fn vopr_refuses_bad_command_lines_precisely() {
    refused(VOPR, &["--frobnicate"], "unexpected argument '--frobnicate'");
    refused(VOPR, &["--frobnicate", "1"], "unexpected argument '--frobnicate'");
    refused(VOPR, &["--seeds"], "a value is required for '--seeds <N>'");
    refused(VOPR, &["--seeds", "99999999999999999999999"], "number too large");
    refused(VOPR, &["--seeds", "-3"], "invalid value '-3' for '--seeds <N>'");
    refused(VOPR, &["--seeds", "ten"], "invalid digit");
    refused(VOPR, &["--seeds", "0"], "0 is not in 1..");
    refused(
        VOPR,
        &["--seed", "1", "--seeds", "5"],
        "'--seed <S>' cannot be used with '--seeds <N>'",
    );
    refused(VOPR, &["--seed", "1", "--from", "5"], "cannot be used with");
    refused(VOPR, &["--from", "18446744073709551614", "--seeds", "3"], "at most 2 seeds from");
    refused(VOPR, &["--bug", "nonsense"], "invalid value 'nonsense' for '--bug <BUG>'");
    refused(VOPR, &["extra"], "unexpected argument 'extra'");
    refused(VOPR, &["--trace"], "required arguments were not provided");
    refused(VOPR, &["--jobs", "0"], "0 is not in 1..=1024");
    refused(VOPR, &["--jobs", "-2"], "invalid value '-2' for '--jobs <N>'");
}

#[test]
fn the_last_seeds_of_the_range_can_be_run() {
    let output = run(VOPR, &["--from", "18446744073709551614", "--seeds", "2"]);
    let stdout = text(&output.stdout);
    assert!(stdout.contains("2 seeds passed"), "{stdout} {}", text(&output.stderr));
}

#[test]
fn a_traced_replay_prints_the_event_log_and_the_verdict() {
    let output = run(VOPR, &["--seed", "3", "--trace"]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(stdout.contains("store: recovery:") && stdout.contains("client 0: request 1:"));
    assert!(stdout.lines().last().is_some_and(|line| line.starts_with("seed 3: passed")));
}

#[test]
fn kv_server_refuses_bad_command_lines_precisely() {
    refused(SERVER, &[], "--dir <DIR>");
    refused(SERVER, &["--dir"], "a value is required for '--dir <DIR>'");
    refused(SERVER, &["--dir", "/tmp", "--slots", "0"], "0 is not in 1..");
    refused(SERVER, &["--dir", "/tmp", "--listen", "nowhere"], "invalid value 'nowhere'");
    refused(SERVER, &["--dir", "/tmp", "--frobnicate"], "unexpected argument '--frobnicate'");
}

#[test]
fn kv_server_names_the_unusable_directory_and_the_system_error() {
    // A directory under a regular file: `open_dir` creates missing
    // directories, so a merely missing path would be created (as root,
    // even `/nonexistent/x`, and the server would then serve forever).
    let file = std::env::temp_dir().join(format!("kv-cli-not-a-dir-{}", std::process::id()));
    std::fs::write(&file, b"").expect("a scratch file");
    let dir = file.join("x");
    let output = run(SERVER, &["--dir", dir.to_str().expect("a UTF-8 path")]);
    let _ = std::fs::remove_file(&file);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(dir.to_str().expect("a UTF-8 path")), "{stderr}");
    assert!(stderr.contains("ENOTDIR"), "{stderr}");
}

#[test]
fn a_closed_stdout_ends_the_run_quietly() {
    let mut child = Command::new(VOPR)
        .args(["--from", "0", "--seeds", "2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vopr runs");
    drop(child.stdout.take()); // the reader goes away before the first line
    let output = child.wait_with_output().expect("vopr ends");
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn progress_lines_are_whole_lines_when_stdout_is_not_a_terminal() {
    let output = run(VOPR, &["--from", "0", "--seeds", "3"]);
    assert_eq!(output.status.code(), Some(0));
    let stdout = text(&output.stdout);
    assert!(!stdout.contains('\r'), "{stdout:?}");
    assert!(stdout.ends_with("0 failures\n"), "{stdout:?}");
}

#[test]
fn kv_client_refuses_bad_command_lines_precisely() {
    refused(CLIENT, &[], "Usage:");
    refused(CLIENT, &["frobnicate"], "unrecognized subcommand 'frobnicate'");
    refused(CLIENT, &["get"], "<KEY>");
    refused(CLIENT, &["put", "k"], "<VALUE>");
    refused(CLIENT, &["get", &"k".repeat(256)], "256 bytes, at most 255");
    refused(CLIENT, &["--server", "nowhere", "get", "k"], "invalid value 'nowhere'");
    refused(CLIENT, &["load", "--mix", "50:40"], "three percentages");
    refused(CLIENT, &["load", "--mix", "50:40:20"], "is not 100");
    refused(CLIENT, &["load", "--depth", "0"], "0 is not in 1..=4096");
    refused(CLIENT, &["load", "--connections", "-1"], "invalid value '-1'");
    refused(CLIENT, &["load", "--requests", "0"], "0 is not in 1..");
}
