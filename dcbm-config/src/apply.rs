//! `apply` and `check`: bring the module in line with the policy, or compare.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use nix::errno::Errno;

use crate::atomic_file;
use crate::conditions::{self, Verdict};
use crate::ctx::Ctx;
use crate::exit::{self, coded};
use crate::interrupt;
use crate::journal;
use crate::modprobe;
use crate::module::{self, Attr, Live, CONFIG_ATTRS};
use crate::notify;
use crate::plan::{self, Desired, Step, Val};
use crate::policy::{Policy, ResetMode};
use crate::providers;
use crate::root::Root;
use crate::saved;
use crate::switched_off;
use crate::sysfs;
use crate::system;

/// State file recording the boot whose counters were already reset.
pub const RESET_STATE: &str = "counters-reset.boot-id";

/// The desired state, from the policy and the host (counter reset aside).
pub fn desired(policy: &Policy, verdict: &Verdict) -> Desired {
    Desired {
        offloading: policy.offload.enabled && verdict.ok(),
        nr_dma_chan: verdict.channels,
        timeout_ms: policy.offload.timeout_ms.map(|t| t.0),
        min_batch_bytes: policy.offload.min_batch_bytes.map(|b| b.0),
        min_folio_bytes: policy.offload.min_folio_bytes.map(|b| b.0),
        reset_counters: false,
        reason_mask: None,
    }
}

/// Add `offload.reasons` as the running module understands it to `want`;
/// on a v5 module asking for other reasons is a failed condition (offload
/// held off). An unknown reason name is a policy error.
fn resolve_reasons(
    policy: &Policy,
    live: &Live,
    verdict: &mut Verdict,
    want: &mut Desired,
) -> Result<()> {
    let r = crate::reasons::resolve(policy, live)?;
    want.reason_mask = r.want;
    if let (Some(f), true) = (r.failed, policy.offload.enabled) {
        tell!("condition failed: {}: {}", f.condition, f.detail);
        if verdict.ok() {
            tell!("offload held off: 1 condition(s) of the policy failed");
        }
        journal::note(|j| j.conditions_failed.push(f.clone()));
        verdict.failed.push(f);
        want.offloading = false;
    }
    Ok(())
}

/// Refuse a policy that manages an attribute the module lacks (the
/// upstream v6 driver has only offloading, nr_dma_chan, reason_mask and two
/// counters, in parameters/).
fn require_attrs(live: &Live, want: &Desired) -> Result<()> {
    let mut lacking: Vec<&str> = CONFIG_ATTRS
        .into_iter()
        .filter(|a| want.get(*a).is_some() && !live.has(*a))
        .map(|a| a.name())
        .collect();
    if want.reason_mask.is_some() && !live.has(Attr::ReasonMask) {
        lacking.push(Attr::ReasonMask.name());
    }
    if lacking.is_empty() {
        return Ok(());
    }
    Err(coded(
        exit::MODULE_MISSING,
        format!(
            "the policy sets {} but the module (interface {}, {} layout) has no such attribute; leave it out of the policy for this module",
            lacking.join(", "),
            live.interface,
            live.layout
        ),
    ))
}

fn report_conditions(policy: &Policy, verdict: &Verdict) {
    journal::note(|j| {
        j.conditions_failed = verdict.failed.clone();
        j.usable_channels = verdict.usable.clone();
        j.provider_missing = verdict.provider_missing;
    });
    for f in &verdict.failed {
        tell!("condition failed: {}: {}", f.condition, f.detail);
    }
    if policy.offload.enabled && !verdict.ok() {
        tell!(
            "offload held off: {} condition(s) of the policy failed",
            verdict.failed.len()
        );
    }
}

/// Exit code for failed conditions under `--strict`.
fn strict_code(policy: &Policy, verdict: &Verdict, strict: bool) -> u8 {
    if !strict || !policy.offload.enabled || verdict.ok() {
        exit::OK
    } else if verdict.provider_missing {
        exit::PROVIDER_MISSING
    } else {
        exit::CONDITIONS_UNMET
    }
}

fn reset_state_path(ctx: &Ctx) -> PathBuf {
    ctx.state_dir.join(RESET_STATE)
}

