//! Strict reads and single-write() stores of sysfs attributes.
//!
//! A sysfs attribute reads as its value followed by one "\n". Anything else
//! (empty, several lines, stray blanks, signs, non-digits) is an error that
//! names the attribute. Writes open the file `O_WRONLY` without create or
//! truncate and issue one `write()` of the value, as the kernel expects; the
//! errno of a failing store is reported. On a plain file (a fake tree used by
//! the tests) the file is truncated and the value is written followed by
//! "\n", which emulates what sysfs would show afterwards; a FIFO (a store
//! that blocks, in the tests) gets "value\n".

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use nix::errno::Errno;

/// Human form of an I/O error including the errno name: `EINVAL (Invalid argument)`.
pub fn describe_io(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(n) => {
            let errno = Errno::from_raw(n);
            format!("{errno:?} ({})", errno.desc())
        }
        None => e.to_string(),
    }
}

/// A read attribute that does not exist (as opposed to one that cannot be
/// read or holds a malformed value).
#[derive(Debug)]
pub struct Missing(String);

impl std::fmt::Display for Missing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Missing {}

/// Is `err` a `Missing` attribute?
pub fn is_missing(err: &anyhow::Error) -> bool {
    err.downcast_ref::<Missing>().is_some()
}

/// Read attribute `name` at `path`: the value without its trailing newline.
pub fn read_raw(path: &Path, name: &str) -> Result<String> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(Missing(format!(
                "attribute `{name}` is missing ({})",
                path.display()
            ))
            .into())
        }
        Err(e) => bail!(
            "attribute `{name}` is unreadable ({}): {}",
            path.display(),
            describe_io(&e)
        ),
    };
    let s = String::from_utf8(bytes)
        .map_err(|_| anyhow!("attribute `{name}` ({}) is not UTF-8", path.display()))?;
    let v = s.strip_suffix('\n').unwrap_or(&s);
    if v.contains('\n') || v.contains('\0') {
        bail!(
            "attribute `{name}` ({}) has more than one line: {s:?}",
            path.display()
        );
    }
    Ok(v.to_string())
}

