// SPDX-License-Identifier: GPL-2.0

//! One offloaded batch. The batch leases idle channels (channels.rs), splits
//! its folios evenly over their engine devices, maps each device's share
//! once as a pair of scatter-gather tables, cuts the DMA segment pairs so
//! that every leased channel of the device gets a part (even of a single
//! THP), and submits them as memcpy descriptors in bounded chunks (a bound
//! per channel, lower on a channel shared with other clients: inflight.rs),
//! and when the engine's descriptor pool is full the batch waits for its
//! own completions instead of failing. The
//! batch counts as copied only when every descriptor has completed with a
//! success status, in whatever order the engine completes them. All of it
//! happens in the workspace of the lease's first channel (workspace.rs):
//! the copy path allocates nothing.
//!
//! Failures never touch another batch: a descriptor error or a refused
//! descriptor waits for the batch's other descriptors to finish; only a
//! timeout aborts, and only the batch's own leased channels, and only when
//! the provider can abort (see inflight.rs for the lifetime rule).

use crate::channels::{ChannelSet, Lease};
use crate::context::CallCtx;
use crate::control;
use crate::ffi;
use crate::health::{self, Cause};
use crate::inflight::{Submitted, Tracker};
use crate::reasons;
use crate::segments::{Copy, CopyWalk, Dealer, MAX_LANES};
use crate::stats::{self, Decline, ReasonRow};
use crate::verify;
use crate::workspace::{Pair, Share, Taken, Workspace};
use core::sync::atomic::{AtomicUsize, Ordering};
use kernel::alloc::KVVec;
use kernel::bindings;
use kernel::page::PAGE_SIZE;
use kernel::prelude::*;
use kernel::time::{Instant, Monotonic};

/// The bytes of the source folios and the size of the largest, read off
/// the list without allocating: a batch the thresholds decline costs one
/// walk of its list, and cannot fail for want of memory.
///
/// # Safety
/// `src_list` is the source list of a migrator call: folios linked through
/// `folio->lru`, stable during the call.
unsafe fn measure(src_list: *mut bindings::list_head) -> (u64, u64) {
    let (mut bytes, mut largest) = (0u64, 0u64);
    // SAFETY: per the function's contract, the list is valid.
    let mut s = unsafe { (*src_list).next };
    while s != src_list {
        // SAFETY: `s` is the `lru` entry of a folio on the list, locked and
        // isolated by migration.
        let size = unsafe { ffi::dcbm_folio_size(ffi::dcbm_lru_folio(s)) } as u64;
        bytes += size;
        largest = largest.max(size);
        // SAFETY: a list entry of a valid list.
        s = unsafe { (*s).next };
    }
    (bytes, largest)
}

/// Reads the pairs off the two lists into `pairs` (empty, with room for
/// `nr`).
///
/// # Safety
/// `dst_list` and `src_list` are the lists of a migrator call: `nr`
/// folios each, linked through `folio->lru`, stable during the call.
unsafe fn collect_pairs(
    dst_list: *mut bindings::list_head,
    src_list: *mut bindings::list_head,
    nr: usize,
    pairs: &mut KVVec<Pair>,
) -> Result {
    // SAFETY: per the function's contract, both lists are valid.
    let (mut s, mut d) = unsafe { ((*src_list).next, (*dst_list).next) };
    while s != src_list && d != dst_list {
        if pairs.len() == nr {
            return Err(EINVAL);
        }
        // SAFETY: `s` and `d` are `lru` entries of folios on the lists.
        let (src, dst) = unsafe { (ffi::dcbm_lru_folio(s), ffi::dcbm_lru_folio(d)) };
        // SAFETY: the folios are locked and isolated by migration.
        let (ss, ds) = unsafe { (ffi::dcbm_folio_size(src), ffi::dcbm_folio_size(dst)) };
        if ss != ds {
            return Err(EINVAL);
        }
        pairs
            .push_within_capacity(Pair::new(src, dst, ss as u64))
            .map_err(|_| EINVAL)?;
        // SAFETY: list entries of valid lists.
        unsafe {
            s = (*s).next;
            d = (*d).next;
        }
    }
    if pairs.len() != nr || s != src_list || d != dst_list {
        return Err(EINVAL);
    }
    Ok(())
}

