//! Runs the real binary on the build host. The host may have a single NUMA
//! node, so migrations use `--to-node 0` (moving to the current node is a
//! valid move_pages/migrate_pages call and exercises the whole code path).

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_migrate-check");

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("spawn migrate-check")
}

fn results(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("RESULT ").map(str::to_string))
        .collect()
}

/// Raw JSON value of a top-level key in a flat object.
fn field<'a>(json: &'a str, key: &str) -> &'a str {
    let pat = format!("\"{key}\":");
    let start = json
        .find(&pat)
        .unwrap_or_else(|| panic!("{key} missing in {json}"))
        + pat.len();
    let rest = &json[start..];
    let end = if let Some(quoted) = rest.strip_prefix('"') {
        quoted.find('"').unwrap() + 2
    } else {
        rest.find([',', '}']).unwrap()
    };
    &rest[..end]
}

fn num(json: &str, key: &str) -> f64 {
    field(json, key)
        .parse()
        .unwrap_or_else(|_| panic!("{key} not a number in {json}"))
}

fn assert_ok(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{stderr}");
    let r = results(out);
    assert_eq!(r.len(), 1, "{r:?}");
    let j = r[0].clone();
    assert_eq!(field(&j, "ok"), "true", "{j}");
    assert_eq!(field(&j, "corrupt_words"), "0", "{j}");
    assert_eq!(field(&j, "pages_not_moved"), "0", "{j}");
    assert!(num(&j, "seconds") > 0.0, "{j}");
    j
}

#[test]
fn run_4k_move_pages_same_node() {
    let out = run(&[
        "run",
        "--size-mib",
        "8",
        "--page",
        "4k",
        "--to-node",
        "0",
        "--rounds",
        "2",
    ]);
    let j = assert_ok(&out);
    assert_eq!(field(&j, "api"), "\"move_pages\"");
    assert_eq!(field(&j, "page"), "\"4k\"");
    assert_eq!(num(&j, "rounds"), 2.0);
    assert_eq!(num(&j, "moves"), 4.0);
    assert_eq!(num(&j, "pages_moved"), 4.0 * 2048.0);
    assert_eq!(num(&j, "folios_moved"), 4.0 * 2048.0);
    assert_eq!(num(&j, "bytes_moved"), 4.0 * 8.0 * 1048576.0);
    assert_eq!(num(&j, "verifications"), 4.0);
    assert_eq!(
        num(&j, "thp_huge_bytes"),
        0.0,
        "MADV_NOHUGEPAGE must prevent THP"
    );
}

#[test]
fn run_thp_move_pages_head_and_all_entries() {
    for entries in ["head", "all"] {
        let out = run(&[
            "run",
            "--size-mib",
            "8",
            "--page",
            "thp",
            "--to-node",
            "0",
            "--thp-entries",
            entries,
            "--seed",
            "7",
        ]);
        let j = assert_ok(&out);
        assert_eq!(num(&j, "pages_moved"), 2.0 * 2048.0);
        // Every 2 MiB extent ends on the target, whether or not THP formed.
        assert_eq!(num(&j, "folios_moved"), 2.0 * 4.0);
        assert!(num(&j, "thp_huge_bytes") <= 8.0 * 1048576.0);
    }
}

