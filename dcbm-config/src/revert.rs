//! The way back: `off` (offload off, channels released) and `revert` (the
//! settings from before the last `apply` or `off` that changed something).
//! Both are idempotent: run again, they have nothing to write.

use anyhow::Result;

use crate::apply::execute;
use crate::ctx::Ctx;
use crate::exit::{self, coded};
use crate::module::{self, Attr, Live};
use crate::plan::{self, Step};
use crate::saved;

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

/// `off`: write offloading=0, which makes the module release its channels.
pub fn off(ctx: &Ctx) -> Result<u8> {
    let _lock = ctx.lock()?;
    if !module::loaded(&ctx.root) {
        say!("dcbm module not loaded: offload is off");
        return Ok(exit::OK);
    }
    let live = Live::read(&ctx.root)?;
    if !live.offloading {
        say!("nothing to write: offload is already off");
        return Ok(exit::OK);
    }
    saved::save(&ctx.state_dir, &live);
    execute(&ctx.root, &[Step::num(Attr::Offloading, 1, 0)])?;
    say!("offload off; `dcbm-config revert` turns it back on, `apply` re-applies the policy");
    Ok(exit::OK)
}

/// `revert`: restore the settings recorded before the last change.
pub fn revert(ctx: &Ctx) -> Result<u8> {
    let _lock = ctx.lock()?;
    let Some(saved) = saved::load(&ctx.state_dir)? else {
        say!(
            "nothing to revert: no apply or off has changed the module ({} is absent)",
            saved::path(&ctx.state_dir).display()
        );
        return Ok(exit::OK);
    };
    let live = require_module(ctx)?;
    let steps = plan::plan(&live, &saved.desired());
    if steps.is_empty() {
        say!("nothing to write: the module has the settings from before the last apply");
        return Ok(exit::OK);
    }
    execute(&ctx.root, &steps)?;
    say!("reverted {} setting(s)", steps.len());
    Ok(exit::OK)
}
