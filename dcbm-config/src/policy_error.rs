//! A policy error located in its file (`file:line:column: message`), and
//! how a byte offset becomes a line and a column.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::exit;

/// A policy error located in its file.
///
/// Not a `std::error::Error`: it becomes an `anyhow::Error` only through
/// the `From` below, which gives it exit code 3 wherever `?` takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl PolicyError {
    /// An error at byte offset `pos` of `src`, the text of `file`.
    pub fn at(src: &str, file: &Path, pos: usize, message: String) -> PolicyError {
        let (line, column) = line_col(src, pos);
        PolicyError {
            file: file.to_path_buf(),
            line,
            column,
            message,
        }
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.message
        )
    }
}

impl From<PolicyError> for anyhow::Error {
    fn from(e: PolicyError) -> anyhow::Error {
        exit::coded(exit::BAD_POLICY, e.to_string())
    }
}

/// 1-based line and column (in characters) of byte offset `pos` in `src`.
pub fn line_col(src: &str, pos: usize) -> (usize, usize) {
    let mut pos = pos.min(src.len());
    while !src.is_char_boundary(pos) {
        pos -= 1;
    }
    let before = &src[..pos];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters() {
        assert_eq!(line_col("ab\ncé=x", 6), (2, 3));
        assert_eq!(line_col("ab\ncé=x", 5), (2, 2));
        assert_eq!(line_col("", 0), (1, 1));
    }

    #[test]
    fn a_policy_error_is_exit_3() {
        let e: anyhow::Error = PolicyError::at("a\nb", Path::new("p.toml"), 2, "bad".into()).into();
        assert_eq!(format!("{e:#}"), "p.toml:2:1: bad");
        assert_eq!(exit::code_of(&e), exit::BAD_POLICY);
    }
}
