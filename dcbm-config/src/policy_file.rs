//! Reading a policy file safely: only a regular file (a FIFO or a device
//! would block or never end), of a sane size, and, when running as root,
//! only one that nobody but root can change.

use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

use anyhow::Result;

use crate::exit::{self, coded};
use crate::policy::{line_col, PolicyError};

/// Policies are a few hundred bytes; anything this large is a mistake.
pub const MAX_BYTES: u64 = 1 << 20;

fn refuse(path: &Path, msg: String) -> anyhow::Error {
    coded(exit::BAD_POLICY, format!("{}: {msg}", path.display()))
}

/// Refuse `meta` (of `what`) unless root owns it and neither group nor
/// others may write it.
fn check_owner(path: &Path, what: &str, meta: &std::fs::Metadata) -> Result<()> {
    if meta.uid() != 0 {
        return Err(refuse(
            path,
            format!(
                "refusing a policy whose {what} is owned by uid {} (must be owned by root)",
                meta.uid()
            ),
        ));
    }
    if meta.mode() & 0o022 != 0 {
        return Err(refuse(
            path,
            format!(
                "refusing a policy whose {what} is group- or world-writable (mode {:o}); \
                 run: chmod go-w",
                meta.mode() & 0o7777
            ),
        ));
    }
    Ok(())
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
    if enforce_owner || nix::unistd::geteuid().is_root() {
        check_owner(path, "file", &meta)?;
        let real = std::fs::canonicalize(path)
            .map_err(|e| refuse(path, format!("cannot resolve policy path: {e}")))?;
        if let Some(dir) = real.parent() {
            let dm = std::fs::metadata(dir)
                .map_err(|e| refuse(path, format!("cannot stat {}: {e}", dir.display())))?;
            check_owner(path, &format!("directory {}", dir.display()), &dm)?;
        }
    }
    let mut bytes = Vec::new();
    f.take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| refuse(path, format!("cannot read policy: {e}")))?;
    String::from_utf8(bytes).map_err(|e| {
        let good = e.utf8_error().valid_up_to();
        let prefix = String::from_utf8_lossy(&e.as_bytes()[..good]).into_owned();
        let (line, column) = line_col(&prefix, good);
        PolicyError {
            file: path.to_path_buf(),
            line,
            column,
            message: "invalid UTF-8 (a policy is UTF-8 text)".to_string(),
        }
        .into()
    })
}
