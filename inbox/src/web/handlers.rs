//! Request handlers. Field values never reach a log line: only operator ids,
//! references and outcomes do.

use std::sync::Arc;

use anyhow::Context;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Extension;
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

fn page(status: StatusCode, html: String) -> Response {
    (status, Html(html)).into_response()
}

fn problem(status: StatusCode, title: &str, msg: &str, op: Option<&Operator>) -> Response {
    page(status, pages::problem(title, msg, op))
}

/// The operator on this connection; any other certificate of the CA that is
/// not (or no longer) in the database gets a 403 page.
pub struct Op(pub Arc<Operator>);

impl<S: Send + Sync> FromRequestParts<S> for Op {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Identity>()
            .and_then(|id| id.operator.clone().filter(|_| !id.expired))
            .map(Op)
            .ok_or_else(|| {
                if parts
                    .extensions
                    .get::<Identity>()
                    .is_some_and(|id| id.expired)
                {
                    return problem(
                        StatusCode::FORBIDDEN,
                        "Certificato scaduto",
                        "Il certificato di questo operatore è scaduto. Chiedere un nuovo \
                         certificato all'amministratore dello sportello.",
                        None,
                    );
                }
                problem(
                    StatusCode::FORBIDDEN,
                    "Certificato non riconosciuto",
                    "Il certificato presentato dal browser non corrisponde a nessun operatore \
                     attivo. Rivolgersi all'amministratore dello sportello.",
                    None,
                )
            })
    }
}

fn internal(op: Option<&Operator>) -> Response {
    problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "Servizio momentaneamente non disponibile",
        "La segnalazione NON è stata registrata. Riprovare tra qualche minuto con lo stesso \
         modulo (il pulsante Indietro del browser lo ripropone): non verrà duplicata.",
        op,
    )
}

