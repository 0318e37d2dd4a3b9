//! Decryption of a mail's armored block by the staff's own tools: rnp
//! (Thunderbird's OpenPGP engine) and GnuPG, each with only the one
//! secret key given, in a keyring of its own; an error when that key
//! cannot open the message.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use anyhow::{bail, Result};
use pgp::composed::{ArmorOptions, SignedSecretKey};

/// The armored PGP message of a mail (LF line ends).
pub fn armored_block(mail: &str) -> String {
    let start = mail
        .find("-----BEGIN PGP MESSAGE-----")
        .expect("no armored block");
    let end = mail
        .find("-----END PGP MESSAGE-----")
        .expect("no armor end")
        + 25;
    mail[start..end].replace("\r\n", "\n")
}

fn installed(tool: &str, hint: &str) {
    assert!(
        Command::new(tool).arg("--version").output().is_ok(),
        "{tool} is needed by this test: {hint}"
    );
}

fn checked(what: &str, out: Output) -> Result<Vec<u8>> {
    if !out.status.success() {
        bail!("{what}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(out.stdout)
}

/// A new folder under `dir` (0700) with `secret` and `armored` in files.
fn workspace(
    secret: &SignedSecretKey,
    armored: &str,
    dir: &Path,
) -> Result<(tempfile::TempDir, String, String)> {
    let home = tempfile::tempdir_in(dir)?;
    std::fs::set_permissions(
        home.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )?;
    let key = home.path().join("secret.asc");
    std::fs::write(&key, secret.to_armored_string(ArmorOptions::default())?)?;
    let msg = home.path().join("mail.asc");
    std::fs::write(&msg, armored)?;
    let s = |p: &Path| p.to_str().expect("utf-8 path").to_string();
    Ok((home, s(&key), s(&msg)))
}

/// `rnp --keyfile SECRET --decrypt`: as an exported Thunderbird key would
/// be used; no keyring.
pub fn rnp(secret: &SignedSecretKey, armored: &str, dir: &Path) -> Result<Vec<u8>> {
    installed("rnp", "apt-get install rnp");
    let (home, key, msg) = workspace(secret, armored, dir)?;
    let out = Command::new("rnp")
        .arg("--homedir")
        .arg(home.path())
        .args(["--keyfile", &key, "--decrypt", &msg, "--output", "-"])
        .stdin(Stdio::null())
        .output()?;
    checked("rnp --decrypt", out)
}

/// `gpg --import SECRET` into a new keyring, then `gpg --decrypt`.
pub fn gpg(secret: &SignedSecretKey, armored: &str, dir: &Path) -> Result<Vec<u8>> {
    installed("gpg", "apt-get install gnupg");
    let (home, key, msg) = workspace(secret, armored, dir)?;
    let gpg = |args: &[&str]| {
        Command::new("gpg")
            .arg("--homedir")
            .arg(home.path())
            .args([
                "--batch",
                "--yes",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "",
            ])
            .args(args)
            .stdin(Stdio::null())
            .output()
    };
    checked("gpg --import", gpg(&["--import", &key])?)?;
    let dec = gpg(&["--decrypt", &msg]);
    // The agent of this keyring goes with it.
    let _ = Command::new("gpgconf")
        .arg("--homedir")
        .arg(home.path())
        .args(["--kill", "gpg-agent"])
        .output();
    checked("gpg --decrypt", dec?)
}
