//! What the tool says: located, naming the key, never misleading.

mod common;

use common::*;

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
