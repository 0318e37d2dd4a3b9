//! `staff add` refuses, with the reason, keys that the staff's Thunderbird
//! could not use: no encryption subkey, expired, revoked, Elgamal,
//! brainpool, v6. The keys are made with GnuPG (as the staff would) and,
//! for v6, with the pgp crate.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::smtp;
use common::*;
use pgp::composed::{
    ArmorOptions, EncryptionCaps, KeyType, SecretKeyParamsBuilder, SignedPublicKey,
    SubkeyParamsBuilder,
};
use pgp::types::KeyVersion;

struct Gpg {
    home: PathBuf,
}

impl Gpg {
    fn new(dir: &Path) -> Gpg {
        assert!(
            Command::new("gpg").arg("--version").output().is_ok(),
            "gpg is needed by this test: apt-get install gnupg"
        );
        let home = dir.join("gnupg");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::set_permissions(&home, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .unwrap();
        Gpg { home }
    }

    fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut child = Command::new("gpg")
            .arg("--homedir")
            .arg(&self.home)
            .args([
                "--batch",
                "--yes",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "",
            ])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        {
            use std::io::Write;
            let mut i = child.stdin.take().unwrap();
            if let Some(s) = stdin {
                i.write_all(s.as_bytes()).unwrap();
            }
        }
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "gpg {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Makes a key with a primary `algo` and, when given, a subkey; returns
    /// its fingerprint. `faked`: the creation time (for expired keys).
    fn key(
        &self,
        uid: &str,
        primary: &str,
        sub: Option<(&str, &str)>,
        faked: Option<&str>,
    ) -> String {
        let mut pre: Vec<String> = Vec::new();
        if let Some(t) = faked {
            pre.push("--faked-system-time".into());
            pre.push(t.into());
        }
        let with = |args: &[&str]| -> Vec<String> {
            pre.iter()
                .cloned()
                .chain(args.iter().map(|s| s.to_string()))
                .collect()
        };
        let a = with(&["--quick-gen-key", uid, primary, "sign,cert", "0"]);
        self.run(&a.iter().map(String::as_str).collect::<Vec<_>>(), None);
        let fpr = self.fingerprint(uid);
        if let Some((algo, expire)) = sub {
            let a = with(&["--quick-add-key", &fpr, algo, "encr", expire]);
            self.run(&a.iter().map(String::as_str).collect::<Vec<_>>(), None);
        }
        fpr
    }

    fn fingerprint(&self, uid: &str) -> String {
        let out = self.run(&["--with-colons", "--list-keys", uid], None);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.strip_prefix("fpr:"))
            .map(|l| l.trim_matches(':').to_string())
            .expect("a fingerprint")
    }

    fn export(&self, fpr: &str, to: &Path) {
        let out = self.run(&["--armor", "--export", fpr], None);
        std::fs::write(to, out.stdout).unwrap();
    }
}

