//! `status`, `providers` and `metrics`: read-only views.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Serialize;

use crate::health::Health;
use crate::journal::Journal;
use crate::module::{self, Attr, Live, COUNTERS};
use crate::providers::{self, Channel, Holder};
use crate::reason_stats::{self, ReasonStats};
use crate::root::Root;
use crate::switched_off::{self, SwitchedOff};

#[derive(Debug, Serialize)]
pub struct CounterView {
    pub name: &'static str,
    pub value: u64,
    /// Per second over the sampling interval; `None` without an interval.
    pub rate: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct Status {
    pub module_loaded: bool,
    /// The administrator's `dcbm-config off`, while in force.
    pub switched_off: Option<SwitchedOff>,
    pub module: Option<Live>,
    /// The engines' health, when the module reports it (read apart from
    /// `module`: `apply` needs none of it).
    pub health: Option<Health>,
    pub counters: Vec<CounterView>,
    /// Per migration reason, when the module reports it (`reasons/`).
    pub reasons: Option<Vec<ReasonStats>>,
    pub providers: Vec<Channel>,
}

pub fn status(root: &Root, state_dir: &Path, interval: Duration) -> Result<Status> {
    let off = switched_off::read(state_dir)?;
    let mut providers = providers::scan(root)?;
    if !module::loaded(root) {
        return Ok(Status {
            module_loaded: false,
            switched_off: off,
            module: None,
            health: None,
            counters: Vec::new(),
            reasons: None,
            providers,
        });
    }
    let first = Live::read(root)?;
    let t0 = Instant::now();
    let (live, secs) = if interval.is_zero() {
        (first.clone(), None)
    } else {
        sleep(interval);
        let second = Live::read(root)?;
        (second, Some(t0.elapsed().as_secs_f64()))
    };
    let counters = COUNTERS
        .into_iter()
        .filter(|a| live.has(*a))
        .map(|a| CounterView {
            name: a.name(),
            value: live.get(a),
            // A counter that went down was reset in between: no rate.
            rate: secs.and_then(|s| live.get(a).checked_sub(first.get(a)).map(|d| d as f64 / s)),
        })
        .collect();
    providers::mark_holders(&mut providers, live.channels.as_deref().unwrap_or_default());
    Ok(Status {
        module_loaded: true,
        switched_off: off,
        module: Some(live),
        health: Health::read(root)?,
        counters,
        reasons: reason_stats::read(root)?,
        providers,
    })
}

/// The engines' health: one line, then one per channel out of use.
fn render_health(o: &mut String, h: &Health) {
    let out = h.out().count();
    let state = if h.paused {
        "PAUSED: no DMA channel is in use, the CPU copies until a probe passes".to_string()
    } else if out == 0 {
        "ok".to_string()
    } else {
        format!(
            "{out} of {} channels out of use, waiting for a probe",
            h.channels.len()
        )
    };
    let _ = writeln!(o, "engine health:   {state}");
    for c in h.out() {
        let _ = writeln!(
            o,
            "  {:<14} {} (last cause: {}), {} in a row, out {} times, probes {} ({} failed)",
            c.name, c.state, c.cause, c.strikes, c.outs, c.probes, c.probe_failures
        );
    }
}

fn human_bytes(b: f64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < units.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{v:.0} {}", units[i])
    } else {
        format!("{v:.1} {}", units[i])
    }
}

/// One number of a reason's row (`metrics`).
type ReasonField = fn(&ReasonStats) -> u64;

/// The reasons that offered batches, one line each.
fn render_reasons(o: &mut String, rows: &[ReasonStats]) {
    let used: Vec<_> = rows.iter().filter(|r| r.batches > 0).collect();
    if used.is_empty() {
        *o += "by reason:       no batch offered yet\n";
        return;
    }
    let _ = writeln!(
        o,
        "by reason:       {:<18} {:>8} {:>9} {:>10} {:>7} {:>8}",
        "", "batches", "folios", "copied", "failed", "declined"
    );
    for r in used {
        let causes: Vec<String> = r
            .declined
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(c, n)| format!("{c} {n}"))
            .collect();
        let why = if causes.is_empty() {
            String::new()
        } else {
            format!("  ({})", causes.join(", "))
        };
        let _ = writeln!(
            o,
            "  {:<33} {:>8} {:>9} {:>10} {:>7} {:>8}{why}",
            r.reason,
            r.batches,
            r.folios,
            human_bytes(r.bytes_copied as f64),
            r.folios_failed,
            r.declined_total()
        );
    }
}

