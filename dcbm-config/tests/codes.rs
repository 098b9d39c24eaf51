//! Exit codes that agree across commands: `check` says what `apply` did,
//! a malformed sysfs value is one code everywhere.

mod common;

use common::*;

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
    // Conditions met: the module is needed, and missing, for both.
    let t = Tree::new().with_channels(0, 4, "swdma.0", Some("swdma"));
    t.policy(SWDMA);
    assert_eq!(t.run(&["apply"]).code, 6);
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
