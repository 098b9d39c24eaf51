// SPDX-License-Identifier: GPL-2.0

//! Verify-after-copy, for operators qualifying an engine or its firmware:
//! after the engine says a batch is done, and before any folio counts as
//! copied, each destination is compared with its source on the CPU. A
//! folio that differs goes to the CPU copy (on v6 alone, on v5 with its
//! batch), counts in `verify_mismatches`, and takes the batch's channels
//! out of the pool (health.rs, cause `mismatch`).
//!
//! `verify`: `auto` (default: every batch on a provider whose failed
//! copies do not reach dcbm as errors, ptdma's; none elsewhere; see
//! providers.rs), `off`, `sampled` (one batch in [`SAMPLE_EVERY`], all
//! its folios) or `all`. The comparison reads both folios: with `all`
//! the CPU reads twice what the engine copied, which costs more than the
//! copy it saved; it is a qualification tool, not a mode to run in.

use crate::coverage::Span;
use crate::ffi::{self, Folio};
use crate::stats;
use core::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use kernel::prelude::*;

/// When destinations are checked.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Verify {
    Off = 0,
    Sampled = 1,
    All = 2,
    Auto = 3,
}

impl Verify {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Sampled => "sampled",
            Self::All => "all",
            Self::Auto => "auto",
        }
    }

    /// `off`, `sampled` or `all`, with at most one trailing newline.
    pub(crate) fn parse(buf: &CStr) -> Result<Self> {
        let b = buf.to_bytes();
        match b.strip_suffix(b"\n").unwrap_or(b) {
            b"off" => Ok(Self::Off),
            b"sampled" => Ok(Self::Sampled),
            b"all" => Ok(Self::All),
            b"auto" => Ok(Self::Auto),
            _ => Err(EINVAL),
        }
    }
}

/// With `sampled`, the batches checked: one in this many.
pub(crate) const SAMPLE_EVERY: u64 = 16;

static MODE: AtomicU8 = AtomicU8::new(Verify::Auto as u8);
static BATCH: AtomicU64 = AtomicU64::new(0);

pub(crate) fn mode() -> Verify {
    match MODE.load(Ordering::Relaxed) {
        1 => Verify::Sampled,
        2 => Verify::All,
        3 => Verify::Auto,
        _ => Verify::Off,
    }
}

pub(crate) fn set_mode(v: Verify) -> Result {
    MODE.store(v as u8, Ordering::Relaxed);
    Ok(())
}

/// Whether the batch that just completed is to be checked; `silent`: a
/// channel it used cannot report a failed copy.
pub(crate) fn this_batch(silent: bool) -> bool {
    match mode() {
        Verify::Off => false,
        Verify::All => true,
        Verify::Auto => silent,
        Verify::Sampled => BATCH.fetch_add(1, Ordering::Relaxed) % SAMPLE_EVERY == 0,
    }
}

/// A folio pair to check: a copy the engine reported done.
pub(crate) trait Checked: AsMut<Span> {
    fn folios(&self) -> (*mut Folio, *mut Folio);
}

/// Compares every pair the engine copied with its source; a pair that
/// differs no longer counts as copied. Returns how many differed.
///
/// The engine must be done with the pairs and their mappings gone.
pub(crate) fn check<P: Checked>(pairs: &mut [P]) -> usize {
    stats::VERIFIED_BATCHES.add(1);
    let mut bad = 0;
    for p in pairs.iter_mut() {
        if !p.as_mut().copied() {
            continue;
        }
        let (src, dst) = p.folios();
        // SAFETY: the folios of a migrator call, locked and of the same
        // size (collect_pairs checked); no engine writes them any more.
        if !unsafe { ffi::dcbm_folio_same(src, dst) } {
            p.as_mut().done = 0;
            bad += 1;
        }
    }
    stats::VERIFY_MISMATCHES.add(bad as u64);
    bad
}

#[cfg(dcbm_kunit)]
#[kernel::macros::kunit_tests(dcbm_verify)]
mod tests {
    use super::*;

    #[test]
    fn parse_takes_the_three_names_only() {
        assert!(matches!(Verify::parse(c"off"), Ok(Verify::Off)));
        assert!(matches!(Verify::parse(c"sampled\n"), Ok(Verify::Sampled)));
        assert!(matches!(Verify::parse(c"all\n"), Ok(Verify::All)));
        for bad in [c"", c"\n", c"ALL", c"all\n\n", c" all", c"1"] {
            assert!(Verify::parse(bad).is_err());
        }
    }

    #[test]
    fn what_is_shown_parses_back() {
        for v in [Verify::Off, Verify::Sampled, Verify::All, Verify::Auto] {
            let mut buf = [0u8; 16];
            let name = v.name().as_bytes();
            buf[..name.len()].copy_from_slice(name);
            let shown = CStr::from_bytes_with_nul(&buf[..=name.len()]).unwrap();
            assert!(Verify::parse(shown).ok() == Some(v));
        }
    }
}
