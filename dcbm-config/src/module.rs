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
    /// The migrate reasons offloaded (names, not a number).
    ReasonMask,
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
            Attr::ReasonMask => "reason_mask",
        }
    }

    pub fn is_counter(self) -> bool {
        COUNTERS.contains(&self)
    }

    pub fn all() -> impl Iterator<Item = Attr> {
        CONFIG_ATTRS.into_iter().chain(COUNTERS)
    }

    pub fn path(self, root: &Root) -> PathBuf {
        attr_path(root, self.name())
    }
}

/// Where attribute `name` is: `/sys/module/dcbm/<name>` when that exists
/// (dcbm's own layout), else `/sys/module/dcbm/parameters/<name>` when that
/// exists (the layout of the upstream v6 driver, which has only
/// parameters), else the top-level path (reported as missing).
pub fn attr_path(root: &Root, name: &str) -> PathBuf {
    let top = root.module_dir().join(name);
    if top.exists() {
        return top;
    }
    let param = root.module_dir().join(PARAMETERS).join(name);
    if param.exists() {
        param
    } else {
        top
    }
}

/// The module parameters directory (v6).
pub const PARAMETERS: &str = "parameters";

/// The two ways the module shows its attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// dcbm's own: every attribute in `/sys/module/dcbm/`.
    TopLevel,
    /// The upstream v6 driver's: only `/sys/module/dcbm/parameters/`.
    Parameters,
}

impl Layout {
    pub const BOTH: [Layout; 2] = [Layout::TopLevel, Layout::Parameters];

    /// The files that `Live::read` needs in this layout (the others are
    /// optional there): every attribute at the top level, the four the
    /// upstream v6 driver always has in `parameters/`.
    fn required(self) -> Vec<Attr> {
        match self {
            Layout::TopLevel => Attr::all().collect(),
            Layout::Parameters => vec![
                Attr::Offloading,
                Attr::NrDmaChan,
                Attr::FoliosMigrated,
                Attr::FoliosFailures,
            ],
        }
    }

    fn dir(self, root: &Root) -> PathBuf {
        match self {
            Layout::TopLevel => root.module_dir(),
            Layout::Parameters => root.module_dir().join(PARAMETERS),
        }
    }

    /// Where the files are, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            Layout::TopLevel => "top level",
            Layout::Parameters => "parameters/",
        }
    }

    /// The required files not (yet) present in this layout.
    pub fn missing(self, root: &Root) -> Vec<&'static str> {
        let dir = self.dir(root);
        self.required()
            .into_iter()
            .map(Attr::name)
            .filter(|n| !dir.join(n).exists())
            .collect()
    }

    /// The layout `Live::read` will use: the top level as soon as
    /// `offloading` is there (then all of it is required), else parameters/.
    fn in_use(root: &Root) -> Layout {
        if top_level(root) {
            Layout::TopLevel
        } else {
            Layout::Parameters
        }
    }
}

/// Is one layout complete, the one `Live::read` will use? A module that is
/// still creating its top-level files is not ready even when its
/// `parameters/` (created by the kernel before the module's init) is.
pub fn ready(root: &Root) -> bool {
    Layout::in_use(root).missing(root).is_empty()
}

/// Is the module loaded (its live interface present, in either layout)?
pub fn loaded(root: &Root) -> bool {
    Attr::Offloading.path(root).exists()
}

/// Does the module have its own top-level files (rather than only
/// `parameters/`, as the upstream v6 driver)?
pub fn top_level(root: &Root) -> bool {
    root.module_dir().join(Attr::Offloading.name()).exists()
}

/// The offload interface of the kernel the module was built for.
pub const INTERFACE: &str = "interface";
pub const REASONS_AVAILABLE: &str = "reasons_available";

/// The reasons the v5 interface offers, always (a v5 module cannot change
/// them).
pub const V5_REASONS: [&str; 4] = [
    "compaction",
    "syscall_or_cpuset",
    "numa_misplaced",
    "demotion",
];

/// The reasons of mainline's `enum migrate_reason`, assumed for a v6 module
/// that does not list `reasons_available` (the upstream v6 driver).
pub const V6_MAINLINE_REASONS: [&str; 10] = [
    "compaction",
    "memory_failure",
    "memory_hotplug",
    "syscall_or_cpuset",
    "mempolicy_mbind",
    "numa_misplaced",
    "contig_range",
    "longterm_pin",
    "demotion",
    "damon",
];

/// A reason list as sysfs shows it: `a,b` or `none`.
pub fn parse_reasons(s: &str) -> Vec<String> {
    if s == "none" || s.is_empty() {
        return Vec::new();
    }
    s.split(',').map(|n| n.trim().to_string()).collect()
}

/// A reason list as sysfs takes and shows it.
pub fn format_reasons(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(",")
    }
}

/// Read-only attribute listing the channels dcbm holds, space separated
/// (an empty line when offloading is off).
pub const CHANNELS: &str = "channels";

/// The names in `channels`; `None` when the attribute (or the module) is absent.
pub fn held_channels(root: &Root) -> Result<Option<Vec<String>>> {
    Ok(sysfs::read_optional(&attr_path(root, CHANNELS), CHANNELS)?
        .map(|s| s.split_whitespace().map(str::to_string).collect()))
}