/// Submits copy `c` of share `share` on lane `lane`, cut to what the
/// channel accepts; `last`: the lane's last copy of the batch.
///
/// dmaengine does not report a provider's longest copy (idxd refuses more
/// than its `max_xfer_bytes`), so a copy refused while the channel is idle
/// is tried again once (a refusal may be transient: ptdma allocates with
/// GFP_NOWAIT), then halved; the length then accepted is remembered for
/// the channel only when the cut copy before it landed on the same length
/// (channels.rs).
///
/// The time limit (inflight.rs) is the engine's: it runs out on a lane
/// that still holds descriptors of the batch, or during a prep (idxd's
/// sleeps for a free slot, and never returns "no descriptor"). Run out
/// while the lane is idle, the engine has done all it was given and the
/// lateness is the submitting task's: the copy goes on.
fn submit_copy(t: &mut Tracker, lane: usize, share: usize, c: Copy, last: bool) -> Result {
    let page = PAGE_SIZE;
    let mut cap = t.lanes()[lane].chan().max_len();
    let mut retried = false;
    // The copy had to be cut to be accepted.
    let mut cut = false;
    let mut done = 0u64;
    while done < c.len {
        // Late, and the engine still holds work of this lane.
        if t.late() && t.outstanding(lane) > 0 {
            t.mark(lane, Cause::Timeout);
            return Err(ETIMEDOUT);
        }
        let len = (c.len - done).min(cap as u64) as usize;
        let (dst, src) = (c.dst + done, c.src + done);
        if !t.lanes()[lane].chan().copy_aligned(dst, src, len) {
            return Err(EINVAL);
        }
        while t.at_bound(lane) {
            if !wait_for_slot(t) {
                t.mark(lane, Cause::Timeout);
                return Err(ETIMEDOUT);
            }
        }
        let late = t.late();
        let piece = Copy {
            dst,
            src,
            len: len as u64,
            off: c.off + done,
        };
        let tail = last && done + piece.len == c.len;
        // SAFETY: `c` pairs segments of the share's two tables, mapped on
        // this lane's device and unmapped only once the tracker has
        // finished the batch (`Workspace::unmap`); the batch leases the
        // lane's channel; `piece` is a part of `c`.
        match unsafe { t.submit(lane, piece, share, tail) }? {
            Submitted::Yes => {
                done += len as u64;
                retried = false;
                stats::DESCRIPTORS.add(1);
                let chan = t.lanes()[lane].chan();
                if core::mem::take(&mut cut) && chan.note_cut(cap) && cap < chan.max_len() {
                    chan.learn_max_len(cap);
                }
            }
            // The pool is full of our own descriptors: wait for one.
            Submitted::NoDescriptor if t.outstanding(lane) > 0 => {
                stats::POOL_WAITS.add(1);
                t.pool_full(lane);
                if !wait_for_slot(t) {
                    t.mark(lane, Cause::Timeout);
                    return Err(ETIMEDOUT);
                }
            }
            Submitted::NoDescriptor if !retried => retried = true,
            // Refused twice while idle: try a shorter copy.
            Submitted::NoDescriptor if len > page => {
                cut = true;
                cap = (len / 2 / page).max(1) * page;
                retried = false;
            }
            // The engine refuses even one page while idle: an engine
            // fault (not ENOMEM, which means dcbm's own allocations).
            Submitted::NoDescriptor => {
                t.mark(lane, Cause::Error);
                return Err(EIO);
            }
        }
        // The limit ran out in the engine's prep or while waiting for it.
        if !late && t.late() {
            t.mark(lane, Cause::Timeout);
            return Err(ETIMEDOUT);
        }
    }
    Ok(())
}

