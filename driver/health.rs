// SPDX-License-Identifier: GPL-2.0

//! What dcbm knows of each held channel's health, and the batch time limit
//! fitted to the engine's measured rate.
//!
//! A channel is in the pool (`InPool`) until a batch on it times out or
//! gets an error; it is then taken out at once (`Out`) and gets no batch
//! until a probe (prober.rs: one page of a known pattern, copied and
//! checked) succeeds, after a back-off that doubles with every trouble in
//! a row (100 ms up to 30 s). Repeated trouble on one engine device takes
//! all its channels out (the device is benched). When no channel is left
//! in the pool, offloading pauses: every batch goes to the CPU until a
//! probe brings a channel back. `health_strikes` sets how many troubles
//! in a row take a channel out (default 1; 0 turns the model off: each
//! batch then meets a sick engine on its own, as without it).
//!
//! The time limit of a batch fits it: see [`fitted_timeout_ms`].
//!
//! The state is a handful of atomics per channel: the batch path reads it
//! without a lock, and a transition is a `compare_exchange`, so exactly one
//! thread makes each (and logs it).

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use kernel::prelude::*;
use kernel::str::Formatter;

/// Where a channel stands.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum State {
    /// Leased to batches.
    InPool = 0,
    /// Taken out after trouble; a probe may run once the back-off passed.
    Out = 1,
    /// A probe runs on it (prober.rs holds its lease).
    Probing = 2,
}

impl State {
    fn from_u8(v: u8) -> Self {
        match v {
            0 => Self::InPool,
            1 => Self::Out,
            _ => Self::Probing,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::InPool => "in-pool",
            Self::Out => "out",
            Self::Probing => "probing",
        }
    }
}

/// Why a channel was last taken out.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Cause {
    None = 0,
    /// A batch on it did not complete within its time limit.
    Timeout = 1,
    /// A descriptor completed with an error, or the engine refused one.
    Error = 2,
    /// Its probe failed: an error, a timeout, or wrong bytes.
    Probe = 3,
    /// Another channel of its device was in trouble too: the device is
    /// benched.
    Device = 4,
    /// The engine said done, but a destination differs from its source
    /// (verify.rs).
    Mismatch = 5,
}

impl Cause {
    pub(crate) fn from_u8(v: u8) -> Self {
        match v {
            1 => Self::Timeout,
            2 => Self::Error,
            3 => Self::Probe,
            4 => Self::Device,
            5 => Self::Mismatch,
            _ => Self::None,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Timeout => "timeout",
            Self::Error => "error",
            Self::Probe => "probe-failed",
            Self::Device => "device-benched",
            Self::Mismatch => "mismatch",
        }
    }
}

/// First back-off after a trouble, doubled for each further trouble in a
/// row, up to [`BACKOFF_MAX_MS`].
pub(crate) const BACKOFF_MIN_MS: u64 = 100;
pub(crate) const BACKOFF_MAX_MS: u64 = 30_000;

/// The back-off after `strikes` troubles in a row (a benched device's
/// channel may have none of its own: the first back-off).
fn backoff_ms(strikes: u32) -> u64 {
    let shift = strikes.saturating_sub(1).min(16);
    (BACKOFF_MIN_MS << shift).min(BACKOFF_MAX_MS)
}

pub(crate) fn now_ns() -> u64 {
    // SAFETY: no preconditions; monotonic nanoseconds, never negative.
    unsafe { kernel::bindings::ktime_get() as u64 }
}

/// One channel's health (see the module's description).
pub(crate) struct Health {
    state: AtomicU8,
    cause: AtomicU8,
    /// Troubles since the channel last completed a batch or a probe.
    strikes: AtomicU32,
    /// When a probe may run (monotonic ns), while `Out`.
    retry_at: AtomicU64,
    /// Times taken out; probes run; probes failed.
    outs: AtomicU64,
    probes: AtomicU64,
    probe_failures: AtomicU64,
    /// The engine's measured pace on this channel (averages over recent
    /// whole batches; 0 until the first): bytes per millisecond, and
    /// nanoseconds per descriptor.
    rate: AtomicU64,
    desc_ns: AtomicU64,
}

