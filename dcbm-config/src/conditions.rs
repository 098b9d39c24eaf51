//! Evaluation of `[conditions]` against the host and its DMA providers.

use serde::Serialize;

use crate::policy::{Channels, Policy, CHANNELS_MAX};
use crate::providers::Channel;
use crate::root::Root;
use crate::system;

/// A condition that does not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failed {
    /// The policy key (`require_provider`, `min_numa_nodes`, ...).
    pub condition: &'static str,
    pub detail: String,
}

/// Outcome of evaluating the policy against the host.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// Channels whose driver passes the allow-list.
    pub usable: Vec<String>,
    pub failed: Vec<Failed>,
    /// No usable provider while the policy wants offload.
    pub provider_missing: bool,
    /// What `channels` resolves to (`auto` → usable count capped at 16).
    pub channels: Option<u64>,
}

impl Verdict {
    pub fn ok(&self) -> bool {
        self.failed.is_empty()
    }
}

pub fn evaluate(policy: &Policy, root: &Root, chans: &[Channel]) -> Verdict {
    let usable: Vec<String> = chans
        .iter()
        .filter(|c| policy.driver_allowed(c.driver.as_deref()))
        .map(|c| c.name.clone())
        .collect();
    let n = usable.len() as u64;
    let channels = match policy.channels() {
        Some(Channels::Fixed(k)) => Some(k),
        Some(Channels::Auto) if n > 0 => Some(n.min(CHANNELS_MAX)),
        _ => None,
    };
    let mut failed = Vec::new();
    let mut fail =
        |condition: &'static str, detail: String| failed.push(Failed { condition, detail });
    let c = &policy.conditions;
    let mut provider_missing = false;
    if !policy.offload.enabled {
        return Verdict {
            usable,
            failed: Vec::new(),
            provider_missing,
            channels,
        };
    }
    let allow = if c.drivers.is_empty() {
        String::new()
    } else {
        let d: Vec<&str> = c.drivers.iter().map(|d| d.0.as_str()).collect();
        format!(" with driver in [{}]", d.join(", "))
    };
    if c.require_provider && n == 0 {
        provider_missing = true;
        fail(
            "require_provider",
            format!(
                "no DMA memcpy channel{allow} under /sys/class/dma ({} channel(s) in all)",
                chans.len()
            ),
        );
    } else if policy.channels() == Some(Channels::Auto) && n == 0 {
        provider_missing = true;
        fail(
            "channels",
            format!("channels = \"auto\" found no usable DMA channel{allow}"),
        );
    }
    if let Some(min) = &c.min_channels {
        let min = min.get_ref().0;
        if n < min {
            fail(
                "min_channels",
                format!("need {min} usable channel(s){allow}, found {n}"),
            );
        }
    }
    if c.min_numa_nodes.is_some() || c.min_cpuless_memory_nodes.is_some() {
        match system::numa(root) {
            Err(e) => fail(
                "min_numa_nodes",
                format!("cannot read NUMA topology: {e:#}"),
            ),
            Ok(numa) => {
                if let Some(min) = c.min_numa_nodes {
                    if (numa.nodes.len() as u64) < min.0 {
                        fail(
                            "min_numa_nodes",
                            format!("need {} NUMA node(s), found {}", min.0, numa.nodes.len()),
                        );
                    }
                }
                if let Some(min) = c.min_cpuless_memory_nodes {
                    match numa.cpuless_memory_nodes {
                        None => fail(
                            "min_cpuless_memory_nodes",
                            "has_memory/has_cpu node lists are missing".to_string(),
                        ),
                        Some(v) if (v.len() as u64) < min.0 => fail(
                            "min_cpuless_memory_nodes",
                            format!("need {} memory-only node(s), found {}", min.0, v.len()),
                        ),
                        Some(_) => {}
                    }
                }
            }
        }
    }
    if let Some(min) = c.min_memory_tiers {
        match system::memory_tiers(root) {
            Ok(Some(n)) if n as u64 >= min.0 => {}
            Ok(Some(n)) => fail(
                "min_memory_tiers",
                format!("need {} memory tier(s), found {n}", min.0),
            ),
            Ok(None) => fail(
                "min_memory_tiers",
                "/sys/devices/virtual/memory_tiering is missing (a kernel without memory tiering)"
                    .to_string(),
            ),
            Err(e) => fail("min_memory_tiers", format!("{e:#}")),
        }
    }
    if c.require_demotion {
        match system::demotion_enabled(root) {
            Ok(Some(true)) => {}
            Ok(Some(false)) => fail(
                "require_demotion",
                "/sys/kernel/mm/numa/demotion_enabled is false".to_string(),
            ),
            Ok(None) => fail(
                "require_demotion",
                "/sys/kernel/mm/numa/demotion_enabled is missing".to_string(),
            ),
            Err(e) => fail("require_demotion", format!("{e:#}")),
        }
    }
    if let Some(min) = c.min_kernel {
        match system::kernel_version(root) {
            Ok(v) if v >= min => {}
            Ok(v) => fail("min_kernel", format!("kernel {v} is older than {min}")),
            Err(e) => fail("min_kernel", format!("{e:#}")),
        }
    }
    Verdict {
        usable,
        failed,
        provider_missing,
        channels,
    }
}
