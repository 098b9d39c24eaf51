//! What a policy error says: values echoed short, serde's words put in the
//! policy's (`expected i64` becomes `expected a whole number`), and a table
//! or key given twice named with where it was first.

use std::ops::Range;

use toml::de::{DeTable, DeValue};

use crate::policy_error::line_col;

/// Longest value or name echoed whole: a 300,000-character value in a
/// message would bury the message itself.
const MAX_ECHO: usize = 64;
/// What is shown of a longer one.
const HEAD: usize = 60;

/// `text` on one line (blanks collapsed); past `MAX_ECHO` characters its
/// first `HEAD` and "… (N characters)". Every echoed value goes through here.
pub fn shorten(text: &str) -> String {
    match cut(text) {
        None => one_line(text),
        Some((head, n)) => format!("{}… ({n} characters)", one_line(&head)),
    }
}

/// For a text past `MAX_ECHO` characters: its first `HEAD` and its length.
fn cut(text: &str) -> Option<(String, usize)> {
    let n = text.chars().count();
    (n > MAX_ECHO).then(|| (text.chars().take(HEAD).collect(), n))
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A value as written in the policy, shortened; a string keeps its quotes
/// and is counted without them.
fn shorten_written(text: &str) -> String {
    for q in ['"', '\''] {
        let inner = text.strip_prefix(q).and_then(|t| t.strip_suffix(q));
        if let Some((head, n)) = inner.and_then(cut) {
            return format!("{q}{}{q}… ({n} characters)", one_line(&head));
        }
    }
    shorten(text)
}

/// A string value as the policy would write it, quoted, shortened.
pub fn quoted(value: &str) -> String {
    match cut(value) {
        None => format!("{value:?}"),
        Some((head, n)) => format!("{head:?}… ({n} characters)"),
    }
}

/// Shorten every `quoted` name of a message (serde quotes field names and
/// variants in backticks).
fn shorten_backticked(msg: &str) -> String {
    msg.split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                shorten(part)
            } else {
                part.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("`")
}

/// The message for a `toml` error `msg` at `span` of `src`, in the policy's
/// words.
pub fn explain(src: &str, span: Range<usize>, msg: &str) -> String {
    let at = src.get(span.clone()).unwrap_or("");
    if msg.starts_with("invalid type") && at.starts_with("[[") {
        let name = shorten(
            at.trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or("")
                .trim(),
        );
        return format!(
            "`[[{name}]]` is an array of tables; `{name}` is a single table: write `[{name}]`"
        );
    }
    if msg == "duplicate key" {
        return given_twice(src, span.start);
    }
    if msg == "integer number overflowed" {
        // Beyond what TOML reads at all (i128): no range to name.
        let written = shorten_written(src.get(span.clone()).unwrap_or("").trim());
        return match key_at(src, &span) {
            Some((key, false)) => format!("{key} = {written} is out of range (too many digits)"),
            _ => format!("{written} is out of range (too many digits)"),
        };
    }
    if let Some(m) = wrong_type(src, span, msg) {
        return m;
    }
    shorten_backticked(msg)
}

/// serde's `invalid type: string "5", expected i64` (or `invalid value`)
/// as `timeout_ms = "5": expected a whole number`, the value as written.
fn wrong_type(src: &str, span: Range<usize>, msg: &str) -> Option<String> {
    let rest = msg
        .strip_prefix("invalid type: ")
        .or_else(|| msg.strip_prefix("invalid value: "))?;
    // The expected part comes last; the found part may hold any text.
    let (_, expected) = rest.rsplit_once(", expected ")?;
    let expected = match expected {
        "i8" | "i16" | "i32" | "i64" | "i128" | "u8" | "u16" | "u32" | "u64" | "u128" | "isize"
        | "usize" => "a whole number",
        "a boolean" => "true or false",
        "a sequence" => "a list",
        "a string" => "a string in quotes",
        "a map" => "a table",
        e if e.starts_with("struct ") => "a table",
        e => e,
    };
    let written = src.get(span.clone()).unwrap_or("").trim();
    let unquoted = written.trim_matches(|c| c == '"' || c == '\'');
    let hint = if expected.starts_with("a whole number")
        && unquoted.len() < written.len()
        && unquoted.parse::<i128>().is_ok()
    {
        " (without quotes)"
    } else {
        ""
    };
    let written = shorten_written(written);
    Some(match key_at(src, &span) {
        Some((key, false)) => format!("{key} = {written}: expected {expected}{hint}"),
        Some((key, true)) => format!("{key}: list item {written}: expected {expected}{hint}"),
        None => format!("expected {expected}, found {written}{hint}"),
    })
}

/// The key whose value is at `span`, and whether the span is an item of
/// its list rather than the whole value.
fn key_at(src: &str, span: &Range<usize>) -> Option<(String, bool)> {
    let doc = DeTable::parse(src).ok()?;
    let find = |key: &str, v: &toml::Spanned<DeValue>| -> Option<(String, bool)> {
        if v.span() == *span {
            return Some((shorten(key), false));
        }
        match v.get_ref() {
            DeValue::Array(items) if items.iter().any(|i| i.span() == *span) => {
                Some((shorten(key), true))
            }
            _ => None,
        }
    };
    for (name, v) in doc.get_ref().iter() {
        if let Some(found) = find(name.get_ref(), v) {
            return Some(found);
        }
        if let DeValue::Table(t) = v.get_ref() {
            for (k, v) in t.iter() {
                if let Some(found) = find(k.get_ref(), v) {
                    return Some(found);
                }
            }
        }
    }
    None
}

/// `a . "b"` as `a.b`: a key or table name as written, for comparison.
fn key_name(text: &str) -> String {
    text.split('.')
        .map(|p| p.trim().trim_matches(|c| c == '"' || c == '\''))
        .collect::<Vec<_>>()
        .join(".")
}

/// What a line of `src` starts: a `[table]` header or a `key = ...`.
enum Line {
    Header(String),
    Key(String),
    Other,
}

fn classify(line: &str) -> Line {
    let t = line.trim();
    if let Some(h) = t.strip_prefix('[') {
        if !h.starts_with('[') {
            return Line::Header(key_name(h.split(']').next().unwrap_or("")));
        }
    } else if !t.starts_with('#') {
        if let Some((k, _)) = t.split_once('=') {
            return Line::Key(key_name(k));
        }
    }
    Line::Other
}

/// toml's `duplicate key` at `pos`, as the table defined twice or the key
/// set twice, with the line where it was first (found by reading the lines
/// before; left out when not found).
fn given_twice(src: &str, pos: usize) -> String {
    let (line, _) = line_col(src, pos);
    let lines: Vec<&str> = src.lines().collect();
    let before = &lines[..(line - 1).min(lines.len())];
    let first = |hit: &dyn Fn(Option<&str>, &Line) -> bool| -> String {
        let mut table: Option<String> = None;
        for (i, l) in before.iter().enumerate() {
            let c = classify(l);
            if hit(table.as_deref(), &c) {
                return format!(" (first at line {})", i + 1);
            }
            if let Line::Header(h) = c {
                table = Some(h);
            }
        }
        String::new()
    };
    match lines.get(line - 1).map(|l| classify(l)) {
        Some(Line::Header(name)) => {
            // Defined before by its own header, or by a dotted key
            // (`offload.enabled = true`) or an inline table at the top.
            let prefix = format!("{name}.");
            let at = first(&|table, c| match c {
                Line::Header(h) => *h == name,
                Line::Key(k) => table.is_none() && (*k == name || k.starts_with(&prefix)),
                Line::Other => false,
            });
            format!("the table [{}] is defined twice{at}", shorten(&name))
        }
        Some(Line::Key(key)) => {
            let here = before.iter().rev().find_map(|l| match classify(l) {
                Line::Header(h) => Some(h),
                _ => None,
            });
            let at = first(
                &|table, c| matches!(c, Line::Key(k) if *k == key && table == here.as_deref()),
            );
            match &here {
                Some(t) => format!(
                    "the key `{}` is set twice in [{}]{at}",
                    shorten(&key),
                    shorten(t)
                ),
                None => format!("the key `{}` is set twice{at}", shorten(&key)),
            }
        }
        _ => "a key or table is given twice".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_cut_with_their_length() {
        assert_eq!(shorten("a\n  b"), "a b");
        let long = "é".repeat(300_000);
        let s = shorten(&long);
        assert_eq!(s, format!("{}… (300000 characters)", "é".repeat(HEAD)));
        assert_eq!(quoted("x"), "\"x\"");
        let q = quoted(&long);
        assert!(
            q.starts_with('"') && q.ends_with("\"… (300000 characters)"),
            "{q}"
        );
        assert_eq!(quoted(&"y".repeat(MAX_ECHO)).len(), MAX_ECHO + 2);
        let written = format!("\"{}\"", "z".repeat(1000));
        assert_eq!(
            shorten_written(&written),
            format!("\"{}\"… (1000 characters)", "z".repeat(HEAD))
        );
        assert_eq!(shorten_written("1.5"), "1.5");
    }
}
