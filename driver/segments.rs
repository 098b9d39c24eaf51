// SPDX-License-Identifier: GPL-2.0

//! Pairs DMA segments of a source and a destination mapping into copies.
//!
//! An IOMMU may merge the two sides differently (source in one segment,
//! destination in three, say); the C driver gave up then. The walk below
//! cuts both sides at every boundary of either, so any mapping of equal
//! total length is copied.
//!
//! Without an IOMMU every folio is its own segment, but folios allocated
//! one after another are often physically adjacent on both sides: the walk
//! joins copies that continue each other on both sides into one (up to
//! `max_len`), so such a run of 4 KiB folios is one descriptor.

/// A mapped DMA segment: bus address and length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Seg {
    pub(crate) addr: u64,
    pub(crate) len: u64,
}

/// One memcpy to submit: `len` bytes from `src` to `dst`, which are bytes
/// `off..off + len` of the mapped data (both sides have the same layout
/// of bytes, however their segments are cut).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Copy {
    pub(crate) dst: u64,
    pub(crate) src: u64,
    pub(crate) len: u64,
    pub(crate) off: u64,
}

/// Yields the copies that move `src` onto `dst`, none longer than
/// `max_len`, then `None`. `mismatch()` tells afterwards whether the two
/// sides had different total lengths (nothing valid to copy then).
pub(crate) struct CopyWalk<S, D> {
    src: S,
    dst: D,
    s: Option<Seg>,
    d: Option<Seg>,
    max_len: u64,
    /// Bytes walked so far.
    off: u64,
    /// A copy cut but not yet returned (it did not continue the last one).
    next: Option<Copy>,
}

impl<S: Iterator<Item = Seg>, D: Iterator<Item = Seg>> CopyWalk<S, D> {
    pub(crate) fn new(mut src: S, mut dst: D, max_len: u64) -> Self {
        let s = next_nonempty(&mut src);
        let d = next_nonempty(&mut dst);
        Self {
            src,
            dst,
            s,
            d,
            max_len: max_len.max(1),
            off: 0,
            next: None,
        }
    }

    /// True once the walk has ended with bytes left on one side only.
    pub(crate) fn mismatch(&self) -> bool {
        self.s.is_some() != self.d.is_some()
    }

    /// The next piece: up to the nearer segment boundary of either side.
    fn cut(&mut self) -> Option<Copy> {
        let (s, d) = (self.s.as_mut()?, self.d.as_mut()?);
        let len = s.len.min(d.len).min(self.max_len);
        let copy = Copy {
            dst: d.addr,
            src: s.addr,
            len,
            off: self.off,
        };
        self.off += len;
        s.addr += len;
        s.len -= len;
        d.addr += len;
        d.len -= len;
        if s.len == 0 {
            self.s = next_nonempty(&mut self.src);
        }
        if d.len == 0 {
            self.d = next_nonempty(&mut self.dst);
        }
        Some(copy)
    }
}

fn next_nonempty(it: &mut impl Iterator<Item = Seg>) -> Option<Seg> {
    it.find(|s| s.len != 0)
}

impl<S: Iterator<Item = Seg>, D: Iterator<Item = Seg>> Iterator for CopyWalk<S, D> {
    type Item = Copy;

    fn next(&mut self) -> Option<Copy> {
        let mut copy = self.next.take().or_else(|| self.cut())?;
        while let Some(more) = self.cut() {
            let continues = more.src == copy.src + copy.len && more.dst == copy.dst + copy.len;
            if !continues || copy.len + more.len > self.max_len {
                self.next = Some(more);
                break;
            }
            copy.len += more.len;
        }
        Some(copy)
    }
}

/// The most lanes a share is dealt over (the channels of one device).
pub(crate) const MAX_LANES: usize = 16;

/// The least a lane is given of a batch: below it, one more lane costs
/// more than it saves (a leased channel another batch could have had, a
/// doorbell, an interrupt, a run of callbacks). 256 KiB is 25 µs or more
/// of copying on a hardware engine, against a few µs of hand-offs there;
/// on the test bed's software engine a hand-off costs 0.1–0.4 ms. So
/// demotion's 128 KiB batches and one-folio promotions go on one channel.
const MIN_LANE_BYTES: u64 = 256 << 10;

/// How many lanes a batch of `bytes` has work for (at least one).
pub(crate) fn lanes_for(bytes: u64) -> usize {
    usize::try_from(bytes / MIN_LANE_BYTES)
        .unwrap_or(usize::MAX)
        .max(1)
}

