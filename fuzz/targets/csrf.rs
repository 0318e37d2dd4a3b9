//! CSRF tokens as they come back in a form: `TIMESTAMP.HEXMAC`. No input
//! may panic, and none but a token this key issued may verify.

use sportello_inbox::web::csrf::Csrf;

pub fn key() -> Csrf {
    let dir = std::env::temp_dir().join(format!("sportello-fuzz-csrf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("csrf.key");
    // A fixed key: the target checks parsing and verification, not secrecy.
    std::fs::write(&path, [7u8; 32]).expect("csrf key");
    let key = Csrf::load(&path).expect("csrf key");
    let _ = std::fs::remove_dir_all(&dir);
    key
}

pub fn run(csrf: &Csrf, data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (binding, token) = text.split_once('\n').unwrap_or(("binding", text));
    let now = 1_800_000_000;
    let issued = csrf.issue(binding, now);
    assert!(csrf.verify(binding, &issued, now));
    if token != issued {
        assert!(
            !csrf.verify(binding, token, now),
            "forged token accepted: {token:?}"
        );
    }
    let _ = csrf.content_mac(binding, token.as_bytes());
}
