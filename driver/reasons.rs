// SPDX-License-Identifier: GPL-2.0

//! The migration reasons whose batches the core offers to the migrator.
//!
//! On a v6 kernel the migrator registers with a mask over every `enum
//! migrate_reason` and may change it at any time; parsing is the kernel's
//! own (`migrate_offload_reason_mask_parse()`: names, `all`, `none`,
//! numbers). The v5 interface offers a fixed set (compaction,
//! `move_pages`/cpuset, NUMA balancing, demotion) that no migrator can
//! change: the mask reads that set, and a write fails with EOPNOTSUPP.

use crate::ffi;
use core::sync::atomic::{AtomicU64, Ordering};
use kernel::bindings;
use kernel::ffi::c_ulong;
use kernel::prelude::*;

/// Bit `n` stands for `enum migrate_reason` value `n`.
pub(crate) type Mask = u64;

/// `migrate_reason_names[]` of the kernel (mm/debug.c, not exported), in
/// enum order, then the name of the statistics row (stats.rs) of batches
/// whose reason the kernel does not tell.
pub(crate) const NAMES: [&CStr; ROWS] = [
    c"compaction",
    c"memory_failure",
    c"memory_hotplug",
    c"syscall_or_cpuset",
    c"mempolicy_mbind",
    c"numa_misplaced",
    c"contig_range",
    c"longterm_pin",
    c"demotion",
    c"damon",
    c"never_migrated",
    c"unknown",
];

/// The kernel's reasons and the unknown one. A kernel with another set of
/// reasons fails to build here.
pub(crate) const ROWS: usize = bindings::migrate_reason_MR_TYPES as usize + 1;
const _: () = assert!(ffi::DCBM_REASON_UNKNOWN as usize == ROWS - 1);

/// Whether the kernel has the v6 interface (decided when the C side was
/// compiled against the kernel's header).
pub(crate) fn is_v6() -> bool {
    // SAFETY: no preconditions.
    unsafe { ffi::dcbm_interface_v6() }
}

/// The offload interface this module was built for.
pub(crate) fn interface() -> &'static str {
    if is_v6() {
        "v6"
    } else {
        "v5"
    }
}

/// The reasons this kernel can offer.
pub(crate) fn available() -> Mask {
    // SAFETY: no preconditions.
    (unsafe { ffi::dcbm_reasons_available() }) as u64
}

/// Not yet set: offer every reason the kernel can (v6's default).
const UNSET: Mask = Mask::MAX;

/// The mask asked for (v6), `UNSET` until a write.
static MASK: AtomicU64 = AtomicU64::new(UNSET);

/// The reasons offered (or, while unregistered, to be offered).
pub(crate) fn mask() -> Mask {
    MASK.load(Ordering::Relaxed) & available()
}

/// A write to `reason_mask`, by the kernel's parser (control.rs applies
/// it).
pub(crate) fn parse_mask(buf: &CStr) -> Result<Mask> {
    if !is_v6() {
        return Err(EOPNOTSUPP);
    }
    // The kernel's parser clamps a number to the reasons it knows: refuse
    // one naming others instead, so that a typo changes nothing.
    if let Ok(n) = crate::input::number::<u64>(buf) {
        if n & !available() != 0 {
            return Err(EINVAL);
        }
    }
    let mut m: c_ulong = 0;
    // SAFETY: `buf` is NUL-terminated; `m` is a valid out-pointer.
    kernel::error::to_result(unsafe { ffi::dcbm_reason_mask_parse(buf.as_char_ptr(), &mut m) })?;
    Ok(m as Mask)
}

/// Records `m` as the mask asked for (offered at the next registration;
/// control.rs tells the core at once when registered).
pub(crate) fn store_mask(m: Mask) {
    MASK.store(m, Ordering::Relaxed);
}

/// A mask as the kernel formats it: `a,b` in enum order, or `none`.
pub(crate) struct Names(pub(crate) Mask);

impl core::fmt::Display for Names {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.0 == 0 {
            return f.write_str("none");
        }
        let mut sep = "";
        for (i, name) in NAMES[..ROWS - 1].iter().enumerate() {
            if self.0 & (1 << i) != 0 {
                write!(f, "{sep}{}", name.to_str().map_err(|_| core::fmt::Error)?)?;
                sep = ",";
            }
        }
        Ok(())
    }
}
