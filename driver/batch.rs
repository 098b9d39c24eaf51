// SPDX-License-Identifier: GPL-2.0

//! One offloaded batch. The batch leases idle channels (channels.rs), splits
//! its folios evenly over their engine devices, maps each device's share
//! once as a pair of scatter-gather tables, cuts the DMA segment pairs so
//! that every leased channel of the device gets a part (even of a single
//! THP), and submits them as memcpy descriptors in bounded chunks: at most
//! [`MAX_IN_FLIGHT`] per channel, and when the engine's descriptor pool is
//! full the batch waits for its own completions instead of failing. The
//! batch counts as copied only when every descriptor has completed with a
//! success status, in whatever order the engine completes them.
//!
//! Failures never touch another batch: a descriptor error or a refused
//! descriptor waits for the batch's other descriptors to finish; only a
//! timeout aborts, and only the batch's own leased channels, and only when
//! the provider can abort (see inflight.rs for the lifetime rule).

use crate::channels::{ChannelSet, Lease};
use crate::context::CallCtx;
use crate::control;
use crate::coverage::{self, Span};
use crate::ffi::{self, Folio};
use crate::health::{self, Cause};
use crate::inflight::{Submitted, Tracker};
use crate::reasons;
use crate::segments::{Copy, CopyWalk, Dealer, MAX_LANES};
use crate::sgtable::MappedTable;
use crate::stats::{self, Decline, ReasonRow};
use crate::verify;
use core::ops::Range;
use core::sync::atomic::{AtomicUsize, Ordering};
use kernel::alloc::Flags;
use kernel::bindings;
use kernel::dma::DataDirection;
use kernel::page::PAGE_SIZE;
use kernel::prelude::*;
use kernel::time::{Instant, Monotonic};

/// Descriptors one batch keeps queued on one channel at most: bounds the
/// memory and the engine ring a batch takes, whatever the provider.
const MAX_IN_FLIGHT: usize = 64;

/// One (source, destination) folio pair of the batch, and where its bytes
/// lie in its share (`span.len` is the folio size).
#[derive(Clone, Copy)]
struct Pair {
    src: *mut Folio,
    dst: *mut Folio,
    span: Span,
}

impl AsRef<Span> for Pair {
    fn as_ref(&self) -> &Span {
        &self.span
    }
}

impl AsMut<Span> for Pair {
    fn as_mut(&mut self) -> &mut Span {
        &mut self.span
    }
}

impl verify::Checked for Pair {
    fn folios(&self) -> (*mut Folio, *mut Folio) {
        (self.src, self.dst)
    }
}

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

/// Reads the pairs off the two lists.
///
/// # Safety
/// `dst_list` and `src_list` are the lists of a migrator call: `nr`
/// folios each, linked through `folio->lru`, stable during the call.
unsafe fn collect_pairs(
    dst_list: *mut bindings::list_head,
    src_list: *mut bindings::list_head,
    nr: usize,
    gfp: Flags,
) -> Result<KVec<Pair>> {
    let mut pairs = KVec::with_capacity(nr, gfp)?;
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
        pairs.push(
            Pair {
                src,
                dst,
                span: Span {
                    len: ss as u64,
                    ..Span::default()
                },
            },
            gfp,
        )?;
        // SAFETY: list entries of valid lists.
        unsafe {
            s = (*s).next;
            d = (*d).next;
        }
    }
    if pairs.len() != nr || s != src_list || d != dst_list {
        return Err(EINVAL);
    }
    Ok(pairs)
}

/// The share of a batch that goes to one engine device: its folios (the
/// pairs `folios` of the batch), mapped once on the device, copied over
/// the lanes `lanes` of the tracker.
struct Share {
    src: MappedTable,
    dst: MappedTable,
    lanes: Range<usize>,
    folios: Range<usize>,
    bytes: u64,
}

