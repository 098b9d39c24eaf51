// SPDX-License-Identifier: GPL-2.0

//! The module's tunable state: whether the migrator is registered, the
//! channels it holds, and the knobs a batch reads.
//!
//! `CONTROL` serialises enable, disable and resize. The copy path never
//! takes it: unregistering waits for copies in flight while holding it,
//! so copies read the channel set under the `CHANNELS` spinlock instead.

use crate::channels::ChannelSet;
use crate::ffi;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use kernel::prelude::*;
use kernel::sync::Arc;

pub(crate) const MAX_CHANNELS: u32 = 16;
/// Four channels: a batch leases at most half of them (channels.rs), and
/// two channels per batch halved the copy time of a THP batch on the test
/// bed (README "Performance"), while the other two stay free for a
/// concurrent batch.
pub(crate) const DEFAULT_NR_CHAN: u32 = 4;
pub(crate) const DEFAULT_TIMEOUT_MS: u32 = 10_000;
pub(crate) const MAX_TIMEOUT_MS: u32 = 600_000;
/// Batches below this are declined; see README "Performance" for the
/// measurements behind the default (a full migration batch is 2 MiB).
pub(crate) const DEFAULT_MIN_BATCH_BYTES: u64 = 2 << 20;
/// Batches whose largest folio is below this are declined: the cost of
/// the offload path is per folio, and 4 KiB folios lost to the CPU copy in
/// every measurement (ours and the series' own, on PTDMA).
pub(crate) const DEFAULT_MIN_FOLIO_BYTES: u64 = 2 << 20;
pub(crate) const MAX_MIN_BYTES: u64 = 1 << 30;

pub(crate) struct Control {
    pub(crate) enabled: bool,
    pub(crate) nr_chan: u32,
}

kernel::sync::global_lock! {
    // SAFETY: initialised in `init()` before any other use.
    pub(crate) unsafe(uninit) static CONTROL: Mutex<Control> = Control {
        enabled: false,
        nr_chan: DEFAULT_NR_CHAN,
    };
}

kernel::sync::global_lock! {
    // SAFETY: initialised in `init()` before any other use.
    unsafe(uninit) static CHANNELS: SpinLock<Option<Arc<ChannelSet>>> = None;
}

static TIMEOUT_MS: AtomicU32 = AtomicU32::new(DEFAULT_TIMEOUT_MS);
static MIN_BATCH_BYTES: AtomicU64 = AtomicU64::new(DEFAULT_MIN_BATCH_BYTES);
static MIN_FOLIO_BYTES: AtomicU64 = AtomicU64::new(DEFAULT_MIN_FOLIO_BYTES);

/// Initialises the locks; called once from module init.
pub(crate) fn init() {
    // SAFETY: called once, before any use of the locks.
    unsafe {
        CONTROL.init();
        CHANNELS.init();
    }
}

/// The channel set of a batch about to start, if offloading is enabled.
pub(crate) fn channels() -> Option<Arc<ChannelSet>> {
    CHANNELS.lock().clone()
}

/// Swaps the channel set; the old one is dropped outside the spinlock,
/// since releasing channels sleeps.
fn replace_channels(new: Option<Arc<ChannelSet>>) {
    let old = core::mem::replace(&mut *CHANNELS.lock(), new);
    drop(old);
}

pub(crate) fn timeout_ms() -> u32 {
    TIMEOUT_MS.load(Ordering::Relaxed)
}

pub(crate) fn set_timeout_ms(v: u32) -> Result {
    if !(1..=MAX_TIMEOUT_MS).contains(&v) {
        return Err(EINVAL);
    }
    TIMEOUT_MS.store(v, Ordering::Relaxed);
    Ok(())
}

pub(crate) fn min_batch_bytes() -> u64 {
    MIN_BATCH_BYTES.load(Ordering::Relaxed)
}

pub(crate) fn set_min_batch_bytes(v: u64) -> Result {
    store_bounded(&MIN_BATCH_BYTES, v)
}

pub(crate) fn min_folio_bytes() -> u64 {
    MIN_FOLIO_BYTES.load(Ordering::Relaxed)
}

pub(crate) fn set_min_folio_bytes(v: u64) -> Result {
    store_bounded(&MIN_FOLIO_BYTES, v)
}

fn store_bounded(knob: &AtomicU64, v: u64) -> Result {
    if v > MAX_MIN_BYTES {
        return Err(EINVAL);
    }
    knob.store(v, Ordering::Relaxed);
    Ok(())
}

/// Registers or unregisters the migrator. Enabling acquires the channels
/// first and fails with ENODEV, leaving offloading off, if there is none.
pub(crate) fn set_offloading(enable: bool) -> Result {
    let mut c = CONTROL.lock();
    if enable == c.enabled {
        return Ok(());
    }
    if enable {
        let set = ChannelSet::acquire(c.nr_chan as usize, None)?;
        replace_channels(Some(set));
        // SAFETY: the migrator is static and not registered (`enabled`
        // is false under `CONTROL`).
        let rc = unsafe { ffi::dcbm_migrator_register() };
        if rc != 0 {
            replace_channels(None);
            return Err(Error::from_errno(rc));
        }
    } else {
        // SAFETY: registered (`enabled` is true under `CONTROL`). Returns
        // once no copy runs any more.
        unsafe { ffi::dcbm_migrator_unregister() };
        replace_channels(None);
    }
    c.enabled = enable;
    Ok(())
}

/// Sets the channel count; when enabled, resizes the held set at once.
pub(crate) fn set_nr_chan(n: u32) -> Result {
    if !(1..=MAX_CHANNELS).contains(&n) {
        return Err(EINVAL);
    }
    let mut c = CONTROL.lock();
    if c.enabled {
        let prev = channels();
        let set = ChannelSet::acquire(n as usize, prev.as_deref())?;
        replace_channels(Some(set));
    }
    c.nr_chan = n;
    Ok(())
}
