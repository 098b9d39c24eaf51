//! The command line: the global options and the commands.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::exit;
use crate::sources;

/// For `--help` and the man page's DESCRIPTION.
const DESCRIPTION: &str = "\
Apply a TOML offload policy to the dcbm kernel module through sysfs.

dcbm-config reads the offload policy (/etc/dcbm.toml and the drop-ins in
/etc/dcbm.d and /usr/lib/dcbm.d, see dcbm.toml(5)) and brings the dcbm
module's live interface under /sys/module/dcbm in line with it, writing only
the attributes whose live value differs, in a safe order: offloading=0 first
when offload must go off, then nr_dma_chan, timeout_ms, min_batch_bytes,
min_folio_bytes, reason_mask, counter resets, and offloading=1 last. The
files are used in /sys/module/dcbm, or in /sys/module/dcbm/parameters when
only that exists (the upstream v6 driver).

A failed write, or SIGINT, SIGTERM or SIGHUP during an apply, restores what
was already changed. Only one dcbm-config changes the module at a time; a
second one waits for the lock.";

#[derive(Debug, Parser)]
#[command(
    name = "dcbm-config",
    version,
    about = "Apply a TOML offload policy to the dcbm kernel module through sysfs",
    long_about = DESCRIPTION,
    subcommand_value_name = "COMMAND",
    after_help = exit::help_table()
)]
pub struct Cli {
    #[command(flatten)]
    pub g: Globals,
    #[command(subcommand)]
    pub cmd: Cmd,
}

/// Options of every command (the packagers' commands accept and ignore them).
#[derive(Debug, Clone, clap::Args)]
pub struct Globals {
    /// Policy file.
    #[arg(
        long,
        global = true,
        env = "DCBM_CONFIG",
        default_value = "/etc/dcbm.toml"
    )]
    pub config: PathBuf,
    /// Drop-in directory, repeatable, highest priority first: its `*.toml`
    /// files are merged after the policy file, sorted by file name across
    /// the directories; a name in an earlier directory masks the same name
    /// in a later one.
    #[arg(
        long = "dropin-dir",
        global = true,
        env = "DCBM_DROPIN_DIRS",
        value_delimiter = ':',
        value_name = "DIR",
        default_values = sources::DROPIN_DIRS
    )]
    pub dropin_dirs: Vec<PathBuf>,
    /// Read the policy file alone, without drop-ins.
    #[arg(long, global = true)]
    pub no_dropins: bool,
    /// Root under which /sys, /proc and /run are looked up (tests use a fake tree).
    #[arg(long, global = true, env = "DCBM_SYSFS_ROOT", default_value = "/")]
    pub sysfs_root: PathBuf,
    /// Where state is kept across runs [default: <sysfs-root>/run/dcbm].
    #[arg(long, global = true, env = "DCBM_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// Shell command that loads the module (run with `sh -c`)
    /// [default: `modprobe dcbm`, only when --sysfs-root is /].
    #[arg(long, global = true, env = "DCBM_MODPROBE", value_name = "CMD")]
    pub modprobe: Option<String>,
    /// How long to wait for the module's sysfs files after loading it.
    #[arg(long, global = true, default_value_t = 10000, value_name = "MS")]
    pub load_timeout_ms: u64,
    /// How long `apply`, `reset-counters`, `off` and `revert` wait for
    /// another dcbm-config that is changing the module.
    #[arg(long, global = true, default_value_t = 30000, value_name = "MS")]
    pub lock_timeout_ms: u64,
}

#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Bring the module in line with the policy (writes only what differs).
    Apply {
        /// Print the plan and write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Exit 5/9 instead of 0 when a condition holds offload off.
        #[arg(long)]
        strict: bool,
        /// Print one JSON object (plan, writes, result) instead of text.
        #[arg(long)]
        json: bool,
        /// Write nothing while a `dcbm-config off` is in force (the state
        /// directory's `off` file): for dcbm-config.service, which udev
        /// re-runs when a DMA channel or the dcbm module is added. Without
        /// it, `apply` ends the `off`.
        #[arg(long)]
        unless_off: bool,
    },
    /// Compare the live state with the policy, per attribute (exit code tells).
    #[command(visible_alias = "verify")]
    Check {
        /// Exit 9 when in sync only because a condition holds offload off.
        #[arg(long)]
        strict: bool,
        /// Print one JSON object (attributes, conditions, result) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Offloading, knobs, counters with rates, providers and their channels.
    Status {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// Sampling interval for counter rates, in seconds (0: no rates).
        #[arg(long, default_value_t = 1.0)]
        interval: f64,
    },
    /// DMA engines under /sys/class/dma, their drivers, devices and channels
    /// (marked when held by dcbm or in use by another client).
    Providers {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Reset the module's counters to 0.
    ResetCounters,
    /// Switch offload off now (the module releases its channels) and keep
    /// it off until `apply`, `revert` or a reboot: dcbm-config.service and
    /// the udev rule (`apply --unless-off`) leave it off. The policy is not
    /// changed.
    Off,
    /// Restore the settings the module had before the last `apply` or `off`
    /// that changed something, and end an `off` in force.
    Revert,
    /// Check the policy file alone.
    Validate,
    /// Prometheus text format, for node_exporter's textfile collector.
    Metrics {
        /// Write atomically to this file instead of stdout.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Print the /etc/modprobe.d/dcbm.conf options matching the policy.
    ModprobeConf {
        /// Write atomically to this file instead of stdout.
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

impl Cmd {
    /// Does the command act on the module (its exit code says how that
    /// went), rather than only produce output?
    pub fn acts(&self) -> bool {
        self.writes() || matches!(self, Cmd::Check { .. })
    }

    /// For `apply --json` and `check --json`: the command and whether it is
    /// a dry run.
    pub fn json_report(&self) -> Option<(&'static str, bool)> {
        match self {
            Cmd::Apply {
                json: true,
                dry_run,
                ..
            } => Some(("apply", *dry_run)),
            Cmd::Check { json: true, .. } => Some(("check", false)),
            _ => None,
        }
    }

    /// Does the command look at /sys (so that --sysfs-root must hold one)?
    pub fn reads_sysfs(&self) -> bool {
        !matches!(self, Cmd::Validate | Cmd::ModprobeConf { .. })
    }

    /// Does the command change the module (and so take the lock and catch
    /// SIGINT/SIGTERM/SIGHUP)?
    pub fn writes(&self) -> bool {
        matches!(
            self,
            Cmd::Apply { dry_run: false, .. } | Cmd::ResetCounters | Cmd::Off | Cmd::Revert
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
