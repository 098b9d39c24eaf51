//! The boot unit's status line: `apply` run as the main process of
//! dcbm-config.service (`NotifyAccess=main`) tells systemd in one line what
//! it did or why offload is not on, as sd_notify(3) `STATUS=`, which
//! `systemctl status dcbm-config` shows. Without `$NOTIFY_SOCKET` (not run
//! by systemd) nothing is sent.
//!
//! The protocol is one datagram on the `AF_UNIX` socket named by
//! `$NOTIFY_SOCKET`: a path, or an abstract name written with a leading `@`.

use std::ffi::OsStr;
use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::path::Path;
use std::sync::Mutex;

pub const ENV: &str = "NOTIFY_SOCKET";

/// The longest status text sent, in bytes (systemd reads a notification
/// of up to 4 KiB; `systemctl status` shows one line).
const MAX_STATUS: usize = 1024;

/// The status line `apply` chose for the unit, sent by `main` at the end.
static STATUS: Mutex<Option<String>> = Mutex::new(None);

/// Remember `text` as the unit's status line (the last one set is sent).
pub fn set_status(text: impl Into<String>) {
    *STATUS.lock().unwrap_or_else(|p| p.into_inner()) = Some(text.into());
}

/// The status line set so far, if any.
pub fn take_status() -> Option<String> {
    STATUS.lock().unwrap_or_else(|p| p.into_inner()).take()
}

/// `STATUS=<text>` as one line: line breaks and other control characters
/// become spaces, and a text longer than `MAX_STATUS` bytes is cut at a
/// character boundary.
pub fn status_message(text: &str) -> String {
    let mut line: String = text
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if line.len() > MAX_STATUS {
        let mut end = MAX_STATUS;
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        line.truncate(end);
    }
    format!("STATUS={line}")
}

/// Send `STATUS=<text>` to `$NOTIFY_SOCKET`. `Ok(false)`: not run by
/// systemd (no `$NOTIFY_SOCKET`), nothing sent.
pub fn status(text: &str) -> io::Result<bool> {
    let Some(socket) = std::env::var_os(ENV) else {
        return Ok(false);
    };
    send(&socket, status_message(text).as_bytes())?;
    Ok(true)
}

/// Send `msg` as one datagram to the notification socket `socket` (a
/// path, or `@name` for an abstract socket).
pub fn send(socket: &OsStr, msg: &[u8]) -> io::Result<()> {
    let bytes = socket.as_bytes();
    let addr = match bytes.first() {
        Some(b'@') => SocketAddr::from_abstract_name(&bytes[1..])?,
        Some(b'/') => SocketAddr::from_pathname(Path::new(socket))?,
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{ENV}={:?} is neither an absolute path nor an abstract socket (@name)",
                    socket
                ),
            ))
        }
    };
    let sent = UnixDatagram::unbound()?.send_to_addr(msg, &addr)?;
    if sent != msg.len() {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            format!("sent {sent} of {} bytes", msg.len()),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    fn receive(rx: &UnixDatagram) -> String {
        rx.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let mut buf = [0u8; 4096];
        let n = rx.recv(&mut buf).expect("no datagram within 5 s");
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    #[test]
    fn sends_to_a_socket_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let rx = UnixDatagram::bind(&path).unwrap();
        send(path.as_os_str(), status_message("offload on").as_bytes()).unwrap();
        assert_eq!(receive(&rx), "STATUS=offload on");
    }

    #[test]
    fn sends_to_an_abstract_socket() {
        let name = format!("dcbm-config-test-{}", std::process::id());
        let rx = UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(&name).unwrap()).unwrap();
        let env = format!("@{name}");
        send(OsStr::from_bytes(env.as_bytes()), b"STATUS=x").unwrap();
        assert_eq!(receive(&rx), "STATUS=x");
    }

    #[test]
    fn a_relative_or_empty_socket_is_refused() {
        for bad in ["notify", ""] {
            let e = send(OsStr::new(bad), b"STATUS=x").unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{bad:?}");
            assert!(e.to_string().contains("NOTIFY_SOCKET"), "{e}");
        }
    }

    #[test]
    fn the_status_is_one_line_of_bounded_length() {
        assert_eq!(status_message(" a\nb\tc \n"), "STATUS=a b c");
        let long = "é".repeat(MAX_STATUS);
        let m = status_message(&long);
        assert!(m.len() <= "STATUS=".len() + MAX_STATUS, "{}", m.len());
        assert!(m.ends_with('é'));
    }
}
