// SPDX-License-Identifier: GPL-2.0

//! Scatter-gather tables over the folios of a batch. Their entries come
//! from an [`SgArena`], allocated once per workspace (workspace.rs) and
//! handed out per batch as one run of entries per engine device; a
//! [`MappedTable`] is such a run, filled and mapped on a device, and
//! unmapped on drop.

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

/// Scatter-gather entries allocated once and reused: each batch takes
/// consecutive runs of them ([`SgArena::map`]) and gives them all back
/// ([`SgArena::reset`]).
///
/// # Invariants
/// `table` was allocated by `sg_alloc_table` and is never changed after
/// (its entries are, by the runs handed out); `next` is its entry number
/// `used` (null once `used` is the table's size).
pub(crate) struct SgArena {
    table: bindings::sg_table,
    next: *mut bindings::scatterlist,
    used: u32,
}

impl SgArena {
    /// An arena of `n` entries (`n` > 0), allocated with `gfp`.
    pub(crate) fn new(n: u32, gfp: bindings::gfp_t) -> Result<Self> {
        // SAFETY: an all-zero `sg_table` is its documented empty state.
        let mut table: bindings::sg_table = unsafe { core::mem::zeroed() };
        // SAFETY: `table` is an empty table owned here; on failure
        // `sg_alloc_table` frees what it allocated.
        kernel::error::to_result(unsafe { bindings::sg_alloc_table(&mut table, n, gfp) })?;
        // INVARIANT: allocated just above; nothing handed out yet.
        Ok(Self {
            next: table.sgl,
            table,
            used: 0,
        })
    }

    /// The entries not handed out since the last reset.
    pub(crate) fn left(&self) -> u32 {
        self.table.orig_nents - self.used
    }

    /// Takes every entry back.
    ///
    /// # Safety
    /// No [`MappedTable`] of this arena is alive.
    pub(crate) unsafe fn reset(&mut self) {
        // INVARIANT: entry 0; nothing handed out.
        self.next = self.table.sgl;
        self.used = 0;
    }

    /// Takes the next entries and fills them with `folios` (each with its
    /// size, known to the caller: a call into C per folio saved): one entry
    /// per folio, or per piece of at most `seg` bytes (a multiple of the
    /// page size) of a folio larger than that. The run's own table header: the
    /// entries are the arena's, the counts the run's (the DMA API walks
    /// `orig_nents` entries from `sgl`, whatever follows them). ENOSPC,
    /// and nothing taken, when the arena has too few entries left.
    ///
    /// # Safety
    /// The folios are valid, and each is at least the size given with it.
    unsafe fn fill(
        &mut self,
        folios: impl Iterator<Item = (*mut Folio, usize)> + Clone,
        seg: usize,
    ) -> Result<bindings::sg_table> {
        let n: usize = folios.clone().map(|(_, len)| len.div_ceil(seg)).sum();
        let n = u32::try_from(n).map_err(|_| ENOSPC)?;
        if n == 0 || n > self.left() {
            return Err(ENOSPC);
        }
        let first = self.next;
        for (folio, len) in folios {
            let mut off = 0;
            while off < len {
                let part = (len - off).min(seg);
                // SAFETY: `next` is entry `used` of the table, below its
                // size (checked above); the folio is valid and
                // `off + part` lies within it (its size is `len` or more).
                unsafe { ffi::dcbm_sg_set_folio_part(self.next, folio, part, off) };
                off += part;
                // INVARIANT: `next` follows `used`.
                self.used += 1;
                self.next = if self.used < self.table.orig_nents {
                    // SAFETY: entry `used - 1` is not the table's last.
                    unsafe { bindings::sg_next(self.next) }
                } else {
                    ptr::null_mut()
                };
            }
        }
        Ok(bindings::sg_table {
            sgl: first,
            nents: 0,
            orig_nents: n,
        })
    }

