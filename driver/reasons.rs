// SPDX-License-Identifier: GPL-2.0

//! The migration reasons whose batches the core offers to the migrator.
//!
//! The v5 interface offers a fixed set (compaction, `move_pages`/cpuset,
//! NUMA balancing, demotion) that no migrator can change: the mask reads
//! that set, and a write fails with EOPNOTSUPP.

use kernel::bindings;
use kernel::prelude::*;

/// The offload interface this module was built for.
pub(crate) const INTERFACE: &str = "v5";

/// Bit `n` stands for `enum migrate_reason` value `n`.
pub(crate) type Mask = u64;

/// `migrate_reason_names[]` of the kernel (mm/debug.c, not exported), in
/// enum order.
const NAMES: [&str; 11] = [
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
    "never_migrated",
];

// A kernel with another set of reasons fails to build here.
const _: () = assert!(NAMES.len() == bindings::migrate_reason_MR_TYPES as usize);

const fn bit(reason: bindings::migrate_reason) -> Mask {
    1 << reason
}

/// The reasons the v5 core offers, always.
fn v5_fixed() -> Mask {
    bit(bindings::migrate_reason_MR_COMPACTION)
        | bit(bindings::migrate_reason_MR_SYSCALL)
        | bit(bindings::migrate_reason_MR_NUMA_MISPLACED)
        | bit(bindings::migrate_reason_MR_DEMOTION)
}

/// The reasons this kernel can offer.
pub(crate) fn available() -> Mask {
    v5_fixed()
}

/// The reasons offered now.
pub(crate) fn mask() -> Mask {
    v5_fixed()
}

/// A write to `reason_mask`: v5 cannot change the set.
pub(crate) fn set_mask(_buf: &CStr) -> Result {
    Err(EOPNOTSUPP)
}

/// A mask as the kernel formats it: `a,b` in enum order, or `none`.
pub(crate) struct Names(pub(crate) Mask);

impl core::fmt::Display for Names {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.0 == 0 {
            return f.write_str("none");
        }
        let mut sep = "";
        for (i, name) in NAMES.iter().enumerate() {
            if self.0 & (1 << i) != 0 {
                write!(f, "{sep}{name}")?;
                sep = ",";
            }
        }
        Ok(())
    }
}
