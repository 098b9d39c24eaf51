//! Shared by the integration tests: the built binary against fake sysfs trees.
//!
//! A fake tree is a temporary directory laid out like `/` (sys/module/dcbm,
//! sys/class/dma, proc/sys/kernel, ...). Attributes are plain files; the tool
//! emulates a sysfs store on them by replacing the content with "value\n".
//!
//! Making a write fail: tests may run as root, where `chmod 0444` does not
//! stop a write. The rollback test therefore runs the binary with
//! RLIMIT_FSIZE = 3 bytes (and SIGXFSZ ignored): storing "4\n" succeeds while
//! "20000\n" fails with EFBIG, whoever the user is. An attribute that is a
//! directory is used for "unreadable attribute".

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

pub const BIN: &str = env!("CARGO_BIN_EXE_dcbm-config");
pub const BOOT_A: &str = "0b5c2a6e-1d3f-4a8b-9c7d-2e4f6a8b0c1d";
pub const BOOT_B: &str = "7f00aa11-2b3c-4d5e-8f90-a1b2c3d4e5f6";

pub struct Tree {
    pub dir: tempfile::TempDir,
}

pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Out {
    fn from(o: Output) -> Out {
        Out {
            code: o.status.code().expect("killed by a signal"),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl std::fmt::Debug for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// The module's load-time defaults (min_batch_bytes and min_folio_bytes:
/// 2 MiB, from the benchmark).
pub const MODULE_DEFAULTS: [(&str, &str); 9] = [
    ("offloading", "0"),
    ("nr_dma_chan", "1"),
    ("timeout_ms", "10000"),
    ("min_batch_bytes", "2097152"),
    ("min_folio_bytes", "2097152"),
    ("folios_migrated", "0"),
    ("folios_failures", "0"),
    ("folios_declined", "0"),
    ("bytes_migrated", "0"),
];

impl Tree {
    /// A host with one NUMA node, a kernel release and a boot id; no module,
    /// no DMA provider.
    pub fn new() -> Tree {
        let t = Tree {
            dir: tempfile::tempdir().unwrap(),
        };
        t.put("proc/sys/kernel/random/boot_id", BOOT_A);
        t.put("proc/sys/kernel/osrelease", "6.8.0-45-generic");
        t.put("sys/devices/system/node/has_memory", "0");
        t.put("sys/devices/system/node/has_cpu", "0");
        fs::create_dir_all(t.path("sys/devices/system/node/node0")).unwrap();
        t
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }

    /// Write a sysfs-like file: value + "\n".
    pub fn put(&self, rel: &str, value: &str) {
        let p = self.path(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, format!("{value}\n")).unwrap();
    }

    pub fn get(&self, rel: &str) -> String {
        fs::read_to_string(self.path(rel)).unwrap()
    }

    pub fn attr(&self, name: &str) -> String {
        self.get(&format!("sys/module/dcbm/{name}"))
            .trim_end()
            .to_string()
    }

    pub fn set_attr(&self, name: &str, value: &str) {
        self.put(&format!("sys/module/dcbm/{name}"), value);
    }

    /// The module is loaded with default values, overridden by `over`.
    pub fn with_module(self, over: &[(&str, &str)]) -> Tree {
        for (k, v) in MODULE_DEFAULTS {
            self.set_attr(k, v);
        }
        for (k, v) in over {
            self.set_attr(k, v);
        }
        self
    }

    /// A DMA channel `dma<n>chan<m>` of device `dev` bound to `driver`
    /// (`None`: no driver link).
    pub fn with_channel(self, n: u32, m: u32, dev: &str, driver: Option<&str>) -> Tree {
        let ch = format!("sys/class/dma/dma{n}chan{m}");
        self.put(&format!("{ch}/in_use"), "0");
        self.put(&format!("{ch}/memcpy_count"), "0");
        self.put(&format!("{ch}/bytes_transferred"), "0");
        let devdir = self.path(&format!("sys/devices/dev/{dev}"));
        fs::create_dir_all(&devdir).unwrap();
        let link = self.path(&format!("{ch}/device"));
        if !link.exists() {
            symlink(format!("../../../devices/dev/{dev}"), link).unwrap();
        }
        if let Some(drv) = driver {
            fs::create_dir_all(self.path(&format!("sys/bus/drivers/{drv}"))).unwrap();
            let dl = devdir.join("driver");
            if fs::symlink_metadata(&dl).is_err() {
                symlink(format!("../../../bus/drivers/{drv}"), dl).unwrap();
            }
        }
        self
    }

    pub fn with_channels(mut self, n: u32, count: u32, dev: &str, driver: Option<&str>) -> Tree {
        for m in 0..count {
            self = self.with_channel(n, m, dev, driver);
        }
        self
    }

    pub fn policy(&self, body: &str) -> PathBuf {
        let p = self.path("etc/dcbm.toml");
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, body).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        p
    }

    /// A drop-in `rel` (e.g. `etc/dcbm.d/50-site.toml`), mode 0644.
    pub fn dropin(&self, rel: &str, body: &str) -> PathBuf {
        let p = self.path(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, body).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        p
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("DCBM_") {
                c.env_remove(k);
            }
        }
        // Not the test runner's systemd: a test that wants the unit's
        // status line binds a `NotifySocket`.
        c.env_remove("NOTIFY_SOCKET");
        c.arg("--sysfs-root")
            .arg(self.root())
            .arg("--config")
            .arg(self.path("etc/dcbm.toml"))
            .arg("--dropin-dir")
            .arg(self.path("etc/dcbm.d"))
            .arg("--dropin-dir")
            .arg(self.path("usr/lib/dcbm.d"))
            .arg("--modprobe")
            .arg("echo 'modprobe: FATAL: Module dcbm not found' >&2; exit 1")
            .arg("--load-timeout-ms")
            .arg("300")
            .args(args);
        c
    }

    pub fn run(&self, args: &[&str]) -> Out {
        self.cmd(args).output().unwrap().into()
    }

    /// Content and mtime of every file under sys/ and run/. Mtimes are first
    /// moved into the past, so that any later write shows even within the
    /// timestamp granularity of the filesystem.
    pub fn snapshot(&self) -> BTreeMap<PathBuf, (String, SystemTime)> {
        let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        let mut out = BTreeMap::new();
        let mut stack = vec![self.path("sys"), self.path("run")];
        while let Some(d) = stack.pop() {
            let Ok(rd) = fs::read_dir(&d) else { continue };
            for e in rd {
                let p = e.unwrap().path();
                let m = fs::symlink_metadata(&p).unwrap();
                if m.is_dir() {
                    stack.push(p);
                } else if m.is_file() {
                    let f = fs::File::options().write(true).open(&p).unwrap();
                    f.set_modified(old).unwrap();
                    out.insert(p.clone(), (fs::read_to_string(&p).unwrap(), old));
                }
            }
        }
        out
    }

    pub fn unchanged_since(&self, snap: &BTreeMap<PathBuf, (String, SystemTime)>) {
        for (p, (content, mtime)) in snap {
            let now = fs::read_to_string(p).unwrap();
            assert_eq!(&now, content, "{} changed", p.display());
            let m = fs::metadata(p).unwrap().modified().unwrap();
            assert_eq!(&m, mtime, "{} was written", p.display());
        }
    }
}

pub const SWDMA: &str = r#"
[offload]
enabled = true
channels = 4
timeout_ms = 20000
min_batch_bytes = 262144
min_folio_bytes = 0
[conditions]
require_provider = true
drivers = ["swdma"]
"#;

pub fn swdma_tree() -> Tree {
    Tree::new()
        .with_module(&[])
        .with_channels(0, 4, "swdma.0", Some("swdma"))
}

/// A notification socket like systemd's, bound in the tree: run the tool
/// with `NOTIFY_SOCKET` set to `path` and read what it sent.
pub struct NotifySocket {
    pub path: PathBuf,
    sock: std::os::unix::net::UnixDatagram,
}

impl NotifySocket {
    pub fn new(t: &Tree) -> NotifySocket {
        let path = t.path("notify.sock");
        let sock = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
        sock.set_nonblocking(true).unwrap();
        NotifySocket { path, sock }
    }

    /// The datagrams received so far (the tool has exited), in order.
    pub fn messages(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut buf = [0u8; 8192];
        while let Ok(n) = self.sock.recv(&mut buf) {
            out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        out
    }
}

pub fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

/// Makes every write of the child beyond 3 bytes fail with EFBIG (see the
/// header): the way to fail a chosen sysfs write, even as root.
pub fn limit_writes_to_3_bytes(c: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the forked child before exec and only
    // makes two async-signal-safe system calls.
    unsafe {
        c.pre_exec(|| {
            use nix::sys::resource::{setrlimit, Resource, RLIM_INFINITY};
            use nix::sys::signal::{signal, SigHandler, Signal};
            signal(Signal::SIGXFSZ, SigHandler::SigIgn).map_err(std::io::Error::from)?;
            setrlimit(Resource::RLIMIT_FSIZE, 3, RLIM_INFINITY).map_err(std::io::Error::from)?;
            Ok(())
        });
    }
}

/// Where the child's stdout goes, for the tests of lost output.
pub enum Sink {
    /// `>/dev/full`: every write fails with ENOSPC.
    Full,
    /// A pipe whose reader is gone (`| head -0`): every write fails with EPIPE.
    ClosedPipe,
}

/// Run `c` with its stdout sent to `sink`.
pub fn run_into(mut c: Command, sink: Sink) -> Out {
    let stdout = match sink {
        Sink::Full => std::process::Stdio::from(fs::File::create("/dev/full").unwrap()),
        Sink::ClosedPipe => {
            let (r, w) = nix::unistd::pipe().unwrap();
            drop(r);
            std::process::Stdio::from(w)
        }
    };
    c.stdout(stdout);
    let o = c.output().unwrap();
    Out {
        code: o.status.code().expect("killed by a signal"),
        stdout: String::new(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// A pipe with no room left: a child writing to it blocks until the reader
/// drains it. Returns (read end, write end); the write end is blocking.
pub fn full_pipe() -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let (r, w) = nix::unistd::pipe2(OFlag::O_NONBLOCK).unwrap();
    let chunk = [b'#'; 4096];
    while nix::unistd::write(&w, &chunk).is_ok() {}
    // Fill what is left of the last page byte by byte.
    while nix::unistd::write(&w, &chunk[..1]).is_ok() {}
    fcntl(&w, FcntlArg::F_SETFL(OFlag::empty())).unwrap();
    fcntl(&r, FcntlArg::F_SETFL(OFlag::empty())).unwrap();
    (r, w)
}

/// Wait until `cond` holds, failing the test after 10 s.
pub fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out: {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// What a `FifoAttr` saw.
#[derive(Debug, PartialEq, Eq)]
pub enum FifoEvent {
    /// The tool read the attribute (the value the `FifoAttr` was made with).
    Read,
    /// What the tool stored once let through: every store in order,
    /// concatenated ("4\n1\n": stored, then rolled back).
    Stored(String),
}

/// A fake attribute whose store blocks: a FIFO served by a thread. The tool
/// reads it once (the thread writes `value`); a store then blocks in open()
/// until the test calls `unblock`. From then on the thread holds the FIFO
/// open for reading and writing, so every later store goes through at once
/// and none is lost: closing the last reader of a FIFO discards what is in
/// its buffer, and a reader that closed after each store lost a store that
/// opened in the instant between its end of file and its close (a rollback
/// right after the store it undoes). `finish` returns what was stored.
pub struct FifoAttr {
    events: std::sync::mpsc::Receiver<FifoEvent>,
    gate: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FifoAttr {
    pub fn new(t: &Tree, name: &str, value: &str) -> FifoAttr {
        use std::io::{ErrorKind, Read, Write};
        use std::os::unix::fs::OpenOptionsExt;
        let path = t.path(&format!("sys/module/dcbm/{name}"));
        fs::remove_file(&path).unwrap();
        nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let (tx, events) = std::sync::mpsc::channel();
        let (gate, go) = std::sync::mpsc::channel::<()>();
        let (p, value) = (path.clone(), format!("{value}\n"));
        let thread = std::thread::spawn(move || {
            // Opening for writing waits for the tool to open it for reading.
            fs::OpenOptions::new()
                .write(true)
                .open(&p)
                .unwrap()
                .write_all(value.as_bytes())
                .unwrap();
            let _ = tx.send(FifoEvent::Read);
            if go.recv().is_err() {
                return; // finished without `unblock`: nothing was stored
            }
            // A reader (O_RDWR never waits for a partner) lets the store
            // that waits in open() through, and keeps the buffer alive.
            let mut fifo = fs::OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
                .open(&p)
                .unwrap();
            // `finish`: the tool has exited, everything it stored is here.
            while go.recv().is_ok() {}
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                match fifo.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => panic!("reading the FIFO attribute: {e}"),
                }
            }
            if !got.is_empty() {
                let _ = tx.send(FifoEvent::Stored(String::from_utf8(got).unwrap()));
            }
        });
        FifoAttr {
            events,
            gate: Some(gate),
            thread: Some(thread),
        }
    }

    pub fn next(&self) -> FifoEvent {
        self.events
            .recv_timeout(Duration::from_secs(10))
            .expect("no access to the FIFO attribute within 10 s")
    }

    /// Let the tool's stores through from now on.
    pub fn unblock(&self) {
        self.gate.as_ref().unwrap().send(()).unwrap();
    }

    /// End the thread (the tool must have exited); the events not yet
    /// taken: every store, in order, as one `Stored`.
    pub fn finish(mut self) -> Vec<FifoEvent> {
        drop(self.gate.take());
        self.thread.take().unwrap().join().unwrap();
        self.events.try_iter().collect()
    }
}

/// Wait until process `pid` sleeps opening a FIFO that has no reader yet.
pub fn wait_blocked_on_fifo(pid: u32) {
    let wchan = format!("/proc/{pid}/wchan");
    wait_for("the tool blocked opening the FIFO", || {
        fs::read_to_string(&wchan).is_ok_and(|w| w.trim() == "wait_for_partner")
    });
}