/// Waits, during submission, for one of the batch's descriptors to complete
/// (a lane at its bound, a full pool); false on timeout. That time is the
/// engine's and is counted apart from the path's own.
fn wait_for_slot(t: &mut Tracker) -> bool {
    if t.take_ready() {
        return true;
    }
    let from = Instant::<Monotonic>::now();
    t.issue_all();
    let got = t.wait_one();
    account(&stats::SUBMIT_WAIT_NS, from, Instant::<Monotonic>::now());
    got
}

// A share's lanes are channels of one device, all of which the dealer
// can look ahead over.
kernel::static_assert!(control::MAX_CHANNELS as usize <= MAX_LANES);

/// Submits the memcpys of one share, cut so that every lane gets a part
/// even of a single large folio, and dealt round-robin.
fn submit_share(t: &mut Tracker, idx: usize, share: &Share) -> Result {
    let n = share.lanes.len();
    let page = PAGE_SIZE as u64;
    let piece = share.bytes.div_ceil(n as u64).div_ceil(page) * page;
    let mut walk = CopyWalk::new(share.src.segs(), share.dst.segs(), piece);
    for (i, c, last) in Dealer::new(&mut walk, n) {
        submit_copy(t, share.lanes.start + i, idx, c, last)?;
    }
    if walk.mismatch() {
        return Err(EINVAL);
    }
    Ok(())
}

/// Maps the shares and submits their copies; stops at the first error,
/// leaving what was submitted to be waited for.
fn submit(ws: &mut Workspace, lease: &Lease) -> Result {
    let nr_dev = lease.by_device().count();
    let nr = ws.pairs.len();
    let mut lane = 0;
    for (i, group) in lease.by_device().enumerate() {
        // Even split over the devices, as the C driver does over channels.
        let folios = nr * i / nr_dev..nr * (i + 1) / nr_dev;
        let lanes = lane..lane + group.len();
        lane = lanes.end;
        if folios.is_empty() {
            continue;
        }
        let mapping = Instant::<Monotonic>::now();
        // SAFETY: the DMA device of channels the lease holds; the pairs
        // are the folios of this migrator call.
        let idx = unsafe { ws.map_share(folios, lanes, group.device())? };
        account(&stats::MAP_NS, mapping, Instant::<Monotonic>::now());
        let (tracker, share) = ws.share(idx);
        if share.src.nents() != share.dst.nents() {
            stats::UNEVEN_MAPS.add(1);
        }
        if share.src.nents() < share.src.entries() {
            stats::MERGED_MAPS.add(1);
        }
        submit_share(tracker, idx, share)?;
    }
    Ok(())
}

fn account(counter: &stats::Counter, from: Instant<Monotonic>, to: Instant<Monotonic>) {
    counter.add((to - from).as_nanos().max(0) as u64);
}

