//! `--output FILE` and the state files: replace a file atomically, safely in
//! a directory others can write to (node_exporter's textfile directory often
//! is).
//!
//! The content goes to a temporary file with an unpredictable name, created
//! exclusively (O_EXCL) in the target's directory, so a symlink planted there
//! is never followed; it is then renamed over the target, which replaces a
//! symlink at the target itself rather than writing through it.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{Context, Result};

/// Write `content` to `path` (mode 0644) via an exclusive temporary file.
pub fn replace(path: &Path, content: &str) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .with_context(|| format!("{}: not a file name", path.display()))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{}.", name.to_string_lossy()))
        .suffix(".tmp")
        .permissions(std::fs::Permissions::from_mode(0o644))
        .tempfile_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    tmp.write_all(content.as_bytes())
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("writing {}", tmp.path().display()))?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("renaming into {}", path.display()))?;
    Ok(())
}
