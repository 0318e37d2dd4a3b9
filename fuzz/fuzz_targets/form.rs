#![no_main]
//! cargo +nightly fuzz run form

#[path = "../targets/form.rs"]
mod target;

use std::sync::OnceLock;

static STATE: OnceLock<sportello_inbox::form::Options> = OnceLock::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    target::run(STATE.get_or_init(target::options), data);
});
