//! Command-line interface.

use clap::{Args, Parser, Subcommand, ValueEnum};

pub const EXIT_OK: i32 = 0;
pub const EXIT_CORRUPT: i32 = 1;
pub const EXIT_SYSCALL: i32 = 2;
pub const EXIT_USAGE: i32 = 3;
pub const EXIT_NOT_MIGRATED: i32 = 4;

const EXIT_HELP: &str = "\
Output: one `RESULT {json}` line per result on stdout, human-readable progress on stderr.

Exit codes:
  0  every word intact and every page ended up on the requested node
  1  corruption: a word differed from the expected pattern (first bad offset,
     expected and actual value are printed on stderr)
  2  a system call failed (errno text printed), e.g. the target node does not exist
  3  usage error
  4  not migrated: more than 1% of the page moves left the page on the wrong
     node (status < 0 such as -EBUSY/-EAGAIN/-ENOMEM). Pages that failed to
     move are counted (pages_not_moved) but are not corruption.
Corruption (1) takes precedence over 2, and 2 over 4.";

#[derive(Parser, Debug)]
#[command(
    name = "migrate-check",
    version,
    about = "Page-migration correctness and throughput checker for the dcbm testbed guest",
    after_help = EXIT_HELP
)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// Fill a region on --from-node, move it to --to-node and back R times, verifying every word.
    #[command(after_help = EXIT_HELP)]
    Run(RunArgs),
    /// Like run, repeated until --seconds elapse or SIGTERM/SIGINT arrives (background load).
    #[command(after_help = EXIT_HELP)]
    Loop(LoopArgs),
    /// Throughput: per size, `reps` timed moves there and back (verification excluded from timing).
    #[command(after_help = EXIT_HELP)]
    Bench(BenchArgs),
    /// Latency: the time of single move_pages calls of N folios each, there and back.
    #[command(after_help = EXIT_HELP)]
    Latency(LatencyArgs),
    /// Stalls: place a region on --from-node, then touch (write back) the
    /// first word of each 4 KiB page, pass after pass, for --seconds, while
    /// NUMA balancing moves it to the node this task runs on (--to-node);
    /// reports the longest gap between two touches, the stalls, and where
    /// the pages ended.
    Stall(StallArgs),
    /// Demotion under memory pressure (a tiered machine): fill a cold region
    /// on --from-node, then allocate and fill a second one (--hot-mib) bound
    /// to the same node, more than it has left, while a thread keeps writing to every
    /// page of the cold one (a pass, MADV_COLD, a rest: the pages look unused
    /// to reclaim); reclaim demotes pages to the lower tier
    /// (--to-node). Verifies both regions and the writer's last writes;
    /// reports the time the second region took and where the cold pages
    /// ended.
    #[command(after_help = EXIT_HELP)]
    Pressure(PressureArgs),
    /// Print the NUMA nodes with CPUs and memory sizes (from sysfs).
    Nodes,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum PageKind {
    /// 4 KiB pages (MADV_NOHUGEPAGE)
    #[value(name = "4k")]
    Small,
    /// 2 MiB transparent huge pages (2 MiB aligned, MADV_HUGEPAGE)
    #[value(name = "thp")]
    Thp,
}

impl PageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PageKind::Small => "4k",
            PageKind::Thp => "thp",
        }
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Api {
    /// move_pages(2) on the region's pages
    #[value(name = "move_pages")]
    MovePages,
    /// migrate_pages(2) on the whole process (from-node mask to to-node mask)
    #[value(name = "migrate_pages")]
    MigratePages,
}

impl Api {
    pub fn as_str(self) -> &'static str {
        match self {
            Api::MovePages => "move_pages",
            Api::MigratePages => "migrate_pages",
        }
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Entries {
    /// one move_pages entry per 2 MiB (moves the whole folio); pages left
    /// behind (THP not formed) are moved by a second, also timed, call
    Head,
    /// one move_pages entry per 4 KiB page
    All,
}

impl Entries {
    pub fn as_str(self) -> &'static str {
        match self {
            Entries::Head => "head",
            Entries::All => "all",
        }
    }
}