/// Does `[counters] reset` ask for a reset now? Returns the boot id to record.
fn counter_reset(ctx: &Ctx, mode: ResetMode) -> Result<(bool, Option<String>)> {
    match mode {
        ResetMode::Never => Ok((false, None)),
        ResetMode::OnApply => Ok((true, None)),
        ResetMode::OncePerBoot => {
            let id = system::boot_id(&ctx.root).context("counters.reset = \"once-per-boot\"")?;
            let done = fs::read_to_string(reset_state_path(ctx))
                .map(|s| s.trim() == id)
                .unwrap_or(false);
            Ok((!done, if done { None } else { Some(id) }))
        }
    }
}

/// Record the boot whose counters were reset, replacing the record whole
/// (never through a link planted in the state directory).
fn record_reset(ctx: &Ctx, boot_id: &str) -> Result<()> {
    fs::create_dir_all(&ctx.state_dir)
        .with_context(|| format!("creating {}", ctx.state_dir.display()))?;
    atomic_file::replace(&reset_state_path(ctx), &format!("{boot_id}\n"))
}

/// Message for ENODEV on a store that acquires channels.
pub const NO_CHANNEL: &str = "no DMA memcpy channel available (is a DMA engine driver loaded?)";

/// What the module means by the errno of a failed store, if it says more
/// than the errno alone.
fn store_hint(attr: Attr, value: &Val, errno: Errno) -> Option<&'static str> {
    match (attr, errno) {
        // Enabling acquires the channels first and fails with ENODEV when
        // there is none; a resize while enabled acquires channels as well.
        (Attr::Offloading, Errno::ENODEV) if *value == Val::Num(1) => Some(NO_CHANNEL),
        (Attr::ReasonMask, Errno::EOPNOTSUPP) => {
            Some("the v5 offload interface cannot change the reasons")
        }
        (Attr::ReasonMask, Errno::EINVAL) => Some("the kernel does not know one of the reasons"),
        (Attr::NrDmaChan, Errno::ENODEV) => Some(NO_CHANNEL),
        (
            Attr::NrDmaChan | Attr::TimeoutMs | Attr::MinBatchBytes | Attr::MinFolioBytes,
            Errno::EINVAL,
        ) => Some("the module rejected the value as out of range"),
        _ => None,
    }
}

/// Append the hint for a failed store's errno, if there is one.
fn explain(attr: Attr, value: &Val, err: anyhow::Error) -> anyhow::Error {
    match sysfs::store_errno(&err).and_then(|e| store_hint(attr, value, e)) {
        Some(hint) => anyhow!("{err:#}: {hint}"),
        None => err,
    }
}

fn write_step(root: &Root, attr: Attr, value: &Val) -> Result<()> {
    sysfs::write_value(&attr.path(root), attr.name(), &value.to_string())
        .map_err(|e| explain(attr, value, e))
}

/// Undo `done` (the stores made so far), newest first. Returns how many were
/// restored and the attributes whose restore failed. Counter resets cannot
/// be undone and are only named.
fn roll_back(root: &Root, done: &[Step]) -> (usize, Vec<&'static str>) {
    let mut restored = 0;
    let mut lost = Vec::new();
    for d in done.iter().rev() {
        if d.attr.is_counter() {
            tell!(
                "note: counter {} was reset and cannot be restored",
                d.attr.name()
            );
            continue;
        }
        match write_step(root, d.attr, &d.from) {
            Ok(()) => {
                tell!("rolled back {}: {} -> {}", d.attr.name(), d.to, d.from);
                journal::note(|j| j.rolled_back.push(d.clone()));
                restored += 1;
            }
            Err(e) => {
                tell!("error: rollback of {} failed: {e:#}", d.attr.name());
                lost.push(d.attr.name());
            }
        }
    }
    (restored, lost)
}

/// Why `execute` stopped before the end.
enum Stop {
    Failed(anyhow::Error),
    Signal(i32),
}

