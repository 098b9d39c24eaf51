//! Checkable fill pattern.
//!
//! Every 8-byte word of the test region holds `splitmix64(key ^ byte_offset)`
//! where `key` is derived from `(seed, round)`. Because splitmix64 is a
//! bijection, two different offsets in the same round never hold the same
//! value, so a page that lands at the wrong address, a page left over from a
//! previous round (stale copy) or a zero page are all detected.

/// One step of the splitmix64 generator (a bijective 64-bit mixer).
#[inline]
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// First mismatching word found by [`Pattern::verify`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadWord {
    /// Byte offset from the start of the region.
    pub offset: u64,
    pub expected: u64,
    pub got: u64,
}

/// Result of a verification pass.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Verify {
    pub corrupt_words: u64,
    pub first_bad: Option<BadWord>,
}

impl Verify {
    pub fn ok(&self) -> bool {
        self.corrupt_words == 0
    }
}

/// The pattern for one `(seed, round)` pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pattern {
    key: u64,
}

impl Pattern {
    pub fn new(seed: u64, round: u64) -> Self {
        Pattern {
            key: splitmix64(seed ^ splitmix64(round ^ 0x6463_626D_5F67_7374)),
        }
    }

    /// Expected value of the word at `byte_offset` (a multiple of 8).
    #[inline]
    pub fn word_at(&self, byte_offset: u64) -> u64 {
        splitmix64(self.key ^ byte_offset)
    }

    /// Fill `words`, which start at byte offset 0 of the region.
    pub fn fill(&self, words: &mut [u64]) {
        for (i, w) in words.iter_mut().enumerate() {
            *w = self.word_at((i as u64) * 8);
        }
    }

    /// Compare `words` (starting at byte offset 0) with the pattern.
    pub fn verify(&self, words: &[u64]) -> Verify {
        let mut v = Verify::default();
        for (i, &got) in words.iter().enumerate() {
            let offset = (i as u64) * 8;
            let expected = self.word_at(offset);
            if got != expected {
                v.corrupt_words += 1;
                if v.first_bad.is_none() {
                    v.first_bad = Some(BadWord {
                        offset,
                        expected,
                        got,
                    });
                }
            }
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE_WORDS: usize = 4096 / 8;

    fn filled(p: &Pattern, pages: usize) -> Vec<u64> {
        let mut v = vec![0u64; pages * PAGE_WORDS];
        p.fill(&mut v);
        v
    }

    #[test]
    fn splitmix_known_values() {
        // Reference values of the canonical splitmix64 sequence seeded with 0.
        assert_eq!(splitmix64(0), 0xE220_A839_7B1D_CDAF);
        assert_eq!(splitmix64(0x9E37_79B9_7F4A_7C15), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn deterministic_and_sensitive_to_all_inputs() {
        let a = Pattern::new(1, 0);
        assert_eq!(a.word_at(4096), Pattern::new(1, 0).word_at(4096));
        assert_ne!(a.word_at(0), a.word_at(8));
        assert_ne!(a.word_at(0), Pattern::new(2, 0).word_at(0));
        assert_ne!(a.word_at(0), Pattern::new(1, 1).word_at(0));
        assert_ne!(Pattern::new(1, 0), Pattern::new(0, 1));
    }

    #[test]
    fn no_zero_words_and_distinct_within_round() {
        let p = Pattern::new(7, 3);
        let v = filled(&p, 16);
        assert!(v.iter().all(|&w| w != 0));
        let mut s = v.clone();
        s.sort_unstable();
        s.dedup();
        assert_eq!(s.len(), v.len());
    }

    #[test]
    fn fill_then_verify_is_clean() {
        let p = Pattern::new(42, 5);
        let v = filled(&p, 8);
        assert_eq!(p.verify(&v), Verify::default());
        assert!(p.verify(&v).ok());
    }

    #[test]
    fn detects_single_bit_flip() {
        let p = Pattern::new(42, 5);
        let mut v = filled(&p, 4);
        v[1000] ^= 1 << 17;
        let r = p.verify(&v);
        assert_eq!(r.corrupt_words, 1);
        let bad = r.first_bad.unwrap();
        assert_eq!(bad.offset, 8000);
        assert_eq!(bad.expected, p.word_at(8000));
        assert_eq!(bad.got, p.word_at(8000) ^ (1 << 17));
    }

    #[test]
    fn detects_zero_page() {
        let p = Pattern::new(1, 1);
        let mut v = filled(&p, 4);
        v[PAGE_WORDS * 2..PAGE_WORDS * 3].fill(0);
        let r = p.verify(&v);
        assert_eq!(r.corrupt_words, PAGE_WORDS as u64);
        assert_eq!(r.first_bad.unwrap().offset, 2 * 4096);
    }

    #[test]
    fn detects_misplaced_page() {
        let p = Pattern::new(9, 0);
        let mut v = filled(&p, 4);
        let (a, b) = v.split_at_mut(PAGE_WORDS * 2);
        a[PAGE_WORDS..].swap_with_slice(&mut b[..PAGE_WORDS]);
        let r = p.verify(&v);
        assert_eq!(r.corrupt_words, 2 * PAGE_WORDS as u64);
        assert_eq!(r.first_bad.unwrap().offset, 4096);
    }

    #[test]
    fn detects_stale_page_from_previous_round() {
        let old = Pattern::new(9, 0);
        let new = Pattern::new(9, 1);
        let mut v = filled(&new, 4);
        let stale = filled(&old, 4);
        v[PAGE_WORDS * 3..].copy_from_slice(&stale[PAGE_WORDS * 3..]);
        let r = new.verify(&v);
        assert_eq!(r.corrupt_words, PAGE_WORDS as u64);
        assert_eq!(r.first_bad.unwrap().offset, 3 * 4096);
    }
}
