//! Where a policy's values come from: the main file and the drop-ins.
//!
//! The policy is `/etc/dcbm.toml` followed by the drop-ins, `*.toml` files of
//! `/etc/dcbm.d/` and `/usr/lib/dcbm.d/` taken together and sorted by file
//! name, as sysctl.d does it: a file name in an earlier directory (`/etc`)
//! masks the same name in a later one (`/usr/lib`), and a later file
//! overrides an earlier one key by key. Every file is read and validated on
//! its own, like the main file, so an error names the file it is in.
//!
//! Not liboverdrop, whose `scan` returns only the files chosen: it cannot
//! tell what was masked and by what (`masked`, shown by `validate` and in
//! `--json`); it masks only by a link whose text is `/dev/null` (not a
//! relative one, nor a link to such a link) and never by an empty file; it
//! skips without a word a drop-in that is a link to a regular file (it does
//! not follow links) or is not a regular file (a FIFO, which is refused
//! here), and a directory it cannot list.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::Serialize;
use toml::de::{DeTable, DeValue};

use crate::exit::{self, coded};
use crate::policy_error::{line_col, PolicyError};
use crate::policy_messages::shorten;

/// The default drop-in directories, highest priority first.
pub const DROPIN_DIRS: [&str; 2] = ["/etc/dcbm.d", "/usr/lib/dcbm.d"];

/// Where a key (`offload.channels`) or an array element
/// (`offload.reasons[1]`) was set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Origin {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    /// The value as written (blanks collapsed, long values shortened).
    pub value: String,
}

impl Origin {
    /// `file:line`.
    pub fn at(&self) -> String {
        format!("{}:{}", self.file.display(), self.line)
    }

    /// An error located at this key.
    pub fn error(&self, message: String) -> PolicyError {
        PolicyError {
            file: self.file.clone(),
            line: self.line,
            column: self.column,
            message,
        }
    }
}

/// A drop-in not read because it masks (systemd's rule: it resolves to
/// `/dev/null` or is empty) or another file of the same name masks it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Masked {
    pub file: PathBuf,
    /// The file that masks it: `/dev/null` for a drop-in linked there, the
    /// file itself for an empty drop-in.
    pub by: PathBuf,
}

impl Masked {
    /// An empty drop-in: masks the same name, sets nothing.
    pub fn empty(file: PathBuf) -> Masked {
        Masked {
            by: file.clone(),
            file,
        }
    }

    fn describe(&self) -> String {
        if self.by == self.file {
            "empty file".to_string()
        } else {
            format!("by {}", self.by.display())
        }
    }
}

/// Does `path` resolve to `/dev/null` (systemd's `null_or_empty_path()`:
/// any link text, relative or with `..`, and links to links)? Only
/// `/dev/null` itself counts, by device number: systemd takes any
/// character device as empty, but a link to `/dev/zero` or a tty is more
/// likely a mistake than a mask, and is refused when read instead.
fn resolves_to_dev_null(path: &Path) -> bool {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    match (fs::metadata(path), fs::metadata("/dev/null")) {
        (Ok(m), Ok(null)) => m.file_type().is_char_device() && m.rdev() == null.rdev(),
        _ => false,
    }
}

/// The files of a policy, in the order they were merged, and where each
/// key set in them came from.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    pub files: Vec<PathBuf>,
    pub masked: Vec<Masked>,
    /// Key (`table.key`, and `table.key[i]` for array elements) → origin of
    /// the value in effect.
    pub keys: BTreeMap<String, Origin>,
}

impl Sources {
    /// The keys set in `src` (a policy already parsed without error).
    pub fn of_file(src: &str, file: &Path) -> Sources {
        let mut keys = BTreeMap::new();
        let origin = |span: std::ops::Range<usize>, value: &str| {
            let (line, column) = line_col(src, span.start);
            Origin {
                file: file.to_path_buf(),
                line,
                column,
                value: shorten(value),
            }
        };
        if let Ok(doc) = DeTable::parse(src) {
            for (table, v) in doc.get_ref().iter() {
                let DeValue::Table(t) = v.get_ref() else {
                    continue;
                };
                for (k, v) in t.iter() {
                    let name = format!("{}.{}", table.get_ref(), k.get_ref());
                    let text = src.get(v.span()).unwrap_or("");
                    keys.insert(name.clone(), origin(k.span(), text));
                    if let DeValue::Array(items) = v.get_ref() {
                        for (i, item) in items.iter().enumerate() {
                            let text = src.get(item.span()).unwrap_or("");
                            keys.insert(format!("{name}[{i}]"), origin(item.span(), text));
                        }
                    }
                }
            }
        }
        Sources {
            files: vec![file.to_path_buf()],
            masked: Vec::new(),
            keys,
        }
    }

