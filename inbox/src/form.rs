//! The referral form: field limits, validation with Italian messages next to
//! each field, and the plaintext (text and JSON) that gets sealed.
//! No tax code, no diagnosis, no uploads: the form asks only what the staff
//! need to call the person back.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::config::{Choice, Form as FormConfig};
use crate::kinds::Urgency;

pub const MAX_DESCRIPTION: usize = 2000;
pub const MAX_SERVICES: usize = 20;

/// Best time to call: a fixed list, not configurable.
pub const CALL_TIMES: &[(&str, &str)] = &[
    ("mattina", "Mattina (9-12)"),
    ("pomeriggio", "Pomeriggio (14-18)"),
    ("sera", "Sera (18-20)"),
    ("qualsiasi", "Qualsiasi orario"),
];

/// The urgencies as the form offers them: (slug, label).
pub fn urgencies() -> Vec<(&'static str, &'static str)> {
    Urgency::ALL.iter().map(|u| (u.slug(), u.label())).collect()
}

/// One entry of the guide's services.json.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Service {
    pub slug: String,
    pub title: String,
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub url: String,
}

/// What the form offers: areas from the configuration, services from the guide.
#[derive(Debug, Clone)]
pub struct Options {
    pub need_areas: Vec<Choice>,
    pub city_areas: Vec<Choice>,
    pub services: Vec<Service>,
}

impl Options {
    pub fn from_config(form: &FormConfig) -> Result<Options> {
        let services = match &form.services_json {
            Some(p) => load_services(p)?,
            None => Vec::new(),
        };
        Ok(Options {
            need_areas: form.need_areas.clone(),
            city_areas: form.city_areas.clone(),
            services,
        })
    }
}

pub fn load_services(path: &Path) -> Result<Vec<Service>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read services {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "{}: expected a JSON array of {{slug, title, category, url}}",
            path.display()
        )
    })
}

/// The raw values as typed, kept to re-show the form after an error.
#[derive(Debug, Clone, Default)]
pub struct Input {
    pub fields: BTreeMap<&'static str, String>,
    pub services: Vec<String>,
}

/// Single-value fields with their maximum length in characters.
pub const FIELDS: &[(&str, usize)] = &[
    ("first_name", 60),
    ("last_name", 60),
    ("birth_year", 4),
    ("phone", 20),
    ("email", 254),
    ("city_area", 40),
    ("municipality", 40),
    ("call_time", 20),
    ("need_area", 40),
    ("urgency", 10),
    ("description", MAX_DESCRIPTION),
    ("privacy_notice", 3),
    ("consent", 3),
    ("csrf", 200),
    ("idempotency_key", 64),
];

/// The request is malformed as a whole (not a field-level mistake).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BadRequest {
    #[error("field `{0}` appears more than once")]
    Repeated(String),
    #[error("too many fields")]
    TooManyFields,
    /// Bytes that are not UTF-8 once percent-decoded: refused rather than
    /// stored with replacement characters the operator never typed.
    #[error("field `{0}` is not valid UTF-8")]
    NotUtf8(String),
}

/// Decodes one `application/x-www-form-urlencoded` component strictly.
fn decode(raw: &[u8]) -> Option<String> {
    let plus: Vec<u8> = raw
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    let bytes: Vec<u8> = percent_encoding::percent_decode(&plus).collect();
    String::from_utf8(bytes).ok()
}

impl Input {
    /// Parses an `application/x-www-form-urlencoded` body. Unknown fields are
    /// ignored; values are only stored, never logged.
    pub fn parse(body: &[u8]) -> Result<Input, BadRequest> {
        let mut input = Input::default();
        let pairs = body.split(|&b| b == b'&').filter(|p| !p.is_empty());
        for (i, pair) in pairs.enumerate() {
            if i > 200 {
                return Err(BadRequest::TooManyFields);
            }
            let (k, v) = match pair.iter().position(|&b| b == b'=') {
                Some(at) => (&pair[..at], &pair[at + 1..]),
                None => (pair, &[][..]),
            };
            let k = decode(k).ok_or_else(|| BadRequest::NotUtf8("?".into()))?;
            let v = decode(v).ok_or_else(|| BadRequest::NotUtf8(k.clone()))?;
            if k == "services" {
                input.services.push(v);
                continue;
            }
            if let Some((name, _)) = FIELDS.iter().find(|(n, _)| *n == k) {
                if input.fields.insert(name, v).is_some() {
                    return Err(BadRequest::Repeated((*name).to_string()));
                }
            }
        }
        Ok(input)
    }

