// SPDX-License-Identifier: GPL-2.0

//! The probe that brings a channel back into the pool (health.rs): one
//! page of a known pattern, copied by the channel's engine and compared
//! on the CPU. Probes run in a kernel worker, never in a migrating task:
//! on a channel that cannot be aborted a probe that hangs waits for its
//! descriptor to complete (inflight.rs's lifetime rule), and only the
//! worker waits.
//!
//! One delayed work item serves every channel: it probes each channel
//! whose back-off has passed and arms itself again for the next one. It
//! is armed when a channel is taken out. Module exit takes it away under
//! its lock (so that nothing arms it again) and flushes it twice: the
//! first flush waits for a run that may have armed it once more before
//! the lock was taken, the second runs and waits for that one.

use crate::channels::{Chan, ChannelSet, Lease};
use crate::context::CallCtx;
use crate::control;
use crate::ffi;
use crate::health;
use crate::inflight::Submitted;
use crate::segments::{CopyWalk, Dealer};
use crate::stats;
use crate::workspace::{Pair, Taken};
use core::sync::atomic::{AtomicU8, Ordering};
use kernel::bindings;
use kernel::page::{Page, PAGE_SIZE};
use kernel::prelude::*;
use kernel::sync::Arc;
use kernel::time::msecs_to_jiffies;
use kernel::workqueue::{self, impl_has_delayed_work, new_delayed_work, DelayedWork, WorkItem};

#[pin_data]
pub(crate) struct Prober {
    #[pin]
    work: DelayedWork<Prober>,
}

impl_has_delayed_work! {
    impl HasDelayedWork<Self> for Prober { self.work }
}

kernel::sync::global_lock! {
    // SAFETY: initialised in `init()`, from module init, before any
    // channel is held.
    unsafe(uninit) static PROBER: SpinLock<Option<Arc<Prober>>> = None;
}

/// Sets up the prober, from module init.
pub(crate) fn init() -> Result {
    let p = Arc::pin_init(
        pin_init!(Prober {
            work <- new_delayed_work!("dcbm_probe"),
        }),
        GFP_KERNEL,
    )?;
    // SAFETY: called once, from module init, before anything else takes
    // the lock.
    unsafe { PROBER.init() };
    *PROBER.lock() = Some(p);
    Ok(())
}

/// Takes the prober away, from module exit, once no batch can run and no
/// channel is held: afterwards nothing of it runs or is queued.
pub(crate) fn exit() {
    let Some(p) = PROBER.lock().take() else {
        return;
    };
    // See the module's description for why twice.
    flush_work(&p);
    flush_work(&p);
}

/// Waits until no probe runs, from `offloading=0`: the channels a probe
/// holds are released before offloading can be turned on again.
pub(crate) fn flush() {
    let p = PROBER.lock().clone();
    if let Some(p) = p {
        flush_work(&p);
    }
}

/// Runs `p`'s pending work now, if any, and waits until it has run.
fn flush_work(p: &Arc<Prober>) {
    let ptr = core::ptr::from_ref(&**p).cast_mut();
    // SAFETY: `ptr` points to the prober, alive (`p`); its work is the
    // `work` of a `delayed_work` (`impl_has_delayed_work!`).
    unsafe {
        let work =
            workqueue::Work::raw_get(<Prober as workqueue::HasWork<Prober>>::raw_get_work(ptr));
        let dwork = kernel::container_of!(work, bindings::delayed_work, work);
        bindings::flush_delayed_work(dwork);
    }
}

/// Runs the prober in `ms` milliseconds, unless it is already armed (then
/// it runs when armed, and arms itself again for what is left).
pub(crate) fn schedule(ms: u64) {
    let guard = PROBER.lock();
    if let Some(p) = guard.as_ref() {
        let delay = msecs_to_jiffies(u32::try_from(ms).unwrap_or(u32::MAX));
        // Already queued: that run serves (and the clone drops here).
        let _ = workqueue::system_unbound().enqueue_delayed(p.clone(), delay);
    }
}

impl WorkItem for Prober {
    type Pointer = Arc<Prober>;

    fn run(_this: Arc<Prober>) {
        let Some(set) = control::channels() else {
            return;
        };
        let mut next: Option<u64> = None;
        for c in set.arcs() {
            // Offloading was turned off or resized meanwhile: what this
            // set holds is no longer ours to probe (disable waits for this
            // run; a new set gets a run of its own).
            if !control::is_current(&set) {
                schedule(1);
                return;
            }
            if c.health().start_probe() {
                probe_one(&set, c);
            }
            if let Some(ms) = c.health().probe_in_ms() {
                next = Some(next.map_or(ms, |n| n.min(ms)));
            }
        }
        health::set_paused(!set.any_in_pool());
        if let Some(ms) = next {
            schedule(ms.max(1));
        }
    }
}

