// SPDX-License-Identifier: GPL-2.0

//! Scatter-gather tables over the folios of a batch, in two states: built
//! ([`FolioTable`]) and mapped on a DMA device ([`MappedTable`]). A mapped
//! table owns the built one, so it is unmapped before it is freed.

use crate::context::CallCtx;
use crate::ffi::{self, Folio};
use crate::segments::Seg;
use kernel::bindings;
use kernel::prelude::*;

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
/// `folios.table` is mapped on `dev` with `dir`; `dev` is the DMA device
/// of a channel the batch holds, alive while this table is.
pub(crate) struct MappedTable {
    folios: FolioTable,
    dev: *mut bindings::device,
    dir: bindings::dma_data_direction,
}

impl MappedTable {
    /// Builds a table over `folios` and maps it on `dev`.
    pub(crate) fn map(
        folios: impl ExactSizeIterator<Item = *mut Folio>,
        dev: *mut bindings::device,
        dir: bindings::dma_data_direction,
        ctx: CallCtx,
    ) -> Result<Self> {
        let mut folios = FolioTable::new(folios, ctx)?;
        // SAFETY: the table is filled; `dev` is a held channel's DMA device.
        kernel::error::to_result(unsafe {
            bindings::dma_map_sgtable(dev, &mut *folios.table, dir, 0)
        })?;
        // INVARIANT: mapped just above.
        Ok(Self { folios, dev, dir })
    }

    /// The number of mapped DMA segments (an IOMMU may merge entries).
    pub(crate) fn nents(&self) -> u32 {
        self.folios.table.nents
    }

    /// The mapped DMA segments.
    pub(crate) fn segs(&self) -> impl Iterator<Item = Seg> + '_ {
        let mut sg = self.folios.table.sgl;
        (0..self.nents()).map(move |_| {
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

impl Drop for MappedTable {
    fn drop(&mut self) {
        // SAFETY: mapped on `dev` with `dir` (the type invariant); the
        // engine is done with it: a batch drops its tables only after its
        // tracker has settled every descriptor (inflight.rs).
        unsafe { bindings::dma_unmap_sgtable(self.dev, &mut *self.folios.table, self.dir, 0) };
    }
}
