//! The staff site: a second HTTPS listener without client certificates
//! (the Comune's staff read mail on machines that have none). The link in
//! each encrypted mail, `/presa-in-carico/TOKEN`, opens that one referral;
//! the token is its only credential and the server keeps only its hash.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use axum::body::Body;
use axum::extract::{Path, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use super::admission::Admission;
use super::error::{AppError, Site};
use super::{csrf::Csrf, handlers, pages, ratelimit::Limiter, security_headers, staff_pages};
use crate::care::{self, Change, Outcome, State, MAX_NAME};
use crate::config::Choice;
use crate::store::care as store;
use crate::store::care::Recorded;

pub struct StaffState {
    /// Need areas, for their labels.
    pub need_areas: Vec<Choice>,
    /// Where "non di competenza" may send a referral: offices, then services.
    pub targets: Vec<Choice>,
    /// The guide's services, for "chiusa: servizio attivato".
    pub services: Vec<Choice>,
    /// Reads and the (rare) state changes: the SQLite file, or a few
    /// connections to the shared PostgreSQL database.
    pub db: crate::store::db::Readers,
    /// For the municipality's name on the page.
    pub municipalities: Vec<crate::config::Municipality>,
    pub csrf: Csrf,
    pub limiter: Limiter<IpAddr>,
    pub body_timeout: Duration,
}

/// The client's address, set by the accept loop.
#[derive(Clone, Copy)]
struct Peer(IpAddr);

pub fn router(state: Arc<StaffState>) -> Router {
    Router::new()
        .route("/presa-in-carico/{token}", get(page).post(change))
        .route("/static/style.css", get(handlers::stylesheet))
        .fallback(fallback)
        .method_not_allowed_fallback(fallback)
        .layer(axum::middleware::from_fn_with_state(state.clone(), limit))
        .layer(axum::middleware::from_fn(require_host))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

async fn fallback() -> AppError {
    AppError::LinkNotValid
}

/// HTTP/1.1 requires `Host`: 400 with the staff site's own page.
async fn require_host(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    if handlers::has_host(req.headers()) {
        next.run(req).await
    } else {
        AppError::MissingHost(Site::Staff).into_response()
    }
}

async fn limit(
    AxState(st): AxState<Arc<StaffState>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let ip = req.extensions().get::<Peer>().map(|p| p.0);
    if let Some(ip) = ip {
        if let Err(wait) = st.limiter.check(ip) {
            tracing::warn!("staff site: rate limit");
            return AppError::RateLimited {
                site: Site::Staff,
                wait,
            }
            .into_response();
        }
    }
    next.run(req).await
}

impl StaffState {
    fn db(&self) -> std::sync::MutexGuard<'_, crate::store::db::Db> {
        self.db.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn binding(hash: &str) -> String {
        format!("staff|{hash}")
    }

    fn render(
        &self,
        status: StatusCode,
        hash: &str,
        r: &store::Referral,
        error: Option<&str>,
    ) -> Result<Response, AppError> {
        let events = self.db().care_events(r.id).map_err(AppError::staff)?;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let csrf = self.csrf.issue(&Self::binding(hash), now);
        let need_label = self
            .need_areas
            .iter()
            .find(|c| c.slug == r.need_area)
            .map_or(r.need_area.as_str(), |c| c.label.as_str());
        let municipality = self
            .municipalities
            .iter()
            .find(|m| Some(&m.slug) == r.municipality.as_ref())
            .map_or(r.municipality.as_deref().unwrap_or(""), |m| m.name.as_str());
        let view = staff_pages::View {
            referral: r,
            events: &events,
            need_label,
            municipality,
            targets: &self.targets,
            services: &self.services,
            csrf: &csrf,
            error,
        };
        Ok((
            status,
            Html(pages::render(&staff_pages::ReferralPage::new(&view))),
        )
            .into_response())
    }

    /// The referral a token opens (and the token's hash).
    fn open(&self, token: &str) -> Result<(String, store::Referral), AppError> {
        let hash = care::token_hash(token).ok_or(AppError::LinkNotValid)?;
        match self.db().care_by_token(&hash).map_err(AppError::staff)? {
            Some(r) => Ok((hash, r)),
            None => Err(AppError::LinkNotValid),
        }
    }
}

async fn page(
    AxState(st): AxState<Arc<StaffState>>,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let (hash, r) = st.open(&token)?;
    st.render(StatusCode::OK, &hash, &r, None)
}

/// A form field that must not carry control or bidi characters.
fn clean(s: &str) -> bool {
    !s.chars()
        .any(|c| c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'))
}

/// The requested change, checked against the lists; `Err` is the message.
fn parse_change(
    fields: &[(String, String)],
    targets: &[Choice],
    services: &[Choice],
) -> Result<Change, String> {
    let get = |k: &str| {
        fields
            .iter()
            .find(|(n, _)| n == k)
            .map_or("", |(_, v)| v.trim())
    };
    let state = State::parse(get("state")).ok_or("Operazione non riconosciuta.")?;
    let mut c = Change {
        state,
        staff_name: None,
        planned_contact: None,
        target: None,
        outcome: None,
    };
    match state {
        State::PresaInCarico => {
            let name = get("staff_name");
            if name.is_empty() {
                return Err(
                    "Indicare nome e cognome di chi prende in carico la segnalazione.".into(),
                );
            }
            if name.chars().count() > MAX_NAME || !clean(name) {
                return Err(format!(
                    "Il nome può avere al massimo {MAX_NAME} caratteri, senza caratteri speciali."
                ));
            }
            c.staff_name = Some(name.to_string());
            let d = get("planned_contact");
            if !d.is_empty() {
                let fmt = time::macros::format_description!("[year]-[month]-[day]");
                let date = time::Date::parse(d, &fmt).map_err(|_| {
                    "La data del primo contatto va indicata come AAAA-MM-GG.".to_string()
                })?;
                c.planned_contact = Some(date);
            }
        }
        State::NonDiCompetenza => {
            let t = get("target");
            if !targets.iter().any(|x| x.slug == t) {
                return Err(
                    "Scegliere dall'elenco l'ufficio o il servizio a cui è inviata.".into(),
                );
            }
            c.target = Some(t.to_string());
        }
        State::NonRintracciabile => {}
        State::Chiusa => {
            let o = Outcome::parse(get("outcome")).ok_or("Scegliere l'esito dall'elenco.")?;
            let s = get("service");
            if !s.is_empty() {
                if o != Outcome::ServizioAttivato || !services.iter().any(|x| x.slug == s) {
                    return Err(
                        "Il servizio si indica solo con l'esito «Servizio attivato», scegliendolo dall'elenco."
                            .into(),
                    );
                }
                c.target = Some(s.to_string());
            }
            c.outcome = Some(o);
        }
    }
    Ok(c)
}

async fn change(
    AxState(st): AxState<Arc<StaffState>>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let (hash, r) = st.open(&token)?;
    if !handlers::is_form(&headers) {
        return Err(AppError::NotAForm(Site::Staff));
    }
    let bytes = tokio::time::timeout(st.body_timeout, axum::body::to_bytes(body, 8 * 1024))
        .await
        .ok()
        .and_then(Result::ok)
        .ok_or(AppError::TooLarge(Site::Staff))?;
    let fields: Vec<(String, String)> = form_urlencoded::parse(&bytes).into_owned().collect();
    let csrf = fields
        .iter()
        .find(|(k, _)| k == "csrf")
        .map_or("", |(_, v)| v.as_str());
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    if handlers::cross_site(&headers) || !st.csrf.verify(&StaffState::binding(&hash), csrf, now) {
        tracing::warn!(reference = %r.reference, "staff site: CSRF check failed");
        return Err(AppError::Csrf(Site::Staff));
    }
    let change = match parse_change(&fields, &st.targets, &st.services) {
        Ok(c) => c,
        Err(msg) => return st.render(StatusCode::UNPROCESSABLE_ENTITY, &hash, &r, Some(&msg)),
    };
    let result = st.db().care_record(&r, &change);
    match result.map_err(|e| {
        tracing::error!(reference = %r.reference, "staff site: state NOT recorded");
        AppError::staff(e)
    })? {
        Recorded::Done => {
            tracing::info!(reference = %r.reference, state = %change.state, "staff: state recorded");
            Ok(Redirect::to(&format!("/presa-in-carico/{token}")).into_response())
        }
        Recorded::Conflict(current) => {
            let msg = format!(
                "La segnalazione è «{}»: da questo stato non si può passare a «{}». La pagina \
                 mostra lo stato attuale e i passaggi possibili.",
                current.map_or("In attesa di presa in carico", State::label),
                change.state.label()
            );
            st.render(StatusCode::CONFLICT, &hash, &r, Some(&msg))
        }
    }
}

/// Serves the staff site until `stop` turns true: TLS without client
/// certificates; handshakes admitted as on the operators' listener (their
/// own budget, in all and per address, and a deadline); at most
/// `max_connections` finished handshakes at once (more are closed at
/// once); the same header deadline; each request is tagged with the
/// client's address for the per-IP rate limit.
pub async fn serve(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    app: Router,
    admission: Arc<Admission>,
    max_connections: usize,
    handshake_timeout: Duration,
    stop: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(max_connections));
    loop {
        let (tcp, peer): (_, SocketAddr) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "staff site: accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(ticket) = admission.admit(peer.ip()) else {
            tracing::debug!("staff site: too many handshakes in progress: connection closed");
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let app = app.clone();
        let slots = slots.clone();
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(handshake_timeout, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => s,
                _ => return,
            };
            drop(ticket);
            let Ok(_permit) = slots.try_acquire_owned() else {
                tracing::warn!("staff site: too many connections");
                return;
            };
            let ip = peer.ip();
            let svc = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
                req.extensions_mut().insert(Peer(ip));
                app.clone().oneshot(req)
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(30))
                .serve_connection(TokioIo::new(tls), svc);
            tokio::pin!(conn);
            let _ = tokio::select! {
                r = conn.as_mut() => r,
                _ = async { stop.wait_for(|s| *s).await.map(|_| ()) } => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
        });
    }
}

/// Binds the staff listener (before the ready line is printed).
pub async fn bind(addr: SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (staff.listen)"))
}
