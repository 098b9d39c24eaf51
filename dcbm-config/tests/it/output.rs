//! Lost output (`>/dev/full`, a closed pipe) never aborts a command midway
//! and never shows as a panic.

use crate::common::*;

/// The values SWDMA sets, as `apply` must leave them.
fn assert_swdma_applied(t: &Tree) {
    for (attr, want) in [
        ("nr_dma_chan", "4"),
        ("timeout_ms", "20000"),
        ("min_batch_bytes", "262144"),
        ("min_folio_bytes", "0"),
        ("offloading", "1"),
    ] {
        assert_eq!(t.attr(attr), want, "{attr}");
    }
}

#[test]
fn apply_to_a_full_stdout_applies_everything() {
    let t = swdma_tree();
    t.policy(SWDMA);
    let o = run_into(t.cmd(&["apply"]), Sink::Full);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(!o.stderr.contains("panicked"), "{o:?}");
    assert!(o.stderr.contains("output lost: ENOSPC"), "{o:?}");
    assert_swdma_applied(&t);
    assert_eq!(t.run(&["check"]).code, 0);
}

#[test]
fn apply_to_a_closed_pipe_applies_everything() {
    let t = swdma_tree();
    t.policy(SWDMA);
    let o = run_into(t.cmd(&["apply"]), Sink::ClosedPipe);
    assert_eq!(o.code, 0, "{o:?}");
    // Nobody reads: no complaint about it either.
    assert_eq!(o.stderr, "", "{o:?}");
    assert_swdma_applied(&t);
}

/// Commands whose product is their output fail (exit 1) when it is lost,
/// quietly for a closed pipe, with the errno otherwise; `check` keeps the
/// code that says whether the module is in sync.
#[test]
fn lost_output_is_exit_1_not_a_panic() {
    let t = swdma_tree();
    t.policy(SWDMA);
    let output_only: [&[&str]; 8] = [
        &["status", "--interval", "0"],
        &["status", "--json", "--interval", "0"],
        &["providers"],
        &["validate"],
        &["metrics"],
        &["modprobe-conf"],
        &["completions", "bash"],
        &["man"],
    ];
    for args in output_only {
        let o = run_into(t.cmd(args), Sink::ClosedPipe);
        assert_eq!(o.code, 1, "{args:?}: {o:?}");
        assert_eq!(o.stderr, "", "{args:?}: {o:?}");
        let o = run_into(t.cmd(args), Sink::Full);
        assert_eq!(o.code, 1, "{args:?}: {o:?}");
        assert!(
            o.stderr.contains("error: writing output: ENOSPC"),
            "{args:?}: {o:?}"
        );
    }
    // Drift (exit 4) is still reported as drift.
    let o = run_into(t.cmd(&["check"]), Sink::ClosedPipe);
    assert_eq!(o.code, 4, "{o:?}");
    assert!(!o.stderr.contains("panicked"), "{o:?}");
}
