#![no_main]
//! cargo +nightly fuzz run csrf

#[path = "../targets/csrf.rs"]
mod target;

use std::sync::OnceLock;

static STATE: OnceLock<sportello_inbox::web::csrf::Csrf> = OnceLock::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    target::run(STATE.get_or_init(target::key), data);
});
