//! Test support: a real data directory made by the real binary, a real
//! server process on 127.0.0.1 with ephemeral ports, real TLS clients with
//! real certificates, and a staff key generated with the pgp crate.
#![allow(dead_code)]

pub mod openpgp;
pub mod pg;
pub mod smtp;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use pgp::composed::{
    ArmorOptions, EncryptionCaps, KeyType, Message, SecretKeyParamsBuilder, SignedPublicKey,
    SignedSecretKey, SubkeyParamsBuilder,
};
use pgp::crypto::ecc_curve::ECCCurve;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

pub const BIN: &str = env!("CARGO_BIN_EXE_sportello-inbox");

pub fn bin(args: &[&str]) -> Result<String> {
    let out = Command::new(BIN).args(args).output()?;
    if !out.status.success() {
        bail!(
            "sportello-inbox {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8(out.stdout)?)
}

/// A client identity: certificate chain and key.
#[derive(Clone)]
pub struct Identity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key_der: Vec<u8>,
    pub id: i64,
}

impl Identity {
    fn key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()))
    }
}

/// A staff key pair made in-process: no gpg needed.
pub struct StaffKeys {
    pub secret: SignedSecretKey,
    pub public_armored: String,
}

pub fn staff_keys() -> StaffKeys {
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
    let public = SignedPublicKey::from(secret.clone());
    let public_armored = public.to_armored_string(ArmorOptions::default()).unwrap();
    StaffKeys {
        secret,
        public_armored,
    }
}

/// The decrypted MIME entity as raw bytes.
pub fn decrypt_raw(secret: &SignedSecretKey, ciphertext: &[u8]) -> Result<Vec<u8>> {
    let mut msg = Message::from_bytes(ciphertext)?.decrypt(&"".into(), secret)?;
    if msg.is_compressed() {
        msg = msg.decompress()?;
    }
    Ok(msg.as_data_vec()?)
}

/// The readable text followed by the JSON attachment, decoded from the
/// MIME entity (so that a quoted-printable soft line break cannot hide a
/// marker).
pub fn decrypt(secret: &SignedSecretKey, ciphertext: &[u8]) -> Result<String> {
    let e = Entity::parse(&decrypt_raw(secret, ciphertext)?)?;
    Ok(format!("{}\n{}", e.text, e.json))
}

/// The MIME entity inside the encryption, read by an independent parser
/// and checked for the structure every mail client expects:
/// `multipart/mixed` with a `text/plain; charset=utf-8` part first and an
/// `application/json` attachment named `SEG-....json` second.
#[derive(Debug)]
pub struct Entity {
    pub text: String,
    pub json: String,
    pub json_name: String,
}

impl Entity {
    pub fn parse(raw: &[u8]) -> Result<Entity> {
        use mail_parser::{MessageParser, MimeHeaders};
        let bare_lf = raw
            .iter()
            .enumerate()
            .any(|(i, &b)| b == b'\n' && (i == 0 || raw[i - 1] != b'\r'));
        if bare_lf {
            bail!("the MIME entity has bare LF line ends (RFC 3156 asks for CRLF)");
        }
        let msg = MessageParser::default()
            .parse(raw)
            .context("not a MIME entity")?;
        let root = msg.root_part();
        let ct = root.content_type().context("no Content-Type")?;
        if ct.ctype() != "multipart" || ct.subtype() != Some("mixed") {
            bail!("top-level type {}/{:?}", ct.ctype(), ct.subtype());
        }
        let subs = root.sub_parts().context("no parts")?;
        if subs.len() != 2 {
            bail!("{} parts, expected 2", subs.len());
        }
        let text = msg.part(subs[0]).context("part 1")?;
        let tct = text.content_type().context("part 1 without Content-Type")?;
        if tct.ctype() != "text" || tct.subtype() != Some("plain") {
            bail!("part 1 is {}/{:?}", tct.ctype(), tct.subtype());
        }
        if !tct
            .attribute("charset")
            .is_some_and(|c| c.eq_ignore_ascii_case("utf-8"))
        {
            bail!("part 1 has no charset=utf-8");
        }
        let json = msg.part(subs[1]).context("part 2")?;
        let jct = json.content_type().context("part 2 without Content-Type")?;
        if jct.ctype() != "application" || jct.subtype() != Some("json") {
            bail!("part 2 is {}/{:?}", jct.ctype(), jct.subtype());
        }
        let disp = json
            .content_disposition()
            .context("part 2 without Content-Disposition")?;
        if !disp.is_attachment() {
            bail!("the JSON is not an attachment");
        }
        Ok(Entity {
            text: text
                .text_contents()
                .context("part 1 not text")?
                .replace("\r\n", "\n"),
            json: String::from_utf8(json.contents().to_vec())?,
            json_name: json.attachment_name().context("no file name")?.to_string(),
        })
    }
}