#[derive(Args, Debug, Clone)]
pub struct Common {
    /// Page size backing the region
    #[arg(long, value_enum)]
    pub page: PageKind,
    /// Migration system call
    #[arg(long, value_enum, default_value = "move_pages")]
    pub api: Api,
    /// Node the region is first placed on (and moved back to)
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..64))]
    pub from_node: u32,
    /// Node the region is moved to (use 0 on a single-node host to exercise the path)
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(0..64))]
    pub to_node: u32,
    /// Pattern seed
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// move_pages entries for --page thp
    #[arg(long, value_enum, default_value = "head")]
    pub thp_entries: Entries,
    /// move_pages: cover at most N 4 KiB pages per call (at least one whole
    /// THP per call with --page thp --thp-entries head), so each kernel
    /// migration batch holds at most N pages' folios. Default: the whole
    /// region in one call
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1 << 28))]
    pub chunk_pages: Option<u64>,
    /// While each move runs, a second thread keeps writing to every page;
    /// a page whose last write is lost counts as corruption
    #[arg(long)]
    pub writer: bool,
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Region size in MiB (even for --page thp)
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1 << 20))]
    pub size_mib: u64,
    /// Number of there-and-back rounds
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub rounds: u64,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Args, Debug, Clone)]
pub struct LoopArgs {
    /// Run time in seconds (at least one round is always done)
    #[arg(long)]
    pub seconds: f64,
    /// Region size in MiB (even for --page thp)
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1 << 20))]
    pub size_mib: u64,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Args, Debug, Clone)]
pub struct StallArgs {
    /// Run time in seconds
    #[arg(long)]
    pub seconds: f64,
    /// Region size in MiB (even for --page thp)
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1 << 20))]
    pub size_mib: u64,
    /// A gap between two page touches of at least this many ms is a stall
    #[arg(long, default_value_t = 10.0)]
    pub stall_ms: f64,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Args, Debug, Clone)]
pub struct PressureArgs {
    /// The cold region, MiB (placed on --from-node first)
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1 << 20))]
    pub size_mib: u64,
    /// The region that makes the pressure, MiB
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1 << 20))]
    pub hot_mib: u64,
    /// The writer's rest between two passes over the cold region, ms
    #[arg(long, default_value_t = 200)]
    pub writer_pause_ms: u64,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// Comma-separated region sizes in MiB
    #[arg(long, value_delimiter = ',', required = true,
          value_parser = clap::value_parser!(u64).range(1..=1 << 20))]
    pub sizes: Vec<u64>,
    /// Repetitions per size (each: one timed move there, one timed move back)
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
    pub reps: u64,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Args, Debug, Clone)]
pub struct LatencyArgs {
    /// Folios moved by each call (4 KiB pages, or 2 MiB THPs with --page thp)
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1 << 18))]
    pub folios: u64,
    /// Timed calls there and back (each rep: one call there, one back)
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..))]
    pub reps: u64,
    /// Untimed round trips before the timed ones
    #[arg(long, default_value_t = 1)]
    pub warmup: u64,
    #[command(flatten)]
    pub common: Common,
}

