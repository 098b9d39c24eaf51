//! The boot unit's status line (sd_notify `STATUS=`, see src/notify.rs):
//! sent by `apply` to `$NOTIFY_SOCKET` when systemd runs it, one line
//! saying whether offload is on and, if not, why; nothing from a dry run
//! or without `$NOTIFY_SOCKET`. (No module for the kernel, and a module that
//! fails to load: tests/modprobe.rs.)

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

use crate::common::*;

fn apply_notified(t: &Tree, notify: &NotifySocket, args: &[&str]) -> (Out, Vec<String>) {
    let o: Out = t
        .cmd(&[&["apply"], args].concat())
        .env("NOTIFY_SOCKET", &notify.path)
        .output()
        .unwrap()
        .into();
    (o, notify.messages())
}

#[test]
fn apply_tells_the_unit_whether_offload_is_on_and_why_not() {
    // Applied.
    let t = swdma_tree();
    t.policy(SWDMA);
    let n = NotifySocket::new(&t);
    let (o, m) = apply_notified(&t, &n, &[]);
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(m, ["STATUS=offload on: policy applied, 4 DMA channel(s)"]);
    // Again, nothing to write: the same status.
    let (o, m) = apply_notified(&t, &n, &[]);
    assert!(o.stdout.contains("nothing to write"), "{o:?}");
    assert_eq!(m, ["STATUS=offload on: policy applied, 4 DMA channel(s)"]);
    // A dry run tells systemd nothing.
    let (o, m) = apply_notified(&t, &n, &["--dry-run"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(m.is_empty(), "{m:?}");

    // Held off by a condition (no provider), module not loaded.
    let t = Tree::new();
    t.policy(SWDMA);
    let n = NotifySocket::new(&t);
    let (o, m) = apply_notified(&t, &n, &[]);
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(
        m,
        ["STATUS=offload off: held off by the policy's condition(s): require_provider"]
    );

    // Off by policy.
    let t = swdma_tree();
    t.policy("[offload]\nenabled = false\n");
    let n = NotifySocket::new(&t);
    let (_, m) = apply_notified(&t, &n, &[]);
    assert_eq!(m, ["STATUS=offload off, as the policy wants"]);

    // A bad policy: the error.
    t.policy("[offload]\nenabled = 3\n");
    let (o, m) = apply_notified(&t, &n, &[]);
    assert_eq!(o.code, 3, "{o:?}");
    assert_eq!(m.len(), 1, "{m:?}");
    assert!(m[0].starts_with("STATUS=apply failed (exit 3): "), "{m:?}");
}

/// systemd names an abstract socket with a leading `@`.
#[test]
fn the_status_goes_to_an_abstract_socket_too() {
    let t = swdma_tree();
    t.policy(SWDMA);
    let name = format!("dcbm-config-cli-test-{}", std::process::id());
    let rx = UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(&name).unwrap()).unwrap();
    rx.set_nonblocking(true).unwrap();
    let o: Out = t
        .cmd(&["apply"])
        .env("NOTIFY_SOCKET", format!("@{name}"))
        .output()
        .unwrap()
        .into();
    assert_eq!(o.code, 0, "{o:?}");
    let mut buf = [0u8; 4096];
    let n = rx.recv(&mut buf).expect("no status sent");
    assert_eq!(
        &buf[..n],
        b"STATUS=offload on: policy applied, 4 DMA channel(s)"
    );
}

/// A socket that cannot be reached costs a note, never the exit code.
#[test]
fn an_unreachable_notify_socket_is_only_a_note() {
    let t = swdma_tree();
    t.policy(SWDMA);
    let o: Out = t
        .cmd(&["apply"])
        .env("NOTIFY_SOCKET", t.path("no-such.sock"))
        .output()
        .unwrap()
        .into();
    assert_eq!(o.code, 0, "{o:?}");
    assert!(
        o.stderr
            .contains("note: cannot send the unit's status to systemd ($NOTIFY_SOCKET)"),
        "{o:?}"
    );
}