/// Probes channel `c`, claimed for it (`Probing`), and ends the probe.
fn probe_one(set: &ChannelSet, c: &Arc<Chan>) {
    // A batch still holds it (one waiting for an engine that cannot
    // abort): later.
    let Some(lease) = set.lease_one(c) else {
        c.health().defer_probe();
        return;
    };
    stats::PROBES.add(1);
    let ok = match copy_pattern(&lease, c) {
        Ok(ok) => ok,
        Err(e) => {
            // No memory for the probe says nothing of the engine: later.
            if e == ENOMEM {
                c.health().defer_probe();
                return;
            }
            false
        }
    };
    if !ok {
        stats::PROBE_FAILURES.add(1);
    }
    // A failed probe is no transition (the channel stays out): only the
    // first of an outage is logged, so that a long one does not spend the
    // log's rate limit and hide the transitions after it (engine/ counts
    // every probe).
    let first_failure = !ok && c.health().cause() != health::Cause::Probe;
    c.health().end_probe(ok);
    if ok {
        c.log_health("probe passed, back in the pool");
    } else if first_failure {
        c.log_health("probe failed, kept out (later failed probes are counted in engine/probe_failures, not logged)");
    }
}

/// Distinct patterns for successive probes: a stale page cannot pass.
static SEED: AtomicU8 = AtomicU8::new(1);

/// The pattern repeats every 256 bytes (`i as u8`): one block of it.
fn pattern_block(seed: u8) -> [u8; 256] {
    core::array::from_fn(|i| (i as u8).wrapping_mul(167) ^ seed)
}

/// Copies one page of a known pattern on `c`, which `lease` holds, and
/// checks it. `Ok(false)`: the engine failed, timed out or wrote wrong
/// bytes.
fn copy_pattern(lease: &Lease, c: &Arc<Chan>) -> Result<bool> {
    let block = pattern_block(SEED.fetch_add(2, Ordering::Relaxed) | 1);
    let (src, dst) = (Page::alloc_page(GFP_KERNEL)?, Page::alloc_page(GFP_KERNEL)?);
    // SAFETY: `block` holds `block.len()` bytes, written within the page;
    // both pages are ours.
    unsafe {
        for off in (0..PAGE_SIZE).step_by(block.len()) {
            src.write_raw(block.as_ptr(), off, block.len())?;
        }
        dst.fill_zero_raw(0, PAGE_SIZE)?;
    }
    let limit = health::fitted_timeout_ms(
        PAGE_SIZE as u64,
        1,
        c.health().pace(),
        control::min_timeout_ms(),
        control::timeout_ms(),
    )
    .max(PROBE_MIN_MS);
    // SAFETY: the pages are ours and order 0; each is its own folio.
    let (sf, df) = unsafe {
        (
            ffi::dcbm_page_folio(src.as_ptr()),
            ffi::dcbm_page_folio(dst.as_ptr()),
        )
    };
    // The channel's own workspace, as a batch on it would use.
    let mut ws = Taken::for_lease(lease, 1, 1, CallCtx::worker(limit)).ok_or(ENOMEM)?;
    ws.pairs
        .push_within_capacity(Pair::new(sf, df, PAGE_SIZE as u64))
        .map_err(|_| ENOMEM)?;
    ws.tracker
        .start(core::iter::once(c.clone()), limit, limit, Some(GFP_KERNEL))?;
    // SAFETY: the DMA device of the channel `lease` holds; the pages are
    // ours until this function returns, after the workspace is cleared.
    let idx = unsafe { ws.map_share(0..1, 0..1, c.device())? };
    let (t, share) = ws.share(idx);
    let mut queued = true;
    let mut walk = CopyWalk::new(share.src.segs(), share.dst.segs(), PAGE_SIZE as u64);
    for (_, piece, last) in Dealer::new(&mut walk, 1) {
        if !c.copy_aligned(piece.dst, piece.src, piece.len as usize) {
            queued = false;
            break;
        }
        // SAFETY: `piece` pairs segments of the share's tables, mapped on
        // the channel's device and unmapped only after the tracker has
        // settled (`Workspace::unmap`); `lease` holds the channel.
        match unsafe { t.submit(0, piece, idx, last) } {
            Ok(Submitted::Yes) => {}
            Ok(Submitted::NoDescriptor) | Err(_) => {
                queued = false;
                break;
            }
        }
    }
    let mismatch = walk.mismatch();
    t.issue_all();
    let done = t.wait_all();
    if !done {
        t.abort();
    }
    let ok = queued && done && !mismatch && !t.failed();
    drop(walk);
    // The lifetime rule: the tracker settles (the engine is done with the
    // pages) before the pages are unmapped, then compared, then freed.
    ws.unmap();
    // The same comparison as verify-after-copy's (verify.rs).
    // SAFETY: two order-0 folios of ours; the page is unmapped from the
    // device, so the CPU sees what the engine wrote.
    Ok(ok && unsafe { ffi::dcbm_folio_same(sf, df) })
}

/// The least time a probe gets: one page is quick for any engine, but
/// the worker may wait to be scheduled.
const PROBE_MIN_MS: u32 = 200;
