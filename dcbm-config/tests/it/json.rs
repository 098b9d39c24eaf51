//! `apply --json` and `check --json`: one JSON object on stdout, for fleet
//! tooling, whatever the outcome.

use crate::common::*;
use serde_json::{json, Value};

fn json_of(o: &Out) -> Value {
    serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}: {o:?}"))
}

#[test]
fn apply_json_reports_plan_writes_and_result() {
    let t = swdma_tree();
    t.policy(SWDMA);
    let o = t.run(&["apply", "--json", "--dry-run"]);
    assert_eq!(o.code, 0, "{o:?}");
    let v = json_of(&o);
    assert_eq!(v["result"], "planned");
    assert_eq!(v["plan"].as_array().unwrap().len(), 5, "{v}");
    assert_eq!(v["written"], json!([]));

    let o = t.run(&["apply", "--json"]);
    assert_eq!(o.code, 0, "{o:?}");
    let v = json_of(&o);
    assert_eq!(v["result"], "applied");
    assert_eq!(v["exit_code"], 0);
    assert_eq!(
        v["written"][0],
        json!({"attr": "nr_dma_chan", "from": 1, "to": 4})
    );
    assert_eq!(
        v["written"][4],
        json!({"attr": "offloading", "from": 0, "to": 1})
    );
    assert_eq!(v["usable_channels"].as_array().unwrap().len(), 4);

    let v = json_of(&t.run(&["apply", "--json"]));
    assert_eq!(v["result"], "nothing-to-write");
    assert_eq!(v["plan"], json!([]));
}

#[test]
fn apply_json_reports_a_rollback() {
    let t = swdma_tree();
    t.policy(SWDMA);
    let mut c = t.cmd(&["apply", "--json"]);
    limit_writes_to_3_bytes(&mut c);
    let o: Out = c.output().unwrap().into();
    assert_eq!(o.code, 7, "{o:?}");
    let v = json_of(&o);
    assert_eq!(v["result"], "failed");
    assert_eq!(v["exit_code"], 7);
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("apply failed at timeout_ms"),
        "{v}"
    );
    assert_eq!(
        v["rolled_back"],
        json!([{"attr": "nr_dma_chan", "from": 1, "to": 4}])
    );
}

#[test]
fn check_json_reports_attributes_and_verdict() {
    let t = swdma_tree();
    t.policy(SWDMA);
    let o = t.run(&["check", "--json"]);
    assert_eq!(o.code, 4, "{o:?}");
    let v = json_of(&o);
    assert_eq!(v["result"], "drift");
    let row = v["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["attribute"] == "nr_dma_chan")
        .unwrap();
    assert_eq!(
        row,
        &json!({"attribute": "nr_dma_chan", "live": 1, "policy": 4, "state": "drift"})
    );
    assert_eq!(t.run(&["apply"]).code, 0);
    let v = json_of(&t.run(&["check", "--json"]));
    assert_eq!(v["result"], "in-sync");
    // No provider: says so, with the failed condition.
    let t = Tree::new().with_module(&[]);
    t.policy(SWDMA);
    let o = t.run(&["check", "--json"]);
    assert_eq!(o.code, 5, "{o:?}");
    let v = json_of(&o);
    assert_eq!(v["result"], "provider-missing");
    assert_eq!(v["conditions_failed"][0]["condition"], "require_provider");
    // A bad policy is still one JSON object.
    t.policy("[offload]\nenable = true\n");
    let o = t.run(&["check", "--json"]);
    assert_eq!(o.code, 3, "{o:?}");
    assert!(json_of(&o)["error"]
        .as_str()
        .unwrap()
        .contains("unknown field"));
}

/// A refused policy writes nothing, yet the JSON still tells the module's
/// real state: loaded or not.
#[test]
fn json_of_a_refused_policy_tells_whether_the_module_is_loaded() {
    for loaded in [true, false] {
        let t = Tree::new().with_channels(0, 4, "swdma.0", Some("swdma"));
        let t = if loaded { t.with_module(&[]) } else { t };
        t.policy("[offload]\nenabled = true\nchannels = 0\n");
        let snap = t.snapshot();
        for cmd in ["apply", "check"] {
            let o = t.run(&[cmd, "--json"]);
            assert_eq!(o.code, 3, "{cmd}: {o:?}");
            let v = json_of(&o);
            assert_eq!(v["result"], "failed", "{cmd}: {v}");
            assert_eq!(v["module_loaded"], loaded, "{cmd}: {v}");
        }
        t.unchanged_since(&snap);
    }
}
