//! Output that never aborts the command: stdout and stderr may be closed,
//! full (`>/dev/full`) or a pipe whose reader went away (`| head -1`).
//!
//! `println!` panics on such an error, which in the middle of `apply` would
//! leave the module half-configured. Here a failed write is remembered
//! (the first error of stdout) and the rest of the output is dropped; the
//! command carries on, and `main` decides at the end what the lost output
//! means for the exit code.

use std::fmt;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// The first error writing stdout, if any.
static STDOUT_ERROR: Mutex<Option<LostOutput>> = Mutex::new(None);

/// Why stdout output was lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LostOutput {
    /// The reader went away (`EPIPE`): nobody wants the rest, not an error to report.
    pub broken_pipe: bool,
    /// The error, with its errno name (`ENOSPC (No space left on device)`).
    pub message: String,
}

fn record(e: &io::Error) {
    let mut slot = STDOUT_ERROR.lock().unwrap_or_else(|p| p.into_inner());
    slot.get_or_insert(LostOutput {
        broken_pipe: e.kind() == io::ErrorKind::BrokenPipe,
        message: crate::sysfs::describe_io(e),
    });
}

/// Run `f` on stdout and flush (so that a failure is seen now); errors are
/// recorded, never raised. Once stdout failed, nothing more is written.
fn to_stdout(f: impl FnOnce(&mut io::StdoutLock) -> io::Result<()>) {
    if stdout_error().is_some() {
        return;
    }
    let mut o = io::stdout().lock();
    if let Err(e) = f(&mut o).and_then(|()| o.flush()) {
        record(&e);
    }
}

/// `--json`: the text of `say!` is left out, only the JSON is printed.
static JSON_ONLY: AtomicBool = AtomicBool::new(false);

pub fn json_only() {
    JSON_ONLY.store(true, Ordering::Relaxed);
}

/// Formatted text to stdout (nothing with `--json`).
pub fn stdout(args: fmt::Arguments) {
    if !JSON_ONLY.load(Ordering::Relaxed) {
        to_stdout(|o| o.write_fmt(args));
    }
}

/// Raw bytes to stdout (generated text such as a man page).
pub fn stdout_bytes(b: &[u8]) {
    to_stdout(|o| o.write_all(b));
}

/// Write to stderr; errors are ignored (there is nowhere left to report them).
pub fn stderr(args: fmt::Arguments) {
    let mut e = io::stderr().lock();
    let _ = e.write_fmt(args);
}

/// The first stdout error, if output was lost.
pub fn stdout_error() -> Option<LostOutput> {
    STDOUT_ERROR
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
}

/// `println!` that never panics.
macro_rules! say {
    ($($t:tt)*) => { $crate::out::stdout(format_args!("{}\n", format_args!($($t)*))) };
}

/// `eprintln!` that never panics.
macro_rules! tell {
    ($($t:tt)*) => { $crate::out::stderr(format_args!("{}\n", format_args!($($t)*))) };
}
