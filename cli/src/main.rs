//! The `wasivfs` command line: a thin front end over `wasivfs-packer` and `wasivfs-runtime`.

mod args;
mod pack;
mod run;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::process::ExitCode;

/// Pack host directories into a prebuilt WASI preview 1 module, so that the module and its files
/// ship as one .wasm.
#[derive(Parser, Debug)]
#[command(name = "wasivfs", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    Pack(pack::PackArgs),
    Run(run::RunArgs),
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let result = match cli.command {
        Command::Pack(a) => {
            let sub = matches.subcommand_matches("pack");
            pack::main(a, sub)
        }
        Command::Run(a) => run::main(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
