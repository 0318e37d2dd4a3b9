//! A contact at a desk: non-identifying metadata only, every field from a
//! fixed list (no names, no free text, no birth dates). Referrals are the
//! complex cases; most contacts end with information or orientation, and
//! these records are what the periodic meetings count.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use time::Date;

use crate::config::Form as FormConfig;

/// Most need areas and services one contact may name.
pub const MAX_NEEDS: usize = 20;
pub const MAX_SERVICES: usize = 30;
/// How far back a contact may be dated (a desk catching up after a busy week).
pub const MAX_DAYS_BACK: i64 = 31;

// The fixed lists of a contact: enums with a stable slug (stored, in forms)
// and an Italian label (shown), written by `kinds::slug_enum`.

crate::kinds::slug_enum! {
    /// How the person reached the desk.
    pub enum Channel {
        InPresenza = ("in_presenza", "In presenza"),
        Telefono = ("telefono", "Telefono"),
        Email = ("email", "Email"),
        ADomicilio = ("a_domicilio", "A domicilio"),
    }
}

crate::kinds::slug_enum! {
    /// Who the person is, in the agreement's categories.
    pub enum UserCategory {
        Lavoratore = ("lavoratore", "Lavoratore/lavoratrice"),
        Pensionato = ("pensionato", "Pensionato/a"),
        Disoccupato = ("disoccupato", "Disoccupato/a"),
        Studente = ("studente", "Studente"),
        Caregiver = ("caregiver", "Caregiver familiare"),
        Altro = ("altro", "Altro"),
    }
}

crate::kinds::slug_enum! {
    /// The bands of `form::age_band`: coarse enough not to identify anyone.
    pub enum AgeBand {
        Under18 = ("0-17", "0-17"),
        From18To64 = ("18-64", "18-64"),
        From65To74 = ("65-74", "65-74"),
        From75To84 = ("75-84", "75-84"),
        From85 = ("85+", "85+"),
    }
}

crate::kinds::slug_enum! {
    /// How the contact ended. `Segnalato` goes with the reference of the
    /// referral sent for it (`NewContact::referral_reference`).
    pub enum Outcome {
        Informato = ("informato", "Informato"),
        Orientato = ("orientato", "Orientato a un servizio"),
        Accompagnato = ("accompagnato", "Accompagnato"),
        Segnalato = ("segnalato", "Segnalato (invio di una segnalazione)"),
    }
}

impl AgeBand {
    /// The band of an age in whole years.
    pub fn of_age(age: i32) -> AgeBand {
        match age {
            i32::MIN..=17 => AgeBand::Under18,
            18..=64 => AgeBand::From18To64,
            65..=74 => AgeBand::From65To74,
            75..=84 => AgeBand::From75To84,
            _ => AgeBand::From85,
        }
    }
}

/// The configured lists a contact is checked against: need areas and city
/// areas from `[form]`, services from the guide's `services.json` (slugs).
#[derive(Debug, Clone, Default)]
pub struct Lists {
    pub need_areas: BTreeSet<String>,
    pub city_areas: BTreeSet<String>,
    pub services: BTreeSet<String>,
}

impl Lists {
    /// Reads `form.services_json` if set (as the referral form does).
    pub fn from_config(form: &FormConfig) -> Result<Lists> {
        let services = match &form.services_json {
            Some(p) => crate::form::load_services(p)?,
            None => Vec::new(),
        };
        Ok(Lists {
            need_areas: form.need_areas.iter().map(|c| c.slug.clone()).collect(),
            city_areas: form.city_areas.iter().map(|c| c.slug.clone()).collect(),
            services: services.into_iter().map(|s| s.slug).collect(),
        })
    }
}

/// A contact as recorded (or corrected) by an operator. The desk and the
/// operator come from the certificate, not from the form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewContact {
    pub day: Date,
    pub channel: Channel,
    pub user_category: UserCategory,
    pub age_band: AgeBand,
    /// Slug of `form.city_areas`.
    pub city_area: String,
    /// Slugs of `form.need_areas`, at least one, no repeats.
    pub need_areas: Vec<String>,
    /// Slugs of the guide's services the person was oriented to.
    pub services: Vec<String>,
    pub outcome: Outcome,
    /// `SEG-YYYY-NNNNNN`: required with `Outcome::Segnalato`, refused otherwise.
    pub referral_reference: Option<String>,
    /// "Bisogno non coperto": no service fits; the need area (slug).
    pub unmet_need: Option<String>,
}

/// Field name -> message in Italian, shown next to the field (the same
/// type as the referral form's errors).
pub type FieldErrors = BTreeMap<&'static str, String>;

/// `SEG-YYYY-` followed by at least six digits.
pub fn is_reference(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 15
        && s.starts_with("SEG-")
        && b[4..8].iter().all(u8::is_ascii_digit)
        && b[8] == b'-'
        && b[9..].iter().all(u8::is_ascii_digit)
}

