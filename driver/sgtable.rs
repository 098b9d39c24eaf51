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
use kernel::prelude::*;
use kernel::scatterlist::SGTable;
use kernel::sync::aref::ARef;

/// A table with one entry per folio, freed on drop.
///
/// # Invariants
/// `table` was allocated by `sg_alloc_table` and its entries point to the
/// folios given to [`FolioTable::new`]; it lives in a box, so its address
/// is stable while mapped.
struct FolioTable {
    table: KBox<bindings::sg_table>,
}

impl FolioTable {
    fn new(folios: impl ExactSizeIterator<Item = *mut Folio>, ctx: CallCtx) -> Result<Self> {
        let n = u32::try_from(folios.len())?;
        // SAFETY: an all-zero `sg_table` is its documented empty state.
        let mut table = KBox::new(unsafe { core::mem::zeroed() }, ctx.gfp)?;
        // SAFETY: `table` is an empty table owned by us.
        kernel::error::to_result(unsafe { bindings::sg_alloc_table(&mut *table, n, ctx.raw_gfp) })?;
        // INVARIANT: allocated above; filled below.
        let t = Self { table };
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
        folios: impl ExactSizeIterator<Item = *mut Folio>,
        dev: *mut bindings::device,
        dir: DataDirection,
        ctx: CallCtx,
    ) -> Result<Self> {
        // SAFETY: per the function's contract; any thread may drop it.
        let dev_ref = unsafe { Device::get_device(dev) };
        let mut folios = FolioTable::new(folios, ctx)?;
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
