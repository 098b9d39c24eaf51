//! `off` holds: recorded in `<state-dir>/off`, it survives the unit's
//! re-runs (`apply --unless-off`, which udev starts when a DMA channel or
//! the dcbm module is added) until `apply` or `revert` ends it.

use std::fs;
use std::path::PathBuf;

use serde_json::{json, Value};

use crate::common::*;

fn marker(t: &Tree) -> PathBuf {
    t.path("run/dcbm/off")
}

/// The time the marker records (its first line: `off since <time>`).
fn since(t: &Tree) -> String {
    let text = fs::read_to_string(marker(t)).unwrap();
    let first = text.lines().next().unwrap();
    first
        .strip_prefix("off since ")
        .unwrap_or_else(|| panic!("{text}"))
        .to_string()
}

fn json_of(o: &Out) -> Value {
    serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}: {o:?}"))
}

fn notified(t: &Tree, n: &NotifySocket, args: &[&str]) -> (Out, Vec<String>) {
    let o: Out = t
        .cmd(args)
        .env("NOTIFY_SOCKET", &n.path)
        .output()
        .unwrap()
        .into();
    (o, n.messages())
}

/// SWDMA applied, then `off`.
fn switched_off_tree() -> Tree {
    let t = swdma_tree();
    t.policy(SWDMA);
    assert_eq!(t.run(&["apply"]).code, 0);
    let o = t.run(&["off"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(t.attr("offloading"), "0");
    t
}

/// A `--modprobe` script that loads a default module into the tree and
/// leaves `ran` behind.
fn modprobe_script(t: &Tree, ran: &std::path::Path) -> String {
    let m = t.path("sys/module/dcbm");
    let mut script = format!(
        "touch '{}'; mkdir -p '{}' && cd '{}'",
        ran.display(),
        m.display(),
        m.display()
    );
    for (k, v) in MODULE_DEFAULTS {
        script += &format!(" && echo {v} > {k}");
    }
    script
}

#[test]
fn off_is_recorded_and_says_until_when() {
    let t = switched_off_tree();
    let text = fs::read_to_string(marker(&t)).unwrap();
    let when = since(&t);
    // `YYYY-MM-DD hh:mm:ss UTC`
    assert_eq!(when.len(), 23, "{when}");
    assert!(when.ends_with(" UTC"), "{when}");
    assert!(text.contains("`dcbm-config apply`"), "{text}");
    assert!(
        text.contains("systemctl disable dcbm-config.service"),
        "{text}"
    );
    // What `off` said.
    let t2 = swdma_tree();
    t2.policy(SWDMA);
    assert_eq!(t2.run(&["apply"]).code, 0);
    let o = t2.run(&["off"]);
    assert!(
        o.stdout
            .starts_with("wrote offloading: 1 -> 0\noffload off"),
        "{o:?}"
    );
    assert!(
        o.stdout
            .contains("kept off until `dcbm-config apply`, `revert` or a reboot"),
        "{o:?}"
    );
}

#[test]
fn apply_unless_off_writes_nothing_while_off_and_tells_the_unit() {
    let t = switched_off_tree();
    let when = since(&t);
    let want_status = format!(
        "STATUS=offload off: switched off by `dcbm-config off` at {when}; `dcbm-config apply` turns it on"
    );
    let n = NotifySocket::new(&t);
    let snap = t.snapshot();
    let (o, m) = notified(&t, &n, &["apply", "--unless-off"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(
        o.stdout.contains(&format!(
            "nothing to write: offload switched off by `dcbm-config off` at {when}"
        )),
        "{o:?}"
    );
    assert_eq!(m, [want_status.as_str()]);
    t.unchanged_since(&snap);
    assert_eq!(t.attr("offloading"), "0");

    // --strict changes nothing: the administrator's choice is no failure.
    let (o, _) = notified(&t, &n, &["apply", "--unless-off", "--strict"]);
    assert_eq!(o.code, 0, "{o:?}");
    // --json says so.
    let o = t.run(&["apply", "--unless-off", "--json"]);
    assert_eq!(o.code, 0, "{o:?}");
    let v = json_of(&o);
    assert_eq!(v["result"], "switched-off", "{v}");
    assert_eq!(v["exit_code"], 0);
    assert_eq!(v["switched_off"]["since"], when.as_str());
    assert_eq!(v["written"], json!([]));
    // A dry run likewise, and sends no status.
    let (o, m) = notified(&t, &n, &["apply", "--unless-off", "--dry-run"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(
        o.stdout.contains("nothing to write: offload switched off"),
        "{o:?}"
    );
    assert!(m.is_empty(), "{m:?}");
    t.unchanged_since(&snap);

    // Hot-plug: a DMA channel added.
    let t = t.with_channel(1, 0, "swdma.1", Some("swdma"));
    let (o, m) = notified(&t, &n, &["apply", "--unless-off"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(m, [want_status.as_str()]);
    assert_eq!(t.attr("offloading"), "0");

    // The policy is not even read: a broken one fails no unit while off.
    t.policy("[offload]\nenabled = 3\n");
    let (o, m) = notified(&t, &n, &["apply", "--unless-off"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(m, [want_status.as_str()]);
    t.policy(SWDMA);

    // The module unloaded, then loaded again: no modprobe, nothing written.
    fs::remove_dir_all(t.path("sys/module/dcbm")).unwrap();
    let ran = t.path("modprobe-ran");
    let script = modprobe_script(&t, &ran);
    let (o, m) = notified(&t, &n, &["apply", "--unless-off", "--modprobe", &script]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(!ran.exists(), "apply --unless-off loaded the module: {o:?}");
    assert_eq!(m, [want_status.as_str()]);
    let t = t.with_module(&[]);
    let snap = t.snapshot();
    let (o, m) = notified(&t, &n, &["apply", "--unless-off"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(m, [want_status.as_str()]);
    t.unchanged_since(&snap);
    assert_eq!(since(&t), when);
}

#[test]
fn plain_apply_ends_the_off_and_applies() {
    let t = switched_off_tree();
    let text = fs::read_to_string(marker(&t)).unwrap();
    let when = since(&t);

    // A dry run says the off would end, and ends nothing.
    let o = t.run(&["apply", "--dry-run"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(
        o.stdout
            .contains(&format!("would end the `dcbm-config off` of {when}")),
        "{o:?}"
    );
    assert_eq!(fs::read_to_string(marker(&t)).unwrap(), text);

    // A bad policy changes nothing, the off included.
    t.policy("[offload]\nenabled = 3\n");
    assert_eq!(t.run(&["apply"]).code, 3);
    assert_eq!(fs::read_to_string(marker(&t)).unwrap(), text);
    t.policy(SWDMA);

    // A write that fails (timeout_ms: see `limit_writes_to_3_bytes`) is
    // rolled back, and the off stays in force.
    t.set_attr("timeout_ms", "10000");
    let mut c = t.cmd(&["apply"]);
    limit_writes_to_3_bytes(&mut c);
    let o: Out = c.output().unwrap().into();
    assert_eq!(o.code, 7, "{o:?}");
    assert!(o.stderr.contains("apply failed at timeout_ms"), "{o:?}");
    assert_eq!(t.attr("offloading"), "0");
    assert_eq!(fs::read_to_string(marker(&t)).unwrap(), text);
    assert!(!o.stdout.contains("ended the"), "{o:?}");
    t.set_attr("timeout_ms", "20000");

    // `apply` ends it and applies the policy.
    let n = NotifySocket::new(&t);
    let (o, m) = notified(&t, &n, &["apply"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("wrote offloading: 0 -> 1"), "{o:?}");
    assert!(
        o.stdout.contains(&format!(
            "ended the `dcbm-config off` of {when}: removed {}",
            marker(&t).display()
        )),
        "{o:?}"
    );
    assert_eq!(m, ["STATUS=offload on: policy applied, 4 DMA channel(s)"]);
    assert!(!marker(&t).exists());
    assert_eq!(
        fs::read_dir(t.path("run/dcbm"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .contains("off")
            })
            .count(),
        0,
        "a copy of the marker was left behind"
    );
    // From now on the unit's runs follow the policy again.
    t.set_attr("nr_dma_chan", "2");
    let o = t.run(&["apply", "--unless-off"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("wrote nr_dma_chan: 2 -> 4"), "{o:?}");

    // An off with nothing to write ends too, by `apply` with nothing to
    // write (the module absent, the policy keeping offload off).
    let t = Tree::new();
    t.policy("[offload]\nenabled = false\n");
    assert_eq!(t.run(&["off"]).code, 0);
    assert!(marker(&t).exists());
    let o = t.run(&["apply"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("ended the `dcbm-config off`"), "{o:?}");
    assert!(!marker(&t).exists());
}

#[test]
fn status_and_check_report_the_off() {
    let t = switched_off_tree();
    let when = since(&t);
    let o = t.run(&["status", "--interval", "0"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(
        o.stdout.contains(&format!(
            "offloading:      0\nswitched off:    by `dcbm-config off` at {when}, until `dcbm-config apply` or a reboot\n"
        )),
        "{o:?}"
    );
    let v: Value =
        serde_json::from_str(&t.run(&["status", "--json", "--interval", "0"]).stdout).unwrap();
    assert_eq!(v["switched_off"]["since"], when.as_str(), "{v}");
    assert_eq!(
        v["switched_off"]["file"],
        marker(&t).display().to_string().as_str()
    );

    // check: not in sync, by the administrator's choice (12).
    let o = t.run(&["check"]);
    assert_eq!(o.code, 12, "{o:?}");
    let row = o
        .stdout
        .lines()
        .find(|l| l.starts_with("offloading "))
        .unwrap();
    assert_eq!(
        row.split_whitespace().collect::<Vec<_>>(),
        ["offloading", "0", "1", "off"],
        "{o:?}"
    );
    assert!(
        o.stdout.contains(&format!(
            "offload switched off by `dcbm-config off` at {when}; `dcbm-config apply` turns it on"
        )),
        "{o:?}"
    );
    let o = t.run(&["check", "--json"]);
    assert_eq!(o.code, 12, "{o:?}");
    let v = json_of(&o);
    assert_eq!(v["result"], "switched-off", "{v}");
    assert_eq!(v["switched_off"]["since"], when.as_str());
    let row = v["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["attribute"] == "offloading")
        .unwrap();
    assert_eq!(
        row,
        &json!({"attribute": "offloading", "live": 0, "policy": 1, "state": "off"})
    );
    // --strict: still 12.
    assert_eq!(t.run(&["check", "--strict"]).code, 12);
    // Drift in another knob is drift still.
    t.set_attr("timeout_ms", "5");
    assert_eq!(t.run(&["check"]).code, 4);
    t.set_attr("timeout_ms", "20000");
    // Offload switched on behind dcbm-config's back is drift, said so.
    t.set_attr("offloading", "1");
    let o = t.run(&["check"]);
    assert_eq!(o.code, 4, "{o:?}");
    assert!(
        o.stdout
            .contains("offloading is 1 although `dcbm-config off` is in force"),
        "{o:?}"
    );
    t.set_attr("offloading", "0");
    // The module unloaded: not needed while off.
    fs::remove_dir_all(t.path("sys/module/dcbm")).unwrap();
    let o = t.run(&["check"]);
    assert_eq!(o.code, 12, "{o:?}");
    assert!(
        o.stdout
            .contains("module: not loaded (offload switched off by `dcbm-config off`"),
        "{o:?}"
    );
    let o = t.run(&["status", "--interval", "0"]);
    assert!(
        o.stdout
            .contains("module:          not loaded\nswitched off:    by `dcbm-config off`"),
        "{o:?}"
    );

    // After `apply`: nothing of it.
    let t = switched_off_tree();
    assert_eq!(t.run(&["apply"]).code, 0);
    assert_eq!(t.run(&["check"]).code, 0);
    let o = t.run(&["status", "--interval", "0"]);
    assert!(!o.stdout.contains("switched off"), "{o:?}");
    let v: Value =
        serde_json::from_str(&t.run(&["status", "--json", "--interval", "0"]).stdout).unwrap();
    assert_eq!(v["switched_off"], Value::Null);
}

#[test]
fn the_record_is_atomic_and_a_second_off_keeps_the_first() {
    let t = switched_off_tree();
    let text = fs::read_to_string(marker(&t)).unwrap();
    // Written by rename: no temporary file left.
    let names: Vec<String> = fs::read_dir(t.path("run/dcbm"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("off"))
        .collect();
    assert_eq!(names, ["off"]);
    // A second `off` writes nothing and keeps the first one's time.
    let snap = t.snapshot();
    let o = t.run(&["off"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("nothing to write"), "{o:?}");
    assert!(
        o.stdout
            .contains(&format!("kept off (since {})", since(&t))),
        "{o:?}"
    );
    t.unchanged_since(&snap);
    assert_eq!(fs::read_to_string(marker(&t)).unwrap(), text);

    // A link planted at the marker's place is replaced, never followed.
    let t = swdma_tree();
    fs::create_dir_all(t.path("run/dcbm")).unwrap();
    let victim = t.path("victim");
    std::os::unix::fs::symlink(&victim, marker(&t)).unwrap();
    assert_eq!(t.run(&["off"]).code, 0);
    assert!(!victim.exists());
    assert!(fs::symlink_metadata(marker(&t)).unwrap().is_file());

    // Module absent: `off` holds for when it is loaded.
    let t = Tree::new().with_channels(0, 4, "swdma.0", Some("swdma"));
    t.policy(SWDMA);
    let o = t.run(&["off"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(
        o.stdout.contains("dcbm module not loaded: offload is off"),
        "{o:?}"
    );
    let ran = t.path("modprobe-ran");
    let script = modprobe_script(&t, &ran);
    assert_eq!(
        t.run(&["apply", "--unless-off", "--modprobe", &script])
            .code,
        0
    );
    assert!(!ran.exists());

    // A failed `off` (a malformed attribute: nothing written) records nothing.
    let t = swdma_tree();
    t.policy(SWDMA);
    assert_eq!(t.run(&["apply"]).code, 0);
    t.set_attr("folios_migrated", "-3");
    let o = t.run(&["off"]);
    assert_eq!(o.code, 1, "{o:?}");
    assert_eq!(t.attr("offloading"), "1");
    assert!(!marker(&t).exists());
}

/// Without an `off` in force, `--unless-off` changes nothing: same output,
/// same writes, same status line, same JSON.
#[test]
fn apply_unless_off_without_an_off_is_apply() {
    let trees = || {
        let (a, b) = (swdma_tree(), swdma_tree());
        a.policy(SWDMA);
        b.policy(SWDMA);
        (a, b)
    };
    let run_both = |a: &Tree, b: &Tree, args: &[&str]| {
        let n = (NotifySocket::new(a), NotifySocket::new(b));
        let (oa, ma) = notified(a, &n.0, &[&["apply"], args].concat());
        let (ob, mb) = notified(b, &n.1, &[&["apply", "--unless-off"], args].concat());
        fs::remove_file(&n.0.path).unwrap();
        fs::remove_file(&n.1.path).unwrap();
        let tidy = |s: &str, t: &Tree| s.replace(&t.root().display().to_string(), "ROOT");
        assert_eq!(oa.code, ob.code, "{args:?}: {oa:?}\n{ob:?}");
        assert_eq!(tidy(&oa.stdout, a), tidy(&ob.stdout, b), "{args:?}");
        assert_eq!(tidy(&oa.stderr, a), tidy(&ob.stderr, b), "{args:?}");
        let tidied = |m: Vec<String>, t: &Tree| m.iter().map(|s| tidy(s, t)).collect::<Vec<_>>();
        assert_eq!(tidied(ma, a), tidied(mb, b), "{args:?}");
        let loaded = a.path("sys/module/dcbm").exists();
        assert_eq!(loaded, b.path("sys/module/dcbm").exists(), "{args:?}");
        for (k, _) in MODULE_DEFAULTS.iter().filter(|_| loaded) {
            assert_eq!(a.attr(k), b.attr(k), "{args:?}: {k}");
        }
        oa.code
    };
    let (a, b) = trees();
    assert_eq!(run_both(&a, &b, &["--dry-run"]), 0);
    assert_eq!(run_both(&a, &b, &[]), 0);
    assert_eq!(a.attr("offloading"), "1");
    assert_eq!(run_both(&a, &b, &[]), 0);
    assert_eq!(run_both(&a, &b, &["--json"]), 0);
    // A bad policy: the same error.
    a.policy("[offload]\nenabled = 3\n");
    b.policy("[offload]\nenabled = 3\n");
    assert_eq!(run_both(&a, &b, &[]), 3);
    assert_eq!(run_both(&a, &b, &["--json"]), 3);
    // The module absent and modprobe finding none: 11 for both.
    let (a, b) = (
        Tree::new().with_channels(0, 4, "swdma.0", Some("swdma")),
        Tree::new().with_channels(0, 4, "swdma.0", Some("swdma")),
    );
    a.policy(SWDMA);
    b.policy(SWDMA);
    assert_eq!(run_both(&a, &b, &[]), 11);
}

#[test]
fn revert_ends_the_off() {
    let t = switched_off_tree();
    let when = since(&t);
    let o = t.run(&["revert"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("wrote offloading: 0 -> 1"), "{o:?}");
    assert!(
        o.stdout
            .contains(&format!("ended the `dcbm-config off` of {when}")),
        "{o:?}"
    );
    assert!(!marker(&t).exists());
    assert_eq!(t.run(&["check"]).code, 0);
    // Nothing recorded to revert to: the off ends all the same.
    let t = Tree::new();
    t.policy(SWDMA);
    assert_eq!(t.run(&["off"]).code, 0);
    let o = t.run(&["revert"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("nothing to revert"), "{o:?}");
    assert!(!marker(&t).exists());
}

/// The boot unit runs `apply --unless-off`, and udev only ever
/// try-restarts it: a unit the administrator disabled and stopped is
/// never started by a hot-plug event.
#[test]
fn the_unit_and_the_udev_rule_never_undo_off() {
    let dist = concat!(env!("CARGO_MANIFEST_DIR"), "/dist");
    let unit = fs::read_to_string(format!("{dist}/dcbm-config.service")).unwrap();
    assert!(
        unit.lines()
            .any(|l| l == "ExecStart=/usr/bin/dcbm-config apply --unless-off"),
        "{unit}"
    );
    // /run/dcbm (and the record of `off`) outlives a stop of the unit.
    assert!(unit.lines().any(|l| l == "RuntimeDirectoryPreserve=yes"));
    let rules = fs::read_to_string(format!("{dist}/90-dcbm.rules")).unwrap();
    let runs: Vec<&str> = rules
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains("systemctl"))
        .collect();
    assert_eq!(runs.len(), 2, "{rules}");
    for l in runs {
        assert!(l.contains("ACTION==\"add\""), "{l}");
        assert!(
            l.contains("RUN+=\"/bin/systemctl --no-block try-restart dcbm-config.service\""),
            "{l}"
        );
    }
}