/// Live values of every attribute, read strictly. The attributes the
/// upstream v6 driver lacks are `None` when absent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Live {
    /// `v5` or `v6`: the `interface` file; without it `v6` when only
    /// `parameters/` exists (the upstream v6 driver), else `v5` (a dcbm from
    /// before the reason mask).
    pub interface: String,
    /// The files are in `/sys/module/dcbm/` (`top-level`) or only in
    /// `parameters/` (`parameters`).
    pub layout: &'static str,
    pub offloading: bool,
    pub nr_dma_chan: u64,
    pub timeout_ms: Option<u64>,
    pub min_batch_bytes: Option<u64>,
    pub min_folio_bytes: Option<u64>,
    pub folios_migrated: u64,
    pub folios_failures: u64,
    pub folios_declined: Option<u64>,
    pub bytes_migrated: Option<u64>,
    /// Names of the DMA channels dcbm holds (read-only attribute `channels`;
    /// `None` when absent, empty when offloading is off).
    pub channels: Option<Vec<String>>,
    /// The reasons this kernel knows (`reasons_available`; on v5 without
    /// the file the fixed set, on v6 without it mainline's names).
    pub reasons_available: Vec<String>,
    /// The reasons offloaded now (`reason_mask`; on v5 without the file the
    /// fixed set; `None` on v6 without it).
    pub reason_mask: Option<Vec<String>>,
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
        let top = top_level(root);
        // dcbm's own layout has every attribute (a missing one is a
        // half-loaded module); the upstream v6 driver's parameters/ has
        // only some.
        let opt = |a: Attr| -> Result<Option<u64>> {
            let p = a.path(root);
            if top || p.exists() {
                sysfs::read_u64(&p, a.name()).map(Some)
            } else {
                Ok(None)
            }
        };
        let interface = match sysfs::read_optional(&attr_path(root, INTERFACE), INTERFACE)? {
            Some(v) if v == "v5" || v == "v6" => v,
            Some(v) => anyhow::bail!("attribute `{INTERFACE}` is neither v5 nor v6: {v:?}"),
            None if top => "v5".to_string(),
            None => "v6".to_string(),
        };
        let fallback: &[&str] = if interface == "v5" {
            &V5_REASONS
        } else {
            &V6_MAINLINE_REASONS
        };
        let reasons_available =
            match sysfs::read_optional(&attr_path(root, REASONS_AVAILABLE), REASONS_AVAILABLE)? {
                Some(v) => parse_reasons(&v),
                None => fallback.iter().map(|s| s.to_string()).collect(),
            };
        let reason_mask =
            match sysfs::read_optional(&Attr::ReasonMask.path(root), Attr::ReasonMask.name())? {
                Some(v) => Some(parse_reasons(&v)),
                None if interface == "v5" => {
                    Some(V5_REASONS.iter().map(|s| s.to_string()).collect())
                }
                None => None,
            };
        Ok(Live {
            interface,
            layout: if top { "top-level" } else { "parameters" },
            offloading: sysfs::read_bool01(&Attr::Offloading.path(root), "offloading")?,
            nr_dma_chan: u(Attr::NrDmaChan)?,
            timeout_ms: opt(Attr::TimeoutMs)?,
            min_batch_bytes: opt(Attr::MinBatchBytes)?,
            min_folio_bytes: opt(Attr::MinFolioBytes)?,
            folios_migrated: u(Attr::FoliosMigrated)?,
            folios_failures: u(Attr::FoliosFailures)?,
            folios_declined: opt(Attr::FoliosDeclined)?,
            bytes_migrated: opt(Attr::BytesMigrated)?,
            channels: held_channels(root)?,
            reasons_available,
            reason_mask,
        })
    }

    /// The value of a numeric attribute, `None` when the module lacks it.
    pub fn get_opt(&self, a: Attr) -> Option<u64> {
        match a {
            Attr::Offloading => Some(self.offloading as u64),
            Attr::NrDmaChan => Some(self.nr_dma_chan),
            Attr::TimeoutMs => self.timeout_ms,
            Attr::MinBatchBytes => self.min_batch_bytes,
            Attr::MinFolioBytes => self.min_folio_bytes,
            Attr::FoliosMigrated => Some(self.folios_migrated),
            Attr::FoliosFailures => Some(self.folios_failures),
            Attr::FoliosDeclined => self.folios_declined,
            Attr::BytesMigrated => self.bytes_migrated,
            Attr::ReasonMask => None,
        }
    }

    /// The value of a numeric attribute, 0 when the module lacks it.
    pub fn get(&self, a: Attr) -> u64 {
        self.get_opt(a).unwrap_or(0)
    }

    /// Does the module have attribute `a`?
    pub fn has(&self, a: Attr) -> bool {
        match a {
            Attr::ReasonMask => self.reason_mask.is_some(),
            _ => self.get_opt(a).is_some(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_once_the_layout_in_use_is_complete() {
        let d = tempfile::tempdir().unwrap();
        let root = Root::new(d.path());
        let put = |rel: &str| {
            let p = root.module_dir().join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "0\n").unwrap();
        };
        assert!(!ready(&root));
        for a in Layout::Parameters.required() {
            put(&format!("{PARAMETERS}/{}", a.name()));
        }
        assert!(ready(&root), "parameters/ alone is the v6 driver's layout");
        // dcbm's own module half way through creating its top-level files:
        // reading it now would fail on the missing ones.
        put(Attr::Offloading.name());
        assert!(!ready(&root));
        assert_eq!(Layout::TopLevel.missing(&root).len(), 8);
        for a in Attr::all() {
            put(a.name());
        }
        assert!(ready(&root));
    }
}
