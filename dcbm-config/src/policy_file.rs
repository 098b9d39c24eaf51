//! Reading a policy file safely: only a regular file (a FIFO or a device
//! would block or never end), of a sane size, and, when running as root,
//! only one that nobody but root can change, in a directory likewise.

use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use anyhow::Result;

use crate::exit::{self, coded};
use crate::policy_error::PolicyError;

/// Policies are a few hundred bytes; anything this large is a mistake.
pub const MAX_BYTES: u64 = 1 << 20;

fn refuse(path: &Path, msg: String) -> anyhow::Error {
    coded(exit::BAD_POLICY, format!("{}: {msg}", path.display()))
}

/// Why `meta` is refused, if it is: root must own it, and neither group nor
/// others may write it. `subject` names it: "a policy whose file", ...
fn owner_problem(subject: &str, meta: &std::fs::Metadata) -> Option<String> {
    if meta.uid() != 0 {
        return Some(format!(
            "refusing {subject} is owned by uid {} (must be owned by root)",
            meta.uid()
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Some(format!(
            "refusing {subject} is group- or world-writable (mode {:o}); run: chmod go-w",
            meta.mode() & 0o7777
        ));
    }
    None
}

/// Are ownership and mode checked? As root, where a file others can change
/// would steer a root process; otherwise only when asked, as a run that is
/// not root can do no more than its user could by hand.
fn checks_owner(enforce_owner: bool) -> bool {
    enforce_owner || nix::unistd::geteuid().is_root()
}

/// A drop-in directory, when ownership is checked: owned by root and not
/// writable by group or others, even when no file in it is read, since
/// whoever can write it can mask a drop-in (a link to /dev/null) or link in
/// another file. One that does not exist holds no drop-in and passes.
pub fn check_dropin_dir(dir: &Path, enforce_owner: bool) -> Result<()> {
    if !checks_owner(enforce_owner) {
        return Ok(());
    }
    let meta = match std::fs::metadata(dir) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(refuse(dir, format!("cannot stat drop-in directory: {e}"))),
    };
    let subject = format!("a policy whose directory {}", dir.display());
    match owner_problem(&subject, &meta) {
        Some(problem) => Err(coded(exit::BAD_POLICY, problem)),
        None => Ok(()),
    }
}

/// The text of the policy file at `path`.
///
/// When running as root (or when `enforce_owner` is set), the file and the
/// directory holding it must be owned by root and not writable by group or
/// others: whoever can change them could otherwise steer a root process.
/// The file's ownership and mode are taken from the opened file (fstat), so
/// a swapped symlink cannot race the check.
pub fn read(path: &Path, enforce_owner: bool) -> Result<String> {
    // O_NONBLOCK: opening a FIFO must not wait for a writer.
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NONBLOCK | nix::libc::O_NOCTTY)
        .open(path)
        .map_err(|e| refuse(path, format!("cannot open policy: {e}")))?;
    let meta = f
        .metadata()
        .map_err(|e| refuse(path, format!("cannot stat policy: {e}")))?;
    if !meta.is_file() {
        return Err(refuse(path, "policy is not a regular file".to_string()));
    }
    if meta.len() > MAX_BYTES {
        return Err(refuse(
            path,
            format!(
                "policy is {} bytes, more than the {MAX_BYTES} a policy may have",
                meta.len()
            ),
        ));
    }
    if checks_owner(enforce_owner) {
        if let Some(problem) = owner_problem("a policy whose file", &meta) {
            return Err(refuse(path, problem));
        }
        let real = std::fs::canonicalize(path)
            .map_err(|e| refuse(path, format!("cannot resolve policy path: {e}")))?;
        if let Some(dir) = real.parent() {
            let dm = std::fs::metadata(dir)
                .map_err(|e| refuse(path, format!("cannot stat {}: {e}", dir.display())))?;
            let subject = format!("a policy whose directory {}", dir.display());
            if let Some(problem) = owner_problem(&subject, &dm) {
                return Err(refuse(path, problem));
            }
        }
    }
    let mut bytes = Vec::new();
    f.take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| refuse(path, format!("cannot read policy: {e}")))?;
    String::from_utf8(bytes).map_err(|e| {
        let good = e.utf8_error().valid_up_to();
        let prefix = String::from_utf8_lossy(&e.as_bytes()[..good]).into_owned();
        let message = "invalid UTF-8 (a policy is UTF-8 text)".to_string();
        PolicyError::at(&prefix, path, good, message).into()
    })
}