impl NewContact {
    /// Checks every field against the lists; all the errors at once.
    /// `today` bounds the date: not in the future, at most
    /// [`MAX_DAYS_BACK`] days ago.
    pub fn validate(&self, lists: &Lists, today: Date) -> Result<(), FieldErrors> {
        let mut e = FieldErrors::new();
        if self.day > today {
            e.insert("day", "La data non può essere futura.".into());
        } else if (today - self.day).whole_days() > MAX_DAYS_BACK {
            e.insert(
                "day",
                format!("La data può risalire al massimo a {MAX_DAYS_BACK} giorni fa."),
            );
        }
        if !lists.city_areas.contains(&self.city_area) {
            e.insert("city_area", "Scegliere la zona della città.".into());
        }
        let distinct: BTreeSet<&String> = self.need_areas.iter().collect();
        if self.need_areas.is_empty() {
            e.insert("need_areas", "Scegliere almeno un'area di bisogno.".into());
        } else if distinct.len() != self.need_areas.len()
            || self.need_areas.len() > MAX_NEEDS
            || !self.need_areas.iter().all(|n| lists.need_areas.contains(n))
        {
            e.insert(
                "need_areas",
                "Scegliere le aree di bisogno dall'elenco.".into(),
            );
        }
        let distinct: BTreeSet<&String> = self.services.iter().collect();
        if distinct.len() != self.services.len()
            || self.services.len() > MAX_SERVICES
            || !self.services.iter().all(|s| lists.services.contains(s))
        {
            e.insert(
                "services",
                "Scegliere i servizi dall'elenco della guida.".into(),
            );
        }
        match (self.outcome, &self.referral_reference) {
            (Outcome::Segnalato, None) => {
                e.insert(
                    "referral_reference",
                    "Indicare il numero della segnalazione inviata (SEG-...).".into(),
                );
            }
            (Outcome::Segnalato, Some(r)) if !is_reference(r) => {
                e.insert(
                    "referral_reference",
                    "Il numero della segnalazione ha la forma SEG-2026-000123.".into(),
                );
            }
            (Outcome::Segnalato, Some(_)) => {}
            (_, Some(_)) => {
                e.insert(
                    "referral_reference",
                    "Il numero di segnalazione va indicato solo con l'esito \"segnalato\".".into(),
                );
            }
            (_, None) => {}
        }
        if let Some(n) = &self.unmet_need {
            if !lists.need_areas.contains(n) {
                e.insert(
                    "unmet_need",
                    "Scegliere l'area del bisogno non coperto dall'elenco.".into(),
                );
            }
        }
        if e.is_empty() {
            Ok(())
        } else {
            Err(e)
        }
    }

    /// Builds and validates a contact from form fields (name, value) as
    /// decoded from `application/x-www-form-urlencoded`: `day`
    /// (YYYY-MM-DD), `channel`, `user_category`, `age_band`, `city_area`,
    /// `need_areas` (repeated), `services` (repeated), `outcome`,
    /// `referral_reference`, `unmet_need` (empty: none). Unknown fields
    /// are ignored.
    pub fn from_fields<'a>(
        fields: impl IntoIterator<Item = (&'a str, &'a str)>,
        lists: &Lists,
        today: Date,
    ) -> Result<NewContact, FieldErrors> {
        let mut one: BTreeMap<&str, &str> = BTreeMap::new();
        let (mut needs, mut services) = (Vec::new(), Vec::new());
        let mut e = FieldErrors::new();
        for (k, v) in fields {
            if k == "need_areas" {
                needs.push(v.to_string());
            } else if k == "services" {
                services.push(v.to_string());
            } else if SINGLE.contains(&k) && one.insert(k, v).is_some() {
                e.insert(field_name(k), "Campo ripetuto.".into());
            }
        }
        let get = |k: &str| one.get(k).map_or("", |v| v.trim());
        let day = parse_date(get("day"));
        if day.is_none() {
            e.insert("day", "Indicare la data (AAAA-MM-GG).".into());
        }
        let channel = Channel::parse(get("channel"));
        if channel.is_none() {
            e.insert("channel", "Scegliere il canale.".into());
        }
        let user_category = UserCategory::parse(get("user_category"));
        if user_category.is_none() {
            e.insert("user_category", "Scegliere la tipologia di utenza.".into());
        }
        let age_band = AgeBand::parse(get("age_band"));
        if age_band.is_none() {
            e.insert("age_band", "Scegliere la fascia d'età.".into());
        }
        let outcome = Outcome::parse(get("outcome"));
        if outcome.is_none() {
            e.insert("outcome", "Scegliere l'esito.".into());
        }
        let opt = |k: &str| Some(get(k).to_string()).filter(|s| !s.is_empty());
        let (Some(day), Some(channel), Some(user_category), Some(age_band), Some(outcome)) =
            (day, channel, user_category, age_band, outcome)
        else {
            return Err(e);
        };
        let c = NewContact {
            day,
            channel,
            user_category,
            age_band,
            city_area: get("city_area").to_string(),
            need_areas: needs,
            services,
            outcome,
            referral_reference: opt("referral_reference"),
            unmet_need: opt("unmet_need"),
        };
        match c.validate(lists, today) {
            Ok(()) if e.is_empty() => Ok(c),
            Ok(()) => Err(e),
            Err(more) => {
                e.extend(more);
                Err(e)
            }
        }
    }
}