impl Health {
    pub(crate) const fn new() -> Self {
        Self {
            state: AtomicU8::new(State::InPool as u8),
            cause: AtomicU8::new(Cause::None as u8),
            strikes: AtomicU32::new(0),
            retry_at: AtomicU64::new(0),
            outs: AtomicU64::new(0),
            probes: AtomicU64::new(0),
            probe_failures: AtomicU64::new(0),
            rate: AtomicU64::new(0),
            desc_ns: AtomicU64::new(0),
        }
    }

    pub(crate) fn state(&self) -> State {
        State::from_u8(self.state.load(Ordering::Acquire))
    }

    pub(crate) fn in_pool(&self) -> bool {
        self.state() == State::InPool
    }

    /// Why the channel was last taken out.
    pub(crate) fn cause(&self) -> Cause {
        Cause::from_u8(self.cause.load(Ordering::Relaxed))
    }

    /// Counts a trouble a batch met on the channel; takes it out of the
    /// pool once `needed` troubles came in a row (0: never). True when
    /// this call took it out.
    pub(crate) fn trouble(&self, cause: Cause, needed: u32) -> bool {
        let n = self.strikes.fetch_add(1, Ordering::Relaxed) + 1;
        needed != 0 && n >= needed && self.move_out(State::InPool, cause)
    }

    /// Takes the channel out of the pool for `cause` (its device is
    /// benched). False when it was not in the pool.
    pub(crate) fn take_out(&self, cause: Cause) -> bool {
        self.move_out(State::InPool, cause)
    }

    fn move_out(&self, from: State, cause: Cause) -> bool {
        if self
            .state
            .compare_exchange(
                from as u8,
                State::Out as u8,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_err()
        {
            return false;
        }
        let strikes = self.strikes.load(Ordering::Relaxed);
        self.cause.store(cause as u8, Ordering::Relaxed);
        self.retry_at.store(
            now_ns() + backoff_ms(strikes) * 1_000_000,
            Ordering::Release,
        );
        self.outs.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// The back-off left before a probe may run, in milliseconds (0: now);
    /// `None` unless the channel is out.
    pub(crate) fn probe_in_ms(&self) -> Option<u64> {
        if self.state() != State::Out {
            return None;
        }
        let at = self.retry_at.load(Ordering::Acquire);
        Some(at.saturating_sub(now_ns()).div_ceil(1_000_000))
    }

    /// Claims the channel for a probe (it is out and its back-off passed).
    pub(crate) fn start_probe(&self) -> bool {
        self.probe_in_ms() == Some(0)
            && self
                .state
                .compare_exchange(
                    State::Out as u8,
                    State::Probing as u8,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                )
                .is_ok()
    }

    /// Ends a probe: back in the pool, or out again with a longer back-off.
    pub(crate) fn end_probe(&self, ok: bool) {
        self.probes.fetch_add(1, Ordering::Relaxed);
        if ok {
            self.strikes.store(0, Ordering::Relaxed);
            self.forget_pace();
            self.state.store(State::InPool as u8, Ordering::Release);
        } else {
            self.probe_failures.fetch_add(1, Ordering::Relaxed);
            self.strikes.fetch_add(1, Ordering::Relaxed);
            self.move_out(State::Probing, Cause::Probe);
        }
    }

    /// A probe could not start (its channel is still leased, or no memory
    /// for it): out again, retried after the shortest back-off.
    pub(crate) fn defer_probe(&self) {
        self.retry_at
            .store(now_ns() + BACKOFF_MIN_MS * 1_000_000, Ordering::Release);
        self.state.store(State::Out as u8, Ordering::Release);
    }

    /// A batch went through whole on this channel: its part, `bytes` in
    /// `descs` descriptors, took `ns` (the whole batch's time). Every such
    /// batch teaches both paces: bytes per ms and ns per descriptor.
    pub(crate) fn note_success(&self, bytes: u64, descs: u64, ns: u64) {
        self.strikes.store(0, Ordering::Relaxed);
        if ns == 0 || descs == 0 {
            return;
        }
        let ewma = |a: &AtomicU64, sample: u64| {
            let old = a.load(Ordering::Relaxed);
            let new = if old == 0 {
                sample
            } else {
                (old * 3 + sample) / 4
            };
            a.store(new.max(1), Ordering::Relaxed);
        };
        ewma(&self.rate, bytes.saturating_mul(1_000_000) / ns);
        ewma(&self.desc_ns, ns / descs);
    }

    /// What this channel's engine was measured doing (0: not yet).
    pub(crate) fn pace(&self) -> Pace {
        Pace {
            rate: self.rate.load(Ordering::Relaxed),
            desc_ns: self.desc_ns.load(Ordering::Relaxed),
        }
    }

    /// Forgets the measured pace (a probe passed after trouble: the
    /// engine may have become slower, and a limit fitted to its old pace
    /// would take it out again at once).
    fn forget_pace(&self) {
        self.rate.store(0, Ordering::Relaxed);
        self.desc_ns.store(0, Ordering::Relaxed);
    }

    pub(crate) fn show(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} cause={} strikes={} outs={} probes={} probe_failures={} rate_mbps={} desc_us={}",
            self.state().name(),
            self.cause().name(),
            self.strikes.load(Ordering::Relaxed),
            self.outs.load(Ordering::Relaxed),
            self.probes.load(Ordering::Relaxed),
            self.probe_failures.load(Ordering::Relaxed),
            // bytes/ms = 1000 bytes/s = 1/1000 MB/s
            self.rate.load(Ordering::Relaxed) / 1000,
            self.desc_ns.load(Ordering::Relaxed) / 1000,
        )
    }
}

