// SPDX-License-Identifier: GPL-2.0

//! What the migration core allows one `offload_copy()` call: a call from
//! reclaim or direct compaction may neither sleep in an allocation nor
//! take longer than 100 ms, and must leave no copy running when it
//! returns; any other call may allocate with GFP_KERNEL (in a
//! memalloc_noio scope) and wait up to `timeout_ms`. The test bed's patch 6
//! states the rule in the kernel's header (`migrate_offload_nowait()`,
//! `MIGRATE_OFFLOAD_NOWAIT_MS`) and times such calls; on the series as
//! posted, which has no such rule, dcbm_shim.c reads the caller's
//! PF_MEMALLOC itself and keeps the same bound (`caller_rule`).

use crate::ffi;
use kernel::alloc::Flags;
use kernel::bindings;
use kernel::prelude::*;

/// How one call may allocate, and how long it may take.
#[derive(Clone, Copy)]
pub(crate) struct CallCtx {
    /// For the kernel crate's allocations. (Its `Flags` cannot say
    /// `__GFP_NOMEMALLOC`; those allocations are small.)
    pub(crate) gfp: Flags,
    /// For the raw allocations (scatter-gather tables, the largest).
    pub(crate) raw_gfp: bindings::gfp_t,
    /// The batch's time limit, from its start.
    pub(crate) timeout_ms: u32,
    /// A no-wait call: only channels that can be aborted may be used, so
    /// that nothing runs on when the time is up.
    pub(crate) nowait: bool,
}

/// Where the caller-context rule comes from: `kernel` (the header's
/// `migrate_offload_nowait()`) or `dcbm` (the series as posted: dcbm reads
/// the task's PF_MEMALLOC itself).
pub(crate) fn caller_rule() -> &'static str {
    // SAFETY: no preconditions.
    if unsafe { ffi::dcbm_caller_rule_in_kernel() } {
        "kernel"
    } else {
        "dcbm"
    }
}

impl CallCtx {
    /// The context of the call being made by the current task.
    pub(crate) fn current(timeout_ms: u32) -> Self {
        // SAFETY: reads the current task's flags only.
        if unsafe { ffi::dcbm_offload_nowait() } {
            // SAFETY: no preconditions.
            let (limit, raw_gfp) = unsafe { (ffi::dcbm_nowait_ms(), ffi::dcbm_nowait_gfp()) };
            // A quarter of the core's bound, from the call's start, for
            // mapping, submitting and waiting; the rest for aborting and
            // unmapping. (Three quarters overran on the test bed, 107 ms
            // in all, and half did too, 120 ms: TCG on a loaded host,
            // dcbm-nowait.) A batch that a real engine has not finished in
            // 25 ms is stuck anyway.
            Self {
                gfp: GFP_NOWAIT | __GFP_NOWARN,
                raw_gfp,
                timeout_ms: timeout_ms.min(limit / 4).max(1),
                nowait: true,
            }
        } else {
            Self::worker(timeout_ms)
        }
    }

    /// A call that may sleep and allocate freely (a migration from
    /// process context, the prober's worker).
    pub(crate) fn worker(timeout_ms: u32) -> Self {
        Self {
            gfp: GFP_KERNEL,
            raw_gfp: bindings::GFP_KERNEL,
            timeout_ms,
            nowait: false,
        }
    }
}
