//! Stand-alone front end for `wasivfs exe` (same arguments), for benchmarks
//! and manual testing: `cargo run -p wasivfs-exe --example exe -- app.wasm -o app`.

use clap::Parser;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: wasivfs_exe::ExeArgs,
}

fn main() -> std::process::ExitCode {
    match wasivfs_exe::run(Cli::parse().args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
