//! Loading the module: bounded by --load-timeout-ms, confined to the fake
//! root, and marked so that the udev rule does not restart the boot unit
//! for the module the unit is loading itself.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use crate::common::*;

#[test]
fn hanging_modprobe_is_killed_at_the_load_timeout() {
    let t = Tree::new().with_channels(0, 4, "swdma.0", Some("swdma"));
    t.policy(SWDMA);
    let grandchild = t.path("grandchild-alive");
    let cmd = format!("(sleep 30; touch {}) & sleep 30", grandchild.display());
    let start = Instant::now();
    let o: Out = t
        .cmd(&["apply", "--modprobe", &cmd, "--load-timeout-ms", "300"])
        .output()
        .unwrap()
        .into();
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(o.code, 6, "{o:?}");
    assert!(o.stderr.contains("did not finish within 300 ms"), "{o:?}");
    // The whole process group is gone, not only `sh`.
    let out = std::process::Command::new("pgrep")
        .args(["-f", &format!("touch {}", grandchild.display())])
        .output();
    if let Ok(out) = out {
        assert!(out.stdout.is_empty(), "a child of modprobe survived");
    }
    assert!(!t.path(&format!("run/dcbm/{}", "loaded-by-apply")).exists());
}

/// With a fake root and no --modprobe, nothing is run: the host's module
/// must not be loaded for a fake tree.
#[test]
fn fake_root_never_runs_the_hosts_modprobe() {
    let t = Tree::new().with_channels(0, 4, "swdma.0", Some("swdma"));
    t.policy(SWDMA);
    let bin = t.path("bin");
    fs::create_dir(&bin).unwrap();
    let ran = t.path("modprobe-ran");
    fs::write(
        bin.join("modprobe"),
        format!("#!/bin/sh\ntouch {}\n", ran.display()),
    )
    .unwrap();
    fs::set_permissions(bin.join("modprobe"), fs::Permissions::from_mode(0o755)).unwrap();
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_dcbm-config"));
    c.env_remove("DCBM_MODPROBE")
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .arg("--sysfs-root")
        .arg(t.root())
        .arg("--config")
        .arg(t.path("etc/dcbm.toml"))
        .arg("apply");
    let o: Out = c.output().unwrap().into();
    assert_eq!(o.code, 6, "{o:?}");
    assert!(o.stderr.contains("unless --modprobe says how"), "{o:?}");
    assert!(!ran.exists(), "the host's modprobe ran for a fake root");
}

#[test]
fn loading_marks_the_module_as_loaded_by_apply() {
    let t = Tree::new().with_channels(0, 4, "swdma.0", Some("swdma"));
    t.policy(SWDMA);
    let marker = t.path("run/dcbm/loaded-by-apply");
    let seen = t.path("marker-seen");
    let m = t.path("sys/module/dcbm");
    // The marker exists while modprobe runs (when udev sees the module).
    let mut script = format!(
        "test -e '{}' && touch '{}'; mkdir -p '{}' && cd '{}'",
        marker.display(),
        seen.display(),
        m.display(),
        m.display()
    );
    for (k, v) in MODULE_DEFAULTS {
        script += &format!(" && echo {v} > {k}");
    }
    let o: Out = t
        .cmd(&["apply", "--modprobe", &script])
        .output()
        .unwrap()
        .into();
    assert_eq!(o.code, 0, "{o:?}");
    assert!(seen.exists(), "no marker while modprobe ran");
    assert!(marker.exists(), "the marker must outlive apply");
    // The udev rule skips the restart while the marker exists, and drops it
    // when the module goes.
    let rules =
        fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/dist/90-dcbm.rules")).unwrap();
    let add = rules
        .lines()
        .find(|l| l.contains("ACTION==\"add\"") && l.contains("SUBSYSTEM==\"module\""))
        .unwrap();
    assert!(add.contains("TEST!=\"/run/dcbm/loaded-by-apply\""), "{add}");
    assert!(
        rules
            .lines()
            .any(|l| l.contains("ACTION==\"remove\"")
                && l.contains("rm -f /run/dcbm/loaded-by-apply"))
    );
    // A failed load leaves no marker (no module for the kernel: 11).
    fs::remove_dir_all(t.path("sys/module")).unwrap();
    fs::remove_file(&marker).unwrap();
    assert_eq!(t.run(&["apply"]).code, 11);
    assert!(!marker.exists());
}

/// A `--modprobe` script that returns at once and leaves a background job
/// creating `files` (`(name, value)`, relative to sys/module/dcbm) one by
/// one, 100 ms apart, as sysfs does after a module is loaded.
fn late_module_script(t: &Tree, files: &[(&str, &str)]) -> String {
    let m = t.path("sys/module/dcbm");
    let mut job = String::new();
    for (name, value) in files {
        let p = m.join(name);
        job += &format!(
            "sleep 0.1; mkdir -p '{}'; echo {value} > '{}'; ",
            p.parent().unwrap().display(),
            p.display()
        );
    }
    format!("({job}) </dev/null >/dev/null 2>&1 &")
}