    /// Take from `later` (the sources of a drop-in read after these) every
    /// key it sets, with its array elements, and its file.
    pub fn overlay(&mut self, later: Sources) {
        for (key, _) in later.set_keys() {
            let prefix = format!("{key}[");
            self.keys.retain(|k, _| k != key && !k.starts_with(&prefix));
        }
        self.keys.extend(later.keys);
        self.files.extend(later.files);
    }

    /// Origin of `key` (`offload.channels`), if a file set it.
    pub fn get(&self, key: &str) -> Option<&Origin> {
        self.keys.get(key)
    }

    /// The keys set (not their array elements), with their origins.
    pub fn set_keys(&self) -> impl Iterator<Item = (&String, &Origin)> {
        self.keys.iter().filter(|(k, _)| !k.contains('['))
    }

    /// Lines for `validate` and `apply --dry-run`: the files in order, the
    /// masked ones, and every value set with the file and line it came from.
    pub fn render(&self) -> String {
        let mut o = String::from("policy files, in order (later ones override earlier ones):\n");
        for f in &self.files {
            o += &format!("  {}\n", f.display());
        }
        for m in &self.masked {
            o += &format!("  masked: {} ({})\n", m.file.display(), m.describe());
        }
        o += "values set (every other key has its default):\n";
        let width = self
            .set_keys()
            .map(|(k, o)| k.len() + o.value.len() + 3)
            .max()
            .unwrap_or(0);
        for (k, origin) in self.set_keys() {
            let kv = format!("{k} = {}", origin.value);
            o += &format!("  {kv:<width$}  {}\n", origin.at());
        }
        o
    }
}

/// One key of the policy, for `--json`: its value and where it was set.
#[derive(Debug, Clone, Serialize)]
pub struct KeyOrigin {
    pub key: String,
    pub value: String,
    pub file: PathBuf,
    pub line: usize,
}

/// The policy's sources, for `--json`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SourcesJson {
    pub files: Vec<PathBuf>,
    pub masked: Vec<Masked>,
    pub values: Vec<KeyOrigin>,
}

impl From<&Sources> for SourcesJson {
    fn from(s: &Sources) -> SourcesJson {
        SourcesJson {
            files: s.files.clone(),
            masked: s.masked.clone(),
            values: s
                .set_keys()
                .map(|(k, o)| KeyOrigin {
                    key: k.clone(),
                    value: o.value.clone(),
                    file: o.file.clone(),
                    line: o.line,
                })
                .collect(),
        }
    }
}

/// The drop-ins of `dirs` (highest priority first): `*.toml` files not
/// starting with a dot, sorted by file name across the directories; a name
/// in an earlier directory masks the same name in later ones. A drop-in that
/// resolves to `/dev/null` masks and is skipped (an empty one masks too, found
/// when it is read: see `policy_load`). A directory that does not exist is
/// skipped.
pub fn find_dropins(dirs: &[PathBuf]) -> Result<(Vec<PathBuf>, Vec<Masked>)> {
    let mut chosen: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut masked = Vec::new();
    for dir in dirs {
        let entries = match fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(coded(
                    exit::BAD_POLICY,
                    format!("cannot list drop-in directory {}: {e}", dir.display()),
                ))
            }
        };
        let mut names = Vec::new();
        for e in entries {
            let e = e.map_err(|e| {
                coded(
                    exit::BAD_POLICY,
                    format!("cannot list drop-in directory {}: {e}", dir.display()),
                )
            })?;
            let Ok(name) = e.file_name().into_string() else {
                continue;
            };
            if name.ends_with(".toml") && !name.starts_with('.') {
                names.push(name);
            }
        }
        names.sort();
        for name in names {
            let path = dir.join(&name);
            match chosen.get(&name) {
                Some(by) => masked.push(Masked {
                    file: path,
                    by: by.clone(),
                }),
                None => {
                    chosen.insert(name, path);
                }
            }
        }
    }
    let mut files = Vec::new();
    for path in chosen.into_values() {
        if resolves_to_dev_null(&path) {
            masked.push(Masked {
                file: path,
                by: PathBuf::from("/dev/null"),
            });
        } else {
            files.push(path);
        }
    }
    Ok((files, masked))
}
