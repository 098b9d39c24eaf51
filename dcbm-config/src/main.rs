//! dcbm-config: apply a TOML offload policy to the dcbm module through sysfs.

#[macro_use]
mod out;

mod apply;
mod atomic_file;
mod cli;
mod conditions;
mod ctx;
mod exit;
mod health;
mod interrupt;
mod journal;
mod lock;
mod manpage;
mod modprobe;
mod module;
mod notify;
mod packager;
mod plan;
mod policy;
mod policy_error;
mod policy_file;
mod policy_load;
mod policy_messages;
mod providers;
mod reason_stats;
mod reasons;
mod report;
mod revert;
mod root;
mod saved;
#[cfg(test)]
mod schema_keys;
mod sources;
mod switched_off;
mod sysfs;
mod system;

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::Parser;

use crate::cli::{Cli, Cmd};
use crate::ctx::Ctx;
use crate::root::Root;

fn emit(output: Option<&Path>, content: &str) -> Result<()> {
    match output {
        Some(p) => atomic_file::replace(p, content),
        None => {
            out::stdout_bytes(content.as_bytes());
            Ok(())
        }
    }
}

fn load_policy(cli: &Cli) -> Result<policy::Policy> {
    let enforce = std::env::var_os("DCBM_ENFORCE_POLICY_OWNER").is_some_and(|v| v == "1");
    let dirs = if cli.g.no_dropins {
        &[][..]
    } else {
        &cli.g.dropin_dirs[..]
    };
    let p = policy_load::load(&cli.g.config, dirs, enforce)?;
    journal::note(|j| j.policy = Some((&p.sources).into()));
    Ok(p)
}

/// Whether the module is loaded, for `--json`: noted before the policy is
/// read, so that the report tells it even when the policy is refused.
fn note_module_state(ctx: &Ctx) {
    let loaded = module::loaded(&ctx.root);
    journal::note(|j| j.module_loaded = loaded);
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
            dry_run,
            strict,
            unless_off,
            ..
        } => {
            note_module_state(&ctx);
            // The lock before the `off` record and the policy: an `off`
            // running now is seen done. A dry run writes nothing and so
            // waits for nobody.
            let _lock = if *dry_run { None } else { Some(ctx.lock()?) };
            if *unless_off {
                // The administrator's `off` holds whatever the policy says,
                // which is not even read.
                if let Some(off) = switched_off::read(&ctx.state_dir)? {
                    switched_off::hold(&off, *dry_run);
                    return Ok(exit::OK);
                }
            }
            let p = load_policy(&cli)?;
            apply::apply(&ctx, &p, *dry_run, *strict)
        }
        Cmd::Check { strict, .. } => {
            note_module_state(&ctx);
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
            let s = report::status(
                &ctx.root,
                &ctx.state_dir,
                Duration::from_secs_f64(*interval),
            )?;
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
    // `completions` and `man`, for packagers, are not `Cli`'s.
    if let Ok(p) = packager::Packager::try_parse() {
        return ExitCode::from(lost_output_code(false, p.run()));
    }
    let cli = Cli::try_parse().unwrap_or_else(|e| packager::usage_error(e).exit());
    let acts = cli.cmd.acts();
    let json = cli.cmd.json_report();
    let notifies = matches!(cli.cmd, Cmd::Apply { dry_run: false, .. });
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
    if notifies {
        send_unit_status(code, error.as_deref());
    }
    if let Some((command, dry_run)) = json {
        let report = report::json_result(command, dry_run, code, error, journal::take());
        out::stdout_bytes(report.as_bytes());
    }
    ExitCode::from(lost_output_code(acts, code))
}

/// Under systemd (dcbm-config.service), tell the unit's status line: what
/// `apply` chose (offload on, held off and why, no module for this kernel),
/// else the error it stopped with.
fn send_unit_status(code: u8, error: Option<&str>) {
    let text = notify::take_status()
        .or_else(|| error.map(|e| format!("apply failed (exit {code}): {e}")))
        .unwrap_or_else(|| format!("apply ended with exit {code}"));
    if let Err(e) = notify::status(&text) {
        tell!(
            "dcbm-config: note: cannot send the unit's status to systemd (${}): {e}",
            notify::ENV
        );
    }
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
