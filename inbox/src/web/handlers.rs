//! Request handlers. Field values never reach a log line: only operator ids,
//! references and outcomes do.

use std::sync::Arc;

use anyhow::Context;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Extension;

use super::error::{AppError, Site, WithOperator};
use ring::rand::{SecureRandom, SystemRandom};
use time::OffsetDateTime;

use super::{pages, AppState, Identity};
use crate::form::{self, Envelope, Errors, Input};
use crate::store::{self, NewReferral, Operator};

/// The whole form fits comfortably: 2,000 characters of description are at
/// most 24 KiB once percent-encoded.
pub const BODY_LIMIT: usize = 64 * 1024;

/// An oversized body up to this size is read and thrown away, so that the
/// browser, still sending, receives the 413 page instead of a reset.
const DRAIN_LIMIT: usize = 1024 * 1024;

/// Why a body was not read.
enum BodyError {
    TooLarge,
    TooSlow,
}

/// The body if it fits in `BODY_LIMIT` and arrives within `deadline`.
async fn read_body(body: Body, deadline: std::time::Duration) -> Result<Vec<u8>, BodyError> {
    match tokio::time::timeout(deadline, read_limited(body)).await {
        Ok(Some(b)) => Ok(b),
        Ok(None) => Err(BodyError::TooLarge),
        Err(_) => Err(BodyError::TooSlow),
    }
}

/// The body if it fits in `BODY_LIMIT`; memory stays bounded by it.
async fn read_limited(mut body: Body) -> Option<Vec<u8>> {
    use http_body_util::BodyExt;
    let mut buf = Vec::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { return None };
        if let Ok(data) = frame.into_data() {
            total += data.len();
            if total <= BODY_LIMIT {
                buf.extend_from_slice(&data);
            } else if total > DRAIN_LIMIT {
                return None;
            }
        }
    }
    (total <= BODY_LIMIT).then_some(buf)
}

fn page(status: StatusCode, t: &impl askama::Template) -> Response {
    (status, Html(pages::render(t))).into_response()
}

/// What the operators' handlers return: a page, or a refusal that names
/// the operator in its header.
pub(super) type Page = Result<Response, WithOperator>;

/// The operator on this connection; any other certificate of the CA that is
/// not (or no longer) in the database gets a 403 page.
pub struct Op(pub Arc<Operator>);

impl<S: Send + Sync> FromRequestParts<S> for Op {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let id = parts.extensions.get::<Identity>();
        match id {
            Some(id) if id.expired => Err(AppError::CertificateExpired),
            Some(id) => id
                .operator
                .clone()
                .map(Op)
                .ok_or(AppError::UnknownCertificate),
            None => Err(AppError::UnknownCertificate),
        }
    }
}

/// A fresh idempotency key; an error if the system RNG fails (then no form
/// is offered: a predictable key would merge different referrals).
fn new_key() -> Result<String, AppError> {
    let mut b = [0u8; 16];
    SystemRandom::new()
        .fill(&mut b)
        .map_err(|_| AppError::desk(anyhow::anyhow!("system random generator failed")))?;
    Ok(hex::encode(b))
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

pub async fn form_page(
    State(st): State<Arc<AppState>>,
    Extension(id): Extension<Identity>,
    Op(op): Op,
) -> Page {
    let key = new_key().map_err(|e| e.by(&op))?;
    let token = st.csrf.issue(&id.cert_sha256, now().unix_timestamp());
    let (input, errors) = (Input::default(), Errors::new());
    let list = st.municipalities_of(&op.desk);
    Ok(page(
        StatusCode::OK,
        &pages::ReferralForm::new(&st.opts, &input, &errors, &token, &key, &op, None)
            .with_municipalities(&list, &input, &errors),
    ))
}

/// A cross-site post fails here even before the token is looked at.
/// Fetch metadata, when the browser sends it, decides. Otherwise a foreign
/// `Origin` is refused; `Origin: null` proves nothing either way (browsers
/// send it for every form post under our own `Referrer-Policy: no-referrer`),
/// so the CSRF token decides.
pub(super) fn cross_site(headers: &HeaderMap) -> bool {
    match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        Some("same-origin") | Some("none") => return false,
        Some(_) => return true,
        None => {}
    }
    match (
        headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        headers.get(header::HOST).and_then(|v| v.to_str().ok()),
    ) {
        (Some(origin), Some(host)) if origin != "null" => origin != format!("https://{host}"),
        _ => false,
    }
}

/// Whether the request says it carries a urlencoded form.
pub(super) fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"))
}

