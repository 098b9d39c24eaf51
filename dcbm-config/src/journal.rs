//! What `apply` and `check` found and did, for `--json` (fleet tooling):
//! filled in as they go, printed as one JSON object when they end, whether
//! they succeed or fail.

use std::sync::Mutex;

use serde::Serialize;

use crate::conditions::Failed;
use crate::plan::Step;

/// One row of `check`: an attribute, live and wanted.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub attribute: &'static str,
    /// `None`: the module lacks the attribute.
    pub live: Option<crate::plan::Val>,
    /// `None`: unmanaged (the policy leaves it to the module).
    pub policy: Option<crate::plan::Val>,
    /// `ok`, `drift`, `unmanaged`, `fixed` (`reason_mask` on v5, which
    /// cannot change it: the policy's condition fails instead), or `off`
    /// (`offloading` 0 while `dcbm-config off` is in force).
    pub state: &'static str,
}

#[derive(Debug, Default, Serialize)]
pub struct Journal {
    /// The policy files read, the masked drop-ins, and where each value set
    /// came from (absent when the policy could not be read).
    pub policy: Option<crate::sources::SourcesJson>,
    pub conditions_failed: Vec<Failed>,
    pub usable_channels: Vec<String>,
    pub provider_missing: bool,
    pub module_loaded: bool,
    /// `apply` ran the modprobe command.
    pub module_loaded_now: bool,
    /// The administrator's `dcbm-config off` in force: `apply --unless-off`
    /// wrote nothing for it; `check` found it.
    pub switched_off: Option<crate::switched_off::SwitchedOff>,
    /// `check`: the attributes compared.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Row>,
    /// `apply`: the writes planned, in order.
    pub plan: Vec<Step>,
    /// `apply`: the writes made (and kept unless rolled back).
    pub written: Vec<Step>,
    /// `apply`: the writes undone after a failure or a signal.
    pub rolled_back: Vec<Step>,
}

static JOURNAL: Mutex<Option<Journal>> = Mutex::new(None);

/// Update the journal.
pub fn note(f: impl FnOnce(&mut Journal)) {
    let mut j = JOURNAL.lock().unwrap_or_else(|p| p.into_inner());
    f(j.get_or_insert_with(Journal::default));
}

/// The journal so far.
pub fn take() -> Journal {
    JOURNAL
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take()
        .unwrap_or_default()
}
