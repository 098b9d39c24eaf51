//! SIGTERM/SIGINT during `apply`: the module ends fully applied or exactly
//! as it was, never half-configured. The signal is sent while a store is in
//! progress (the tool blocked opening an attribute that is a FIFO, see
//! `FifoAttr`), at every step.

use std::process::Stdio;

use crate::common::*;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// The stores of SWDMA on a default module, in order: (attr, before, after).
const STEPS: [(&str, &str, &str); 5] = [
    ("nr_dma_chan", "1", "4"),
    ("timeout_ms", "10000", "20000"),
    ("min_batch_bytes", "2097152", "262144"),
    ("min_folio_bytes", "2097152", "0"),
    ("offloading", "0", "1"),
];

/// Signal `sig` while step `k` is being stored; returns the tool's output
/// and every value stored into that step's attribute ("4\n1\n": stored,
/// then rolled back).
fn signal_during_step(t: &Tree, k: usize, sig: Signal) -> (Out, String) {
    let (name, before, after) = STEPS[k];
    t.policy(SWDMA);
    let fifo = FifoAttr::new(t, name, before);
    let child = t
        .cmd(&["apply"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    assert_eq!(fifo.next(), FifoEvent::Read, "step {name}");
    wait_blocked_on_fifo(child.id());
    kill(Pid::from_raw(child.id() as i32), sig).unwrap();
    fifo.unblock();
    let o: Out = child.wait_with_output().unwrap().into();
    let stored: String = fifo
        .finish()
        .into_iter()
        .filter_map(|e| match e {
            FifoEvent::Stored(s) => Some(s),
            FifoEvent::Read => None,
        })
        .collect();
    assert!(
        stored.starts_with(&format!("{after}\n")),
        "{name}: {stored:?}"
    );
    (o, stored)
}

#[test]
fn sigterm_at_every_step_rolls_back_or_completes() {
    for k in 0..STEPS.len() {
        let t = swdma_tree();
        let (o, stored) = signal_during_step(&t, k, Signal::SIGTERM);
        let (name, before, after) = STEPS[k];
        let others = STEPS.iter().filter(|s| s.0 != name);
        if k + 1 == STEPS.len() {
            // The signal came with the last store: the policy is in effect.
            assert_eq!(o.code, 0, "{name}: {o:?}");
            assert_eq!(stored, format!("{after}\n"), "{name}: {o:?}");
            for (attr, _, after) in others {
                assert_eq!(t.attr(attr), *after, "{attr} after SIGTERM at {name}");
            }
            continue;
        }
        assert_eq!(o.code, 128 + 15, "{name}: {o:?}");
        let next = STEPS[k + 1].0;
        assert!(
            o.stderr
                .contains(&format!("interrupted by SIGTERM before writing {next}")),
            "{name}: {o:?}"
        );
        assert!(o.stderr.contains("the module is as it was"), "{o:?}");
        // The store in progress was undone too, and every earlier one.
        assert_eq!(stored, format!("{after}\n{before}\n"), "{name}: {o:?}");
        for (attr, before, _) in others {
            assert_eq!(t.attr(attr), *before, "{attr} after SIGTERM at {name}");
        }
    }
}

#[test]
fn sigint_rolls_back_with_exit_130() {
    let t = swdma_tree();
    let (o, _) = signal_during_step(&t, 2, Signal::SIGINT);
    assert_eq!(o.code, 130, "{o:?}");
    assert!(
        o.stderr.contains("rolled back nr_dma_chan: 4 -> 1"),
        "{o:?}"
    );
    assert_eq!(t.attr("nr_dma_chan"), "1");
    assert_eq!(t.attr("timeout_ms"), "10000");
}
