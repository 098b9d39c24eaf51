//! The man pages. dcbm-config(8) is clap_mangen's rendering of the
//! command-line definition (every command with its options, so it cannot
//! fall behind), followed by the sections a clap definition has no place
//! for, set with clap_mangen's roff; dcbm.toml(5) is `man/dcbm.toml.5`,
//! written by hand.

use std::io::{self, Write};

use clap::{Command, CommandFactory};
use clap_mangen::roff::{bold, italic, roman, Roff};
use clap_mangen::Man;

use crate::cli::Cli;
use crate::exit;
use crate::notify;

/// dcbm.toml(5), written by hand.
pub const DCBM_TOML_5: &str = include_str!("../man/dcbm.toml.5");

/// The policy files, the state kept in /run, what they are.
const FILES: [(&[&str], &str); 7] = [
    (&["/etc/dcbm.toml"], "The policy, see dcbm.toml(5)."),
    (
        &["/etc/dcbm.d/*.toml", "/usr/lib/dcbm.d/*.toml"],
        "Drop-ins, merged after /etc/dcbm.toml sorted by file name across both \
         directories; a name in /etc/dcbm.d masks the same name in /usr/lib/dcbm.d; \
         later files override earlier ones key by key (see dcbm.toml(5)).",
    ),
    (
        &["/run/dcbm/lock"],
        "Held by the commands that write (apply, off, revert, reset-counters).",
    ),
    (
        &["/run/dcbm/before-apply.json"],
        "The settings from before the last apply or off that changed something, for revert.",
    ),
    (
        &["/run/dcbm/counters-reset.boot-id"],
        "The boot whose counters were reset (reset = \"once-per-boot\").",
    ),
    (
        &["/run/dcbm/loaded-by-apply"],
        "Present while a module loaded by apply is loaded; the udev rule then does not \
         restart the service.",
    ),
    (
        &["/run/dcbm/off"],
        "Written by off: while it exists, apply --unless-off (dcbm-config.service, also \
         when udev re-runs it) writes nothing. Removed by apply and revert; a reboot \
         forgets it.",
    ),
];

/// The variables no option stands for (those are listed with theirs).
const ENVIRONMENT: [(&str, &str); 2] = [
    (
        "DCBM_ENFORCE_POLICY_OWNER",
        "When 1, the policy files are checked as when running as root (owned by root, \
         not writable by group or others, nor their directories) even when not running \
         as root: to see whether root would accept a policy, and for the tests. It never \
         relaxes the checks.",
    ),
    (
        notify::ENV,
        "Set by systemd for dcbm-config.service (NotifyAccess=main): apply (not --dry-run) \
         sends the unit one status line there (sd_notify STATUS=), shown by systemctl \
         status: whether offload is on and, if not, why.",
    ),
];

const SEE_ALSO: [(&str, u8); 4] = [
    ("dcbm.toml", 5),
    ("modprobe", 8),
    ("systemd.unit", 5),
    ("udev", 7),
];

/// One of clap_mangen's sections of a page.
type Section = fn(&Man, &mut dyn Write) -> io::Result<()>;

/// dcbm-config(8). One page for the tool and its commands: clap_mangen's
/// own layout, a page per command, would spread ten short commands over
/// eleven pages.
pub fn dcbm_config_8() -> String {
    let cli = Cli::command();
    let man = Man::new(cli.clone())
        .title("DCBM-CONFIG")
        .section("8")
        // The roff crate writes an empty argument as nothing, which would
        // move the source and the manual into the date's place.
        .date("\"\"")
        .manual("System Administration");
    let top: [Section; 5] = [
        Man::render_title,
        Man::render_name_section,
        Man::render_synopsis_section,
        Man::render_description_section,
        Man::render_options_section,
    ];
    // The preamble (it defines `\*(Aq`), once.
    let mut page = Roff::new().render();
    for section in top {
        page += &rendered(&man, section);
    }
    page += &commands(&cli);
    page += &trailer(&cli);
    page
}

/// COMMANDS: a subsection per command, holding the synopsis, description
/// and options of the page clap_mangen would make for it.
fn commands(cli: &Command) -> String {
    let mut page = roff(|r| {
        r.control("SH", ["COMMANDS"]);
    });
    for sub in cli.get_subcommands().filter(|s| !s.is_hide_set()) {
        let man = Man::new(
            sub.clone()
                .bin_name(format!("{} {}", cli.get_name(), sub.get_name()))
                // Every command has `--help`: OPTIONS lists it once.
                .disable_help_flag(true),
        );
        page += &roff(|r| {
            r.control("SS", [sub.get_name()]);
        });
        page += &unheaded(&man, Man::render_synopsis_section);
        page += &roff(|r| {
            let aliases: Vec<&str> = sub.get_visible_aliases().collect();
            if !aliases.is_empty() {
                r.control("br", [])
                    .text([roman("Alias: "), bold(aliases.join(", "))]);
            }
            r.control("PP", []);
        });
        page += &unheaded(&man, Man::render_description_section);
        page += &unheaded(&man, Man::render_options_section);
    }
    page
}

/// FILES, ENVIRONMENT, EXIT STATUS and SEE ALSO.
fn trailer(cli: &Command) -> String {
    roff(|r| {
        r.control("SH", ["FILES"]);
        for (paths, what) in FILES {
            let mut tag = Vec::new();
            for path in paths {
                if !tag.is_empty() {
                    tag.push(roman(", "));
                }
                tag.push(italic(*path));
            }
            r.control("TP", []).text(tag).text([roman(what)]);
        }
        r.control("SH", ["ENVIRONMENT"]);
        for (var, what) in ENVIRONMENT {
            r.control("TP", []).text([bold(var)]).text([roman(what)]);
        }
        let of_options: Vec<String> = cli
            .get_arguments()
            .filter_map(|a| a.get_env())
            .map(|v| v.to_string_lossy().into_owned())
            .collect();
        r.control("PP", []).text([roman(format!(
            "{} stand for the options they are listed with under OPTIONS.",
            of_options.join(", ")
        ))]);
        r.control("SH", ["EXIT STATUS"]);
        for (code, meaning) in exit::STATUSES {
            r.control("TP", [])
                .text([bold(code)])
                .text([roman(meaning)]);
        }
        r.control("SH", ["SEE ALSO"]);
        let mut refs = Vec::new();
        for (name, section) in SEE_ALSO {
            if !refs.is_empty() {
                refs.push(roman(", "));
            }
            refs.extend([bold(name), roman(format!("({section})"))]);
        }
        r.text(refs);
    })
}

/// Roff made with the roff crate, without the preamble the page has once.
fn roff(build: impl FnOnce(&mut Roff)) -> String {
    let mut r = Roff::new();
    build(&mut r);
    without_preamble(r.render())
}

/// One of clap_mangen's sections, without the preamble.
fn rendered(man: &Man, section: Section) -> String {
    let mut out = Vec::new();
    section(man, &mut out).expect("writing to memory cannot fail");
    without_preamble(String::from_utf8(out).expect("roff made of UTF-8 text"))
}

/// One of clap_mangen's sections without its heading, to be part of ours.
fn unheaded(man: &Man, section: Section) -> String {
    let roff = rendered(man, section);
    match roff.split_once('\n') {
        Some((heading, body)) if heading.starts_with(".SH ") => body.to_string(),
        _ => roff,
    }
}

/// Every rendering of the roff crate starts with the same preamble.
fn without_preamble(roff: String) -> String {
    match roff.strip_prefix(&Roff::new().render()) {
        Some(body) => body.to_string(),
        None => roff,
    }
}