/// Perform `steps` in order. On a failed store, or a signal caught between
/// two stores (see `interrupt`), undo the ones done, newest first.
pub fn execute(root: &Root, steps: &[Step]) -> Result<()> {
    let mut done: Vec<Step> = Vec::new();
    for s in steps {
        let stop = match interrupt::received() {
            Some(sig) => Stop::Signal(sig),
            None => match write_step(root, s.attr, &s.to) {
                Ok(()) => {
                    say!("wrote {s}");
                    journal::note(|j| j.written.push(s.clone()));
                    done.push(s.clone());
                    continue;
                }
                Err(err) => Stop::Failed(err),
            },
        };
        let what = match &stop {
            Stop::Failed(err) => {
                tell!("error: {err:#}");
                format!("apply failed at {}", s.attr.name())
            }
            Stop::Signal(sig) => {
                tell!(
                    "{} received: undoing the {} write(s) made",
                    interrupt::name(*sig),
                    done.len()
                );
                format!(
                    "interrupted by {} before writing {}",
                    interrupt::name(*sig),
                    s.attr.name()
                )
            }
        };
        let (restored, lost) = roll_back(root, &done);
        return Err(if !lost.is_empty() {
            coded(
                exit::ROLLBACK_FAILED,
                format!(
                    "{what} and the rollback failed for: {}; run `dcbm-config check`",
                    lost.join(", ")
                ),
            )
        } else {
            let code = match stop {
                Stop::Failed(_) => exit::WRITE_FAILED,
                Stop::Signal(sig) => interrupt::exit_code(sig),
            };
            coded(
                code,
                format!("{what}; {restored} earlier write(s) rolled back, the module is as it was"),
            )
        });
    }
    Ok(())
}

/// The policy key behind a write of `attr`.
fn policy_key(attr: Attr) -> &'static str {
    match attr {
        Attr::Offloading => "offload.enabled",
        Attr::NrDmaChan => "offload.channels",
        Attr::TimeoutMs => "offload.timeout_ms",
        Attr::MinBatchBytes => "offload.min_batch_bytes",
        Attr::MinFolioBytes => "offload.min_folio_bytes",
        Attr::ReasonMask => "offload.reasons",
        Attr::FoliosMigrated
        | Attr::FoliosFailures
        | Attr::FoliosDeclined
        | Attr::BytesMigrated => "counters.reset",
    }
}

/// `  (offload.channels = 4 at /etc/dcbm.d/50-site.toml:3)`, or nothing when
/// the value is not set by any file (a default).
fn origin_note(policy: &Policy, attr: Attr) -> String {
    let key = policy_key(attr);
    match policy.sources.get(key) {
        Some(o) => format!("  ({key} = {} at {})", o.value, o.at()),
        None => String::new(),
    }
}

/// The dry run's plan, each step with the policy value behind it, then the
/// policy files and where each value came from.
fn show_plan(policy: &Policy, steps: &[String]) {
    say!("plan (dry run, nothing written):");
    for s in steps {
        say!("  {s}");
    }
    say!("{}", policy.sources.render().trim_end());
}

fn show_desired(policy: &Policy, want: &Desired) -> Vec<String> {
    CONFIG_ATTRS
        .into_iter()
        .filter_map(|a| {
            want.get(a)
                .map(|v| format!("{}: -> {v}{}", a.name(), origin_note(policy, a)))
        })
        .collect()
}

/// `apply`. The caller holds the writers' lock (`Ctx::lock`) unless this
/// is a dry run. An `off` in force ends when it succeeds; a dry run that
/// succeeds says it would.
pub fn apply(ctx: &Ctx, policy: &Policy, dry_run: bool, strict: bool) -> Result<u8> {
    let code = apply_or_plan(ctx, policy, dry_run, strict)?;
    if dry_run {
        tell_off_ends(ctx)?;
    }
    Ok(code)
}

