//! HTML pages in Italian. Plain server-rendered HTML: no script, no inline
//! style (the CSP forbids both), usable with a screen reader and at 200% zoom.

use std::fmt::Write;

use crate::config::Choice;
use crate::form::{self, Errors, Input, Options, CALL_TIMES, URGENCIES};
use crate::store::{Operator, ReferralSummary};

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

pub fn layout(title: &str, operator: Option<&Operator>, body: &str) -> String {
    let who = operator.map_or(String::new(), |o| {
        format!(
            r#"<p class="who">{} &middot; sportello {}</p>"#,
            esc(&o.name),
            esc(&o.desk)
        )
    });
    format!(
        r##"<!doctype html>
<html lang="it">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} &middot; Sportello Sociale</title>
<link rel="stylesheet" href="/static/style.css">
</head>
<body>
<a class="skip" href="#main">Vai al contenuto</a>
<header>
<p class="brand"><a href="/">Sportello Sociale &middot; Segnalazioni</a></p>
{who}
<nav aria-label="Principale"><ul>
<li><a href="/">Nuova segnalazione</a></li>
<li><a href="/segnalazioni">Le mie segnalazioni</a></li>
</ul></nav>
</header>
<main id="main">
{body}
</main>
</body>
</html>
"##,
        title = esc(title),
    )
}

/// A page for a refused request: says what happened and what to do.
pub fn problem(title: &str, message: &str, operator: Option<&Operator>) -> String {
    layout(
        title,
        operator,
        &format!(
            r#"<h1>{}</h1><p>{}</p><p><a href="/">Torna al modulo</a></p>"#,
            esc(title),
            esc(message)
        ),
    )
}

fn error_id(name: &str) -> String {
    format!("{name}-error")
}

/// `aria-describedby` and `aria-invalid` for a field, plus its message.
fn field_error(errors: &Errors, name: &str) -> (String, String) {
    match errors.get(name) {
        Some(msg) => (
            format!(
                r#" aria-invalid="true" aria-describedby="{}""#,
                error_id(name)
            ),
            format!(
                r#"<p class="error" id="{}"><span class="visually-hidden">Errore: </span>{}</p>"#,
                error_id(name),
                esc(msg)
            ),
        ),
        None => (String::new(), String::new()),
    }
}

fn text_input(
    out: &mut String,
    input: &Input,
    errors: &Errors,
    name: &str,
    label: &str,
    kind: &str,
    extra: &str,
) {
    let (aria, err) = field_error(errors, name);
    let max = form::FIELDS
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(0, |(_, m)| *m);
    let _ = write!(
        out,
        r#"<div class="field"><label for="{name}">{label}</label>{err}<input type="{kind}" id="{name}" name="{name}" maxlength="{max}" value="{value}"{aria}{extra}></div>"#,
        value = esc(input.get(name)),
    );
}

fn select(
    out: &mut String,
    input: &Input,
    errors: &Errors,
    name: &str,
    label: &str,
    choices: &[(&str, &str)],
) {
    let (aria, err) = field_error(errors, name);
    let _ = write!(
        out,
        r#"<div class="field"><label for="{name}">{label}</label>{err}<select id="{name}" name="{name}" required{aria}><option value="">Scegliere&hellip;</option>"#
    );
    for (slug, text) in choices {
        let sel = if input.get(name) == *slug {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            out,
            r#"<option value="{}"{sel}>{}</option>"#,
            esc(slug),
            esc(text)
        );
    }
    out.push_str("</select></div>");
}

fn pairs(choices: &[Choice]) -> Vec<(&str, &str)> {
    choices
        .iter()
        .map(|c| (c.slug.as_str(), c.label.as_str()))
        .collect()
}

fn checkbox(out: &mut String, input: &Input, errors: &Errors, name: &str, label: &str) {
    let (aria, err) = field_error(errors, name);
    let checked = if input.get(name) == "yes" {
        " checked"
    } else {
        ""
    };
    let _ = write!(
        out,
        r#"<div class="field">{err}<div class="check"><input type="checkbox" id="{name}" name="{name}" value="yes" required{checked}{aria}><label for="{name}">{label}</label></div></div>"#
    );
}

const FIELD_LABELS: &[(&str, &str)] = &[
    ("first_name", "Nome"),
    ("last_name", "Cognome"),
    ("birth_year", "Anno di nascita"),
    ("phone", "Telefono"),
    ("email", "Email"),
    ("city_area", "Zona della città"),
    ("call_time", "Quando telefonare"),
    ("need_area", "Area del bisogno"),
    ("urgency", "Urgenza"),
    ("description", "Descrizione"),
    ("services", "Servizi suggeriti"),
    ("privacy_notice", "Informativa"),
    ("consent", "Consenso"),
];

