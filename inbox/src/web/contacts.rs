//! "Registra un contatto" (every operator) and "Statistiche" (desk
//! referents): the register of contacts and the meeting report in the
//! inbox. Contacts are non-identifying metadata from fixed lists; the
//! statistics are the report's numbers with small counts suppressed.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Extension;
use time::{Date, OffsetDateTime};

use super::contact_pages::{ContactPage, StatisticsPage, Values};
use super::error::AppError;
use super::handlers::{check_origin, read_urlencoded, within, Op, Page};
use super::{pages, AppState, Identity};
use crate::contact::{format_date, parse_date, FieldErrors, NewContact};
use crate::report::{Report, ReportError, Whose};
use crate::store::contacts::{Contact, ContactError};
use crate::store::db::Db;
use crate::store::Operator;

fn today() -> Date {
    OffsetDateTime::now_utc().date()
}

/// The query string as (name, value) pairs.
fn query(uri: &Uri) -> Vec<(String, String)> {
    form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

/// Runs `f` on the register's connection off the async threads (a commit
/// waits for the disk or the database). The outer error: the task failed.
async fn on_register<T: Send + 'static>(
    st: &Arc<AppState>,
    f: impl FnOnce(&mut Db) -> Result<T, ContactError> + Send + 'static,
) -> Result<Result<T, ContactError>, AppError> {
    let st = st.clone();
    tokio::task::spawn_blocking(move || {
        let mut db = st.register.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut db)
    })
    .await
    .map_err(|e| AppError::RegisterUnavailable(e.into()))
}

fn own_today(st: &AppState, op: &Operator) -> Result<Vec<Contact>, AppError> {
    st.with_db(|db| Ok(db.contacts_of_day(op.id, today())?))
        .map_err(AppError::RegisterUnavailable)
}

#[allow(clippy::too_many_arguments)]
fn show(
    st: &AppState,
    id: &Identity,
    op: &Operator,
    status: StatusCode,
    values: &Values,
    errors: &FieldErrors,
    editing: Option<i64>,
    notice: Option<&str>,
) -> Result<Response, AppError> {
    let list = if editing.is_some() {
        Vec::new()
    } else {
        own_today(st, op)?
    };
    let csrf = st
        .csrf
        .issue(&id.cert_sha256, OffsetDateTime::now_utc().unix_timestamp());
    let page = ContactPage::new(&st.opts, values, errors, &csrf, op, editing, notice, &list);
    Ok((status, Html(pages::render(&page))).into_response())
}

/// GET /contatti: an empty form with today's date, and today's contacts.
pub async fn page(
    State(st): State<Arc<AppState>>,
    Extension(id): Extension<Identity>,
    Op(op): Op,
    uri: Uri,
) -> Page {
    let notice = query(&uri)
        .into_iter()
        .find(|(k, _)| k == "fatto")
        .and_then(|(_, v)| match v.as_str() {
            "registrato" => Some("Contatto registrato."),
            "corretto" => Some("Correzione salvata."),
            "eliminato" => Some("Contatto eliminato."),
            _ => None,
        });
    let values = Values(vec![("day".into(), format_date(today()))]);
    show(
        &st,
        &id,
        &op,
        StatusCode::OK,
        &values,
        &FieldErrors::new(),
        None,
        notice,
    )
    .map_err(|e| e.by(&op))
}

/// The posted fields, after the rate limit and the size, time, origin and
/// CSRF checks.
async fn posted(
    st: &AppState,
    id: &Identity,
    op: &Operator,
    headers: &HeaderMap,
    body: Body,
) -> Result<Values, AppError> {
    within(&st.contact_limiter, op)?;
    let bytes = read_urlencoded(st, op, headers, body).await?;
    let values = Values(form_urlencoded::parse(&bytes).into_owned().collect());
    check_origin(st, id, op, headers, values.get("csrf"))?;
    Ok(values)
}

/// A reference the desk never sent is the operator's mistake: shown next
/// to the field, nothing stored.
fn referral_error(e: ContactError) -> Result<FieldErrors, AppError> {
    match e {
        ContactError::UnknownReferral(r) => Ok(FieldErrors::from([(
            "referral_reference",
            format!("La segnalazione {r} non risulta inviata da questo sportello."),
        )])),
        e => Err(AppError::RegisterUnavailable(e.into())),
    }
}

