//! For packagers: `dcbm-config completions SHELL` and `dcbm-config man
//! [PAGE]`, a parser of their own so that they appear neither in the
//! completions nor in the man page.

use clap::{CommandFactory, Parser, Subcommand};

use crate::cli::{Cli, Globals};
use crate::exit;
use crate::manpage;
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
            Generate::Man { page } if page == "dcbm.toml" => {
                manpage::DCBM_TOML_5.as_bytes().to_vec()
            }
            Generate::Man { .. } => manpage::dcbm_config_8().into_bytes(),
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