/// Strict unsigned decimal: digits only, no sign, no blanks, no leading '+'.
pub fn parse_u64(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

pub fn read_u64(path: &Path, name: &str) -> Result<u64> {
    let s = read_raw(path, name)?;
    parse_u64(&s).ok_or_else(|| {
        anyhow!(
            "attribute `{name}` ({}) is not an unsigned integer: {s:?}",
            path.display()
        )
    })
}

/// A "0"/"1" attribute (or "N"/"Y", as a bool module parameter reads).
pub fn read_bool01(path: &Path, name: &str) -> Result<bool> {
    match read_raw(path, name)?.as_str() {
        "0" | "N" => Ok(false),
        "1" | "Y" => Ok(true),
        other => bail!(
            "attribute `{name}` ({}) is not 0 or 1: {other:?}",
            path.display()
        ),
    }
}

/// Read an optional attribute: `None` when the file does not exist.
pub fn read_optional(path: &Path, name: &str) -> Result<Option<String>> {
    if !path.exists() {
        return Ok(None);
    }
    read_raw(path, name).map(Some)
}

/// True when `f` lives on sysfs.
fn on_sysfs(f: &fs::File) -> bool {
    match nix::sys::statfs::fstatfs(f.as_fd()) {
        Ok(st) => st.filesystem_type() == nix::sys::statfs::SYSFS_MAGIC,
        Err(_) => false,
    }
}

/// A failed store: the message names the attribute, the value and the errno;
/// `errno` lets callers explain what a given errno means for an attribute.
#[derive(Debug)]
pub struct StoreError {
    pub errno: Option<Errno>,
    msg: String,
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for StoreError {}

#[cfg(test)]
impl StoreError {
    pub fn new(errno: Errno, msg: &str) -> StoreError {
        StoreError {
            errno: Some(errno),
            msg: msg.to_string(),
        }
    }
}

/// The errno of a failed store, if `err` is one.
pub fn store_errno(err: &anyhow::Error) -> Option<Errno> {
    err.downcast_ref::<StoreError>().and_then(|e| e.errno)
}

/// Store `value` into attribute `name` at `path`.
pub fn write_value(path: &Path, name: &str, value: &str) -> Result<()> {
    let fail = |e: io::Error| {
        anyhow::Error::new(StoreError {
            errno: e.raw_os_error().map(Errno::from_raw),
            msg: format!(
                "writing {name}={value} to {} failed: {}",
                path.display(),
                describe_io(&e)
            ),
        })
    };
    if !path.exists() {
        bail!("attribute `{name}` is missing ({})", path.display());
    }
    let mut f = OpenOptions::new().write(true).open(path).map_err(fail)?;
    if on_sysfs(&f) {
        // One write() of the value: sysfs stores take the whole buffer at once.
        let n = f.write(value.as_bytes()).map_err(fail)?;
        if n != value.len() {
            return Err(fail(io::Error::new(
                io::ErrorKind::WriteZero,
                format!("short write ({n} of {} bytes)", value.len()),
            )));
        }
    } else if f.metadata().map_err(fail)?.is_file() {
        f.set_len(0).map_err(fail)?;
        f.write_all(format!("{value}\n").as_bytes()).map_err(fail)?;
        f.flush().map_err(fail)?;
    } else {
        // A FIFO standing in for an attribute whose store blocks (tests).
        f.write_all(format!("{value}\n").as_bytes()).map_err(fail)?;
    }
    Ok(())
}

/// Like `fs::read_dir` but with a message naming the directory.
pub fn list_dir(path: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for e in fs::read_dir(path).with_context(|| format!("listing {}", path.display()))? {
        let e = e.with_context(|| format!("listing {}", path.display()))?;
        if let Some(n) = e.file_name().to_str() {
            out.push(n.to_string());
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_numbers() {
        assert_eq!(parse_u64("0"), Some(0));
        assert_eq!(parse_u64("18446744073709551615"), Some(u64::MAX));
        for bad in [
            "",
            " 1",
            "1 ",
            "+1",
            "-1",
            "0x10",
            "1e3",
            "18446744073709551616",
        ] {
            assert_eq!(parse_u64(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn reads_are_strict() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a");
        fs::write(&p, "12\n").unwrap();
        assert_eq!(read_u64(&p, "a").unwrap(), 12);
        fs::write(&p, "12").unwrap();
        assert_eq!(read_u64(&p, "a").unwrap(), 12);
        for bad in ["12\n\n", "1\n2\n", "", "\n", "x\n", " 3\n"] {
            fs::write(&p, bad).unwrap();
            assert!(read_u64(&p, "a").is_err(), "{bad:?}");
        }
        fs::write(&p, "2\n").unwrap();
        let e = read_bool01(&p, "offloading").unwrap_err().to_string();
        assert!(e.contains("`offloading`"), "{e}");
        fs::write(&p, "1\n").unwrap();
        assert!(read_bool01(&p, "offloading").unwrap());
        fs::write(&p, "0\n").unwrap();
        assert!(!read_bool01(&p, "offloading").unwrap());
        let e = read_u64(&d.path().join("gone"), "nr_dma_chan")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`nr_dma_chan` is missing"), "{e}");
    }

    #[test]
    fn fake_writes_replace_the_value() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("timeout_ms");
        fs::write(&p, "10000\n").unwrap();
        write_value(&p, "timeout_ms", "5").unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "5\n");
    }

    #[test]
    fn failing_write_reports_errno() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("offloading");
        fs::create_dir(&p).unwrap();
        let e = write_value(&p, "offloading", "1").unwrap_err().to_string();
        assert!(e.contains("EISDIR"), "{e}");
        assert!(e.contains("offloading=1"), "{e}");
        let err = write_value(&p, "offloading", "1").unwrap_err();
        assert_eq!(store_errno(&err), Some(Errno::EISDIR));
        let e = write_value(&d.path().join("nope"), "nope", "1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("`nope` is missing"), "{e}");
    }
}