/// POST /contatti: records a new contact.
pub async fn create(
    State(st): State<Arc<AppState>>,
    Extension(id): Extension<Identity>,
    Op(op): Op,
    headers: HeaderMap,
    body: Body,
) -> Page {
    async {
        let values = posted(&st, &id, &op, &headers, body).await?;
        let fields = values.0.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        let errors = match NewContact::from_fields(fields, &st.contact_lists, today()) {
            Ok(c) => {
                let operator = op.id;
                match on_register(&st, move |db| db.insert_contact(operator, &c)).await? {
                    Ok(n) => {
                        tracing::info!(operator = op.id, contact = n, "contact recorded");
                        return Ok(Redirect::to("/contatti?fatto=registrato").into_response());
                    }
                    Err(e) => referral_error(e)?,
                }
            }
            Err(errors) => errors,
        };
        show(
            &st,
            &id,
            &op,
            StatusCode::UNPROCESSABLE_ENTITY,
            &values,
            &errors,
            None,
            None,
        )
    }
    .await
    .map_err(|e: AppError| e.by(&op))
}

/// The operator's own contact of today, or the 404 page.
fn own_contact(st: &AppState, op: &Operator, contact: i64) -> Result<Contact, AppError> {
    own_today(st, op)?
        .into_iter()
        .find(|c| c.id == contact)
        .ok_or(AppError::ContactNotFound)
}

fn contact_id(
    p: Result<Path<i64>, axum::extract::rejection::PathRejection>,
) -> Result<i64, AppError> {
    p.map(|Path(n)| n).map_err(|_| AppError::ContactNotFound)
}

/// GET /contatti/ID: the form filled with one of today's own contacts.
pub async fn edit(
    State(st): State<Arc<AppState>>,
    Extension(id): Extension<Identity>,
    Op(op): Op,
    contact: Result<Path<i64>, axum::extract::rejection::PathRejection>,
) -> Page {
    (|| {
        let n = contact_id(contact)?;
        let c = own_contact(&st, &op, n)?;
        show(
            &st,
            &id,
            &op,
            StatusCode::OK,
            &Values::of(&c.contact),
            &FieldErrors::new(),
            Some(n),
            None,
        )
    })()
    .map_err(|e| e.by(&op))
}