fn apply_or_plan(ctx: &Ctx, policy: &Policy, dry_run: bool, strict: bool) -> Result<u8> {
    let chans = providers::scan(&ctx.root)?;
    let mut verdict = conditions::evaluate(policy, &ctx.root, &chans);
    report_conditions(policy, &verdict);
    let mut want = desired(policy, &verdict);

    // Again (`main` noted it before the policy was read): another apply may
    // have loaded the module while this one waited for the lock.
    journal::note(|j| j.module_loaded = module::loaded(&ctx.root));
    if !module::loaded(&ctx.root) {
        let code = strict_code(policy, &verdict, strict);
        if !want.offloading {
            say!("dcbm module not loaded and the policy keeps offload off: nothing to write");
            if !dry_run {
                switched_off::lift(&ctx.state_dir)?.end();
                notify::set_status(unit_status(policy, &verdict, &want));
            }
            return Ok(code);
        }
        if dry_run {
            let mut lines = vec![format!(
                "load the module: {}",
                ctx.modprobe.as_deref().unwrap_or("(no --modprobe)")
            )];
            lines.extend(show_desired(policy, &want));
            show_plan(policy, &lines);
            return Ok(code);
        }
        modprobe::load(ctx)?;
        journal::note(|j| {
            j.module_loaded = true;
            j.module_loaded_now = true;
        });
    }
    let live = Live::read(&ctx.root)?;
    resolve_reasons(policy, &live, &mut verdict, &mut want)?;
    require_attrs(&live, &want)?;
    let code = strict_code(policy, &verdict, strict);
    let (reset, boot_id) = counter_reset(ctx, policy.counters.reset)?;
    want.reset_counters = reset;
    let steps = plan::plan(&live, &want);
    journal::note(|j| j.plan = steps.clone());
    if dry_run {
        if steps.is_empty() {
            say!("nothing to write: live state matches the policy");
            say!("{}", policy.sources.render().trim_end());
        } else {
            let lines: Vec<String> = steps
                .iter()
                .map(|s| format!("{s}{}", origin_note(policy, s.attr)))
                .collect();
            show_plan(policy, &lines);
        }
        return Ok(code);
    }
    // The `off` in force ends with the writes: put back if they are
    // rolled back, as then nothing changed.
    let off = switched_off::lift(&ctx.state_dir)?;
    if steps.is_empty() {
        say!("nothing to write: live state matches the policy");
    } else {
        saved::save(&ctx.state_dir, &live);
        execute(&ctx.root, &steps)?;
        say!("applied {} write(s)", steps.len());
    }
    off.end();
    if let Some(id) = boot_id {
        record_reset(ctx, &id)?;
    }
    notify::set_status(unit_status(policy, &verdict, &want));
    Ok(code)
}

/// A dry run: say that the `off` in force, if any, would end.
fn tell_off_ends(ctx: &Ctx) -> Result<()> {
    if let Some(off) = switched_off::read(&ctx.state_dir)? {
        say!(
            "would end the `dcbm-config off` of {} (remove {})",
            off.since,
            off.file.display()
        );
    }
    Ok(())
}

/// The boot unit's status line after an `apply` that succeeded: whether
/// offload is on, and if not, why.
fn unit_status(policy: &Policy, verdict: &Verdict, want: &Desired) -> String {
    if want.offloading {
        match want.nr_dma_chan {
            Some(n) => format!("offload on: policy applied, {n} DMA channel(s)"),
            None => "offload on: policy applied".to_string(),
        }
    } else if policy.offload.enabled && !verdict.ok() {
        let names: Vec<&str> = verdict.failed.iter().map(|f| f.condition).collect();
        format!(
            "offload off: held off by the policy's condition(s): {}",
            names.join(", ")
        )
    } else {
        "offload off, as the policy wants".to_string()
    }
}

