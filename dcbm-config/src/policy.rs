//! The policy (`/etc/dcbm.toml` and its drop-ins): schema and validation.
//!
//! Every check that can be made on a file alone happens while it is
//! deserialized, so that `toml` attaches the span of the offending key or
//! value and the error can be reported as `file:line:column: message`.
//! Reading the files and merging them is `policy_load`.

use std::fmt;
use std::path::Path;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::policy_error::PolicyError;
use crate::policy_messages::{explain, quoted};
use crate::sources::{Origin, Sources};

/// Range of `nr_dma_chan` accepted by the module.
pub const CHANNELS_MIN: u64 = 1;
pub const CHANNELS_MAX: u64 = 16;
pub const TIMEOUT_MS_MIN: u64 = 1;
pub const TIMEOUT_MS_MAX: u64 = 600_000;
pub const MIN_BATCH_BYTES_MAX: u64 = 1 << 30;
pub const MIN_FOLIO_BYTES_MAX: u64 = 1 << 30;

/// The whole policy.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    #[serde(default)]
    pub offload: Offload,
    #[serde(default)]
    pub conditions: Conditions,
    #[serde(default)]
    pub counters: Counters,
    /// Where each key set came from (see `sources`).
    #[serde(skip)]
    pub sources: Sources,
}

/// `[offload]`: the module's knobs.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Offload {
    /// Whether offload should be on (subject to `[conditions]`).
    #[serde(default)]
    pub enabled: bool,
    /// `nr_dma_chan`: 1..16 or "auto". Unset: left as the module has it.
    pub channels: Option<Spanned<Channels>>,
    /// `timeout_ms`: 1..600000. Unset: left as the module has it.
    pub timeout_ms: Option<TimeoutMs>,
    /// `min_batch_bytes`: 0..2^30. Unset: left as the module has it.
    pub min_batch_bytes: Option<MinBatchBytes>,
    /// `min_folio_bytes`: 0..2^30. Unset: left as the module has it.
    pub min_folio_bytes: Option<MinFolioBytes>,
    /// `reason_mask`: the migrate reasons offloaded, checked against the
    /// running kernel's `reasons_available`. Unset: left as the module has it.
    pub reasons: Option<Reasons>,
}

/// `[conditions]`: all must hold for offload to be enabled.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conditions {
    /// At least one usable DMA memcpy channel (driver on the allow-list).
    #[serde(default = "yes")]
    pub require_provider: bool,
    /// Allow-list of provider drivers; empty = any driver.
    #[serde(default)]
    pub drivers: Vec<DriverName>,
    /// At least this many usable channels.
    pub min_channels: Option<Spanned<MinChannels>>,
    /// At least this many NUMA nodes.
    pub min_numa_nodes: Option<MinNumaNodes>,
    /// At least this many nodes with memory but no CPU (CXL / PMEM tiers).
    pub min_cpuless_memory_nodes: Option<MinCpulessMemoryNodes>,
    /// At least this many memory tiers (`/sys/devices/virtual/memory_tiering/`):
    /// 2 means a lower tier to demote to.
    pub min_memory_tiers: Option<MinMemoryTiers>,
    /// `/sys/kernel/mm/numa/demotion_enabled` must be true.
    #[serde(default)]
    pub require_demotion: bool,
    /// Running kernel must be at least this version.
    pub min_kernel: Option<KernelVersion>,
}

fn yes() -> bool {
    true
}

impl Default for Conditions {
    fn default() -> Self {
        Conditions {
            require_provider: true,
            drivers: Vec::new(),
            min_channels: None,
            min_numa_nodes: None,
            min_cpuless_memory_nodes: None,
            min_memory_tiers: None,
            require_demotion: false,
            min_kernel: None,
        }
    }
}

/// `[counters]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Counters {
    #[serde(default)]
    pub reset: ResetMode,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResetMode {
    #[default]
    Never,
    OnApply,
    OncePerBoot,
}

impl fmt::Display for ResetMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ResetMode::Never => "never",
            ResetMode::OnApply => "on-apply",
            ResetMode::OncePerBoot => "once-per-boot",
        })
    }
}

