// SPDX-License-Identifier: GPL-2.0

//! One offloaded batch: the folios are split evenly over the engine
//! devices of the held channels, each device's share is mapped once as a
//! pair of scatter-gather tables, the DMA segment pairs are cut so that
//! every channel of the device gets a part (even of a single THP) and are
//! submitted round-robin as memcpy descriptors, and
//! the batch counts as copied only when every descriptor has completed
//! with a success status, in whatever order the engine completes them.
//!
//! On any failure, including a timeout, the channels used are terminated
//! synchronously before anything is unmapped or freed, so an engine that
//! completes late cannot touch freed memory nor write into a destination
//! folio the CPU copies afterwards.

use crate::channels::{Chan, ChannelSet};
use crate::control;
use crate::ffi::{self, DmaResult, Folio};
use crate::segments::{CopyWalk, Seg};
use crate::stats;
use core::ffi::c_void;
use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use kernel::bindings;
use kernel::prelude::*;
use kernel::sync::Arc;
use kernel::time::{Instant, Monotonic};
use kernel::types::Opaque;

/// One (source, destination) folio pair of the batch.
#[derive(Clone, Copy)]
struct Pair {
    src: *mut Folio,
    dst: *mut Folio,
    bytes: u64,
}

/// Reads the pairs off the two lists. Returns the pairs, the bytes and the
/// size of the largest folio.
///
/// # Safety
/// `dst_list` and `src_list` are the lists of a migrator call: `nr`
/// folios each, linked through `folio->lru`, stable during the call.
unsafe fn collect_pairs(
    dst_list: *mut bindings::list_head,
    src_list: *mut bindings::list_head,
    nr: usize,
) -> Result<(KVec<Pair>, u64, u64)> {
    let mut pairs = KVec::with_capacity(nr, GFP_KERNEL)?;
    let (mut bytes, mut largest) = (0u64, 0u64);
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
        bytes += ss as u64;
        largest = largest.max(ss as u64);
        pairs.push(
            Pair {
                src,
                dst,
                bytes: ss as u64,
            },
            GFP_KERNEL,
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
    Ok((pairs, bytes, largest))
}

/// A scatter-gather table over folios, unmapped and freed on drop.
struct SgTable {
    table: bindings::sg_table,
    mapped: Option<(*mut bindings::device, bindings::dma_data_direction)>,
}

impl SgTable {
    /// Builds a table with one entry per folio and maps it on `dev`.
    fn map(
        folios: impl ExactSizeIterator<Item = *mut Folio>,
        dev: *mut bindings::device,
        dir: bindings::dma_data_direction,
    ) -> Result<KBox<Self>> {
        let n = folios.len() as u32;
        // SAFETY: an all-zero `sg_table` is its documented empty state.
        let table = unsafe { core::mem::zeroed() };
        let mut t = KBox::new(
            Self {
                table,
                mapped: None,
            },
            GFP_KERNEL,
        )?;
        // SAFETY: `t.table` is an empty table owned by us.
        kernel::error::to_result(unsafe {
            bindings::sg_alloc_table(&mut t.table, n, bindings::GFP_KERNEL)
        })?;
        let mut sg = t.table.sgl;
        for (i, folio) in folios.enumerate() {
            // SAFETY: `sg` is entry `i` of a table of `n` entries; the
            // folio is valid for the whole migrator call.
            unsafe { ffi::dcbm_sg_set_folio(sg, folio) };
            if i + 1 < n as usize {
                // SAFETY: entry `i` is not the last one.
                sg = unsafe { bindings::sg_next(sg) };
            }
        }
        // SAFETY: the table is filled; `dev` is the channel's DMA device.
        kernel::error::to_result(unsafe { bindings::dma_map_sgtable(dev, &mut t.table, dir, 0) })?;
        t.mapped = Some((dev, dir));
        Ok(t)
    }

    /// The mapped DMA segments.
    fn segs(&self) -> impl Iterator<Item = Seg> + '_ {
        let mut sg = self.table.sgl;
        (0..self.table.nents).map(move |_| {
            // SAFETY: `sg` walks the `nents` mapped entries of our table.
            let seg = unsafe {
                Seg {
                    addr: bindings::sg_dma_address(sg),
                    len: u64::from(bindings::sg_dma_len(sg)),
                }
            };
            // SAFETY: as above; past the last entry `sg` is not used.
            sg = unsafe { bindings::sg_next(sg) };
            seg
        })
    }
}

