//! OpenPGP sealing (rpgp): the referral is encrypted to every staff key; the
//! server holds only public keys, so it can never read a stored referral.

use anyhow::{bail, Context, Result};
use pgp::composed::{Deserializable, MessageBuilder, SignedPublicKey, SignedPublicSubKey};
use pgp::crypto::ecc_curve::ECCCurve;
use pgp::crypto::public_key::PublicKeyAlgorithm;
use pgp::crypto::sym::SymmetricKeyAlgorithm;
use pgp::packet::{Signature, SignatureType};
use pgp::types::{KeyDetails, KeyVersion, PublicParams};

/// A parsed staff key with the subkeys that may encrypt.
#[derive(Debug, Clone)]
pub struct StaffKey {
    pub fingerprint: String,
    pub user_ids: Vec<String>,
    key: SignedPublicKey,
}

/// The newest signature of a list (by creation time).
fn newest(sigs: &[Signature]) -> Option<&Signature> {
    sigs.iter()
        .max_by_key(|s| s.created().map_or(0, |t| t.as_secs()))
}

/// Unix time at which a key created at `created` expires under `sig`
/// (`None`: never).
fn expiry(created: u32, sig: Option<&Signature>) -> Option<i64> {
    let d = sig?.key_expiration_time()?.as_secs();
    (d > 0).then(|| i64::from(created) + i64::from(d))
}

fn date(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .map(|t| t.date().to_string())
        .unwrap_or_else(|_| unix.to_string())
}

/// Why a subkey cannot receive a referral, in the words `staff add` prints.
fn unusable(sk: &SignedPublicSubKey, now: i64) -> Option<String> {
    if !sk.key.algorithm().can_encrypt() {
        return Some("cannot encrypt (signing key)".into());
    }
    let binding = newest(&sk.signatures);
    let flags_ok = binding.is_some_and(|sig| {
        let f = sig.key_flags();
        f.encrypt_comms() || f.encrypt_storage()
    });
    if !flags_ok {
        return Some("not marked for encryption (no E flag)".into());
    }
    if sk
        .signatures
        .iter()
        .any(|s| s.typ() == Some(SignatureType::SubkeyRevocation))
    {
        return Some("revoked".into());
    }
    if sk.key.version() != KeyVersion::V4 {
        return Some(format!(
            "a {:?} key: Thunderbird reads only v4 keys",
            sk.key.version()
        ));
    }
    match sk.key.algorithm() {
        PublicKeyAlgorithm::Elgamal | PublicKeyAlgorithm::ElgamalEncrypt => {
            return Some("Elgamal: not offered by Thunderbird, use cv25519 or RSA 3072+".into())
        }
        _ => {}
    }
    if let PublicParams::ECDH(p) = sk.key.public_params() {
        if matches!(
            p.curve(),
            ECCCurve::BrainpoolP256r1 | ECCCurve::BrainpoolP384r1 | ECCCurve::BrainpoolP512r1
        ) {
            return Some(format!(
                "curve {}: not supported by Thunderbird, use cv25519",
                p.curve().name()
            ));
        }
    }
    if let Some(t) = expiry(sk.key.created_at().as_secs(), binding) {
        if t <= now {
            return Some(format!("expired on {}", date(t)));
        }
    }
    None
}

impl StaffKey {
    /// Parses an armored (or binary) public key and checks it can receive
    /// now: a v4 key, not revoked or expired, with at least one usable
    /// encryption subkey. The error says what is wrong with each subkey.
    pub fn parse(bytes: &[u8]) -> Result<StaffKey> {
        Self::parse_at(bytes, time::OffsetDateTime::now_utc().unix_timestamp())
    }

