//! Loading the module: the `--modprobe` command, then its sysfs files, all
//! within `--load-timeout-ms`. A command that hangs is killed with its
//! whole process group when the time is up, or when a signal arrives.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

use crate::ctx::Ctx;
use crate::exit::{self, coded};
use crate::interrupt;
use crate::module::{self, Layout};
use crate::notify;
use crate::system;

const POLL: Duration = Duration::from_millis(20);
/// How long the stderr of a command that has exited is read on.
const STDERR_GRACE: Duration = Duration::from_millis(500);

/// Kill the command's process group (`sh` and whatever it started).
fn kill_group(child: &mut Child) {
    let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
    let _ = child.wait();
}

fn interrupted(sig: i32) -> anyhow::Error {
    coded(
        interrupt::exit_code(sig),
        format!(
            "interrupted by {} while loading the module; nothing written",
            interrupt::name(sig)
        ),
    )
}

/// Run the modprobe command and wait for the module's sysfs files.
pub fn load(ctx: &Ctx) -> Result<()> {
    let Some(cmd) = ctx.modprobe.as_deref() else {
        return Err(coded(
            exit::MODULE_MISSING,
            format!(
                "dcbm module not loaded ({} not found), and with a --sysfs-root \
                 other than / no module is loaded unless --modprobe says how",
                ctx.root.module_dir().display()
            ),
        ));
    };
    say!("loading the dcbm module: {cmd}");
    let marker = Marker::create(&ctx.state_dir)?;
    run(ctx, cmd)?;
    marker.keep();
    Ok(())
}

/// `<state-dir>/loaded-by-apply`: present from before the modprobe command
/// runs until the module is removed (the udev rule deletes it then), so
/// that the rule does not restart the boot unit for the module that unit
/// is loading itself. Removed again when loading fails.
pub const MARKER: &str = "loaded-by-apply";

struct Marker(Option<PathBuf>);

impl Marker {
    fn create(state_dir: &Path) -> Result<Marker> {
        let p = state_dir.join(MARKER);
        std::fs::create_dir_all(state_dir)
            .and_then(|()| std::fs::write(&p, ""))
            .with_context(|| format!("writing {}", p.display()))?;
        Ok(Marker(Some(p)))
    }

    fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for Marker {
    fn drop(&mut self) {
        if let Some(p) = &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// Does the modprobe command's stderr say that there is no dcbm module for
/// the running kernel? kmod: `modprobe: FATAL: Module dcbm not found in
/// directory /lib/modules/<release>`; busybox: `modprobe: module dcbm not
/// found in modules.dep`. (A module that exists but fails to load says
/// `could not insert 'dcbm': ...` instead.)
fn says_not_found(stderr: &str) -> bool {
    stderr
        .to_ascii_lowercase()
        .contains("module dcbm not found")
}

/// The error for a kernel without a dcbm module (exit 11), which is no
/// fault: DKMS skips every kernel that lacks Rust, the offload interface or
/// the rustc that built it. Says which kernel and where DKMS tells why, and
/// sets the unit's status line.
fn not_built(ctx: &Ctx, cmd: &str, stderr: &str) -> anyhow::Error {
    let release =
        system::kernel_release(&ctx.root).unwrap_or_else(|_| "(release unknown)".to_string());
    let version = env!("CARGO_PKG_VERSION");
    let said = stderr.lines().map(str::trim).collect::<Vec<_>>().join("; ");
    notify::set_status(format!(
        "offload off: no dcbm module for kernel {release} (DKMS did not build it); see `dkms status dcbm`"
    ));
    coded(
        exit::MODULE_NOT_BUILT,
        format!(
            "no dcbm module for the running kernel {release} (`{cmd}`: {said}); offload stays off. \
             DKMS builds dcbm only for kernels that qualify: `dkms status dcbm` lists those it was built for, \
             `dkms build dcbm/{version} -k {release}` says why this one was skipped, \
             and a failed build's log is /var/lib/dkms/dcbm/{version}/build/make.log"
        ),
    )
}

/// Run `cmd`, then wait for the sysfs files, all before the deadline.
fn run(ctx: &Ctx, cmd: &str) -> Result<()> {
    let deadline = Instant::now() + ctx.load_timeout;
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg(cmd)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| coded(exit::MODULE_MISSING, format!("cannot run `{cmd}`: {e}")))?;
    // Read stderr aside, so that a chatty command never blocks on it.
    let mut pipe = child.stderr.take();
    let stderr = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(p) = pipe.as_mut() {
            let _ = p.take(64 * 1024).read_to_string(&mut s);
        }
        s
    });
    let status = loop {
        if let Some(st) = child.try_wait()? {
            break st;
        }
        if let Some(sig) = interrupt::received() {
            kill_group(&mut child);
            return Err(interrupted(sig));
        }
        if Instant::now() >= deadline {
            kill_group(&mut child);
            return Err(coded(
                exit::MODULE_MISSING,
                format!(
                    "`{cmd}` did not finish within {} ms (--load-timeout-ms); killed it",
                    ctx.load_timeout.as_millis()
                ),
            ));
        }
        sleep(POLL);
    };
    // The group may live on (a daemon started by the command) and keep the
    // pipe open: after a failure wait for its end only briefly, enough for
    // the reader to take what the command wrote before it exited (why
    // modprobe failed, which tells "no module" from "fails to load").
    let drained = Instant::now() + STDERR_GRACE;
    while !status.success() && !stderr.is_finished() && Instant::now() < drained {
        sleep(Duration::from_millis(2));
    }
    let stderr = if stderr.is_finished() {
        stderr.join().unwrap_or_default()
    } else {
        String::new()
    };
    if !status.success() {
        if says_not_found(&stderr) {
            return Err(not_built(ctx, cmd, stderr.trim()));
        }
        return Err(coded(
            exit::MODULE_MISSING,
            format!(
                "loading the module failed: `{cmd}` exited with {status}{}",
                if stderr.trim().is_empty() {
                    String::new()
                } else {
                    format!(": {}", stderr.trim())
                }
            ),
        ));
    }
    loop {
        // A whole layout, not just `offloading`: sysfs files appear one by
        // one. Either layout will do (a v6 driver never has the other).
        if module::ready(&ctx.root) {
            return Ok(());
        }
        if let Some(sig) = interrupt::received() {
            return Err(interrupted(sig));
        }
        if Instant::now() >= deadline {
            // parameters/ may be complete while the top level, which is
            // then the layout in use, is not.
            let missing: Vec<String> = Layout::BOTH
                .into_iter()
                .map(|l| match l.missing(&ctx.root) {
                    m if m.is_empty() => format!("{} complete", l.describe()),
                    m => format!("{} lacks {}", l.describe(), m.join(", ")),
                })
                .collect();
            return Err(coded(
                exit::MODULE_MISSING,
                format!(
                    "`{cmd}` succeeded but {} did not show up within {} ms ({})",
                    ctx.root.module_dir().display(),
                    ctx.load_timeout.as_millis(),
                    missing.join("; ")
                ),
            ));
        }
        sleep(POLL);
    }
}