impl Drop for SgTable {
    fn drop(&mut self) {
        if let Some((dev, dir)) = self.mapped {
            // SAFETY: mapped on `dev` with `dir` by `map`; the engine is
            // done with it (completed or terminated) before a batch drops.
            unsafe { bindings::dma_unmap_sgtable(dev, &mut self.table, dir, 0) };
        }
        // SAFETY: allocated by `sg_alloc_table` (freeing a partially
        // allocated table is allowed too).
        unsafe { bindings::sg_free_table(&mut self.table) };
    }
}

/// What the completion callbacks of one batch share with its waiter.
#[pin_data]
struct Pending {
    #[pin]
    done: Opaque<bindings::completion>,
    /// Descriptors not yet completed, plus one while still submitting.
    pending: AtomicUsize,
    failed: AtomicBool,
}

impl Pending {
    fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            // SAFETY: `init_completion` initialises the slot in place.
            done <- Opaque::ffi_init(|slot| unsafe { bindings::init_completion(slot) }),
            pending: AtomicUsize::new(1),
            failed: AtomicBool::new(false),
        })
    }

    /// Drops one pending count; the last one wakes the waiter.
    fn put(&self) {
        if self.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            // SAFETY: `done` was initialised by `new`; the waiter keeps
            // `self` alive until it has woken (see `wait`).
            unsafe { bindings::complete(self.done.get()) };
        }
    }

    /// Waits for all descriptors; false on timeout.
    fn wait(&self, timeout_ms: u32) -> bool {
        let jiffies = kernel::time::msecs_to_jiffies(timeout_ms);
        // SAFETY: `done` is initialised; `complete()` releases the
        // completion's lock before this returns, so `self` may be freed
        // once it has.
        unsafe { bindings::wait_for_completion_timeout(self.done.get(), jiffies) != 0 }
    }
}

/// The dmaengine completion callback of every descriptor.
///
/// # Safety
/// `param` is the `Pending` of a batch still waiting or not yet torn down.
unsafe extern "C" fn on_complete(param: *mut c_void, result: *const DmaResult) {
    // SAFETY: the batch outlives every callback: it either waits for all
    // of them or terminates its channels synchronously before freeing.
    let pending = unsafe { &*param.cast::<Pending>() };
    // SAFETY: dmaengine passes a valid result, or NULL (treated as error).
    if !unsafe { ffi::dcbm_result_ok(result) } {
        pending.failed.store(true, Ordering::Relaxed);
    }
    pending.put();
}

/// The share of a batch that goes to one engine device: its folios,
/// mapped once on the device, copied over the device's channels.
struct Share<'a> {
    chans: &'a [Arc<Chan>],
    src: KBox<SgTable>,
    dst: KBox<SgTable>,
}

/// Rotates the first channel of each batch, so that concurrent batches
/// too small to split still spread over the channels.
static NEXT_CHAN: AtomicUsize = AtomicUsize::new(0);

/// Submits the memcpys of one share, cut so that every channel of the
/// device gets a part even of a single large folio, and dealt round-robin.
/// Errors leave descriptors queued (the caller terminates the channels).
fn submit(share: &Share<'_>, bytes: u64, pending: &Pending) -> Result {
    let n = share.chans.len();
    // SAFETY: the channel's device is valid while we hold the channel.
    let max_seg = u64::from(unsafe { ffi::dcbm_max_seg_size(share.chans[0].device()) });
    let page = bindings::PAGE_SIZE as u64;
    let piece = bytes.div_ceil(n as u64).div_ceil(page) * page;
    let mut walk = CopyWalk::new(share.src.segs(), share.dst.segs(), max_seg.min(piece));
    let first = NEXT_CHAN.fetch_add(1, Ordering::Relaxed);
    for (i, c) in (&mut walk).enumerate() {
        let chan = &share.chans[(first + i) % n];
        pending.pending.fetch_add(1, Ordering::AcqRel);
        // SAFETY: both addresses lie in tables mapped on this channel's
        // device; `pending` outlives the callback (see `on_complete`).
        let rc = unsafe {
            ffi::dcbm_submit_memcpy(
                chan.as_ptr(),
                c.dst,
                c.src,
                c.len as usize,
                on_complete,
                ptr::from_ref(pending).cast_mut().cast(),
            )
        };
        if rc != 0 {
            // Never submitted: its callback will not run.
            pending.pending.fetch_sub(1, Ordering::AcqRel);
            return Err(Error::from_errno(rc));
        }
    }
    if walk.mismatch() {
        return Err(EINVAL);
    }
    Ok(())
}

fn account(counter: &stats::Counter, from: Instant<Monotonic>, to: Instant<Monotonic>) {
    counter.add((to - from).as_nanos().max(0) as u64);
}