/// Deals copies round-robin over `n` lanes, yielding each with its lane
/// (0..n) and whether it is that lane's last copy: the batch asks for an
/// interrupt there, where it will wait (inflight.rs). The last `n` copies
/// are the lanes' last, so the dealer looks `n` copies ahead, in a fixed
/// buffer: nothing is allocated on the copy path.
pub(crate) struct Dealer<I> {
    copies: I,
    n: usize,
    ahead: [Copy; MAX_LANES + 1],
    head: usize,
    len: usize,
    dealt: usize,
}

impl<I: Iterator<Item = Copy>> Dealer<I> {
    /// `n` is clamped to `1..=MAX_LANES`.
    pub(crate) fn new(copies: I, n: usize) -> Self {
        Self {
            copies,
            n: n.clamp(1, MAX_LANES),
            ahead: [Copy::default(); MAX_LANES + 1],
            head: 0,
            len: 0,
            dealt: 0,
        }
    }
}

impl<I: Iterator<Item = Copy>> Iterator for Dealer<I> {
    /// (lane, copy, the lane's last copy)
    type Item = (usize, Copy, bool);

    fn next(&mut self) -> Option<Self::Item> {
        const CAP: usize = MAX_LANES + 1;
        // The copy to deal and the `n` after it, if there are so many.
        while self.len <= self.n {
            let Some(c) = self.copies.next() else { break };
            self.ahead[(self.head + self.len) % CAP] = c;
            self.len += 1;
        }
        if self.len == 0 {
            return None;
        }
        let c = self.ahead[self.head];
        // Fewer than `n` copies follow: none of them is this lane's.
        let last = self.len <= self.n;
        self.head = (self.head + 1) % CAP;
        self.len -= 1;
        let lane = self.dealt % self.n;
        self.dealt += 1;
        Some((lane, c, last))
    }
}

#[cfg(dcbm_kunit)]
#[kernel::macros::kunit_tests(dcbm_segments)]
mod tests {
    use super::*;
    use kernel::prelude::*;

    const fn seg(addr: u64, len: u64) -> Seg {
        Seg { addr, len }
    }

    fn walk(src: &[Seg], dst: &[Seg], max: u64) -> (KVec<Copy>, bool) {
        let mut w = CopyWalk::new(src.iter().copied(), dst.iter().copied(), max);
        let mut out = KVec::new();
        for c in &mut w {
            out.push(c, GFP_KERNEL).unwrap();
        }
        (out, w.mismatch())
    }

    /// Every byte of src lands at the same offset of dst, exactly once:
    /// each copy is contiguous on both sides (checked at every segment
    /// boundary it crosses) and starts where the previous one ended.
    fn covers(src: &[Seg], dst: &[Seg], copies: &[Copy]) -> bool {
        let total: u64 = src.iter().map(|s| s.len).sum();
        // The address of byte `o` and the bytes left in its segment.
        let at = |segs: &[Seg], mut o: u64| {
            for s in segs {
                if o < s.len {
                    return Some((s.addr + o, s.len - o));
                }
                o -= s.len;
            }
            None
        };
        let mut off = 0;
        for c in copies {
            if c.len == 0 || c.off != off {
                return false;
            }
            let mut k = 0;
            while k < c.len {
                let (Some((sa, sl)), Some((da, dl))) = (at(src, off + k), at(dst, off + k)) else {
                    return false;
                };
                if sa != c.src + k || da != c.dst + k {
                    return false;
                }
                k += sl.min(dl);
            }
            off += c.len;
        }
        off == total
    }

    #[test]
    fn even_segments_copy_one_to_one() {
        let src = [seg(0x1000, 4096), seg(0x9000, 4096)];
        let dst = [seg(0x20000, 4096), seg(0x40000, 4096)];
        let (c, mismatch) = walk(&src, &dst, u64::MAX);
        assert!(!mismatch);
        assert_eq!(c.len(), 2);
        assert!(covers(&src, &dst, &c));
    }

    #[test]
    fn merged_source_is_split_at_destination_boundaries() {
        let src = [seg(0x100000, 3 * 4096)];
        let dst = [seg(0x5000, 4096), seg(0x8000, 8192)];
        let (c, mismatch) = walk(&src, &dst, u64::MAX);
        assert!(!mismatch);
        assert_eq!(c.len(), 2);
        assert!(covers(&src, &dst, &c));
    }

    #[test]
    fn uneven_on_both_sides() {
        let src = [seg(0x10000, 6144), seg(0x30000, 2048), seg(0x50000, 8192)];
        let dst = [seg(0x90000, 4096), seg(0xa0000, 10240), seg(0xc0000, 2048)];
        let (c, mismatch) = walk(&src, &dst, u64::MAX);
        assert!(!mismatch);
        assert!(covers(&src, &dst, &c));
    }