    pub fn get(&self, name: &str) -> &str {
        self.fields.get(name).map_or("", |s| s.as_str())
    }
}

/// A validated referral. Personal data: it lives only in memory.
#[derive(Debug, Clone, Serialize)]
pub struct Referral {
    pub first_name: String,
    pub last_name: String,
    pub birth_year: i32,
    pub phone: String,
    pub email: Option<String>,
    pub city_area: String,
    pub call_time: String,
    pub need_area: String,
    pub urgency: Urgency,
    pub description: String,
    pub services: Vec<String>,
    pub privacy_notice_given: bool,
    pub consent_to_share: bool,
}

/// Field name -> message in Italian, shown next to the field.
pub type Errors = BTreeMap<&'static str, String>;

fn has_control(s: &str, multiline: bool) -> bool {
    s.chars().any(|c| {
        let allowed = multiline && (c == '\n' || c == '\r' || c == '\t');
        (c.is_control() && !allowed)
            // Bidirectional overrides can disguise text in the staff's mail client.
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    })
}

fn text_field(
    input: &Input,
    errors: &mut Errors,
    name: &'static str,
    label: &str,
    required: bool,
    multiline: bool,
) -> String {
    let max = FIELDS
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(0, |(_, m)| *m);
    let v = input.get(name).trim();
    if has_control(v, multiline) {
        errors.insert(name, format!("{label}: contiene caratteri non ammessi."));
    } else if required && v.is_empty() {
        errors.insert(name, format!("Inserire {}.", label.to_lowercase()));
    } else if v.chars().count() > max {
        errors.insert(
            name,
            format!(
                "{label}: al massimo {max} caratteri (ora sono {}).",
                v.chars().count()
            ),
        );
    }
    v.to_string()
}

fn choice<'a>(
    input: &Input,
    errors: &mut Errors,
    name: &'static str,
    message: &str,
    mut allowed: impl Iterator<Item = &'a str>,
) -> String {
    let v = input.get(name);
    if !allowed.any(|a| a == v) {
        errors.insert(name, message.to_string());
    }
    v.to_string()
}

/// Validates every field; on failure returns all the errors at once.
pub fn validate(input: &Input, opts: &Options, current_year: i32) -> Result<Referral, Errors> {
    let mut e = Errors::new();
    let first_name = text_field(input, &mut e, "first_name", "Il nome", true, false);
    let last_name = text_field(input, &mut e, "last_name", "Il cognome", true, false);

    let year_raw = input.get("birth_year").trim();
    let birth_year = match year_raw.parse::<i32>() {
        Ok(y) if year_raw.len() == 4 && (1900..=current_year).contains(&y) => y,
        _ => {
            e.insert(
                "birth_year",
                format!("Indicare l'anno di nascita con quattro cifre, tra 1900 e {current_year}."),
            );
            0
        }
    };

    let phone = text_field(input, &mut e, "phone", "Il telefono", true, false);
    if !e.contains_key("phone") {
        let digits = phone.chars().filter(|c| c.is_ascii_digit()).count();
        let ok_chars = phone
            .chars()
            .all(|c| c.is_ascii_digit() || " +-./()".contains(c));
        if !ok_chars || !(6..=15).contains(&digits) {
            e.insert(
                "phone",
                "Numero di telefono non valido: solo cifre, spazi e il + iniziale (es. 0372 123456)."
                    .into(),
            );
        }
    }

    let email = text_field(input, &mut e, "email", "L'email", false, false);
    if !email.is_empty() && !e.contains_key("email") && !plausible_email(&email) {
        e.insert(
            "email",
            "Indirizzo email non valido (es. nome@esempio.it).".into(),
        );
    }

    let city_area = choice(
        input,
        &mut e,
        "city_area",
        "Scegliere la zona della città.",
        opts.city_areas.iter().map(|c| c.slug.as_str()),
    );
    let call_time = choice(
        input,
        &mut e,
        "call_time",
        "Scegliere quando è meglio telefonare.",
        CALL_TIMES.iter().map(|c| c.0),
    );
    let need_area = choice(
        input,
        &mut e,
        "need_area",
        "Scegliere l'area del bisogno.",
        opts.need_areas.iter().map(|c| c.slug.as_str()),
    );
    let urgency = Urgency::parse(input.get("urgency"));
    if urgency.is_none() {
        e.insert(
            "urgency",
            "Indicare se la segnalazione è ordinaria o urgente.".into(),
        );
    }
    let description = text_field(input, &mut e, "description", "La descrizione", true, true)
        .replace("\r\n", "\n");

    let mut services = Vec::new();
    if input.services.len() > MAX_SERVICES {
        e.insert(
            "services",
            format!("Scegliere al massimo {MAX_SERVICES} servizi."),
        );
    } else {
        for s in &input.services {
            if opts.services.iter().any(|known| &known.slug == s) {
                if !services.contains(s) {
                    services.push(s.clone());
                }
            } else {
                e.insert(
                    "services",
                    "Uno dei servizi scelti non esiste nella guida.".into(),
                );
            }
        }
    }

    let privacy_notice_given = input.get("privacy_notice") == "yes";
    if !privacy_notice_given {
        e.insert(
            "privacy_notice",
            "Confermare di aver dato l'informativa sulla privacy.".into(),
        );
    }
    let consent_to_share = input.get("consent") == "yes";
    if !consent_to_share {
        e.insert(
            "consent",
            "Senza il consenso della persona la segnalazione non può essere inviata.".into(),
        );
    }

    let Some(urgency) = urgency.filter(|_| e.is_empty()) else {
        return Err(e);
    };
    Ok(Referral {
        first_name,
        last_name,
        birth_year,
        phone,
        email: (!email.is_empty()).then_some(email),
        city_area,
        call_time,
        need_area,
        urgency,
        description,
        services,
        privacy_notice_given,
        consent_to_share,
    })
}