/// Copies the batch with DMA. Any error means "copy it on the CPU".
fn copy(set: &ChannelSet, pairs: &[Pair], timeout_ms: u32, start: Instant<Monotonic>) -> Result {
    let pending = KBox::pin_init(Pending::new(), GFP_KERNEL)?;
    let groups = set.by_device();
    let nr_dev = groups.len().min(pairs.len());
    let mut shares = KVec::with_capacity(nr_dev, GFP_KERNEL)?;

    let mut result = Ok(());
    for (i, chans) in groups.iter().take(nr_dev).enumerate() {
        // Even split over the devices, as the C driver does over channels.
        let (lo, hi) = (pairs.len() * i / nr_dev, pairs.len() * (i + 1) / nr_dev);
        let part = &pairs[lo..hi];
        let dev = chans[0].device();
        result = (|| {
            let src = SgTable::map(
                part.iter().map(|p| p.src),
                dev,
                bindings::dma_data_direction::DMA_TO_DEVICE,
            )?;
            let dst = SgTable::map(
                part.iter().map(|p| p.dst),
                dev,
                bindings::dma_data_direction::DMA_FROM_DEVICE,
            )?;
            // Push first: a failed submit may have queued descriptors on
            // these channels, which must be terminated below.
            shares.push(Share { chans, src, dst }, GFP_KERNEL)?;
            let s = shares.last().ok_or(EINVAL)?;
            submit(s, part.iter().map(|p| p.bytes).sum(), &pending)
        })();
        if result.is_err() {
            break;
        }
    }

    if result.is_ok() {
        for c in shares.iter().flat_map(|s| s.chans.iter()) {
            c.issue_pending();
        }
        let submitted = Instant::<Monotonic>::now();
        account(&stats::SETUP_NS, start, submitted);
        // Drop the submission bias; then wait for the descriptors.
        pending.put();
        if !pending.wait(timeout_ms) {
            result = Err(ETIMEDOUT);
        } else if pending.failed.load(Ordering::Relaxed) {
            result = Err(EIO);
        }
        account(&stats::WAIT_NS, submitted, Instant::<Monotonic>::now());
    }
    let teardown = Instant::<Monotonic>::now();

    if result.is_err() {
        // No callback may run, and no byte may be written, once the
        // shares are unmapped and `pending` is freed.
        for c in shares.iter().flat_map(|s| s.chans.iter()) {
            c.terminate_sync();
        }
    }
    // Unmap the shares, then free `pending` (spelled out: order matters).
    drop(shares);
    drop(pending);
    account(&stats::TEARDOWN_NS, teardown, Instant::<Monotonic>::now());
    stats::BATCHES.add(1);
    result
}

static FAILED_BATCHES: AtomicUsize = AtomicUsize::new(0);

/// The migrator's `offload_copy`, called by the migration core.
///
/// # Safety
/// Called by the core with two lists of `folio_cnt` locked, unmapped
/// folios linked through `lru`, from process context.
#[no_mangle]
pub(crate) unsafe extern "C" fn dcbm_offload_copy(
    dst_list: *mut bindings::list_head,
    src_list: *mut bindings::list_head,
    folio_cnt: u32,
) -> i32 {
    let start = Instant::<Monotonic>::now();
    let nr = folio_cnt as usize;
    // SAFETY: forwarded from the core's contract.
    let (pairs, bytes, largest) = match unsafe { collect_pairs(dst_list, src_list, nr) } {
        Ok(v) => v,
        Err(e) => {
            stats::FOLIOS_FAILURES.add(nr as u64);
            return e.to_errno();
        }
    };
    if bytes < control::min_batch_bytes() || largest < control::min_folio_bytes() {
        stats::FOLIOS_DECLINED.add(nr as u64);
        return EOPNOTSUPP.to_errno();
    }
    let result = match control::channels() {
        Some(set) => copy(&set, &pairs, control::timeout_ms(), start),
        None => Err(ENODEV),
    };
    match result {
        Ok(()) => {
            stats::FOLIOS_MIGRATED.add(nr as u64);
            stats::BYTES_MIGRATED.add(bytes);
            0
        }
        Err(e) => {
            stats::FOLIOS_FAILURES.add(nr as u64);
            let n = FAILED_BATCHES.fetch_add(1, Ordering::Relaxed);
            // The log stays readable under a failing engine: the first ten
            // failures, then every thousandth.
            if n < 10 || n % 1000 == 0 {
                pr_warn!(
                    "DMA copy of {} folios failed ({:?}), copying on the CPU\n",
                    nr,
                    e
                );
            }
            e.to_errno()
        }
    }
}
