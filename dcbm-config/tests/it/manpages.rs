//! `man dcbm-config` and `man dcbm.toml` render without a warning and are
//! complete: dcbm-config(8) has every command and option that `--help`
//! lists, and its exit statuses; completions offer only what users may type.

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};

use crate::common::*;

/// The roff of `dcbm-config man PAGE`.
fn roff(page: &str) -> String {
    let o = Tree::new().run(&["man", page]);
    assert_eq!(o.code, 0, "{o:?}");
    o.stdout
}

/// `cmd` run on `input`; `None` when it is not installed.
fn filter(cmd: &mut Command, input: &str) -> Option<Out> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .ok()?;
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    drop(stdin);
    Some(child.wait_with_output().unwrap().into())
}

/// The page as a reader sees it, as plain text with ASCII hyphens: what
/// `man -l` shows, else groff. Each that is installed must render it
/// without a warning (groff's `-ww`: all of them). Where neither is, the
/// roff source unmarked.
fn rendered(page: &str) -> String {
    let roff = roff(page);
    let groff = filter(
        Command::new("groff").args(["-man", "-Tutf8", "-ww", "-rLL=200n", "-rHY=0", "-P-cbou"]),
        &roff,
    );
    let man = filter(
        Command::new("man")
            .args(["--warnings=w", "--no-hyphenation", "--no-justification"])
            .args(["-l", "-"])
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "200")
            .env("LC_ALL", "C.UTF-8")
            .env_remove("MAN_KEEP_FORMATTING"),
        &roff,
    );
    for (tool, o) in [("groff", &groff), ("man -l", &man)] {
        if let Some(o) = o {
            assert_eq!(o.code, 0, "{tool} on {page}: {o:?}");
            assert!(
                o.stderr.trim().is_empty(),
                "{tool} warns about {page}: {}",
                o.stderr
            );
        }
    }
    let text = match man.or(groff) {
        Some(o) => o.stdout,
        None => unroffed(&roff),
    };
    text.replace(['\u{2010}', '\u{2212}'], "-")
}

/// Roughly what roff shows, for a host without man and groff: the title
/// and the headings at the margin, the text indented, the markup dropped.
fn unroffed(roff: &str) -> String {
    let mut text = String::new();
    for line in roff.lines() {
        if let Some(title) = line.strip_prefix(".TH ") {
            let mut words = title.split(' ');
            text += &format!("{}({})", words.next().unwrap(), words.next().unwrap());
        } else if let Some(heading) = line.strip_prefix(".SH ") {
            text += heading.trim_matches('"');
        } else if let Some(heading) = line.strip_prefix(".SS ") {
            text += "   ";
            text += heading;
        } else if line.starts_with('.') {
            continue;
        } else {
            text += "       ";
            text += line;
        }
        text += "\n";
    }
    [
        ("\\fB", ""),
        ("\\fI", ""),
        ("\\fR", ""),
        ("\\-", "-"),
        ("\\*(Aq", "'"),
        ("\\&", ""),
    ]
    .iter()
    .fold(text, |t, (markup, plain)| t.replace(markup, plain))
}

/// The lines of `page` under `heading` (a line of its own at the margin),
/// up to the next line at the margin.
fn section<'a>(page: &'a str, heading: &str) -> Vec<&'a str> {
    let mut lines = page.lines().skip_while(|l| *l != heading);
    assert!(lines.next().is_some(), "no {heading}:\n{page}");
    lines
        .take_while(|l| l.is_empty() || l.starts_with(' '))
        .collect()
}