fn staff_add(fx: &Fixture, key: &Path) -> (bool, String) {
    let out = Command::new(BIN)
        .args([
            "staff",
            "add",
            "--config",
            fx.config_str(),
            "--name",
            "Prova",
            "--key",
        ])
        .arg(key)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn unusable_staff_keys_are_refused_with_the_reason() {
    let fx = Fixture::new(60, 10).unwrap();
    let dir = fx.dir.path().join("keys");
    std::fs::create_dir(&dir).unwrap();
    let gpg = Gpg::new(&dir);
    let file = |name: &str| dir.join(format!("{name}.asc"));

    // A good key as the staff would make it: accepted.
    let good = gpg.key(
        "Buona <buona@comune.example>",
        "ed25519",
        Some(("cv25519", "2y")),
        None,
    );
    gpg.export(&good, &file("good"));
    let (ok, err) = staff_add(&fx, &file("good"));
    assert!(ok, "a cv25519 key is accepted: {err}");

    let cases: Vec<(&str, String, &str)> = vec![
        (
            "no encryption subkey",
            gpg.key("Firma <firma@comune.example>", "ed25519", None, None),
            "no usable encryption subkey",
        ),
        (
            "expired subkey",
            gpg.key(
                "Scaduta <scaduta@comune.example>",
                "ed25519",
                Some(("cv25519", "1y")),
                Some("20200101T000000"),
            ),
            "expired on 2020-12-31",
        ),
        (
            "Elgamal",
            gpg.key(
                "Elgamal <elg@comune.example>",
                "dsa2048",
                Some(("elg2048", "0")),
                None,
            ),
            "Elgamal",
        ),
        (
            "brainpool",
            gpg.key(
                "Brainpool <bp@comune.example>",
                "brainpoolP256r1",
                Some(("brainpoolP256r1", "0")),
                None,
            ),
            "brainpoolP256r1",
        ),
    ];
    for (what, fpr, reason) in &cases {
        let f = file(&fpr[..8]);
        gpg.export(fpr, &f);
        let (ok, err) = staff_add(&fx, &f);
        assert!(!ok, "{what}: refused");
        assert!(
            err.contains(reason),
            "{what}: the reason `{reason}` in: {err}"
        );
    }

    // A revoked subkey (revoked in GnuPG's key editor, as a user would).
    let fpr = gpg.key(
        "Revocata <rev@comune.example>",
        "ed25519",
        Some(("cv25519", "0")),
        None,
    );
    gpg.run(
        &["--command-fd", "0", "--edit-key", &fpr],
        Some("key 1\nrevkey\ny\n0\n\ny\nsave\n"),
    );
    gpg.export(&fpr, &file("revoked"));
    let (ok, err) = staff_add(&fx, &file("revoked"));
    assert!(!ok, "revoked subkey refused");
    assert!(err.contains("revoked"), "{err}");

    // A v6 key (RFC 9580), made with the pgp crate: Thunderbird cannot read it.
    let mut enc = SubkeyParamsBuilder::default();
    enc.version(KeyVersion::V6)
        .key_type(KeyType::X25519)
        .can_sign(false)
        .can_encrypt(EncryptionCaps::All)
        .can_authenticate(false);
    let mut params = SecretKeyParamsBuilder::default();
    params
        .version(KeyVersion::V6)
        .key_type(KeyType::Ed25519)
        .can_certify(true)
        .can_sign(true)
        .can_encrypt(EncryptionCaps::None)
        .primary_user_id("V6 <v6@comune.example>".into())
        .subkeys(vec![enc.build().unwrap()]);
    let secret = params
        .build()
        .unwrap()
        .generate(rand::thread_rng())
        .unwrap();
    let public = SignedPublicKey::from(secret);
    std::fs::write(
        file("v6"),
        public.to_armored_string(ArmorOptions::default()).unwrap(),
    )
    .unwrap();
    let (ok, err) = staff_add(&fx, &file("v6"));
    assert!(!ok, "v6 refused");
    assert!(err.contains("V6") && err.contains("v4"), "{err}");

    // Only the good key was added.
    let list = bin(&["staff", "list", "--config", fx.config_str()]).unwrap();
    assert_eq!(list.matches("Prova").count(), 1, "{list}");
}

/// Adds a GnuPG key whose encryption subkey expires in 20 days; its
/// fingerprint.
fn add_short_lived_key(fx: &Fixture) -> String {
    let dir = fx.dir.path().join("keys");
    std::fs::create_dir(&dir).unwrap();
    let gpg = Gpg::new(&dir);
    let fpr = gpg.key(
        "Breve <breve@comune.example>",
        "ed25519",
        Some(("cv25519", "20d")),
        None,
    );
    let file = dir.join("short.asc");
    gpg.export(&fpr, &file);
    let (ok, err) = staff_add(fx, &file);
    assert!(ok, "{err}");
    fpr
}

/// A staff key expiring within 30 days: `serve` mails the admin about it.
#[test]
fn the_admin_hears_of_a_staff_key_about_to_expire() {
    let fx = Fixture::new(60, 10).unwrap();
    let fpr = add_short_lived_key(&fx);
    let (_smtp, maildir) = smtp::start_mailbox(&fx, "Staff <staff@comune.example>").unwrap();
    let _server = fx.start(&fx.dir.path().join("server.log")).unwrap();
    let got = smtp::wait_for_mails(&maildir, std::time::Duration::from_secs(20), |m| {
        m.iter().any(|(_, t)| {
            smtp::header(t, "Subject")
                .is_some_and(|s| s.starts_with("Chiave dello staff in scadenza"))
        })
    })
    .unwrap();
    let (_, mail) = got
        .iter()
        .find(|(_, t)| {
            smtp::header(t, "Subject").is_some_and(|s| s.starts_with("Chiave dello staff"))
        })
        .unwrap();
    assert_eq!(smtp::header(mail, "To").unwrap(), "admin@comune.example");
    assert!(mail.contains(&fpr), "names the key");
    // The fixture's own key never expires: no notice about it.
    assert_eq!(got.len(), 1, "one notice, for the expiring key only");
}

/// The same on PostgreSQL with two replicas: one notice for the key, not
/// one per replica (the advisory lock and the audit line of the first).
#[test]
fn two_postgres_replicas_send_the_admin_one_notice_of_an_expiring_key() {
    let pg = common::pg::Postgres::start().unwrap();
    let fx = Fixture::new(60, 10).unwrap();
    common::pg::use_postgres(&fx, &pg, "expiry").unwrap();
    fx.add_staff("Staff Esempio", &fx.staff.public_armored, &[])
        .unwrap();
    let fpr = add_short_lived_key(&fx);
    let (_smtp, maildir) = smtp::start_mailbox(&fx, "Staff <staff@comune.example>").unwrap();
    let _one = Server::start(&fx.config, &fx.dir.path().join("one.log")).unwrap();
    let _two = Server::start(&fx.config, &fx.dir.path().join("two.log")).unwrap();
    let notices = |m: &[(PathBuf, String)]| {
        m.iter()
            .filter(|(_, t)| {
                smtp::header(t, "Subject")
                    .is_some_and(|s| s.starts_with("Chiave dello staff in scadenza"))
            })
            .count()
    };
    let got = smtp::wait_for_mails(&maildir, std::time::Duration::from_secs(20), |m| {
        notices(m) > 0
    })
    .unwrap();
    assert!(got.iter().any(|(_, t)| t.contains(&fpr)), "names the key");
    // Both replicas have looked by now (each at its start).
    std::thread::sleep(std::time::Duration::from_secs(3));
    let all = smtp::wait_for_mails(&maildir, std::time::Duration::from_secs(1), |_| true).unwrap();
    assert_eq!(notices(&all), 1, "one notice, not one per replica");
}