/// A data directory with CA, config, one staff key.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub staff: StaffKeys,
    pub ca: Vec<CertificateDer<'static>>,
}

impl Fixture {
    /// `limits` replaces the [limits] values (per minute, burst).
    pub fn new(per_minute: u32, burst: u32) -> Result<Fixture> {
        let dir = tempfile::tempdir()?;
        let d = dir.path().to_str().context("utf-8 path")?;
        bin(&["init", "--dir", d, "--hostname", "localhost"])?;
        let config = dir.path().join("inbox.toml");
        let text = std::fs::read_to_string(&config)?
            .replace("listen = \"0.0.0.0:8443\"", "listen = \"127.0.0.1:0\"")
            .replace(
                "health_listen = \"127.0.0.1:8081\"",
                "health_listen = \"127.0.0.1:0\"",
            )
            .replace(
                "submissions_per_minute = 20",
                &format!("submissions_per_minute = {per_minute}"),
            )
            .replace("burst = 10", &format!("burst = {burst}"));
        std::fs::write(&config, text)?;
        let staff = staff_keys();
        let key_file = dir.path().join("staff.asc");
        std::fs::write(&key_file, &staff.public_armored)?;
        let c = config.to_str().context("utf-8")?;
        bin(&[
            "staff",
            "add",
            "--config",
            c,
            "--name",
            "Staff Esempio",
            "--key",
            key_file.to_str().context("utf-8")?,
        ])?;
        // The key file is not part of the data directory the canary test scans.
        std::fs::remove_file(&key_file)?;
        let ca = rustls::pki_types::pem::PemObject::pem_file_iter(dir.path().join("data/ca.pem"))?
            .collect::<Result<Vec<CertificateDer<'static>>, _>>()?;
        Ok(Fixture {
            dir,
            config,
            staff,
            ca,
        })
    }