impl<'de> Deserialize<'de> for ResetMode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        const CHOICES: &str = "\"never\", \"on-apply\" or \"once-per-boot\"";
        match d.deserialize_any(Text(CHOICES))?.as_str() {
            "never" => Ok(ResetMode::Never),
            "on-apply" => Ok(ResetMode::OnApply),
            "once-per-boot" => Ok(ResetMode::OncePerBoot),
            other => Err(de::Error::custom(format!(
                "reset = {}: expected {CHOICES}",
                quoted(other)
            ))),
        }
    }
}

/// A string, any other type being refused as not `self.0` (what is
/// expected, in the policy's words).
struct Text(&'static str);

impl<'de> Visitor<'de> for Text {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.0)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_string())
    }
}

/// A whole number of any size TOML reads (beyond `i64` too, so that a huge
/// one is out of range rather than of a type named by serde).
struct Whole(String);

impl<'de> Visitor<'de> for Whole {
    type Value = i128;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.0)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i128, E> {
        Ok(v.into())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i128, E> {
        Ok(v.into())
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<i128, E> {
        Ok(v)
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<i128, E> {
        Ok(i128::try_from(v).unwrap_or(i128::MAX))
    }
}

/// `key = v`, a whole number in `min..=max`.
fn whole_in_range<'de, D: Deserializer<'de>>(
    d: D,
    key: &str,
    min: u64,
    max: u64,
) -> Result<u64, D::Error> {
    let v = d.deserialize_any(Whole(format!("a whole number {min}..={max}")))?;
    u64::try_from(v)
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| de::Error::custom(format!("{key} = {v} is out of range {min}..={max}")))
}

/// Defines a `u64` newtype whose deserializer enforces an inclusive range.
macro_rules! bounded {
    ($name:ident, $key:literal, $min:expr, $max:expr) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name(pub u64);

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                whole_in_range(d, $key, $min, $max).map($name)
            }
        }
    };
}

bounded!(TimeoutMs, "timeout_ms", TIMEOUT_MS_MIN, TIMEOUT_MS_MAX);
bounded!(MinBatchBytes, "min_batch_bytes", 0, MIN_BATCH_BYTES_MAX);
bounded!(MinFolioBytes, "min_folio_bytes", 0, MIN_FOLIO_BYTES_MAX);
bounded!(MinChannels, "min_channels", CHANNELS_MIN, CHANNELS_MAX);
bounded!(MinNumaNodes, "min_numa_nodes", 1, 1024);
bounded!(MinCpulessMemoryNodes, "min_cpuless_memory_nodes", 1, 1024);
bounded!(MinMemoryTiers, "min_memory_tiers", 1, 64);

/// `channels = 1..16 | "auto"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channels {
    Auto,
    Fixed(u64),
}

impl fmt::Display for Channels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Channels::Auto => f.write_str("auto"),
            Channels::Fixed(n) => write!(f, "{n}"),
        }
    }
}

