//! Every refusal of both sites as one type, rendered in one place: the
//! status, the Italian page that says what happened and what to do next,
//! and the headers that go with it. Handlers return `Result<_, AppError>`
//! and use `?`; nothing about a request's content reaches these pages.

use std::sync::Arc;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use super::{pages, staff_pages};
use crate::store::Operator;

/// Which site's layout a page uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Site {
    /// The operators' site (mutual TLS).
    Desk,
    /// The staff's site (the link in the encrypted mail).
    Staff,
}

#[derive(Debug)]
pub enum AppError {
    /// The operator's certificate expired (the handshake may have been resumed).
    CertificateExpired,
    /// A certificate of the CA that is not, or no longer, an operator's.
    UnknownCertificate,
    /// Too many requests: wait this many seconds.
    RateLimited {
        site: Site,
        wait: u64,
    },
    /// The form is over the body limit.
    TooLarge(Site),
    /// The body arrived too slowly; the connection is closed.
    TooSlow,
    /// Not `application/x-www-form-urlencoded`.
    NotAForm(Site),
    /// The body is not UTF-8.
    NotUtf8,
    /// The body is not a form we know.
    Malformed,
    /// The CSRF token or the fetch metadata refused the post.
    Csrf(Site),
    /// The form's idempotency key is missing or malformed.
    MissingKey,
    /// The reference in the address cannot be read.
    BadReference,
    /// No referral with this reference among the operator's.
    ReferralNotFound,
    /// No such page on the operators' site.
    PageNotFound,
    /// Not one of the operator's own contacts of today.
    ContactNotFound,
    /// The statistics are for desk referents.
    NotReferent,
    /// A staff link that opens nothing (unknown, altered, expired or purged):
    /// one page for all, saying nothing about which references exist.
    LinkNotValid,
    /// No `Host` header: not a browser.
    MissingHost(Site),
    MethodNotAllowed,
    /// The store or the random generator failed: nothing was recorded.
    Unavailable(Site, anyhow::Error),
    /// The register of contacts failed: the contact was not recorded.
    RegisterUnavailable(anyhow::Error),
    /// A page that only reads (a list, the statistics) cannot be read now.
    ReadUnavailable(anyhow::Error),
}

impl AppError {
    /// A failure of the store on the operators' site.
    pub fn desk(e: anyhow::Error) -> AppError {
        AppError::Unavailable(Site::Desk, e)
    }

    /// A failure of the store on the staff's site.
    pub fn staff(e: anyhow::Error) -> AppError {
        AppError::Unavailable(Site::Staff, e)
    }