/// A fresh idempotency key; `None` if the system RNG fails (then no form
/// is offered: a predictable key would merge different referrals).
fn new_key() -> Option<String> {
    let mut b = [0u8; 16];
    SystemRandom::new().fill(&mut b).ok()?;
    Some(hex::encode(b))
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

pub async fn form_page(
    State(st): State<Arc<AppState>>,
    Extension(id): Extension<Identity>,
    Op(op): Op,
) -> Response {
    let Some(key) = new_key() else {
        tracing::error!("system random generator failed");
        return internal(Some(&op));
    };
    let token = st.csrf.issue(&id.cert_sha256, now().unix_timestamp());
    page(
        StatusCode::OK,
        pages::referral_form(
            &st.opts,
            &Input::default(),
            &Errors::new(),
            &token,
            &key,
            &op,
            None,
        ),
    )
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

pub async fn submit(
    State(st): State<Arc<AppState>>,
    Extension(id): Extension<Identity>,
    Op(op): Op,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if let Err(wait) = st.limiter.check(op.id) {
        tracing::warn!(operator = op.id, "rate limit");
        let mut r = problem(
            StatusCode::TOO_MANY_REQUESTS,
            "Troppi invii ravvicinati",
            &format!(
                "Sono state inviate molte segnalazioni in poco tempo. Attendere {wait} secondi e \
                 riprovare con il pulsante Indietro: i dati digitati restano nel modulo."
            ),
            Some(&op),
        );
        if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return r;
    }
    let too_large = || {
        problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Modulo troppo grande",
            "Il modulo inviato supera la dimensione massima (64 KiB). Accorciare la descrizione \
             e riprovare.",
            Some(&op),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > DRAIN_LIMIT as u64) {
        return too_large();
    }
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Formato non accettato",
            "Inviare la segnalazione dal modulo della pagina principale.",
            Some(&op),
        );
    }
    let bytes = match read_body(body, st.body_timeout).await {
        Ok(b) => b,
        Err(BodyError::TooLarge) => return too_large(),
        Err(BodyError::TooSlow) => {
            tracing::warn!(operator = op.id, "request body too slow");
            let mut r = problem(
                StatusCode::REQUEST_TIMEOUT,
                "Invio interrotto",
                "Il modulo è arrivato troppo lentamente e l'invio è stato interrotto: la \
                 segnalazione NON è stata registrata. Controllare la connessione e riprovare \
                 con il pulsante Indietro.",
                Some(&op),
            );
            r.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return r;
        }
    };
    let input = match Input::parse(&bytes) {
        Ok(i) => i,
        Err(e) => {
            tracing::warn!(operator = op.id, error = %e, "malformed form");
            let msg = match e {
                form::BadRequest::NotUtf8(_) => {
                    "Il modulo contiene caratteri non validi (codifica diversa da UTF-8): nulla è \
                     stato registrato. Riaprire il modulo da questo sito e reinserire i dati."
                }
                _ => {
                    "Il modulo ricevuto non è nel formato atteso. Ricaricare la pagina e riprovare."
                }
            };
            return problem(StatusCode::BAD_REQUEST, "Modulo non valido", msg, Some(&op));
        }
    };
    let now = now();
    if cross_site(&headers)
        || !st
            .csrf
            .verify(&id.cert_sha256, input.get("csrf"), now.unix_timestamp())
    {
        tracing::warn!(operator = op.id, "CSRF check failed");
        return problem(
            StatusCode::FORBIDDEN,
            "Modulo scaduto o non valido",
            "Il modulo è scaduto (vale 12 ore) oppure non proviene da questo sito. Aprire di \
             nuovo la pagina del modulo e reinserire i dati.",
            Some(&op),
        );
    }
    let key = input.get("idempotency_key").to_string();
    if key.len() != 32 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
        return problem(
            StatusCode::BAD_REQUEST,
            "Modulo non valido",
            "Manca il codice del modulo. Ricaricare la pagina e riprovare.",
            Some(&op),
        );
    }
    let year = now.year();
    let existing = match st.existing_reference(op.id, &key) {
        Ok(e) => e,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "idempotency lookup failed");
            return internal(Some(&op));
        }
    };
    let referral = match form::validate(&input, &st.opts, year) {
        Ok(r) => r,
        Err(errors) => {
            tracing::info!(operator = op.id, fields = ?errors.keys().collect::<Vec<_>>(), "form has errors");
            let token = st.csrf.issue(&id.cert_sha256, now.unix_timestamp());
            // A key already spent on a stored referral would make the
            // corrected form collide with it: the form comes back with a new one.
            let key = match (&existing, new_key()) {
                (None, _) => key,
                (Some(_), Some(fresh)) => fresh,
                (Some(_), None) => return internal(Some(&op)),
            };
            return page(
                StatusCode::UNPROCESSABLE_ENTITY,
                pages::referral_form(&st.opts, &input, &errors, &token, &key, &op, None),
            );
        }
    };
    let content_mac = match serde_json::to_vec(&referral) {
        Ok(json) => st.csrf.content_mac(&id.cert_sha256, &json),
        Err(e) => {
            tracing::error!(error = %e, "cannot fingerprint the form");
            return internal(Some(&op));
        }
    };
    if let Some((reference, mac)) = existing {
        if mac.as_deref() == Some(content_mac.as_str()) {
            // A double click or a browser retry: answer with the first reference.
            return see_other(&reference);
        }
        return key_reused(&st, &id, &op, &input, &reference);
    }
    match seal_and_commit(&st, &op, referral, key, content_mac, year).await {
        Ok(store::Accepted::New(reference)) => {
            tracing::info!(operator = op.id, %reference, "referral committed");
            see_other(&reference)
        }
        Ok(store::Accepted::Duplicate(reference)) => {
            tracing::info!(operator = op.id, %reference, "duplicate submission");
            see_other(&reference)
        }
        Ok(store::Accepted::KeyReused(reference)) => key_reused(&st, &id, &op, &input, &reference),
        Err(e) => {
            tracing::error!(operator = op.id, error = %format!("{e:#}"), "referral NOT committed");
            internal(Some(&op))
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
) -> Response {
    tracing::warn!(operator = op.id, %reference, "idempotency key reused with other content: refused");
    let Some(fresh) = new_key() else {
        return internal(Some(op));
    };
    let token = st.csrf.issue(&id.cert_sha256, now().unix_timestamp());
    let notice = format!(
        "Questo modulo era già stato inviato: è la segnalazione {reference}. I dati qui sotto \
         sono diversi e NON sono stati registrati. Controllarli e premere «Invia la \
         segnalazione» per registrarli come nuova segnalazione."
    );
    page(
        StatusCode::CONFLICT,
        pages::referral_form(
            &st.opts,
            input,
            &Errors::new(),
            &token,
            &fresh,
            op,
            Some(&notice),
        ),
    )
}

/// Renders, encrypts and durably commits a valid referral. The plaintext
/// is dropped as soon as it is sealed; only ciphertext leaves this function.
async fn seal_and_commit(
    st: &AppState,
    op: &Operator,
    referral: form::Referral,
    idempotency_key: String,
    content_mac: String,
    year: i32,
) -> anyhow::Result<store::Accepted> {
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
    let sealed = st.recipients.seal(&entity);
    drop(entity);
    let reminder = match &link {
        Some(l) => Some(
            st.recipients
                .seal(&crate::deliver::mime::reminder_payload(&reference, l)?)?,
        ),
        None => None,
    };
    let new = NewReferral {
        reference,
        created_at,
        desk: op.desk.clone(),
        operator_id: op.id,
        need_area: referral.need_area.clone(),
        urgency: referral.urgency.clone(),
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
) -> Response {
    let Ok(Path(reference)) = reference else {
        return problem(
            StatusCode::BAD_REQUEST,
            "Indirizzo non valido",
            "Il numero di riferimento nell'indirizzo non è leggibile.",
            Some(&op),
        );
    };
    match st.with_reader(|c| store::referral_of(c, op.id, &reference)) {
        Ok(Some(r)) => page(StatusCode::OK, pages::confirmation(&r, &op)),
        Ok(None) => problem(
            StatusCode::NOT_FOUND,
            "Segnalazione non trovata",
            "Nessuna segnalazione con questo riferimento tra quelle inviate da questo operatore.",
            Some(&op),
        ),
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "read failed");
            internal(Some(&op))
        }
    }
}

