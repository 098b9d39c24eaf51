//! SIGINT, SIGTERM and SIGHUP while the module is being changed.
//!
//! The commands that write (`apply`, `off`, `revert`, `reset-counters`)
//! install a handler that only records the signal; they look at it before
//! each store and, once it is set, undo the stores already made and exit
//! with 128 + the signal number. A store in progress is never cut short, so
//! the module ends as the policy wants or as it was.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use anyhow::{Context, Result};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

/// The signal received (0: none).
static RECEIVED: OnceLock<Arc<AtomicUsize>> = OnceLock::new();

/// Catch SIGINT, SIGTERM and SIGHUP from now on.
pub fn catch() -> Result<()> {
    let flag = RECEIVED.get_or_init(|| Arc::new(AtomicUsize::new(0)));
    for sig in [SIGINT, SIGTERM, SIGHUP] {
        signal_hook::flag::register_usize(sig, Arc::clone(flag), sig as usize)
            .with_context(|| format!("installing the handler of signal {sig}"))?;
    }
    Ok(())
}

/// The signal received since `catch`, if any.
pub fn received() -> Option<i32> {
    let sig = RECEIVED.get()?.load(Ordering::SeqCst);
    (sig != 0).then_some(sig as i32)
}

/// `SIGTERM`, `SIGINT`, ...
pub fn name(sig: i32) -> String {
    nix::sys::signal::Signal::try_from(sig)
        .map(|s| s.as_str().to_string())
        .unwrap_or_else(|_| format!("signal {sig}"))
}

/// The exit code after signal `sig`: 128 + its number, as shells report it.
pub fn exit_code(sig: i32) -> u8 {
    (128 + sig).clamp(0, 255) as u8
}
