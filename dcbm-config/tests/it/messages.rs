//! What the tool says: located, naming the key, never misleading.

use crate::common::*;

#[test]
fn invalid_utf8_is_located() {
    let t = Tree::new();
    let p = t.policy("");
    std::fs::write(&p, b"[offload]\nen\xffabled = true\n").unwrap();
    let o = t.run(&["validate"]);
    assert_eq!(o.code, 3, "{o:?}");
    assert!(
        o.stderr
            .contains(&format!("{}:2:3: invalid UTF-8", p.display())),
        "{o:?}"
    );
}

#[test]
fn table_array_and_zero_node_count_name_the_key() {
    let t = Tree::new();
    let p = t.policy("[[offload]]\nenabled = true\n");
    let o = t.run(&["validate"]);
    assert_eq!(o.code, 3, "{o:?}");
    assert!(
        o.stderr.contains(&format!(
            "{}:1:1: `[[offload]]` is an array of tables",
            p.display()
        )),
        "{o:?}"
    );
    assert!(!o.stderr.contains("boolean"), "{o:?}");
    t.policy("[conditions]\nmin_numa_nodes = 0\n");
    let o = t.run(&["validate"]);
    assert!(
        o.stderr
            .contains("2:18: min_numa_nodes = 0 is out of range 1..=1024"),
        "{o:?}"
    );
}

#[test]
fn huge_unknown_key_is_not_echoed_whole() {
    let t = Tree::new();
    t.policy(&format!("[offload]\n{} = 1\n", "x".repeat(100_000)));
    let o = t.run(&["validate"]);
    assert_eq!(o.code, 3, "{o:?}");
    assert!(o.stderr.contains("unknown field `xxxx"), "{o:?}");
    assert!(o.stderr.contains("(100000 characters)"), "{o:?}");
    assert!(o.stderr.len() < 500, "{} bytes of stderr", o.stderr.len());
}

#[test]
fn validate_lists_the_conditions() {
    let t = Tree::new();
    t.policy(
        "[offload]\nenabled = true\nchannels = 4\n[conditions]\nmin_channels = 2\n\
         min_numa_nodes = 2\nmin_cpuless_memory_nodes = 1\nrequire_demotion = true\n\
         min_kernel = \"6.8\"\n",
    );
    let o = t.run(&["validate"]);
    assert_eq!(o.code, 0, "{o:?}");
    for kv in [
        "min_channels=2",
        "min_numa_nodes=2",
        "min_cpuless_memory_nodes=1",
        "require_demotion=true",
        "min_kernel=6.8.0",
    ] {
        assert!(o.stdout.contains(kv), "{kv}: {o:?}");
    }
}

/// No provider and no module while the policy wants offload: `check` must
/// not claim offload is off "as the policy wants".
#[test]
fn check_says_offload_is_held_off_not_wanted_off() {
    let t = Tree::new();
    t.policy(SWDMA);
    let o = t.run(&["check"]);
    assert_eq!(o.code, 5, "{o:?}");
    assert!(!o.stdout.contains("as the policy wants"), "{o:?}");
    assert!(o.stdout.contains("offload held off"), "{o:?}");
    t.policy("[offload]\nenabled = false\n");
    let o = t.run(&["check"]);
    assert!(o.stdout.contains("as the policy wants"), "{o:?}");
}

/// `validate` and `apply` refuse `body` (exit 3, nothing written) with a
/// message at `line:col` of the policy; returns the message after the
/// location.
fn refused_at(t: &Tree, body: &str, line: usize, col: usize) -> String {
    let p = t.policy(body);
    let snap = t.snapshot();
    let o = t.run(&["validate"]);
    assert_eq!(o.code, 3, "{o:?}");
    let applied = t.run(&["apply"]);
    assert_eq!(applied.code, 3, "{applied:?}");
    assert_eq!(applied.stderr, o.stderr);
    t.unchanged_since(&snap);
    let at = format!("dcbm-config: error: {}:{line}:{col}: ", p.display());
    let msg = o
        .stderr
        .strip_prefix(&at)
        .unwrap_or_else(|| panic!("not at {line}:{col}: {o:?}"));
    msg.trim_end().to_string()
}

