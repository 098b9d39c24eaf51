//! Resolution of absolute system paths under a (possibly fake) root.

use std::path::PathBuf;

pub const MODULE_DIR: &str = "/sys/module/dcbm";
pub const DMA_CLASS: &str = "/sys/class/dma";
pub const NODE_DIR: &str = "/sys/devices/system/node";
pub const DEMOTION: &str = "/sys/kernel/mm/numa/demotion_enabled";
pub const MEMORY_TIERING: &str = "/sys/devices/virtual/memory_tiering";
pub const BOOT_ID: &str = "/proc/sys/kernel/random/boot_id";
pub const OSRELEASE: &str = "/proc/sys/kernel/osrelease";
pub const STATE_DIR: &str = "/run/dcbm";

/// A root directory under which `/sys`, `/proc` and `/run` are looked up.
#[derive(Debug, Clone)]
pub struct Root(PathBuf);

impl Root {
    pub fn new(p: impl Into<PathBuf>) -> Root {
        Root(p.into())
    }

    /// `abs` (an absolute path like `/sys/module/dcbm`) under this root.
    pub fn path(&self, abs: &str) -> PathBuf {
        self.0.join(abs.trim_start_matches('/'))
    }

    pub fn module_dir(&self) -> PathBuf {
        self.path(MODULE_DIR)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_under_root() {
        assert_eq!(
            Root::new("/tmp/x").path("/sys/module/dcbm"),
            PathBuf::from("/tmp/x/sys/module/dcbm")
        );
        assert_eq!(Root::new("/").path(BOOT_ID), PathBuf::from(BOOT_ID));
    }
}
