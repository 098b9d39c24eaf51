// SPDX-License-Identifier: GPL-2.0

//! What a batch works in, allocated once per held channel (when the channel
//! is acquired, with GFP_KERNEL) and reused by every batch and probe that
//! leases the channel first: the folio pairs, the scatter-gather entries,
//! the descriptor records and the shares. A no-wait call (demotion and
//! compaction from reclaim) may not sleep to allocate, and finds memory
//! short exactly when it needs the offload most: with the workspace, its
//! copy path allocates nothing.
//!
//! A workspace is sized for the largest batch the migration core makes:
//! fewer than `dcbm_batch_pages_max()` base pages (1024 on x86-64), so as
//! many folios at most (a batch of split folios is retried whole, one
//! folio a page), and as many table entries (each covers at least a page).
//! A batch that does not fit (a kernel built with larger batches) gets a
//! workspace of its own when it may sleep, and is declined for memory
//! when it may not.

use crate::channels::{Chan, Lease};
use crate::context::CallCtx;
use crate::coverage::{self, Span};
use crate::ffi::{self, Folio};
use crate::inflight::Tracker;
use crate::segments::MAX_LANES;
use crate::sgtable::{MappedTable, SgArena};
use crate::verify;
use core::mem::ManuallyDrop;
use core::ops::{Deref, DerefMut, Range};
use kernel::alloc::{Flags, KVVec};
use kernel::bindings;
use kernel::dma::DataDirection;
use kernel::prelude::*;
use kernel::sync::Arc;

/// One (source, destination) folio pair of the batch, and where its bytes
/// lie in its share (`span.len` is the folio size).
///
/// # Invariants
/// `src` and `dst` are folios of the same size that stay valid while the
/// pair is in a workspace: those of the current migrator call (or a
/// probe's own pages), from `collect_pairs` until the workspace is cleared
/// before the call returns.
#[derive(Clone, Copy)]
pub(crate) struct Pair {
    pub(crate) src: *mut Folio,
    pub(crate) dst: *mut Folio,
    pub(crate) span: Span,
}

impl Pair {
    /// A pair of folios of `len` bytes each, its place in a share not set
    /// yet.
    pub(crate) fn new(src: *mut Folio, dst: *mut Folio, len: u64) -> Self {
        let span = Span {
            len,
            ..Span::default()
        };
        Self { src, dst, span }
    }
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

/// The share of a batch that goes to one engine device: its folios (the
/// pairs `folios` of the batch), mapped once on the device, copied over
/// the lanes `lanes` of the tracker.
pub(crate) struct Share {
    pub(crate) src: MappedTable,
    pub(crate) dst: MappedTable,
    pub(crate) lanes: Range<usize>,
    pub(crate) folios: Range<usize>,
    pub(crate) bytes: u64,
}

/// One batch's working memory, reused batch after batch.
///
/// # Invariants
/// The tables of `shares` are runs of `src` and `dst`. Fields drop in
/// declaration order, the lifetime rule's (inflight.rs): the tracker waits
/// until no descriptor can run, the shares are unmapped, then the arenas
/// are freed.
pub(crate) struct Workspace {
    pub(crate) tracker: Tracker,
    shares: KVec<Share>,
    src: SgArena,
    dst: SgArena,
    pub(crate) pairs: KVVec<Pair>,
}

impl Workspace {
    /// A workspace for `folios` folios in `entries` table entries (the
    /// folios' base pages at most), allocated with `gfp`.
    fn new(
        folios: usize,
        entries: u32,
        gfp: Flags,
        raw_gfp: bindings::gfp_t,
    ) -> Result<KBox<Self>> {
        // Descriptors: about one per entry, plus a cut per lane.
        let descs = entries as usize + MAX_LANES;
        let ws = Self {
            tracker: Tracker::new(MAX_LANES, descs, gfp)?,
            shares: KVec::with_capacity(MAX_LANES, gfp)?,
            src: SgArena::new(entries, raw_gfp)?,
            dst: SgArena::new(entries, raw_gfp)?,
            pairs: KVVec::with_capacity(folios, gfp)?,
        };
        Ok(KBox::new(ws, gfp)?)
    }

    /// A workspace sized for any batch of the migration core (a channel's).
    pub(crate) fn for_batches() -> Result<KBox<Self>> {
        // SAFETY: no preconditions.
        let pages = unsafe { ffi::dcbm_batch_pages_max() };
        Self::new(pages as usize, pages, GFP_KERNEL, bindings::GFP_KERNEL)
    }

    /// Whether a batch of `folios` folios in `pages` base pages fits.
    fn fits(&self, folios: usize, pages: u64) -> bool {
        folios <= self.pairs.capacity() && pages <= u64::from(self.src.left().min(self.dst.left()))
    }

