//! Facts about the host that the policy's conditions look at.

use std::path::Path;

use anyhow::{bail, Result};
use serde::Serialize;

use crate::policy::KernelVersion;
use crate::root::{Root, BOOT_ID, DEMOTION, MEMORY_TIERING, NODE_DIR, OSRELEASE};
use crate::sysfs;

/// Parse a kernel cpulist/nodelist such as `0-3,8,10-11`.
pub fn parse_list(s: &str) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    if s.is_empty() {
        return Some(out);
    }
    for part in s.split(',') {
        let num = |x: &str| sysfs::parse_u64(x).and_then(|v| u32::try_from(v).ok());
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                if a > b || b - a > 65536 {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(num(part)?),
        }
    }
    Some(out)
}

#[derive(Debug, Clone, Serialize)]
pub struct Numa {
    pub nodes: Vec<u32>,
    /// Nodes with memory and no CPU (`has_memory` minus `has_cpu`), if known.
    pub cpuless_memory_nodes: Option<Vec<u32>>,
}

fn read_list(path: &Path, name: &str) -> Result<Vec<u32>> {
    let s = sysfs::read_raw(path, name)?;
    match parse_list(&s) {
        Some(v) => Ok(v),
        None => bail!("{name} ({}) is not a node list: {s:?}", path.display()),
    }
}

pub fn numa(root: &Root) -> Result<Numa> {
    let dir = root.path(NODE_DIR);
    let mut nodes = Vec::new();
    if dir.is_dir() {
        for n in sysfs::list_dir(&dir)? {
            if let Some(id) = n.strip_prefix("node").and_then(sysfs::parse_u64) {
                nodes.push(id as u32);
            }
        }
    }
    nodes.sort_unstable();
    let (mem, cpu) = (dir.join("has_memory"), dir.join("has_cpu"));
    let cpuless = if mem.exists() && cpu.exists() {
        let cpu = read_list(&cpu, "has_cpu")?;
        Some(
            read_list(&mem, "has_memory")?
                .into_iter()
                .filter(|n| !cpu.contains(n))
                .collect(),
        )
    } else {
        None
    };
    Ok(Numa {
        nodes,
        cpuless_memory_nodes: cpuless,
    })
}

pub fn kernel_release(root: &Root) -> Result<String> {
    sysfs::read_raw(&root.path(OSRELEASE), "osrelease")
}

pub fn kernel_version(root: &Root) -> Result<KernelVersion> {
    let rel = kernel_release(root)?;
    match KernelVersion::parse_release(&rel) {
        Some(v) => Ok(v),
        None => bail!("cannot parse kernel release {rel:?}"),
    }
}

pub fn boot_id(root: &Root) -> Result<String> {
    let id = sysfs::read_raw(&root.path(BOOT_ID), "boot_id")?;
    let ok = id.len() == 36 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    if !ok {
        bail!("boot_id is malformed: {id:?}");
    }
    Ok(id)
}

/// The memory tiers that hold memory (`memory_tierN/nodelist` not empty);
/// `None` when the kernel has no memory tiering (no such directory).
pub fn memory_tiers(root: &Root) -> Result<Option<usize>> {
    let dir = root.path(MEMORY_TIERING);
    if !dir.is_dir() {
        return Ok(None);
    }
    let mut n = 0;
    for t in sysfs::list_dir(&dir)? {
        if !t.starts_with("memory_tier") {
            continue;
        }
        let list = dir.join(&t).join("nodelist");
        if !read_list(&list, "nodelist")?.is_empty() {
            n += 1;
        }
    }
    Ok(Some(n))
}

/// `/sys/kernel/mm/numa/demotion_enabled`: `None` when the file is absent.
pub fn demotion_enabled(root: &Root) -> Result<Option<bool>> {
    match sysfs::read_optional(&root.path(DEMOTION), "demotion_enabled")?.as_deref() {
        None => Ok(None),
        Some("true") | Some("1") => Ok(Some(true)),
        Some("false") | Some("0") => Ok(Some(false)),
        Some(other) => bail!("demotion_enabled is neither true nor false: {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_lists() {
        assert_eq!(parse_list("0-2,5"), Some(vec![0, 1, 2, 5]));
        assert_eq!(parse_list(""), Some(vec![]));
        assert_eq!(parse_list("1"), Some(vec![1]));
        assert_eq!(parse_list("3-1"), None);
        assert_eq!(parse_list("a"), None);
        assert_eq!(parse_list("1,,2"), None);
    }
}