/// Offloading is paused: no channel is in the pool.
static PAUSED: AtomicBool = AtomicBool::new(false);

pub(crate) fn paused() -> bool {
    PAUSED.load(Ordering::Relaxed)
}

/// Records whether a channel is left in the pool; logs the change, once.
pub(crate) fn set_paused(p: bool) {
    // (Read first: every batch calls this, and a store would bounce the
    // cache line between CPUs.)
    if PAUSED.load(Ordering::Relaxed) != p
        && PAUSED.swap(p, Ordering::AcqRel) != p
        // SAFETY: no preconditions (the health log's rate limit).
        && unsafe { crate::ffi::dcbm_health_log_ok() }
    {
        if p {
            pr_warn!("no healthy DMA channel left: offloading paused, the CPU copies\n");
        } else {
            pr_info!("a DMA channel is healthy again: offloading resumed\n");
        }
    }
}

/// What a batch can expect of its channels (health.rs's measurements,
/// combined by channels.rs's `Lease::pace`): bytes per ms over all its
/// channels, ns per descriptor on each; 0 where not measured.
#[derive(Clone, Copy, Default)]
pub(crate) struct Pace {
    pub(crate) rate: u64,
    pub(crate) desc_ns: u64,
}

/// The margin over the expected time. The floor (scheduling, the path's
/// own work, an interrupt's latency, a loaded host) is `min_timeout_ms`.
const FIT_MARGIN: u64 = 8;
/// The pace assumed before one is measured: slower than any engine dcbm
/// is meant for (memcpy engines move GB/s, a descriptor in microseconds),
/// so it never cuts a healthy first batch short. Also slower than the test
/// bed's software engine under emulation on a loaded host, which took over
/// 0.5 ms per descriptor for a first 4 KiB batch (100 us was assumed, and
/// cut that batch short). A THP batch, bound by its bytes, is not slowed
/// by the per-descriptor figure: a hang is still found in about 300 ms.
const ASSUMED_RATE: u64 = 100_000; // bytes per ms: 100 MB/s
const ASSUMED_DESC_NS: u64 = 1_000_000; // 1 ms

/// How long a batch of `bytes` in about `descs` descriptors per channel
/// may take at `pace`: `floor_ms` (`min_timeout_ms`) plus `FIT_MARGIN` times the longer
/// of the two expectations, its bytes at the measured rate and its
/// descriptors at the measured time per descriptor (THP batches are
/// bound by bytes, 4 KiB ones by descriptors; each measure is taken from
/// every whole batch, so a mix of both errs long, never short); never
/// more than `limit_ms` (`timeout_ms`). A hung engine is so found in about
/// 100 ms for a THP batch, not in `timeout_ms`.
pub(crate) fn fitted_timeout_ms(
    bytes: u64,
    descs: u64,
    pace: Pace,
    floor_ms: u32,
    limit_ms: u32,
) -> u32 {
    let rate = if pace.rate == 0 {
        ASSUMED_RATE
    } else {
        pace.rate
    };
    let desc_ns = if pace.desc_ns == 0 {
        ASSUMED_DESC_NS
    } else {
        pace.desc_ns
    };
    let expected = bytes
        .div_ceil(rate)
        .max(descs.saturating_mul(desc_ns).div_ceil(1_000_000));
    let fit = u64::from(floor_ms).saturating_add(expected.saturating_mul(FIT_MARGIN));
    fit.min(u64::from(limit_ms)).max(1) as u32
}

