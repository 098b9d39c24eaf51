//! The administrator's `dcbm-config off`, kept in `<state-dir>/off` until
//! `apply` or `revert` (or a reboot: the state directory is in /run).
//!
//! dcbm-config.service runs `apply --unless-off`, and udev re-runs that
//! unit whenever a DMA channel or the dcbm module is added: without a
//! record of the `off`, the first such event would switch offload on
//! again. While the file exists, `apply --unless-off` writes nothing.
//!
//! The file's existence is what counts; its first line (`off since
//! <time>`) only says when, for the status line and `check` (a file
//! created by hand counts too, with its mtime as the time).

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::atomic_file;
use crate::journal;
use crate::notify;

pub const FILE: &str = "off";

/// Where `lift` keeps the file until the command has succeeded.
const ASIDE: &str = ".off.ending";

/// How the file's first line starts; the time follows.
const SINCE: &str = "off since ";

/// An `off` in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SwitchedOff {
    /// When `off` switched offload off (UTC).
    pub since: String,
    /// The marker file.
    pub file: PathBuf,
}

impl SwitchedOff {
    /// `switched off by ... at T; ... turns it on`: for the status line,
    /// `check` and `apply --unless-off`.
    pub fn describe(&self) -> String {
        format!(
            "switched off by `dcbm-config off` at {}; `dcbm-config apply` turns it on",
            self.since
        )
    }
}

pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(FILE)
}

/// The `off` in force, if any.
pub fn read(state_dir: &Path) -> Result<Option<SwitchedOff>> {
    let file = path(state_dir);
    let bytes = match fs::read(&file) {
        Ok(b) => b,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", file.display())),
    };
    let text = String::from_utf8_lossy(&bytes);
    let since = text
        .lines()
        .next()
        .and_then(|l| l.strip_prefix(SINCE))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .or_else(|| fs::metadata(&file).and_then(|m| m.modified()).ok().map(utc))
        .unwrap_or_else(|| "an unknown time".to_string());
    Ok(Some(SwitchedOff { since, file }))
}

fn content(since: &str) -> String {
    format!(
        "{SINCE}{since}\n\
         # Written by `dcbm-config off`. While this file exists, dcbm-config.service\n\
         # (`dcbm-config apply --unless-off`, re-run by udev when a DMA channel or\n\
         # the dcbm module is added) writes nothing: offload stays off whatever the\n\
         # policy says. `dcbm-config apply` (or `revert`) removes it; a reboot\n\
         # forgets it. To keep dcbm off across reboots:\n\
         # systemctl disable dcbm-config.service\n"
    )
}

/// What to put back when a command fails.
enum Undo {
    Nothing,
    /// `record`: remove the new file.
    Remove,
    /// `lift`: rename the file set aside back (a rename, unlike a rewrite,
    /// cannot fail for want of space).
    PutBack(PathBuf),
}

/// A change of the marker, undone when dropped unless `keep` is called:
/// a command that fails leaves the marker as it found it.
#[must_use = "dropping the change undoes it"]
pub struct Change {
    file: PathBuf,
    undo: Undo,
    /// `record`: the `off` now in force. `lift`: the `off` that ends.
    pub off: Option<SwitchedOff>,
    /// `record`: there was already an `off` in force (kept as it was).
    pub existed: bool,
}

impl Change {
    /// The command succeeded: the change stays. Returns `off`.
    pub fn keep(mut self) -> Option<SwitchedOff> {
        if let Undo::PutBack(aside) = std::mem::replace(&mut self.undo, Undo::Nothing) {
            // Left over, it would only be replaced by the next `lift`.
            let _ = fs::remove_file(aside);
        }
        self.off.take()
    }

    /// `lift`, and the command (`apply`, `revert`) succeeded: the `off`
    /// lifted, if any, has ended; say so.
    pub fn end(self) {
        if let Some(off) = self.keep() {
            say!(
                "ended the `dcbm-config off` of {}: removed {}",
                off.since,
                off.file.display()
            );
        }
    }
}