/// Copies the batch (the workspace's pairs, `bytes` in all) with DMA on
/// the leased channels, and credits each pair's span with the bytes
/// confirmed copied. An error means the batch did not go through whole
/// (some folios may still have been copied: see the spans).
fn copy(
    set: &ChannelSet,
    lease: &Lease,
    ws: &mut Workspace,
    bytes: u64,
    ctx: CallCtx,
    start: Instant<Monotonic>,
) -> Result {
    // The time limit fits the batch: a hung engine is found in about the
    // time a healthy one would have taken (health.rs).
    let lanes = lease.iter().count().max(1) as u64;
    // About a descriptor per folio, spread over the lanes (a THP is cut
    // over all of them, contiguous 4 KiB folios are joined: fewer).
    let descs = (ws.pairs.len() as u64).div_ceil(lanes);
    let limit_ms = health::fitted_timeout_ms(
        bytes,
        descs,
        lease.pace(),
        control::min_timeout_ms(),
        ctx.timeout_ms,
    );
    // Only a call that may sleep may need more descriptor records than
    // the workspace holds (it never does for the core's batches).
    let grow = (!ctx.nowait).then_some(ctx.gfp);
    ws.tracker
        .start(lease.iter().cloned(), limit_ms, ctx.timeout_ms, grow)?;

    let mut result = submit(ws, lease);
    let tracker = &mut ws.tracker;
    tracker.issue_all();
    let submitted = Instant::<Monotonic>::now();
    account(&stats::SETUP_NS, start, submitted);
    // Whatever happened, the batch's descriptors run to their end (or are
    // aborted) before its tables are unmapped.
    if !tracker.wait_all() {
        result = Err(ETIMEDOUT);
        tracker.mark_timeouts();
        if tracker.abort() {
            stats::ABORTED.add(1);
        } else {
            stats::WAITED_OUT.add(1);
        }
    } else if result.is_ok() && tracker.failed() {
        result = Err(EIO);
    }
    let teardown = Instant::<Monotonic>::now();
    account(&stats::WAIT_NS, submitted, teardown);
    // Settled: every verdict is final and no copy writes any more. A
    // channel in trouble leaves the pool; one that copied its part of a
    // whole batch teaches the fitted time limit its rate.
    let mut troubled = false;
    for (chan, cause) in tracker.troubles() {
        troubled = true;
        set.report(chan, cause);
    }
    if result.is_ok() && !troubled {
        let ns = (teardown - start).as_nanos().max(0) as u64;
        let per_lane = (tracker.submitted() as u64).div_ceil(lanes);
        for c in lease.iter() {
            c.health().note_success(bytes / lanes, per_lane, ns);
            c.note_whole_batch();
        }
    }
    ws.credit_completed();
    // The lifetime rule's order: no descriptor runs, then the tables are
    // unmapped (which makes what the engine wrote visible to the CPU),
    // then the bytes may be checked, then the channels go back (the
    // caller's lease).
    ws.unmap();
    if verify::this_batch(lease.any_silent_errors()) && verify::check(&mut ws.pairs) > 0 {
        result = Err(EIO);
        for c in lease.iter() {
            set.report(c, Cause::Mismatch);
        }
    }
    account(&stats::TEARDOWN_NS, teardown, Instant::<Monotonic>::now());
    stats::BATCHES.add(1);
    result
}

static FAILED_BATCHES: AtomicUsize = AtomicUsize::new(0);

/// The migrator's `offload_copy`, called by the migration core.
///
/// What tells the core which folios were copied depends on the interface
/// (reasons.rs): on v6 the migrator marks each destination folio whose
/// every byte a successful descriptor copied, and the core copies the
/// others; on v5 only a return of 0 counts, for the whole batch.
///
/// # Safety
/// Called by the core with two lists of `folio_cnt` locked, unmapped
/// folios linked through `lru`, from process context.
#[no_mangle]
pub(crate) unsafe extern "C" fn dcbm_offload_copy(
    dst_list: *mut bindings::list_head,
    src_list: *mut bindings::list_head,
    folio_cnt: u32,
    reason: u32,
) -> i32 {
    let start = Instant::<Monotonic>::now();
    let ctx = CallCtx::current(control::timeout_ms());
    let row = stats::reason_row(reason);
    row.offered(u64::from(folio_cnt));
    // SAFETY: forwarded from the caller.
    let rc = unsafe { offload_copy(dst_list, src_list, folio_cnt as usize, ctx, start, row) };
    if ctx.nowait {
        stats::NOWAIT_BATCHES.add(1);
        let us = (Instant::<Monotonic>::now() - start).as_micros_ceil();
        stats::NOWAIT_MAX_US.raise(us.max(0) as u64);
    }
    rc
}

