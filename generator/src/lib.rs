//! `sportello`: the command line over the guide library
//! ([`sportello_guide`]) and, with the `serve` feature (on by default), the
//! preview server. A program that only builds guides depends on
//! `sportello-guide` and compiles no web server.

pub mod cli;
#[cfg(feature = "serve")]
pub mod serve;

pub use sportello_guide as guide;
