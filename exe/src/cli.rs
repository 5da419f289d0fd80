//! The `wasivfs exe` command line.

use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use crate::build::{build_executable, ExeOptions};

/// `wasivfs exe MODULE -o APP [--dir HOST::GUEST]...`
#[derive(Debug, Clone, Args)]
pub struct ExeArgs {
    /// The WASI preview 1 command module to turn into an executable (packed or not).
    pub input: PathBuf,
    /// Where to write the executable.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Grant the host directory HOST to the program as GUEST on every run
    /// (`HOST::GUEST`, or `DIR` for the same path on both sides). Relative host
    /// paths are resolved against the working directory at run time. More can
    /// be granted at run time with WASIVFS_DIRS="HOST::GUEST;HOST::GUEST".
    #[arg(long = "dir", value_name = "HOST::GUEST")]
    pub dirs: Vec<OsString>,
    /// The runner binary to build from (default: $WASIVFS_EXE_RUNNER, else
    /// `wasivfs-exe-runner` next to wasivfs).
    #[arg(long, value_name = "PATH")]
    pub runner: Option<PathBuf>,
}

/// Runs `wasivfs exe`.
pub fn run(args: ExeArgs) -> Result<()> {
    let module = std::fs::read(&args.input)
        .with_context(|| format!("cannot read {}", args.input.display()))?;
    let opts = ExeOptions {
        output: args.output,
        dirs: args.dirs,
        runner: args.runner,
    };
    build_executable(&module, &opts).with_context(|| format!("{}", args.input.display()))?;
    Ok(())
}