fn plausible_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.contains(char::is_whitespace)
        && !domain.contains('@')
}

/// Age band for the statistics: coarse enough not to identify anyone.
pub fn age_band(birth_year: i32, current_year: i32) -> &'static str {
    match current_year - birth_year {
        i32::MIN..=17 => "0-17",
        18..=64 => "18-64",
        65..=74 => "65-74",
        75..=84 => "75-84",
        _ => "85+",
    }
}

fn label<'a>(choices: &'a [Choice], slug: &'a str) -> &'a str {
    choices
        .iter()
        .find(|c| c.slug == slug)
        .map_or(slug, |c| c.label.as_str())
}

fn pair_label<'a>(pairs: &'a [(&'a str, &'a str)], slug: &'a str) -> &'a str {
    pairs.iter().find(|p| p.0 == slug).map_or(slug, |p| p.1)
}

/// Who sent it and when: from the certificate and the clock, never the form.
pub struct Envelope<'a> {
    pub reference: &'a str,
    pub created_at: &'a str,
    pub operator_id: i64,
    pub operator_name: &'a str,
    pub desk: &'a str,
}

/// What is sealed for the staff: the readable Italian text and the same
/// data as JSON; `deliver::mime::payload` makes one MIME entity of them.
pub struct Rendered {
    pub text: String,
    pub json: String,
}

