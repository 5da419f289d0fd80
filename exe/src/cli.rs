//! The `wasivfs exe` command line.

use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use crate::build::{build_executable, ExeOptions};
use crate::runner::{availability, Availability};
use crate::target::Target;

/// `wasivfs exe MODULE -o APP [--target TRIPLE] [--dir HOST::GUEST]...`
#[derive(Debug, Clone, Args)]
pub struct ExeArgs {
    /// The WASI preview 1 command module, or WASI 0.2 command component, to turn into an
    /// executable (packed or not).
    #[arg(required_unless_present = "list_targets")]
    pub input: Option<PathBuf>,
    /// Where to write the executable (`.exe` is added for Windows if the name has no extension).
    #[arg(short, long, required_unless_present = "list_targets")]
    pub output: Option<PathBuf>,
    /// Make the executable for TRIPLE (see --list-targets), with the module compiled for that
    /// architecture's baseline CPU. Default: the target wasivfs was built for, with the module
    /// compiled for this machine's CPU. A runner for a target other than wasivfs's own is built
    /// with cargo on first use and cached.
    #[arg(long, value_name = "TRIPLE")]
    pub target: Option<String>,
    /// List the targets and whether executables can be made for each on this machine now.
    #[arg(long, conflicts_with_all = ["input", "output", "dirs", "runner", "target"])]
    pub list_targets: bool,
    /// Grant the host directory HOST to the program as GUEST on every run
    /// (`HOST::GUEST`, or `DIR` for the same path on both sides). Relative host
    /// paths are resolved against the working directory at run time. More can
    /// be granted at run time with WASIVFS_DIRS="HOST::GUEST;HOST::GUEST".
    #[arg(long = "dir", value_name = "HOST::GUEST")]
    pub dirs: Vec<OsString>,
    /// Use this runner binary (for the target) instead of the built-in or cached one.
    #[arg(long, value_name = "PATH")]
    pub runner: Option<PathBuf>,
    /// Do not say when a runner is being built.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Runs `wasivfs exe`.
pub fn run(args: ExeArgs) -> Result<()> {
    if args.list_targets {
        print!("{}", list_targets());
        return Ok(());
    }
    let (Some(input), Some(output)) = (args.input, args.output) else {
        anyhow::bail!("a module and -o OUTPUT are required");
    };
    let module =
        std::fs::read(&input).with_context(|| format!("cannot read {}", input.display()))?;
    let opts = ExeOptions {
        output,
        dirs: args.dirs,
        runner: args.runner,
        target: args.target,
        progress: !args.quiet,
    };
    build_executable(&module, &opts).with_context(|| format!("{}", input.display()))?;
    Ok(())
}

/// The `--list-targets` table: each target and how its runner is obtained on this machine now.
pub fn list_targets() -> String {
    let mut out = String::from("TARGET                      STATUS\n");
    for target in Target::all() {
        let status = match availability(&target) {
            Availability::BuiltIn => {
                "ready: runner built in (the default target; module compiled for this CPU)"
                    .to_string()
            }
            Availability::Cached(path) => format!("ready: runner cached at {}", path.display()),
            Availability::Buildable => {
                "ready: runner built with cargo on first use (a few minutes)".to_string()
            }
            Availability::Missing(m) => format!("missing: first {}", m.steps()),
        };
        out.push_str(&format!("{:<27} {status}\n", target.triple));
    }
    out
}
