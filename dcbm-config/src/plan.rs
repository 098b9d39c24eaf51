//! Diff of the live state against the desired one, as ordered writes.

use std::fmt;

use serde::Serialize;

use crate::module::{Attr, Live, COUNTERS};

/// What the policy wants the module to look like. `None` = unmanaged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Desired {
    pub offloading: bool,
    pub nr_dma_chan: Option<u64>,
    pub timeout_ms: Option<u64>,
    pub min_batch_bytes: Option<u64>,
    /// Reset the counters (the non-zero ones are written).
    pub reset_counters: bool,
}

impl Desired {
    pub fn get(&self, a: Attr) -> Option<u64> {
        match a {
            Attr::Offloading => Some(self.offloading as u64),
            Attr::NrDmaChan => self.nr_dma_chan,
            Attr::TimeoutMs => self.timeout_ms,
            Attr::MinBatchBytes => self.min_batch_bytes,
            _ => None,
        }
    }
}

/// One write: `attr` goes from `from` to `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Step {
    pub attr: Attr,
    pub from: u64,
    pub to: u64,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.attr.is_counter() {
            write!(f, "{}: {} -> 0 (reset)", self.attr.name(), self.from)
        } else {
            write!(f, "{}: {} -> {}", self.attr.name(), self.from, self.to)
        }
    }
}

/// Ordered writes taking `live` to `want`.
///
/// Order: when offload is on and must go off, or the channel count changes
/// while it is on, `offloading=0` comes first (the module re-acquires its
/// channels when re-enabled); then `nr_dma_chan`, `timeout_ms`,
/// `min_batch_bytes`; then counter resets; `offloading=1` comes last, so the
/// migrator is registered only once everything else is in place.
pub fn plan(live: &Live, want: &Desired) -> Vec<Step> {
    let step = |attr: Attr, to: u64| Step {
        attr,
        from: live.get(attr),
        to,
    };
    let mut cfg = Vec::new();
    for a in [Attr::NrDmaChan, Attr::TimeoutMs, Attr::MinBatchBytes] {
        if let Some(v) = want.get(a) {
            if live.get(a) != v {
                cfg.push(step(a, v));
            }
        }
    }
    let chan_change = cfg.iter().any(|s| s.attr == Attr::NrDmaChan);
    let cycle = live.offloading && want.offloading && chan_change;
    let mut steps = Vec::new();
    if live.offloading && (!want.offloading || cycle) {
        steps.push(step(Attr::Offloading, 0));
    }
    steps.extend(cfg);
    if want.reset_counters {
        for a in COUNTERS {
            if live.get(a) != 0 {
                steps.push(step(a, 0));
            }
        }
    }
    if want.offloading && (!live.offloading || cycle) {
        steps.push(Step {
            attr: Attr::Offloading,
            from: 0,
            to: 1,
        });
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live() -> Live {
        Live {
            offloading: false,
            nr_dma_chan: 1,
            timeout_ms: 10000,
            min_batch_bytes: 0,
            folios_migrated: 0,
            folios_failures: 0,
            folios_declined: 0,
            bytes_migrated: 0,
            channels: None,
        }
    }

    fn names(steps: &[Step]) -> Vec<String> {
        steps.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn enable_goes_last() {
        let want = Desired {
            offloading: true,
            nr_dma_chan: Some(4),
            timeout_ms: Some(10000),
            min_batch_bytes: Some(4096),
            reset_counters: false,
        };
        assert_eq!(
            names(&plan(&live(), &want)),
            [
                "nr_dma_chan: 1 -> 4",
                "min_batch_bytes: 0 -> 4096",
                "offloading: 0 -> 1"
            ]
        );
    }

    #[test]
    fn in_sync_is_empty() {
        let mut l = live();
        l.offloading = true;
        l.nr_dma_chan = 4;
        let want = Desired {
            offloading: true,
            nr_dma_chan: Some(4),
            ..Default::default()
        };
        assert!(plan(&l, &want).is_empty());
    }

    #[test]
    fn disable_goes_first_and_channel_change_cycles() {
        let mut l = live();
        l.offloading = true;
        l.bytes_migrated = 5;
        let off = Desired {
            offloading: false,
            nr_dma_chan: Some(2),
            reset_counters: true,
            ..Default::default()
        };
        assert_eq!(
            names(&plan(&l, &off)),
            [
                "offloading: 1 -> 0",
                "nr_dma_chan: 1 -> 2",
                "bytes_migrated: 5 -> 0 (reset)"
            ]
        );
        let on = Desired {
            offloading: true,
            nr_dma_chan: Some(2),
            ..Default::default()
        };
        assert_eq!(
            names(&plan(&l, &on)),
            [
                "offloading: 1 -> 0",
                "nr_dma_chan: 1 -> 2",
                "offloading: 0 -> 1"
            ]
        );
        // A timeout change alone does not cycle offloading.
        let t = Desired {
            offloading: true,
            timeout_ms: Some(20),
            ..Default::default()
        };
        assert_eq!(names(&plan(&l, &t)), ["timeout_ms: 10000 -> 20"]);
    }
}
