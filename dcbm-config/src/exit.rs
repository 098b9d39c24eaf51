//! Exit codes, in one place. Documented in README.md and the man page.

use std::fmt;

pub const OK: u8 = 0;
/// Unexpected failure (I/O error, unreadable sysfs value, ...).
pub const ERROR: u8 = 1;
/// Command-line usage error (clap's own code).
pub const USAGE: u8 = 2;
/// The policy is unreadable, malformed, out of range, or unsafe (ownership/mode).
pub const BAD_POLICY: u8 = 3;
/// `check`: the live state differs from the policy.
pub const DRIFT: u8 = 4;
/// No usable DMA memcpy provider while the policy needs one.
pub const PROVIDER_MISSING: u8 = 5;
/// The dcbm module is not loaded, failed to load, or lacks an attribute.
pub const MODULE_MISSING: u8 = 6;
/// `apply`: a write failed; everything already changed was restored.
pub const WRITE_FAILED: u8 = 7;
/// `apply`: a write failed and restoring the earlier writes failed too.
pub const ROLLBACK_FAILED: u8 = 8;
/// `apply --strict`/`check --strict`: a condition other than the provider failed.
pub const CONDITIONS_UNMET: u8 = 9;
/// Another dcbm-config held the lock for longer than `--lock-timeout-ms`.
pub const BUSY: u8 = 10;
/// `apply`: no dcbm module exists for the running kernel (`modprobe` did
/// not find it: DKMS skipped the kernel or has not built for it). Not a
/// fault of the host: dcbm-config.service counts it as success
/// (`SuccessExitStatus=`) and says why in its status line.
pub const MODULE_NOT_BUILT: u8 = 11;
/// `check`: offload is off because the administrator ran `dcbm-config off`
/// (`<state-dir>/off`), which dcbm-config.service and the udev rule leave
/// in force until `dcbm-config apply`: not in sync with the policy, by
/// choice (drift in the other knobs is still 4).
pub const SWITCHED_OFF: u8 = 12;

/// Every exit status with its meaning, for `--help` and the man page.
pub const STATUSES: [(&str, &str); 14] = [
    ("0", "success / in sync (also: offload held off by a failed condition, without --strict)"),
    (
        "1",
        "unexpected error (I/O, unreadable or malformed sysfs value in any command, lost output of a command whose product is its output)",
    ),
    ("2", "command-line usage error"),
    (
        "3",
        "bad policy: unreadable, syntax, unknown key, wrong type, out of range, unsafe owner/mode",
    ),
    ("4", "drift (check): live state differs from the policy"),
    (
        "5",
        "provider missing: no usable DMA memcpy channel while the policy needs one (check; apply --strict)",
    ),
    (
        "6",
        "module missing: not loaded, modprobe failed or timed out, sysfs files did not appear, or an attribute is missing",
    ),
    ("7", "a write failed; the earlier writes were rolled back"),
    ("8", "a write failed or a signal came, and the rollback failed too"),
    ("9", "a condition other than the provider failed (--strict only)"),
    ("10", "another dcbm-config held the lock for longer than --lock-timeout-ms; nothing written"),
    (
        "11",
        "no dcbm module for the running kernel: modprobe did not find it (DKMS skipped this kernel or has not built for it; apply only); dcbm-config.service counts it as success",
    ),
    (
        "12",
        "switched off by dcbm-config off, kept off until dcbm-config apply or a reboot (check): the policy is not in effect, by the administrator's choice",
    ),
    (
        "128+N",
        "interrupted by signal N (130 SIGINT, 143 SIGTERM, 129 SIGHUP); the writes made were rolled back",
    ),
];

/// The table at the end of `--help`.
pub fn help_table() -> String {
    let rows = STATUSES
        .iter()
        .map(|(code, meaning)| format!("{code:>3}  {meaning}"));
    std::iter::once("EXIT STATUS:".to_string())
        .chain(rows)
        .collect::<Vec<_>>()
        .join("\n")
}

/// An error carrying the process exit code it maps to.
#[derive(Debug)]
pub struct Coded {
    pub code: u8,
    pub message: String,
}

impl fmt::Display for Coded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Coded {}

pub fn coded(code: u8, message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Coded {
        code,
        message: message.into(),
    })
}

/// Exit code for an error: that of the first `Coded` in its chain.
pub fn code_of(err: &anyhow::Error) -> u8 {
    err.chain()
        .find_map(|cause| cause.downcast_ref::<Coded>())
        .map_or(ERROR, |c| c.code)
}
