//! The `wasivfs` command line: a thin front end over `wasivfs-packer`, `wasivfs-inspect` and
//! `wasivfs-module-cache`.

mod args;
mod pack;
mod progress;
mod readback;
mod run;

use clap::error::ErrorKind;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::process::ExitCode;

/// What `--version` prints after the name: the tool version, the VFS guest ABI it embeds and the
/// image format it writes (checked against the crates' constants by a test).
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (VFS ABI 5, image format 3)");

const MAIN_HELP: &str = "\
Examples:
  wasivfs pack app.wasm --mapdir /src::./src -o packed.wasm
  wasmtime packed.wasm                    # sees /src, no --dir needed
  wasivfs ls packed.wasm /src -lR
  wasivfs inspect packed.wasm

Run `wasivfs <command> --help` for each command's options and examples.";

/// Pack host directories into a prebuilt WASI preview 1 module, so that the module and its files
/// ship as one .wasm.
#[derive(Parser, Debug)]
#[command(name = "wasivfs", version = VERSION, propagate_version = true, after_help = MAIN_HELP)]
struct Cli {
    /// Print nothing on success (no summary, no progress); works with every command.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,

    /// Also print each stage's time on stderr; works with every command.
    #[arg(short, long, global = true)]
    verbose: bool,

    #[command(subcommand)]
    command: Command,
}

/// How much a command prints besides its result: the global `-q` / `-v`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Verbosity {
    /// `-q`: nothing on success.
    pub quiet: bool,
    /// `-v`: stage times on stderr.
    pub verbose: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    // Boxed: its options are far larger than every other subcommand's (its help text is
    // PackArgs' own doc comment, which a doc comment here would replace).
    Pack(Box<pack::PackArgs>),
    Run(run::RunArgs),
    Ls(readback::LsArgs),
    Cat(readback::CatArgs),
    Unpack(readback::UnpackArgs),
    Inspect(readback::InspectArgs),
    /// Turn a (packed) WASI module into a native single-file executable.
    #[command(after_help = EXE_HELP)]
    Exe(wasivfs_exe::ExeArgs),
}

const EXE_HELP: &str = "\
Examples:
  wasivfs exe packed.wasm -o app
      makes ./app, a native executable for this machine that runs packed.wasm
  wasivfs exe packed.wasm -o app --target aarch64-unknown-linux-musl
      the same for another machine: a static Linux arm64 executable
  wasivfs exe --list-targets
      the targets, and what to install for those not ready here
  wasivfs exe app.wasm -o app --dir ./data::/data
      also grants the host directory ./data at /data on every run
  ./app --any --flags
      every argument goes to the program; WASIVFS_DIRS=\"HOST::GUEST;...\" grants more at run time

The module is compiled ahead of time; the executable carries a runtime but no compiler.
The runner for wasivfs's own target is built in; the runner for another target is built
with cargo on first use and cached (see docs/exe.md).";

fn main() -> ExitCode {
    let matches = match Cli::command().try_get_matches() {
        Ok(m) => m,
        Err(e) => return usage_error(e),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    // Global flags given at different levels (`-q pack ... -v`) escape clap's own conflict check.
    if cli.quiet && cli.verbose {
        return usage_error(Cli::command().error(
            ErrorKind::ArgumentConflict,
            "the argument '--quiet' cannot be used with '--verbose'",
        ));
    }
    let verbosity = Verbosity {
        quiet: cli.quiet,
        verbose: cli.verbose,
    };
    let result = match cli.command {
        Command::Pack(a) => {
            let sub = matches.subcommand_matches("pack");
            pack::main(*a, sub, verbosity)
        }
        Command::Run(a) => run::main(a, verbosity),
        Command::Ls(a) => readback::ls(a),
        Command::Cat(a) => readback::cat(a),
        Command::Unpack(a) => readback::unpack(a, verbosity),
        Command::Inspect(a) => readback::inspect(a),
        Command::Exe(a) => wasivfs_exe::run(a).map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", render_error(&e));
            ExitCode::from(1)
        }
    }
}

/// The error and its causes on one line. A cause whose text the message already ends with (an
/// error that displays its own source) is not repeated.
fn render_error(e: &anyhow::Error) -> String {
    let mut msg = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !msg.ends_with(&cause) {
            msg.push_str(": ");
            msg.push_str(&cause);
        }
    }
    one_line(&msg)
}

/// Help and version go to stdout as clap prints them; a usage mistake becomes one `error:` line
/// on stderr (exit code 2).
fn usage_error(e: clap::Error) -> ExitCode {
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => e.exit(),
        _ => {
            let rendered = e.render().to_string();
            let mut lines = rendered.lines().filter(|l| !l.trim().is_empty());
            let mut first = lines
                .next()
                .unwrap_or("error: invalid arguments")
                .to_string();
            // "the following required arguments were not provided:" names them on the next line.
            if first.ends_with(':') {
                if let Some(next) = lines.next() {
                    first = format!("{first} {}", next.trim());
                }
            }
            let first = first.strip_prefix("error: ").unwrap_or(&first);
            eprintln!("error: {first} (see --help)");
            ExitCode::from(2)
        }
    }
}

/// Joins a multi-line message (wasmtime adds backtraces) into one line.
pub(crate) fn one_line(msg: &str) -> String {
    msg.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_names_the_abi_and_format_the_crates_use() {
        let expected = format!(
            "{} (VFS ABI {}, image format {})",
            env!("CARGO_PKG_VERSION"),
            wasivfs_packer::info::VFS_ABI,
            wasivfs_image::VERSION
        );
        assert_eq!(VERSION, expected);
        assert_eq!(wasivfs_packer::info::SECTION_FORMAT, wasivfs_image::VERSION);
    }

    #[test]
    fn command_line_is_consistent() {
        Cli::command().debug_assert();
    }
}
