// SPDX-License-Identifier: GPL-2.0

//! Which folios a batch's successful descriptors copied.
//!
//! A descriptor copies a byte range of its share's data, which may end
//! inside a folio or (when an IOMMU merged the mapping) span several. A
//! folio counts as copied only when descriptors that completed without
//! error covered every one of its bytes: a failed, aborted or never
//! submitted descriptor leaves every folio it touches to the CPU.

/// One folio's place in its share: bytes `off..off + len`, of which
/// `done` were confirmed copied.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) off: u64,
    pub(crate) len: u64,
    pub(crate) done: u64,
}

impl AsRef<Span> for Span {
    fn as_ref(&self) -> &Span {
        self
    }
}

impl AsMut<Span> for Span {
    fn as_mut(&mut self) -> &mut Span {
        self
    }
}

impl Span {
    pub(crate) fn copied(&self) -> bool {
        self.done == self.len
    }
}

/// Credits the copied bytes `off..off + len` to the folios they overlap.
/// `spans` are one share's folios in order, back to back from 0; the
/// credited ranges of a share never overlap (each byte is copied by one
/// descriptor), so a folio's `done` reaches `len` only when all of it is
/// covered.
pub(crate) fn credit<T: AsRef<Span> + AsMut<Span>>(spans: &mut [T], off: u64, len: u64) {
    let end = off + len;
    let first = spans.partition_point(|s| s.as_ref().off + s.as_ref().len <= off);
    for s in spans[first..]
        .iter_mut()
        .map(AsMut::as_mut)
        .take_while(|s| s.off < end)
    {
        let from = s.off.max(off);
        let to = (s.off + s.len).min(end);
        s.done += to - from;
    }
}

#[cfg(dcbm_kunit)]
#[kernel::macros::kunit_tests(dcbm_coverage)]
mod tests {
    use super::*;

    /// Folios of these sizes, back to back.
    fn spans<const N: usize>(sizes: [u64; N]) -> [Span; N] {
        let mut off = 0;
        sizes.map(|len| {
            let s = Span { off, len, done: 0 };
            off += len;
            s
        })
    }

    fn copied<const N: usize>(s: &[Span; N]) -> [bool; N] {
        s.map(|s| s.copied())
    }

    #[test]
    fn one_descriptor_per_folio() {
        let mut s = spans([4096, 4096, 4096]);
        credit(&mut s, 0, 4096);
        credit(&mut s, 8192, 4096);
        assert_eq!(copied(&s), [true, false, true]);
    }

    #[test]
    fn a_merged_descriptor_covers_several_folios() {
        let mut s = spans([4096, 4096, 4096, 4096]);
        credit(&mut s, 4096, 3 * 4096);
        assert_eq!(copied(&s), [false, true, true, true]);
    }

    #[test]
    fn a_folio_cut_over_descriptors_needs_every_part() {
        // A THP split over two channels, and a 4 KiB folio straddling two
        // descriptors of an uneven IOMMU merge.
        let mut s = spans([2 << 20, 4096, 4096]);
        credit(&mut s, 0, 1 << 20);
        assert_eq!(copied(&s), [false, false, false]);
        credit(&mut s, 1 << 20, 1 << 20);
        credit(&mut s, (2 << 20) + 4096, 2048);
        assert_eq!(copied(&s), [true, false, false]);
        credit(&mut s, (2 << 20) + 6144, 2048);
        assert_eq!(copied(&s), [true, false, true]);
    }

    #[test]
    fn a_failed_middle_descriptor_fails_only_its_folios() {
        // Descriptors of 6 KiB over 4 KiB folios: the failed one (bytes
        // 6 KiB..12 KiB) touches folios 1 and 2.
        let mut s = spans([4096; 5]);
        credit(&mut s, 0, 6144);
        credit(&mut s, 12288, 6144);
        credit(&mut s, 18432, 2048);
        assert_eq!(copied(&s), [true, false, false, true, true]);
    }
}
