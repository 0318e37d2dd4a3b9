//! The HTTPS application: state, routes, security headers and the server loop.

mod admission;
pub mod contact_pages;
mod contacts;
pub mod csrf;
pub mod error;
mod handlers;
pub mod keys;
pub mod pages;
pub mod ratelimit;
mod replica;
mod server;
pub mod staff;
pub mod staff_pages;

use std::sync::{Arc, Mutex};

use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use crate::form::Options;
use crate::store::{Operator, Writer};

pub use server::serve;

/// Who is on this TLS connection; set once per connection from the
/// certificate, read by every handler.
#[derive(Clone, Debug)]
pub struct Identity {
    pub cert_sha256: String,
    pub operator: Option<Arc<Operator>>,
    /// The certificate has expired since the handshake (a resumed TLS
    /// session is not verified again): refused like a missing operator.
    pub expired: bool,
}

pub struct AppState {
    pub opts: Options,
    /// Each municipality's staff keys, by slug, kept equal to the store's.
    pub recipients: std::sync::Arc<keys::StaffKeys>,
    /// Every municipality (the implicit one included), for the form's choice.
    pub municipalities: Vec<crate::config::Municipality>,
    pub writer: Writer,
    /// Reads only (on SQLite, WAL lets them run beside the writer).
    pub reader: crate::store::db::Readers,
    pub csrf: csrf::Csrf,
    pub limiter: ratelimit::Limiter,
    /// (year, last sequence number handed out).
    pub sequence: Mutex<(i32, u64)>,
    /// The time a client has to send a whole request body.
    pub body_timeout: std::time::Duration,
    /// The staff site, whose link each referral carries.
    pub staff: Option<crate::config::StaffSite>,
    /// The register of contacts: its own connection for its (small)
    /// writes, on either store.
    pub register: Mutex<crate::store::db::Db>,
    /// Contacts per operator: their own budget, three times the referrals'
    /// (recording a contact takes seconds, a referral minutes).
    pub contact_limiter: ratelimit::Limiter,
    /// What a contact is checked against.
    pub contact_lists: crate::contact::Lists,
    /// Labels for the statistics, and the smallest count they show.
    pub report_names: crate::report::Names,
    pub min_cell: u32,
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(handlers::form_page))
        .route(
            "/segnalazioni",
            get(handlers::my_referrals).post(handlers::submit),
        )
        .route("/segnalazioni/{reference}", get(handlers::confirmation))
        .route("/contatti", get(contacts::page).post(contacts::create))
        .route("/contatti/{id}", get(contacts::edit).post(contacts::change))
        .route("/statistiche", get(contacts::statistics))
        .route("/static/report.css", get(contacts::report_css))
        .route("/static/style.css", get(handlers::stylesheet))
        .fallback(handlers::not_found)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .layer(axum::middleware::from_fn(handlers::require_host))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

/// Headers on every response, errors included.
pub(crate) async fn security_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, k: header::HeaderName, v: &'static str| {
        h.insert(k, HeaderValue::from_static(v));
    };
    set(
        h,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'",
    );
    set(
        h,
        header::STRICT_TRANSPORT_SECURITY,
        "max-age=31536000; includeSubDomains",
    );
    set(h, header::REFERRER_POLICY, "no-referrer");
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(
        h,
        header::HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        // Forms carry tokens and typed values: keep them out of caches.
        set(h, header::CACHE_CONTROL, "no-store");
    }
    res
}