/// POST /contatti/ID: saves a correction, or deletes (`azione=elimina`).
pub async fn change(
    State(st): State<Arc<AppState>>,
    Extension(id): Extension<Identity>,
    Op(op): Op,
    contact: Result<Path<i64>, axum::extract::rejection::PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Page {
    async {
        let n = contact_id(contact)?;
        let values = posted(&st, &id, &op, &headers, body).await?;
        let operator = op.id;
        let day = today();
        if values.get("azione") == "elimina" {
            let done = on_register(&st, move |db| db.delete_contact(operator, n, day))
                .await?
                .map_err(|e| AppError::RegisterUnavailable(e.into()))?;
            if !done {
                return Err(AppError::ContactNotFound);
            }
            tracing::info!(operator = op.id, contact = n, "contact deleted");
            return Ok(Redirect::to("/contatti?fatto=eliminato").into_response());
        }
        let fields = values.0.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        let errors = match NewContact::from_fields(fields, &st.contact_lists, day) {
            Ok(c) => {
                match on_register(&st, move |db| db.update_contact(operator, n, &c, day)).await? {
                    Ok(true) => {
                        tracing::info!(operator = op.id, contact = n, "contact corrected");
                        return Ok(Redirect::to("/contatti?fatto=corretto").into_response());
                    }
                    Ok(false) => return Err(AppError::ContactNotFound),
                    Err(e) => referral_error(e)?,
                }
            }
            Err(errors) => errors,
        };
        show(
            &st,
            &id,
            &op,
            StatusCode::UNPROCESSABLE_ENTITY,
            &values,
            &errors,
            Some(n),
            None,
        )
    }
    .await
    .map_err(|e: AppError| e.by(&op))
}

/// Italian for what a referent asked wrongly of the statistics.
fn period_error(e: &ReportError) -> Option<String> {
    Some(match e {
        ReportError::Reversed { .. } => {
            "La data «Dal» è successiva alla data «Al»: invertirle.".to_string()
        }
        ReportError::TooLong { .. } => format!(
            "Il periodo può essere al massimo di {} giorni.",
            crate::report::MAX_DAYS
        ),
        ReportError::UnknownDesk(d) => format!("Lo sportello «{d}» non esiste."),
        _ => return None,
    })
}

/// GET /statistiche?dal=&al=&sportello=: the meeting report for desk
/// referents, by default the last twelve months of every desk.
pub async fn statistics(State(st): State<Arc<AppState>>, Op(op): Op, uri: Uri) -> Page {
    (|| {
        if !op.is_referent() {
            return Err(AppError::NotReferent);
        }
        let q = query(&uri);
        let get = |k: &str| {
            q.iter()
                .find(|(n, _)| n == k)
                .map_or("", |(_, v)| v.trim())
                .to_string()
        };
        let to_default = today();
        let from_default = to_default - time::Duration::days(364);
        let (from_s, to_s) = (get("dal"), get("al"));
        let from = if from_s.is_empty() {
            Some(from_default)
        } else {
            parse_date(&from_s)
        };
        let to = if to_s.is_empty() {
            Some(to_default)
        } else {
            parse_date(&to_s)
        };
        let desk = Some(get("sportello")).filter(|d| !d.is_empty() && d != "tutti");
        // Several municipalities: one at a time, among those of the
        // referent's desk (default the first), never all together.
        let mine = st.municipalities_of(&op.desk);
        let asked = get("comune");
        let chosen = mine
            .iter()
            .find(|m| m.slug == asked)
            .or_else(|| mine.first().filter(|_| asked.is_empty()))
            .cloned();
        let whose = chosen
            .clone()
            .and_then(|m| Whose::among(&st.municipalities, m));
        let several = st.municipalities.len() > 1;
        let municipalities: Vec<(String, String, bool)> = if several {
            mine.iter()
                .map(|m| {
                    let sel = chosen.as_ref().is_some_and(|c| c.slug == m.slug);
                    (m.slug.clone(), m.name.clone(), sel)
                })
                .collect()
        } else {
            Vec::new()
        };
        let choose = several && whose.is_none();
        let period = match (from, to) {
            (Some(from), Some(to)) if !choose => Some((from, to)),
            _ => None,
        };
        // One read of the metadata for the desks and the report (on
        // PostgreSQL one snapshot copied into memory).
        let desks_from_db = whose.is_none() && !several;
        let (listed, built) = if desks_from_db || period.is_some() {
            st.with_db(|db| {
                db.with_metadata(|c| {
                    let listed = if desks_from_db {
                        crate::report::desks(c)?
                    } else {
                        Vec::new()
                    };
                    let built = period.map(|(from, to)| {
                        Report::build_for(
                            c,
                            from,
                            to,
                            desk.as_deref(),
                            whose.as_ref(),
                            st.min_cell,
                            &st.report_names,
                        )
                    });
                    Ok((listed, built))
                })
            })
            .map_err(AppError::ReadUnavailable)?
        } else {
            (Vec::new(), None)
        };
        let known = match &whose {
            Some(w) => w.desks.clone(),
            None => listed,
        };
        let mut error = None;
        let mut report = None;
        match built {
            _ if choose => error = Some("Scegliere il comune dall'elenco.".to_string()),
            Some(Ok(r)) => {
                report = Some(
                    r.html_section_in_page()
                        .map_err(|e| AppError::ReadUnavailable(e.into()))?,
                )
            }
            Some(Err(e)) => match period_error(&e) {
                Some(msg) => error = Some(msg),
                None => return Err(AppError::ReadUnavailable(e.into())),
            },
            None => error = Some("Indicare le date come AAAA-MM-GG.".to_string()),
        }
        let (from_v, to_v) = (
            from.map_or(from_s.clone(), format_date),
            to.map_or(to_s.clone(), format_date),
        );
        let mut desks = vec![(
            "tutti".to_string(),
            "Tutti gli sportelli".to_string(),
            desk.is_none(),
        )];
        desks.extend(known.into_iter().map(|d| {
            let sel = desk.as_deref() == Some(d.as_str());
            (d.clone(), d, sel)
        }));
        let status = if error.is_some() {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        };
        let page = StatisticsPage {
            operator: Some(&op),
            from: &from_v,
            to: &to_v,
            desks,
            municipalities,
            error,
            min_cell: st.min_cell,
            report,
        };
        Ok((status, Html(pages::render(&page))).into_response())
    })()
    .map_err(|e| e.by(&op))
}

/// The report's stylesheet (screen and A4 print), for the statistics page.
pub async fn report_css() -> Response {
    (
        [
            (axum::http::header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (axum::http::header::CACHE_CONTROL, "max-age=3600"),
        ],
        Report::css(),
    )
        .into_response()
}
