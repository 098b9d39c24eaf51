//! The dcbm module's sysfs attributes and their live values.

use std::path::PathBuf;

use anyhow::Result;
use serde::Serialize;

use crate::exit::{self, coded};
use crate::root::Root;
use crate::sysfs;

/// A writable attribute of `/sys/module/dcbm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Attr {
    Offloading,
    NrDmaChan,
    TimeoutMs,
    MinBatchBytes,
    MinFolioBytes,
    FoliosMigrated,
    FoliosFailures,
    FoliosDeclined,
    BytesMigrated,
}

pub const CONFIG_ATTRS: [Attr; 5] = [
    Attr::Offloading,
    Attr::NrDmaChan,
    Attr::TimeoutMs,
    Attr::MinBatchBytes,
    Attr::MinFolioBytes,
];

pub const COUNTERS: [Attr; 4] = [
    Attr::FoliosMigrated,
    Attr::FoliosFailures,
    Attr::FoliosDeclined,
    Attr::BytesMigrated,
];

impl Attr {
    pub fn name(self) -> &'static str {
        match self {
            Attr::Offloading => "offloading",
            Attr::NrDmaChan => "nr_dma_chan",
            Attr::TimeoutMs => "timeout_ms",
            Attr::MinBatchBytes => "min_batch_bytes",
            Attr::MinFolioBytes => "min_folio_bytes",
            Attr::FoliosMigrated => "folios_migrated",
            Attr::FoliosFailures => "folios_failures",
            Attr::FoliosDeclined => "folios_declined",
            Attr::BytesMigrated => "bytes_migrated",
        }
    }

    pub fn is_counter(self) -> bool {
        COUNTERS.contains(&self)
    }

    pub fn all() -> impl Iterator<Item = Attr> {
        CONFIG_ATTRS.into_iter().chain(COUNTERS)
    }

    pub fn path(self, root: &Root) -> PathBuf {
        root.module_dir().join(self.name())
    }
}

/// Is the module loaded (its live interface present)?
pub fn loaded(root: &Root) -> bool {
    Attr::Offloading.path(root).exists()
}

/// Read-only attribute listing the channels dcbm holds, space separated
/// (an empty line when offloading is off).
pub const CHANNELS: &str = "channels";

/// The names in `channels`; `None` when the attribute (or the module) is absent.
pub fn held_channels(root: &Root) -> Result<Option<Vec<String>>> {
    Ok(
        sysfs::read_optional(&root.module_dir().join(CHANNELS), CHANNELS)?
            .map(|s| s.split_whitespace().map(str::to_string).collect()),
    )
}

/// Live values of every attribute, read strictly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Live {
    pub offloading: bool,
    pub nr_dma_chan: u64,
    pub timeout_ms: u64,
    pub min_batch_bytes: u64,
    pub min_folio_bytes: u64,
    pub folios_migrated: u64,
    pub folios_failures: u64,
    pub folios_declined: u64,
    pub bytes_migrated: u64,
    /// Names of the DMA channels dcbm holds (read-only attribute `channels`;
    /// `None` when absent, empty when offloading is off).
    pub channels: Option<Vec<String>>,
}

impl Live {
    /// Read every attribute. A missing one means the module is not (fully)
    /// there: exit code 6; an unreadable or malformed one is exit code 1.
    pub fn read(root: &Root) -> Result<Live> {
        Live::read_all(root).map_err(|e| {
            if sysfs::is_missing(&e) {
                coded(exit::MODULE_MISSING, format!("{e:#}"))
            } else {
                e
            }
        })
    }

    fn read_all(root: &Root) -> Result<Live> {
        let u = |a: Attr| sysfs::read_u64(&a.path(root), a.name());
        let channels = held_channels(root)?;
        Ok(Live {
            offloading: sysfs::read_bool01(&Attr::Offloading.path(root), "offloading")?,
            nr_dma_chan: u(Attr::NrDmaChan)?,
            timeout_ms: u(Attr::TimeoutMs)?,
            min_batch_bytes: u(Attr::MinBatchBytes)?,
            min_folio_bytes: u(Attr::MinFolioBytes)?,
            folios_migrated: u(Attr::FoliosMigrated)?,
            folios_failures: u(Attr::FoliosFailures)?,
            folios_declined: u(Attr::FoliosDeclined)?,
            bytes_migrated: u(Attr::BytesMigrated)?,
            channels,
        })
    }

    pub fn get(&self, a: Attr) -> u64 {
        match a {
            Attr::Offloading => self.offloading as u64,
            Attr::NrDmaChan => self.nr_dma_chan,
            Attr::TimeoutMs => self.timeout_ms,
            Attr::MinBatchBytes => self.min_batch_bytes,
            Attr::MinFolioBytes => self.min_folio_bytes,
            Attr::FoliosMigrated => self.folios_migrated,
            Attr::FoliosFailures => self.folios_failures,
            Attr::FoliosDeclined => self.folios_declined,
            Attr::BytesMigrated => self.bytes_migrated,
        }
    }
}
