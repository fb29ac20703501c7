//! What the three binaries share: a command line parsed by clap whose bad
//! usage exits 1 (clap's own default is 2, which `vopr` uses for a
//! correctness failure), and an stdout that stops quietly when the reader
//! goes away (`vopr | head -1`).

use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;

/// The exit code of a command line that was refused.
pub const EXIT_USAGE: u8 = 1;

/// Parses the process's arguments. `--help` and `--version` print to stdout
/// and give `Err(0)`; anything refused prints clap's precise message to
/// stderr and gives `Err(EXIT_USAGE)`.
pub fn parse<P: clap::Parser>() -> Result<P, ExitCode> {
    P::try_parse().map_err(|error| {
        // A closed stdout while printing the help is not worth a message.
        let _ = error.print();
        ExitCode::from(if error.use_stderr() { EXIT_USAGE } else { 0 })
    })
}

/// Refuses a command line that clap accepted but that makes no sense as a
/// whole (a seed range past the last seed), in clap's own format.
pub fn refuse<P: clap::CommandFactory>(why: impl fmt::Display) -> ExitCode {
    let error = P::command().error(clap::error::ErrorKind::ValueValidation, why);
    let _ = error.print();
    ExitCode::from(EXIT_USAGE)
}

/// Stdout was closed by its reader: stop producing output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed;

/// Standard output, line by line, that reports a closed pipe as [`Closed`]
/// instead of panicking as `println!` does.
#[derive(Debug)]
pub struct Out {
    stdout: io::Stdout,
    terminal: bool,
    /// A `\r` progress line is on screen and the next line must end it.
    progress_shown: bool,
}

impl Default for Out {
    fn default() -> Out {
        let stdout = io::stdout();
        let terminal = stdout.is_terminal();
        Out { stdout, terminal, progress_shown: false }
    }
}

impl Out {
    /// True if stdout is a terminal (progress lines are shown only there).
    pub fn is_terminal(&self) -> bool {
        self.terminal
    }

    /// Prints one line.
    pub fn line(&mut self, text: impl fmt::Display) -> Result<(), Closed> {
        let end_progress = if std::mem::take(&mut self.progress_shown) { "\n" } else { "" };
        self.write(format_args!("{end_progress}{text}\n"))
    }

    /// Rewrites the progress line in place; does nothing unless stdout is a
    /// terminal, so a file or pipe gets whole lines only.
    pub fn progress(&mut self, text: impl fmt::Display) -> Result<(), Closed> {
        if !self.terminal {
            return Ok(());
        }
        self.progress_shown = true;
        self.write(format_args!("\r{text}"))
    }

    fn write(&mut self, text: fmt::Arguments) -> Result<(), Closed> {
        let mut lock = self.stdout.lock();
        match lock.write_fmt(text).and_then(|()| lock.flush()) {
            Ok(()) => Ok(()),
            Err(error) => {
                if error.kind() != io::ErrorKind::BrokenPipe {
                    eprintln!("cannot write to stdout: {error}");
                }
                Err(Closed)
            }
        }
    }
}
