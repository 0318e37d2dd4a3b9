use std::process::ExitCode;

use clap::Parser;

// The build allocates many small strings on every core: mimalloc keeps the
// threads from contending in the system allocator (about 30% of the time).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc.h (the Rust bindings do not name it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> ExitCode {
    let cli = sportello::cli::Cli::parse();
    // A build or a check gives freed memory back to the system after 10 ms, not
    // mimalloc's default second: a guide's sources and parse buffers are
    // freed when loading ends, and were otherwise still counted at the
    // build's peak (10,000 services: 184 → 141 MiB peak RSS, wall 1.04x).
    // `serve` keeps the default: it frees and takes again the same
    // megabytes on every save, and faulting them back in cost it time.
    if !cli.command.keeps_running() {
        // SAFETY: sets a plain integer option; no other thread runs yet.
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 10) };
    }
    sportello::cli::run(cli, release)
}

/// Frees the calling thread's empty pages now and purges what is due. A
/// build calls it on every thread once loading is done: when the thread
/// that freed the sources went on without allocating, mimalloc had not
/// given them back, and one build in about thirty peaked at 181 MiB
/// instead of 135.
fn release() {
    // SAFETY: mi_collect may be called from any thread at any time.
    unsafe { libmimalloc_sys::mi_collect(false) };
}