/// Checks clap cannot express.
pub fn validate(cli: &Cli) -> Result<(), String> {
    let (common, sizes, seconds): (&Common, Vec<u64>, Option<f64>) = match &cli.cmd {
        Cmd::Run(a) => (&a.common, vec![a.size_mib], None),
        Cmd::Loop(a) => (&a.common, vec![a.size_mib], Some(a.seconds)),
        Cmd::Bench(a) => (&a.common, a.sizes.clone(), None),
        Cmd::Latency(a) => {
            if a.common.api != Api::MovePages || a.common.chunk_pages.is_some() {
                return Err("latency times single move_pages calls: no --api migrate_pages, no --chunk-pages".into());
            }
            if a.common.writer {
                return Err("latency has no --writer".into());
            }
            (&a.common, vec![], None)
        }
        Cmd::Pressure(a) => {
            if a.common.chunk_pages.is_some() || a.common.api != Api::MovePages {
                return Err("pressure moves nothing itself: no --chunk-pages, no --api (its writer always runs)".into());
            }
            (&a.common, vec![a.size_mib, a.hot_mib], None)
        }
        Cmd::Stall(a) => {
            if a.common.writer || a.common.chunk_pages.is_some() {
                return Err("stall moves nothing itself: no --writer, no --chunk-pages".into());
            }
            if !a.stall_ms.is_finite() || a.stall_ms <= 0.0 {
                return Err(format!(
                    "--stall-ms must be a positive number, got {}",
                    a.stall_ms
                ));
            }
            (&a.common, vec![a.size_mib], Some(a.seconds))
        }
        Cmd::Nodes => return Ok(()),
    };
    if let Some(s) = seconds {
        if !s.is_finite() || s < 0.0 {
            return Err(format!("--seconds must be a non-negative number, got {s}"));
        }
    }
    if common.chunk_pages.is_some() && common.api != Api::MovePages {
        return Err("--chunk-pages needs --api move_pages".into());
    }
    if common.page == PageKind::Thp {
        if let Some(bad) = sizes.iter().find(|&&s| s % 2 != 0) {
            return Err(format!(
                "--page thp needs a size that is a multiple of 2 MiB, got {bad}"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("migrate-check").chain(args.iter().copied()))
    }

    #[test]
    fn stall_takes_its_options_and_checks_them() {
        let ok = parse(&[
            "stall",
            "--seconds",
            "5",
            "--size-mib",
            "32",
            "--page",
            "thp",
            "--from-node",
            "1",
            "--to-node",
            "0",
        ])
        .unwrap();
        assert!(validate(&ok).is_ok());
        for bad in [
            &[
                "stall",
                "--seconds",
                "5",
                "--size-mib",
                "3",
                "--page",
                "thp",
            ][..],
            &["stall", "--seconds=-1", "--size-mib", "2", "--page", "thp"][..],
            &[
                "stall",
                "--seconds",
                "5",
                "--size-mib",
                "2",
                "--page",
                "thp",
                "--stall-ms",
                "0",
            ][..],
            &[
                "stall",
                "--seconds",
                "5",
                "--size-mib",
                "2",
                "--page",
                "thp",
                "--writer",
            ][..],
        ] {
            let cli = parse(bad).unwrap();
            assert!(validate(&cli).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn run_defaults() {
        let cli = parse(&["run", "--size-mib", "64", "--page", "thp"]).unwrap();
        let Cmd::Run(a) = cli.cmd else {
            panic!("not run")
        };
        assert_eq!(a.size_mib, 64);
        assert_eq!(a.rounds, 1);
        assert_eq!(a.common.page, PageKind::Thp);
        assert_eq!(a.common.api, Api::MovePages);
        assert_eq!((a.common.from_node, a.common.to_node), (0, 1));
        assert_eq!(a.common.seed, 1);
        assert_eq!(a.common.thp_entries, Entries::Head);
        assert_eq!(a.common.chunk_pages, None);
    }

    #[test]
    fn run_all_options() {
        let cli = parse(&[
            "run",
            "--size-mib",
            "8",
            "--page",
            "4k",
            "--api",
            "migrate_pages",
            "--rounds",
            "3",
            "--seed",
            "99",
            "--to-node",
            "0",
            "--from-node",
            "0",
            "--thp-entries",
            "all",
        ])
        .unwrap();
        let Cmd::Run(a) = cli.cmd else {
            panic!("not run")
        };
        assert_eq!(a.common.page, PageKind::Small);
        assert_eq!(a.common.api, Api::MigratePages);
        assert_eq!((a.rounds, a.common.seed, a.common.to_node), (3, 99, 0));
        assert_eq!(a.common.thp_entries, Entries::All);
    }

    #[test]
    fn loop_and_bench_and_nodes() {
        let cli = parse(&[
            "loop",
            "--seconds",
            "2.5",
            "--size-mib",
            "16",
            "--page",
            "4k",
        ])
        .unwrap();
        let Cmd::Loop(a) = cli.cmd else {
            panic!("not loop")
        };
        assert_eq!((a.seconds, a.size_mib), (2.5, 16));

        let cli = parse(&[
            "bench",
            "--sizes",
            "64,256,1024",
            "--page",
            "thp",
            "--reps",
            "5",
        ])
        .unwrap();
        let Cmd::Bench(a) = cli.cmd else {
            panic!("not bench")
        };
        assert_eq!(a.sizes, vec![64, 256, 1024]);
        assert_eq!(a.common.chunk_pages, None);
        assert_eq!(a.reps, 5);
        assert_eq!(a.common.api, Api::MovePages);

        assert!(matches!(parse(&["nodes"]).unwrap().cmd, Cmd::Nodes));

        let cli = parse(&["latency", "--folios", "64", "--page", "4k"]).unwrap();
        assert!(validate(&cli).is_ok());
        let Cmd::Latency(a) = cli.cmd else {
            panic!("not latency")
        };
        assert_eq!((a.folios, a.reps, a.warmup), (64, 2, 1));
        assert!(parse(&["latency", "--folios", "0", "--page", "4k"]).is_err());
        let chunked = parse(&[
            "latency",
            "--folios",
            "8",
            "--page",
            "4k",
            "--chunk-pages",
            "1",
        ])
        .unwrap();
        assert!(validate(&chunked).is_err());
    }

    #[test]
    fn rejects_bad_input() {
        assert!(parse(&["run", "--size-mib", "8"]).is_err()); // no --page
        assert!(parse(&["run", "--size-mib", "0", "--page", "4k"]).is_err());
        assert!(parse(&["run", "--size-mib", "8", "--page", "64k"]).is_err());
        assert!(parse(&["run", "--size-mib", "8", "--page", "4k", "--api", "mbind"]).is_err());
        assert!(parse(&["run", "--size-mib", "8", "--page", "4k", "--to-node", "64"]).is_err());
        assert!(parse(&["run", "--size-mib", "8", "--page", "4k", "--rounds", "0"]).is_err());
        assert!(parse(&["bench", "--page", "thp"]).is_err());
        assert!(parse(&["bench", "--sizes", "1,x", "--page", "thp"]).is_err());
        assert!(parse(&[]).is_err());
        assert_eq!(
            parse(&["--help"]).unwrap_err().kind(),
            ErrorKind::DisplayHelp
        );
    }

    #[test]
    fn validation() {
        let odd = parse(&["run", "--size-mib", "3", "--page", "thp"]).unwrap();
        assert!(validate(&odd).unwrap_err().contains("multiple of 2"));
        let odd4k = parse(&["run", "--size-mib", "3", "--page", "4k"]).unwrap();
        assert!(validate(&odd4k).is_ok());
        let bench = parse(&["bench", "--sizes", "64,5", "--page", "thp"]).unwrap();
        assert!(validate(&bench).is_err());
        let chunk = parse(&[
            "bench",
            "--sizes",
            "8",
            "--page",
            "4k",
            "--chunk-pages",
            "64",
        ])
        .unwrap();
        assert!(validate(&chunk).is_ok());
        let Cmd::Bench(a) = chunk.cmd else {
            panic!("not bench")
        };
        assert_eq!(a.common.chunk_pages, Some(64));
        assert!(parse(&[
            "bench",
            "--sizes",
            "8",
            "--page",
            "4k",
            "--chunk-pages",
            "0"
        ])
        .is_err());
        let mp = parse(&[
            "run",
            "--size-mib",
            "8",
            "--page",
            "4k",
            "--api",
            "migrate_pages",
            "--chunk-pages",
            "8",
        ])
        .unwrap();
        assert!(validate(&mp).unwrap_err().contains("move_pages"));
        let neg = parse(&["loop", "--seconds=-1", "--size-mib", "2", "--page", "4k"]).unwrap();
        assert!(validate(&neg).is_err());
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