/// The body of an operator's urlencoded post, within the size and time limits.
pub(super) async fn read_urlencoded(
    st: &AppState,
    op: &Operator,
    headers: &HeaderMap,
    body: Body,
) -> Result<Vec<u8>, AppError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > DRAIN_LIMIT as u64) {
        return Err(AppError::TooLarge(Site::Desk));
    }
    if !is_form(headers) {
        return Err(AppError::NotAForm(Site::Desk));
    }
    match read_body(body, st.body_timeout).await {
        Ok(b) => Ok(b),
        Err(BodyError::TooLarge) => Err(AppError::TooLarge(Site::Desk)),
        Err(BodyError::TooSlow) => {
            tracing::warn!(operator = op.id, "request body too slow");
            Err(AppError::TooSlow)
        }
    }
}

/// The posted referral form: within the limits, well-formed, from this
/// site, with a valid CSRF token.
pub(super) async fn read_form(
    st: &AppState,
    id: &Identity,
    op: &Operator,
    headers: &HeaderMap,
    body: Body,
) -> Result<Input, AppError> {
    let bytes = read_urlencoded(st, op, headers, body).await?;
    let input = Input::parse(&bytes).map_err(|e| {
        tracing::warn!(operator = op.id, error = %e, "malformed form");
        match e {
            form::BadRequest::NotUtf8(_) => AppError::NotUtf8,
            _ => AppError::Malformed,
        }
    })?;
    check_origin(st, id, op, headers, input.get("csrf"))?;
    Ok(input)
}

/// An operator's post must come from this site with a token bound to the
/// operator's certificate and not expired.
pub(super) fn check_origin(
    st: &AppState,
    id: &Identity,
    op: &Operator,
    headers: &HeaderMap,
    token: &str,
) -> Result<(), AppError> {
    if cross_site(headers)
        || !st
            .csrf
            .verify(&id.cert_sha256, token, now().unix_timestamp())
    {
        tracing::warn!(operator = op.id, "CSRF check failed");
        return Err(AppError::Csrf(Site::Desk));
    }
    Ok(())
}

/// An operator's next post, if `limiter` has room for it.
pub(super) fn within(
    limiter: &crate::web::ratelimit::Limiter,
    op: &Operator,
) -> Result<(), AppError> {
    limiter.check(op.id).map_err(|wait| {
        tracing::warn!(operator = op.id, "rate limit");
        AppError::RateLimited {
            site: Site::Desk,
            wait,
        }
    })
}

pub async fn submit(
    State(st): State<Arc<AppState>>,
    Extension(id): Extension<Identity>,
    Op(op): Op,
    headers: HeaderMap,
    body: Body,
) -> Page {
    submit_form(&st, &id, &op, &headers, body)
        .await
        .map_err(|e| e.by(&op))
}

async fn submit_form(
    st: &AppState,
    id: &Identity,
    op: &Operator,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    within(&st.limiter, op)?;
    let input = read_form(st, id, op, headers, body).await?;
    let now = now();
    let key = input.get("idempotency_key").to_string();
    if key.len() != 32 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AppError::MissingKey);
    }
    let year = now.year();
    let existing = st
        .existing_reference(op.id, &key)
        .context("idempotency lookup failed")
        .map_err(AppError::desk)?;
    let list = st.municipalities_of(&op.desk);
    let referral = match (
        form::validate(&input, &st.opts, year),
        choose_municipality(&list, &input),
    ) {
        (Ok(r), Ok(m)) => (r, m),
        (v, m) => {
            let mut errors = v.err().unwrap_or_default();
            if let Err(msg) = m {
                errors.insert("municipality", msg);
            }
            tracing::info!(operator = op.id, fields = ?errors.keys().collect::<Vec<_>>(), "form has errors");
            let token = st.csrf.issue(&id.cert_sha256, now.unix_timestamp());
            // A key already spent on a stored referral would make the
            // corrected form collide with it: the form comes back with a new one.
            let key = match &existing {
                None => key,
                Some(_) => new_key()?,
            };
            return Ok(page(
                StatusCode::UNPROCESSABLE_ENTITY,
                &pages::ReferralForm::new(&st.opts, &input, &errors, &token, &key, op, None)
                    .with_municipalities(&list, &input, &errors),
            ));
        }
    };
    let (referral, municipality) = referral;
    let mut json = serde_json::to_vec(&referral)
        .context("cannot fingerprint the form")
        .map_err(AppError::desk)?;
    // The same person sent to another Comune is other content.
    json.extend_from_slice(format!("\nmunicipality={municipality}").as_bytes());
    let content_mac = st.csrf.content_mac(&id.cert_sha256, &json);
    drop(json);
    if let Some((reference, mac)) = existing {
        if mac.as_deref() == Some(content_mac.as_str()) {
            // A double click or a browser retry: answer with the first reference.
            return Ok(see_other(&reference));
        }
        return key_reused(st, id, op, &input, &reference);
    }
    match seal_and_commit(st, op, referral, &municipality, key, content_mac, year).await {
        Ok(store::Accepted::New(reference)) => {
            tracing::info!(operator = op.id, %reference, "referral committed");
            Ok(see_other(&reference))
        }
        Ok(store::Accepted::Duplicate(reference)) => {
            tracing::info!(operator = op.id, %reference, "duplicate submission");
            Ok(see_other(&reference))
        }
        Ok(store::Accepted::KeyReused(reference)) => key_reused(st, id, op, &input, &reference),
        Err(e) => {
            tracing::error!(operator = op.id, "referral NOT committed");
            Err(AppError::desk(e))
        }
    }
}