    /// Takes the next entries, fills them with `folios` (cut at the
    /// device's mapping limit: the DMA API maps no segment longer than
    /// `dma_get_max_seg_size()`, 64 KiB for a PCI device unless its driver
    /// raises it, and a THP is 2 MiB) and maps them on `dev`. ENOSPC when
    /// the arena has too few entries left.
    ///
    /// # Safety
    /// `dev` is a valid device with a non-zero reference count (the DMA
    /// device of a channel the caller holds); the folios, each at least the
    /// size given with it, stay valid while the result lives; the arena is
    /// neither reset nor dropped while the result lives.
    pub(crate) unsafe fn map(
        &mut self,
        folios: impl Iterator<Item = (*mut Folio, usize)> + Clone,
        dev: *mut bindings::device,
        dir: DataDirection,
    ) -> Result<MappedTable> {
        // SAFETY: per the function's contract; any thread may drop it.
        let dev_ref = unsafe { Device::get_device(dev) };
        // SAFETY: `dev` is alive (`dev_ref`).
        let limit = unsafe { ffi::dcbm_max_seg_size(dev) } as usize;
        let seg = (limit / PAGE_SIZE).max(1) * PAGE_SIZE;
        // SAFETY: the folios are valid, and their sizes right (the
        // function's contract).
        let mut run = unsafe { self.fill(folios, seg)? };
        // SAFETY: the run's entries are filled; `dev` is alive (`dev_ref`).
        kernel::error::to_result(unsafe {
            bindings::dma_map_sgtable(dev, &mut run, dir.into(), 0)
        })?;
        // INVARIANT: mapped just above, on the device `dev_ref` holds; the
        // entries stay the run's until the arena is reset, which the
        // caller does only after this table is dropped.
        Ok(MappedTable {
            run,
            dev,
            _dev_ref: dev_ref,
            dir,
        })
    }
}

impl Drop for SgArena {
    fn drop(&mut self) {
        // SAFETY: allocated by `sg_alloc_table` and unchanged (the type
        // invariant); no run is mapped any more (`map`'s contract).
        unsafe { bindings::sg_free_table(&mut self.table) };
    }
}

/// A run of an arena's entries, over folios, mapped on a device; unmapped
/// on drop.
///
/// # Invariants
/// `run.sgl` is the first of `run.orig_nents` entries of an arena, filled
/// and mapped on `dev` with `dir` (`run.nents` DMA segments); the arena
/// outlives this table. `dev` is the device `dev_ref` holds a reference
/// on, so it outlives the mapping whatever happens to the channel it came
/// from. (The raw pointer is kept because `Device::as_raw()` is private to
/// the kernel crate in 7.3.)
pub(crate) struct MappedTable {
    run: bindings::sg_table,
    dev: *mut bindings::device,
    _dev_ref: ARef<Device>,
    dir: DataDirection,
}

impl MappedTable {
    /// The number of mapped DMA segments (an IOMMU may merge entries).
    pub(crate) fn nents(&self) -> u32 {
        self.run.nents
    }

    /// The number of entries the table was built with.
    pub(crate) fn entries(&self) -> u32 {
        self.run.orig_nents
    }

    /// The mapped DMA segments.
    pub(crate) fn segs(&self) -> impl Iterator<Item = Seg> + '_ {
        // SAFETY: our run, mapped (the type invariant) and not modified
        // while borrowed. (`SGTable<Owned>` takes only vmalloc-backed
        // pages and a bound device, so the table is built here and only
        // walked with the kernel crate's iterator, which stops after
        // `nents` segments.)
        let table = unsafe { SGTable::from_raw(ptr::from_ref(&self.run).cast_mut()) };
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
        unsafe { bindings::dma_unmap_sgtable(self.dev, &mut self.run, self.dir.into(), 0) };
    }
}

#[cfg(dcbm_kunit)]
#[kernel::macros::kunit_tests(dcbm_sgtable)]
mod tests {
    use super::*;
    use kernel::page::Page;