/// The plaintext sealed for the staff: readable text, and the same as JSON.
pub fn render_plaintext(r: &Referral, env: &Envelope<'_>, opts: &Options) -> Rendered {
    let services: Vec<&Service> = r
        .services
        .iter()
        .filter_map(|s| opts.services.iter().find(|x| &x.slug == s))
        .collect();
    let mut t = String::with_capacity(4096);
    let line = |t: &mut String, k: &str, v: &str| {
        t.push_str(k);
        t.push_str(": ");
        t.push_str(v);
        t.push('\n');
    };
    line(&mut t, "Segnalazione", env.reference);
    line(&mut t, "Ricevuta il (UTC)", env.created_at);
    line(&mut t, "Sportello", env.desk);
    line(
        &mut t,
        "Operatore",
        &format!("{} (n. {})", env.operator_name, env.operator_id),
    );
    t.push_str("\n== Persona ==\n");
    line(&mut t, "Nome", &r.first_name);
    line(&mut t, "Cognome", &r.last_name);
    line(&mut t, "Anno di nascita", &r.birth_year.to_string());
    line(&mut t, "Telefono", &r.phone);
    line(&mut t, "Email", r.email.as_deref().unwrap_or("-"));
    line(&mut t, "Zona", label(&opts.city_areas, &r.city_area));
    line(
        &mut t,
        "Quando telefonare",
        pair_label(CALL_TIMES, &r.call_time),
    );
    t.push_str("\n== Bisogno ==\n");
    line(&mut t, "Area", label(&opts.need_areas, &r.need_area));
    line(&mut t, "Urgenza", r.urgency.label());
    t.push_str("Descrizione:\n");
    t.push_str(&r.description);
    t.push('\n');
    if !services.is_empty() {
        t.push_str("Servizi suggeriti:\n");
        for s in &services {
            t.push_str(&format!("- {} ({})\n", s.title, s.url));
        }
    }
    t.push_str("\n== Consenso ==\n");
    line(&mut t, "Informativa privacy consegnata", "sì");
    line(&mut t, "Consenso alla condivisione con il Comune", "sì");

    let json = serde_json::json!({
        "reference": env.reference,
        "created_at": env.created_at,
        "desk": env.desk,
        "operator": { "id": env.operator_id, "name": env.operator_name },
        "person": {
            "first_name": r.first_name,
            "last_name": r.last_name,
            "birth_year": r.birth_year,
            "phone": r.phone,
            "email": r.email,
            "city_area": r.city_area,
            "call_time": r.call_time,
        },
        "need": {
            "area": r.need_area,
            "urgency": r.urgency,
            "description": r.description,
            "suggested_services": services,
        },
        "consent": {
            "privacy_notice_given": r.privacy_notice_given,
            "consent_to_share": r.consent_to_share,
        },
    });
    let mut json = serde_json::to_string_pretty(&json).unwrap_or_default();
    json.push('\n');
    Rendered { text: t, json }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> Options {
        let c = |s: &str| Choice {
            slug: s.into(),
            label: s.into(),
        };
        Options {
            need_areas: vec![c("casa")],
            city_areas: vec![c("centro")],
            services: vec![Service {
                slug: "telesoccorso".into(),
                title: "Telesoccorso".into(),
                category: "casa".into(),
                url: "/servizi/telesoccorso/".into(),
            }],
        }
    }

    fn input(pairs: &[(&str, &str)]) -> Input {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        Input::parse(body.as_bytes()).unwrap()
    }

    const OK: &[(&str, &str)] = &[
        ("first_name", "Maria"),
        ("last_name", "Esempio"),
        ("birth_year", "1940"),
        ("phone", "+39 0372 000000"),
        ("city_area", "centro"),
        ("call_time", "sera"),
        ("need_area", "casa"),
        ("urgency", "urgent"),
        ("description", "Riga\r\nseconda riga"),
        ("services", "telesoccorso"),
        ("privacy_notice", "yes"),
        ("consent", "yes"),
    ];

    #[test]
    fn valid_referral_normalises_newlines() {
        let r = validate(&input(OK), &opts(), 2026).unwrap();
        assert_eq!(r.description, "Riga\nseconda riga");
        assert_eq!(r.services, vec!["telesoccorso"]);
        assert_eq!(r.email, None);
    }

    #[test]
    fn every_error_is_reported_at_once() {
        let e = validate(&input(&[("services", "sconosciuto")]), &opts(), 2026).unwrap_err();
        for f in [
            "first_name",
            "last_name",
            "birth_year",
            "phone",
            "city_area",
            "call_time",
            "need_area",
            "urgency",
            "description",
            "services",
            "privacy_notice",
            "consent",
        ] {
            assert!(e.contains_key(f), "{f}");
        }
    }

    #[test]
    fn control_and_bidi_characters_are_refused() {
        let mut pairs = OK.to_vec();
        pairs[0] = ("first_name", "Ma\u{202e}ria");
        assert!(validate(&input(&pairs), &opts(), 2026)
            .unwrap_err()
            .contains_key("first_name"));
        pairs[0] = ("first_name", "Maria");
        pairs[8] = ("description", "a\u{0000}b");
        assert!(validate(&input(&pairs), &opts(), 2026)
            .unwrap_err()
            .contains_key("description"));
    }

    #[test]
    fn repeated_fields_are_a_bad_request() {
        let err = Input::parse(b"first_name=a&first_name=b").unwrap_err();
        assert_eq!(err, BadRequest::Repeated("first_name".into()));
    }

    #[test]
    fn age_bands_and_emails() {
        assert_eq!(age_band(1940, 2026), "85+");
        assert_eq!(age_band(1950, 2026), "75-84");
        assert_eq!(age_band(2010, 2026), "0-17");
        assert!(plausible_email("maria@esempio.it"));
        assert!(!plausible_email("maria@esempio"));
        assert!(!plausible_email("maria esempio@x.it"));
    }
}
