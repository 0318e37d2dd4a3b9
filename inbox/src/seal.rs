//! OpenPGP sealing (rpgp): the referral is encrypted to every staff key; the
//! server holds only public keys, so it can never read a stored referral.

use anyhow::{bail, Context, Result};
use pgp::composed::{Deserializable, MessageBuilder, SignedPublicKey, SignedPublicSubKey};
use pgp::crypto::sym::SymmetricKeyAlgorithm;
use pgp::types::KeyDetails;

/// A parsed staff key with the subkeys that may encrypt.
#[derive(Debug, Clone)]
pub struct StaffKey {
    pub fingerprint: String,
    pub user_ids: Vec<String>,
    key: SignedPublicKey,
}

impl StaffKey {
    /// Parses an armored (or binary) public key and checks it can receive.
    pub fn parse(bytes: &[u8]) -> Result<StaffKey> {
        let (key, _) = SignedPublicKey::from_reader_single(bytes)
            .context("not an OpenPGP public key (export it with `gpg --armor --export`)")?;
        key.verify_bindings()
            .context("the key's self-signatures do not verify")?;
        let staff = StaffKey {
            fingerprint: hex::encode_upper(key.fingerprint().as_bytes()),
            user_ids: key
                .details
                .users
                .iter()
                .map(|u| String::from_utf8_lossy(u.id.id()).into_owned())
                .collect(),
            key,
        };
        if staff.encryption_subkeys().is_empty() {
            bail!(
                "key {} has no valid encryption subkey (e.g. cv25519 or RSA with the E flag)",
                staff.fingerprint
            );
        }
        Ok(staff)
    }

    fn encryption_subkeys(&self) -> Vec<&SignedPublicSubKey> {
        self.key
            .public_subkeys
            .iter()
            .filter(|sk| {
                sk.key.algorithm().can_encrypt()
                    && sk.signatures.iter().any(|sig| {
                        let flags = sig.key_flags();
                        flags.encrypt_comms() || flags.encrypt_storage()
                    })
            })
            .collect()
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

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Encrypts `plaintext` (binary OpenPGP message, SEIPDv1 + AES-256 so that
    /// GnuPG 2.2 and Thunderbird can both read it).
    pub fn seal(&self, plaintext: &[u8]) -> Result<Vec<u8>> {
        let mut rng = rand::thread_rng();
        let mut builder = MessageBuilder::from_bytes("", plaintext.to_vec())
            .seipd_v1(&mut rng, SymmetricKeyAlgorithm::AES256);
        for staff in &self.keys {
            for sub in staff.encryption_subkeys() {
                builder
                    .encrypt_to_key(&mut rng, sub)
                    .with_context(|| format!("cannot encrypt to {}", staff.fingerprint))?;
            }
        }
        builder
            .to_vec(&mut rng)
            .context("OpenPGP encryption failed")
    }
}
