//! A second thread that keeps writing to the region while it migrates, so
//! that a write lost by migration (a copy that raced a store, a late DMA
//! write over the CPU's copy) shows up as a page whose last write is gone.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::mapping::PAGE_SIZE;

const WORDS_PER_PAGE: usize = PAGE_SIZE / 8;

/// What the writer saw: the last value it stored in the first word of each
/// page (0: never written), and how many stores it made.
pub struct Writes {
    pub last: Vec<u64>,
    pub stores: u64,
}

/// Runs `work` while a writer thread stores increasing values into the
/// first word of every page of the `len` words at `base` (at least one
/// full pass, then until `work` returns), calling `between` after each
/// pass. Returns `work`'s result and the writes.
///
/// # Safety
/// `base..base + len` is valid, 8-byte aligned memory that nothing else
/// reads or writes until this returns (`work` may move it to another node,
/// which is the point, but must not access it).
pub unsafe fn while_writing<R>(
    base: *mut u64,
    len: usize,
    between: &(dyn Fn() + Sync),
    work: impl FnOnce() -> R,
) -> (R, Writes) {
    let pages = len / WORDS_PER_PAGE;
    let base = base as usize;
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let writer = s.spawn(|| {
            let mut last = vec![0u64; pages];
            let mut stores = 0u64;
            loop {
                for (p, l) in last.iter_mut().enumerate() {
                    stores += 1;
                    // SAFETY: word 0 of page `p` lies in the caller's range,
                    // aligned, and only this thread accesses it until the
                    // scope ends (the function's contract).
                    let w =
                        unsafe { AtomicU64::from_ptr((base as *mut u64).add(p * WORDS_PER_PAGE)) };
                    w.store(stores, Ordering::Relaxed);
                    *l = stores;
                }
                if stop.load(Ordering::Relaxed) {
                    return Writes { last, stores };
                }
                between();
            }
        });
        let r = work();
        stop.store(true, Ordering::Relaxed);
        (r, writer.join().expect("writer thread panicked"))
    })
}

/// Pages whose first word no longer holds the writer's last value.
pub fn lost(words: &[u64], w: &Writes) -> u64 {
    w.last
        .iter()
        .enumerate()
        .filter(|&(p, &l)| l != 0 && words[p * WORDS_PER_PAGE] != l)
        .count() as u64
}

/// Puts back the first word of every page: `value(byte_offset)`.
pub fn restore(words: &mut [u64], value: impl Fn(u64) -> u64) {
    for p in 0..words.len() / WORDS_PER_PAGE {
        words[p * WORDS_PER_PAGE] = value((p * PAGE_SIZE) as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_write_is_seen_and_a_lost_one_is_found() {
        let mut words = vec![7u64; 4 * WORDS_PER_PAGE];
        let (base, len) = (words.as_mut_ptr(), words.len());
        // SAFETY: `words` is not touched until the call returns.
        let ((), w) = unsafe {
            while_writing(base, len, &|| {}, || {
                std::thread::sleep(std::time::Duration::from_millis(5))
            })
        };
        assert!(w.stores >= 4);
        assert_eq!(lost(&words, &w), 0);
        words[2 * WORDS_PER_PAGE] = 1;
        assert_eq!(lost(&words, &w), 1);
        restore(&mut words, |off| off + 1);
        assert_eq!(words[3 * WORDS_PER_PAGE], 3 * PAGE_SIZE as u64 + 1);
    }
}