/// The form's key already belongs to a referral with other content: that
/// is a form reused for another person. Nothing is stored; the typed values
/// come back in a form with a new key, to be checked and sent again.
fn key_reused(
    st: &AppState,
    id: &Identity,
    op: &Operator,
    input: &Input,
    reference: &str,
) -> Result<Response, AppError> {
    tracing::warn!(operator = op.id, %reference, "idempotency key reused with other content: refused");
    let fresh = new_key()?;
    let token = st.csrf.issue(&id.cert_sha256, now().unix_timestamp());
    let notice = format!(
        "Questo modulo era già stato inviato: è la segnalazione {reference}. I dati qui sotto \
         sono diversi e NON sono stati registrati. Controllarli e premere «Invia la \
         segnalazione» per registrarli come nuova segnalazione."
    );
    let errors = Errors::new();
    let list = st.municipalities_of(&op.desk);
    Ok(page(
        StatusCode::CONFLICT,
        &pages::ReferralForm::new(&st.opts, input, &errors, &token, &fresh, op, Some(&notice))
            .with_municipalities(&list, input, &errors),
    ))
}

/// The municipality a referral goes to: the desk's only one, or the one
/// chosen in the form among the desk's (`Err`: the field's message).
fn choose_municipality(
    list: &[crate::config::Municipality],
    input: &Input,
) -> Result<String, String> {
    match list {
        [] => Err(
            "Questo sportello non è assegnato ad alcun comune: avvisare l'amministratore.".into(),
        ),
        [only] => Ok(only.slug.clone()),
        _ => {
            let chosen = input.get("municipality");
            list.iter()
                .find(|m| m.slug == chosen)
                .map(|m| m.slug.clone())
                .ok_or_else(|| "Scegliere il comune di residenza della persona.".into())
        }
    }
}

/// Renders, encrypts and durably commits a valid referral. The plaintext
/// is dropped as soon as it is sealed; only ciphertext leaves this function.
async fn seal_and_commit(
    st: &AppState,
    op: &Operator,
    referral: form::Referral,
    municipality: &str,
    idempotency_key: String,
    content_mac: String,
    year: i32,
) -> anyhow::Result<store::Accepted> {
    let keys = st.recipients.get();
    let recipients = keys
        .get(municipality)
        .with_context(|| format!("no staff keys for municipality {municipality}"))?;
    let reference = st.next_reference(year)?;
    let created_at = store::now_rfc3339();
    let plaintext = form::render_plaintext(
        &referral,
        &Envelope {
            reference: &reference,
            created_at: &created_at,
            operator_id: op.id,
            operator_name: &op.name,
            desk: &op.desk,
        },
        &st.opts,
    );
    // The staff link: its token exists only here and inside the ciphertext.
    let token = match &st.staff {
        Some(_) => Some(crate::care::new_token().context("system random generator failed")?),
        None => None,
    };
    let link = st
        .staff
        .as_ref()
        .zip(token.as_deref())
        .map(|(s, t)| s.link(t));
    let entity = crate::deliver::mime::payload(
        &reference,
        &plaintext.text,
        &plaintext.json,
        link.as_deref(),
    );
    drop(plaintext);
    let entity = entity?;
    let sealed = recipients.seal(&entity);
    drop(entity);
    let reminder = match &link {
        Some(l) => Some(recipients.seal(&crate::deliver::mime::reminder_payload(&reference, l)?)?),
        None => None,
    };
    let new = NewReferral {
        reference,
        created_at,
        desk: op.desk.clone(),
        municipality: municipality.to_string(),
        operator_id: op.id,
        need_area: referral.need_area.clone(),
        urgency: referral.urgency,
        age_band: form::age_band(referral.birth_year, year).to_string(),
        idempotency_key,
        content_mac,
        ciphertext: sealed?,
        token_sha256: token.as_deref().and_then(crate::care::token_hash),
        reminder_ciphertext: reminder,
    };
    drop(referral);
    st.writer.commit(new).await
}

