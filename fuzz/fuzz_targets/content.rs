#![no_main]
//! cargo +nightly fuzz run content

#[path = "../targets/content.rs"]
mod target;

use std::sync::OnceLock;

static STATE: OnceLock<sportello_guide::urls::Urls> = OnceLock::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    target::run(STATE.get_or_init(target::urls), data);
});