    /// `staff add` through the binary (so into the configured store) of
    /// the armored public key `armored`, with `extra` arguments such as
    /// `--municipality`; the key file is removed afterwards (the canary
    /// test scans the folder).
    pub fn add_staff(&self, name: &str, armored: &str, extra: &[&str]) -> Result<String> {
        let key = self.dir.path().join("staff-key.asc");
        std::fs::write(&key, armored)?;
        let mut args = vec![
            "staff",
            "add",
            "--config",
            self.config_str(),
            "--name",
            name,
        ];
        args.extend_from_slice(extra);
        args.extend(["--key", key.to_str().context("utf-8")?]);
        let out = bin(&args);
        std::fs::remove_file(&key)?;
        out
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn config_str(&self) -> &str {
        self.config.to_str().unwrap()
    }

    /// `operator add` through the binary; the bundle is opened with the
    /// printed passphrase, as a browser would.
    pub fn add_operator(&self, name: &str, desk: &str) -> Result<Identity> {
        let out = bin(&[
            "operator",
            "add",
            "--config",
            self.config_str(),
            "--name",
            name,
            "--desk",
            desk,
        ])?;
        let field = |prefix: &str| {
            out.lines()
                .find_map(|l| l.strip_prefix(prefix))
                .map(str::trim)
                .map(str::to_string)
                .with_context(|| format!("no `{prefix}` in {out}"))
        };
        let bundle = field("bundle:")?;
        let pass = field("passphrase:")?;
        let id: i64 = out.split_whitespace().nth(1).context("no id")?.parse()?;
        let p12 = std::fs::read(&bundle)?;
        let store = p12_keystore::KeyStore::from_pkcs12(
            &p12,
            &pass,
            p12_keystore::Pkcs12ImportPolicy::Relaxed,
        )?;
        let (_, chain) = store.private_key_chain().context("no key in the bundle")?;
        Ok(Identity {
            chain: chain
                .certs()
                .iter()
                .take(1)
                .map(|c| CertificateDer::from(c.as_der().to_vec()))
                .collect(),
            key_der: chain.key().as_der().to_vec(),
            id,
        })
    }

    pub fn start(&self, log: &Path) -> Result<Server> {
        Server::start(&self.config, log)
    }

    /// Appends TOML (e.g. a [mail] section) and applies replacements to inbox.toml.
    pub fn configure(&self, replace: &[(&str, &str)], append: &str) -> Result<()> {
        let mut text = std::fs::read_to_string(&self.config)?;
        for (from, to) in replace {
            if !text.contains(from) {
                bail!("`{from}` not in inbox.toml");
            }
            text = text.replace(from, to);
        }
        text.push_str(append);
        std::fs::write(&self.config, text)?;
        Ok(())
    }

    /// The status, attempts and last error of a referral.
    pub fn delivery(&self, reference: &str) -> Result<(String, u32, Option<String>)> {
        Ok(self.db()?.query_row(
            "SELECT status, attempts, last_error FROM referrals WHERE reference = ?1",
            [reference],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?)
    }

    /// How many referrals the store holds.
    pub fn referral_count(&self) -> i64 {
        self.db()
            .unwrap()
            .query_row("SELECT count(*) FROM referrals", [], |r| r.get(0))
            .unwrap()
    }

    pub fn db(&self) -> Result<rusqlite::Connection> {
        Ok(rusqlite::Connection::open(
            self.data_dir().join("inbox.sqlite"),
        )?)
    }
}

/// A running `sportello-inbox serve`; killed with SIGKILL on drop.
pub struct Server {
    pub child: Child,
    pub https: SocketAddr,
    pub health: SocketAddr,
    /// The staff site, when inbox.toml has a [staff] section.
    pub staff: Option<SocketAddr>,
}

impl Server {
    pub fn start(config: &Path, log: &Path) -> Result<Server> {
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)?;
        let mut child = Command::new(BIN)
            .args(["serve", "--config"])
            .arg(config)
            .env("SPORTELLO_LOG", "debug")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file))
            .spawn()?;
        let stdout = child.stdout.take().context("stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        // "listening https://ADDR health http://ADDR/healthz"
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.len() < 4 {
            let _ = child.kill();
            bail!("server did not start: {line:?}; see {}", log.display());
        }
        let https = words[1].trim_start_matches("https://").parse()?;
        let health = words[3]
            .trim_start_matches("http://")
            .trim_end_matches("/healthz")
            .parse()?;
        // "... staff https://ADDR" when a [staff] section is configured.
        let staff = match words.get(5) {
            Some(w) => Some(w.trim_start_matches("https://").parse()?),
            None => None,
        };
        Ok(Server {
            child,
            https,
            health,
            staff,
        })
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

pub struct Response {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: String,
}

impl Response {
    pub fn location(&self) -> Option<String> {
        self.headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }
}

/// One HTTP/1.1 keep-alive connection over TLS.
pub struct Conn {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    host: String,
    /// The TLS handshake resumed an earlier session.
    pub resumed: bool,
}

pub async fn connect(
    addr: SocketAddr,
    ca: &[CertificateDer<'static>],
    identity: Option<&Identity>,
) -> Result<Conn> {
    connect_with(addr, ca, identity, rustls::DEFAULT_VERSIONS).await
}

pub async fn connect_with(
    addr: SocketAddr,
    ca: &[CertificateDer<'static>],
    identity: Option<&Identity>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Result<Conn> {
    connect_config(addr, client_config(ca, identity, versions)?).await
}

/// A client configuration; reusing one across connections lets rustls
/// resume its TLS sessions, as a browser does.
pub fn client_config(
    ca: &[CertificateDer<'static>],
    identity: Option<&Identity>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    for c in ca {
        roots.add(c.clone())?;
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(versions)?
    .with_root_certificates(roots);
    let config = match identity {
        Some(id) => builder.with_client_auth_cert(id.chain.clone(), id.key())?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// One connection with a given client configuration; also says whether
/// the TLS session was resumed.
pub async fn connect_config(addr: SocketAddr, config: Arc<rustls::ClientConfig>) -> Result<Conn> {
    let tcp = TcpStream::connect(addr).await?;
    let tls = TlsConnector::from(config)
        .connect(ServerName::try_from("localhost")?, tcp)
        .await?;
    let resumed = matches!(
        tls.get_ref().1.handshake_kind(),
        Some(rustls::HandshakeKind::Resumed)
    );
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
    tokio::spawn(conn);
    Ok(Conn {
        sender,
        host: format!("localhost:{}", addr.port()),
        resumed,
    })
}

impl Conn {
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<Response> {
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(path)
            .header("host", &self.host);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.sender.ready().await?;
        let res = self
            .sender
            .send_request(req.body(Full::new(Bytes::from(body)))?)
            .await?;
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let body = res.into_body().collect().await?.to_bytes();
        Ok(Response {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }

    pub async fn get(&mut self, path: &str) -> Result<Response> {
        self.request("GET", path, &[], Vec::new()).await
    }

    pub async fn post_form(&mut self, fields: &[(String, String)]) -> Result<Response> {
        self.post_raw(encode(fields).into_bytes(), &[]).await
    }

    pub async fn post_raw(&mut self, body: Vec<u8>, extra: &[(&str, &str)]) -> Result<Response> {
        let mut headers = vec![("content-type", "application/x-www-form-urlencoded")];
        headers.extend_from_slice(extra);
        self.request("POST", "/segnalazioni", &headers, body).await
    }

    /// GET the form and return its (csrf, idempotency_key).
    pub async fn form_tokens(&mut self) -> Result<(String, String)> {
        let page = self.get("/").await?;
        if page.status != 200 {
            bail!("form page: {}", page.status);
        }
        Ok((
            hidden(&page.body, "csrf")?,
            hidden(&page.body, "idempotency_key")?,
        ))
    }
}

pub fn hidden(html: &str, name: &str) -> Result<String> {
    let pat = format!(r#"name="{name}" value=""#);
    let start = html.find(&pat).with_context(|| format!("no {name}"))? + pat.len();
    let end = html[start..].find('"').context("unterminated")?;
    Ok(html[start..start + end].to_string())
}

pub fn encode(fields: &[(String, String)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        s.append_pair(k, v);
    }
    s.finish()
}

/// A complete, valid referral about an invented person.
pub fn valid_fields(csrf: &str, key: &str) -> Vec<(String, String)> {
    [
        ("csrf", csrf),
        ("idempotency_key", key),
        ("first_name", "Maria"),
        ("last_name", "Esempio"),
        ("birth_year", "1941"),
        ("phone", "0372 000000"),
        ("email", ""),
        ("city_area", "centro"),
        ("call_time", "mattina"),
        ("need_area", "non-autosufficienza"),
        ("urgency", "ordinary"),
        ("description", "Vive sola, chiede aiuto per la spesa."),
        ("privacy_notice", "yes"),
        ("consent", "yes"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// GET the form, POST `fields` (tokens filled in), return the reference.
pub async fn submit(c: &mut Conn, mut fields: Vec<(String, String)>) -> Result<String> {
    let (csrf, key) = c.form_tokens().await?;
    set(&mut fields, "csrf", &csrf);
    set(&mut fields, "idempotency_key", &key);
    let r = c.post_form(&fields).await?;
    if r.status != 303 {
        bail!("submission answered {}: {}", r.status, r.body);
    }
    Ok(r.location()
        .context("no Location")?
        .trim_start_matches("/segnalazioni/")
        .to_string())
}

/// Submits on `c` until a referral decrypts with `secret` (a server re-reads
/// the staff table every few seconds), at most 20 s; returns its
/// ciphertext, read with `ciphertext` from the store.
pub async fn submit_until_sealed_to(
    c: &mut Conn,
    secret: &SignedSecretKey,
    ciphertext: impl Fn(&str) -> Result<Vec<u8>>,
) -> Result<Vec<u8>> {
    let start = std::time::Instant::now();
    loop {
        let reference = submit(c, valid_fields("", "")).await?;
        let ct = ciphertext(&reference)?;
        if decrypt(secret, &ct).is_ok() {
            return Ok(ct);
        }
        if start.elapsed() > std::time::Duration::from_secs(20) {
            bail!("no referral sealed to the new key after 20 s");
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

pub fn set(fields: &mut [(String, String)], name: &str, value: &str) {
    for (k, v) in fields.iter_mut() {
        if k == name {
            *v = value.to_string();
        }
    }
}
