//! NUMA system calls (raw `syscall(2)`, no libnuma) and sysfs node listing.

use std::ffi::c_void;
use std::io;
use std::path::Path;

pub const MPOL_DEFAULT: i32 = 0;
pub const MPOL_PREFERRED: i32 = 1;
pub const MPOL_BIND: i32 = 2;
/// `MPOL_MF_MOVE`: move pages mapped only by this process.
pub const MPOL_MF_MOVE: i32 = 1 << 1;

/// Highest node number (exclusive) this tool handles.
pub const MAX_NODES: u32 = 64;

const SYSFS_NODES: &str = "/sys/devices/system/node";

/// A node mask understood by mbind/migrate_pages.
///
/// The kernel decrements `maxnode` before use (historic off-by-one), so we
/// pass `64 + 1` and it reads exactly one `u64`; the second word is slack.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeMask {
    bits: [u64; 2],
}

impl NodeMask {
    pub fn single(node: u32) -> Self {
        assert!(node < MAX_NODES, "node {node} out of range");
        NodeMask {
            bits: [1u64 << node, 0],
        }
    }

    pub fn maxnode(&self) -> libc::c_ulong {
        libc::c_ulong::from(MAX_NODES) + 1
    }

    pub fn as_ptr(&self) -> *const libc::c_ulong {
        self.bits.as_ptr().cast()
    }
}

fn check(ret: libc::c_long) -> io::Result<libc::c_long> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// `mbind(2)` on `[addr, addr+len)`. `mask = None` is only valid with
/// `MPOL_DEFAULT`.
pub fn mbind(addr: *mut c_void, len: usize, mode: i32, mask: Option<&NodeMask>) -> io::Result<()> {
    let (ptr, maxnode) = match mask {
        Some(m) => (m.as_ptr(), m.maxnode()),
        None => (std::ptr::null(), 0),
    };
    // SAFETY: mbind only reads `maxnode - 1` bits from `ptr`, which points to
    // a live NodeMask of 128 bits (or is NULL with maxnode 0). It changes the
    // policy of the caller-owned range and never writes to user memory.
    let ret = unsafe { libc::syscall(libc::SYS_mbind, addr, len, mode, ptr, maxnode, 0u32) };
    check(ret).map(|_| ())
}

/// `move_pages(2)` for the calling process.
///
/// With `nodes = Some(..)` each page is moved to the corresponding node; with
/// `None` nothing moves and `status` receives the node of each page (or a
/// negative errno). Returns the kernel's count of pages it could not migrate.
pub fn move_pages(
    pages: &[*mut c_void],
    nodes: Option<&[i32]>,
    status: &mut [i32],
    flags: i32,
) -> io::Result<usize> {
    assert!(status.len() >= pages.len(), "status buffer too small");
    let nodes_ptr = match nodes {
        Some(n) => {
            assert!(n.len() >= pages.len(), "nodes buffer too small");
            n.as_ptr()
        }
        None => std::ptr::null(),
    };
    // SAFETY: `pages` (and `nodes` when non-NULL) hold at least `pages.len()`
    // readable entries and `status` has room for `pages.len()` writable ints;
    // all three slices outlive the call. The page addresses themselves are
    // only looked up by the kernel (bad addresses yield -EFAULT in status),
    // and migration preserves page contents.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_move_pages,
            0 as libc::pid_t,
            pages.len() as libc::c_ulong,
            pages.as_ptr(),
            nodes_ptr,
            status.as_mut_ptr(),
            flags,
        )
    };
    check(ret).map(|n| n as usize)
}

/// `migrate_pages(2)` for the calling process: move every page of the
/// process that is on a node of `from` to `to`. Returns the kernel's count of
/// pages it could not move.
pub fn migrate_pages(from: &NodeMask, to: &NodeMask) -> io::Result<usize> {
    // SAFETY: both masks are live 128-bit buffers and the kernel reads at
    // most `maxnode - 1` = 64 bits from each; nothing is written to user
    // memory and page contents are preserved by migration.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_migrate_pages,
            0 as libc::pid_t,
            from.maxnode(),
            from.as_ptr(),
            to.as_ptr(),
        )
    };
    check(ret).map(|n| n as usize)
}

/// Parse a kernel node/cpu list such as `0-3,5,7-8`.
pub fn parse_list(s: &str) -> Option<Vec<u32>> {
    let mut out = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (u32, u32) = (a.parse().ok()?, b.parse().ok()?);
                if a > b {
                    return None;
                }
                out.extend(a..=b);
            }
            None => out.push(part.parse().ok()?),
        }
    }
    Some(out)
}

/// `(MemTotal, MemFree)` in KiB from a `nodeN/meminfo` file.
pub fn parse_meminfo(text: &str) -> (Option<u64>, Option<u64>) {
    let field = |name: &str| {
        text.lines().find_map(|l| {
            let rest = l.split_once(name)?.1;
            let rest = rest.trim_start().strip_prefix(':')?;
            rest.split_whitespace().next()?.parse().ok()
        })
    };
    (field("MemTotal"), field("MemFree"))
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeInfo {
    pub node: u32,
    pub cpus: String,
    pub mem_total_kib: Option<u64>,
    pub mem_free_kib: Option<u64>,
}

/// Nodes listed in sysfs, or `None` when sysfs has no node directory
/// (not mounted, or a kernel without NUMA).
pub fn list_nodes() -> Option<Vec<NodeInfo>> {
    let dir = std::fs::read_dir(SYSFS_NODES).ok()?;
    let mut nodes: Vec<NodeInfo> = dir
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let node: u32 = name.strip_prefix("node")?.parse().ok()?;
            let base = e.path();
            let cpus = std::fs::read_to_string(base.join("cpulist"))
                .map(|s| s.trim().to_string())
                .unwrap_or_default();
            let (mem_total_kib, mem_free_kib) = std::fs::read_to_string(base.join("meminfo"))
                .map(|t| parse_meminfo(&t))
                .unwrap_or((None, None));
            Some(NodeInfo {
                node,
                cpus,
                mem_total_kib,
                mem_free_kib,
            })
        })
        .collect();
    nodes.sort_by_key(|n| n.node);
    Some(nodes)
}