/// `check`: per-attribute comparison; the exit code sums it up. An `off`
/// in force is the administrator's choice, not drift: `offloading` 0 is
/// what it wants (state `off`), and the module is not needed.
pub fn check(ctx: &Ctx, policy: &Policy, strict: bool) -> Result<u8> {
    let off = switched_off::read(&ctx.state_dir)?;
    journal::note(|j| j.switched_off = off.clone());
    let chans = providers::scan(&ctx.root)?;
    let mut verdict = conditions::evaluate(policy, &ctx.root, &chans);
    report_conditions(policy, &verdict);
    let mut want = desired(policy, &verdict);
    say!(
        "providers: {} usable channel(s) of {}{}",
        verdict.usable.len(),
        chans.len(),
        if verdict.usable.is_empty() {
            String::new()
        } else {
            format!(": {}", verdict.usable.join(" "))
        }
    );
    let provider_code = if verdict.provider_missing {
        say!("provider: MISSING");
        Some(exit::PROVIDER_MISSING)
    } else {
        None
    };
    if !module::loaded(&ctx.root) {
        // As `apply` sees it: the module is needed only when offload is to be on.
        if want.offloading && off.is_none() {
            say!(
                "module: MISSING ({} not found)",
                ctx.root.module_dir().display()
            );
            return Ok(exit::MODULE_MISSING);
        }
        if let Some(off) = &off {
            say!("module: not loaded (offload {})", off.describe());
            return Ok(provider_code.unwrap_or(exit::SWITCHED_OFF));
        }
        if policy.offload.enabled {
            say!(
                "module: not loaded (offload held off: {} condition(s) failed)",
                verdict.failed.len()
            );
        } else {
            say!("module: not loaded (offload off, as the policy wants)");
        }
        return Ok(provider_code.unwrap_or(strict_code(policy, &verdict, strict)));
    }
    journal::note(|j| j.module_loaded = true);
    let live = Live::read(&ctx.root)?;
    resolve_reasons(policy, &live, &mut verdict, &mut want)?;
    require_attrs(&live, &want)?;
    say!(
        "module: interface {}, {} layout",
        live.interface,
        live.layout
    );
    let mut drift = 0;
    // `known`: the state when something other than the policy decides it
    // (`fixed` on v5, the administrator's `off`).
    let mut row =
        |attribute: &'static str, l: Option<Val>, w: Option<Val>, known: Option<&'static str>| {
            let state = match (&l, &w, known) {
                (None, None, _) => return,
                (_, _, Some(s)) => s,
                (_, None, _) => "unmanaged",
                (Some(l), Some(w), _) if l == w => "ok",
                _ => "DRIFT",
            };
            if state == "DRIFT" {
                drift += 1;
            }
            let show = |v: &Option<Val>| v.as_ref().map_or("-".to_string(), |v| v.to_string());
            say!(
                "{:<16} {:>12} {:>12}  {state}",
                attribute,
                show(&l),
                show(&w)
            );
            journal::note(|j| {
                j.attributes.push(journal::Row {
                    attribute,
                    live: l,
                    policy: w,
                    state: if state == "DRIFT" { "drift" } else { state },
                })
            });
        };
    say!("{:<16} {:>12} {:>12}  state", "attribute", "live", "policy");
    for a in CONFIG_ATTRS {
        let known = match (a, &off) {
            (Attr::Offloading, Some(_)) if live.offloading => Some("DRIFT"),
            (Attr::Offloading, Some(_)) if want.offloading => Some("off"),
            _ => None,
        };
        row(
            a.name(),
            live.get_opt(a).map(Val::Num),
            want.get(a).map(Val::Num),
            known,
        );
    }
    // Names in the kernel's order on both sides, so equal sets compare equal.
    let canon = |names: &[String]| {
        let v: Vec<String> = live
            .reasons_available
            .iter()
            .filter(|a| names.contains(a))
            .cloned()
            .chain(
                names
                    .iter()
                    .filter(|n| !live.reasons_available.contains(n))
                    .cloned(),
            )
            .collect();
        Val::Text(module::format_reasons(&v))
    };
    let asked = match (&want.reason_mask, &policy.offload.reasons) {
        (Some(w), _) => Some(canon(w)),
        // v5: what the policy asks for, which the module cannot do.
        (None, Some(_)) => crate::reasons::asked(policy, &live).map(|w| canon(&w)),
        (None, None) => None,
    };
    let live_mask = live.reason_mask.as_deref().map(canon);
    // v5 cannot change the mask: the policy's condition fails instead.
    let fixed =
        (live.interface == "v5" && asked.is_some() && live_mask != asked).then_some("fixed");
    row(Attr::ReasonMask.name(), live_mask, asked, fixed);
    if let (Some(off), true) = (&off, live.offloading) {
        say!(
            "offloading is 1 although `dcbm-config off` is in force ({}): \
             `dcbm-config off` switches it off again, `dcbm-config apply` ends the off",
            off.file.display()
        );
    }
    if let Some(c) = provider_code {
        return Ok(c);
    }
    if drift > 0 {
        say!("drift: {drift} attribute(s) differ from the policy");
        return Ok(exit::DRIFT);
    }
    if let Some(off) = &off {
        say!("offload {} ({})", off.describe(), off.file.display());
        return Ok(exit::SWITCHED_OFF);
    }
    say!("in sync");
    Ok(strict_code(policy, &verdict, strict))
}

