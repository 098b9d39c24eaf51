//! The way back: `off` (offload off, channels released) and `revert` (the
//! settings from before the last `apply` or `off` that changed something).
//! Both are idempotent: run again, they have nothing to write. `off` stays
//! in force until `apply` or `revert` (see `switched_off`).

use anyhow::Result;

use crate::apply::execute;
use crate::ctx::Ctx;
use crate::exit::{self, coded};
use crate::module::{self, Attr, Live};
use crate::plan::{self, Step};
use crate::saved;
use crate::switched_off;

fn require_module(ctx: &Ctx) -> Result<Live> {
    if !module::loaded(&ctx.root) {
        return Err(coded(
            exit::MODULE_MISSING,
            format!(
                "dcbm module not loaded ({} not found)",
                ctx.root.module_dir().display()
            ),
        ));
    }
    Live::read(&ctx.root)
}

/// `off`: write offloading=0, which makes the module release its
/// channels, and record the `off` (`switched_off`) so that no re-run of the
/// unit switches offload on again before `apply`, `revert` or a reboot.
/// Recorded first (no re-run can come between, they wait for the lock),
/// and removed again when the command fails.
pub fn off(ctx: &Ctx) -> Result<u8> {
    let _lock = ctx.lock()?;
    let record = switched_off::record(&ctx.state_dir)?;
    if !module::loaded(&ctx.root) {
        say!("dcbm module not loaded: offload is off");
        kept_off(record);
        return Ok(exit::OK);
    }
    let live = Live::read(&ctx.root)?;
    if !live.offloading {
        say!("nothing to write: offload is already off");
        kept_off(record);
        return Ok(exit::OK);
    }
    saved::save(&ctx.state_dir, &live);
    execute(&ctx.root, &[Step::num(Attr::Offloading, 1, 0)])?;
    say!("offload off; `dcbm-config revert` turns it back on, `apply` re-applies the policy");
    kept_off(record);
    Ok(exit::OK)
}

/// `off` succeeded: say until when offload stays off.
fn kept_off(record: switched_off::Change) {
    let since = if record.existed {
        record.off.as_ref().map(|o| format!(" (since {})", o.since))
    } else {
        None
    };
    if let Some(off) = record.keep() {
        say!(
            "kept off{} until `dcbm-config apply`, `revert` or a reboot: \
             dcbm-config.service and the udev rule leave it off ({})",
            since.unwrap_or_default(),
            off.file.display()
        );
    }
}

/// `revert`: restore the settings recorded before the last change, and
/// end an `off` in force: the administrator takes the module back, and
/// the unit's re-runs follow the policy again.
pub fn revert(ctx: &Ctx) -> Result<u8> {
    let _lock = ctx.lock()?;
    let Some(saved) = saved::load(&ctx.state_dir)? else {
        say!(
            "nothing to revert: no apply or off has changed the module ({} is absent)",
            saved::path(&ctx.state_dir).display()
        );
        switched_off::lift(&ctx.state_dir)?.end();
        return Ok(exit::OK);
    };
    let live = require_module(ctx)?;
    let steps = plan::plan(&live, &saved.desired());
    // Put back if the writes are rolled back.
    let off = switched_off::lift(&ctx.state_dir)?;
    if steps.is_empty() {
        say!("nothing to write: the module has the settings from before the last apply");
    } else {
        execute(&ctx.root, &steps)?;
        say!("reverted {} setting(s)", steps.len());
    }
    off.end();
    Ok(exit::OK)
}
