//! The store on the real kernel: `IO` over epoll or kqueue, files on disk.
//!
//! Once recovery is done and it listens, the bound address is written to
//! `--port-file` (atomically: a temporary file renamed into place), so a
//! test or script can wait for it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use twinio::{DirectIo, IO, Io};
use twinio_kv::cli;
use twinio_kv::store::{Bugs, Config, State, Store};

const EXIT_CODES: &str = "\
Exit codes:
  1  bad usage: the command line was refused
  2  the store could not start, or stopped on an error it cannot recover
     from in place (restart it: recovery does the rest)";

/// Serves the example key-value store over TCP on the real kernel.
#[derive(Parser, Debug)]
#[command(name = "kv-server", after_help = EXIT_CODES, allow_negative_numbers = true)]
struct Cli {
    /// The data directory (created if missing); holds log.a and log.b.
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
    /// The address to listen on (port 0: any free port).
    #[arg(long, value_name = "ADDRESS", default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Where to write the bound address once serving.
    #[arg(long, value_name = "FILE")]
    port_file: Option<PathBuf>,
    /// Records per log copy (each one 4096-byte sector); a new log only:
    /// an existing one must be opened with the size it was made with.
    #[arg(long, value_name = "N", default_value_t = 16_384,
          value_parser = clap::value_parser!(u64).range(1..=(1 << 28)))]
    slots: u64,
}

fn run(args: Cli) -> Result<(), String> {
    let mut io: IO<Store> = IO::init(1024).map_err(|e| format!("cannot start the IO: {e}"))?;
    let config = Config {
        dir: args.dir,
        slots: args.slots,
        direct_io: DirectIo::Optional,
        listen: args.listen,
        bugs: Bugs::default(),
    };
    let mut store = Store::new(config);
    store.start(&mut io);
    let mut announced = false;
    loop {
        match store.state() {
            State::Failed { why } => {
                return Err(match store.failure_detail() {
                    Some(detail) => format!("{why}: {detail}"),
                    None => why.to_string(),
                });
            }
            State::Serving if !announced => {
                announced = true;
                let address = store.address().expect("serving means listening");
                eprintln!("kv-server: serving on {address}, {} records recovered", store.log_len());
                if let Some(path) = &args.port_file {
                    let temporary = path.with_extension("tmp");
                    std::fs::write(&temporary, address.to_string())
                        .and_then(|()| std::fs::rename(&temporary, path))
                        .map_err(|e| {
                            format!("cannot write the port file {}: {e}", path.display())
                        })?;
                }
            }
            _ => {}
        }
        io.flush(&mut store, true).map_err(|e| format!("the IO loop failed: {e}"))?;
    }
}

fn main() -> ExitCode {
    let args: Cli = match cli::parse() {
        Ok(args) => args,
        Err(code) => return code,
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("kv-server: {why}");
            ExitCode::from(2)
        }
    }
}