/// The referral form, empty or re-shown with the typed values and errors.
pub fn referral_form(
    opts: &Options,
    input: &Input,
    errors: &Errors,
    csrf: &str,
    idempotency_key: &str,
    operator: &Operator,
    notice: Option<&str>,
) -> String {
    let mut b = String::with_capacity(16 * 1024);
    b.push_str("<h1>Nuova segnalazione</h1>");
    if let Some(n) = notice {
        let _ = write!(
            b,
            r#"<div class="error-summary" role="alert"><p>{}</p></div>"#,
            esc(n)
        );
    }
    if !errors.is_empty() {
        b.push_str(r#"<div class="error-summary" role="alert" aria-labelledby="error-summary-title"><h2 id="error-summary-title">Ci sono dei problemi nel modulo</h2><ul>"#);
        for (name, label) in FIELD_LABELS {
            if let Some(msg) = errors.get(name) {
                let target = if *name == "services" {
                    "services-legend".to_string()
                } else {
                    name.to_string()
                };
                let _ = write!(
                    b,
                    r##"<li><a href="#{target}">{}: {}</a></li>"##,
                    esc(label),
                    esc(msg)
                );
            }
        }
        b.push_str("</ul></div>");
    }
    b.push_str(r#"<p>Tutti i campi sono obbligatori, salvo quelli indicati come facoltativi. Operatore e sportello sono presi dal certificato.</p>"#);
    b.push_str(r#"<form method="post" action="/segnalazioni" accept-charset="utf-8" novalidate>"#);
    let _ = write!(
        b,
        r#"<input type="hidden" name="csrf" value="{}"><input type="hidden" name="idempotency_key" value="{}">"#,
        esc(csrf),
        esc(idempotency_key)
    );

    b.push_str("<fieldset><legend>La persona</legend>");
    text_input(
        &mut b,
        input,
        errors,
        "first_name",
        "Nome",
        "text",
        r#" autocomplete="off" required"#,
    );
    text_input(
        &mut b,
        input,
        errors,
        "last_name",
        "Cognome",
        "text",
        r#" autocomplete="off" required"#,
    );
    text_input(
        &mut b,
        input,
        errors,
        "birth_year",
        "Anno di nascita (es. 1942)",
        "text",
        r#" inputmode="numeric" pattern="[0-9]{4}" autocomplete="off" required"#,
    );
    text_input(
        &mut b,
        input,
        errors,
        "phone",
        "Telefono",
        "tel",
        r#" autocomplete="off" required"#,
    );
    text_input(
        &mut b,
        input,
        errors,
        "email",
        "Email (facoltativa)",
        "email",
        r#" autocomplete="off""#,
    );
    select(
        &mut b,
        input,
        errors,
        "city_area",
        "Zona della città",
        &pairs(&opts.city_areas),
    );
    select(
        &mut b,
        input,
        errors,
        "call_time",
        "Quando è meglio telefonare",
        CALL_TIMES,
    );
    b.push_str("</fieldset>");

    b.push_str("<fieldset><legend>Il bisogno</legend>");
    select(
        &mut b,
        input,
        errors,
        "need_area",
        "Area del bisogno",
        &pairs(&opts.need_areas),
    );
    {
        let (aria, err) = field_error(errors, "urgency");
        let _ = write!(
            b,
            r#"<fieldset class="radios"{aria}><legend id="urgency">Urgenza</legend>{err}"#
        );
        for (slug, text) in URGENCIES {
            let checked = if input.get("urgency") == *slug {
                " checked"
            } else {
                ""
            };
            let _ = write!(
                b,
                r#"<div class="check"><input type="radio" id="urgency-{slug}" name="urgency" value="{slug}"{checked}><label for="urgency-{slug}">{text}</label></div>"#
            );
        }
        b.push_str("</fieldset>");
    }
    {
        let (aria, err) = field_error(errors, "description");
        let _ = write!(
            b,
            r#"<div class="field"><label for="description">Descrizione della situazione</label><p class="hint" id="description-hint">Al massimo {max} caratteri. Solo ciò che serve al Comune per richiamare: niente codice fiscale, niente diagnosi.</p>{err}<textarea id="description" name="description" rows="8" maxlength="{max}" required aria-describedby="description-hint{extra}"{invalid}>{value}</textarea></div>"#,
            max = form::MAX_DESCRIPTION,
            extra = if aria.is_empty() {
                ""
            } else {
                " description-error"
            },
            invalid = if aria.is_empty() {
                ""
            } else {
                r#" aria-invalid="true""#
            },
            value = esc(input.get("description")),
        );
    }
    if !opts.services.is_empty() {
        let (aria, err) = field_error(errors, "services");
        let _ = write!(
            b,
            r#"<fieldset class="services"{aria}><legend id="services-legend">Servizi suggeriti (facoltativi)</legend>{err}"#
        );
        let mut categories: Vec<&str> = opts.services.iter().map(|s| s.category.as_str()).collect();
        categories.sort_unstable();
        categories.dedup();
        for cat in categories {
            let _ = write!(
                b,
                "<details><summary>{}</summary>",
                esc(&category_title(cat))
            );
            for (i, s) in opts
                .services
                .iter()
                .enumerate()
                .filter(|(_, s)| s.category == cat)
            {
                let checked = if input.services.contains(&s.slug) {
                    " checked"
                } else {
                    ""
                };
                let _ = write!(
                    b,
                    r#"<div class="check"><input type="checkbox" id="service-{i}" name="services" value="{}"{checked}><label for="service-{i}">{}</label></div>"#,
                    esc(&s.slug),
                    esc(&s.title)
                );
            }
            b.push_str("</details>");
        }
        b.push_str("</fieldset>");
    }
    b.push_str("</fieldset>");

    b.push_str("<fieldset><legend>Consenso</legend>");
    checkbox(
        &mut b,
        input,
        errors,
        "privacy_notice",
        "Ho consegnato alla persona l'informativa sulla privacy",
    );
    checkbox(
        &mut b,
        input,
        errors,
        "consent",
        "La persona acconsente a condividere questi dati con il Comune",
    );
    b.push_str("</fieldset>");
    b.push_str(r#"<button type="submit">Invia la segnalazione</button></form>"#);
    layout(
        if errors.is_empty() {
            "Nuova segnalazione"
        } else {
            "Errore: nuova segnalazione"
        },
        Some(operator),
        &b,
    )
}

/// "salute-benessere-assistenza" -> "Salute benessere assistenza".
fn category_title(slug: &str) -> String {
    if slug.is_empty() {
        return "Altri servizi".into();
    }
    let words = slug.replace('-', " ");
    let mut chars = words.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

pub fn status_label(status: &str) -> &'static str {
    match status {
        "queued" => "In consegna",
        "delivered" => "Consegnata",
        "failed" => "Consegna non riuscita",
        _ => "Sconosciuto",
    }
}

pub fn confirmation(r: &ReferralSummary, operator: &Operator) -> String {
    layout(
        "Segnalazione ricevuta",
        Some(operator),
        &format!(
            r#"<div class="panel" role="status"><h1>Segnalazione ricevuta</h1><p>Numero di riferimento</p><p class="reference">{}</p></div><p>La segnalazione è cifrata e registrata: sarà consegnata allo Staff Non Autosufficienza del Comune anche se il loro servizio di posta è momentaneamente fermo. Annotare il numero di riferimento.</p><p><a href="/">Nuova segnalazione</a> &middot; <a href="/segnalazioni">Le mie segnalazioni</a></p>"#,
            esc(&r.reference)
        ),
    )
}

fn when(t: &str) -> String {
    esc(&t.replace('T', " ").replace('Z', ""))
}

/// The staff's side of a referral in the desk's list: the state and who
/// took it, or how many working days it has been waiting since delivery.
pub fn care_cell(r: &ReferralSummary, now: time::OffsetDateTime) -> String {
    match r.care.state {
        Some(state) => {
            let mut s = esc(state.label());
            if let Some(since) = &r.care.since {
                let _ = write!(s, " dal {}", when(since));
            }
            if let Some(by) = &r.care.taken_by {
                let _ = write!(s, " &middot; presa in carico da {}", esc(by));
            }
            s
        }
        None => match r
            .delivered_at
            .as_deref()
            .and_then(crate::store::parse_rfc3339)
        {
            Some(at) => {
                let n = crate::workdays::working_days(at, now);
                format!(
                    "In attesa da {n} {}",
                    if n == 1 {
                        "giorno lavorativo"
                    } else {
                        "giorni lavorativi"
                    }
                )
            }
            None => "&mdash;".into(),
        },
    }
}

pub fn my_referrals(
    list: &[ReferralSummary],
    operator: &Operator,
    now: time::OffsetDateTime,
) -> String {
    let referent = operator.role == crate::store::Role::Referent;
    let mut b = String::from("<h1>Le mie segnalazioni</h1>");
    if referent {
        let _ = write!(
            b,
            "<p>Come referente dello sportello {} vede tutte le segnalazioni dello sportello.</p>",
            esc(&operator.desk)
        );
    }
    if list.is_empty() {
        b.push_str("<p>Nessuna segnalazione inviata finora.</p>");
    } else {
        b.push_str(r#"<p>Per riservatezza qui si vedono solo numero, data e stato: il contenuto lo leggono solo i destinatari del Comune.</p><table><caption class="visually-hidden">Segnalazioni inviate</caption><thead><tr><th scope="col">Riferimento</th><th scope="col">Inviata il (UTC)</th>"#);
        if referent {
            b.push_str(r#"<th scope="col">Operatore</th>"#);
        }
        b.push_str(r#"<th scope="col">Consegna</th><th scope="col">Presa in carico</th></tr></thead><tbody>"#);
        for r in list {
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{}</td>",
                esc(&r.reference),
                when(&r.created_at)
            );
            if referent {
                let _ = write!(b, "<td>{}</td>", esc(&r.operator_name));
            }
            let _ = write!(
                b,
                "<td>{}</td><td>{}</td></tr>",
                status_label(&r.status),
                care_cell(r, now)
            );
        }
        b.push_str("</tbody></table>");
    }
    layout("Le mie segnalazioni", Some(operator), &b)
}
