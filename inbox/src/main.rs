//! `sportello-inbox`: thin entry point; everything lives in the library.
fn main() -> std::process::ExitCode {
    sportello_inbox::cli::main()
}
