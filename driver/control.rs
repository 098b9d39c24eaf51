// SPDX-License-Identifier: GPL-2.0

//! The module's tunable state: whether the migrator is registered, the
//! channels it holds, and the knobs a batch reads.
//!
//! `CONTROL` serialises enable, disable, resize and mask changes. The copy
//! path never takes it: unregistering waits for copies in flight while
//! holding it, so copies read the channel set under the `CHANNELS`
//! spinlock instead. Values are atomics, so reading a knob takes no lock
//! (and works before init).

use crate::channels::{Chan, ChannelSet};
use crate::ffi;
use crate::reasons;
use crate::removal;
use core::ffi::c_void;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use kernel::bindings;
use kernel::ffi::c_ulong;
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
/// The floor of a batch's fitted time limit: scheduling, interrupts, the
/// path's own work. Raise it on a host whose engine or CPUs are shared.
pub(crate) const DEFAULT_MIN_TIMEOUT_MS: u32 = 100;
/// Batches below this are declined; see README "Performance" for the
/// measurements behind the default (a full migration batch is 2 MiB).
pub(crate) const DEFAULT_MIN_BATCH_BYTES: u64 = 2 << 20;
/// Batches whose largest folio is below this are declined: the cost of
/// the offload path is per folio, and 4 KiB folios lost to the CPU copy in
/// every measurement (ours and the series' own, on PTDMA).
pub(crate) const DEFAULT_MIN_FOLIO_BYTES: u64 = 2 << 20;
pub(crate) const MAX_MIN_BYTES: u64 = 1 << 30;
/// One trouble takes a channel out of the pool (health.rs): a sick engine
/// costs one batch, not one per batch.
pub(crate) const DEFAULT_HEALTH_STRIKES: u32 = 1;
pub(crate) const MAX_HEALTH_STRIKES: u32 = 1000;

/// Where the module is in its life. Knobs may be written before init
/// runs (module parameters are parsed at load, and parameters/ appears in
/// sysfs before init) and after exit has begun (parameters/ goes only
/// once exit returns): only a live module acts on `offloading`.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Life {
    Loading = 0,
    Live = 1,
    Going = 2,
}

static LIFE: AtomicU8 = AtomicU8::new(Life::Loading as u8);

fn life() -> Life {
    match LIFE.load(Ordering::Acquire) {
        0 => Life::Loading,
        1 => Life::Live,
        _ => Life::Going,
    }
}

kernel::sync::global_lock! {
    // SAFETY: initialised in `go_live()` before `LIFE` says `Live`, and
    // taken only once it does.
    pub(crate) unsafe(uninit) static CONTROL: Mutex<()> = ();
}

kernel::sync::global_lock! {
    // SAFETY: initialised in `go_live()`, before the migrator can be
    // registered (the only way to reach `channels()`) and before any
    // knob is live.
    unsafe(uninit) static CHANNELS: SpinLock<Option<Arc<ChannelSet>>> = None;
}

/// Whether the migrator is registered (changed under `CONTROL`), or,
/// before init, whether a load-time `offloading=1` asked for it.
static ENABLED: AtomicBool = AtomicBool::new(false);
static NR_CHAN: AtomicU32 = AtomicU32::new(DEFAULT_NR_CHAN);
static TIMEOUT_MS: AtomicU32 = AtomicU32::new(DEFAULT_TIMEOUT_MS);
static MIN_BATCH_BYTES: AtomicU64 = AtomicU64::new(DEFAULT_MIN_BATCH_BYTES);
static MIN_FOLIO_BYTES: AtomicU64 = AtomicU64::new(DEFAULT_MIN_FOLIO_BYTES);
static HEALTH_STRIKES: AtomicU32 = AtomicU32::new(DEFAULT_HEALTH_STRIKES);
static MIN_TIMEOUT_MS: AtomicU32 = AtomicU32::new(DEFAULT_MIN_TIMEOUT_MS);

/// Makes the knobs live, from module init: sets up the locks, then
/// applies a load-time `offloading=1`. Holds the module's parameter lock
/// so that no parameter write interleaves (parameter callbacks run under
/// it, and take `CONTROL` after it, as here).
pub(crate) fn go_live(module: &'static ThisModule) -> Result {
    // SAFETY: `module` is this module, alive while its init runs.
    unsafe { bindings::kernel_param_lock(module.as_ptr()) };
    // SAFETY: called once, before `LIFE` says `Live`: nothing else takes
    // the locks yet.
    unsafe {
        CONTROL.init();
        CHANNELS.init();
    }
    LIFE.store(Life::Live as u8, Ordering::Release);
    let want = ENABLED.swap(false, Ordering::Relaxed);
    let r = if want { set_offloading(true) } else { Ok(()) };
    // SAFETY: locked above.
    unsafe { bindings::kernel_param_unlock(module.as_ptr()) };
    r
}

