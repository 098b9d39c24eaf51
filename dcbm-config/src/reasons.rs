//! `offload.reasons`: the migrate reasons offloaded (`reason_mask`), checked
//! against the running kernel.
//!
//! On a v6 kernel the mask is a setting like the others; a name the kernel
//! does not list in `reasons_available` is a policy error located at the
//! name. A v5 kernel offers a fixed set that cannot be changed: a policy
//! asking for another set fails its condition (offload held off), and
//! nothing is written to `reason_mask`.

use anyhow::Result;

use crate::conditions::Failed;
use crate::exit::{self, coded};
use crate::module::{format_reasons, Live};
use crate::policy::{Policy, Reasons};

/// What the policy's reasons mean on the running module.
#[derive(Debug, Default)]
pub struct Resolved {
    /// The mask to have, in the kernel's order (`None`: unmanaged, or v5).
    pub want: Option<Vec<String>>,
    /// On v5: the policy asks for a set the interface cannot offer.
    pub failed: Option<Failed>,
}

fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v
}

/// The reasons the policy asks for, in the kernel's order (unknown names
/// left out); `None` when it does not set them.
pub fn asked(policy: &Policy, live: &Live) -> Option<Vec<String>> {
    let avail = &live.reasons_available;
    Some(match policy.offload.reasons.as_ref()? {
        Reasons::All => avail.clone(),
        Reasons::None => Vec::new(),
        Reasons::Names(names) => avail
            .iter()
            .filter(|a| names.contains(a))
            .cloned()
            .collect(),
    })
}

/// Resolve `policy.offload.reasons` against `live`.
pub fn resolve(policy: &Policy, live: &Live) -> Result<Resolved> {
    let Some(reasons) = &policy.offload.reasons else {
        return Ok(Resolved::default());
    };
    let avail = &live.reasons_available;
    let wanted: Vec<String> = match reasons {
        Reasons::All => avail.clone(),
        Reasons::None => Vec::new(),
        Reasons::Names(names) => {
            for (i, n) in names.iter().enumerate() {
                if avail.contains(n) {
                    continue;
                }
                let message = format!(
                    "offload.reasons: unknown reason \"{n}\"; this kernel (interface {}) knows: {}",
                    live.interface,
                    avail.join(", ")
                );
                let s = &policy.sources;
                return Err(
                    match s
                        .get(&format!("offload.reasons[{i}]"))
                        .or(s.get("offload.reasons"))
                    {
                        Some(o) => o.error(message).into(),
                        None => coded(exit::BAD_POLICY, message),
                    },
                );
            }
            avail
                .iter()
                .filter(|a| names.contains(a))
                .cloned()
                .collect()
        }
    };
    if live.interface != "v5" {
        return Ok(Resolved {
            want: Some(wanted),
            failed: None,
        });
    }
    let fixed = live.reason_mask.clone().unwrap_or_else(|| avail.clone());
    if sorted(&fixed) == sorted(&wanted) {
        return Ok(Resolved::default());
    }
    let at = policy
        .sources
        .get("offload.reasons")
        .map(|o| format!(" ({})", o.at()))
        .unwrap_or_default();
    Ok(Resolved {
        want: None,
        failed: Some(Failed {
            condition: "reasons",
            detail: format!(
                "the policy asks for reasons = {}{at}, but this dcbm runs on the v5 offload \
                 interface, which always offloads the fixed set {} and cannot change it \
                 (a v6 kernel can)",
                format_reasons(&wanted),
                format_reasons(&fixed)
            ),
        }),
    })
}
