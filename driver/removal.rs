// SPDX-License-Identifier: GPL-2.0

//! A provider that goes away while dcbm holds its channels: a device
//! unbound from its driver, a PCI device removed, an idxd work queue
//! disabled. Each of these unregisters the provider's channels, and the
//! provider frees them right after (idxd frees the channel when
//! `dma_async_device_channel_unregister()` returns; ptdma's are devm
//! memory). The dmaengine core does not tell a client, so dcbm watches:
//! a devres action on each held channel's device (`dmaXchanY`), which
//! `device_del()` runs while the channel still exists, with no lock of
//! the dmaengine core held (dcbm_shim.c).
//!
//! An unbind on the platform or PCI bus is seen earlier still, by a bus
//! notifier, before the driver's remove runs ([`Buses`],
//! `control::dcbm_device_unbinding`): the channels of that device are let
//! go the same way, and the core never sees a client at unregistration.
//!
//! The action (`control::dcbm_chan_going`) lets the channel go first:
//! the held set loses it (new batches no longer see it; with none left,
//! offloading turns off), then the channel is leased for good, which
//! waits for the batch or probe on it, and released. The other channels
//! keep offloading. Module exit waits for an action in flight.

use crate::channels::Chan;
use crate::ffi;
use core::sync::atomic::{AtomicU32, Ordering};
use kernel::prelude::*;
use kernel::sync::Arc;

/// Actions started or about to start and not finished: module exit
/// waits for none. An action counts itself when it is the one to clear
/// `watched`; when [`unwatch`] clears it and finds the action already
/// taken off its device's list (`device_del()` is about to run it),
/// `unwatch` counts it.
static GOING: AtomicU32 = AtomicU32::new(0);

/// The bus notifiers, registered while this lives (module init to exit;
/// never under `CONTROL`, which their callback takes).
pub(crate) struct Buses(());

impl Buses {
    pub(crate) fn watch() -> Result<Self> {
        // SAFETY: no preconditions; undone on drop.
        kernel::error::to_result(unsafe { ffi::dcbm_watch_buses() })?;
        Ok(Self(()))
    }
}

impl Drop for Buses {
    fn drop(&mut self) {
        // SAFETY: registered in `watch`; returns once no callback runs.
        unsafe { ffi::dcbm_unwatch_buses() };
    }
}

/// Watches `c`'s provider: the devres action holds a reference to `c`
/// until it runs or [`unwatch`] takes it back. For a channel entering
/// the held set (under `CONTROL`).
pub(crate) fn watch(c: &Arc<Chan>) {
    if !c.held() || c.watched.swap(true, Ordering::AcqRel) {
        return;
    }
    let data = Arc::into_raw(c.clone());
    // SAFETY: `c` is held (checked above, and nothing retires it but the
    // action added here); `data` stays valid until the action runs or
    // `unwatch` takes it back.
    let rc = unsafe { ffi::dcbm_watch_chan(c.as_ptr(), data.cast_mut().cast()) };
    if rc != 0 {
        c.watched.store(false, Ordering::Release);
        // SAFETY: from `Arc::into_raw` above; the action was not added.
        drop(unsafe { Arc::from_raw(data) });
        c.log_health("cannot watch for its provider's removal");
    }
}

/// Stops watching `c`, a channel leaving the held set (under `CONTROL`).
/// When the action has already been taken off (it runs, or is about to),
/// it keeps its reference and lets the channel go itself.
pub(crate) fn unwatch(c: &Arc<Chan>) {
    if !c.watched.swap(false, Ordering::AcqRel) {
        return;
    }
    let data = Arc::as_ptr(c);
    // SAFETY: `watched` was set, so the action had not started (it clears
    // `watched` first) and the channel is held: an action taken off but
    // not run yet is run by `device_del()`, which returns only after it.
    if unsafe { ffi::dcbm_unwatch_chan(c.as_ptr(), data.cast_mut().cast()) } {
        // SAFETY: the action's reference, from `Arc::into_raw` in `watch`;
        // the action was removed, so it will never run.
        drop(unsafe { Arc::from_raw(data) });
    } else {
        GOING.fetch_add(1, Ordering::AcqRel);
    }
}

/// The action's start: takes its reference back from `data` (see
/// [`going_end`]).
///
/// # Safety
/// `data` is the reference [`watch`] gave the action, passed once.
pub(crate) unsafe fn going_begin(data: *mut core::ffi::c_void) -> Arc<Chan> {
    // SAFETY: the function's contract.
    let c = unsafe { Arc::from_raw(data.cast_const().cast::<Chan>()) };
    if c.watched.swap(false, Ordering::AcqRel) {
        GOING.fetch_add(1, Ordering::AcqRel);
    }
    c
}

/// The action's end: drops its reference; module exit may go on.
pub(crate) fn going_end(c: Arc<Chan>) {
    drop(c);
    GOING.fetch_sub(1, Ordering::AcqRel);
}

/// Waits until no action runs or is about to (module exit, once nothing
/// is watched any more).
pub(crate) fn wait_idle() {
    while GOING.load(Ordering::Acquire) != 0 {
        kernel::time::delay::fsleep(kernel::time::Delta::from_millis(1));
    }
}
