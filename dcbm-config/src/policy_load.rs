//! Loading the policy: the main file, then the drop-ins (see `sources`),
//! each read and validated on its own so that an error is located in the
//! file it is in; then laid over one another as TOML tables, key by key (a
//! table merges into a table, any other value, a list too, replaces), and
//! deserialized once. A drop-in can thus set any key of the schema, with no
//! list of keys to keep up to date.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Result};
use serde::Deserialize;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use crate::policy::Policy;
use crate::policy_file;
use crate::sources::{find_dropins, Masked};

/// The policy: the main file `path`, then the drop-ins of `dropin_dirs`
/// (highest priority first; see `sources`).
pub fn load(path: &Path, dropin_dirs: &[PathBuf], enforce_owner: bool) -> Result<Policy> {
    let src = policy_file::read(path, enforce_owner)?;
    let mut sources = Policy::parse(&src, path)?.sources;
    let mut texts = vec![src];
    for dir in dropin_dirs {
        policy_file::check_dropin_dir(dir, enforce_owner)?;
    }
    let (files, masked) = find_dropins(dropin_dirs)?;
    sources.masked = masked;
    for f in files {
        let src = policy_file::read(&f, enforce_owner)?;
        // Empty masks, as in systemd; known only once read, so that an
        // empty drop-in passes the same ownership checks as any other.
        if src.is_empty() {
            sources.masked.push(Masked::empty(f));
            continue;
        }
        sources.overlay(Policy::parse(&src, &f)?.sources);
        texts.push(src);
    }
    let mut policy = merge(&texts)?;
    policy.sources = sources;
    policy.check_merged()?;
    Ok(policy)
}

/// The policy that `texts`, each a valid policy, make in this order.
fn merge(texts: &[String]) -> Result<Policy> {
    let mut merged = DeTable::new();
    for src in texts {
        let doc = DeTable::parse(src).map_err(|e| anyhow!("merging the policy files: {e}"))?;
        lay_over(&mut merged, doc.into_inner());
    }
    // Each value keeps the span it has in its own file: only the checks of
    // a file alone (`Policy::parse`) look at spans.
    Policy::deserialize(toml::de::Deserializer::from(Spanned::new(0..0, merged)))
        .map_err(|e| anyhow!("merging the policy files: {}", e.message()))
}

/// Set in `base` every key of `later`: a table into a table key by key,
/// any other value in place of what `base` has.
fn lay_over<'a>(base: &mut DeTable<'a>, later: DeTable<'a>) {
    for (key, value) in later {
        match base.get_mut(key.get_ref().as_ref()).map(Spanned::get_mut) {
            Some(DeValue::Table(into)) if value.get_ref().is_table() => {
                if let DeValue::Table(t) = value.into_inner() {
                    lay_over(into, t);
                }
            }
            _ => {
                base.insert(key, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn merged(texts: &[&str]) -> Policy {
        merge(&texts.iter().map(|t| t.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn later_files_override_key_by_key_and_lists_replace_lists() {
        let p = merged(&[
            "[offload]\nenabled = true\nchannels = 4\n[conditions]\ndrivers = [\"a\", \"b\"]\n",
            "offload.timeout_ms = 5\nconditions = { drivers = [\"c\"] }\n",
            "[offload]\nchannels = \"auto\"\n",
        ]);
        assert!(p.offload.enabled);
        assert_eq!(p.channels(), Some(crate::policy::Channels::Auto));
        assert_eq!(p.offload.timeout_ms.map(|t| t.0), Some(5));
        let drivers: Vec<&str> = p.conditions.drivers.iter().map(|d| d.0.as_str()).collect();
        assert_eq!(drivers, ["c"]);
    }
}
