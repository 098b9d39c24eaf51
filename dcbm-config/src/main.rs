//! dcbm-config: apply a TOML offload policy to the dcbm module through sysfs.

#[macro_use]
mod out;

mod apply;
mod atomic_file;
mod conditions;
mod exit;
mod health;
mod interrupt;
mod journal;
mod lock;
mod manpage;
mod modprobe;
mod module;
mod plan;
mod policy;
mod policy_file;
mod policy_messages;
mod providers;
mod reasons;
mod report;
mod revert;
mod root;
mod saved;
mod sources;
mod sysfs;
mod system;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::{Parser, Subcommand};

use crate::apply::Ctx;
use crate::root::Root;

#[derive(Debug, Parser)]
#[command(
    name = "dcbm-config",
    version,
    about = "Apply a TOML offload policy to the dcbm kernel module through sysfs",
    after_help = exit::TABLE
)]
pub struct Cli {
    #[command(flatten)]
    g: Globals,
    #[command(subcommand)]
    cmd: Cmd,
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
enum Cmd {
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
    /// Switch offload off now (the module releases its channels); the policy
    /// is not changed, the next `apply` follows it again.
    Off,
    /// Restore the settings the module had before the last `apply` or `off`
    /// that changed something.
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

fn emit(output: Option<&Path>, content: &str) -> Result<()> {
    match output {
        Some(p) => atomic_file::replace(p, content),
        None => {
            out::stdout_bytes(content.as_bytes());
            Ok(())
        }
    }
}

impl Cmd {
    /// Does the command act on the module (its exit code says how that
    /// went), rather than only produce output?
    fn acts(&self) -> bool {
        self.writes() || matches!(self, Cmd::Check { .. })
    }

    /// For `apply --json` and `check --json`: the command and whether it is
    /// a dry run.
    fn json_report(&self) -> Option<(&'static str, bool)> {
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
    fn reads_sysfs(&self) -> bool {
        !matches!(self, Cmd::Validate | Cmd::ModprobeConf { .. })
    }

    /// Does the command change the module (and so take the lock and catch
    /// SIGINT/SIGTERM/SIGHUP)?
    fn writes(&self) -> bool {
        matches!(
            self,
            Cmd::Apply { dry_run: false, .. } | Cmd::ResetCounters | Cmd::Off | Cmd::Revert
        )
    }
}

fn load_policy(cli: &Cli) -> Result<policy::Policy> {
    let enforce = std::env::var_os("DCBM_ENFORCE_POLICY_OWNER").is_some_and(|v| v == "1");
    let dirs = if cli.g.no_dropins {
        &[][..]
    } else {
        &cli.g.dropin_dirs[..]
    };
    let p = policy::load(&cli.g.config, dirs, enforce)?;
    journal::note(|j| j.policy = Some((&p.sources).into()));
    Ok(p)
}

fn run(cli: Cli) -> Result<u8> {
    let root = Root::new(&cli.g.sysfs_root);
    let ctx = Ctx {
        state_dir: cli
            .g
            .state_dir
            .clone()
            .unwrap_or_else(|| root.path(root::STATE_DIR)),
        root,
        modprobe: cli.g.modprobe.clone().or_else(|| {
            // A fake root never loads the host's module.
            (cli.g.sysfs_root == Path::new("/")).then(|| "modprobe dcbm".to_string())
        }),
        load_timeout: Duration::from_millis(cli.g.load_timeout_ms),
        lock_timeout: Duration::from_millis(cli.g.lock_timeout_ms),
    };
    if cli.cmd.reads_sysfs() && !ctx.root.path("/sys").is_dir() {
        return Err(exit::coded(
            exit::USAGE,
            format!(
                "--sysfs-root {}: no sys directory there (a typo?)",
                cli.g.sysfs_root.display()
            ),
        ));
    }
    if cli.cmd.writes() {
        interrupt::catch()?;
    }
    match &cli.cmd {
        Cmd::Apply {
            dry_run, strict, ..
        } => {
            let p = load_policy(&cli)?;
            apply::apply(&ctx, &p, *dry_run, *strict)
        }
        Cmd::Check { strict, .. } => {
            let p = load_policy(&cli)?;
            apply::check(&ctx, &p, *strict)
        }
        Cmd::Status { json, interval } => {
            if !interval.is_finite() || *interval < 0.0 || *interval > 3600.0 {
                return Err(exit::coded(
                    exit::USAGE,
                    "--interval must be 0..3600 seconds",
                ));
            }
            let s = report::status(&ctx.root, Duration::from_secs_f64(*interval))?;
            if *json {
                say!("{}", serde_json::to_string_pretty(&s)?);
            } else {
                out::stdout_bytes(report::render_status(&s).as_bytes());
            }
            Ok(exit::OK)
        }
        Cmd::Providers { json } => {
            let mut chans = providers::scan(&ctx.root)?;
            let held = module::held_channels(&ctx.root)?.unwrap_or_default();
            providers::mark_holders(&mut chans, &held);
            let ps = report::group(chans);
            if *json {
                say!("{}", serde_json::to_string_pretty(&ps)?);
            } else {
                out::stdout_bytes(report::render_providers(&ps).as_bytes());
            }
            Ok(exit::OK)
        }
        Cmd::ResetCounters => apply::reset_counters(&ctx),
        Cmd::Off => revert::off(&ctx),
        Cmd::Revert => revert::revert(&ctx),
        Cmd::Validate => {
            let p = load_policy(&cli)?;
            say!("{}: OK ({})", cli.g.config.display(), p.summary());
            out::stdout_bytes(p.sources.render().as_bytes());
            Ok(exit::OK)
        }
        Cmd::Metrics { output } => {
            emit(output.as_deref(), &report::metrics(&ctx.root)?)?;
            Ok(exit::OK)
        }
        Cmd::ModprobeConf { output } => {
            let p = load_policy(&cli)?;
            emit(output.as_deref(), &apply::modprobe_conf(&p, &cli.g.config))?;
            Ok(exit::OK)
        }
    }
}

fn main() -> ExitCode {
    // `completions` and `man` are for packagers: a parser of their own, so
    // that they appear neither in the completions nor in the man page.
    if let Ok(p) = manpage::Packager::try_parse() {
        return ExitCode::from(lost_output_code(false, p.run()));
    }
    let cli = Cli::try_parse().unwrap_or_else(|e| manpage::usage_error(e).exit());
    let acts = cli.cmd.acts();
    let json = cli.cmd.json_report();
    if json.is_some() {
        out::json_only();
    }
    let (code, error) = match run(cli) {
        Ok(code) => (code, None),
        Err(e) => {
            tell!("dcbm-config: error: {e:#}");
            (exit::code_of(&e), Some(format!("{e:#}")))
        }
    };
    if let Some((command, dry_run)) = json {
        let report = report::json_result(command, dry_run, code, error, journal::take());
        out::stdout_bytes(report.as_bytes());
    }
    ExitCode::from(lost_output_code(acts, code))
}

/// The exit code once stdout output was lost: a command that changes or
/// checks the module keeps its own code (the work was done), a command whose
/// product is its output fails. A reader that went away (`EPIPE`) is not
/// worth a message.
fn lost_output_code(acts: bool, code: u8) -> u8 {
    let Some(lost) = out::stdout_error() else {
        return code;
    };
    if acts {
        if !lost.broken_pipe {
            tell!("dcbm-config: note: output lost: {}", lost.message);
        }
        return code;
    }
    if !lost.broken_pipe {
        tell!("dcbm-config: error: writing output: {}", lost.message);
    }
    if code == exit::OK {
        exit::ERROR
    } else {
        code
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
