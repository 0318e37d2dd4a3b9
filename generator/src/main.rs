use std::process::ExitCode;

use clap::Parser;

// The build allocates many small strings on every core: mimalloc keeps the
// threads from contending in the system allocator (about 30% of the time).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    sportello::cli::run(sportello::cli::Cli::parse())
}
