//! Where and how the commands act: the root, the state directory, how to
//! load the module and how long to wait. Built by `main`, used by the
//! commands and by `modprobe`.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;

use crate::lock;
use crate::root::Root;

/// Where and how the commands act.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub root: Root,
    pub state_dir: PathBuf,
    /// Shell command that loads the module (run with `sh -c`); `None`: do not
    /// load it (a fake root without `--modprobe`).
    pub modprobe: Option<String>,
    pub load_timeout: Duration,
    /// How long a writer waits for another one to finish.
    pub lock_timeout: Duration,
}

impl Ctx {
    /// The writers' lock (see `lock`), held until the value is dropped.
    pub fn lock(&self) -> Result<lock::WriterLock> {
        lock::acquire(&self.state_dir, self.lock_timeout)
    }
}