/// A batch on the engine. Fields drop in declaration order, which is the
/// order the lifetime rule needs: the tracker first waits until no
/// descriptor can run any more, then the tables are unmapped, then the
/// channels are handed back.
struct OnEngine {
    tracker: Tracker,
    shares: KVec<Share>,
    lease: Lease,
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
        while t.outstanding(lane) >= MAX_IN_FLIGHT {
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
        // this lane's device and dropped only after the tracker (`OnEngine`),
        // whose channels the batch leases; `piece` is a part of it.
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
fn submit(b: &mut OnEngine, pairs: &mut [Pair], ctx: CallCtx) -> Result {
    let groups = b.lease.by_device();
    let nr_dev = groups.len();
    let mut lane = 0;
    for (i, chans) in groups.iter().enumerate() {
        // Even split over the devices, as the C driver does over channels.
        let folios = pairs.len() * i / nr_dev..pairs.len() * (i + 1) / nr_dev;
        let lanes = lane..lane + chans.len();
        lane = lanes.end;
        if folios.is_empty() {
            continue;
        }
        let part = &mut pairs[folios.clone()];
        let mut off = 0;
        for p in part.iter_mut() {
            p.span.off = off;
            off += p.span.len;
        }
        let dev = chans[0].device();
        let mapping = Instant::<Monotonic>::now();
        // SAFETY: the DMA device of a channel the lease holds.
        let src = unsafe {
            MappedTable::map(
                part.iter().map(|p| p.src),
                dev,
                DataDirection::ToDevice,
                ctx,
            )?
        };
        // SAFETY: as above.
        let dst = unsafe {
            MappedTable::map(
                part.iter().map(|p| p.dst),
                dev,
                DataDirection::FromDevice,
                ctx,
            )?
        };
        account(&stats::MAP_NS, mapping, Instant::<Monotonic>::now());
        if src.nents() != dst.nents() {
            stats::UNEVEN_MAPS.add(1);
        }
        if src.nents() < src.entries() {
            stats::MERGED_MAPS.add(1);
        }
        let share = Share {
            src,
            dst,
            lanes,
            folios,
            bytes: off,
        };
        b.shares.push(share, ctx.gfp)?;
        let idx = b.shares.len() - 1;
        submit_share(&mut b.tracker, idx, &b.shares[idx])?;
    }
    Ok(())
}

fn account(counter: &stats::Counter, from: Instant<Monotonic>, to: Instant<Monotonic>) {
    counter.add((to - from).as_nanos().max(0) as u64);
}

/// Copies the batch (`bytes` in all) with DMA and credits each pair's span
/// with the bytes confirmed copied. `Ok(Err(_))`: declined before anything was submitted.
/// An error means the batch did not go through whole (some folios may
/// still have been copied: see the spans).
fn copy(
    set: &ChannelSet,
    pairs: &mut [Pair],
    bytes: u64,
    ctx: CallCtx,
    start: Instant<Monotonic>,
) -> Result<core::result::Result<(), Decline>> {
    let Some(lease) = set.lease(ctx.gfp)? else {
        // Why none: all busy, or none in the pool (offloading paused).
        // (The second walk of the set only when the first found nothing.)
        if set.any_in_pool() {
            return Ok(Err(Decline::Busy));
        }
        health::set_paused(true);
        return Ok(Err(Decline::Unhealthy));
    };
    health::set_paused(false);
    if ctx.nowait && !lease.all_abortable() {
        return Ok(Err(Decline::NotAbortable));
    }
    // The time limit fits the batch: a hung engine is found in about the
    // time a healthy one would have taken (health.rs).
    let lanes = lease.iter().count().max(1) as u64;
    // About a descriptor per folio, spread over the lanes (a THP is cut
    // over all of them, contiguous 4 KiB folios are joined: fewer).
    let descs = (pairs.len() as u64).div_ceil(lanes);
    let limit_ms = health::fitted_timeout_ms(
        bytes,
        descs,
        lease.pace(),
        control::min_timeout_ms(),
        ctx.timeout_ms,
    );
    let tracker = Tracker::new(
        lease.by_device().iter().flat_map(|g| g.iter().cloned()),
        lease.by_device().iter().map(|g| g.len()).sum(),
        limit_ms,
        ctx.timeout_ms,
        ctx.gfp,
    )?;
    let mut b = OnEngine {
        tracker,
        shares: KVec::with_capacity(lease.by_device().len(), ctx.gfp)?,
        lease,
    };

    let mut result = submit(&mut b, pairs, ctx);
    b.tracker.issue_all();
    let submitted = Instant::<Monotonic>::now();
    account(&stats::SETUP_NS, start, submitted);
    // Whatever happened, the batch's descriptors run to their end (or are
    // aborted) before its tables are unmapped.
    if !b.tracker.wait_all() {
        result = Err(ETIMEDOUT);
        b.tracker.mark_timeouts();
        if b.tracker.abort() == 0 {
            stats::ABORTED.add(1);
        } else {
            stats::WAITED_OUT.add(1);
        }
    } else if result.is_ok() && b.tracker.failed() {
        result = Err(EIO);
    }
    let teardown = Instant::<Monotonic>::now();
    account(&stats::WAIT_NS, submitted, teardown);
    // Settled: every verdict is final and no copy writes any more. A
    // channel in trouble leaves the pool; one that copied its part of a
    // whole batch teaches the fitted time limit its rate.
    let mut troubled = false;
    for (chan, cause) in b.tracker.troubles() {
        troubled = true;
        set.report(chan, cause);
    }
    if result.is_ok() && !troubled {
        let ns = (teardown - start).as_nanos().max(0) as u64;
        let per_lane = (b.tracker.submitted() as u64).div_ceil(lanes);
        for c in b.lease.iter() {
            c.health().note_success(bytes / lanes, per_lane, ns);
            c.note_whole_batch();
        }
    }
    let OnEngine {
        mut tracker,
        shares,
        lease,
    } = b;
    for d in tracker.completed() {
        let share = &shares[d.share];
        coverage::credit(&mut pairs[share.folios.clone()], d.off, d.len);
    }
    // The lifetime rule's order: no descriptor runs, then the tables are
    // unmapped (which makes what the engine wrote visible to the CPU),
    // then the bytes may be checked, then the channels go back.
    drop(tracker);
    drop(shares);
    if verify::this_batch(lease.any_silent_errors()) && verify::check(pairs) > 0 {
        result = Err(EIO);
        for c in lease.iter() {
            set.report(c, Cause::Mismatch);
        }
    }
    drop(lease);
    account(&stats::TEARDOWN_NS, teardown, Instant::<Monotonic>::now());
    stats::BATCHES.add(1);
    result.map(Ok)
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
    // SAFETY: forwarded from the core's contract.
    let mut pairs = match unsafe { collect_pairs(dst_list, src_list, nr, ctx.gfp) } {
        Ok(v) => v,
        Err(e) if e == ENOMEM => return declined(nr, Decline::Memory, row),
        Err(e) => {
            row.failed(nr as u64);
            return e.to_errno();
        }
    };
    let result = match control::channels() {
        Some(set) => copy(&set, &mut pairs, bytes, ctx, start),
        None => Err(ENODEV),
    };
    match result {
        Ok(Err(why)) => declined(nr, why, row),
        Ok(Ok(())) => {
            row.copied(nr as u64, bytes);
            if reasons::is_v6() {
                mark_copied(&pairs);
            }
            0
        }
        Err(e) => failed(&pairs, e, row),
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

/// A batch that did not go through whole: on v6 the folios that were
/// copied keep their copy (they are marked), the rest go to the CPU; on
/// v5 the whole batch does.
fn failed(pairs: &[Pair], e: Error, row: &ReasonRow) -> i32 {
    let nr = pairs.len() as u64;
    // On v5 the core copies the whole batch on the CPU.
    let (copied, bytes) = if reasons::is_v6() {
        mark_copied(pairs)
    } else {
        (0, 0)
    };
    row.copied(copied, bytes);
    // Out of memory before any copy ran: a decline, not an engine failure.
    if e == ENOMEM && copied == 0 {
        return declined(pairs.len(), Decline::Memory, row);
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
