//! The store on the real kernel: `IO` over epoll or kqueue, files on disk.
//!
//! ```sh
//! kv-server --dir DIR [--listen 127.0.0.1:0] [--port-file FILE] [--slots N]
//! ```
//!
//! Once recovery is done and it listens, the bound address is written to
//! `--port-file` (atomically: a temporary file renamed into place), so a
//! test or script can wait for it. Exits 1 if the store stops on an error
//! it cannot recover from in place (restart it: recovery does the rest).

use std::path::PathBuf;
use std::process::ExitCode;

use twinio::{DirectIo, IO, Io};
use twinio_kv::store::{Bugs, Config, State, Store};

struct Args {
    config: Config,
    port_file: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut dir = None;
    let mut listen = "127.0.0.1:0".parse().expect("a valid address");
    let mut port_file = None;
    let mut slots = 16_384u64;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--dir" => dir = Some(PathBuf::from(value)),
            "--listen" => listen = value.parse().map_err(|e| format!("--listen: {e}"))?,
            "--port-file" => port_file = Some(PathBuf::from(value)),
            "--slots" => slots = value.parse().map_err(|e| format!("--slots: {e}"))?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    let dir = dir.ok_or("--dir is required")?;
    if slots == 0 {
        return Err("--slots must be at least 1".into());
    }
    let config =
        Config { dir, slots, direct_io: DirectIo::Optional, listen, bugs: Bugs::default() };
    Ok(Args { config, port_file })
}

fn run(args: Args) -> Result<(), String> {
    let mut io: IO<Store> = IO::init(1024).map_err(|e| format!("init: {e}"))?;
    let mut store = Store::new(args.config);
    store.start(&mut io);
    let mut announced = false;
    loop {
        match store.state() {
            State::Failed { why } => return Err(why.to_string()),
            State::Serving if !announced => {
                announced = true;
                let address = store.address().expect("serving means listening");
                eprintln!("kv-server: serving on {address}, {} records recovered", store.log_len());
                if let Some(path) = &args.port_file {
                    let temporary = path.with_extension("tmp");
                    std::fs::write(&temporary, address.to_string())
                        .and_then(|()| std::fs::rename(&temporary, path))
                        .map_err(|e| format!("port file: {e}"))?;
                }
            }
            _ => {}
        }
        io.flush(&mut store, true).map_err(|e| format!("flush: {e}"))?;
    }
}

fn main() -> ExitCode {
    let result = parse_args().and_then(run);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("kv-server: {why}");
            ExitCode::FAILURE
        }
    }
}
