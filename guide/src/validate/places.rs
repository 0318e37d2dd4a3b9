//! Offices and desks: contacts, opening hours, step-free access.

use super::*;

fn hours(
    d: &Doc<impl Sized>,
    hours: &[Hours],
    lang: &Language,
    diags: &mut Diagnostics,
) -> Vec<OpeningHours> {
    let mut out = Vec::new();
    for h in hours {
        let mut ok = true;
        for t in [&h.opens, &h.closes] {
            if parse_hhmm(t.get_ref()).is_none() {
                ok = false;
                diags.push(
                    d.error_at(t, format!("`{}` is not a time", t.get_ref()))
                        .hint("write times as HH:MM, e.g. \"09:00\""),
                );
            }
        }
        if ok && parse_hhmm(h.opens.get_ref()) >= parse_hhmm(h.closes.get_ref()) {
            ok = false;
            diags.push(
                d.error_at(&h.closes, "closing time is not after opening time")
                    .hint("check `opens` and `closes`"),
            );
        }
        if h.days.is_empty() {
            ok = false;
            diags.push(
                d.error_at(&h.opens, "opening hours without days")
                    .hint("add `days = [\"mon\", \"tue\"]`"),
            );
        }
        if ok {
            let mut days: Vec<crate::model::Day> = h.days.iter().map(|d| *d.get_ref()).collect();
            days.sort();
            days.dedup();
            out.push(OpeningHours {
                days_label: days_label(&days, lang),
                days,
                opens: h.opens.get_ref().clone(),
                closes: h.closes.get_ref().clone(),
            });
        }
    }
    out
}

/// "Lunedì – venerdì" for a run of three or more days, else "Martedì, giovedì".
pub fn days_label(days: &[crate::model::Day], lang: &Language) -> String {
    let name = |d: crate::model::Day| {
        lang.days
            .get(d.key())
            .cloned()
            .unwrap_or_else(|| d.key().to_string())
    };
    // Italian writes day names in lowercase inside a phrase; English does not.
    let inner = |d: crate::model::Day| {
        if lang.code == "en" {
            name(d)
        } else {
            name(d).to_lowercase()
        }
    };
    let consecutive = days.windows(2).all(|w| w[1] as u8 == w[0] as u8 + 1);
    let label = if days.len() >= 3 && consecutive {
        format!("{} – {}", name(days[0]), inner(days[days.len() - 1]))
    } else {
        days.iter()
            .enumerate()
            .map(|(i, &d)| if i == 0 { name(d) } else { inner(d) })
            .collect::<Vec<_>>()
            .join(", ")
    };
    label
}

fn parse_hhmm(s: &str) -> Option<(u8, u8)> {
    let (h, m) = s.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u8, u8) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some((h, m))
}

fn contact_warning<F>(
    d: &Doc<F>,
    phone: &str,
    email: &str,
    website: &str,
    diags: &mut Diagnostics,
) {
    if phone.trim().is_empty() && email.trim().is_empty() && website.trim().is_empty() {
        diags.push(
            Diagnostic::warning(
                &d.src.rel,
                "no contact details: phone, email and website are all empty",
            )
            .at(&d.src.text, 0..3)
            .hint("add the real phone, email or website when known; never invent them"),
        );
    }
}

/// What offices and desks have in common, borrowed from either front matter.
struct Contact<'a> {
    name: &'a str,
    address: &'a str,
    phone: &'a str,
    email: &'a str,
    website: Option<&'a Spanned<String>>,
    step_free: Option<bool>,
    hours: &'a [Hours],
}

pub fn office_place(
    d: &Doc<OfficeFront>,
    urls: &Urls,
    lang: &Language,
    diags: &mut Diagnostics,
) -> Place {
    let f = &d.front;
    let contact = Contact {
        name: f.name.as_deref().unwrap_or_default(),
        address: &f.address,
        phone: &f.phone,
        email: &f.email,
        website: f.website.as_ref(),
        step_free: f.step_free,
        hours: &f.hours,
    };
    let mut place = place(d, contact, urls.office(&d.src.slug), urls, lang, diags);
    place.kind = f.kind;
    place.organization = f.organization.clone();
    place
}

pub fn desk_place(
    d: &Doc<DeskFront>,
    urls: &Urls,
    lang: &Language,
    diags: &mut Diagnostics,
) -> Place {
    let f = &d.front;
    let contact = Contact {
        name: f.name.as_deref().unwrap_or_default(),
        address: &f.address,
        phone: &f.phone,
        email: &f.email,
        website: f.website.as_ref(),
        step_free: f.step_free,
        hours: &f.hours,
    };
    place(d, contact, urls.desk(&d.src.slug), urls, lang, diags)
}

fn place<F>(
    d: &Doc<F>,
    c: Contact<'_>,
    url: String,
    urls: &Urls,
    lang: &Language,
    diags: &mut Diagnostics,
) -> Place {
    let mut local = Vec::new();
    let website = https_url(d, c.website, &mut local);
    diags.extend(local);
    contact_warning(d, c.phone, c.email, &website, diags);
    Place {
        permalink: urls.permalink(&url),
        url,
        slug: d.src.slug.clone(),
        name: c.name.to_string(),
        kind: None,
        organization: String::new(),
        address: c.address.to_string(),
        phone: c.phone.to_string(),
        email: c.email.to_string(),
        website,
        step_free: c.step_free,
        hours: hours(d, c.hours, lang, diags),
        html: d.body.intro_html.clone(),
        draft: d.draft,
        services: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_hhmm("09:30"), Some((9, 30)));
        assert_eq!(parse_hhmm("9:30"), None);
        assert_eq!(parse_hhmm("24:00"), None);
    }
}
