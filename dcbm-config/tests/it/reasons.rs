//! `offload.reasons` (the module's `reason_mask`) on the v5 and v6 offload
//! interfaces, and both sysfs layouts: dcbm's `/sys/module/dcbm/*` and the
//! upstream v6 driver's `/sys/module/dcbm/parameters/*` only.

use std::fs;

use crate::common::*;
use serde_json::Value;

const V6_REASONS: &str = "compaction,memory_failure,memory_hotplug,syscall_or_cpuset,\
mempolicy_mbind,numa_misplaced,contig_range,longterm_pin,demotion,damon";
const V5_REASONS: &str = "compaction,syscall_or_cpuset,numa_misplaced,demotion";

fn v6_tree() -> Tree {
    let t = swdma_tree();
    t.set_attr("interface", "v6");
    t.set_attr("reasons_available", V6_REASONS);
    t.set_attr("reason_mask", V6_REASONS);
    t
}

fn v5_tree() -> Tree {
    let t = swdma_tree();
    t.set_attr("interface", "v5");
    t.set_attr("reasons_available", V5_REASONS);
    t.set_attr("reason_mask", V5_REASONS);
    t
}

fn policy_with(reasons: &str) -> String {
    format!("{SWDMA}\n[offload]\n")
        .replace(
            "[offload]\nenabled",
            &format!("[offload]\nreasons = {reasons}\nenabled"),
        )
        .trim_end_matches("[offload]\n")
        .to_string()
}

