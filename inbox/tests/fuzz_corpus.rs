//! The fuzz targets of fuzz/ on stable Rust: every input of their corpora
//! (what libFuzzer kept while exploring), then a short bounded pass of
//! mutations of them. A crash found by `cargo +nightly fuzz` goes into the
//! corpus, so it stays fixed here.

#[path = "../../fuzz/targets/csrf.rs"]
mod csrf;
#[path = "../../fuzz/targets/form.rs"]
mod form;
#[path = "../../fuzz/targets/mutate.rs"]
mod mutate;
#[path = "../../fuzz/targets/request.rs"]
mod request;

#[test]
fn form_corpus_and_mutations() {
    let opts = form::options();
    let n = mutate::replay("form", 20_000, |data| form::run(&opts, data));
    assert!(n > 0, "the form corpus is empty");
}

#[test]
fn csrf_corpus_and_mutations() {
    let key = csrf::key();
    let n = mutate::replay("csrf", 20_000, |data| csrf::run(&key, data));
    assert!(n > 0, "the csrf corpus is empty");
}

#[test]
fn request_corpus_and_mutations() {
    let target = request::target();
    let n = mutate::replay("request", 5_000, |data| request::run(&target, data));
    assert!(n > 0, "the request corpus is empty");
    assert!(target.committed() > 0, "no input reached the commit");
}
