//! `kv-client` against a running `kv-server` on the real kernel.

mod common;

use std::process::{Command, Output, Stdio};

use common::{Server, TempDir};

fn client(server: &Server, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kv-client"))
        .args(["--server", &server.address])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("kv-client runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn put_get_del_round_trip() {
    let dir = TempDir::new("client");
    let server = Server::start(&dir.0, 1024);
    assert_eq!(client(&server, &["get", "colour"]).status.code(), Some(3), "absent at first");
    assert_eq!(client(&server, &["put", "colour", "blue"]).status.code(), Some(0));
    let got = client(&server, &["get", "colour"]);
    assert_eq!((got.status.code(), stdout(&got)), (Some(0), "blue\n".to_string()));
    assert_eq!(client(&server, &["put", "colour", "green"]).status.code(), Some(0));
    assert_eq!(stdout(&client(&server, &["get", "colour"])), "green\n");
    assert_eq!(client(&server, &["del", "colour"]).status.code(), Some(0));
    assert_eq!(client(&server, &["get", "colour"]).status.code(), Some(3), "deleted");
}

#[test]
fn load_reports_every_answer_and_its_percentiles() {
    let dir = TempDir::new("load");
    let server = Server::start(&dir.0, 4096);
    let args = ["load", "--connections", "3", "--depth", "8", "--mix", "40:50:10"];
    let output = client(&server, &[&args[..], &["--requests", "600", "--keys", "50"]].concat());
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(text.contains("600 requests in "), "{text}");
    assert!(text.contains("latency us: p50 "), "{text}");
    // Every request was answered, and only with answers a healthy store gives.
    let answers = text.lines().find_map(|line| line.strip_prefix("answers: ")).expect("{text}");
    let total: u64 = answers
        .split(", ")
        .map(|part| {
            let (kind, n) = part.rsplit_once(' ').unwrap();
            assert!(["ok", "value", "not found"].contains(&kind), "{text}");
            n.parse::<u64>().unwrap()
        })
        .sum();
    assert_eq!(total, 600, "{text}");
}

#[test]
fn an_unreachable_server_is_named_with_the_system_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_kv-client"))
        .args(["--server", "127.0.0.1:1", "get", "k"])
        .output()
        .expect("kv-client runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("127.0.0.1:1") && stderr.contains("refused"), "{stderr}");
}