impl<'de> Deserialize<'de> for Channels {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Channels;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(
                    f,
                    "a whole number {CHANNELS_MIN}..={CHANNELS_MAX} or \"auto\""
                )
            }
            fn visit_i128<E: de::Error>(self, v: i128) -> Result<Channels, E> {
                match u64::try_from(v) {
                    Ok(n) if (CHANNELS_MIN..=CHANNELS_MAX).contains(&n) => Ok(Channels::Fixed(n)),
                    _ => Err(E::custom(format!(
                        "channels = {v} is out of range {CHANNELS_MIN}..={CHANNELS_MAX} (or \"auto\")"
                    ))),
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Channels, E> {
                self.visit_i128(v.into())
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Channels, E> {
                self.visit_i128(v.into())
            }
            fn visit_u128<E: de::Error>(self, v: u128) -> Result<Channels, E> {
                self.visit_i128(i128::try_from(v).unwrap_or(i128::MAX))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Channels, E> {
                if v == "auto" {
                    Ok(Channels::Auto)
                } else {
                    Err(E::custom(format!(
                        "channels = {}: expected a whole number {CHANNELS_MIN}..={CHANNELS_MAX} or \"auto\"",
                        quoted(v)
                    )))
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// `reasons = "all" | "none" | ["name", ...]`: the migrate reasons whose
/// batches are offloaded, in the kernel's names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reasons {
    All,
    None,
    Names(Vec<String>),
}

impl fmt::Display for Reasons {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reasons::All => f.write_str("all"),
            Reasons::None => f.write_str("none"),
            Reasons::Names(n) if n.is_empty() => f.write_str("none"),
            Reasons::Names(n) => f.write_str(&n.join(",")),
        }
    }
}

/// One name in `reasons = [...]`.
struct ReasonName(String);

impl<'de> Deserialize<'de> for ReasonName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = d.deserialize_any(Text("a migrate reason name in quotes"))?;
        if s == "all" || s == "none" {
            return Err(de::Error::custom(format!(
                "reasons: write `reasons = \"{s}\"`, not \"{s}\" in a list"
            )));
        }
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !ok {
            return Err(de::Error::custom(format!(
                "reasons: {} is not a migrate reason name (lower case, digits, `_`)",
                quoted(&s)
            )));
        }
        Ok(ReasonName(s))
    }
}

impl<'de> Deserialize<'de> for Reasons {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Reasons;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("\"all\", \"none\" or a list of migrate reason names")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Reasons, E> {
                match v {
                    "all" => Ok(Reasons::All),
                    "none" => Ok(Reasons::None),
                    _ => Err(E::custom(format!(
                        "reasons = {}: expected \"all\", \"none\" or a list of \
                         reason names such as [\"compaction\", \"demotion\"]",
                        quoted(v)
                    ))),
                }
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Reasons, A::Error> {
                let mut names: Vec<String> = Vec::new();
                while let Some(ReasonName(n)) = seq.next_element()? {
                    if names.contains(&n) {
                        return Err(de::Error::custom(format!(
                            "reasons: \"{n}\" is listed twice"
                        )));
                    }
                    names.push(n);
                }
                Ok(Reasons::Names(names))
            }
        }
        d.deserialize_any(V)
    }
}

/// A provider driver name (`ptdma`, `idxd`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverName(pub String);

impl<'de> Deserialize<'de> for DriverName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = d.deserialize_any(Text("a driver name in quotes"))?;
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !ok {
            return Err(de::Error::custom(format!(
                "drivers: driver name {} is not a valid kernel driver name",
                quoted(&s)
            )));
        }
        Ok(DriverName(s))
    }
}

/// A kernel version `X[.Y[.Z]]`, compared numerically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct KernelVersion(pub [u64; 3]);

impl KernelVersion {
    /// Strict parse of a policy value: `6`, `6.8` or `6.8.12`.
    pub fn parse_policy(s: &str) -> Option<Self> {
        let parts: Vec<&str> = s.split('.').collect();
        if parts.is_empty() || parts.len() > 3 {
            return None;
        }
        let mut v = [0u64; 3];
        for (i, p) in parts.iter().enumerate() {
            if p.is_empty() || p.len() > 6 || !p.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            v[i] = p.parse().ok()?;
        }
        Some(KernelVersion(v))
    }

    /// Parse the version prefix of a kernel release (`6.8.0-45-generic`).
    pub fn parse_release(s: &str) -> Option<Self> {
        let end = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let head = s[..end].trim_end_matches('.');
        KernelVersion::parse_policy(head)
    }
}

impl fmt::Display for KernelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.0[0], self.0[1], self.0[2])
    }
}

impl<'de> Deserialize<'de> for KernelVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = d.deserialize_any(Text("a kernel version in quotes, like \"6.8\""))?;
        KernelVersion::parse_policy(&s).ok_or_else(|| {
            de::Error::custom(format!(
                "min_kernel = {} is not a kernel version like \"6.8\" or \"6.8.12\"",
                quoted(&s)
            ))
        })
    }
}

