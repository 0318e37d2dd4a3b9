use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    sportello::cli::run(sportello::cli::Cli::parse())
}
