//! One writer at a time: `apply`, `off`, `revert` and `reset-counters` hold
//! an exclusive flock(2) on `<state-dir>/lock` from before they read the
//! live state until they exit, so two runs (the boot unit and the udev rule,
//! say) never interleave their writes: the second waits, then sees the
//! first one's result.

use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use crate::exit::{self, coded};
use crate::interrupt;

/// Held until dropped (or the process exits).
#[derive(Debug)]
pub struct WriterLock {
    _lock: Flock<File>,
}

pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join("lock")
}

/// Take the lock, waiting up to `timeout` for another holder to finish.
pub fn acquire(state_dir: &Path, timeout: Duration) -> Result<WriterLock> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(state_dir)
        .with_context(|| format!("creating {}", state_dir.display()))?;
    let p = path(state_dir);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(&p)
        .with_context(|| format!("opening the lock {}", p.display()))?;
    let start = Instant::now();
    let mut told = false;
    loop {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => return Ok(WriterLock { _lock: lock }),
            Err((f, Errno::EWOULDBLOCK)) => file = f,
            Err((_, e)) => {
                return Err(anyhow::anyhow!("locking {}: {}", p.display(), e.desc()));
            }
        }
        if let Some(sig) = interrupt::received() {
            return Err(coded(
                interrupt::exit_code(sig),
                format!(
                    "interrupted by {} while waiting for the lock; nothing written",
                    interrupt::name(sig)
                ),
            ));
        }
        if start.elapsed() >= timeout {
            return Err(coded(
                exit::BUSY,
                format!(
                    "another dcbm-config still holds {} after {} ms; nothing written",
                    p.display(),
                    timeout.as_millis()
                ),
            ));
        }
        if !told {
            tell!(
                "waiting for another dcbm-config to finish (lock {})",
                p.display()
            );
            told = true;
        }
        sleep(Duration::from_millis(20));
    }
}