impl Drop for Change {
    fn drop(&mut self) {
        let undone = match std::mem::replace(&mut self.undo, Undo::Nothing) {
            Undo::Nothing => return,
            Undo::Remove => fs::remove_file(&self.file),
            Undo::PutBack(aside) => fs::rename(aside, &self.file),
        };
        if let Err(e) = undone {
            tell!(
                "warning: cannot put {} back as it was: {e:#}",
                self.file.display()
            );
        }
    }
}

/// `off`: record the administrator's `off` (atomically, replacing no
/// earlier one: the time of the first `off` stays).
pub fn record(state_dir: &Path) -> Result<Change> {
    let file = path(state_dir);
    if let Some(off) = read(state_dir)? {
        return Ok(Change {
            file,
            undo: Undo::Nothing,
            off: Some(off),
            existed: true,
        });
    }
    let since = utc(SystemTime::now());
    fs::create_dir_all(state_dir).with_context(|| format!("creating {}", state_dir.display()))?;
    atomic_file::replace(&file, &content(&since))?;
    Ok(Change {
        off: Some(SwitchedOff {
            since,
            file: file.clone(),
        }),
        file,
        undo: Undo::Remove,
        existed: false,
    })
}

/// `apply`, `revert`: end the `off` in force, if any (put back unless
/// the change is kept). The file is renamed aside until then.
pub fn lift(state_dir: &Path) -> Result<Change> {
    let file = path(state_dir);
    let Some(off) = read(state_dir)? else {
        return Ok(Change {
            file,
            undo: Undo::Nothing,
            off: None,
            existed: false,
        });
    };
    let aside = state_dir.join(ASIDE);
    fs::rename(&file, &aside).with_context(|| format!("removing {}", file.display()))?;
    Ok(Change {
        file,
        undo: Undo::PutBack(aside),
        off: Some(off),
        existed: true,
    })
}

/// `apply --unless-off` while `off` is in force: say so (text, `--json`,
/// the unit's status line); nothing is written.
pub fn hold(off: &SwitchedOff, dry_run: bool) {
    say!(
        "nothing to write: offload {} ({})",
        off.describe(),
        off.file.display()
    );
    journal::note(|j| j.switched_off = Some(off.clone()));
    if !dry_run {
        notify::set_status(format!("offload off: {}", off.describe()));
    }
}

/// `2026-12-06 19:23:59 UTC`.
fn utc(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, s) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}

/// The Gregorian date of day `z` after 1970-01-01 (H. Hinnant's
/// `civil_from_days`): no date crate for one timestamp.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = (if mp < 10 { mp + 3 } else { mp - 9 }) as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn utc_formats_dates_across_leap_years() {
        let at = |s: u64| utc(UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(at(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(at(951_868_800), "2000-03-01 00:00:00 UTC");
        assert_eq!(at(1_709_164_800), "2024-02-29 00:00:00 UTC");
        assert_eq!(at(4_102_444_799), "2099-12-31 23:59:59 UTC");
    }

    #[test]
    fn record_keeps_the_first_off_and_lift_is_undone_unless_kept() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        assert_eq!(read(&state).unwrap(), None);
        let first = record(&state).unwrap();
        assert!(!first.existed);
        first.keep();
        let text = fs::read_to_string(path(&state)).unwrap();
        assert!(text.starts_with(SINCE), "{text}");
        let off = read(&state).unwrap().unwrap();
        assert!(off.since.ends_with(" UTC"), "{off:?}");
        // A second `off` keeps the first.
        let again = record(&state).unwrap();
        assert!(again.existed);
        drop(again);
        assert_eq!(fs::read_to_string(path(&state)).unwrap(), text);
        // A lift that is not kept puts the file back; a kept one removes it.
        drop(lift(&state).unwrap());
        assert_eq!(fs::read_to_string(path(&state)).unwrap(), text);
        let l = lift(&state).unwrap();
        assert_eq!(l.off.as_ref(), Some(&off));
        l.keep();
        assert_eq!(read(&state).unwrap(), None);
        // A record that is not kept leaves no file.
        drop(record(&state).unwrap());
        assert_eq!(read(&state).unwrap(), None);
    }

    #[test]
    fn a_file_made_by_hand_counts_with_its_mtime() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(path(dir.path()), "").unwrap();
        let off = read(dir.path()).unwrap().unwrap();
        assert!(off.since.ends_with(" UTC"), "{off:?}");
    }
}
