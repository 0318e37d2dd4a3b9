//! Two municipalities on one inbox: each one's referrals are sealed to its
//! own staff keys only (the other Comune's key cannot open them), and the
//! commands that manage keys name the municipality and refuse an unknown one.

mod common;

use std::process::Command;

use common::*;
use sportello_inbox::config::Config;
use sportello_inbox::municipality;

const TWO: &str = r#"
[[municipality]]
slug = "cremona"
name = "Comune di Cremona"
desks = ["cgil-via-mantova"]

[[municipality]]
slug = "castelverde"
name = "Comune di Castelverde"
desks = ["cgil-via-mantova", "castelverde"]
"#;

/// The fixture's staff key (added before municipalities existed, so it
/// goes to the first one) plus a second key for Castelverde.
fn two_municipalities() -> (Fixture, StaffKeys) {
    let fx = Fixture::new(60, 60).unwrap();
    fx.configure(&[], TWO).unwrap();
    let other = staff_keys();
    let key = fx.dir.path().join("castelverde.asc");
    std::fs::write(&key, &other.public_armored).unwrap();
    let out = bin(&[
        "staff",
        "add",
        "--config",
        fx.config_str(),
        "--municipality",
        "castelverde",
        "--name",
        "Staff Castelverde",
        "--key",
        key.to_str().unwrap(),
    ])
    .unwrap();
    assert!(out.contains("castelverde"), "{out}");
    (fx, other)
}

#[test]
fn a_referral_is_sealed_only_to_its_municipalitys_keys() {
    let (fx, castelverde) = two_municipalities();
    let cfg = Config::load(&fx.config).unwrap();
    let conn = fx.db().unwrap();
    let recipients = municipality::load_recipients(&conn, &cfg).unwrap();
    assert_eq!(
        recipients.keys().cloned().collect::<Vec<_>>(),
        ["castelverde", "cremona"]
    );
    assert_eq!(recipients["cremona"].len(), 1);
    assert_eq!(recipients["castelverde"].len(), 1);

    let text = b"Segnalazione di prova, persona sintetica";
    let to_cremona = recipients["cremona"].seal(text).unwrap();
    let to_castelverde = recipients["castelverde"].seal(text).unwrap();

    assert_eq!(decrypt_raw(&fx.staff.secret, &to_cremona).unwrap(), text);
    assert_eq!(
        decrypt_raw(&castelverde.secret, &to_castelverde).unwrap(),
        text
    );
    assert!(
        decrypt_raw(&castelverde.secret, &to_cremona).is_err(),
        "Castelverde's key opened a referral sealed for Cremona"
    );
    assert!(
        decrypt_raw(&fx.staff.secret, &to_castelverde).is_err(),
        "Cremona's key opened a referral sealed for Castelverde"
    );
}

#[test]
fn municipality_list_counts_each_ones_keys() {
    let (fx, _) = two_municipalities();
    let out = bin(&["municipality", "list", "--config", fx.config_str()]).unwrap();
    let row = |slug: &str| {
        out.lines()
            .find(|l| l.starts_with(slug))
            .unwrap_or_else(|| panic!("no row for {slug} in:\n{out}"))
            .to_string()
    };
    assert!(row("cremona").contains("Comune di Cremona"), "{out}");
    assert!(
        row("castelverde").contains("Comune di Castelverde"),
        "{out}"
    );
    // One key each: the fixture's own went to the first municipality.
    for slug in ["cremona", "castelverde"] {
        let line = row(slug);
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert!(cols.contains(&"1"), "{slug}: {out}");
    }
}

#[test]
fn staff_add_refuses_an_unknown_municipality_and_lists_the_known_ones() {
    let (fx, _) = two_municipalities();
    let key = fx.dir.path().join("stray.asc");
    std::fs::write(&key, staff_keys().public_armored).unwrap();
    let out = Command::new(BIN)
        .args([
            "staff",
            "add",
            "--config",
            fx.config_str(),
            "--municipality",
            "soresina",
            "--name",
            "Staff Soresina",
            "--key",
            key.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("soresina"), "{err}");
    assert!(
        err.contains("cremona") && err.contains("castelverde"),
        "{err}"
    );
    let keys: i64 = fx
        .db()
        .unwrap()
        .query_row("SELECT count(*) FROM staff", [], |r| r.get(0))
        .unwrap();
    assert_eq!(keys, 2, "the refused key was stored");
}