/// The `off` in force, under `offloading`.
fn render_switched_off(o: &mut String, off: &SwitchedOff) {
    let _ = writeln!(
        o,
        "switched off:    by `dcbm-config off` at {}, until `dcbm-config apply` or a reboot",
        off.since
    );
}

pub fn render_status(s: &Status) -> String {
    let mut o = String::new();
    match &s.module {
        None => {
            o += "module:          not loaded\n";
            if let Some(off) = &s.switched_off {
                render_switched_off(&mut o, off);
            }
        }
        Some(l) => {
            o += "module:          loaded\n";
            let _ = writeln!(
                o,
                "interface:       {}{}",
                l.interface,
                if l.layout == "parameters" {
                    " (parameters/ only)"
                } else {
                    ""
                }
            );
            let _ = writeln!(o, "offloading:      {}", l.offloading as u8);
            if let Some(off) = &s.switched_off {
                render_switched_off(&mut o, off);
            }
            let _ = writeln!(o, "nr_dma_chan:     {}", l.nr_dma_chan);
            for a in [Attr::TimeoutMs, Attr::MinBatchBytes, Attr::MinFolioBytes] {
                if let Some(v) = l.get_opt(a) {
                    let _ = writeln!(o, "{:<17}{v}", format!("{}:", a.name()));
                }
            }
            if let Some(m) = &l.reason_mask {
                let fixed = if l.interface == "v5" {
                    "  (fixed: v5 cannot change it)"
                } else {
                    ""
                };
                let _ = writeln!(o, "reason_mask:     {}{fixed}", module::format_reasons(m));
            }
            let _ = writeln!(
                o,
                "reasons known:   {}",
                module::format_reasons(&l.reasons_available)
            );
            if let Some(ch) = &l.channels {
                // The module takes what it can get, up to nr_dma_chan.
                let short = if l.offloading && (ch.len() as u64) < l.nr_dma_chan {
                    format!("  ({} of nr_dma_chan={})", ch.len(), l.nr_dma_chan)
                } else {
                    String::new()
                };
                let _ = writeln!(
                    o,
                    "channels held:   {}{short}",
                    if ch.is_empty() {
                        "-".to_string()
                    } else {
                        ch.join(" ")
                    }
                );
            }
            if let Some(h) = &s.health {
                render_health(&mut o, h);
            }
            o += "counters:\n";
            for c in &s.counters {
                let rate = match (c.rate, c.name) {
                    (None, _) => String::new(),
                    (Some(r), "bytes_migrated") => format!("  ({}/s)", human_bytes(r)),
                    (Some(r), _) => format!("  ({r:.1}/s)"),
                };
                let _ = writeln!(o, "  {:<16} {:>14}{rate}", c.name, c.value);
            }
            if let Some(rows) = &s.reasons {
                render_reasons(&mut o, rows);
            }
        }
    }
    o += "providers:\n";
    if s.providers.is_empty() {
        o += "  (no DMA channel under /sys/class/dma)\n";
    }
    for c in &s.providers {
        let _ = writeln!(
            o,
            "  {:<12} driver={:<8} device={:<14} in_use={} held_by={:<5} memcpy_count={} bytes_transferred={}",
            c.name,
            c.driver.as_deref().unwrap_or("?"),
            c.device.as_deref().unwrap_or("?"),
            c.in_use as u8,
            holder_name(c.held_by),
            c.memcpy_count,
            c.bytes_transferred
        );
    }
    o
}

fn holder_name(h: Option<Holder>) -> &'static str {
    match h {
        Some(Holder::Dcbm) => "dcbm",
        Some(Holder::Other) => "other",
        None => "-",
    }
}

/// Channels grouped by provider device.
#[derive(Debug, Serialize)]
pub struct Provider {
    pub device: String,
    pub driver: Option<String>,
    pub channels: Vec<Channel>,
}

pub fn group(chans: Vec<Channel>) -> Vec<Provider> {
    let mut by: BTreeMap<String, Provider> = BTreeMap::new();
    for c in chans {
        let dev = c.device.clone().unwrap_or_else(|| "?".to_string());
        by.entry(dev.clone())
            .or_insert_with(|| Provider {
                device: dev,
                driver: c.driver.clone(),
                channels: Vec::new(),
            })
            .channels
            .push(c);
    }
    by.into_values().collect()
}