    pub fn status(&self) -> StatusCode {
        use AppError::*;
        match self {
            CertificateExpired | UnknownCertificate | Csrf(_) | NotReferent => {
                StatusCode::FORBIDDEN
            }
            RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            TooSlow => StatusCode::REQUEST_TIMEOUT,
            NotAForm(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            NotUtf8 | Malformed | MissingKey | BadReference | MissingHost(_) => {
                StatusCode::BAD_REQUEST
            }
            ReferralNotFound | PageNotFound | ContactNotFound | LinkNotValid => {
                StatusCode::NOT_FOUND
            }
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Unavailable(..) | RegisterUnavailable(_) | ReadUnavailable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }

    fn site(&self) -> Site {
        use AppError::*;
        match self {
            RateLimited { site, .. }
            | TooLarge(site)
            | NotAForm(site)
            | Csrf(site)
            | MissingHost(site)
            | Unavailable(site, _) => *site,
            LinkNotValid => Site::Staff,
            _ => Site::Desk,
        }
    }

    /// Title and message of the page, in Italian.
    fn text(&self) -> (&'static str, String) {
        use AppError::*;
        let s = |t: &'static str, m: &str| (t, m.to_string());
        match self {
            CertificateExpired => s(
                "Certificato scaduto",
                "Il certificato di questo operatore è scaduto. Chiedere un nuovo certificato \
                 all'amministratore dello sportello.",
            ),
            UnknownCertificate => s(
                "Certificato non riconosciuto",
                "Il certificato presentato dal browser non corrisponde a nessun operatore \
                 attivo. Rivolgersi all'amministratore dello sportello.",
            ),
            RateLimited {
                site: Site::Desk,
                wait,
            } => (
                "Troppi invii ravvicinati",
                format!(
                    "Sono stati inviati molti moduli (segnalazioni o contatti) in poco tempo. \
                     Attendere {wait} secondi e riprovare con il pulsante Indietro: i dati \
                     digitati restano nel modulo."
                ),
            ),
            RateLimited {
                site: Site::Staff,
                wait,
            } => (
                "Troppe richieste",
                format!("Troppe richieste ravvicinate. Attendere {wait} secondi e riprovare."),
            ),
            TooLarge(Site::Desk) => s(
                "Modulo troppo grande",
                "Il modulo inviato supera la dimensione massima (64 KiB). Accorciare la \
                 descrizione e riprovare.",
            ),
            TooLarge(Site::Staff) => s(
                "Modulo non valido",
                "Il modulo è troppo grande o è arrivato troppo lentamente.",
            ),
            TooSlow => s(
                "Invio interrotto",
                "Il modulo è arrivato troppo lentamente e l'invio è stato interrotto: la \
                 segnalazione NON è stata registrata. Controllare la connessione e riprovare \
                 con il pulsante Indietro.",
            ),
            NotAForm(Site::Desk) => s(
                "Formato non accettato",
                "Inviare la segnalazione dal modulo della pagina principale.",
            ),
            NotAForm(Site::Staff) => s("Formato non accettato", "Usare i moduli di questa pagina."),
            NotUtf8 => s(
                "Modulo non valido",
                "Il modulo contiene caratteri non validi (codifica diversa da UTF-8): nulla è \
                 stato registrato. Riaprire il modulo da questo sito e reinserire i dati.",
            ),
            Malformed => s(
                "Modulo non valido",
                "Il modulo ricevuto non è nel formato atteso. Ricaricare la pagina e riprovare.",
            ),
            Csrf(Site::Desk) => s(
                "Modulo scaduto o non valido",
                "Il modulo è scaduto (vale 12 ore) oppure non proviene da questo sito. Aprire di \
                 nuovo la pagina del modulo e reinserire i dati.",
            ),
            Csrf(Site::Staff) => s(
                "Modulo scaduto o non valido",
                "Il modulo è scaduto oppure non proviene da questa pagina. Riaprire il \
                 collegamento del messaggio e ripetere l'operazione.",
            ),
            MissingKey => s(
                "Modulo non valido",
                "Manca il codice del modulo. Ricaricare la pagina e riprovare.",
            ),
            BadReference => s(
                "Indirizzo non valido",
                "Il numero di riferimento nell'indirizzo non è leggibile.",
            ),
            ReferralNotFound => s(
                "Segnalazione non trovata",
                "Nessuna segnalazione con questo riferimento tra quelle inviate da questo \
                 operatore.",
            ),
            PageNotFound => s("Pagina non trovata", "L'indirizzo richiesto non esiste."),
            ContactNotFound => s(
                "Contatto non trovato",
                "Si possono correggere o eliminare solo i propri contatti registrati oggi. \
                 Tornare a «Registra un contatto».",
            ),
            NotReferent => s(
                "Pagina riservata ai referenti",
                "Le statistiche sono per il referente dello sportello. Chiedere \
                 all'amministratore se si è il referente.",
            ),
            LinkNotValid => s(
                "Collegamento non valido",
                "Questo collegamento non apre nessuna segnalazione: è incompleto, è stato \
                 modificato oppure è scaduto. Usare il collegamento contenuto nel messaggio \
                 cifrato ricevuto; se è scaduto, rivolgersi allo sportello che ha inviato la \
                 segnalazione citando il numero di riferimento.",
            ),
            MissingHost(Site::Desk) => s(
                "Richiesta non valida",
                "La richiesta non indica l'indirizzo del sito (intestazione Host). Aprire la \
                 pagina dal browser.",
            ),
            MissingHost(Site::Staff) => s(
                "Richiesta non valida",
                "La richiesta non indica l'indirizzo del sito. Aprire il collegamento dal \
                 programma di posta.",
            ),
            MethodNotAllowed => s(
                "Operazione non consentita",
                "Questa pagina non accetta questo tipo di richiesta. Usare i collegamenti del \
                 sito.",
            ),
            Unavailable(Site::Desk, _) => s(
                "Servizio momentaneamente non disponibile",
                "La segnalazione NON è stata registrata. Riprovare tra qualche minuto con lo \
                 stesso modulo (il pulsante Indietro del browser lo ripropone): non verrà \
                 duplicata.",
            ),
            Unavailable(Site::Staff, _) => s(
                "Servizio momentaneamente non disponibile",
                "Lo stato NON è stato registrato. Riprovare tra qualche minuto.",
            ),
            ReadUnavailable(_) => s(
                "Servizio momentaneamente non disponibile",
                "In questo momento i dati non si possono leggere; nulla è stato modificato. \
                 Riprovare tra qualche minuto.",
            ),
            RegisterUnavailable(_) => s(
                "Servizio momentaneamente non disponibile",
                "Il contatto NON è stato registrato né modificato. Riprovare tra qualche minuto \
                 con il pulsante Indietro del browser: i dati scelti restano nel modulo.",
            ),
        }
    }

    /// The page, with the operator's name in the header when known.
    pub fn render(self, operator: Option<&Operator>) -> Response {
        if let AppError::Unavailable(_, e)
        | AppError::RegisterUnavailable(e)
        | AppError::ReadUnavailable(e) = &self
        {
            // The error chain names files and SQL, never field values.
            tracing::error!(error = %format!("{e:#}"), "request failed: nothing recorded");
        }
        let (title, message) = self.text();
        let html = match self.site() {
            Site::Desk => pages::render(&pages::Problem {
                operator,
                title,
                message: &message,
            }),
            Site::Staff => pages::render(&staff_pages::Problem {
                title,
                message: &message,
            }),
        };
        let mut r = (self.status(), Html(html)).into_response();
        match self {
            AppError::RateLimited { wait, .. } => {
                if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
                    r.headers_mut().insert(header::RETRY_AFTER, v);
                }
            }
            AppError::TooSlow => {
                r.headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            _ => {}
        }
        r
    }

    /// Attaches the operator, so the page's header names them.
    pub fn by(self, operator: &Arc<Operator>) -> WithOperator {
        WithOperator(self, Some(operator.clone()))
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        self.render(None)
    }
}

/// An [`AppError`] shown to a known operator.
pub struct WithOperator(pub AppError, pub Option<Arc<Operator>>);

impl IntoResponse for WithOperator {
    fn into_response(self) -> Response {
        self.0.render(self.1.as_deref())
    }
}

impl From<AppError> for WithOperator {
    fn from(e: AppError) -> Self {
        WithOperator(e, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_has_a_page_and_a_client_or_unavailable_status() {
        let all = [
            AppError::CertificateExpired,
            AppError::UnknownCertificate,
            AppError::RateLimited {
                site: Site::Staff,
                wait: 3,
            },
            AppError::TooLarge(Site::Desk),
            AppError::TooSlow,
            AppError::NotAForm(Site::Staff),
            AppError::NotUtf8,
            AppError::Malformed,
            AppError::Csrf(Site::Desk),
            AppError::MissingKey,
            AppError::BadReference,
            AppError::ReferralNotFound,
            AppError::PageNotFound,
            AppError::ContactNotFound,
            AppError::NotReferent,
            AppError::LinkNotValid,
            AppError::MissingHost(Site::Staff),
            AppError::MethodNotAllowed,
            AppError::staff(anyhow::anyhow!("disk full")),
            AppError::RegisterUnavailable(anyhow::anyhow!("disk full")),
            AppError::ReadUnavailable(anyhow::anyhow!("disk full")),
        ];
        for e in all {
            let status = e.status();
            assert!(
                status.is_client_error() || status == StatusCode::SERVICE_UNAVAILABLE,
                "{e:?}"
            );
            let (title, message) = e.text();
            assert!(!title.is_empty() && !message.is_empty());
            let r = e.into_response();
            assert_eq!(r.status(), status);
        }
    }
}