/// `reset-counters`: zero the non-zero counters.
pub fn reset_counters(ctx: &Ctx) -> Result<u8> {
    let _lock = ctx.lock()?;
    let root = &ctx.root;
    if !module::loaded(root) {
        return Err(coded(
            exit::MODULE_MISSING,
            format!(
                "dcbm module not loaded ({} not found)",
                root.module_dir().display()
            ),
        ));
    }
    let live = Live::read(root)?;
    let steps: Vec<Step> = module::COUNTERS
        .into_iter()
        .filter(|a| live.get(*a) != 0)
        .map(|a| Step::num(a, live.get(a), 0))
        .collect();
    if steps.is_empty() {
        say!("nothing to write: counters are already 0");
        return Ok(exit::OK);
    }
    execute(root, &steps)?;
    Ok(exit::OK)
}

/// `modprobe-conf`: the `options` line for /etc/modprobe.d/dcbm.conf.
///
/// Only load-time defaults that do not depend on the host at apply time are
/// emitted; `offloading` is left to `apply`, which checks the conditions first.
pub fn modprobe_conf(policy: &Policy, policy_path: &Path) -> String {
    let mut opts = Vec::new();
    if let Some(crate::policy::Channels::Fixed(n)) = policy.channels() {
        opts.push(format!("nr_dma_chan={n}"));
    }
    if let Some(t) = policy.offload.timeout_ms {
        opts.push(format!("timeout_ms={}", t.0));
    }
    if let Some(b) = policy.offload.min_batch_bytes {
        opts.push(format!("min_batch_bytes={}", b.0));
    }
    if let Some(b) = policy.offload.min_folio_bytes {
        opts.push(format!("min_folio_bytes={}", b.0));
    }
    let mut s = format!(
        "# Generated by `dcbm-config modprobe-conf` from {}.\n\
         # offloading is switched on by `dcbm-config apply` once the policy's\n\
         # conditions hold.\n",
        policy_path.display()
    );
    if opts.is_empty() {
        s += "# (the policy sets no load-time parameter)\n";
    } else {
        s += &format!("options dcbm {}\n", opts.join(" "));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_err(errno: Errno, attr: &str, value: &str) -> anyhow::Error {
        anyhow::Error::new(sysfs::StoreError::new(
            errno,
            &format!(
                "writing {attr}={value} to /sys/module/dcbm/{attr} failed: {}",
                sysfs::describe_io(&std::io::Error::from_raw_os_error(errno as i32))
            ),
        ))
    }

    #[test]
    fn enodev_on_enable_names_the_missing_channel() {
        let e = explain(
            Attr::Offloading,
            &Val::Num(1),
            store_err(Errno::ENODEV, "offloading", "1"),
        );
        let s = format!("{e:#}");
        assert!(s.contains("writing offloading=1"), "{s}");
        assert!(s.contains("ENODEV"), "{s}");
        assert!(s.contains(NO_CHANNEL), "{s}");
        // Other errnos, and ENODEV on disable, are left as they are.
        let e = explain(
            Attr::Offloading,
            &Val::Num(1),
            store_err(Errno::EBUSY, "offloading", "1"),
        );
        assert!(!format!("{e:#}").contains(NO_CHANNEL));
        let e = explain(
            Attr::Offloading,
            &Val::Num(0),
            store_err(Errno::ENODEV, "offloading", "0"),
        );
        assert!(!format!("{e:#}").contains(NO_CHANNEL));
        let e = explain(
            Attr::TimeoutMs,
            &Val::Num(0),
            store_err(Errno::EINVAL, "timeout_ms", "0"),
        );
        let s = format!("{e:#}");
        assert!(s.contains("EINVAL") && s.contains("out of range"), "{s}");
    }
}