fn see_other(reference: &str) -> Response {
    Redirect::to(&format!("/segnalazioni/{reference}")).into_response()
}

pub async fn confirmation(
    State(st): State<Arc<AppState>>,
    Op(op): Op,
    reference: Result<Path<String>, PathRejection>,
) -> Page {
    let Ok(Path(reference)) = reference else {
        return Err(AppError::BadReference.by(&op));
    };
    let r = st
        .with_db(|db| db.referral_of(op.id, &reference))
        .map_err(|e| AppError::ReadUnavailable(e).by(&op))?
        .ok_or_else(|| AppError::ReferralNotFound.by(&op))?;
    Ok(page(
        StatusCode::OK,
        &pages::Confirmation {
            operator: Some(&op),
            referral: &r,
        },
    ))
}

pub async fn my_referrals(State(st): State<Arc<AppState>>, Op(op): Op) -> Page {
    let list = st
        .with_db(|db| db.referrals_of(&op, 200))
        .map_err(|e| AppError::ReadUnavailable(e).by(&op))?;
    Ok(page(
        StatusCode::OK,
        &pages::MyReferrals::new(&list, &op, OffsetDateTime::now_utc()),
    ))
}

pub async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        include_str!("../../static/style.css"),
    )
        .into_response()
}

pub async fn not_found(Extension(id): Extension<Identity>) -> WithOperator {
    WithOperator(AppError::PageNotFound, id.operator)
}

impl AppState {
    /// Reads of what only the SQLite store has (the last reference number
    /// of the year); on PostgreSQL an error that says so.
    pub fn with_reader<T>(
        &self,
        f: impl FnOnce(&rusqlite::Connection) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let db = self.reader.lock().unwrap_or_else(|e| e.into_inner());
        f(db.sqlite("this page")?)
    }

    /// Reads through the store of either kind (`Db` keeps PostgreSQL's
    /// blocking calls off the async threads).
    pub fn with_db<T>(
        &self,
        f: impl FnOnce(&mut store::db::Db) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let mut db = self.reader.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut db)
    }

    /// The municipalities whose residents `desk` refers.
    pub(super) fn municipalities_of(&self, desk: &str) -> Vec<crate::config::Municipality> {
        self.municipalities
            .iter()
            .filter(|m| m.serves(desk))
            .cloned()
            .collect()
    }

    fn existing_reference(
        &self,
        operator: i64,
        key: &str,
    ) -> anyhow::Result<Option<(String, Option<String>)>> {
        self.with_db(|db| db.reference_for_key(operator, key))
    }

    /// Hands out the next SEG-YYYY-NNNNNN. On SQLite in memory (one server
    /// process holds the lock on the data directory), on PostgreSQL from
    /// the counter the replicas share; a number whose referral was never
    /// committed is simply skipped.
    fn next_reference(&self, year: i32) -> anyhow::Result<String> {
        if let Some(n) = self.with_db(|db| db.next_sequence_pg(year))? {
            return Ok(format!("SEG-{year:04}-{n:06}"));
        }
        let mut seq = self.sequence.lock().unwrap_or_else(|e| e.into_inner());
        if seq.0 != year {
            let last = self.with_reader(|c| store::last_sequence(c, year))?;
            *seq = (year, last);
        }
        seq.1 += 1;
        Ok(format!("SEG-{year:04}-{:06}", seq.1))
    }
}

/// HTTP/1.1 requires `Host` (RFC 9112, 3.2): a request without one is not
/// from a browser and gets a 400.
pub async fn require_host(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    if has_host(req.headers()) {
        next.run(req).await
    } else {
        AppError::MissingHost(Site::Desk).into_response()
    }
}

pub(super) fn has_host(headers: &HeaderMap) -> bool {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|h| !h.trim().is_empty())
}

pub async fn method_not_allowed(Extension(id): Extension<Identity>) -> WithOperator {
    WithOperator(AppError::MethodNotAllowed, id.operator)
}