#[test]
fn bench_chunk_pages_moves_everything() {
    for (page, chunk) in [("4k", "1"), ("4k", "64"), ("thp", "512"), ("thp", "3")] {
        let out = run(&[
            "bench",
            "--sizes",
            "4",
            "--page",
            page,
            "--to-node",
            "0",
            "--reps",
            "1",
            "--chunk-pages",
            chunk,
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "stderr:\n{stderr}");
        let lines = results(&out);
        assert_eq!(lines.len(), 3, "{lines:?}");
        for j in &lines {
            assert_eq!(field(j, "chunk_pages"), chunk, "{j}");
            assert_eq!(field(j, "ok"), "true", "{j}");
            assert_eq!(field(j, "pages_not_moved"), "0", "{j}");
        }
    }
}

#[test]
fn run_migrate_pages_same_node() {
    for page in ["4k", "thp"] {
        let out = run(&[
            "run",
            "--size-mib",
            "4",
            "--page",
            page,
            "--to-node",
            "0",
            "--api",
            "migrate_pages",
        ]);
        let j = assert_ok(&out);
        assert_eq!(field(&j, "api"), "\"migrate_pages\"");
        assert_eq!(num(&j, "pages_moved"), 2.0 * 1024.0);
    }
}

#[test]
fn loop_runs_until_time_is_up() {
    let t0 = Instant::now();
    let out = run(&[
        "loop",
        "--seconds",
        "0.3",
        "--size-mib",
        "4",
        "--page",
        "4k",
        "--to-node",
        "0",
    ]);
    let j = assert_ok(&out);
    assert!(num(&j, "rounds") >= 1.0);
    assert_eq!(num(&j, "moves"), 2.0 * num(&j, "rounds"));
    assert!(t0.elapsed() < Duration::from_secs(30));
    assert!(String::from_utf8_lossy(&out.stderr).contains("loop ended: time"));
}

#[test]
fn loop_stops_cleanly_on_sigterm() {
    let child = Command::new(BIN)
        .args([
            "loop",
            "--seconds",
            "120",
            "--size-mib",
            "4",
            "--page",
            "thp",
            "--to-node",
            "0",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    std::thread::sleep(Duration::from_millis(500));
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: plain kill(2) on the child we spawned and still own.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let t0 = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(t0.elapsed() < Duration::from_secs(20));
    let j = assert_ok(&out);
    assert!(num(&j, "verifications") >= 1.0);
    assert!(String::from_utf8_lossy(&out.stderr).contains("loop ended: signal"));
}

#[test]
fn bench_prints_per_rep_lines_and_summary() {
    let out = run(&[
        "bench",
        "--sizes",
        "2,4",
        "--page",
        "thp",
        "--reps",
        "3",
        "--to-node",
        "0",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = results(&out);
    assert_eq!(r.len(), 2 * (3 * 2 + 1), "{r:?}");
    let lines: Vec<&String> = r
        .iter()
        .filter(|j| field(j, "cmd") == "\"bench\"")
        .collect();
    assert_eq!(lines.len(), 12);
    for j in &lines {
        assert_eq!(field(j, "ok"), "true", "{j}");
        assert!(num(j, "gbps") > 0.0);
        assert!(num(j, "folios_per_sec") > 0.0);
    }
    assert_eq!(field(lines[0], "direction"), "\"to\"");
    assert_eq!(field(lines[1], "direction"), "\"back\"");
    for j in &lines {
        assert_eq!(num(j, "calls"), 1.0, "{j}");
        let cpu = num(j, "cpu_seconds");
        assert!(cpu > 0.0 && cpu <= num(j, "seconds") * 1.5 + 0.01, "{j}");
    }
    let sums: Vec<&String> = r
        .iter()
        .filter(|j| field(j, "cmd") == "\"bench_summary\"")
        .collect();
    assert_eq!(sums.len(), 2);
    for (s, size) in sums.iter().zip([2.0, 4.0]) {
        assert_eq!(num(s, "size_mib"), size);
        assert_eq!(num(s, "samples"), 6.0);
        let (lo, med, hi) = (
            num(s, "gbps_min"),
            num(s, "gbps_median"),
            num(s, "gbps_max"),
        );
        assert!(lo <= med && med <= hi, "{s}");
        assert_eq!(field(s, "ok"), "true");
    }
}

const SYSFS_NODES: &str = "/sys/devices/system/node";

/// The host's nodes as sysfs lists them: `nodeN` directories and the
/// `online` list (`0-3,5`).
fn host_nodes() -> (Vec<u32>, Vec<u32>) {
    let sysfs = Path::new(SYSFS_NODES);
    let mut dirs: Vec<u32> = std::fs::read_dir(sysfs)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (kernel without CONFIG_NUMA? the migrations here need it too)",
                sysfs.display()
            )
        })
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().ok()?;
            name.strip_prefix("node")?.parse().ok()
        })
        .collect();
    dirs.sort_unstable();
    let text = std::fs::read_to_string(sysfs.join("online")).expect("node/online");
    let mut online = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        online.extend(a.parse::<u32>().unwrap()..=b.parse().unwrap());
    }
    (dirs, online)
}