/// Blanks collapsed to one space, as text wraps anywhere.
fn words(lines: &[&str]) -> String {
    lines
        .join(" ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// `dcbm-config ARGS --help`.
fn help(args: &[&str]) -> String {
    let o = Tree::new().run(&[args, &["--help"][..]].concat());
    assert_eq!(o.code, 0, "{o:?}");
    o.stdout
}

/// The long options a `--help` lists (`--config`, ...).
fn long_options(help: &str) -> BTreeSet<String> {
    help.lines()
        .skip_while(|l| *l != "Options:")
        // `  -h, --help`, `      --config <CONFIG>`; what they do is
        // indented further.
        .filter(|l| l.starts_with("  -") || l.starts_with("      --"))
        .filter_map(|l| l.split_whitespace().find(|w| w.starts_with("--")))
        .map(|w| w.trim_end_matches(',').to_string())
        .collect()
}

/// The commands `--help` lists: name, what it does, visible aliases.
fn commands(help: &str) -> Vec<(String, String, Vec<String>)> {
    help.lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| {
            let (name, about) = l.trim().split_once(' ')?;
            let about = about.trim();
            let tail = about
                .split_once(" [alias: ")
                .or(about.split_once(" [aliases: "));
            let (about, aliases) = match tail {
                Some((about, aliases)) => (
                    about,
                    aliases
                        .trim_end_matches(']')
                        .split(", ")
                        .map(String::from)
                        .collect(),
                ),
                None => (about, Vec::new()),
            };
            Some((name.to_string(), about.to_string(), aliases))
        })
        .filter(|(name, _, _)| name != "help")
        .collect()
}

#[test]
fn dcbm_config_8_has_every_command_and_option_of_help() {
    let page = rendered("dcbm-config");
    let top = help(&[]);
    let globals = long_options(&top);
    for known in [
        "--config",
        "--dropin-dir",
        "--no-dropins",
        "--lock-timeout-ms",
    ] {
        assert!(globals.contains(known), "--help not parsed: {globals:?}");
    }
    let options = words(&section(&page, "OPTIONS"));
    for opt in &globals {
        assert!(
            options.contains(opt.as_str()),
            "OPTIONS lacks {opt}:\n{page}"
        );
    }
    let listed = commands(&top);
    let names: BTreeSet<&str> = listed.iter().map(|(n, _, _)| n.as_str()).collect();
    for known in [
        "apply",
        "check",
        "reset-counters",
        "modprobe-conf",
        "validate",
    ] {
        assert!(names.contains(known), "--help not parsed: {names:?}");
    }
    let subsections = section(&page, "COMMANDS");
    let text = words(&subsections);
    for (name, about, aliases) in &listed {
        assert!(
            subsections.iter().any(|l| l.trim() == name),
            "no subsection for {name}:\n{page}"
        );
        let call = format!("dcbm-config {name}");
        let synopsis = subsections
            .iter()
            .map(|l| l.trim())
            .find(|l| *l == call || l.starts_with(&format!("{call} ")))
            .unwrap_or_else(|| panic!("no synopsis of {name}:\n{page}"));
        for opt in long_options(&help(&[name.as_str()])).difference(&globals) {
            assert!(
                synopsis.contains(&format!("[{opt}")),
                "the synopsis of {name} lacks {opt}: {synopsis}"
            );
            assert!(
                text.contains(&format!("{opt} ")),
                "{name} {opt} undescribed:\n{page}"
            );
        }
        assert!(
            text.contains(about.as_str()),
            "{name}: {about:?} missing:\n{page}"
        );
        for alias in aliases {
            assert!(
                text.contains(&format!("Alias: {alias}")),
                "{name}: alias {alias}"
            );
        }
    }
    let files = words(&section(&page, "FILES"));
    for want in [
        "/etc/dcbm.toml",
        "/etc/dcbm.d/*.toml, /usr/lib/dcbm.d/*.toml",
        "/run/dcbm/before-apply.json",
    ] {
        assert!(files.contains(want), "FILES lacks {want}:\n{page}");
    }
    assert!(
        words(&section(&page, "SEE ALSO")).contains("dcbm.toml(5)"),
        "{page}"
    );
    // No per-command pages to point to, no packager commands.
    assert!(!page.contains("dcbm-config-"), "{page}");
    assert!(!page.contains("completions"), "{page}");
}

/// The exit statuses are those of `--help` (exit.rs's table), in order.
#[test]
fn dcbm_config_8_exit_status_is_the_table_of_help() {
    let top = help(&[]);
    let rows: Vec<&str> = top
        .lines()
        .skip_while(|l| *l != "EXIT STATUS:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .collect();
    assert!(rows.len() > 10, "--help not parsed:\n{top}");
    assert!(rows.iter().any(|r| r.starts_with("128+N  ")), "{top}");
    let page = rendered("dcbm-config");
    assert_eq!(words(&section(&page, "EXIT STATUS")), words(&rows));
}
#[test]
fn dcbm_toml_5_documents_every_key() {
    let page = rendered("dcbm.toml");
    assert!(page.contains("DCBM.TOML(5)"), "{page}");
    for key in [
        "[offload]",
        "enabled",
        "channels",
        "timeout_ms",
        "min_batch_bytes",
        "min_folio_bytes",
        "reasons",
        "reasons_available",
        "[conditions]",
        "require_provider",
        "drivers",
        "min_channels",
        "min_numa_nodes",
        "min_cpuless_memory_nodes",
        "min_memory_tiers",
        "require_demotion",
        "min_kernel",
        "[counters]",
        "reset",
        "once-per-boot",
        "not writable by group or others",
        "DROP-INS",
        "/etc/dcbm.d/",
        "/usr/lib/dcbm.d/",
        "sorted by file name",
        "masks the file of the same name",
        "key by key",
    ] {
        assert!(page.contains(key), "dcbm.toml(5) lacks {key:?}");
    }
}

#[test]
fn completions_leave_out_the_packager_commands() {
    let t = Tree::new();
    for shell in ["bash", "zsh", "fish"] {
        let o = t.run(&["completions", shell]);
        assert_eq!(o.code, 0, "{o:?}");
        assert!(o.stdout.contains("reset-counters"), "{shell}");
        assert!(o.stdout.contains("revert"), "{shell}");
        for hidden in ["completions", "man "] {
            let offered = o
                .stdout
                .lines()
                .filter(|l| !l.trim_start().starts_with('#'))
                .any(|l| l.contains(hidden) && !l.contains("_dcbm-config"));
            assert!(!offered, "{shell} completion offers {hidden:?}");
        }
    }
}

/// A shell without a generator is a usage error that lists the shells there
/// are, not "unrecognized subcommand".
#[test]
fn completions_for_an_unsupported_shell_list_the_supported_ones() {
    let t = Tree::new();
    let o = t.run(&["completions", "nushell"]);
    assert_eq!(o.code, 2, "{o:?}");
    assert!(!o.stderr.contains("unrecognized subcommand"), "{o:?}");
    assert!(o.stderr.contains("'nushell'"), "{o:?}");
    assert!(
        o.stderr
            .contains("[possible values: bash, elvish, fish, powershell, zsh]"),
        "{o:?}"
    );
    assert!(o.stdout.is_empty(), "{o:?}");
    // The other packager command likewise.
    let o = t.run(&["man", "dcbm"]);
    assert_eq!(o.code, 2, "{o:?}");
    assert!(
        o.stderr
            .contains("[possible values: dcbm-config, dcbm.toml]"),
        "{o:?}"
    );
    // A mistyped ordinary command is still reported as such.
    let o = t.run(&["aply"]);
    assert_eq!(o.code, 2, "{o:?}");
    assert!(o.stderr.contains("unrecognized subcommand 'aply'"), "{o:?}");
}

/// Every `DCBM_*` environment variable the tool reads is documented in
/// dcbm-config(8) and in the README.
#[test]
fn every_environment_variable_is_documented() {
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
    let mut vars = std::collections::BTreeSet::new();
    for e in std::fs::read_dir(src).unwrap() {
        let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
        for part in text.split("\"DCBM_").skip(1) {
            let name: String = part
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || *c == '_')
                .collect();
            vars.insert(format!("DCBM_{name}"));
        }
    }
    assert!(vars.contains("DCBM_CONFIG"), "{vars:?}");
    let page = rendered("dcbm-config");
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for v in &vars {
        assert!(page.contains(v.as_str()), "dcbm-config(8) lacks {v}");
        assert!(readme.contains(v.as_str()), "README.md lacks {v}");
    }
}
