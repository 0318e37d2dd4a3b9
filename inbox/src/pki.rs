//! The private CA: server certificate, operator certificates, the CRL and
//! the PKCS#12 bundles that operators import in their browser (rcgen).

use std::path::Path;

use anyhow::{Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose,
    RevocationReason, RevokedCertParams, SerialNumber,
};
use ring::rand::{SecureRandom, SystemRandom};
use time::{Duration, OffsetDateTime};

/// A certificate with its freshly generated key.
pub struct Issued {
    pub cert_pem: String,
    pub cert_der: Vec<u8>,
    /// PKCS#8 private key.
    pub key_der: Vec<u8>,
    pub key_pem: String,
    /// Serial number, lowercase hex (for the CRL).
    pub serial_hex: String,
    /// SHA-256 of the certificate DER, lowercase hex: how the server
    /// recognises the operator at each connection.
    pub sha256_hex: String,
}

fn random_serial() -> Result<SerialNumber> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| anyhow::anyhow!("system random generator failed"))?;
    // A positive INTEGER in DER: clear the top bit and avoid a leading zero.
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    Ok(SerialNumber::from_slice(&bytes))
}

/// The end of a DER certificate's validity, if it parses.
pub fn not_after(der: &[u8]) -> Option<OffsetDateTime> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    OffsetDateTime::from_unix_timestamp(cert.validity().not_after.timestamp()).ok()
}

pub fn sha256_hex(der: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, der))
}

fn issued(cert: rcgen::Certificate, key: &KeyPair, serial: &SerialNumber) -> Issued {
    Issued {
        cert_pem: cert.pem(),
        cert_der: cert.der().to_vec(),
        key_der: key.serialize_der(),
        key_pem: key.serialize_pem(),
        serial_hex: hex::encode(serial.to_bytes()),
        sha256_hex: sha256_hex(cert.der()),
    }
}

/// Creates the self-signed CA that signs operator and server certificates.
pub fn create_ca(name: &str) -> Result<Issued> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    dn.push(DnType::OrganizationName, "Sportello");
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.key_identifier_method = KeyIdMethod::Sha256;
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::hours(1);
    params.not_after = now + Duration::days(365 * 10);
    let serial = random_serial()?;
    params.serial_number = Some(serial.clone());
    let cert = params.self_signed(&key)?;
    Ok(issued(cert, &key, &serial))
}

/// Loads the CA from its PEM certificate and key, ready to sign.
pub fn load_issuer(cert: &Path, key: &Path) -> Result<Issuer<'static, KeyPair>> {
    let cert_pem = std::fs::read_to_string(cert)
        .with_context(|| format!("cannot read CA certificate {}", cert.display()))?;
    let key_pem = std::fs::read_to_string(key)
        .with_context(|| format!("cannot read CA key {} (is it offline?)", key.display()))?;
    let key = KeyPair::from_pem(&key_pem).context("invalid CA key")?;
    Issuer::from_ca_cert_pem(&cert_pem, key).context("invalid CA certificate")
}

/// A TLS server certificate for `hostnames` (DNS names or IP addresses).
pub fn issue_server_cert(issuer: &Issuer<'_, KeyPair>, hostnames: &[String]) -> Result<Issued> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(hostnames.to_vec())
        .context("invalid hostname for the server certificate")?;
    let mut dn = DistinguishedName::new();
    dn.push(
        DnType::CommonName,
        hostnames.first().map_or("localhost", |s| s),
    );
    params.distinguished_name = dn;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::hours(1);
    params.not_after = now + Duration::days(825);
    let serial = random_serial()?;
    params.serial_number = Some(serial.clone());
    let cert = params.signed_by(&key, issuer)?;
    Ok(issued(cert, &key, &serial))
}

/// An operator's client certificate, valid from `not_before` to `not_after`.
pub fn issue_client_cert(
    issuer: &Issuer<'_, KeyPair>,
    common_name: &str,
    desk: &str,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> Result<Issued> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn.push(DnType::OrganizationalUnitName, desk);
    dn.push(DnType::OrganizationName, "Sportello");
    params.distinguished_name = dn;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.use_authority_key_identifier_extension = true;
    params.not_before = not_before;
    params.not_after = not_after;
    let serial = random_serial()?;
    params.serial_number = Some(serial.clone());
    let cert = params.signed_by(&key, issuer)?;
    Ok(issued(cert, &key, &serial))
}

