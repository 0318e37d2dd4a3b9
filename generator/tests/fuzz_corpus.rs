//! The content fuzz target of fuzz/ on stable Rust: every input of its
//! corpus, then a short bounded pass of mutations of them.

#[path = "../../fuzz/targets/content.rs"]
mod content;
#[path = "../../fuzz/targets/mutate.rs"]
mod mutate;

#[test]
fn content_corpus_and_mutations() {
    let urls = content::urls();
    let n = mutate::replay("content", 5_000, |data| content::run(&urls, data));
    assert!(n > 0, "the content corpus is empty");
}