/// The single-valued fields of the contact form.
const SINGLE: [&str; 8] = [
    "day",
    "channel",
    "user_category",
    "age_band",
    "city_area",
    "outcome",
    "referral_reference",
    "unmet_need",
];

fn field_name(k: &str) -> &'static str {
    SINGLE.into_iter().find(|n| *n == k).unwrap_or("form")
}

/// `YYYY-MM-DD`, nothing else.
pub fn parse_date(s: &str) -> Option<Date> {
    let f = time::macros::format_description!("[year]-[month]-[day]");
    if s.len() != 10 {
        return None;
    }
    Date::parse(s, &f).ok()
}

/// `YYYY-MM-DD`.
pub fn format_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn lists() -> Lists {
        let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        Lists {
            need_areas: set(&["casa", "solitudine"]),
            city_areas: set(&["centro", "nord"]),
            services: set(&["sad", "pasti"]),
        }
    }

    fn fields() -> Vec<(&'static str, &'static str)> {
        vec![
            ("day", "2026-03-02"),
            ("channel", "telefono"),
            ("user_category", "pensionato"),
            ("age_band", "75-84"),
            ("city_area", "nord"),
            ("need_areas", "casa"),
            ("need_areas", "solitudine"),
            ("services", "sad"),
            ("outcome", "orientato"),
            ("referral_reference", ""),
            ("unmet_need", ""),
        ]
    }

    #[test]
    fn every_list_round_trips_its_slug() {
        for c in Channel::ALL {
            assert_eq!(Channel::parse(c.slug()), Some(*c));
        }
        for c in UserCategory::ALL {
            assert_eq!(UserCategory::parse(c.slug()), Some(*c));
        }
        for c in Outcome::ALL {
            assert_eq!(Outcome::parse(c.slug()), Some(*c));
        }
        for (age, band) in [
            (3, "0-17"),
            (40, "18-64"),
            (70, "65-74"),
            (80, "75-84"),
            (90, "85+"),
        ] {
            assert_eq!(AgeBand::of_age(age).slug(), band);
            assert_eq!(
                AgeBand::of_age(age).slug(),
                crate::form::age_band(2026 - age, 2026)
            );
        }
    }

    #[test]
    fn a_valid_form_becomes_a_contact() {
        let c = NewContact::from_fields(fields(), &lists(), date!(2026 - 03 - 02)).unwrap();
        assert_eq!(c.channel, Channel::Telefono);
        assert_eq!(c.need_areas, ["casa", "solitudine"]);
        assert_eq!(c.referral_reference, None);
    }

    #[test]
    fn unknown_slugs_and_bad_dates_are_refused_field_by_field() {
        let mut f = fields();
        f[0].1 = "2026-03-03";
        f[4].1 = "sud";
        f[5].1 = "lavoro";
        f[7].1 = "../etc";
        f[10].1 = "salute";
        let e = NewContact::from_fields(f, &lists(), date!(2026 - 03 - 02)).unwrap_err();
        let keys: Vec<_> = e.keys().copied().collect();
        assert_eq!(
            keys,
            ["city_area", "day", "need_areas", "services", "unmet_need"]
        );
        let mut f = fields();
        f[1].1 = "piccione";
        let e = NewContact::from_fields(f, &lists(), date!(2026 - 03 - 02)).unwrap_err();
        assert!(e.contains_key("channel"), "{e:?}");
    }

    #[test]
    fn segnalato_needs_a_reference_and_only_it_takes_one() {
        let today = date!(2026 - 03 - 02);
        let mut f = fields();
        f[8].1 = "segnalato";
        let e = NewContact::from_fields(f.clone(), &lists(), today).unwrap_err();
        assert!(e.contains_key("referral_reference"));
        f[9].1 = "SEG-2026-000123";
        let c = NewContact::from_fields(f, &lists(), today).unwrap();
        assert_eq!(c.referral_reference.as_deref(), Some("SEG-2026-000123"));
        let mut f = fields();
        f[9].1 = "SEG-2026-000123";
        assert!(NewContact::from_fields(f, &lists(), today).is_err());
        assert!(!is_reference("SEG-2026-12"));
        assert!(!is_reference("SEG-2026-00012a"));
    }

    #[test]
    fn too_old_and_repeated_needs_are_refused() {
        let mut f = fields();
        f[0].1 = "2026-01-01";
        f[6].1 = "casa";
        let e = NewContact::from_fields(f, &lists(), date!(2026 - 03 - 02)).unwrap_err();
        assert!(
            e.contains_key("day") && e.contains_key("need_areas"),
            "{e:?}"
        );
    }
}
