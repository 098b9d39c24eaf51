//! compact-check: gives compaction anonymous pages to move, makes it run,
//! then checks that every page kept its contents and reports how many
//! moved.
//!
//!   compact-check [--wait-moved SECS] SIZE STRIDE THP_MIB [CMD [ARGS...]]
//!
//! It takes SIZE (MiB, or `N%` of MemFree) of 4 KiB anonymous pages, keeps
//! one page in STRIDE with a pattern and frees the others: holes for
//! compaction to fill (STRIDE 2 leaves the most pages to move; 512 keeps
//! one per 2 MiB block, which denies every huge page with little to move).
//! Then it runs CMD (e.g. `sh -c 'echo 1 > /proc/sys/vm/compact_memory'`),
//! then, with `--wait-moved`, polls until at least one kept page moved or
//! SECS passed (a daemon such as kcompactd compacts in its own time),
//! then, if THP_MIB > 0, it faults in THP_MIB of huge pages, which makes
//! the page allocator compact directly (with THP defrag `always`), and
//! times that; then it reads the pattern back. Progress goes to stderr.
//! Prints
//! `RESULT {"pages":N,"moved":M,"corrupt_pages":C,"thp_ms":T,"thp_huge_mib":H}`
//! (moved: kept pages whose frame changed, from /proc/self/pagemap, which
//! needs root; thp_huge_mib: how much of the THP region is huge pages) and
//! exits 1 on corruption, 2 on a usage or system error.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::process::{exit, Command};

const PAGE: usize = 4096;

fn fail(msg: &str) -> ! {
    eprintln!("compact-check: {msg}");
    exit(2)
}