    pub fn parse_at(bytes: &[u8], now: i64) -> Result<StaffKey> {
        let (key, _) = SignedPublicKey::from_reader_single(bytes)
            .context("not an OpenPGP public key (export it with `gpg --armor --export`)")?;
        let fingerprint = hex::encode_upper(key.fingerprint().as_bytes());
        if key.primary_key.version() != KeyVersion::V4 {
            bail!(
                "key {fingerprint} is a {:?} key: Thunderbird and GnuPG 2.2 read only v4 keys; \
                 make a v4 key (e.g. `gpg --quick-gen-key NAME default default 2y`)",
                key.primary_key.version()
            );
        }
        key.verify_bindings()
            .context("the key's self-signatures do not verify")?;
        if !key.details.revocation_signatures.is_empty() {
            bail!("key {fingerprint} is revoked: ask the staff for their new key");
        }
        let self_sig = newest(
            &key.details
                .users
                .iter()
                .flat_map(|u| u.signatures.iter().cloned())
                .chain(key.details.direct_signatures.iter().cloned())
                .collect::<Vec<_>>(),
        )
        .cloned();
        if let Some(t) = expiry(key.primary_key.created_at().as_secs(), self_sig.as_ref()) {
            if t <= now {
                bail!(
                    "key {fingerprint} expired on {}: ask the staff to extend it \
                     (`gpg --quick-set-expire`) and export it again",
                    date(t)
                );
            }
        }
        let staff = StaffKey {
            user_ids: key
                .details
                .users
                .iter()
                .map(|u| String::from_utf8_lossy(u.id.id()).into_owned())
                .collect(),
            fingerprint,
            key,
        };
        if staff.encryption_subkeys(now).is_empty() {
            let reasons: Vec<String> = staff
                .key
                .public_subkeys
                .iter()
                .filter_map(|sk| {
                    unusable(sk, now).map(|why| {
                        format!(
                            "subkey {}: {why}",
                            hex::encode_upper(sk.key.fingerprint().as_bytes())
                        )
                    })
                })
                .collect();
            bail!(
                "key {} has no usable encryption subkey ({}); a cv25519 or RSA subkey with the \
                 E flag, not expired or revoked, is needed",
                staff.fingerprint,
                if reasons.is_empty() {
                    "it has no subkeys".to_string()
                } else {
                    reasons.join("; ")
                }
            );
        }
        Ok(staff)
    }

    /// The subkeys a referral may be encrypted to at `now`: never an
    /// expired or revoked one.
    fn encryption_subkeys(&self, now: i64) -> Vec<&SignedPublicSubKey> {
        self.key
            .public_subkeys
            .iter()
            .filter(|sk| unusable(sk, now).is_none())
            .collect()
    }

    /// When the last usable encryption subkey expires (`None`: never), for
    /// the warning before it happens.
    pub fn expires_at(&self, now: i64) -> Option<i64> {
        let subs = self.encryption_subkeys(now);
        let mut latest = Some(0i64);
        for sk in subs {
            match expiry(sk.key.created_at().as_secs(), newest(&sk.signatures)) {
                None => return None,
                Some(t) => latest = latest.map(|l| l.max(t)),
            }
        }
        latest.filter(|t| *t > 0)
    }
}

/// All staff keys a referral is sealed to.
#[derive(Debug, Clone)]
pub struct Recipients {
    keys: Vec<StaffKey>,
}

impl Recipients {
    pub fn new(keys: Vec<StaffKey>) -> Result<Recipients> {
        if keys.is_empty() {
            bail!(
                "no staff key: add one with `sportello-inbox staff add --name ... --key FILE.asc`"
            );
        }
        Ok(Recipients { keys })
    }

    pub fn keys(&self) -> &[StaffKey] {
        &self.keys
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Encrypts `plaintext` (binary OpenPGP message, SEIPDv1 + AES-256 so that
    /// GnuPG 2.2 and Thunderbird can both read it).
    pub fn seal(&self, plaintext: &[u8]) -> Result<Vec<u8>> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let mut rng = rand::thread_rng();
        let mut builder = MessageBuilder::from_bytes("", plaintext.to_vec())
            .seipd_v1(&mut rng, SymmetricKeyAlgorithm::AES256);
        let mut any = false;
        for staff in &self.keys {
            for sub in staff.encryption_subkeys(now) {
                any = true;
                builder
                    .encrypt_to_key(&mut rng, sub)
                    .with_context(|| format!("cannot encrypt to {}", staff.fingerprint))?;
            }
        }
        if !any {
            bail!("every staff key has expired or been revoked: nothing can be encrypted");
        }
        builder
            .to_vec(&mut rng)
            .context("OpenPGP encryption failed")
    }
}
