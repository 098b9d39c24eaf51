// SPDX-License-Identifier: GPL-2.0

//! Counters shown under /sys/module/dcbm/. Any write resets one to 0.

use core::sync::atomic::{AtomicU64, Ordering};

pub(crate) struct Counter(AtomicU64);

impl Counter {
    pub(crate) const fn new() -> Self {
        Self(AtomicU64::new(0))
    }

    pub(crate) fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// Raises a high-water mark to `v`.
    pub(crate) fn raise(&self, v: u64) {
        self.0.fetch_max(v, Ordering::Relaxed);
    }

    pub(crate) fn reset(&self) {
        self.0.store(0, Ordering::Relaxed);
    }
}

/// Folios whose data a DMA engine copied.
pub(crate) static FOLIOS_MIGRATED: Counter = Counter::new();
/// Folios of batches that failed and were copied by the CPU instead.
pub(crate) static FOLIOS_FAILURES: Counter = Counter::new();
/// Folios of batches declined as too small (copied by the CPU, no failure).
pub(crate) static FOLIOS_DECLINED: Counter = Counter::new();
/// Bytes a DMA engine copied.
pub(crate) static BYTES_MIGRATED: Counter = Counter::new();

/// Batches handed to an engine (declined ones excluded), and the time they
/// spent in each phase: reading the lists, mapping and submitting; waiting
/// for the engine; and tearing down (unmapping, terminating on failure).
/// Together they show the offload path's own cost apart from the copy.
pub(crate) static BATCHES: Counter = Counter::new();
pub(crate) static SETUP_NS: Counter = Counter::new();
pub(crate) static WAIT_NS: Counter = Counter::new();
pub(crate) static TEARDOWN_NS: Counter = Counter::new();
/// The part of `SETUP_NS` spent waiting for the batch's own descriptors to
/// complete (a lane at its in-flight bound, a full pool): the engine's
/// time, not the path's. The path's own cost is setup − this + teardown.
pub(crate) static SUBMIT_WAIT_NS: Counter = Counter::new();

/// How batches met the engine, under /sys/module/dcbm/engine/.
/// Descriptors submitted (a batch's count over `timing/batches` is the
/// descriptors per batch).
pub(crate) static DESCRIPTORS: Counter = Counter::new();
/// Times a batch found the engine's descriptor pool full and waited for
/// one of its own descriptors to complete.
pub(crate) static POOL_WAITS: Counter = Counter::new();
/// Device shares whose source and destination mapped to different numbers
/// of DMA segments (an IOMMU merged them unevenly).
pub(crate) static UNEVEN_MAPS: Counter = Counter::new();
/// Device shares whose mapping had fewer DMA segments than folios (an
/// IOMMU merged them).
pub(crate) static MERGED_MAPS: Counter = Counter::new();
/// Batches declined because every channel was leased by other batches.
pub(crate) static BUSY_DECLINES: Counter = Counter::new();
/// Batches from reclaim or direct compaction declined because a leased
/// channel cannot be aborted (such a call must not leave copies running).
pub(crate) static NOWAIT_DECLINES: Counter = Counter::new();
/// Timed-out batches whose channels were aborted.
pub(crate) static ABORTED: Counter = Counter::new();
/// Timed-out batches that waited for their descriptors to complete, on a
/// channel that cannot be aborted.
pub(crate) static WAITED_OUT: Counter = Counter::new();
/// Batches offered from reclaim or direct compaction (no-wait calls), and
/// the longest such call, in microseconds: the series allows
/// `MIGRATE_OFFLOAD_NOWAIT_MS`.
pub(crate) static NOWAIT_BATCHES: Counter = Counter::new();
pub(crate) static NOWAIT_MAX_US: Counter = Counter::new();
/// Engine health (health.rs): channels taken out of the pool, batches
/// declined because none was left in it (offloading paused), probes run
/// and probes failed.
pub(crate) static CHANNELS_OUT: Counter = Counter::new();
pub(crate) static HEALTH_DECLINES: Counter = Counter::new();
pub(crate) static PROBES: Counter = Counter::new();
pub(crate) static PROBE_FAILURES: Counter = Counter::new();
/// Batches whose destinations were compared with their sources after the
/// engine said done (verify.rs), and the folios that differed.
pub(crate) static VERIFIED_BATCHES: Counter = Counter::new();
pub(crate) static VERIFY_MISMATCHES: Counter = Counter::new();
