//! For packagers: `dcbm-config completions SHELL` and `dcbm-config man
//! [PAGE]`. The dcbm-config(8) page is built from the command-line
//! definition (every command with its options, so it cannot fall behind),
//! plus hand-written sections; dcbm.toml(5) is `man/dcbm.toml.5`.

use std::io::Write;

use clap::{Arg, CommandFactory, Parser, Subcommand};

use crate::cli::{Cli, Globals};
use crate::exit;
use crate::out;

/// The packagers' commands.
#[derive(Debug, Parser)]
#[command(name = "dcbm-config", disable_help_subcommand = true)]
pub struct Packager {
    #[command(flatten)]
    _g: Globals,
    #[command(subcommand)]
    cmd: Generate,
}

#[derive(Debug, Subcommand)]
enum Generate {
    /// Print a shell completion script.
    Completions { shell: clap_complete::Shell },
    /// Print a man page (roff): dcbm-config (section 8) or dcbm.toml (5).
    Man {
        #[arg(default_value = "dcbm-config", value_parser = ["dcbm-config", "dcbm.toml"])]
        page: String,
    },
}

impl Packager {
    pub fn run(self) -> u8 {
        let text = match self.cmd {
            Generate::Completions { shell } => {
                let mut script = Vec::new();
                clap_complete::generate(shell, &mut Cli::command(), "dcbm-config", &mut script);
                script
            }
            Generate::Man { page } if page == "dcbm.toml" => DCBM_TOML_5.as_bytes().to_vec(),
            Generate::Man { .. } => dcbm_config_8(),
        };
        out::stdout_bytes(&text);
        exit::OK
    }
}

/// The error to show for a command line that `Cli` refused: a packager
/// command with a bad argument (`completions nushell`) is not known to
/// `Cli`, whose "unrecognized subcommand" would hide what is wrong; the
/// packagers' parser says it (the shells there are, the pages).
pub fn usage_error(cli_error: clap::Error) -> clap::Error {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let packager = Packager::command();
    let named = match cli_error.get(ContextKind::InvalidSubcommand) {
        Some(ContextValue::String(s)) => packager.find_subcommand(s).is_some(),
        _ => false,
    };
    if cli_error.kind() != ErrorKind::InvalidSubcommand || !named {
        return cli_error;
    }
    match Packager::try_parse() {
        Err(e) => e,
        Ok(_) => cli_error,
    }
}

/// dcbm.toml(5), written by hand.
pub const DCBM_TOML_5: &str = include_str!("../man/dcbm.toml.5");

