//! The module's view of its DMA engines' health (`engine/health`,
//! `engine/paused`): which channels are in use, which were taken out after
//! a timeout or an error, and whether offloading is paused because none is
//! left.

use std::fs;
use std::io;

use anyhow::{anyhow, bail, Context, Result};
use serde::Serialize;

use crate::root::Root;

/// One held channel, as the module reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelHealth {
    pub name: String,
    /// `in-pool` (in use), `out` (taken out, waiting for its probe) or
    /// `probing`.
    pub state: String,
    /// Why it was last taken out: `none`, `timeout`, `error`,
    /// `probe-failed`, `device-benched`.
    pub cause: String,
    pub strikes: u64,
    pub outs: u64,
    pub probes: u64,
    pub probe_failures: u64,
    /// The engine's measured copy rate, MB/s (0: not measured yet).
    pub rate_mbps: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Health {
    /// No channel is in use: the CPU copies until a probe passes.
    pub paused: bool,
    pub channels: Vec<ChannelHealth>,
}

impl Health {
    /// Reads `engine/health` and `engine/paused`; `None` for a module
    /// without them (an older dcbm, the upstream driver).
    pub fn read(root: &Root) -> Result<Option<Health>> {
        let dir = root.module_dir().join("engine");
        let (hp, pp) = (dir.join("health"), dir.join("paused"));
        let text = match fs::read_to_string(&hp) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("reading {}", hp.display())),
        };
        let paused =
            fs::read_to_string(&pp).with_context(|| format!("reading {}", pp.display()))?;
        let paused = match paused.trim_end() {
            "0" => false,
            "1" => true,
            v => bail!(
                "attribute `engine/paused` ({}) is neither 0 nor 1: {v:?}",
                pp.display()
            ),
        };
        let channels = parse(&text)
            .with_context(|| format!("attribute `engine/health` ({})", hp.display()))?;
        Ok(Some(Health { paused, channels }))
    }

    /// Channels not in use.
    pub fn out(&self) -> impl Iterator<Item = &ChannelHealth> {
        self.channels.iter().filter(|c| c.state != "in-pool")
    }
}

/// One line per channel: `NAME STATE key=value...`. Keys this version
/// does not know are skipped (a newer module may add some); a known key
/// without a number is an error.
pub fn parse(text: &str) -> Result<Vec<ChannelHealth>> {
    let mut out = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let mut words = line.split_whitespace();
        let (Some(name), Some(state)) = (words.next(), words.next()) else {
            bail!("line {}: {line:?} has no channel name and state", i + 1);
        };
        let mut c = ChannelHealth {
            name: name.to_string(),
            state: state.to_string(),
            cause: "none".to_string(),
            strikes: 0,
            outs: 0,
            probes: 0,
            probe_failures: 0,
            rate_mbps: 0,
        };
        for w in words {
            let (k, v) = w
                .split_once('=')
                .ok_or_else(|| anyhow!("line {}: {w:?} is not key=value", i + 1))?;
            let num = |v: &str| -> Result<u64> {
                v.parse()
                    .map_err(|_| anyhow!("line {}: {k}={v:?} is not a number", i + 1))
            };
            match k {
                "cause" => c.cause = v.to_string(),
                "strikes" => c.strikes = num(v)?,
                "outs" => c.outs = num(v)?,
                "probes" => c.probes = num(v)?,
                "probe_failures" => c.probe_failures = num(v)?,
                "rate_mbps" => c.rate_mbps = num(v)?,
                _ => {}
            }
        }
        out.push(c);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_modules_lines() {
        let t = "dma0chan0 in-pool cause=none strikes=0 outs=0 probes=0 probe_failures=0 rate_mbps=812\n\
                 dma0chan1 out cause=timeout strikes=2 outs=3 probes=2 probe_failures=1 rate_mbps=0 later=7\n";
        let v = parse(t).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].rate_mbps, 812);
        assert_eq!(v[1].state, "out");
        assert_eq!(v[1].cause, "timeout");
        assert_eq!(
            (v[1].strikes, v[1].outs, v[1].probes, v[1].probe_failures),
            (2, 3, 2, 1)
        );
        assert!(parse("").unwrap().is_empty());
    }

    #[test]
    fn rejects_malformed_lines() {
        for bad in [
            "dma0chan0",
            "dma0chan0 out strikes",
            "dma0chan0 out strikes=x",
        ] {
            let e = parse(bad).unwrap_err().to_string();
            assert!(e.starts_with("line 1:"), "{bad}: {e}");
        }
    }
}