#[cfg(dcbm_kunit)]
#[kernel::macros::kunit_tests(dcbm_health)]
mod tests {
    use super::*;

    #[test]
    fn fitted_timeout_follows_the_pace() {
        let fast = Pace {
            rate: 1_000_000,
            desc_ns: 2_000,
        };
        // A 2 MiB THP at 1 GB/s: 2.1 ms expected, 100 + 8 * 3 ms.
        assert_eq!(fitted_timeout_ms(2 << 20, 1, fast, 100, 10_000), 124);
        // 512 descriptors of 4 KiB: bound by the descriptors, 1.1 ms.
        assert_eq!(fitted_timeout_ms(2 << 20, 512, fast, 100, 10_000), 124);
        assert_eq!(
            fitted_timeout_ms(2 << 20, 5120, fast, 100, 10_000),
            100 + 8 * 11
        );
        // Unmeasured: 100 MB/s and 1 ms per descriptor assumed.
        assert_eq!(
            fitted_timeout_ms(2 << 20, 1, Pace::default(), 100, 10_000),
            100 + 8 * 21
        );
        assert_eq!(
            fitted_timeout_ms(2 << 20, 256, Pace::default(), 100, 10_000),
            100 + 8 * 256
        );
        // A first 512-folio batch of 4 KiB on one channel: 4.2 s, not the
        // 0.5 s that cut a healthy one short on a loaded test bed.
        assert_eq!(
            fitted_timeout_ms(2 << 20, 512, Pace::default(), 100, 10_000),
            100 + 8 * 512
        );
        // Never above timeout_ms, never 0.
        assert_eq!(
            fitted_timeout_ms(
                1 << 30,
                1,
                Pace {
                    rate: 1000,
                    desc_ns: 1
                },
                100,
                10_000
            ),
            10_000
        );
        assert_eq!(fitted_timeout_ms(0, 0, fast, 0, 0), 1);
        // The floor is min_timeout_ms.
        assert_eq!(fitted_timeout_ms(2 << 20, 1, fast, 5000, 10_000), 5024);
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        assert_eq!(backoff_ms(1), 100);
        assert_eq!(backoff_ms(2), 200);
        assert_eq!(backoff_ms(4), 800);
        assert_eq!(backoff_ms(40), BACKOFF_MAX_MS);
    }

    #[test]
    fn a_channel_goes_out_once_and_comes_back_after_a_probe() {
        let h = Health::new();
        assert!(h.in_pool());
        // Two troubles in a row needed: the first leaves it in the pool.
        assert!(!h.trouble(Cause::Timeout, 2));
        assert!(h.in_pool());
        assert!(h.trouble(Cause::Timeout, 2));
        assert!(!h.trouble(Cause::Error, 2)); // not twice
        assert!(!h.take_out(Cause::Device)); // not twice
        assert!(!h.in_pool());
        // The back-off has not passed: no probe yet.
        assert!(!h.start_probe());
        h.retry_at.store(0, Ordering::Release);
        assert!(h.start_probe());
        assert!(h.state() == State::Probing);
        h.end_probe(false);
        assert!(h.state() == State::Out);
        assert_eq!(h.strikes.load(Ordering::Relaxed), 4);
        h.retry_at.store(0, Ordering::Release);
        assert!(h.start_probe());
        h.end_probe(true);
        assert!(h.in_pool());
        assert_eq!(h.strikes.load(Ordering::Relaxed), 0);
        assert_eq!(h.probes.load(Ordering::Relaxed), 2);
        // 0: the model is off, no trouble takes a channel out.
        for _ in 0..10 {
            assert!(!h.trouble(Cause::Error, 0));
        }
        assert!(h.in_pool());
    }
}