#[test]
fn v6_reasons_are_written_before_enabling_checked_and_shown() {
    let t = v6_tree();
    t.policy(&policy_with(r#"["demotion", "compaction"]"#));
    let o = t.run(&["apply"]);
    assert_eq!(o.code, 0, "{o:?}");
    // In the kernel's order, and before offload is switched on.
    assert_eq!(t.attr("reason_mask"), "compaction,demotion");
    assert_eq!(t.attr("offloading"), "1");
    let mask_at = o
        .stdout
        .find("wrote reason_mask: ")
        .expect("no reason_mask write");
    let on_at = o.stdout.find("wrote offloading: 0 -> 1").unwrap();
    assert!(mask_at < on_at, "{o:?}");
    assert!(
        o.stdout
            .contains(&format!("reason_mask: {V6_REASONS} -> compaction,demotion")),
        "{o:?}"
    );
    let o = t.run(&["apply"]);
    assert!(o.stdout.contains("nothing to write"), "{o:?}");
    let o = t.run(&["check"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("interface v6"), "{o:?}");
    let row = o
        .stdout
        .lines()
        .find(|l| l.starts_with("reason_mask"))
        .unwrap();
    assert!(row.ends_with("ok"), "{row}");

    // Drift on reason_mask alone is drift.
    t.set_attr("reason_mask", "compaction");
    let o = t.run(&["check"]);
    assert_eq!(o.code, 4, "{o:?}");
    let o = t.run(&["check", "--json"]);
    let v: Value = serde_json::from_str(&o.stdout).unwrap();
    let row = v["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["attribute"] == "reason_mask")
        .unwrap()
        .clone();
    assert_eq!(row["live"], "compaction", "{row}");
    assert_eq!(row["policy"], "compaction,demotion", "{row}");
    assert_eq!(row["state"], "drift", "{row}");

    let o = t.run(&["status", "--interval", "0"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("interface:       v6\n"), "{o:?}");
    assert!(o.stdout.contains("reason_mask:     compaction\n"), "{o:?}");
    let o = t.run(&["status", "--json", "--interval", "0"]);
    let v: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["module"]["interface"], "v6");
    assert_eq!(
        v["module"]["reason_mask"],
        serde_json::json!(["compaction"])
    );

    // "all" and "none".
    t.policy(&policy_with(r#""all""#));
    assert_eq!(t.run(&["apply"]).code, 0);
    assert_eq!(t.attr("reason_mask"), V6_REASONS);
    t.policy(&policy_with(r#""none""#));
    assert_eq!(t.run(&["apply"]).code, 0);
    assert_eq!(t.attr("reason_mask"), "none");
    // `revert` restores the mask from before the last apply.
    let o = t.run(&["revert"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(t.attr("reason_mask"), V6_REASONS);
    // Unset: unmanaged.
    t.policy(SWDMA);
    t.set_attr("reason_mask", "demotion");
    assert_eq!(t.run(&["check"]).code, 0);
    assert_eq!(t.attr("reason_mask"), "demotion");
}

#[test]
fn unknown_reason_is_located_and_nothing_is_written() {
    let t = v6_tree();
    let p = t.policy(&policy_with(r#"["compaction", "compactoin"]"#));
    let snap = t.snapshot();
    for cmd in ["apply", "check"] {
        let o = t.run(&[cmd]);
        assert_eq!(o.code, 3, "{cmd}: {o:?}");
        assert!(
            o.stderr.contains(&format!(
                "{}:3:26: offload.reasons: unknown reason \"compactoin\"; this kernel \
                 (interface v6) knows: compaction, memory_failure,",
                p.display()
            )),
            "{cmd}: {o:?}"
        );
    }
    t.unchanged_since(&snap);
    // From a drop-in: its own path and position.
    t.policy(SWDMA);
    let d = t.dropin(
        "etc/dcbm.d/50-reasons.toml",
        "[offload]\nreasons = [\n  \"demotion\",\n  \"tiering\",\n]\n",
    );
    let o = t.run(&["apply"]);
    assert_eq!(o.code, 3, "{o:?}");
    assert!(
        o.stderr.contains(&format!(
            "{}:4:3: offload.reasons: unknown reason \"tiering\"",
            d.display()
        )),
        "{o:?}"
    );
    t.unchanged_since(&snap);
    // What no kernel takes is refused by `validate` already.
    for (body, at, msg) in [
        ("reasons = \"most\"", "1:11", "expected \"all\", \"none\""),
        ("reasons = [\"all\"]", "1:11", "write `reasons = \"all\"`"),
        (
            "reasons = [\"Demotion\"]",
            "1:11",
            "not a migrate reason name",
        ),
        (
            "reasons = [\"demotion\", \"demotion\"]",
            "1:11",
            "listed twice",
        ),
    ] {
        fs::write(&d, format!("[offload]\n{body}\n")).unwrap();
        let o = t.run(&["validate"]);
        assert_eq!(o.code, 3, "{body}: {o:?}");
        let at = format!("{}:2:{}", d.display(), &at[2..]);
        assert!(o.stderr.contains(&at), "{body}: want {at}: {o:?}");
        assert!(o.stderr.contains(msg), "{body}: {o:?}");
    }
}

#[test]
fn v5_cannot_change_the_reasons_so_the_condition_fails() {
    let t = v5_tree();
    t.policy(&policy_with(r#"["compaction", "demotion"]"#));
    let snap_mask = t.attr("reason_mask");
    let o = t.run(&["apply"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(
        o.stderr.contains(
            "condition failed: reasons: the policy asks for reasons = compaction,demotion"
        ),
        "{o:?}"
    );
    assert!(o.stderr.contains("v5 offload interface"), "{o:?}");
    assert!(o.stderr.contains("cannot change it"), "{o:?}");
    assert!(o.stderr.contains("offload held off"), "{o:?}");
    // Offload stays off, the other knobs are applied, the mask never written.
    assert_eq!(t.attr("offloading"), "0");
    assert_eq!(t.attr("timeout_ms"), "20000");
    assert_eq!(t.attr("reason_mask"), snap_mask);
    assert!(!o.stdout.contains("reason_mask"), "{o:?}");
    assert_eq!(t.run(&["apply", "--strict"]).code, 9);
    let o = t.run(&["check"]);
    assert_eq!(o.code, 0, "{o:?}");
    let row = o
        .stdout
        .lines()
        .find(|l| l.starts_with("reason_mask"))
        .unwrap();
    assert!(row.ends_with("fixed"), "{row}");
    assert_eq!(t.run(&["check", "--strict"]).code, 9);
    let o = t.run(&["apply", "--json"]);
    let v: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["conditions_failed"][0]["condition"], "reasons", "{v}");

    // The fixed set itself, or "all", is what v5 does: offload comes on.
    t.policy(&policy_with(r#""all""#));
    let o = t.run(&["apply"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(t.attr("offloading"), "1");
    assert_eq!(t.attr("reason_mask"), snap_mask);

    let o = t.run(&["status", "--interval", "0"]);
    assert!(o.stdout.contains("interface:       v5\n"), "{o:?}");
    assert!(
        o.stdout.contains(&format!(
            "reason_mask:     {V5_REASONS}  (fixed: v5 cannot change it)"
        )),
        "{o:?}"
    );
}

/// A dcbm from before the reason mask (no interface files) is a v5 module.
#[test]
fn module_without_interface_files_is_v5() {
    let t = swdma_tree();
    t.policy(&policy_with(r#"["demotion"]"#));
    let o = t.run(&["status", "--json", "--interval", "0"]);
    let v: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["module"]["interface"], "v5", "{v}");
    let o = t.run(&["apply", "--strict"]);
    assert_eq!(o.code, 9, "{o:?}");
    assert!(o.stderr.contains("v5 offload interface"), "{o:?}");
    assert!(!t.path("sys/module/dcbm/reason_mask").exists());
}

/// The upstream v6 driver: only /sys/module/dcbm/parameters/, with
/// offloading (Y/N), nr_dma_chan, reason_mask and two counters.
fn upstream_v6_tree() -> Tree {
    let t = Tree::new().with_channels(0, 4, "swdma.0", Some("swdma"));
    for (k, v) in [
        ("offloading", "N"),
        ("nr_dma_chan", "1"),
        ("reason_mask", V6_REASONS),
        ("folios_migrated", "7"),
        ("folios_failures", "0"),
    ] {
        t.put(&format!("sys/module/dcbm/parameters/{k}"), v);
    }
    t
}

#[test]
fn parameters_only_layout_is_read_and_written() {
    let t = upstream_v6_tree();
    t.policy(
        "[offload]\nenabled = true\nchannels = 2\nreasons = [\"demotion\"]\n\
         [conditions]\ndrivers = [\"swdma\"]\n[counters]\nreset = \"on-apply\"\n",
    );
    let o = t.run(&["apply"]);
    assert_eq!(o.code, 0, "{o:?}");
    let param = |k: &str| t.get(&format!("sys/module/dcbm/parameters/{k}"));
    assert_eq!(param("nr_dma_chan"), "2\n");
    assert_eq!(param("reason_mask"), "demotion\n");
    assert_eq!(param("folios_migrated"), "0\n");
    assert_eq!(param("offloading"), "1\n");
    // Nothing created beside parameters/.
    let top: Vec<_> = fs::read_dir(t.path("sys/module/dcbm"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(top, ["parameters"]);
    let o = t.run(&["check"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(
        o.stdout.contains("interface v6, parameters layout"),
        "{o:?}"
    );
    let o = t.run(&["status", "--interval", "0"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(
        o.stdout.contains("interface:       v6 (parameters/ only)"),
        "{o:?}"
    );
    assert!(o.stdout.contains("reason_mask:     demotion\n"), "{o:?}");
    assert!(!o.stdout.contains("timeout_ms"), "{o:?}");
    assert_eq!(t.run(&["metrics"]).code, 0);
    // `off` and the bool parameter's Y/N.
    t.put("sys/module/dcbm/parameters/offloading", "Y");
    assert_eq!(t.run(&["off"]).code, 0);
    assert_eq!(param("offloading"), "0\n");

    // A knob this driver does not have: refused by name, nothing written.
    t.policy("[offload]\nenabled = true\ntimeout_ms = 5000\n");
    let snap = t.snapshot();
    let o = t.run(&["apply"]);
    assert_eq!(o.code, 6, "{o:?}");
    assert!(
        o.stderr
            .contains("the policy sets timeout_ms but the module (interface v6, parameters layout) has no such attribute"),
        "{o:?}"
    );
    t.unchanged_since(&snap);
}

/// dcbm on v6 has each knob behind both names: the top-level file is used.
#[test]
fn both_layouts_present_the_top_level_file_is_used() {
    let t = v6_tree();
    t.put("sys/module/dcbm/parameters/nr_dma_chan", "1");
    t.put("sys/module/dcbm/parameters/reason_mask", V6_REASONS);
    t.policy(&policy_with(r#"["numa_misplaced"]"#));
    assert_eq!(t.run(&["apply"]).code, 0);
    assert_eq!(t.attr("nr_dma_chan"), "4");
    assert_eq!(t.attr("reason_mask"), "numa_misplaced");
    assert_eq!(t.get("sys/module/dcbm/parameters/nr_dma_chan"), "1\n");
    assert_eq!(
        t.get("sys/module/dcbm/parameters/reason_mask"),
        format!("{V6_REASONS}\n")
    );
}
