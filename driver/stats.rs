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
/// The part of `SETUP_NS` spent building the scatter-gather tables of the
/// batch's folios and mapping them on the engine's device.
pub(crate) static MAP_NS: Counter = Counter::new();

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
/// Held channels let go because their provider went away (removal.rs).
pub(crate) static CHANNELS_REMOVED: Counter = Counter::new();
/// Batches whose destinations were compared with their sources after the
/// engine said done (verify.rs), and the folios that differed.
pub(crate) static VERIFIED_BATCHES: Counter = Counter::new();
pub(crate) static VERIFY_MISMATCHES: Counter = Counter::new();

/// Why a batch was declined (its folios copied by the CPU, no failure).
#[derive(Clone, Copy)]
pub(crate) enum Decline {
    /// Below `min_batch_bytes` or `min_folio_bytes`.
    Small,
    /// Every channel leased by other batches.
    Busy,
    /// A no-wait call, and a leased channel cannot be aborted.
    NotAbortable,
    /// No healthy channel left (offloading paused).
    Unhealthy,
    /// An allocation the batch needed failed.
    Memory,
}

impl Decline {
    const COUNT: usize = 5;
    const NAMES: [&'static str; Self::COUNT] =
        ["small", "busy", "not_abortable", "unhealthy", "memory"];
}

/// What became of the batches of one migration reason, shown as
/// /sys/module/dcbm/reasons/<reason> in the flat keyed format of cgroup's
/// `memory.stat` (one `name value` line each); a write resets the row.
/// Its methods are where a batch's outcome is counted: each also adds to
/// the module's totals above (`folios_*`, `bytes_migrated`, the engine's
/// decline counters), so that the two never disagree.
pub(crate) struct ReasonRow {
    /// Batches offered, and their folios.
    batches: Counter,
    folios: Counter,
    /// Folios and bytes an engine copied.
    folios_copied: Counter,
    bytes_copied: Counter,
    /// Folios of failed batches left to the CPU.
    folios_failed: Counter,
    /// Batches declined, by cause.
    declined: [Counter; Decline::COUNT],
}

impl ReasonRow {
    const fn new() -> Self {
        Self {
            batches: Counter::new(),
            folios: Counter::new(),
            folios_copied: Counter::new(),
            bytes_copied: Counter::new(),
            folios_failed: Counter::new(),
            declined: [const { Counter::new() }; Decline::COUNT],
        }
    }

    pub(crate) fn offered(&self, folios: u64) {
        self.batches.add(1);
        self.folios.add(folios);
    }

    /// `folios` (`bytes` in all) an engine copied.
    pub(crate) fn copied(&self, folios: u64, bytes: u64) {
        FOLIOS_MIGRATED.add(folios);
        BYTES_MIGRATED.add(bytes);
        self.folios_copied.add(folios);
        self.bytes_copied.add(bytes);
    }

    /// `folios` of a failed batch, left to the CPU.
    pub(crate) fn failed(&self, folios: u64) {
        FOLIOS_FAILURES.add(folios);
        self.folios_failed.add(folios);
    }

    /// A batch of `folios` declined before anything was submitted.
    pub(crate) fn declined(&self, why: Decline, folios: u64) {
        match why {
            Decline::Small => (),
            Decline::Busy => BUSY_DECLINES.add(1),
            Decline::NotAbortable => NOWAIT_DECLINES.add(1),
            Decline::Unhealthy => HEALTH_DECLINES.add(1),
            Decline::Memory => MEMORY_DECLINES.add(1),
        }
        FOLIOS_DECLINED.add(folios);
        self.declined[why as usize].add(1);
    }

    pub(crate) fn show(&self, f: &mut impl core::fmt::Write) -> core::fmt::Result {
        write!(
            f,
            "batches {}\nfolios {}\nfolios_copied {}\nbytes_copied {}\nfolios_failed {}",
            self.batches.get(),
            self.folios.get(),
            self.folios_copied.get(),
            self.bytes_copied.get(),
            self.folios_failed.get()
        )?;
        for (name, c) in Decline::NAMES.iter().zip(&self.declined) {
            write!(f, "\ndeclined_{} {}", name, c.get())?;
        }
        Ok(())
    }

    pub(crate) fn reset(&self) {
        let all = [
            &self.batches,
            &self.folios,
            &self.folios_copied,
            &self.bytes_copied,
            &self.folios_failed,
        ];
        for c in all.into_iter().chain(&self.declined) {
            c.reset();
        }
    }
}

/// A row per `enum migrate_reason` value, in enum order, and a last one
/// for batches whose reason the kernel does not tell (the series as
/// posted).
pub(crate) static BY_REASON: [ReasonRow; crate::reasons::ROWS] =
    [const { ReasonRow::new() }; crate::reasons::ROWS];

/// The row of reason `reason` (`DCBM_REASON_UNKNOWN` or any value the
/// kernel should not pass: the last row).
pub(crate) fn reason_row(reason: u32) -> &'static ReasonRow {
    &BY_REASON[(reason as usize).min(BY_REASON.len() - 1)]
}

/// Batches declined because an allocation they needed failed (a no-wait
/// call under memory pressure allocates with GFP_NOWAIT).
pub(crate) static MEMORY_DECLINES: Counter = Counter::new();
