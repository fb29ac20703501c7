//! A client for `kv-server`: one request (`put`, `get`, `del`), or a load
//! run that reports throughput and latency percentiles.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use twinio_kv::cli;
use twinio_kv::client::load::{self, LoadConfig};
use twinio_kv::client::{ClientError, Connection};
use twinio_kv::protocol::{Request, Response};
use twinio_kv::record::MAX_KEY;

const EXIT_CODES: &str = "\
Exit codes:
  0  done (get: the key's value was printed)
  1  bad usage: the command line was refused
  2  no answer: cannot connect, the connection failed, or a protocol error
  3  get: the key is not in the store
  4  the store refused the request (the message says why)";

/// Talks to a running kv-server.
#[derive(Parser, Debug)]
#[command(name = "kv-client", after_help = EXIT_CODES, allow_negative_numbers = true)]
struct Cli {
    /// The server's address (as kv-server prints it, or its --port-file).
    #[arg(long, value_name = "ADDRESS", default_value = "127.0.0.1:3000", global = true)]
    server: SocketAddr,
    /// Seconds to wait for any one answer.
    #[arg(long, value_name = "SECONDS", default_value_t = 10, global = true,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    timeout: u64,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Set KEY to VALUE (durable once this returns).
    Put {
        /// The key (at most 255 bytes).
        #[arg(value_parser = parse_key)]
        key: String,
        /// The value.
        value: String,
    },
    /// Print KEY's value.
    Get {
        /// The key (at most 255 bytes).
        #[arg(value_parser = parse_key)]
        key: String,
    },
    /// Remove KEY.
    Del {
        /// The key (at most 255 bytes).
        #[arg(value_parser = parse_key)]
        key: String,
    },
    /// Run a load and report throughput and latency percentiles.
    #[command(allow_negative_numbers = true)]
    Load {
        /// Connections, each on its own thread.
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=1024))]
        connections: u64,
        /// Requests in flight per connection.
        #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=4096))]
        depth: u64,
        /// Percent of gets, puts and deletes, as GET:PUT:DEL summing to 100.
        #[arg(long, default_value = "50:40:10", value_parser = parse_mix)]
        mix: Mix,
        /// Requests in all (each put or delete takes one log slot).
        #[arg(long, default_value_t = 100_000,
              value_parser = clap::value_parser!(u64).range(1..))]
        requests: u64,
        /// Keys drawn from.
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
        keys: u64,
        /// Bytes of each put's value.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(0..=3800))]
        value_size: u64,
        /// Seed of the key and operation draws.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

fn parse_key(text: &str) -> Result<String, String> {
    if text.len() > MAX_KEY {
        return Err(format!("{} bytes, at most {MAX_KEY}", text.len()));
    }
    Ok(text.to_string())
}

#[derive(Clone, Copy, Debug)]
struct Mix([u32; 3]);

fn parse_mix(text: &str) -> Result<Mix, String> {
    let parts: Vec<&str> = text.split(':').collect();
    let [get, put, del] = parts[..] else {
        return Err("expected GET:PUT:DEL, three percentages".into());
    };
    let percent = |part: &str| part.parse::<u32>().map_err(|e| format!("{part:?}: {e}"));
    let mix = [percent(get)?, percent(put)?, percent(del)?];
    if mix.iter().sum::<u32>() != 100 {
        return Err(format!("{get}+{put}+{del} is not 100"));
    }
    Ok(Mix(mix))
}

fn no_answer(error: ClientError, server: SocketAddr) -> ExitCode {
    eprintln!("kv-client: {server}: {error}");
    ExitCode::from(2)
}

fn one(args: &Cli, request: Request) -> ExitCode {
    let timeout = Duration::from_secs(args.timeout);
    let response = Connection::open(args.server, timeout).and_then(|mut c| c.call(&request));
    match response {
        Err(error) => no_answer(error, args.server),
        Ok(Response::Ok { .. }) => ExitCode::SUCCESS,
        Ok(Response::Value { value, .. }) => {
            let mut stdout = std::io::stdout().lock();
            // A closed stdout has nobody to tell.
            let _ = stdout.write_all(&value).and_then(|()| stdout.write_all(b"\n"));
            ExitCode::SUCCESS
        }
        Ok(Response::NotFound { .. }) => {
            eprintln!("kv-client: not found");
            ExitCode::from(3)
        }
        Ok(Response::Error { code, .. }) => {
            eprintln!("kv-client: refused: {}", load::error_name(code));
            ExitCode::from(4)
        }
    }
}

fn main() -> ExitCode {
    let args: Cli = match cli::parse() {
        Ok(args) => args,
        Err(code) => return code,
    };
    let key = |key: &str| key.as_bytes().to_vec();
    match &args.command {
        Command::Put { key: k, value } => {
            let request = Request::Put { id: 1, key: key(k), value: value.as_bytes().to_vec() };
            one(&args, request)
        }
        Command::Get { key: k } => one(&args, Request::Get { id: 1, key: key(k) }),
        Command::Del { key: k } => one(&args, Request::Delete { id: 1, key: key(k) }),
        Command::Load { connections, depth, mix, requests, keys, value_size, seed } => {
            let config = LoadConfig {
                address: args.server,
                connections: *connections as usize,
                depth: *depth as usize,
                mix: mix.0,
                keys: *keys,
                value_size: *value_size as usize,
                requests: *requests,
                seed: *seed,
                timeout: Duration::from_secs(args.timeout),
            };
            match load::run(&config) {
                Ok(report) => {
                    let mut stdout = std::io::stdout().lock();
                    let _ = writeln!(
                        stdout,
                        "{connections} connections, depth {depth}, mix get:put:del {}:{}:{}, \
                         {keys} keys, {value_size}-byte values",
                        mix.0[0], mix.0[1], mix.0[2]
                    );
                    let _ = writeln!(stdout, "{report}");
                    ExitCode::SUCCESS
                }
                Err(error) => no_answer(error, args.server),
            }
        }
    }
}
