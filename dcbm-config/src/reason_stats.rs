//! What became of each migration reason's batches (`reasons/<reason>`):
//! how much demotion, promotion (NUMA balancing), compaction and syscall
//! traffic the engines copied, and why the rest went to the CPU.

use std::collections::BTreeMap;
use std::fs;
use std::io;

use anyhow::{anyhow, Context, Result};
use serde::Serialize;

use crate::root::Root;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReasonStats {
    /// The kernel's name (`demotion`, `numa_misplaced`, ...) or `unknown`
    /// (a kernel that does not tell the migrator).
    pub reason: String,
    pub batches: u64,
    pub folios: u64,
    pub folios_copied: u64,
    pub bytes_copied: u64,
    pub folios_failed: u64,
    /// Batches declined to the CPU, by cause (`small`, `busy`,
    /// `not_abortable`, `unhealthy`, `memory`).
    pub declined: BTreeMap<String, u64>,
}

impl ReasonStats {
    pub fn declined_total(&self) -> u64 {
        self.declined.values().sum()
    }
}

/// Every row the module shows, in the kernel's order (the file names sorted
/// would lose it, so the enum order is taken from `reasons_available`'s
/// vocabulary where known). `None` for a module without the directory.
pub fn read(root: &Root) -> Result<Option<Vec<ReasonStats>>> {
    let dir = root.module_dir().join("reasons");
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    let mut rows = Vec::new();
    for e in entries {
        let e = e.with_context(|| format!("reading {}", dir.display()))?;
        let name = e.file_name().to_string_lossy().into_owned();
        let path = e.path();
        let text =
            fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        rows.push(parse(&name, &text).with_context(|| format!("{}", path.display()))?);
    }
    rows.sort_by_key(|r| order(&r.reason));
    Ok(Some(rows))
}

/// `enum migrate_reason` order, `unknown` last.
fn order(reason: &str) -> (usize, String) {
    let i = crate::module::V6_MAINLINE_REASONS
        .iter()
        .position(|n| *n == reason)
        .unwrap_or(usize::MAX);
    (i, reason.to_string())
}

/// `name value` lines; names this version does not know are skipped (a
/// newer module may add some), `declined_<cause>` are gathered.
pub fn parse(reason: &str, text: &str) -> Result<ReasonStats> {
    let mut r = ReasonStats {
        reason: reason.to_string(),
        ..Default::default()
    };
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let (k, v) = line
            .split_once(' ')
            .ok_or_else(|| anyhow!("line {}: {line:?} is not `name value`", i + 1))?;
        let v: u64 = v
            .trim()
            .parse()
            .map_err(|_| anyhow!("line {}: {k} {v:?} is not a number", i + 1))?;
        match k {
            "batches" => r.batches = v,
            "folios" => r.folios = v,
            "folios_copied" => r.folios_copied = v,
            "bytes_copied" => r.bytes_copied = v,
            "folios_failed" => r.folios_failed = v,
            _ => {
                if let Some(cause) = k.strip_prefix("declined_") {
                    r.declined.insert(cause.to_string(), v);
                }
            }
        }
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_row() {
        let t = "batches 12\nfolios 6144\nfolios_copied 6000\nbytes_copied 24576000\n\
                 folios_failed 144\ndeclined_small 1\ndeclined_memory 2\nlater 5\n";
        let r = parse("demotion", t).unwrap();
        assert_eq!((r.batches, r.folios, r.folios_copied), (12, 6144, 6000));
        assert_eq!((r.bytes_copied, r.folios_failed), (24576000, 144));
        assert_eq!(r.declined["small"], 1);
        assert_eq!(r.declined["memory"], 2);
        assert_eq!(r.declined_total(), 3);
    }

    #[test]
    fn rejects_malformed_rows() {
        assert!(parse("x", "batches\n").is_err());
        assert!(parse("x", "batches many\n").is_err());
        assert!(parse("x", "").unwrap().batches == 0);
    }

    #[test]
    fn orders_as_the_kernel() {
        let mut v = ["unknown", "demotion", "compaction", "numa_misplaced"];
        v.sort_by_key(|r| order(r));
        assert_eq!(v, ["compaction", "numa_misplaced", "demotion", "unknown"]);
    }
}