fn word(page: usize, i: usize) -> u64 {
    ((page as u64) << 20 | i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// The page frame of each kept page, 0 when not present (one read of the
/// pagemap for the whole range: this is polled).
fn frames(pagemap: &File, base: usize, pages: &[usize]) -> Vec<u64> {
    let span = pages.last().map_or(0, |&p| p + 1);
    let mut raw = vec![0u8; span * 8];
    pagemap
        .read_exact_at(&mut raw, (base / PAGE * 8) as u64)
        .unwrap_or_else(|e| fail(&format!("pagemap: {e}")));
    pages
        .iter()
        .map(|&p| {
            let e = u64::from_le_bytes(raw[p * 8..p * 8 + 8].try_into().unwrap());
            if e >> 63 == 1 {
                e & ((1 << 55) - 1)
            } else {
                0
            }
        })
        .collect()
}

fn mem_free_mib() -> usize {
    let info =
        std::fs::read_to_string("/proc/meminfo").unwrap_or_else(|e| fail(&format!("meminfo: {e}")));
    info.lines()
        .find_map(|l| l.strip_prefix("MemFree:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        .map(|kib| kib / 1024)
        .unwrap_or_else(|| fail("no MemFree in /proc/meminfo"))
}

/// Faults in `mib` MiB of THP-backed memory (2 MiB aligned); returns the
/// time it took in ms and how many MiB ended up huge (smaps). The region
/// stays mapped until exit.
fn fault_thp(mib: usize) -> (u128, usize) {
    let huge = 2 << 20;
    let len = mib << 20;
    // SAFETY: a fresh private anonymous mapping, one huge page larger so
    // that an aligned region fits.
    let raw = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len + huge,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if raw == libc::MAP_FAILED {
        fail("mmap (THP region) failed");
    }
    let start = (raw as usize).next_multiple_of(huge);
    // SAFETY: within the mapping above.
    unsafe { libc::madvise(start as *mut libc::c_void, len, libc::MADV_HUGEPAGE) };
    let t = std::time::Instant::now();
    for off in (0..len).step_by(4096) {
        // SAFETY: within the mapping.
        unsafe { ((start + off) as *mut u8).write_volatile(1) };
    }
    let ms = t.elapsed().as_millis();
    let smaps = std::fs::read_to_string("/proc/self/smaps_rollup").unwrap_or_default();
    let huge_kib: usize = smaps
        .lines()
        .find_map(|l| l.strip_prefix("AnonHugePages:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    (ms, huge_kib / 1024)
}

/// Polls the kept pages' frames every 100 ms until one differs from
/// `before` or `secs` passed.
fn wait_moved(pagemap: &File, base: usize, kept: &[usize], before: &[u64], secs: u64) {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < until {
        if frames(pagemap, base, kept) != before {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    eprintln!("compact-check: no kept page moved in {secs} s");
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let wait_secs = if args.first().map(String::as_str) == Some("--wait-moved") {
        let secs = args
            .get(1)
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or_else(|| fail("--wait-moved SECS: a number of seconds"));
        args.drain(..2);
        Some(secs)
    } else {
        None
    };
    let (Some(size), Some(stride), Some(thp_mib)) = (args.first(), args.get(1), args.get(2)) else {
        fail("usage: compact-check [--wait-moved SECS] SIZE STRIDE THP_MIB [CMD [ARGS...]]")
    };
    let mib = match size.strip_suffix('%') {
        Some(pct) => {
            let pct: usize = pct.parse().unwrap_or_else(|_| fail("SIZE: N%"));
            mem_free_mib() * pct.min(99) / 100
        }
        None => size.parse().unwrap_or_else(|_| fail("SIZE is MiB or N%")),
    };
    let stride: usize = match stride.parse() {
        Ok(n) if n >= 2 => n,
        _ => fail("STRIDE is a number >= 2"),
    };
    let thp_mib: usize = thp_mib
        .parse()
        .unwrap_or_else(|_| fail("THP_MIB is a number"));
    let len = mib << 20;
    let n = len / PAGE;
    // SAFETY: a fresh private anonymous mapping, owned by this function,
    // populated in one call (not a fault per page); without MADV_HUGEPAGE
    // (the test bed boots with THP "madvise") its pages are 4 KiB ones.
    let base = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
            -1,
            0,
        )
    };
    if base == libc::MAP_FAILED {
        fail("mmap failed");
    }
    let words = base.cast::<u64>();
    let per_page = PAGE / 8;
    let kept: Vec<usize> = (0..n).step_by(stride).collect();
    for &p in &kept {
        for i in 0..per_page {
            // SAFETY: within the mapping.
            unsafe { words.add(p * per_page + i).write_volatile(word(p, i)) };
        }
        // Free the pages up to the next kept one.
        let gap = (stride - 1).min(n - p - 1);
        if gap > 0 {
            // SAFETY: pages of the mapping, not used again.
            unsafe {
                libc::madvise(
                    base.cast::<u8>().add((p + 1) * PAGE).cast(),
                    gap * PAGE,
                    libc::MADV_DONTNEED,
                )
            };
        }
    }
    eprintln!("compact-check: {mib} MiB taken, 1 page in {stride} kept");
    let pagemap =
        File::open("/proc/self/pagemap").unwrap_or_else(|e| fail(&format!("pagemap: {e}")));
    let before = frames(&pagemap, base as usize, &kept);
    if let Some(cmd) = args.get(3) {
        let status = Command::new(cmd)
            .args(&args[4..])
            .status()
            .unwrap_or_else(|e| fail(&format!("{cmd}: {e}")));
        if !status.success() {
            fail(&format!("{cmd} failed: {status}"));
        }
    }
    if let Some(secs) = wait_secs {
        wait_moved(&pagemap, base as usize, &kept, &before, secs);
    }
    let (thp_ms, thp_huge_mib) = if thp_mib > 0 {
        eprintln!("compact-check: faulting in {thp_mib} MiB of THP");
        fault_thp(thp_mib)
    } else {
        (0, 0)
    };
    let after = frames(&pagemap, base as usize, &kept);
    let moved = before.iter().zip(&after).filter(|(b, a)| b != a).count();
    let mut corrupt = 0;
    for &p in &kept {
        // SAFETY: within the mapping.
        let bad = (0..per_page)
            .any(|i| unsafe { words.add(p * per_page + i).read_volatile() } != word(p, i));
        corrupt += usize::from(bad);
    }
    println!(
        "RESULT {{\"pages\":{},\"moved\":{},\"corrupt_pages\":{},\"thp_ms\":{},\"thp_huge_mib\":{}}}",
        kept.len(),
        moved,
        corrupt,
        thp_ms,
        thp_huge_mib
    );
    exit(i32::from(corrupt > 0))
}