    /// Maps the pairs `folios` on `dev`, the device of the tracker's lanes
    /// `lanes`, as a new share, and sets each pair's place in it; the
    /// share's number.
    ///
    /// # Safety
    /// `dev` is the DMA device of the lanes' channels, which the caller
    /// leases.
    pub(crate) unsafe fn map_share(
        &mut self,
        folios: Range<usize>,
        lanes: Range<usize>,
        dev: *mut bindings::device,
    ) -> Result<usize> {
        let mut bytes = 0;
        for p in self.pairs[folios.clone()].iter_mut() {
            p.span.off = bytes;
            bytes += p.span.len;
        }
        let part = &self.pairs[folios.clone()];
        // SAFETY: `dev` is held (the function's contract); `span.len` is
        // the size of both folios of a pair, and they stay valid while the
        // runs live (`Pair`'s invariant: the runs are
        // dropped when the workspace is cleared, before the call returns);
        // the runs are dropped before the arenas are reset (`unmap`) or
        // freed (field order).
        let src = unsafe {
            self.src.map(
                part.iter().map(|p| (p.src, p.span.len as usize)),
                dev,
                DataDirection::ToDevice,
            )?
        };
        // SAFETY: as above.
        let dst = unsafe {
            self.dst.map(
                part.iter().map(|p| (p.dst, p.span.len as usize)),
                dev,
                DataDirection::FromDevice,
            )?
        };
        let share = Share {
            src,
            dst,
            lanes,
            folios,
            bytes,
        };
        // INVARIANT: both tables are runs of this workspace's arenas.
        self.shares
            .push_within_capacity(share)
            .map_err(|_| EINVAL)?;
        Ok(self.shares.len() - 1)
    }

    /// The tracker, and share `i` to submit on it.
    pub(crate) fn share(&mut self, i: usize) -> (&mut Tracker, &Share) {
        (&mut self.tracker, &self.shares[i])
    }

    /// Credits each pair with the bytes the batch's successful
    /// descriptors copied (coverage.rs); waits for every callback first.
    pub(crate) fn credit_completed(&mut self) {
        let Self {
            tracker,
            shares,
            pairs,
            ..
        } = self;
        for d in tracker.completed() {
            let folios = shares[d.share].folios.clone();
            coverage::credit(&mut pairs[folios], d.off, d.len);
        }
    }

    /// The lifetime rule's order: waits until no descriptor runs, then
    /// unmaps the tables (after which the CPU sees what the engine wrote).
    pub(crate) fn unmap(&mut self) {
        self.tracker.finish();
        self.shares.clear();
        // SAFETY: the runs were the shares' tables, just dropped.
        unsafe {
            self.src.reset();
            self.dst.reset();
        }
    }

    /// Makes the workspace ready for the next batch.
    fn clear(&mut self) {
        self.unmap();
        self.pairs.clear();
    }
}

/// A workspace taken by a batch or a probe: cleared on drop, and given
/// back to the channel it came from (or freed, when it was allocated for
/// the one batch).
///
/// # Invariants
/// `ws` is taken out only by `drop`.
pub(crate) struct Taken {
    ws: ManuallyDrop<KBox<Workspace>>,
    home: Option<Arc<Chan>>,
}

impl Taken {
    /// The workspace of the lease's first channel, for a batch of `folios`
    /// folios in `pages` base pages; one of the batch's own if that does
    /// not fit and the call may sleep. `None`: no memory for it.
    pub(crate) fn for_lease(
        lease: &Lease,
        folios: usize,
        pages: u64,
        ctx: CallCtx,
    ) -> Option<Self> {
        let home = lease.first()?;
        if let Some(ws) = home.take_workspace() {
            if ws.fits(folios, pages) {
                return Some(Self {
                    ws: ManuallyDrop::new(ws),
                    home: Some(home.clone()),
                });
            }
            home.give_workspace(ws);
        }
        if ctx.nowait {
            return None;
        }
        let entries = u32::try_from(pages).ok()?;
        let ws = Workspace::new(folios, entries, ctx.gfp, ctx.raw_gfp).ok()?;
        Some(Self {
            ws: ManuallyDrop::new(ws),
            home: None,
        })
    }
}

impl Deref for Taken {
    type Target = Workspace;

    fn deref(&self) -> &Workspace {
        &self.ws
    }
}

impl DerefMut for Taken {
    fn deref_mut(&mut self) -> &mut Workspace {
        &mut self.ws
    }
}

impl Drop for Taken {
    fn drop(&mut self) {
        self.ws.clear();
        // SAFETY: taken out once, here (the type invariant), and not used
        // after.
        let ws = unsafe { ManuallyDrop::take(&mut self.ws) };
        match self.home.take() {
            Some(home) => home.give_workspace(ws),
            None => drop(ws),
        }
    }
}
