// SPDX-License-Identifier: GPL-2.0

//! Scatter-gather tables over the folios of a batch, in two states: built
//! ([`FolioTable`]) and mapped on a DMA device ([`MappedTable`]). A mapped
//! table owns the built one, so it is unmapped before it is freed.

use crate::context::CallCtx;
use crate::ffi::{self, Folio};
use crate::segments::Seg;
use core::ptr;
use kernel::bindings;
use kernel::device::Device;
use kernel::dma::DataDirection;
use kernel::page::PAGE_SIZE;
use kernel::prelude::*;
use kernel::scatterlist::SGTable;
use kernel::sync::aref::ARef;

/// A table over folios, freed on drop: one entry per folio, or per piece
/// of at most `seg` bytes of a folio larger than that (the device's
/// mapping limit: the DMA API maps no segment longer than
/// `dma_get_max_seg_size()`, 64 KiB for a PCI device unless its driver
/// raises it, and a THP is 2 MiB).
///
/// # Invariants
/// `table` was allocated by `sg_alloc_table` and its entries cover the
/// folios given to [`FolioTable::new`], in order; it lives in a box, so its
/// address is stable while mapped.
struct FolioTable {
    table: KBox<bindings::sg_table>,
}

impl FolioTable {
    fn new(
        folios: impl Iterator<Item = *mut Folio> + Clone,
        seg: usize,
        ctx: CallCtx,
    ) -> Result<Self> {
        // SAFETY: the folios are valid for the whole migrator call.
        let size = |f: *mut Folio| unsafe { ffi::dcbm_folio_size(f) };
        let n: usize = folios.clone().map(|f| size(f).div_ceil(seg)).sum();
        let n = u32::try_from(n)?;
        // SAFETY: an all-zero `sg_table` is its documented empty state.
        let mut table = KBox::new(unsafe { core::mem::zeroed() }, ctx.gfp)?;
        // SAFETY: `table` is an empty table owned by us.
        kernel::error::to_result(unsafe { bindings::sg_alloc_table(&mut *table, n, ctx.raw_gfp) })?;
        // INVARIANT: allocated above; filled below, in order.
        let t = Self { table };
        let mut sg = t.table.sgl;
        let mut i = 0;
        for folio in folios {
            let len = size(folio);
            let mut off = 0;
            while off < len {
                let part = (len - off).min(seg);
                // SAFETY: `sg` is entry `i` of a table of `n` entries; the
                // folio is valid for the whole migrator call and
                // `off + part` lies within it.
                unsafe { ffi::dcbm_sg_set_folio_part(sg, folio, part, off) };
                off += part;
                i += 1;
                if i < n as usize {
                    // SAFETY: entry `i - 1` is not the last one.
                    sg = unsafe { bindings::sg_next(sg) };
                }
            }
        }
        Ok(t)
    }
}

impl Drop for FolioTable {
    fn drop(&mut self) {
        // SAFETY: allocated by `sg_alloc_table` (the type invariant) and
        // no longer mapped (a `MappedTable` unmaps before this drops).
        unsafe { bindings::sg_free_table(&mut *self.table) };
    }
}

/// A folio table mapped on a device, unmapped on drop.
///
/// # Invariants
/// `folios.table` is mapped on `dev` with `dir`; `dev` is the device
/// `dev_ref` holds a reference on, so it outlives the mapping whatever
/// happens to the channel it came from. (The raw pointer is kept because
/// `Device::as_raw()` is private to the kernel crate in 7.3.)
pub(crate) struct MappedTable {
    folios: FolioTable,
    dev: *mut bindings::device,
    _dev_ref: ARef<Device>,
    dir: DataDirection,
}

impl MappedTable {
    /// Builds a table over `folios` and maps it on `dev`.
    ///
    /// # Safety
    /// `dev` is a valid device with a non-zero reference count (the DMA
    /// device of a channel the caller holds).
    pub(crate) unsafe fn map(
        folios: impl Iterator<Item = *mut Folio> + Clone,
        dev: *mut bindings::device,
        dir: DataDirection,
        ctx: CallCtx,
    ) -> Result<Self> {
        // SAFETY: per the function's contract; any thread may drop it.
        let dev_ref = unsafe { Device::get_device(dev) };
        // SAFETY: `dev` is alive (`dev_ref`).
        let limit = unsafe { ffi::dcbm_max_seg_size(dev) } as usize;
        let seg = (limit / PAGE_SIZE).max(1) * PAGE_SIZE;
        let mut folios = FolioTable::new(folios, seg, ctx)?;
        // SAFETY: the table is filled; `dev` is alive (`dev_ref`).
        kernel::error::to_result(unsafe {
            bindings::dma_map_sgtable(dev, &mut *folios.table, dir.into(), 0)
        })?;
        // INVARIANT: mapped just above, on the device `dev_ref` holds.
        Ok(Self {
            folios,
            dev,
            _dev_ref: dev_ref,
            dir,
        })
    }

    /// The number of mapped DMA segments (an IOMMU may merge entries).
    pub(crate) fn nents(&self) -> u32 {
        self.folios.table.nents
    }

    /// The number of entries the table was built with.
    pub(crate) fn entries(&self) -> u32 {
        self.folios.table.orig_nents
    }

    /// The mapped DMA segments.
    pub(crate) fn segs(&self) -> impl Iterator<Item = Seg> + '_ {
        // SAFETY: our table, mapped (the type invariant) and not modified
        // while borrowed. (`SGTable<Owned>` takes only vmalloc-backed
        // pages and a bound device, so the folio table is built here and
        // only walked with the kernel crate's iterator.)
        let table = unsafe { SGTable::from_raw(ptr::from_ref(&*self.folios.table).cast_mut()) };
        table.iter().map(|e| Seg {
            addr: e.dma_address(),
            len: e.dma_len(),
        })
    }
}

impl Drop for MappedTable {
    fn drop(&mut self) {
        // SAFETY: mapped on `dev` with `dir` (the type invariant); the
        // engine is done with it: a batch drops its tables only after its
        // tracker has settled every descriptor (inflight.rs).
        unsafe {
            bindings::dma_unmap_sgtable(self.dev, &mut *self.folios.table, self.dir.into(), 0)
        };
    }
}
