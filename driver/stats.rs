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
