//! Two writers at once: the second waits for the first (flock on
//! `<state-dir>/lock`), so the module ends in one policy, not a mix.

use std::io::Read;
use std::process::{Child, Stdio};
use std::time::Duration;

use crate::common::*;

/// Another policy than SWDMA for every knob.
const OTHER: &str = "[offload]\nenabled = true\nchannels = 2\ntimeout_ms = 30000\n\
                     min_batch_bytes = 4096\nmin_folio_bytes = 4096\n";

/// Start `apply` of SWDMA with its stdout a full pipe: it makes its first
/// store (nr_dma_chan 1 -> 4), then blocks reporting it, holding the lock.
/// Returns the child and the pipe's read end, which lets it go on when drained.
fn first_apply_stuck_after_one_write(t: &Tree) -> (Child, std::os::fd::OwnedFd) {
    t.policy(SWDMA);
    let (r, w) = full_pipe();
    let mut c = t.cmd(&["apply"]);
    c.stdout(Stdio::from(w)).stderr(Stdio::piped());
    let child = c.spawn().unwrap();
    drop(c); // our copy of the pipe's write end
    wait_for("the first apply's first write", || {
        t.attr("nr_dma_chan") == "4"
    });
    (child, r)
}

fn drain(r: std::os::fd::OwnedFd) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        std::fs::File::from(r).read_to_end(&mut sink).unwrap();
    })
}

fn other_policy(t: &Tree) -> String {
    let p = t.path("etc/other.toml");
    std::fs::write(&p, OTHER).unwrap();
    p.display().to_string()
}

#[test]
fn concurrent_applies_end_in_one_policy() {
    let t = swdma_tree();
    let (mut first, r) = first_apply_stuck_after_one_write(&t);
    let other = other_policy(&t);
    let mut c = t.cmd(&["apply", "--config", &other]);
    let second = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    // The second waits: it has written nothing, the first's state is intact.
    assert_eq!(t.attr("nr_dma_chan"), "4");
    assert_eq!(t.attr("timeout_ms"), "10000");
    assert_eq!(t.attr("min_batch_bytes"), "2097152");
    assert_eq!(t.attr("offloading"), "0");

    let drained = drain(r);
    assert_eq!(first.wait().unwrap().code(), Some(0));
    drained.join().unwrap();
    let o: Out = second.wait_with_output().unwrap().into();
    assert_eq!(o.code, 0, "{o:?}");
    assert!(
        o.stderr.contains("waiting for another dcbm-config"),
        "{o:?}"
    );
    // The second ran after the first, from the first's result.
    assert!(o.stdout.contains("wrote nr_dma_chan: 4 -> 2"), "{o:?}");
    assert!(
        o.stdout.contains("wrote timeout_ms: 20000 -> 30000"),
        "{o:?}"
    );
    let o = t.run(&["check", "--config", &other]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("in sync"), "{o:?}");
}

#[test]
fn lock_timeout_is_exit_10_and_writes_nothing() {
    let t = swdma_tree();
    let (mut first, r) = first_apply_stuck_after_one_write(&t);
    let other = other_policy(&t);
    for args in [
        &["apply", "--config", &other, "--lock-timeout-ms", "200"][..],
        &["reset-counters", "--lock-timeout-ms", "200"],
    ] {
        let o = t.run(args);
        assert_eq!(o.code, 10, "{args:?}: {o:?}");
        assert!(o.stderr.contains("nothing written"), "{o:?}");
        assert_eq!(t.attr("timeout_ms"), "10000");
    }
    // A dry run writes nothing and does not wait.
    let o = t.run(&["apply", "--dry-run", "--config", &other]);
    assert_eq!(o.code, 0, "{o:?}");
    let drained = drain(r);
    assert_eq!(first.wait().unwrap().code(), Some(0));
    drained.join().unwrap();
    assert_eq!(t.run(&["check"]).code, 0);
}
