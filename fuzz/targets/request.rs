//! Requests as anything holding a valid operator certificate may send
//! them, through the whole router the server runs: routing, the Host check,
//! methods, content type, origin checks, CSRF, the body limit and deadline,
//! form decoding, validation, idempotency and the commit. `@CSRF@` in the
//! input is replaced by a valid token, so mutations reach past the CSRF
//! check. Any request must get an answer, never a panic, and never a 500.
//!
//! Input: `METHOD PATH`, header lines `name: value`, an empty line, body.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use pgp::composed::{
    ArmorOptions, EncryptionCaps, KeyType, SecretKeyParamsBuilder, SignedPublicKey,
    SubkeyParamsBuilder,
};
use pgp::crypto::ecc_curve::ECCCurve;
use sportello_inbox::seal::{Recipients, StaffKey};
use sportello_inbox::store;
use sportello_inbox::web::{self, csrf::Csrf, ratelimit::Limiter, AppState, Identity};
use tower::ServiceExt;

pub struct Target {
    rt: tokio::runtime::Runtime,
    app: axum::Router,
    state: Arc<AppState>,
    identity: Identity,
    _dir: tempfile::TempDir,
}

fn staff_key() -> StaffKey {
    let mut enc = SubkeyParamsBuilder::default();
    enc.key_type(KeyType::ECDH(ECCCurve::Curve25519Legacy))
        .can_sign(false)
        .can_encrypt(EncryptionCaps::All)
        .can_authenticate(false);
    let mut params = SecretKeyParamsBuilder::default();
    params
        .key_type(KeyType::Ed25519Legacy)
        .can_certify(true)
        .can_sign(true)
        .can_encrypt(EncryptionCaps::None)
        .primary_user_id("Staff Esempio <staff@comune.example>".into())
        .subkeys(vec![enc.build().unwrap()]);
    let secret = params
        .build()
        .unwrap()
        .generate(rand::thread_rng())
        .unwrap();
    let public = SignedPublicKey::from(secret)
        .to_armored_string(ArmorOptions::default())
        .unwrap();
    StaffKey::parse(public.as_bytes()).unwrap()
}

pub fn target() -> Target {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("inbox.sqlite");
    let reader = store::open(&db).unwrap();
    let id = store::insert_operator(
        &reader,
        "Operatore Esempio",
        "cremona-centro",
        "01",
        "ab",
        "2099-01-01T00:00:00Z",
    )
    .unwrap();
    let operator = store::operator(&reader, id).unwrap().unwrap();
    let key_path = dir.path().join("csrf.key");
    std::fs::write(&key_path, [7u8; 32]).unwrap();
    let writer = rt.block_on(async { store::Writer::start(&db) }).unwrap();
    let state = Arc::new(AppState {
        opts: super::form::options(),
        recipients: Arc::new(sportello_inbox::web::keys::StaffKeys::new(
            [(
                sportello_inbox::config::IMPLICIT_MUNICIPALITY.to_string(),
                Recipients::new(vec![staff_key()]).unwrap(),
            )]
            .into(),
        )),
        // One municipality, as a configuration without `[[municipality]]`.
        municipalities: vec![sportello_inbox::config::Municipality {
            slug: sportello_inbox::config::IMPLICIT_MUNICIPALITY.into(),
            name: "Comune".into(),
            desks: None,
            to: Vec::new(),
            admin: None,
        }],
        writer,
        reader: store::db::Readers::new(vec![store::db::Db::Sqlite(reader)]),
        csrf: Csrf::load(&key_path).unwrap(),
        // Generous: mutations should reach validation and the commit, not 429.
        limiter: Limiter::new(1_000_000, 1_000_000),
        sequence: Mutex::new((2026, 0)),
        body_timeout: Duration::from_secs(1),
        staff: None,
        register: Mutex::new(store::db::Db::Sqlite(store::open(&db).unwrap())),
        contact_limiter: Limiter::new(1_000_000, 1_000_000),
        contact_lists: Default::default(),
        report_names: Default::default(),
        min_cell: 5,
    });
    Target {
        app: web::router(state.clone()),
        rt,
        state,
        identity: Identity {
            cert_sha256: "ab".into(),
            operator: Some(Arc::new(operator)),
            expired: false,
        },
        _dir: dir,
    }
}

impl Target {
    /// Referrals committed so far: the corpus must reach the commit.
    pub fn committed(&self) -> i64 {
        self.state
            .reader
            .lock()
            .unwrap()
            .sqlite("the fuzz target")
            .unwrap()
            .query_row("SELECT count(*) FROM referrals", [], |r| r.get(0))
            .unwrap()
    }
}

pub fn run(t: &Target, data: &[u8]) {
    let token = t.state.csrf.issue(
        &t.identity.cert_sha256,
        time::OffsetDateTime::now_utc().unix_timestamp(),
    );
    let data = replace(data, b"@CSRF@", token.as_bytes());
    let (head, body) = match find(&data, b"\n\n") {
        Some(i) => (&data[..i], &data[i + 2..]),
        None => (&data[..], &[][..]),
    };
    let Ok(head) = std::str::from_utf8(head) else {
        return;
    };
    let mut lines = head.lines();
    let Some((method, path)) = lines.next().and_then(|l| l.split_once(' ')) else {
        return;
    };
    let mut req = axum::http::Request::builder().method(method).uri(path);
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            req = req.header(k.trim(), v.trim());
        }
    }
    let Ok(mut req) = req.body(Body::from(body.to_vec())) else {
        return;
    };
    req.extensions_mut().insert(t.identity.clone());
    let res =
        t.rt.block_on(t.app.clone().oneshot(req))
            .expect("the router is infallible");
    assert_ne!(res.status(), 500, "internal error for {method} {path}");
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn replace(data: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut rest = data;
    while let Some(i) = find(rest, from) {
        out.extend_from_slice(&rest[..i]);
        out.extend_from_slice(to);
        rest = &rest[i + from.len()..];
    }
    out.extend_from_slice(rest);
    out
}