/// `nodes` lists every node of the host's sysfs, node 0 first (every kernel
/// with CONFIG_NUMA has node 0).
#[test]
fn nodes_lists_node_zero() {
    let (host, _) = host_nodes();
    assert_eq!(host.first(), Some(&0), "host nodes {host:?}");
    let out = run(&["nodes"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = results(&out);
    assert_eq!(r.len(), 1);
    assert!(r[0].contains(r#""nodes":[{"node":0,"#), "{}", r[0]);
    assert_eq!(num(&r[0], "count"), host.len() as f64, "{}", r[0]);
    for n in &host {
        assert!(
            r[0].contains(&format!(r#"{{"node":{n},"#)),
            "node {n}: {}",
            r[0]
        );
    }
}

/// A target node the host does not have is refused up front, with the
/// reason. The default target is node 1: on a single-node host that default
/// is what is run; on a larger host, the first node it lacks, given with
/// `--to-node`.
#[test]
fn missing_target_node_is_explained() {
    let (_, online) = host_nodes();
    let absent = (1..64)
        .find(|n| !online.contains(n))
        .unwrap_or_else(|| panic!("every node 0-63 is online: {online:?}"));
    let to = absent.to_string();
    let mut args = vec!["run", "--size-mib", "8", "--page", "4k"];
    if absent != 1 {
        args.extend(["--to-node", &to]);
    }
    let out = run(&args);
    assert_eq!(out.status.code(), Some(2), "{args:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "node {absent} does not exist: the guest needs 2 NUMA nodes"
        )),
        "{args:?}: {stderr}"
    );
    let r = results(&out);
    assert_eq!(r.len(), 1);
    assert_eq!(field(&r[0], "ok"), "false");
    assert_eq!(field(&r[0], "exit_code"), "2");
}

#[test]
fn usage_errors_exit_3() {
    for args in [
        &["run", "--page", "4k"][..],
        &["run", "--size-mib", "8", "--page", "2m"],
        &["run", "--size-mib", "3", "--page", "thp"],
        &["bench", "--sizes", "a", "--page", "thp"],
        &["frobnicate"],
        &[],
    ] {
        assert_eq!(run(args).status.code(), Some(3), "{args:?}");
    }
    let help = run(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(
        text.contains("Exit codes:") && text.contains("not migrated"),
        "{text}"
    );
}

#[test]
fn latency_prints_one_line_per_call() {
    let out = run(&[
        "latency",
        "--folios",
        "8",
        "--page",
        "4k",
        "--reps",
        "3",
        "--to-node",
        "0",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = results(&out);
    let calls: Vec<&String> = r
        .iter()
        .filter(|j| field(j, "cmd") == "\"latency\"")
        .collect();
    assert_eq!(calls.len(), 6, "{r:?}");
    for (i, j) in calls.iter().enumerate() {
        assert_eq!(field(j, "ok"), "true", "{j}");
        assert_eq!(num(j, "folios"), 8.0);
        assert_eq!(num(j, "rep"), (i / 2) as f64);
        assert_eq!(num(j, "calls"), 1.0);
        assert_eq!(num(j, "pages_moved"), 8.0);
        assert!(num(j, "seconds") > 0.0);
        assert!(num(j, "cpu_seconds") >= 0.0);
    }
    let sum = r.last().unwrap();
    assert_eq!(field(sum, "cmd"), "\"latency_summary\"");
    assert_eq!(num(sum, "samples"), 6.0);
    assert_eq!(field(sum, "ok"), "true");
}