/// `dcbm_offload_copy` in the context `ctx`, started at `start`,
/// accounted in its reason's `row` as well.
///
/// # Safety
/// As for [`dcbm_offload_copy`], with `nr` folios per list.
unsafe fn offload_copy(
    dst_list: *mut bindings::list_head,
    src_list: *mut bindings::list_head,
    nr: usize,
    ctx: CallCtx,
    start: Instant<Monotonic>,
    row: &ReasonRow,
) -> i32 {
    // SAFETY: forwarded from the core's contract.
    let (bytes, largest) = unsafe { measure(src_list) };
    if bytes < control::min_batch_bytes() || largest < control::min_folio_bytes() {
        return declined(nr, Decline::Small, row);
    }
    let Some(set) = control::channels() else {
        return failed(&[], nr, ENODEV, row);
    };
    let Some(lease) = set.lease(bytes) else {
        // Why none: all busy, or none in the pool (offloading paused).
        // (The second walk of the set only when the first found nothing.)
        if set.any_in_pool() {
            return declined(nr, Decline::Busy, row);
        }
        health::set_paused(true);
        return declined(nr, Decline::Unhealthy, row);
    };
    health::set_paused(false);
    if ctx.nowait && !lease.all_abortable() {
        return declined(nr, Decline::NotAbortable, row);
    }
    let pages = bytes.div_ceil(PAGE_SIZE as u64);
    // Dropped before the lease: the workspace goes back to its channel
    // while the batch still holds it.
    let Some(mut ws) = Taken::for_lease(&lease, nr, pages, ctx) else {
        return declined(nr, Decline::Memory, row);
    };
    // SAFETY: forwarded from the core's contract; the workspace has room
    // for `nr` pairs.
    if let Err(e) = unsafe { collect_pairs(dst_list, src_list, nr, &mut ws.pairs) } {
        // Lists not as the core promised: no DMA was tried.
        row.failed(nr as u64);
        return e.to_errno();
    }
    match copy(&set, &lease, &mut ws, bytes, ctx, start) {
        Ok(()) => {
            row.copied(nr as u64, bytes);
            if reasons::is_v6() {
                mark_copied(&ws.pairs);
            }
            0
        }
        Err(e) => failed(&ws.pairs, nr, e, row),
    }
}

/// A batch declined (`nr` folios) before anything was submitted: the CPU
/// copies it, which is no failure.
fn declined(nr: usize, why: Decline, row: &ReasonRow) -> i32 {
    row.declined(why, nr as u64);
    EOPNOTSUPP.to_errno()
}

/// v6: marks the destination of every pair whose copy is confirmed (all of
/// a batch that went through whole); returns how many, and their bytes.
fn mark_copied(pairs: &[Pair]) -> (u64, u64) {
    let (mut copied, mut bytes) = (0u64, 0u64);
    for p in pairs.iter().filter(|p| p.span.copied()) {
        // SAFETY: a destination folio of this call, locked; its copy
        // completed without error (`coverage`).
        unsafe { ffi::dcbm_mark_copied(p.dst) };
        copied += 1;
        bytes += p.span.len;
    }
    (copied, bytes)
}

/// A batch of `nr` folios that did not go through whole (`pairs`: those
/// read off the lists, if any): on v6 the folios that were copied keep
/// their copy (they are marked), the rest go to the CPU; on v5 the whole
/// batch does.
fn failed(pairs: &[Pair], nr: usize, e: Error, row: &ReasonRow) -> i32 {
    let nr = nr as u64;
    // On v5 the core copies the whole batch on the CPU.
    let (copied, bytes) = if reasons::is_v6() {
        mark_copied(pairs)
    } else {
        (0, 0)
    };
    row.copied(copied, bytes);
    // Out of memory before any copy ran: a decline, not an engine failure.
    if e == ENOMEM && copied == 0 {
        return declined(nr as usize, Decline::Memory, row);
    }
    row.failed(nr - copied);
    let n = FAILED_BATCHES.fetch_add(1, Ordering::Relaxed);
    // The log stays readable under a failing engine: the first ten
    // failures, then every thousandth.
    if n < 10 || n % 1000 == 0 {
        pr_warn!(
            "DMA copy of {} of {} folios failed (error {}), copying them on the CPU\n",
            nr - copied,
            nr,
            e.to_errno()
        );
    }
    e.to_errno()
}