    /// Takes `n` entries of `arena` for the folio `f`, repeated.
    fn fill(arena: &mut SgArena, f: *mut Folio, n: usize) -> Result<bindings::sg_table> {
        // SAFETY: the callers' folio is the one of a page they hold.
        unsafe { arena.fill(core::iter::repeat_n((f, PAGE_SIZE), n), PAGE_SIZE) }
    }

    /// Walks `n` entries from `sg`; whether each is one whole page.
    fn whole_pages(mut sg: *mut bindings::scatterlist, n: u32) -> bool {
        for i in 0..n {
            // SAFETY: an entry of a live arena, within its size.
            let (len, off) = unsafe { ((*sg).length, (*sg).offset) };
            if len as usize != PAGE_SIZE || off != 0 {
                return false;
            }
            if i + 1 < n {
                // SAFETY: not the run's last entry.
                sg = unsafe { bindings::sg_next(sg) };
            }
        }
        true
    }

    #[test]
    fn runs_follow_each_other_across_chained_chunks() {
        let page = Page::alloc_page(GFP_KERNEL).unwrap();
        // SAFETY: our order-0 page is a folio.
        let folio = unsafe { ffi::dcbm_page_folio(page.as_ptr()) };
        // More entries than one chunk holds: the table is chained.
        let mut arena = SgArena::new(300, bindings::GFP_KERNEL).unwrap();
        let a = fill(&mut arena, folio, 200).unwrap();
        assert_eq!(a.orig_nents, 200);
        assert_eq!(arena.left(), 100);
        let b = fill(&mut arena, folio, 100).unwrap();
        assert_eq!(arena.left(), 0);
        assert!(whole_pages(a.sgl, 200) && whole_pages(b.sgl, 100));
        // The second run starts where the first ends.
        let mut sg = a.sgl;
        for _ in 0..200 {
            // SAFETY: within the arena's 300 entries.
            sg = unsafe { bindings::sg_next(sg) };
        }
        assert_eq!(sg, b.sgl);
        assert_eq!(fill(&mut arena, folio, 1).err(), Some(ENOSPC));
        // A mapping leaves its DMA state in the entries.
        let mut sg = a.sgl;
        for _ in 0..300 {
            // SAFETY: an entry of the arena, which nothing maps.
            unsafe { (*sg).dma_address = 0xdead_0000 };
            // SAFETY: within the arena's 300 entries (the last is marked).
            sg = unsafe { bindings::sg_next(sg) };
        }
        // SAFETY: nothing was mapped.
        unsafe { arena.reset() };
        assert_eq!(arena.left(), 300);
        let c = fill(&mut arena, folio, 300).unwrap();
        assert_eq!(c.sgl, a.sgl);
        assert!(whole_pages(c.sgl, 300));
        // Filled again, the entries have forgotten it.
        let mut sg = c.sgl;
        for _ in 0..300 {
            // SAFETY: as above.
            assert_eq!(unsafe { (*sg).dma_address }, 0);
            // SAFETY: as above.
            sg = unsafe { bindings::sg_next(sg) };
        }
    }

    #[test]
    fn a_run_that_does_not_fit_takes_nothing() {
        let page = Page::alloc_page(GFP_KERNEL).unwrap();
        // SAFETY: our order-0 page is a folio.
        let folio = unsafe { ffi::dcbm_page_folio(page.as_ptr()) };
        let mut arena = SgArena::new(4, bindings::GFP_KERNEL).unwrap();
        assert!(fill(&mut arena, folio, 3).is_ok());
        assert_eq!(fill(&mut arena, folio, 2).err(), Some(ENOSPC));
        assert_eq!(arena.left(), 1);
        assert!(fill(&mut arena, folio, 1).is_ok());
        assert_eq!(arena.left(), 0);
        assert_eq!(fill(&mut arena, folio, 0).err(), Some(ENOSPC));
    }
}