/// A 300,000-character value is echoed as its first characters and its
/// length, wherever the message comes from. (toml locates an error in a
/// list item at the list.)
#[test]
fn a_huge_value_is_not_echoed_whole() {
    let t = swdma_tree();
    let huge = "x".repeat(300_000);
    for (body, col) in [
        (format!("[offload]\nchannels = \"{huge}\"\n"), 12),
        (format!("[offload]\nreasons = \"{huge}\"\n"), 11),
        (format!("[offload]\nreasons = [\"{huge}\"]\n"), 11),
        (format!("[offload]\ntimeout_ms = \"{huge}\"\n"), 14),
        (format!("[conditions]\nmin_kernel = \"{huge}\"\n"), 14),
        (format!("[conditions]\ndrivers = [\"{huge}\"]\n"), 11),
        (format!("[conditions]\nrequire_demotion = \"{huge}\"\n"), 20),
        (format!("[counters]\nreset = \"{huge}\"\n"), 9),
    ] {
        let key = body.lines().nth(1).unwrap().split(' ').next().unwrap();
        let msg = refused_at(&t, &body, 2, col);
        assert!(
            msg.len() < 1000,
            "{key}: {} bytes: {}",
            msg.len(),
            &msg[..200]
        );
        assert!(msg.contains("(300000 characters)"), "{key}: {msg}");
        assert!(msg.contains(key), "{key}: {msg}");
    }
}

/// Wrong types and sizes are said in the policy's words, not serde's.
#[test]
fn wrong_types_are_said_in_the_operators_words() {
    let t = swdma_tree();
    for (body, col, want) in [
        (
            "[offload]\ntimeout_ms = \"5\"\n",
            14,
            "timeout_ms = \"5\": expected a whole number 1..=600000 (without quotes)",
        ),
        (
            "[offload]\ntimeout_ms = 1.5\n",
            14,
            "timeout_ms = 1.5: expected a whole number 1..=600000",
        ),
        (
            "[offload]\nmin_batch_bytes = 1e3\n",
            19,
            "min_batch_bytes = 1e3: expected a whole number 0..=1073741824",
        ),
        (
            "[offload]\ntimeout_ms = 99999999999999999999\n",
            14,
            "timeout_ms = 99999999999999999999 is out of range 1..=600000",
        ),
        (
            "[offload]\ntimeout_ms = 1_000_000_000_000_000_000_000_000_000_000_000_000_000_000\n",
            14,
            "timeout_ms = 1_000_000_000_000_000_000_000_000_000_000_000_000_000_000 is out of range \
             (too many digits)",
        ),
        (
            "[offload]\nmin_folio_bytes = 18446744073709551615\n",
            19,
            "min_folio_bytes = 18446744073709551615 is out of range 0..=1073741824",
        ),
        (
            "[offload]\nchannels = -99999999999999999999\n",
            12,
            "channels = -99999999999999999999 is out of range 1..=16 (or \"auto\")",
        ),
        (
            "[offload]\ntimeout_ms = -5\n",
            14,
            "timeout_ms = -5 is out of range 1..=600000",
        ),
        (
            "[offload]\nchannels = true\n",
            12,
            "channels = true: expected a whole number 1..=16 or \"auto\"",
        ),
        (
            "[offload]\nenabled = \"yes\"\n",
            11,
            "enabled = \"yes\": expected true or false",
        ),
        (
            "[conditions]\nrequire_provider = 1\n",
            20,
            "require_provider = 1: expected true or false",
        ),
        (
            "[conditions]\ndrivers = \"ptdma\"\n",
            11,
            "drivers = \"ptdma\": expected a list",
        ),
        (
            "[conditions]\ndrivers = [\"ptdma\", 1]\n",
            21,
            "drivers: list item 1: expected a driver name in quotes",
        ),
        (
            "[conditions]\nmin_kernel = 6.8\n",
            14,
            "min_kernel = 6.8: expected a kernel version in quotes, like \"6.8\"",
        ),
        (
            "[counters]\nreset = 1\n",
            9,
            "reset = 1: expected \"never\", \"on-apply\" or \"once-per-boot\"",
        ),
        (
            "[counters]\nreset = \"daily\"\n",
            9,
            "reset = \"daily\": expected \"never\", \"on-apply\" or \"once-per-boot\"",
        ),
        ("offload = 5\n", 11, "offload = 5: expected a table"),
    ] {
        let msg = refused_at(&t, body, 2.min(body.lines().count()), col);
        assert_eq!(msg, want, "{body}");
    }
}

#[test]
fn a_table_or_key_given_twice_is_named_with_both_places() {
    let t = swdma_tree();
    let msg = refused_at(
        &t,
        "[offload]\nenabled = true\n[conditions]\n[offload]\nchannels = 2\n",
        4,
        2,
    );
    assert_eq!(
        msg,
        "the table [offload] is defined twice (first at line 1)"
    );
    let msg = refused_at(&t, "offload.enabled = true\n[counters]\n[offload]\n", 3, 2);
    assert_eq!(
        msg,
        "the table [offload] is defined twice (first at line 1)"
    );
    let msg = refused_at(&t, "[offload]\nenabled = true\nenabled = false\n", 3, 1);
    assert_eq!(
        msg,
        "the key `enabled` is set twice in [offload] (first at line 2)"
    );
}