/// Nodes that have memory, from sysfs (`None` if unknown).
pub fn nodes_with_memory() -> Option<Vec<u32>> {
    let s = std::fs::read_to_string(Path::new(SYSFS_NODES).join("has_memory")).ok()?;
    parse_list(&s)
}

/// Why `node` cannot be used as a migration source/target, if sysfs says so.
pub fn node_problem(
    node: u32,
    with_memory: Option<&[u32]>,
    online: Option<&[u32]>,
) -> Option<String> {
    if node >= MAX_NODES {
        return Some(format!(
            "node {node} is out of range (max {})",
            MAX_NODES - 1
        ));
    }
    if let Some(online) = online {
        if !online.contains(&node) {
            return Some(missing_node_message(node));
        }
    }
    if let Some(mem) = with_memory {
        if !mem.contains(&node) {
            return Some(format!(
                "node {node} has no memory: the guest needs 2 NUMA nodes with memory"
            ));
        }
    }
    None
}

/// Check `node` against the live sysfs view.
pub fn check_node(node: u32) -> Result<(), String> {
    let online = std::fs::read_to_string(Path::new(SYSFS_NODES).join("online"))
        .ok()
        .and_then(|s| parse_list(&s));
    let mem = nodes_with_memory();
    match node_problem(node, mem.as_deref(), online.as_deref()) {
        Some(msg) => Err(msg),
        None => Ok(()),
    }
}

pub fn missing_node_message(node: u32) -> String {
    format!("node {node} does not exist: the guest needs 2 NUMA nodes")
}

/// Human hint for an errno returned by a NUMA syscall that targeted `node`.
pub fn errno_hint(err: &io::Error, node: u32) -> Option<String> {
    match err.raw_os_error() {
        Some(libc::ENODEV) | Some(libc::EINVAL) if check_node(node).is_err() => {
            check_node(node).err()
        }
        Some(libc::ENODEV) => Some(format!("node {node} is not usable (ENODEV)")),
        Some(libc::ENOSYS) => Some("kernel built without CONFIG_NUMA/CONFIG_MIGRATION".to_string()),
        Some(libc::EPERM) => Some("permission denied (needs CAP_SYS_NICE?)".to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_parsing() {
        assert_eq!(parse_list("0\n"), Some(vec![0]));
        assert_eq!(parse_list("0-1"), Some(vec![0, 1]));
        assert_eq!(parse_list("0-2,5,7-8"), Some(vec![0, 1, 2, 5, 7, 8]));
        assert_eq!(parse_list(""), Some(vec![]));
        assert_eq!(parse_list("3-1"), None);
        assert_eq!(parse_list("x"), None);
    }

    #[test]
    fn meminfo_parsing() {
        let t = "Node 1 MemTotal:        1048576 kB\nNode 1 MemFree:          987654 kB\nNode 1 MemUsed:           61000 kB\n";
        assert_eq!(parse_meminfo(t), (Some(1_048_576), Some(987_654)));
        assert_eq!(parse_meminfo("garbage"), (None, None));
    }

    #[test]
    fn node_problems() {
        assert_eq!(node_problem(0, Some(&[0, 1]), Some(&[0, 1])), None);
        assert_eq!(node_problem(1, None, None), None);
        let m = node_problem(1, Some(&[0]), Some(&[0])).unwrap();
        assert_eq!(m, "node 1 does not exist: the guest needs 2 NUMA nodes");
        let m = node_problem(1, Some(&[0]), Some(&[0, 1])).unwrap();
        assert!(m.contains("no memory"), "{m}");
        assert!(node_problem(64, None, None)
            .unwrap()
            .contains("out of range"));
    }

    #[test]
    fn mask_layout() {
        let m = NodeMask::single(1);
        assert_eq!(m.bits, [2, 0]);
        assert_eq!(m.maxnode(), 65);
    }

    #[test]
    fn query_own_stack_page() {
        let mut x = [1u8; 64];
        std::hint::black_box(&mut x);
        let page = ((x.as_mut_ptr() as usize) & !4095) as *mut c_void;
        let mut status = [-1000i32];
        match move_pages(&[page], None, &mut status, 0) {
            Ok(_) => assert!(status[0] >= 0, "status {}", status[0]),
            Err(e) => assert_eq!(e.raw_os_error(), Some(libc::ENOSYS)),
        }
    }

    #[test]
    fn missing_node_errno_is_explained() {
        if check_node(1).is_ok() {
            return; // a real 2-node machine: nothing to check here
        }
        let mut x = [1u8; 64];
        std::hint::black_box(&mut x);
        let page = ((x.as_mut_ptr() as usize) & !4095) as *mut c_void;
        let mut status = [0i32];
        let err = move_pages(&[page], Some(&[1]), &mut status, MPOL_MF_MOVE).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ENODEV));
        assert_eq!(errno_hint(&err, 1).unwrap(), missing_node_message(1));
        let err = migrate_pages(&NodeMask::single(0), &NodeMask::single(1)).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
        assert_eq!(errno_hint(&err, 1).unwrap(), missing_node_message(1));
    }
}