/// From module exit: no write enables offloading any more; then
/// unregisters, waiting for the copies in flight, and releases the
/// channels.
pub(crate) fn go_away() {
    LIFE.store(Life::Going as u8, Ordering::Release);
    // Writers check `LIFE` again under `CONTROL`: once this returns, none
    // can register.
    let g = CONTROL.lock();
    disable();
    drop(g);
    // Nothing is watched any more; an action already running finishes.
    removal::wait_idle();
    // No batch runs and no channel is held: the prober has nothing left
    // to probe, and must not run once the module is gone.
    crate::prober::exit();
}

/// The channel set of a batch about to start, if offloading is enabled.
pub(crate) fn channels() -> Option<Arc<ChannelSet>> {
    CHANNELS.lock().clone()
}

/// Swaps the channel set, under `CONTROL`: the channels it gains are
/// watched for their provider's removal, those it loses no more. The old
/// set is dropped outside the spinlock, since releasing channels sleeps.
fn replace_channels(new: Option<Arc<ChannelSet>>) {
    if let Some(n) = &new {
        n.arcs().for_each(removal::watch);
    }
    let old = core::mem::replace(&mut *CHANNELS.lock(), new.clone());
    if let Some(o) = &old {
        o.arcs()
            .filter(|c| !new.as_ref().is_some_and(|n| n.contains(c)))
            .for_each(removal::unwatch);
    }
    drop(old);
}

/// The devres action of a watched channel (removal.rs): its device is
/// being deleted, its provider is going away. Lets it go before the
/// provider frees it.
///
/// # Safety
/// `data` is the reference `removal::watch` gave the action, passed once.
#[no_mangle]
pub(crate) unsafe extern "C" fn dcbm_chan_going(data: *mut c_void) {
    // SAFETY: the function's contract.
    let c = unsafe { removal::going_begin(data) };
    // (a channel the bus notifier let go already is not in the set)
    if c.held() {
        let _g = CONTROL.lock();
        log_going(&c, drop_channel(&c));
    }
    c.retire();
    removal::going_end(c);
}

/// A bus notifier (removal.rs): `dev` is about to be unbound from its
/// driver. The held channels of that device, or of a device below it,
/// are let go before the driver's remove runs.
///
/// # Safety
/// `dev` is a device being unbound (alive during the call).
#[no_mangle]
pub(crate) unsafe extern "C" fn dcbm_device_unbinding(dev: *mut bindings::device) {
    let mut gone = KVec::new();
    {
        let _g = CONTROL.lock();
        let Some(cur) = channels() else {
            return;
        };
        for c in cur.arcs() {
            // SAFETY: `c` is held (in the held set, under `CONTROL`), so its
            // device and that device's parents are alive.
            if unsafe { ffi::dcbm_dev_within(c.device(), dev) }
                && gone.push(c.clone(), GFP_KERNEL).is_err()
            {
                break;
            }
        }
        for c in gone.iter() {
            log_going(c, drop_channel(c));
        }
    }
    gone.iter().for_each(|c| c.retire());
}

fn log_going(c: &Chan, left: usize) {
    let off = if left == 0 { ", offloading off" } else { "" };
    pr_warn!(
        "{}: its DMA engine is going away: releasing it ({} channel(s) left{})\n",
        c.name().to_str().unwrap_or("?"),
        left,
        off
    );
}

/// Takes `gone`, whose provider is going away, out of the held set; with
/// nothing left, turns offloading off. Returns how many channels are left.
/// Under `CONTROL`.
fn drop_channel(gone: &Chan) -> usize {
    let Some(cur) = channels() else {
        return 0;
    };
    if !cur.contains(gone) {
        return cur.arcs().count();
    }
    match cur.without(gone) {
        Ok(Some(set)) => {
            let left = set.arcs().count();
            replace_channels(Some(set));
            left
        }
        // Nothing left, or no memory for the smaller set: off.
        _ => {
            disable();
            0
        }
    }
}

pub(crate) fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

pub(crate) fn nr_chan() -> u32 {
    NR_CHAN.load(Ordering::Relaxed)
}

