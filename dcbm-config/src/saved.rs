//! The module's settings from before the last `apply` or `off` that changed
//! something, kept in `<state-dir>/before-apply.json` for `revert`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::atomic_file;
use crate::module::Live;
use crate::plan::Desired;

pub const FILE: &str = "before-apply.json";

/// The writable settings (counters are not restorable and not kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Saved {
    pub offloading: bool,
    pub nr_dma_chan: u64,
    /// `None`: the module lacks it (the upstream v6 driver).
    pub timeout_ms: Option<u64>,
    pub min_batch_bytes: Option<u64>,
    pub min_folio_bytes: Option<u64>,
    /// The reasons offloaded (v6 only: v5 cannot change them).
    pub reason_mask: Option<String>,
}

impl Saved {
    pub fn of(live: &Live) -> Saved {
        Saved {
            offloading: live.offloading,
            nr_dma_chan: live.nr_dma_chan,
            timeout_ms: live.timeout_ms,
            min_batch_bytes: live.min_batch_bytes,
            min_folio_bytes: live.min_folio_bytes,
            reason_mask: match (&live.reason_mask, live.interface.as_str()) {
                (Some(m), "v6") => Some(crate::module::format_reasons(m)),
                _ => None,
            },
        }
    }

    /// Every setting managed, at its saved value.
    pub fn desired(&self) -> Desired {
        Desired {
            offloading: self.offloading,
            nr_dma_chan: Some(self.nr_dma_chan),
            timeout_ms: self.timeout_ms,
            min_batch_bytes: self.min_batch_bytes,
            min_folio_bytes: self.min_folio_bytes,
            reset_counters: false,
            reason_mask: self
                .reason_mask
                .as_deref()
                .map(crate::module::parse_reasons),
        }
    }
}

pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(FILE)
}

/// Record `live` as the state to revert to. Failing to is not worth failing
/// the command for: a warning says `revert` will not work, and an older
/// record is removed so that `revert` never goes back further than asked.
pub fn save(state_dir: &Path, live: &Live) {
    if let Err(e) = try_save(state_dir, live) {
        let _ = std::fs::remove_file(path(state_dir));
        tell!("warning: cannot record the settings for `revert`: {e:#}");
    }
}

fn try_save(state_dir: &Path, live: &Live) -> Result<()> {
    std::fs::create_dir_all(state_dir)
        .with_context(|| format!("creating {}", state_dir.display()))?;
    let json = serde_json::to_string_pretty(&Saved::of(live))? + "\n";
    atomic_file::replace(&path(state_dir), &json)
}

/// The recorded state, `None` when nothing was recorded.
pub fn load(state_dir: &Path) -> Result<Option<Saved>> {
    let p = path(state_dir);
    let text = match std::fs::read_to_string(&p) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", p.display())),
    };
    let saved = serde_json::from_str(&text).with_context(|| format!("parsing {}", p.display()))?;
    Ok(Some(saved))
}
