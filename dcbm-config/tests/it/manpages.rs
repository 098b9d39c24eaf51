//! `man dcbm-config` and `man dcbm.toml` are complete; completions offer
//! only what users may type.

use crate::common::*;

/// The page as `man` shows it (roff rendered), or the roff source when groff
/// is not installed.
fn rendered(page: &str) -> String {
    let t = Tree::new();
    let o = t.run(&["man", page]);
    assert_eq!(o.code, 0, "{o:?}");
    let groff = std::process::Command::new("groff")
        .args(["-man", "-Tascii", "-ww", "-rLL=200n"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let Ok(mut g) = groff else {
        return o
            .stdout
            .replace("\\-", "-")
            .replace("\\fB", "")
            .replace("\\fR", "");
    };
    use std::io::Write;
    g.stdin
        .take()
        .unwrap()
        .write_all(o.stdout.as_bytes())
        .unwrap();
    let out = g.wait_with_output().unwrap();
    let warnings = String::from_utf8_lossy(&out.stderr);
    assert!(
        warnings.trim().is_empty(),
        "groff warns about {page}: {warnings}"
    );
    // Drop overstrike (bold, underline) as `col -b` does.
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut plain = String::new();
    for c in text.chars() {
        if c == '\u{8}' {
            plain.pop();
        } else {
            plain.push(c);
        }
    }
    plain
}

#[test]
fn dcbm_config_8_documents_every_command_and_option() {
    let page = rendered("dcbm-config");
    for want in [
        "apply [--dry-run] [--strict] [--json]",
        "check [--strict] [--json]",
        "status [--json] [--interval INTERVAL]",
        "providers [--json]",
        "metrics [--output OUTPUT]",
        "modprobe-conf [--output OUTPUT]",
        "reset-counters",
        "off",
        "revert",
        "validate",
        "Alias: verify",
        "--config CONFIG",
        "--sysfs-root SYSFS_ROOT",
        "--state-dir STATE_DIR",
        "--modprobe CMD",
        "--load-timeout-ms MS",
        "--lock-timeout-ms MS",
        "--dropin-dir DIR",
        "--no-dropins",
        "/etc/dcbm.d/*.toml",
        "/usr/lib/dcbm.d/*.toml",
        "EXIT STATUS",
        "128+N",
        "dcbm.toml(5)",
        "/run/dcbm/before-apply.json",
    ] {
        assert!(
            page.contains(want),
            "dcbm-config(8) lacks {want:?}:\n{page}"
        );
    }
    // No per-command pages to point to, no packager commands.
    assert!(!page.contains("dcbm-config-"), "{page}");
    assert!(!page.contains("completions"), "{page}");
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