impl Policy {
    /// Parse and validate `src`, read from `file` (used in messages).
    pub fn parse(src: &str, file: &Path) -> Result<Policy, PolicyError> {
        let located = |pos: usize, message: String| PolicyError::at(src, file, pos, message);
        let mut policy: Policy = toml::from_str(src).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            located(span.start, explain(src, span, e.message().trim()))
        })?;
        policy.sources = Sources::of_file(src, file);
        // Checks that involve more than one key.
        if let (Some(minc), Some(ch)) = (&policy.conditions.min_channels, &policy.offload.channels)
        {
            if let Channels::Fixed(n) = ch.get_ref() {
                if minc.get_ref().0 > *n {
                    return Err(located(
                        minc.span().start,
                        format!(
                            "min_channels = {} exceeds offload.channels = {n}",
                            minc.get_ref().0
                        ),
                    ));
                }
            }
        }
        Ok(policy)
    }

    /// Checks across keys that may come from different files; the error is
    /// located at whichever of the two keys was read last.
    pub fn check_merged(&self) -> Result<(), PolicyError> {
        if let (Some(minc), Some(ch)) = (&self.conditions.min_channels, &self.offload.channels) {
            if let Channels::Fixed(n) = ch.get_ref() {
                let min = minc.get_ref().0;
                if min > *n {
                    let (a, b) = (
                        self.sources.get("conditions.min_channels"),
                        self.sources.get("offload.channels"),
                    );
                    if let (Some(a), Some(b)) = (a, b) {
                        let order =
                            |o: &Origin| self.sources.files.iter().position(|f| *f == o.file);
                        let at = if order(b) > order(a) { b } else { a };
                        return Err(at.error(format!(
                            "min_channels = {min} ({}) exceeds offload.channels = {n} ({})",
                            a.at(),
                            b.at()
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    pub fn channels(&self) -> Option<Channels> {
        self.offload.channels.as_ref().map(|c| *c.get_ref())
    }

    pub fn driver_allowed(&self, driver: Option<&str>) -> bool {
        let list = &self.conditions.drivers;
        if list.is_empty() {
            return true;
        }
        match driver {
            Some(d) => list.iter().any(|a| a.0 == d),
            None => false,
        }
    }

    /// One-line summary used by `validate`.
    pub fn summary(&self) -> String {
        let o = &self.offload;
        let c = &self.conditions;
        let mut s = format!("enabled={}", o.enabled);
        if let Some(ch) = self.channels() {
            s += &format!(" channels={ch}");
        }
        if let Some(t) = o.timeout_ms {
            s += &format!(" timeout_ms={}", t.0);
        }
        if let Some(b) = o.min_batch_bytes {
            s += &format!(" min_batch_bytes={}", b.0);
        }
        if let Some(b) = o.min_folio_bytes {
            s += &format!(" min_folio_bytes={}", b.0);
        }
        if let Some(r) = &o.reasons {
            s += &format!(" reasons={r}");
        }
        s += &format!(" require_provider={}", c.require_provider);
        if !c.drivers.is_empty() {
            let d: Vec<&str> = c.drivers.iter().map(|d| d.0.as_str()).collect();
            s += &format!(" drivers={}", d.join(","));
        }
        if let Some(m) = &c.min_channels {
            s += &format!(" min_channels={}", m.get_ref().0);
        }
        if let Some(m) = c.min_numa_nodes {
            s += &format!(" min_numa_nodes={}", m.0);
        }
        if let Some(m) = c.min_cpuless_memory_nodes {
            s += &format!(" min_cpuless_memory_nodes={}", m.0);
        }
        if let Some(m) = c.min_memory_tiers {
            s += &format!(" min_memory_tiers={}", m.0);
        }
        if c.require_demotion {
            s += " require_demotion=true";
        }
        if let Some(k) = c.min_kernel {
            s += &format!(" min_kernel={k}");
        }
        s += &format!(" counters.reset={}", self.counters.reset);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(src: &str) -> Result<Policy, PolicyError> {
        Policy::parse(src, Path::new("p.toml"))
    }

    #[test]
    fn empty_policy_is_disabled_with_defaults() {
        let p = parse("").unwrap();
        assert!(!p.offload.enabled);
        assert!(p.conditions.require_provider);
        assert_eq!(p.counters.reset, ResetMode::Never);
        assert_eq!(p.channels(), None);
        // Unset knobs stay unmanaged: the module keeps its own defaults.
        assert_eq!(p.offload.min_batch_bytes, None);
        assert_eq!(p.offload.min_folio_bytes, None);
    }

    #[test]
    fn full_policy_parses() {
        let p = parse(
            r#"
[offload]
enabled = true
channels = "auto"
timeout_ms = 5000
min_batch_bytes = 262144
min_folio_bytes = 1073741824
[conditions]
require_provider = true
drivers = ["ptdma", "idxd"]
min_channels = 2
min_numa_nodes = 2
min_cpuless_memory_nodes = 1
require_demotion = true
min_kernel = "6.8"
[counters]
reset = "once-per-boot"
"#,
        )
        .unwrap();
        assert_eq!(p.channels(), Some(Channels::Auto));
        assert_eq!(p.offload.timeout_ms, Some(TimeoutMs(5000)));
        assert_eq!(p.offload.min_batch_bytes, Some(MinBatchBytes(262144)));
        assert_eq!(p.offload.min_folio_bytes, Some(MinFolioBytes(1 << 30)));
        assert!(p.summary().contains(" min_folio_bytes=1073741824 "));
        assert_eq!(p.conditions.min_kernel, Some(KernelVersion([6, 8, 0])));
        assert_eq!(p.counters.reset, ResetMode::OncePerBoot);
        assert!(p.driver_allowed(Some("idxd")));
        assert!(!p.driver_allowed(Some("ioatdma")));
        assert!(!p.driver_allowed(None));
    }

    fn err_at(src: &str, line: usize, col: usize, needle: &str) {
        let e = parse(src).expect_err("policy should be rejected");
        assert_eq!((e.line, e.column), (line, col), "{e}");
        assert!(e.message.contains(needle), "{e}");
        assert!(e.to_string().starts_with(&format!("p.toml:{line}:{col}: ")));
    }

    #[test]
    fn located_errors() {
        err_at("[offload]\nenabeld = true\n", 2, 1, "unknown field");
        err_at("[offload]\nenabled = \"yes\"\n", 2, 11, "true or false");
        err_at("[offload]\nchannels = 0\n", 2, 12, "out of range");
        err_at("[offload]\nchannels = 17\n", 2, 12, "out of range");
        err_at("[offload]\nchannels = \"many\"\n", 2, 12, "auto");
        err_at("[offload]\ntimeout_ms = 0\n", 2, 14, "timeout_ms");
        err_at(
            "[offload]\nmin_batch_bytes = -1\n",
            2,
            19,
            "min_batch_bytes",
        );
        err_at(
            "[offload]\nmin_folio_bytes = -1\n",
            2,
            19,
            "min_folio_bytes = -1 is out of range 0..=1073741824",
        );
        err_at(
            "[offload]\nmin_folio_bytes = 1073741825\n",
            2,
            19,
            "min_folio_bytes",
        );
        err_at(
            "[offload]\nmin_folio_bytes = \"2M\"\n",
            2,
            19,
            "min_folio_bytes = \"2M\": expected a whole number 0..=1073741824",
        );
        err_at("[offload]\nmin_folio_byte = 0\n", 2, 1, "unknown field");
        err_at("[counters]\nreset = \"daily\"\n", 2, 9, "daily");
        err_at("[conditions]\nmin_kernel = \"6.x\"\n", 2, 14, "min_kernel");
        err_at(
            "[conditions]\ndrivers = [\"pt dma\"]\n",
            2,
            11,
            "driver name",
        );
        err_at("[tuning]\nx = 1\n", 1, 2, "unknown field");
        err_at(
            "[offload]\nchannels = 2\n[conditions]\nmin_channels = 4\n",
            4,
            16,
            "exceeds",
        );
        err_at("[offload\n", 1, 9, "");
    }

    #[test]
    fn messages_name_the_key_and_stay_short() {
        err_at("[[offload]]\n", 1, 1, "write `[offload]`");
        err_at(
            "[conditions]\nmin_numa_nodes = 0\n",
            2,
            18,
            "min_numa_nodes = 0",
        );
        err_at(
            "[conditions]\nmin_cpuless_memory_nodes = 0\n",
            2,
            28,
            "min_cpuless_memory_nodes = 0",
        );
        let long = "k".repeat(10_000);
        let e = parse(&format!("[offload]\n{long} = 1\n")).unwrap_err();
        assert!(e.message.contains("(10000 characters)"), "{e}");
        assert!(e.message.len() < 400, "{} bytes", e.message.len());
    }

    #[test]
    fn kernel_versions() {
        let r = KernelVersion::parse_release("6.8.0-45-generic").unwrap();
        assert_eq!(r, KernelVersion([6, 8, 0]));
        assert_eq!(
            KernelVersion::parse_release("6.12-rc3"),
            Some(KernelVersion([6, 12, 0]))
        );
        assert!(KernelVersion::parse_policy("6.8.1.2").is_none());
        assert!(KernelVersion::parse_policy("").is_none());
        assert!(KernelVersion([6, 10, 0]) > KernelVersion([6, 9, 5]));
    }
}