pub fn render_providers(ps: &[Provider]) -> String {
    if ps.is_empty() {
        return "no DMA provider found under /sys/class/dma\n".to_string();
    }
    let mut o = format!("{:<16} {:<10} channels\n", "device", "driver");
    let mut marked = false;
    for p in ps {
        let chans: Vec<String> = p
            .channels
            .iter()
            .map(|c| {
                marked |= c.held_by.is_some();
                match c.held_by {
                    Some(Holder::Dcbm) => format!("{}(dcbm)", c.name),
                    Some(Holder::Other) => format!("{}(in use)", c.name),
                    None => c.name.clone(),
                }
            })
            .collect();
        let _ = writeln!(
            o,
            "{:<16} {:<10} {}",
            p.device,
            p.driver.as_deref().unwrap_or("?"),
            chans.join(" ")
        );
    }
    if marked {
        o += "(dcbm): held by dcbm; (in use): held by another dmaengine client\n";
    }
    o
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Prometheus text exposition format (node_exporter textfile collector).
///
/// Written out here, not with prometheus-client: its encoder writes
/// OpenMetrics text instead, which differs from this format: a counter's
/// `# TYPE` line names the family without `_total` (`# TYPE
/// dcbm_bytes_migrated counter` above `dcbm_bytes_migrated_total 7`), every
/// `# HELP` gets a `.` appended, and `encode` ends the text with `# EOF`.
pub fn metrics(root: &Root) -> Result<String> {
    let mut o = String::new();
    let mut gauge = |name: &str, help: &str, kind: &str, samples: Vec<(String, u64)>| {
        let _ = writeln!(o, "# HELP {name} {help}");
        let _ = writeln!(o, "# TYPE {name} {kind}");
        for (labels, v) in samples {
            let _ = writeln!(o, "{name}{labels} {v}");
        }
    };
    let loaded = module::loaded(root);
    let mut held: Vec<String> = Vec::new();
    gauge(
        "dcbm_module_loaded",
        "Whether the dcbm module's sysfs interface is present.",
        "gauge",
        vec![(String::new(), loaded as u64)],
    );
    if loaded {
        let l = Live::read(root)?;
        if let Some(ch) = &l.channels {
            gauge(
                "dcbm_channels_held",
                "Number of DMA channels dcbm holds.",
                "gauge",
                vec![(String::new(), ch.len() as u64)],
            );
            held = ch.clone();
        }
        let cfg = [
            (
                Attr::Offloading,
                "Whether folio copies are offloaded to DMA (1) or not (0).",
            ),
            (Attr::NrDmaChan, "Number of DMA channels dcbm uses."),
            (Attr::TimeoutMs, "DMA copy timeout in milliseconds."),
            (
                Attr::MinBatchBytes,
                "Batches smaller than this are copied by the CPU.",
            ),
            (
                Attr::MinFolioBytes,
                "Batches whose largest folio is smaller than this are copied by the CPU.",
            ),
        ];
        for (a, help) in cfg.into_iter().filter(|(a, _)| l.has(*a)) {
            gauge(
                &format!("dcbm_{}", a.name()),
                help,
                "gauge",
                vec![(String::new(), l.get(a))],
            );
        }
        let ctr = [
            (Attr::FoliosMigrated, "Folios copied by DMA."),
            (Attr::FoliosFailures, "Folio DMA copies that failed."),
            (
                Attr::FoliosDeclined,
                "Folios declined to the CPU copy path.",
            ),
            (Attr::BytesMigrated, "Bytes copied by DMA."),
        ];
        for (a, help) in ctr.into_iter().filter(|(a, _)| l.has(*a)) {
            gauge(
                &format!("dcbm_{}_total", a.name()),
                help,
                "counter",
                vec![(String::new(), l.get(a))],
            );
        }
        if let Some(rows) = reason_stats::read(root)? {
            let rl = |r: &ReasonStats| format!("{{reason=\"{}\"}}", esc(&r.reason));
            let per = |f: fn(&ReasonStats) -> u64| rows.iter().map(|r| (rl(r), f(r))).collect();
            let counters: [(&str, &str, ReasonField); 4] = [
                (
                    "dcbm_reason_batches_total",
                    "Batches the kernel offered, by migration reason.",
                    |r| r.batches,
                ),
                (
                    "dcbm_reason_folios_copied_total",
                    "Folios copied by DMA, by migration reason.",
                    |r| r.folios_copied,
                ),
                (
                    "dcbm_reason_bytes_copied_total",
                    "Bytes copied by DMA, by migration reason.",
                    |r| r.bytes_copied,
                ),
                (
                    "dcbm_reason_folios_failed_total",
                    "Folios of failed DMA batches copied by the CPU, by migration reason.",
                    |r| r.folios_failed,
                ),
            ];
            for (name, help, f) in counters {
                gauge(name, help, "counter", per(f));
            }
            gauge(
                "dcbm_reason_batches_declined_total",
                "Batches declined to the CPU copy, by migration reason and cause.",
                "counter",
                rows.iter()
                    .flat_map(|r| {
                        r.declined.iter().map(move |(c, n)| {
                            (
                                format!("{{reason=\"{}\",cause=\"{}\"}}", esc(&r.reason), esc(c)),
                                *n,
                            )
                        })
                    })
                    .collect(),
            );
        }
        if let Some(h) = Health::read(root)? {
            gauge(
                "dcbm_offloading_paused",
                "Whether offloading is paused because no DMA channel is healthy (1) or not (0).",
                "gauge",
                vec![(String::new(), h.paused as u64)],
            );
            let ch = |c: &crate::health::ChannelHealth| format!("{{channel=\"{}\"}}", esc(&c.name));
            gauge(
                "dcbm_channel_in_pool",
                "Whether dcbm uses the channel (1), or took it out after a timeout or an error (0).",
                "gauge",
                h.channels.iter().map(|c| (ch(c), (c.state == "in-pool") as u64)).collect(),
            );
            gauge(
                "dcbm_channel_outs_total",
                "Times the channel was taken out of use.",
                "counter",
                h.channels.iter().map(|c| (ch(c), c.outs)).collect(),
            );
            gauge(
                "dcbm_channel_probe_failures_total",
                "Probe copies of the channel that failed.",
                "counter",
                h.channels
                    .iter()
                    .map(|c| (ch(c), c.probe_failures))
                    .collect(),
            );
        }
    }
    let mut chans = providers::scan(root)?;
    providers::mark_holders(&mut chans, &held);
    let label = |c: &Channel| {
        format!(
            "{{channel=\"{}\",driver=\"{}\",device=\"{}\"}}",
            esc(&c.name),
            esc(c.driver.as_deref().unwrap_or("")),
            esc(c.device.as_deref().unwrap_or(""))
        )
    };
    gauge(
        "dcbm_dma_channel_in_use",
        "Whether the DMA channel is held by a client.",
        "gauge",
        chans.iter().map(|c| (label(c), c.in_use as u64)).collect(),
    );
    gauge(
        "dcbm_dma_channel_held_by_dcbm",
        "Whether the DMA channel is one dcbm holds.",
        "gauge",
        chans
            .iter()
            .map(|c| (label(c), (c.held_by == Some(Holder::Dcbm)) as u64))
            .collect(),
    );
    gauge(
        "dcbm_dma_channel_memcpy_count_total",
        "memcpy operations issued on the DMA channel.",
        "counter",
        chans.iter().map(|c| (label(c), c.memcpy_count)).collect(),
    );
    gauge(
        "dcbm_dma_channel_bytes_transferred_total",
        "Bytes transferred by the DMA channel.",
        "counter",
        chans
            .iter()
            .map(|c| (label(c), c.bytes_transferred))
            .collect(),
    );
    Ok(o)
}

/// The `--json` object of `apply` and `check`.
#[derive(Debug, Serialize)]
struct JsonResult {
    command: &'static str,
    dry_run: bool,
    /// apply: `applied`, `nothing-to-write`, `planned` (dry run); check:
    /// `in-sync`, `drift`, `held-off` (--strict), `provider-missing`,
    /// `module-missing`; both: `switched-off` (`apply --unless-off` wrote
    /// nothing for a `dcbm-config off`, `check` found one), `failed` (see
    /// `exit_code` and `error`).
    result: &'static str,
    exit_code: u8,
    error: Option<String>,
    #[serde(flatten)]
    journal: Journal,
}

pub fn json_result(
    command: &'static str,
    dry_run: bool,
    exit_code: u8,
    error: Option<String>,
    journal: Journal,
) -> String {
    let result = match (command, &error, exit_code) {
        (_, Some(_), _) => "failed",
        ("check", None, crate::exit::DRIFT) => "drift",
        ("check", None, crate::exit::OK) => "in-sync",
        ("check", None, crate::exit::CONDITIONS_UNMET) => "held-off",
        ("check", None, crate::exit::PROVIDER_MISSING) => "provider-missing",
        ("check", None, crate::exit::MODULE_MISSING) => "module-missing",
        ("check", None, crate::exit::SWITCHED_OFF) => "switched-off",
        ("check", None, _) => "failed",
        (_, None, _) if journal.switched_off.is_some() => "switched-off",
        (_, None, _) if dry_run => "planned",
        (_, None, _) if journal.written.is_empty() => "nothing-to-write",
        _ => "applied",
    };
    let r = JsonResult {
        command,
        dry_run,
        result,
        exit_code,
        error,
        journal,
    };
    serde_json::to_string_pretty(&r).unwrap_or_default() + "\n"
}