/// Escape text for roff.
fn roff(s: &str) -> String {
    let s = s.replace('\\', "\\\\").replace('-', "\\-");
    s.lines()
        .map(|l| {
            if l.starts_with('.') || l.starts_with('\'') {
                format!("\\&{l}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn arg_synopsis(a: &Arg) -> String {
    let mut s = match (a.get_long(), a.get_short()) {
        (Some(l), Some(c)) => format!("\\fB\\-{c}\\fR, \\fB\\-\\-{}\\fR", roff(l)),
        (Some(l), None) => format!("\\fB\\-\\-{}\\fR", roff(l)),
        (None, _) => format!("\\fI{}\\fR", a.get_id().as_str().to_uppercase()),
    };
    if a.get_long().is_some() && a.get_action().takes_values() {
        let name = a
            .get_value_names()
            .and_then(|v| v.first().map(|n| n.to_string()))
            .unwrap_or_else(|| a.get_id().as_str().to_uppercase());
        s += &format!(" \\fI{}\\fR", roff(&name));
    }
    s
}

fn arg_help(a: &Arg) -> String {
    let mut h = a
        .get_long_help()
        .or(a.get_help())
        .map(|h| h.to_string())
        .unwrap_or_default();
    let defaults: Vec<String> = a
        .get_default_values()
        .iter()
        .map(|v| v.to_string_lossy().into_owned())
        .collect();
    if !defaults.is_empty() {
        h += &format!(" [default: {}]", defaults.join(","));
    }
    if let Some(env) = a.get_env() {
        h += &format!(" [env: {}]", env.to_string_lossy());
    }
    roff(&h)
}

fn options(w: &mut Vec<u8>, args: Vec<&Arg>) {
    for a in args {
        let _ = writeln!(w, ".TP\n{}\n{}", arg_synopsis(a), arg_help(a));
    }
}

/// dcbm-config(8): every visible command with its options.
pub fn dcbm_config_8() -> Vec<u8> {
    let cmd = Cli::command();
    let mut w = Vec::new();
    let _ = writeln!(
        w,
        ".TH DCBM\\-CONFIG 8 \"\" \"dcbm-config {}\" \"System Administration\"",
        env!("CARGO_PKG_VERSION")
    );
    let _ = writeln!(
        w,
        ".SH NAME\ndcbm\\-config \\- {}",
        roff(&cmd.get_about().map(|a| a.to_string()).unwrap_or_default())
    );
    let _ = writeln!(w, ".SH SYNOPSIS\n\\fBdcbm\\-config\\fR [\\fIOPTIONS\\fR] \\fICOMMAND\\fR [\\fICOMMAND OPTIONS\\fR]");
    let _ = writeln!(w, ".SH DESCRIPTION\n{}", roff(DESCRIPTION));
    let _ = writeln!(w, ".SH OPTIONS\nThese apply to every command.");
    options(
        &mut w,
        cmd.get_arguments()
            .filter(|a| !a.is_hide_set() && a.get_long() != Some("version"))
            .collect(),
    );
    let _ = writeln!(w, ".SH COMMANDS");
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let args: Vec<&Arg> = sub
            .get_arguments()
            .filter(|a| !a.is_global_set() && !a.is_hide_set() && a.get_long() != Some("help"))
            .collect();
        let mut head = format!("\\fB{}\\fR", roff(sub.get_name()));
        for a in &args {
            head += &format!(" [{}]", arg_synopsis(a));
        }
        let aliases: Vec<&str> = sub.get_visible_aliases().collect();
        let about = sub
            .get_long_about()
            .or(sub.get_about())
            .map(|a| a.to_string())
            .unwrap_or_default();
        let about = about.trim_end_matches('.');
        let _ = writeln!(w, ".TP\n{head}\n{}.", roff(about));
        if !aliases.is_empty() {
            let _ = writeln!(w, "Alias: \\fB{}\\fR.", roff(&aliases.join(", ")));
        }
        if !args.is_empty() {
            let _ = writeln!(w, ".RS");
            options(&mut w, args);
            let _ = writeln!(w, ".RE");
        }
    }
    let _ = writeln!(w, ".SH FILES\n{}", FILES);
    let _ = writeln!(w, ".SH ENVIRONMENT\n{}", ENVIRONMENT);
    let _ = writeln!(w, ".SH EXIT STATUS");
    for line in exit::TABLE.lines().skip(1) {
        let line = line.trim();
        if let Some((code, meaning)) = line.split_once(char::is_whitespace) {
            let _ = writeln!(w, ".TP\n\\fB{}\\fR\n{}", roff(code), roff(meaning.trim()));
        }
    }
    let _ = writeln!(
        w,
        ".SH SEE ALSO\n\\fBdcbm.toml\\fR(5), \\fBmodprobe\\fR(8), \\fBsystemd.unit\\fR(5), \\fBudev\\fR(7)"
    );
    w
}

const DESCRIPTION: &str = "\
dcbm-config reads the offload policy (/etc/dcbm.toml and the drop-ins in \
/etc/dcbm.d and /usr/lib/dcbm.d, see dcbm.toml(5)) and \
brings the dcbm module's live interface under /sys/module/dcbm in line with \
it, writing only the attributes whose live value differs, in a safe order: \
offloading=0 first when offload must go off, then nr_dma_chan, timeout_ms, \
min_batch_bytes, min_folio_bytes, reason_mask, counter resets, and \
offloading=1 last. The files are used in /sys/module/dcbm, or in \
/sys/module/dcbm/parameters when only that exists (the upstream v6 driver).
A failed write, or SIGINT, SIGTERM or SIGHUP during an apply, restores what \
was already changed. Only one dcbm-config changes the module at a time; a \
second one waits for the lock.";

/// The variables not tied to an option (those are listed with theirs).
const ENVIRONMENT: &str = "\
.TP
\\fBDCBM_ENFORCE_POLICY_OWNER\\fR
When 1, the policy files are checked as when running as root (owned by \
root, not writable by group or others, nor their directories) even when \
not running as root: to see whether root would accept a policy, and for \
the tests. It never relaxes the checks.
.TP
\\fBNOTIFY_SOCKET\\fR
Set by systemd for dcbm\\-config.service (NotifyAccess=main): \\fBapply\\fR \
(not \\fB\\-\\-dry\\-run\\fR) sends the unit one status line there \
(sd_notify STATUS=), shown by \\fBsystemctl status\\fR: whether offload is on \
and, if not, why.
.PP
DCBM_CONFIG, DCBM_DROPIN_DIRS, DCBM_SYSFS_ROOT, DCBM_STATE_DIR and \
DCBM_MODPROBE stand for the options they are listed with under OPTIONS.";

const FILES: &str = "\
.TP
\\fI/etc/dcbm.toml\\fR
The policy, see \\fBdcbm.toml\\fR(5).
.TP
\\fI/etc/dcbm.d/*.toml\\fR, \\fI/usr/lib/dcbm.d/*.toml\\fR
Drop-ins, merged after /etc/dcbm.toml sorted by file name across both \
directories; a name in /etc/dcbm.d masks the same name in /usr/lib/dcbm.d; \
later files override earlier ones key by key (see \\fBdcbm.toml\\fR(5)).
.TP
\\fI/run/dcbm/lock\\fR
Held by the commands that write (apply, off, revert, reset\\-counters).
.TP
\\fI/run/dcbm/before\\-apply.json\\fR
The settings from before the last apply or off that changed something, for revert.
.TP
\\fI/run/dcbm/counters\\-reset.boot\\-id\\fR
The boot whose counters were reset (reset = \"once\\-per\\-boot\").
.TP
\\fI/run/dcbm/loaded\\-by\\-apply\\fR
Present while a module loaded by apply is loaded; the udev rule then does not restart the service.";
