//! `off` and `revert`: back from a policy, idempotently (how `off`
//! holds over the unit's re-runs: `switched_off.rs`).

use crate::common::*;

const KNOBS: [&str; 5] = [
    "offloading",
    "nr_dma_chan",
    "timeout_ms",
    "min_batch_bytes",
    "min_folio_bytes",
];

fn knobs(t: &Tree) -> Vec<String> {
    KNOBS.iter().map(|k| t.attr(k)).collect()
}

#[test]
fn off_switches_offload_off_and_is_idempotent() {
    let t = swdma_tree();
    t.policy(SWDMA);
    assert_eq!(t.run(&["apply"]).code, 0);
    let o = t.run(&["off"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("wrote offloading: 1 -> 0"), "{o:?}");
    assert_eq!(t.attr("offloading"), "0");
    // The other knobs stay as the policy set them.
    assert_eq!(t.attr("nr_dma_chan"), "4");
    let snap = t.snapshot();
    let o = t.run(&["off"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("nothing to write"), "{o:?}");
    t.unchanged_since(&snap);
    // Now off is the administrator's choice (12: not in sync, on purpose),
    // and revert undoes the off.
    assert_eq!(t.run(&["check"]).code, 12);
    let o = t.run(&["revert"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(t.attr("offloading"), "1");
    assert_eq!(t.run(&["check"]).code, 0);
    // Module absent: offload is off, nothing to do.
    assert_eq!(Tree::new().run(&["off"]).code, 0);
}

#[test]
fn revert_restores_the_settings_from_before_apply() {
    let t = swdma_tree();
    t.set_attr("nr_dma_chan", "3");
    t.set_attr("folios_migrated", "9");
    let before = knobs(&t);
    // Nothing recorded yet: nothing to revert.
    let o = t.run(&["revert"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("nothing to revert"), "{o:?}");
    assert_eq!(knobs(&t), before);

    t.policy(&format!("{SWDMA}[counters]\nreset = \"on-apply\"\n"));
    assert_eq!(t.run(&["apply"]).code, 0);
    assert_ne!(knobs(&t), before);
    // A second apply with nothing to write keeps the first record.
    assert!(t.run(&["apply"]).stdout.contains("nothing to write"));
    let o = t.run(&["revert"]);
    assert_eq!(o.code, 0, "{o:?}");
    // Safe order: offloading goes off first.
    assert!(o.stdout.starts_with("wrote offloading: 1 -> 0\n"), "{o:?}");
    assert_eq!(knobs(&t), before);
    // Counters are not restored (a reset cannot be undone).
    assert_eq!(t.attr("folios_migrated"), "0");
    let snap = t.snapshot();
    let o = t.run(&["revert"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("nothing to write"), "{o:?}");
    t.unchanged_since(&snap);
}
