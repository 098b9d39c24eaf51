//! Exit codes that agree across commands (`check` says what `apply` did,
//! a malformed sysfs value is one code everywhere) and across the documents
//! (the man page and every README table list every code, in the same words).

use std::collections::BTreeSet;
use std::path::Path;

use crate::common::*;

/// Offload held off by a condition other than the provider, module not
/// loaded: `apply` has nothing to do (exit 0), and `check` agrees.
#[test]
fn check_agrees_with_apply_when_a_condition_holds_offload_off() {
    let t = Tree::new().with_channels(0, 4, "swdma.0", Some("swdma"));
    t.policy(&format!("{SWDMA}min_numa_nodes = 2\n"));
    let o = t.run(&["apply"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("nothing to write"), "{o:?}");
    let o = t.run(&["check"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(
        o.stdout
            .contains("module: not loaded (offload held off: 1 condition(s) failed)"),
        "{o:?}"
    );
    assert!(
        o.stderr.contains("condition failed: min_numa_nodes"),
        "{o:?}"
    );
    // --strict: both say "condition failed".
    assert_eq!(t.run(&["apply", "--strict"]).code, 9);
    assert_eq!(t.run(&["check", "--strict"]).code, 9);
    // Conditions met: the module is needed, and missing, for both (`apply`
    // tried to load it and modprobe found none for this kernel: 11; a
    // module that fails to load is 6, as `check` says of a missing one).
    let t = Tree::new().with_channels(0, 4, "swdma.0", Some("swdma"));
    t.policy(SWDMA);
    assert_eq!(t.run(&["apply"]).code, 11);
    assert_eq!(
        t.run(&["apply", "--modprobe", "echo 'could not insert' >&2; exit 1"])
            .code,
        6
    );
    assert_eq!(t.run(&["check"]).code, 6);
}

/// A malformed value (not a missing attribute) is exit 1 in every command
/// that reads the module, as documented; a missing one is 6 everywhere.
#[test]
fn malformed_sysfs_value_is_exit_1_everywhere() {
    let t = swdma_tree();
    t.policy(SWDMA);
    t.set_attr("folios_migrated", "-3");
    let cmds: [&[&str]; 5] = [
        &["apply"],
        &["check"],
        &["reset-counters"],
        &["status", "--interval", "0"],
        &["metrics"],
    ];
    for args in cmds {
        let o = t.run(args);
        assert_eq!(o.code, 1, "{args:?}: {o:?}");
        assert!(
            o.stderr.contains("attribute `folios_migrated` (") && o.stderr.contains("\"-3\""),
            "{args:?}: {o:?}"
        );
    }
    assert_eq!(t.attr("offloading"), "0");
    std::fs::remove_file(t.path("sys/module/dcbm/folios_migrated")).unwrap();
    for args in cmds {
        let o = t.run(args);
        assert_eq!(o.code, 6, "{args:?}: {o:?}");
        assert!(
            o.stderr.contains("`folios_migrated` is missing"),
            "{args:?}: {o:?}"
        );
    }
}

/// A mistyped --sysfs-root is a usage error, not "module not loaded, in sync".
#[test]
fn sysfs_root_without_sys_is_a_usage_error() {
    let t = swdma_tree();
    t.policy(SWDMA);
    let typo = format!("{}-typo", t.root().display());
    for args in [&["check"][..], &["status"], &["apply"], &["providers"]] {
        let o = t.run(&[args, &["--sysfs-root", &typo][..]].concat());
        assert_eq!(o.code, 2, "{args:?}: {o:?}");
        assert!(o.stderr.contains("no sys directory there"), "{o:?}");
    }
}

/// A file of the repository, by its path from the workspace root.
fn repo_file(rel: &str) -> String {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Every exit code the tool uses: the `u8` constants of exit.rs, and 128+N
/// after a signal (interrupt.rs).
fn codes_in_source() -> BTreeSet<String> {
    let mut codes: BTreeSet<String> = repo_file("dcbm-config/src/exit.rs")
        .lines()
        .filter_map(|l| l.strip_prefix("pub const ")?.split_once(": u8 = "))
        .map(|(_, v)| v.trim_end_matches(';').to_string())
        .collect();
    assert!(codes.contains("10"), "exit.rs not parsed: {codes:?}");
    assert!(
        repo_file("dcbm-config/src/interrupt.rs").contains("(128 + sig)"),
        "interrupt.rs no longer exits 128 + the signal: update this test"
    );
    codes.insert("128+N".to_string());
    codes
}

/// The value of exit.rs's `pub const NAME: u8`.
fn code_named(name: &str) -> String {
    repo_file("dcbm-config/src/exit.rs")
        .lines()
        .find_map(|l| l.strip_prefix(&format!("pub const {name}: u8 = ")))
        .map(|v| v.trim_end_matches(';').to_string())
        .unwrap_or_else(|| panic!("exit.rs has no {name}"))
}

/// dcbm-config.service counts exactly "no dcbm module for this kernel" as
/// success (a stock kernel is no failed unit; a module that fails to load
/// is), and takes `apply`'s status line from its main process.
#[test]
fn the_unit_counts_only_no_module_for_the_kernel_as_success() {
    let unit = repo_file("dcbm-config/dist/dcbm-config.service");
    let values = |key: &str| -> Vec<String> {
        unit.lines()
            .filter_map(|l| l.trim().strip_prefix(&format!("{key}=")))
            .map(str::to_string)
            .collect()
    };
    assert_eq!(
        values("SuccessExitStatus"),
        [code_named("MODULE_NOT_BUILT")]
    );
    assert_eq!(values("NotifyAccess"), ["main"]);
    assert_eq!(values("Type"), ["oneshot"]);
    assert_eq!(
        values("ExecStart"),
        ["/usr/bin/dcbm-config apply --unless-off"]
    );
}

/// The (code, meaning) rows of dcbm-config(8)'s EXIT STATUS section.
fn man_page_rows() -> Vec<(String, String)> {
    let o: Out = std::process::Command::new(BIN)
        .arg("man")
        .output()
        .unwrap()
        .into();
    assert_eq!(o.code, 0, "{o:?}");
    let section = o
        .stdout
        .split_once(".SH \"EXIT STATUS\"\n")
        .map(|(_, rest)| rest.split("\n.SH ").next().unwrap())
        .unwrap_or_else(|| panic!("no EXIT STATUS section: {o:?}"));
    section
        .split(".TP\n")
        .filter(|e| !e.trim().is_empty())
        .map(|e| {
            let unroff = |s: &str| {
                s.replace("\\-", "-")
                    .replace("\\&", "")
                    .replace("\\*(Aq", "'")
            };
            let (code, meaning) = e.split_once('\n').unwrap();
            let code = code.trim_start_matches("\\fB").trim_end_matches("\\fR");
            (unroff(code), unroff(meaning.trim()))
        })
        .collect()
}

/// The rows of the table under the `Exit codes` heading of `readme`, the
/// code markup (backticks) dropped.
fn readme_rows(readme: &str) -> Vec<(String, String)> {
    let text = repo_file(readme);
    let mut lines = text
        .lines()
        .skip_while(|l| !(l.starts_with('#') && l.contains("Exit codes")));
    assert!(lines.next().is_some(), "{readme}: no Exit codes heading");
    lines
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2) // header and separator
        .map(|l| {
            let cells: Vec<String> = l
                .trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().replace('`', ""))
                .collect();
            assert_eq!(cells.len(), 2, "{readme}: {l}");
            (cells[0].clone(), cells[1].clone())
        })
        .collect()
}

#[test]
fn every_exit_code_is_in_the_man_page() {
    let man: BTreeSet<String> = man_page_rows().into_iter().map(|(c, _)| c).collect();
    assert_eq!(man, codes_in_source(), "dcbm-config(8) EXIT STATUS");
}

/// The README tables say what the man page says (which is `--help`'s table).
#[test]
fn every_exit_code_table_matches_the_man_page() {
    let man = man_page_rows();
    for readme in ["README.md", "packaging/README.md", "dcbm-config/README.md"] {
        let rows = readme_rows(readme);
        let codes: BTreeSet<String> = rows.iter().map(|(c, _)| c.clone()).collect();
        assert_eq!(codes, codes_in_source(), "{readme}: codes");
        for (row, want) in rows.iter().zip(&man) {
            assert_eq!(row, want, "{readme}: row of code {}", row.0);
        }
    }
}