pub(crate) fn timeout_ms() -> u32 {
    TIMEOUT_MS.load(Ordering::Relaxed)
}

pub(crate) fn set_timeout_ms(v: u32) -> Result {
    store_in(&TIMEOUT_MS, v, 1..=MAX_TIMEOUT_MS)
}

/// Stores `v` in `knob` if it lies in `range`; EINVAL (and no change)
/// otherwise.
fn store_in(knob: &AtomicU32, v: u32, range: core::ops::RangeInclusive<u32>) -> Result {
    if !range.contains(&v) {
        return Err(EINVAL);
    }
    knob.store(v, Ordering::Relaxed);
    Ok(())
}

/// The least time a batch gets: the floor of its fitted limit (health.rs).
pub(crate) fn min_timeout_ms() -> u32 {
    MIN_TIMEOUT_MS.load(Ordering::Relaxed)
}

pub(crate) fn set_min_timeout_ms(v: u32) -> Result {
    store_in(&MIN_TIMEOUT_MS, v, 1..=MAX_TIMEOUT_MS)
}

/// Troubles in a row that take a channel out of the pool (health.rs).
pub(crate) fn health_strikes() -> u32 {
    HEALTH_STRIKES.load(Ordering::Relaxed)
}

pub(crate) fn set_health_strikes(v: u32) -> Result {
    store_in(&HEALTH_STRIKES, v, 0..=MAX_HEALTH_STRIKES)
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
/// Before init it only records the wish (a load-time parameter); while
/// the module goes away it fails with EBUSY.
pub(crate) fn set_offloading(enable: bool) -> Result {
    if life() == Life::Loading {
        ENABLED.store(enable, Ordering::Relaxed);
        return Ok(());
    }
    let _g = CONTROL.lock();
    if life() != Life::Live {
        return Err(EBUSY);
    }
    if enable == enabled() {
        return Ok(());
    }
    if !enable {
        disable();
        return Ok(());
    }
    let set = ChannelSet::acquire(nr_chan() as usize, None)?;
    replace_channels(Some(set));
    // SAFETY: the migrator is static and not registered (`ENABLED` is
    // false under `CONTROL`).
    let rc = unsafe { ffi::dcbm_migrator_register(reasons::mask() as c_ulong) };
    if rc != 0 {
        replace_channels(None);
        return Err(Error::from_errno(rc));
    }
    ENABLED.store(true, Ordering::Relaxed);
    Ok(())
}

/// Unregisters, if registered; the caller holds `CONTROL`.
fn disable() {
    if enabled() {
        // SAFETY: registered (`ENABLED` is true under `CONTROL`). Returns
        // once no copy runs any more.
        unsafe { ffi::dcbm_migrator_unregister() };
        replace_channels(None);
        // A probe still holds channels of the old set: released once it
        // ends, before offloading can be turned on again.
        crate::prober::flush();
        ENABLED.store(false, Ordering::Relaxed);
    }
}

/// Whether `set` is the held channel set (not one replaced since).
pub(crate) fn is_current(set: &Arc<ChannelSet>) -> bool {
    CHANNELS
        .lock()
        .as_ref()
        .is_some_and(|c| core::ptr::eq(&**c, &**set))
}

/// Sets the channel count; when enabled, resizes the held set at once.
pub(crate) fn set_nr_chan(n: u32) -> Result {
    if !(1..=MAX_CHANNELS).contains(&n) {
        return Err(EINVAL);
    }
    if life() == Life::Loading {
        NR_CHAN.store(n, Ordering::Relaxed);
        return Ok(());
    }
    let _g = CONTROL.lock();
    if enabled() {
        let prev = channels();
        let set = ChannelSet::acquire(n as usize, prev.as_deref())?;
        replace_channels(Some(set));
    }
    NR_CHAN.store(n, Ordering::Relaxed);
    Ok(())
}

/// A write to `reason_mask`: parsed, then told to the core at once when
/// registered (under `CONTROL` once live), and kept for the next
/// registration.
pub(crate) fn set_reason_mask(buf: &CStr) -> Result {
    let m = reasons::parse_mask(buf)?;
    if life() == Life::Loading {
        // (a module parameter given at load: nothing is registered yet)
        reasons::store_mask(m);
        return Ok(());
    }
    let _g = CONTROL.lock();
    if enabled() {
        // SAFETY: registered (`ENABLED` is true under `CONTROL`).
        kernel::error::to_result(unsafe { ffi::dcbm_set_reason_mask(m as c_ulong) })?;
    }
    reasons::store_mask(m);
    Ok(())
}
