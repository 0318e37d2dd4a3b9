//! The staff's pages (Italian): one referral's metadata, its history of
//! states and the forms for the next state. Never content: the server has
//! none.

use std::fmt::Write;

use super::pages::esc;
use crate::care::{self, State, MAX_NAME, OUTCOMES};
use crate::config::Choice;
use crate::store::care::{Event, Referral};

pub fn layout(title: &str, body: &str) -> String {
    format!(
        r##"<!doctype html>
<html lang="it">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{title} &middot; Sportello Sociale</title>
<link rel="stylesheet" href="/static/style.css">
</head>
<body>
<a class="skip" href="#main">Vai al contenuto</a>
<header>
<p class="brand">Sportello Sociale &middot; Presa in carico</p>
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

pub fn problem(title: &str, message: &str) -> String {
    layout(
        title,
        &format!("<h1>{}</h1><p>{}</p>", esc(title), esc(message)),
    )
}

/// What the page needs besides the referral.
pub struct View<'a> {
    pub referral: &'a Referral,
    pub events: &'a [Event],
    pub need_label: &'a str,
    /// Offices and services a referral "non di competenza" may go to.
    pub targets: &'a [Choice],
    /// Services of the guide, for "chiusa: servizio attivato".
    pub services: &'a [Choice],
    pub csrf: &'a str,
    /// A message above the forms (a refused change), with its field.
    pub error: Option<&'a str>,
}

fn when(t: &str) -> String {
    esc(&t.replace('T', " ").replace('Z', ""))
}

fn label<'a>(list: &'a [Choice], slug: &'a str) -> &'a str {
    list.iter()
        .find(|c| c.slug == slug)
        .map_or(slug, |c| c.label.as_str())
}

/// One line of the history.
pub fn describe(e: &Event, targets: &[Choice], services: &[Choice]) -> String {
    let mut s = String::from(e.state.label());
    match e.state {
        State::PresaInCarico => {
            if let Some(n) = &e.staff_name {
                let _ = write!(s, " da {n}");
            }
            if let Some(d) = &e.planned_contact {
                let _ = write!(s, " (primo contatto previsto il {d})");
            }
        }
        State::NonDiCompetenza => {
            if let Some(t) = &e.target {
                let _ = write!(s, ": inviata a {}", label(targets, t));
            }
        }
        State::Chiusa => {
            if let Some(o) = &e.outcome {
                let _ = write!(s, ": {}", care::outcome_label(o));
            }
            if let Some(t) = &e.target {
                let _ = write!(s, " ({})", label(services, t));
            }
        }
        State::NonRintracciabile => {}
    }
    s
}

fn options(out: &mut String, list: &[Choice]) {
    for c in list {
        let _ = write!(
            out,
            r#"<option value="{}">{}</option>"#,
            esc(&c.slug),
            esc(&c.label)
        );
    }
}

fn form_start(out: &mut String, state: State, csrf: &str, legend: &str) {
    let _ = write!(
        out,
        r#"<form method="post" class="care"><fieldset><legend>{}</legend><input type="hidden" name="csrf" value="{}"><input type="hidden" name="state" value="{}">"#,
        esc(legend),
        esc(csrf),
        state.slug()
    );
}

fn form_end(out: &mut String, button: &str) {
    let _ = write!(
        out,
        r#"<button type="submit">{}</button></fieldset></form>"#,
        esc(button)
    );
}

pub fn referral(v: &View<'_>) -> String {
    let r = v.referral;
    let current = v.events.last().map(|e| e.state);
    let mut b = String::new();
    let _ = write!(
        b,
        r#"<h1>Segnalazione {}</h1><p>Questa pagina mostra solo i dati che non identificano la persona: il contenuto è nel messaggio cifrato ricevuto.</p><dl class="meta"><dt>Ricevuta il (UTC)</dt><dd>{}</dd><dt>Sportello</dt><dd>{}</dd><dt>Urgenza</dt><dd>{}</dd><dt>Area del bisogno</dt><dd>{}</dd><dt>Stato</dt><dd>{}</dd></dl>"#,
        esc(&r.reference),
        when(&r.created_at),
        esc(&r.desk),
        if r.urgency == "urgent" {
            "Urgente"
        } else {
            "Ordinaria"
        },
        esc(v.need_label),
        current.map_or("In attesa di presa in carico", State::label),
    );
    b.push_str(r#"<h2>Storia</h2><ol class="history">"#);
    let _ = write!(
        b,
        "<li>{} &middot; Inviata dallo sportello</li>",
        when(&r.created_at)
    );
    if let Some(d) = &r.delivered_at {
        let _ = write!(b, "<li>{} &middot; Consegnata allo staff</li>", when(d));
    }
    for e in v.events {
        let _ = write!(
            b,
            "<li>{} &middot; {}</li>",
            when(&e.at),
            esc(&describe(e, v.targets, v.services))
        );
    }
    b.push_str("</ol>");
    let allowed = State::allowed_after(current);
    if allowed.is_empty() {
        b.push_str("<p>La segnalazione è conclusa: non ci sono altri passaggi.</p>");
        return layout(&format!("Segnalazione {}", r.reference), &b);
    }
    b.push_str("<h2>Aggiorna lo stato</h2>");
    if let Some(msg) = v.error {
        let _ = write!(
            b,
            r#"<div class="error-summary" role="alert" tabindex="-1"><p>{}</p></div>"#,
            esc(msg)
        );
    }
    b.push_str(r#"<p>Nessun campo di testo libero oltre al nome: non scrivere qui dati della persona.</p>"#);
    for &s in allowed {
        match s {
            State::PresaInCarico => {
                form_start(&mut b, s, v.csrf, "Prendo in carico la segnalazione");
                let _ = write!(
                    b,
                    r#"<p><label for="staff_name">Nome e cognome di chi prende in carico (obbligatorio, al massimo {MAX_NAME} caratteri)</label><input id="staff_name" name="staff_name" required maxlength="{MAX_NAME}" autocomplete="name"></p><p><label for="planned_contact">Data prevista del primo contatto (facoltativa)</label><input id="planned_contact" name="planned_contact" type="date"></p>"#
                );
                form_end(&mut b, "Prendi in carico");
            }
            State::NonDiCompetenza => {
                form_start(&mut b, s, v.csrf, "Non di competenza");
                b.push_str(r#"<p><label for="target">Inviata a</label><select id="target" name="target" required><option value="">Scegliere l'ufficio o il servizio</option>"#);
                options(&mut b, v.targets);
                b.push_str("</select></p>");
                form_end(&mut b, "Segna come non di competenza");
            }
            State::NonRintracciabile => {
                form_start(&mut b, s, v.csrf, "Persona non rintracciabile");
                b.push_str("<p>Da usare dopo più tentativi di contatto non riusciti.</p>");
                form_end(&mut b, "Segna come non rintracciabile");
            }
            State::Chiusa => {
                form_start(&mut b, s, v.csrf, "Chiudi la segnalazione");
                b.push_str(r#"<p><label for="outcome">Esito</label><select id="outcome" name="outcome" required><option value="">Scegliere l'esito</option>"#);
                for (slug, label) in OUTCOMES {
                    let _ = write!(b, r#"<option value="{slug}">{}</option>"#, esc(label));
                }
                b.push_str(r#"</select></p><p><label for="service">Servizio attivato (solo con l'esito «Servizio attivato»)</label><select id="service" name="service"><option value="">Nessuno</option>"#);
                options(&mut b, v.services);
                b.push_str("</select></p>");
                form_end(&mut b, "Chiudi");
            }
        }
    }
    layout(&format!("Segnalazione {}", r.reference), &b)
}