/// A CRL (PEM) listing `revoked` as (serial hex, revocation time).
pub fn make_crl(
    issuer: &Issuer<'_, KeyPair>,
    revoked: &[(String, OffsetDateTime)],
) -> Result<String> {
    let now = OffsetDateTime::now_utc();
    let revoked_certs = revoked
        .iter()
        .map(|(serial, at)| {
            Ok(RevokedCertParams {
                serial_number: SerialNumber::from_slice(
                    &hex::decode(serial).context("bad serial in the database")?,
                ),
                revocation_time: *at,
                reason_code: Some(RevocationReason::CessationOfOperation),
                invalidity_date: None,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let params = CertificateRevocationListParams {
        this_update: now - Duration::minutes(5),
        next_update: now + Duration::days(365),
        // Monotonic across rewrites: seconds since the epoch.
        crl_number: SerialNumber::from_slice(&now.unix_timestamp().to_be_bytes()),
        issuing_distribution_point: None,
        revoked_certs,
        key_identifier_method: KeyIdMethod::Sha256,
    };
    Ok(params.signed_by(issuer)?.pem()?)
}

/// A passphrase of 24 characters from an alphabet without look-alikes
/// (about 120 bits), grouped by 4 so it can be read out and typed.
pub fn generate_passphrase() -> Result<String> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789"; // 31 symbols
    let rng = SystemRandom::new();
    let mut out = String::new();
    while out.chars().filter(|c| *c != '-').count() < 24 {
        let mut b = [0u8; 1];
        rng.fill(&mut b)
            .map_err(|_| anyhow::anyhow!("system random generator failed"))?;
        // Rejection sampling keeps the distribution uniform.
        if (b[0] as usize) < ALPHABET.len() * 8 {
            if !out.is_empty() && out.chars().filter(|c| *c != '-').count() % 4 == 0 {
                out.push('-');
            }
            out.push(ALPHABET[b[0] as usize % ALPHABET.len()] as char);
        }
    }
    Ok(out)
}

/// A PKCS#12 bundle (AES-256 / PBES2, HMAC-SHA-256) with the key, the
/// certificate and the CA, importable in Firefox, Chrome and Windows 10+.
pub fn pkcs12(issued: &Issued, ca_der: &[u8], passphrase: &str, alias: &str) -> Result<Vec<u8>> {
    use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, PrivateKey, PrivateKeyChain};
    let leaf = Certificate::from_der(&issued.cert_der)?;
    let ca = Certificate::from_der(ca_der)?;
    let key = PrivateKey::from_der(&issued.key_der)?;
    let local_id = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &issued.cert_der)
        .as_ref()
        .to_vec();
    let chain = PrivateKeyChain::new(local_id, key, [leaf, ca]);
    let mut store = KeyStore::new();
    store.add_entry(alias, KeyStoreEntry::PrivateKeyChain(chain));
    Ok(store.writer(passphrase).write()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passphrase_shape() {
        let p = generate_passphrase().unwrap();
        assert_eq!(p.len(), 29, "{p}");
        assert_eq!(p.split('-').count(), 6);
        assert_ne!(p, generate_passphrase().unwrap());
    }

    #[test]
    fn bundle_round_trip() {
        let ca = create_ca("Test CA").unwrap();
        let issuer =
            Issuer::from_ca_cert_pem(&ca.cert_pem, KeyPair::from_pem(&ca.key_pem).unwrap())
                .unwrap();
        let now = OffsetDateTime::now_utc();
        let op = issue_client_cert(
            &issuer,
            "Anna Esempio",
            "centro",
            now,
            now + Duration::days(1),
        )
        .unwrap();
        let p12 = pkcs12(&op, &ca.cert_der, "pass-word", "Anna").unwrap();
        let ks = p12_keystore::KeyStore::from_pkcs12(
            &p12,
            "pass-word",
            p12_keystore::Pkcs12ImportPolicy::Relaxed,
        )
        .unwrap();
        let (_, chain) = ks.private_key_chain().unwrap();
        assert_eq!(chain.certs()[0].as_der(), op.cert_der.as_slice());
        assert!(p12_keystore::KeyStore::from_pkcs12(
            &p12,
            "wrong",
            p12_keystore::Pkcs12ImportPolicy::Relaxed
        )
        .is_err());
    }
}
