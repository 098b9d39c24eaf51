//! Anonymous test region (RAII over mmap/munmap) and THP accounting.

use std::ffi::c_void;
use std::io;

pub const PAGE_SIZE: usize = 4096;
pub const HUGE_SIZE: usize = 2 << 20;
pub const PAGES_PER_HUGE: usize = HUGE_SIZE / PAGE_SIZE;

/// An anonymous private mapping, unmapped on drop.
#[derive(Debug)]
pub struct Region {
    base: *mut u8,
    len: usize,
}

impl Region {
    /// Map `len` bytes (a multiple of 4 KiB). With `huge`, the start is
    /// aligned to 2 MiB (over-allocate, then trim) and the range is
    /// `MADV_HUGEPAGE`; otherwise it is `MADV_NOHUGEPAGE`. Nothing is touched.
    pub fn new(len: usize, huge: bool) -> io::Result<Region> {
        assert!(len > 0 && len % PAGE_SIZE == 0, "bad region length {len}");
        let slop = if huge { HUGE_SIZE } else { 0 };
        let map_len = len
            .checked_add(slop)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::ENOMEM))?;
        // SAFETY: anonymous private mapping at a kernel-chosen address; no
        // existing memory is affected. The result is checked for MAP_FAILED.
        let raw = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if raw == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let raw_addr = raw as usize;
        let start = if huge {
            align_up(raw_addr, HUGE_SIZE)
        } else {
            raw_addr
        };
        let head = start - raw_addr;
        let tail = map_len - head - len;
        // Own the final range first so an error below still unmaps it.
        let region = Region {
            base: start as *mut u8,
            len,
        };
        if head > 0 {
            // SAFETY: [raw_addr, start) is part of the mapping we just created
            // and is not covered by `region`; nothing references it.
            if unsafe { libc::munmap(raw, head) } != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        if tail > 0 {
            // SAFETY: [start+len, raw_addr+map_len) is the unused tail of our
            // fresh mapping, outside `region`; nothing references it.
            if unsafe { libc::munmap((start + len) as *mut c_void, tail) } != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        let advice = if huge {
            libc::MADV_HUGEPAGE
        } else {
            libc::MADV_NOHUGEPAGE
        };
        // SAFETY: advice on a range we own; MADV_(NO)HUGEPAGE does not change
        // contents or validity of the mapping.
        if unsafe { libc::madvise(region.base.cast(), len, advice) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(region)
    }

    pub fn addr(&self) -> *mut c_void {
        self.base.cast()
    }

    pub fn start(&self) -> usize {
        self.base as usize
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn pages(&self) -> usize {
        self.len / PAGE_SIZE
    }

    /// Addresses of every `step`-th 4 KiB page (step 1 = all pages,
    /// step 512 = one per 2 MiB).
    pub fn page_addrs(&self, step: usize) -> Vec<*mut c_void> {
        (0..self.len)
            .step_by(PAGE_SIZE * step)
            .map(|off| (self.start() + off) as *mut c_void)
            .collect()
    }

    /// Write one byte per 4 KiB page so every page is faulted in under the
    /// current memory policy.
    pub fn touch(&mut self) {
        for off in (0..self.len).step_by(PAGE_SIZE) {
            // SAFETY: `off < len`, so the byte lies in our read/write mapping.
            unsafe { std::ptr::write_volatile(self.base.add(off), 1) };
        }
    }

    pub fn words(&self) -> &[u64] {
        // SAFETY: the mapping is `len` bytes, page aligned (so 8-byte aligned),
        // readable and lives as long as `self`; u64 has no invalid bit patterns
        // and fresh anonymous memory reads as zero.
        unsafe { std::slice::from_raw_parts(self.base.cast::<u64>(), self.len / 8) }
    }

    pub fn words_mut(&mut self) -> &mut [u64] {
        // SAFETY: as in `words`; `&mut self` guarantees exclusive access.
        unsafe { std::slice::from_raw_parts_mut(self.base.cast::<u64>(), self.len / 8) }
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: [base, base+len) is exactly the range this Region owns and
        // no borrow of it can outlive `self`.
        unsafe { libc::munmap(self.base.cast(), self.len) };
    }
}

pub fn align_up(x: usize, a: usize) -> usize {
    debug_assert!(a.is_power_of_two());
    (x + a - 1) & !(a - 1)
}

/// Sum of `AnonHugePages` (bytes) over smaps entries overlapping
/// `[start, end)`.
pub fn parse_smaps_anon_huge(text: &str, start: usize, end: usize) -> u64 {
    let mut in_range = false;
    let mut total_kib = 0u64;
    for line in text.lines() {
        if let Some((lo, hi)) = vma_header(line) {
            in_range = lo < end && hi > start;
        } else if in_range {
            if let Some(rest) = line.strip_prefix("AnonHugePages:") {
                if let Some(kib) = rest
                    .split_whitespace()
                    .next()
                    .and_then(|v| v.parse::<u64>().ok())
                {
                    total_kib += kib;
                }
            }
        }
    }
    total_kib * 1024
}

fn vma_header(line: &str) -> Option<(usize, usize)> {
    let range = line.split_whitespace().next()?;
    let (lo, hi) = range.split_once('-')?;
    Some((
        usize::from_str_radix(lo, 16).ok()?,
        usize::from_str_radix(hi, 16).ok()?,
    ))
}

/// Bytes of `region` currently backed by THP, from `/proc/self/smaps`
/// (`None` if /proc is not mounted).
pub fn thp_huge_bytes(region: &Region) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/smaps").ok()?;
    Some(parse_smaps_anon_huge(
        &text,
        region.start(),
        region.start() + region.len(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMAPS: &str = "\
55d4c0000000-55d4c0021000 rw-p 00000000 00:00 0                          [heap]
Size:                132 kB
AnonHugePages:      2048 kB
7f0000000000-7f0004000000 rw-p 00000000 00:00 0
Size:              65536 kB
Rss:               65536 kB
AnonHugePages:     61440 kB
THPeligible:    1
7f0004000000-7f0004200000 rw-p 00000000 00:00 0
AnonHugePages:      2048 kB
VmFlags: rd wr mr mw me ac hg
";

    #[test]
    fn smaps_sums_only_overlapping_vmas() {
        let (s, e) = (0x7f00_0000_0000, 0x7f00_0400_0000);
        assert_eq!(parse_smaps_anon_huge(SMAPS, s, e), 61440 * 1024);
        assert_eq!(parse_smaps_anon_huge(SMAPS, s, e + 0x20_0000), 63488 * 1024);
        assert_eq!(parse_smaps_anon_huge(SMAPS, 0x1000, 0x2000), 0);
    }

    #[test]
    fn alignment() {
        assert_eq!(align_up(0, HUGE_SIZE), 0);
        assert_eq!(align_up(1, HUGE_SIZE), HUGE_SIZE);
        assert_eq!(align_up(HUGE_SIZE, HUGE_SIZE), HUGE_SIZE);
    }

    #[test]
    fn huge_region_is_aligned_and_usable() {
        let mut r = Region::new(4 * HUGE_SIZE, true).unwrap();
        assert_eq!(r.start() % HUGE_SIZE, 0);
        assert_eq!(r.pages(), 4 * PAGES_PER_HUGE);
        assert_eq!(r.page_addrs(PAGES_PER_HUGE).len(), 4);
        assert_eq!(r.page_addrs(1).len(), 4 * PAGES_PER_HUGE);
        r.touch();
        r.words_mut()[5] = 77;
        assert_eq!(r.words()[5], 77);
        assert!(thp_huge_bytes(&r).unwrap_or(0) <= r.len() as u64);
    }
}