pub async fn my_referrals(State(st): State<Arc<AppState>>, Op(op): Op) -> Response {
    match st.with_reader(|c| store::referrals_of(c, &op, 200)) {
        Ok(list) => page(
            StatusCode::OK,
            pages::my_referrals(&list, &op, OffsetDateTime::now_utc()),
        ),
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "read failed");
            internal(Some(&op))
        }
    }
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

pub async fn not_found(Extension(id): Extension<Identity>) -> Response {
    problem(
        StatusCode::NOT_FOUND,
        "Pagina non trovata",
        "L'indirizzo richiesto non esiste.",
        id.operator.as_deref(),
    )
}

impl AppState {
    pub fn with_reader<T>(
        &self,
        f: impl FnOnce(&rusqlite::Connection) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let conn = self.reader.lock().unwrap_or_else(|e| e.into_inner());
        f(&conn)
    }

    fn existing_reference(
        &self,
        operator: i64,
        key: &str,
    ) -> anyhow::Result<Option<(String, Option<String>)>> {
        self.with_reader(|c| store::reference_for_key(c, operator, key))
    }

    /// Hands out the next SEG-YYYY-NNNNNN. In memory (one server process
    /// holds the lock on the data directory); a number whose referral was
    /// never committed is simply skipped.
    fn next_reference(&self, year: i32) -> anyhow::Result<String> {
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
    let ok = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|h| !h.trim().is_empty());
    if !ok {
        return problem(
            StatusCode::BAD_REQUEST,
            "Richiesta non valida",
            "La richiesta non indica l'indirizzo del sito (intestazione Host). Aprire la pagina \
             dal browser.",
            None,
        );
    }
    next.run(req).await
}

pub async fn method_not_allowed(Extension(id): Extension<Identity>) -> Response {
    problem(
        StatusCode::METHOD_NOT_ALLOWED,
        "Operazione non consentita",
        "Questa pagina non accetta questo tipo di richiesta. Usare i collegamenti del sito.",
        id.operator.as_deref(),
    )
}
