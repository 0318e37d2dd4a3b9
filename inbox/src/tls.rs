//! TLS for operators: rustls, TLS 1.2/1.3 only, a client certificate from the
//! private CA required at every handshake, the CRL re-read when it changes.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context, Result};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    DigitallySignedStruct, DistinguishedName, RootCertStore, ServerConfig, SignatureScheme,
};

use crate::config::Config;

/// One provider, chosen explicitly, so rustls never has to guess (see PITFALLS).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("invalid PEM in {}", path.display()))?;
    if certs.is_empty() {
        bail!("no certificate in {}", path.display());
    }
    Ok(certs)
}

pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_file(path)
        .with_context(|| format!("cannot read a private key from {}", path.display()))
}

fn load_crls(path: &Path) -> Result<Vec<CertificateRevocationListDer<'static>>> {
    CertificateRevocationListDer::pem_file_iter(path)
        .with_context(|| format!("cannot read CRL {}", path.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("invalid CRL {}", path.display()))
}

/// The rustls server configuration for operators.
pub fn server_config(cfg: &Config) -> Result<Arc<ServerConfig>> {
    let provider = provider();
    let verifier = ReloadingVerifier::new(&cfg.tls.client_ca, &cfg.tls.crl, provider.clone())?;
    let chain = load_certs(&cfg.tls.cert)?;
    let key = load_key(&cfg.tls.key)?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .context("TLS versions")?
        .with_client_cert_verifier(Arc::new(verifier))
        .with_single_cert(chain, key)
        .context("server certificate and key do not match")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The rustls server configuration for the staff site: the same
/// certificate, no client certificate asked.
pub fn staff_config(cfg: &Config) -> Result<Arc<ServerConfig>> {
    let chain = load_certs(&cfg.tls.cert)?;
    let key = load_key(&cfg.tls.key)?;
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .context("TLS versions")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("server certificate and key do not match")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Identity of the CRL file on disk: a rename (as `operator revoke` does)
/// changes the inode, an in-place edit changes mtime or size.
#[derive(PartialEq, Eq, Clone, Copy, Debug)]
struct FileStamp {
    ino: u64,
    mtime_ns: i128,
    len: u64,
}

fn stamp(path: &Path) -> Option<FileStamp> {
    let m = std::fs::metadata(path).ok()?;
    Some(FileStamp {
        ino: m.ino(),
        mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
        len: m.len(),
    })
}

/// The CRL file seen last and the verifier built from it (or why it failed).
type Slot = (
    Option<FileStamp>,
    Result<Arc<dyn ClientCertVerifier>, String>,
);

/// Wraps `WebPkiClientVerifier` and rebuilds it when the CRL file changes,
/// so a revocation takes effect at the next handshake without a restart.
/// A CRL that cannot be read makes every handshake fail: fail closed.
#[derive(Debug)]
pub struct ReloadingVerifier {
    roots: Arc<RootCertStore>,
    crl_path: PathBuf,
    provider: Arc<CryptoProvider>,
    hints: Vec<DistinguishedName>,
    current: Mutex<Slot>,
}

impl ReloadingVerifier {
    pub fn new(ca: &Path, crl: &Path, provider: Arc<CryptoProvider>) -> Result<Self> {
        let mut roots = RootCertStore::empty();
        for cert in load_certs(ca)? {
            roots.add(cert).context("invalid client CA certificate")?;
        }
        let roots = Arc::new(roots);
        let stamp = stamp(crl);
        // At start-up a broken CRL is an error, not a silent lock-out.
        let inner = build_verifier(&roots, crl, &provider)?;
        let hints = inner.root_hint_subjects().to_vec();
        Ok(ReloadingVerifier {
            roots,
            crl_path: crl.to_path_buf(),
            provider,
            hints,
            current: Mutex::new((stamp, Ok(inner))),
        })
    }

    fn current(&self) -> Result<Arc<dyn ClientCertVerifier>, rustls::Error> {
        let now = stamp(&self.crl_path);
        let mut guard = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if guard.0 != now {
            let rebuilt = build_verifier(&self.roots, &self.crl_path, &self.provider)
                .map_err(|e| format!("{e:#}"));
            match &rebuilt {
                Ok(_) => tracing::info!(crl = %self.crl_path.display(), "CRL reloaded"),
                Err(e) => tracing::error!(error = %e, "CRL unusable: refusing all operators"),
            }
            *guard = (now, rebuilt);
        }
        guard
            .1
            .clone()
            .map_err(|e| rustls::Error::General(format!("CRL unusable: {e}")))
    }
}

fn build_verifier(
    roots: &Arc<RootCertStore>,
    crl: &Path,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ClientCertVerifier>> {
    let crls = load_crls(crl)?;
    WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
        .with_crls(crls)
        .build()
        .context("cannot build the client certificate verifier")
}

impl ClientCertVerifier for ReloadingVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.current()?
            .verify_client_cert(end_entity, intermediates, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
