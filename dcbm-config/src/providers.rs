//! DMA engines found under /sys/class/dma.

use std::fs;
use std::path::Path;

use anyhow::Result;
use serde::Serialize;

use crate::root::{Root, DMA_CLASS};
use crate::sysfs;

/// Who holds a channel that is in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Holder {
    /// Listed in `/sys/module/dcbm/channels`.
    Dcbm,
    /// `in_use` but not listed by dcbm: another dmaengine client.
    Other,
}

/// One `dma<N>chan<M>` channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Channel {
    pub name: String,
    /// Provider device (basename of the `device` link), e.g. `0000:00:01.0`.
    pub device: Option<String>,
    /// Driver of the provider device (basename of `device/driver`).
    pub driver: Option<String>,
    pub in_use: bool,
    /// `None`: free. Set from `in_use` by `scan`, refined by `mark_holders`.
    pub held_by: Option<Holder>,
    pub memcpy_count: u64,
    pub bytes_transferred: u64,
}

/// `dma<N>chan<M>` → (N, M).
pub fn parse_chan_name(s: &str) -> Option<(u32, u32)> {
    let rest = s.strip_prefix("dma")?;
    let (n, m) = rest.split_once("chan")?;
    let num = |x: &str| {
        if x.is_empty() || !x.bytes().all(|b| b.is_ascii_digit()) {
            None
        } else {
            x.parse().ok()
        }
    };
    Some((num(n)?, num(m)?))
}

fn link_basename(p: &Path) -> Option<String> {
    let target = fs::read_link(p).ok()?;
    target.file_name()?.to_str().map(str::to_string)
}

/// All channels, sorted by (device number, channel number).
pub fn scan(root: &Root) -> Result<Vec<Channel>> {
    let class = root.path(DMA_CLASS);
    if !class.is_dir() {
        return Ok(Vec::new());
    }
    let mut names: Vec<((u32, u32), String)> = sysfs::list_dir(&class)?
        .into_iter()
        .filter_map(|n| parse_chan_name(&n).map(|k| (k, n)))
        .collect();
    names.sort();
    let mut out = Vec::new();
    for (_, name) in names {
        let dir = class.join(&name);
        let f = |attr: &str| dir.join(attr);
        let label = |attr: &str| format!("{name}/{attr}");
        // The kernel prints the channel's client count: public channels
        // shared by several clients read above 1.
        let in_use = sysfs::read_u64(&f("in_use"), &label("in_use"))? > 0;
        out.push(Channel {
            device: link_basename(&dir.join("device")),
            driver: link_basename(&dir.join("device").join("driver")),
            in_use,
            held_by: in_use.then_some(Holder::Other),
            memcpy_count: sysfs::read_u64(&f("memcpy_count"), &label("memcpy_count"))?,
            bytes_transferred: sysfs::read_u64(
                &f("bytes_transferred"),
                &label("bytes_transferred"),
            )?,
            name,
        });
    }
    Ok(out)
}

/// Mark the channels dcbm holds (`held`: the names in its `channels`
/// attribute); the other in-use channels are held by another client.
pub fn mark_holders(chans: &mut [Channel], held: &[String]) {
    for c in chans {
        c.held_by = if held.contains(&c.name) {
            Some(Holder::Dcbm)
        } else if c.in_use {
            Some(Holder::Other)
        } else {
            None
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names() {
        assert_eq!(parse_chan_name("dma0chan0"), Some((0, 0)));
        assert_eq!(parse_chan_name("dma12chan10"), Some((12, 10)));
        for bad in ["dma0", "dmachan1", "dma0chan", "dma0chanx", "foo"] {
            assert_eq!(parse_chan_name(bad), None, "{bad}");
        }
    }

    fn chan(name: &str, in_use: bool) -> Channel {
        Channel {
            name: name.to_string(),
            device: None,
            driver: None,
            in_use,
            held_by: in_use.then_some(Holder::Other),
            memcpy_count: 0,
            bytes_transferred: 0,
        }
    }

    #[test]
    fn holders_by_name() {
        let mut cs = vec![
            chan("dma0chan0", true),
            chan("dma0chan1", true),
            chan("dma0chan2", false),
            chan("dma0chan10", true),
        ];
        mark_holders(&mut cs, &["dma0chan0".to_string(), "dma0chan1".to_string()]);
        let got: Vec<Option<Holder>> = cs.iter().map(|c| c.held_by).collect();
        assert_eq!(
            got,
            [
                Some(Holder::Dcbm),
                Some(Holder::Dcbm),
                None,
                Some(Holder::Other)
            ]
        );
        // Offloading off: the list is empty, every in-use channel is another's.
        mark_holders(&mut cs, &[]);
        assert_eq!(cs[0].held_by, Some(Holder::Other));
        assert_eq!(cs[2].held_by, None);
    }
}