/// The upstream v6 driver's layout (only `parameters/`): the wait ends once
/// its files are all there, instead of waiting for the top-level files that
/// this layout never has.
#[test]
fn a_v6_module_whose_parameters_appear_late_is_applied() {
    let t = Tree::new().with_channels(0, 4, "swdma.0", Some("swdma"));
    t.policy(
        SWDMA
            .replace(
                "timeout_ms = 20000\nmin_batch_bytes = 262144\nmin_folio_bytes = 0\n",
                "",
            )
            .as_str(),
    );
    let script = late_module_script(
        &t,
        &[
            ("parameters/offloading", "N"),
            ("parameters/nr_dma_chan", "1"),
            ("parameters/reason_mask", "compaction,demotion"),
            ("parameters/folios_migrated", "0"),
            ("parameters/folios_failures", "0"),
        ],
    );
    let o = t.run(&["apply", "--modprobe", &script, "--load-timeout-ms", "5000"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("loading the dcbm module"), "{o:?}");
    let param = |k: &str| t.get(&format!("sys/module/dcbm/parameters/{k}"));
    assert_eq!(param("nr_dma_chan"), "4\n");
    assert_eq!(param("offloading"), "1\n");
    assert!(t.path("run/dcbm/loaded-by-apply").exists());
    // Nothing created beside parameters/.
    let top: Vec<_> = fs::read_dir(t.path("sys/module/dcbm"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(top, ["parameters"]);
}

/// Neither layout complete by the deadline: exit 6, each layout's missing
/// files named, nothing written, no marker left.
#[test]
fn a_module_with_no_complete_layout_names_what_is_missing() {
    let t = Tree::new().with_channels(0, 4, "swdma.0", Some("swdma"));
    t.policy(SWDMA);
    let script = late_module_script(
        &t,
        &[
            ("parameters/offloading", "N"),
            ("parameters/nr_dma_chan", "1"),
        ],
    );
    let o = t.run(&["apply", "--modprobe", &script, "--load-timeout-ms", "1000"]);
    assert_eq!(o.code, 6, "{o:?}");
    assert!(o.stderr.contains("did not show up within 1000 ms"), "{o:?}");
    assert!(
        o.stderr
            .contains("parameters/ lacks folios_migrated, folios_failures"),
        "{o:?}"
    );
    assert!(
        o.stderr.contains("top level lacks offloading, nr_dma_chan"),
        "{o:?}"
    );
    assert_eq!(t.get("sys/module/dcbm/parameters/offloading"), "N\n");
    assert!(!t.path("run/dcbm/loaded-by-apply").exists());
}

/// What `modprobe dcbm` prints on a kernel DKMS skipped (kmod's words).
const NOT_FOUND: &str = "echo 'modprobe: FATAL: Module dcbm not found in directory \
                         /lib/modules/6.8.0-45-generic' >&2; exit 1";
/// What it prints when dcbm.ko exists but the kernel refuses it.
const FAILS_TO_LOAD: &str = "echo \"modprobe: ERROR: could not insert 'dcbm': \
                             Exec format error\" >&2; exit 1";

/// No dcbm module for the running kernel (DKMS skipped it: the common case
/// on a stock kernel): exit 11, not 6, one line naming the kernel and where
/// DKMS says why; the boot unit's status line says so too.
#[test]
fn no_module_for_the_running_kernel_is_exit_11_saying_where_to_look() {
    let t = Tree::new().with_channels(0, 4, "swdma.0", Some("swdma"));
    t.policy(SWDMA);
    let notify = NotifySocket::new(&t);
    let o: Out = t
        .cmd(&["apply", "--modprobe", NOT_FOUND])
        .env("NOTIFY_SOCKET", &notify.path)
        .output()
        .unwrap()
        .into();
    assert_eq!(o.code, 11, "{o:?}");
    let err: Vec<&str> = o.stderr.lines().collect();
    assert_eq!(err.len(), 1, "one line: {o:?}");
    let version = env!("CARGO_PKG_VERSION");
    for want in [
        "dcbm-config: error: no dcbm module for the running kernel 6.8.0-45-generic",
        "Module dcbm not found in directory /lib/modules/6.8.0-45-generic",
        "offload stays off",
        "`dkms status dcbm`",
        &format!("`dkms build dcbm/{version} -k 6.8.0-45-generic`"),
        &format!("/var/lib/dkms/dcbm/{version}/build/make.log"),
    ] {
        assert!(err[0].contains(want), "{want:?} not in {o:?}");
    }
    assert_eq!(
        notify.messages(),
        [
            "STATUS=offload off: no dcbm module for kernel 6.8.0-45-generic \
          (DKMS did not build it); see `dkms status dcbm`"
        ]
    );
    assert!(!t.path("run/dcbm/loaded-by-apply").exists());
    // busybox's modprobe says it in its own words.
    let o = t.run(&[
        "apply",
        "--modprobe",
        "echo 'modprobe: module dcbm not found in modules.dep' >&2; exit 1",
    ]);
    assert_eq!(o.code, 11, "{o:?}");
}

/// A dcbm module that exists but fails to load is a fault: still exit 6
/// (a failed unit), with modprobe's words, and the status line says so.
#[test]
fn a_module_that_fails_to_load_is_still_exit_6() {
    let t = Tree::new().with_channels(0, 4, "swdma.0", Some("swdma"));
    t.policy(SWDMA);
    let notify = NotifySocket::new(&t);
    let o: Out = t
        .cmd(&["apply", "--modprobe", FAILS_TO_LOAD])
        .env("NOTIFY_SOCKET", &notify.path)
        .output()
        .unwrap()
        .into();
    assert_eq!(o.code, 6, "{o:?}");
    assert!(
        o.stderr.contains("loading the module failed")
            && o.stderr
                .contains("could not insert 'dcbm': Exec format error"),
        "{o:?}"
    );
    assert!(!o.stderr.contains("no dcbm module"), "{o:?}");
    let m = notify.messages();
    assert_eq!(m.len(), 1, "{m:?}");
    assert!(
        m[0].starts_with("STATUS=apply failed (exit 6): loading the module failed"),
        "{m:?}"
    );
    // A command that is not there at all (no kmod) is a fault too.
    let o = t.run(&["apply", "--modprobe", "/nonexistent/modprobe dcbm"]);
    assert_eq!(o.code, 6, "{o:?}");
}
