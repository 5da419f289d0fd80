//! `wasivfs run`.

use crate::{args, one_line, Verbosity};
use anyhow::{anyhow, Result};
use clap::Args;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use wasivfs_module_cache::{
    engine, is_component_file, load_component_for_run, load_for_run, run_command, run_component,
    RunOptions, Stdio,
};

const RUN_HELP: &str = "\
Examples:
  wasivfs run packed.wasm
      runs a packed module; its embedded directories need no --dir
  wasivfs run python.wasm /app/main.py --verbose
      everything after the module is the program's, as with `wasmtime run`
  wasivfs run --dir ./src::/src --env LANG=C app.wasm /src/main.py -q
      options before the module are wasivfs's; `-q` here goes to the program
  wasivfs run app.wasm -- --help
      a `--` right after the module is dropped, the rest goes to the program

The module's exit code becomes wasivfs's exit code; a trap exits with 134.
Compiled code is cached, uncompressed, in ~/.cache/wasivfs/modules ($WASIVFS_CACHE/modules),
so the second run of a large module starts fast; --no-cache compiles every time and neither
reads nor writes the cache. Deleting that directory clears it.";

/// Run a WASI preview 1 command module or a WASI 0.2 command component (packed or not) on the
/// embedded wasmtime.
///
/// Options go before the module; every argument after it is the program's.
#[derive(Args, Debug)]
#[command(
    after_help = RUN_HELP,
    override_usage = "wasivfs run [OPTIONS] <MODULE> [ARGS]..."
)]
pub struct RunArgs {
    /// The module to run (e.g. packed.wasm; its file name is the guest's argv[0]), then the
    /// program's arguments: everything after the module, options included, as with `wasmtime
    /// run`. A `--` right after the module is dropped.
    #[arg(
        value_name = "MODULE",
        required = true,
        num_args = 1..,
        trailing_var_arg = true
    )]
    pub module_and_args: Vec<OsString>,

    /// Preopen host directory HOST at guest path GUEST, e.g. --dir ./data::/data; without `::`
    /// the guest path is the host path (repeatable).
    #[arg(long = "dir", value_name = "HOST[::GUEST]", value_parser = args::dir)]
    pub dir: Vec<(PathBuf, String)>,

    /// Set a guest environment variable, e.g. --env LANG=C; a bare NAME copies this process's
    /// value (repeatable).
    #[arg(long = "env", value_name = "NAME[=VALUE]", value_parser = args::env)]
    pub env: Vec<(String, Option<String>)>,

    /// Compile the module every time instead of using the compilation cache.
    #[arg(long)]
    pub no_cache: bool,
}

/// The program's arguments: `args` without a leading `--`, each valid UTF-8 (WASI passes text).
fn guest_args(args: Vec<OsString>) -> Result<Vec<String>> {
    let skip = usize::from(args.first().is_some_and(|a| a == "--"));
    args.into_iter()
        .skip(skip)
        .enumerate()
        .map(|(i, a)| {
            a.into_string().map_err(|a| {
                anyhow!(
                    "program argument {} ({}) is not valid UTF-8",
                    i + 1,
                    a.to_string_lossy()
                )
            })
        })
        .collect()
}

/// Runs `run`; `-v` prints the compile (or cache load) and run times on stderr.
pub fn main(a: RunArgs, v: Verbosity) -> Result<ExitCode> {
    let mut rest = a.module_and_args.into_iter();
    let module = PathBuf::from(
        rest.next()
            .ok_or_else(|| anyhow!("no module given (see --help)"))?,
    );
    let name = module.display().to_string();
    let argv0 = module
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| name.clone());
    let mut argv = vec![argv0];
    argv.extend(guest_args(rest.collect())?);
    let env = a
        .env
        .into_iter()
        .filter_map(|(k, v)| match v {
            Some(v) => Some((k, v)),
            None => std::env::var(&k).ok().map(|v| (k, v)),
        })
        .collect();
    let opts = RunOptions {
        args: argv,
        env,
        dirs: a.dir,
        read_only: false,
        stdio: Stdio::Inherit,
    };
    let engine = engine()?;
    let started = Instant::now();
    let fail = |e: anyhow::Error| anyhow!("{name}: {}", one_line(&format!("{e:#}")));
    let component = is_component_file(&module).map_err(fail)?;
    let (compiled, outcome) = if component {
        let component = load_component_for_run(&engine, &module, !a.no_cache).map_err(fail)?;
        let compiled = started.elapsed();
        (
            compiled,
            run_component(&engine, &component, &opts).map_err(|e| fail(e.into()))?,
        )
    } else {
        let module = load_for_run(&engine, &module, !a.no_cache).map_err(fail)?;
        let compiled = started.elapsed();
        (
            compiled,
            run_command(&engine, &module, &opts).map_err(|e| fail(e.into()))?,
        )
    };
    if v.verbose {
        let ran = started.elapsed() - compiled;
        eprintln!(
            "  compile: {:>9.1} ms{}\n      run: {:>9.1} ms",
            compiled.as_secs_f64() * 1000.0,
            if a.no_cache { "" } else { " (cache on)" },
            ran.as_secs_f64() * 1000.0
        );
    }
    if let Some(trap) = outcome.trap {
        eprintln!("error: {name}: {}", one_line(&trap));
    }
    // Exit codes are a byte on Unix.
    Ok(ExitCode::from(outcome.exit_code as u8))
}
