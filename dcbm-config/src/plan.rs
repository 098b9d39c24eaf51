//! Diff of the live state against the desired one, as ordered writes.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::module::{format_reasons, Attr, Live, COUNTERS};

/// What the policy wants the module to look like. `None` = unmanaged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Desired {
    pub offloading: bool,
    pub nr_dma_chan: Option<u64>,
    pub timeout_ms: Option<u64>,
    pub min_batch_bytes: Option<u64>,
    pub min_folio_bytes: Option<u64>,
    /// Reset the counters (the non-zero ones are written).
    pub reset_counters: bool,
    /// The migrate reasons to offload, in the kernel's order.
    pub reason_mask: Option<Vec<String>>,
}

impl Desired {
    pub fn get(&self, a: Attr) -> Option<u64> {
        match a {
            Attr::Offloading => Some(self.offloading as u64),
            Attr::NrDmaChan => self.nr_dma_chan,
            Attr::TimeoutMs => self.timeout_ms,
            Attr::MinBatchBytes => self.min_batch_bytes,
            Attr::MinFolioBytes => self.min_folio_bytes,
            _ => None,
        }
    }
}

/// The value of an attribute: a number, or text (`reason_mask`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Val {
    Num(u64),
    Text(String),
}

impl fmt::Display for Val {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Val::Num(n) => write!(f, "{n}"),
            Val::Text(t) => f.write_str(t),
        }
    }
}

impl From<u64> for Val {
    fn from(n: u64) -> Val {
        Val::Num(n)
    }
}

/// One write: `attr` goes from `from` to `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub attr: Attr,
    pub from: Val,
    pub to: Val,
}

impl Step {
    pub fn num(attr: Attr, from: u64, to: u64) -> Step {
        Step {
            attr,
            from: Val::Num(from),
            to: Val::Num(to),
        }
    }
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
/// Order: `offloading=0` first when offload is on and must go off (nothing
/// is resized only to be released); then `nr_dma_chan`, `timeout_ms`,
/// `min_batch_bytes`, `min_folio_bytes`; then counter resets; `offloading=1` comes last, so the
/// migrator is registered only once everything else is in place.
///
/// A channel-count change while offload stays on is a lone `nr_dma_chan`
/// write: the module resizes its held channel set in place (batches in
/// flight keep the channels they started with), so offloading is never
/// toggled for it.
pub fn plan(live: &Live, want: &Desired) -> Vec<Step> {
    let step = |attr: Attr, to: u64| Step::num(attr, live.get(attr), to);
    let mut steps = Vec::new();
    if live.offloading && !want.offloading {
        steps.push(step(Attr::Offloading, 0));
    }
    for a in [
        Attr::NrDmaChan,
        Attr::TimeoutMs,
        Attr::MinBatchBytes,
        Attr::MinFolioBytes,
    ] {
        // An attribute the module lacks is refused before planning
        // (`apply::require_attrs`).
        if let (Some(v), Some(l)) = (want.get(a), live.get_opt(a)) {
            if l != v {
                steps.push(step(a, v));
            }
        }
    }
    if let (Some(w), Some(l)) = (&want.reason_mask, &live.reason_mask) {
        let mut sorted_w = w.clone();
        let mut sorted_l = l.clone();
        sorted_w.sort();
        sorted_l.sort();
        if sorted_w != sorted_l {
            steps.push(Step {
                attr: Attr::ReasonMask,
                from: Val::Text(format_reasons(l)),
                to: Val::Text(format_reasons(w)),
            });
        }
    }
    if want.reset_counters {
        for a in COUNTERS {
            if live.get(a) != 0 {
                steps.push(step(a, 0));
            }
        }
    }
    if want.offloading && !live.offloading {
        steps.push(step(Attr::Offloading, 1));
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live() -> Live {
        Live {
            interface: "v5".to_string(),
            layout: "top-level",
            offloading: false,
            nr_dma_chan: 1,
            timeout_ms: Some(10000),
            min_batch_bytes: Some(2097152),
            min_folio_bytes: Some(2097152),
            folios_migrated: 0,
            folios_failures: 0,
            folios_declined: Some(0),
            bytes_migrated: Some(0),
            channels: None,
            reasons_available: Vec::new(),
            reason_mask: None,
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
            min_folio_bytes: Some(0),
            reset_counters: false,
            reason_mask: None,
        };
        assert_eq!(
            names(&plan(&live(), &want)),
            [
                "nr_dma_chan: 1 -> 4",
                "min_batch_bytes: 2097152 -> 4096",
                "min_folio_bytes: 2097152 -> 0",
                "offloading: 0 -> 1"
            ]
        );
        // Unset knobs are left alone; a knob already at its value is not written.
        let want = Desired {
            offloading: true,
            min_folio_bytes: Some(2097152),
            ..Default::default()
        };
        assert_eq!(names(&plan(&live(), &want)), ["offloading: 0 -> 1"]);
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
    fn disable_goes_first() {
        let mut l = live();
        l.offloading = true;
        l.bytes_migrated = Some(5);
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
    }

    #[test]
    fn channel_change_while_enabled_writes_only_nr_dma_chan() {
        let mut l = live();
        l.offloading = true;
        l.nr_dma_chan = 4;
        let want = Desired {
            offloading: true,
            nr_dma_chan: Some(2),
            timeout_ms: Some(10000),
            ..Default::default()
        };
        let steps = plan(&l, &want);
        assert_eq!(names(&steps), ["nr_dma_chan: 4 -> 2"]);
        assert!(steps.iter().all(|s| s.attr != Attr::Offloading));
        // Growing it too, and alongside another knob: still no toggle.
        let want = Desired {
            offloading: true,
            nr_dma_chan: Some(8),
            timeout_ms: Some(20),
            ..Default::default()
        };
        assert_eq!(
            names(&plan(&l, &want)),
            ["nr_dma_chan: 4 -> 8", "timeout_ms: 10000 -> 20"]
        );
        // A timeout change alone is a lone write as well.
        let t = Desired {
            offloading: true,
            timeout_ms: Some(20),
            ..Default::default()
        };
        assert_eq!(names(&plan(&l, &t)), ["timeout_ms: 10000 -> 20"]);
    }
}
