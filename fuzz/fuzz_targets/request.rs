#![no_main]
//! cargo +nightly fuzz run request

#[path = "../targets/form.rs"]
mod form;
#[path = "../targets/request.rs"]
mod target;

use std::sync::OnceLock;

static STATE: OnceLock<target::Target> = OnceLock::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    target::run(STATE.get_or_init(target::target), data);
});