    #[test]
    fn long_segments_are_cut_to_max_len() {
        let src = [seg(0, 2 << 20)];
        let dst = [seg(1 << 30, 2 << 20)];
        let (c, _) = walk(&src, &dst, 65536);
        assert_eq!(c.len(), 32);
        assert!(c.iter().all(|c| c.len == 65536));
        assert!(covers(&src, &dst, &c));
    }

    #[test]
    fn unequal_totals_are_reported() {
        let (_, mismatch) = walk(&[seg(0, 8192)], &[seg(0, 4096)], u64::MAX);
        assert!(mismatch);
        let (_, mismatch) = walk(&[seg(0, 4096)], &[seg(0, 4096), seg(8192, 1)], u64::MAX);
        assert!(mismatch);
    }

    #[test]
    fn adjacent_folios_on_both_sides_are_one_copy() {
        // Four 4 KiB folios adjacent on both sides, then a gap in dst.
        let src = [
            seg(0x10000, 4096),
            seg(0x11000, 4096),
            seg(0x12000, 4096),
            seg(0x13000, 4096),
        ];
        let dst = [
            seg(0x80000, 4096),
            seg(0x81000, 4096),
            seg(0x82000, 4096),
            seg(0x90000, 4096),
        ];
        let (c, mismatch) = walk(&src, &dst, u64::MAX);
        assert!(!mismatch);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].len, 3 * 4096);
        assert!(covers(&src, &dst, &c));
    }

    #[test]
    fn joined_copies_respect_max_len() {
        let src = [seg(0, 4096), seg(4096, 4096), seg(8192, 4096)];
        let dst = [
            seg(1 << 20, 4096),
            seg((1 << 20) + 4096, 4096),
            seg((1 << 20) + 8192, 4096),
        ];
        let (c, _) = walk(&src, &dst, 8192);
        assert_eq!(c.len(), 2);
        assert_eq!((c[0].len, c[1].len), (8192, 4096));
        assert!(covers(&src, &dst, &c));
    }

    fn copies(n: u64) -> impl Iterator<Item = Copy> {
        (0..n).map(|i| Copy {
            dst: i,
            src: i,
            len: 1,
            off: i,
        })
    }

    #[test]
    fn the_dealer_marks_each_lanes_last_copy_only() {
        for lanes in [1usize, 2, 3, 4, 16] {
            for total in [0u64, 1, 2, 3, 5, 16, 17, 40] {
                let mut seen = 0u64;
                let mut lasts = 0usize;
                for (lane, c, last) in Dealer::new(copies(total), lanes) {
                    assert_eq!(c.off, seen);
                    assert_eq!(lane, seen as usize % lanes);
                    // Last exactly when no copy `lanes` later exists.
                    assert_eq!(last, c.off + lanes as u64 >= total);
                    lasts += usize::from(last);
                    seen += 1;
                }
                assert_eq!(seen, total);
                assert_eq!(lasts, lanes.min(total as usize));
            }
        }
    }

    #[test]
    fn the_dealer_clamps_its_lanes() {
        let mut d = Dealer::new(copies(40), 99);
        assert!(d.all(|(lane, _, _)| lane < MAX_LANES));
        assert_eq!(
            Dealer::new(copies(40), 99)
                .filter(|&(_, _, last)| last)
                .count(),
            MAX_LANES
        );
        // No lanes deals to one.
        let v: KVec<bool> = {
            let mut v = KVec::new();
            for (_, _, last) in Dealer::new(copies(3), 0) {
                v.push(last, GFP_KERNEL).unwrap();
            }
            v
        };
        assert_eq!(&v[..], &[false, false, true]);
    }

    #[test]
    fn empty_segments_are_skipped() {
        let src = [seg(0, 0), seg(4096, 4096)];
        let dst = [seg(8192, 4096), seg(0, 0)];
        let (c, mismatch) = walk(&src, &dst, u64::MAX);
        assert!(!mismatch);
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn a_batch_gets_a_lane_per_quarter_mebibyte() {
        // A one-folio promotion, demotion's 32 x 4 KiB: one lane.
        assert_eq!(lanes_for(0), 1);
        assert_eq!(lanes_for(4096), 1);
        assert_eq!(lanes_for(128 << 10), 1);
        assert_eq!(lanes_for(MIN_LANE_BYTES - 1), 1);
        assert_eq!(lanes_for(MIN_LANE_BYTES), 1);
        assert_eq!(lanes_for(2 * MIN_LANE_BYTES - 1), 1);
        assert_eq!(lanes_for(2 * MIN_LANE_BYTES), 2);
        // A THP, and the core's largest 4 KiB batch: every lane a
        // lease gives (half of 16 channels at most).
        assert!(lanes_for(2 << 20) >= 8);
        assert!(lanes_for(u64::MAX) >= MAX_LANES);
    }
}
