//! Checking one service entry against the rest of the site.

use super::*;

/// What checking a service entry needs to know of the rest of the site.
pub struct ServiceContext<'a> {
    pub(super) categories: SlugIndex,
    pub(super) topics: SlugIndex,
    pub(super) audiences: SlugIndex,
    pub(super) life_events: SlugIndex,
    pub(super) offices: HashMap<String, usize>,
    pub(super) desks: HashMap<String, usize>,
    pub(super) lang: &'a Language,
    pub(super) urls: &'a Urls,
    pub(super) today: Date,
}

impl<'a> ServiceContext<'a> {
    /// The context of an already built site, to check one changed entry.
    pub fn of_site(site: &'a Site, today: Date) -> Self {
        let places = |list: &[Place]| {
            list.iter()
                .enumerate()
                .map(|(i, p)| (p.slug.clone(), i))
                .collect()
        };
        ServiceContext {
            categories: SlugIndex::of_terms("category", "categories", &site.categories),
            topics: SlugIndex::of_terms("topic", "topics", &site.topics),
            audiences: SlugIndex::of_terms("audience", "audiences", &site.audiences),
            life_events: SlugIndex::of_terms("life event", "life_events", &site.life_events),
            offices: places(&site.offices),
            desks: places(&site.desks),
            lang: &site.lang,
            urls: &site.urls,
            today,
        }
    }

    /// Checks one entry; `None` when a reference is missing (already
    /// reported). The sections' text is moved out of `d`, not copied.
    pub fn service(
        &self,
        d: &mut Doc<ServiceFront>,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<Service> {
        let f = &d.front;
        // A required key that is missing was reported by the schema; the
        // other checks still run, so that one run shows every problem.
        let title = f.title.as_ref().map_or("", |t| t.get_ref().trim());
        let n = title.chars().count();
        if let Some(t) = f.title.as_ref() {
            if n == 0 {
                diags.push(
                    d.error_at(t, "the title is empty")
                        .hint("write the service's name as citizens know it"),
                );
            } else if n > TITLE_MAX {
                diags.push(
                    d.error_at(
                        t,
                        format!("the title is {n} characters long, more than {TITLE_MAX}"),
                    )
                    .hint("keep the name short; put details in `summary`"),
                );
            }
        }
        let summary = f.summary.as_ref().map_or("", |t| t.get_ref().trim());
        let n = summary.chars().count();
        if let Some(sm) = f.summary.as_ref() {
            if n == 0 {
                diags.push(
                    d.error_at(sm, "the summary is empty")
                        .hint("say in one sentence what the service gives and to whom"),
                );
            } else if n > SUMMARY_MAX {
                diags.push(
                    d.error_at(
                        sm,
                        format!("the summary is {n} characters long, more than {SUMMARY_MAX}"),
                    )
                    .hint(
                        "one sentence: what the service gives and to whom; details go in the sections",
                    ),
                );
            } else if n > SUMMARY_SNIPPET {
                diags.push(
                    d.warning_at(sm, format!("the summary is {n} characters long: search results cut it at {SUMMARY_SNIPPET}"))
                        .hint("shorten it so it reads whole in search results"),
                );
            }
        }

        let category = f
            .category
            .as_ref()
            .and_then(|c| self.categories.resolve(d, c, diags));
        let topics = resolve_list(d, &f.topics, "topics", diags, |t, diags| {
            self.topics.resolve(d, t, diags)
        });
        let audiences = resolve_list(d, &f.audiences, "audiences", diags, |t, diags| {
            self.audiences.resolve(d, t, diags)
        });
        let life_events = resolve_list(d, &f.life_events, "life_events", diags, |t, diags| {
            self.life_events.resolve(d, t, diags)
        });
        let office = f
            .office
            .as_ref()
            .and_then(|o| resolve_place(d, o, &self.offices, "office", "offices", diags));
        let desks = resolve_list(d, &f.access.desks, "desks", diags, |s, diags| {
            resolve_place(d, s, &self.desks, "desk", "desks", diags)
        });

        let status = f.status.as_ref().map(|s| *s.get_ref());
        let status_reason = f
            .status_reason
            .as_ref()
            .map(|r| r.get_ref().trim().to_string())
            .unwrap_or_default();
        if let Some(st) = f
            .status
            .as_ref()
            .filter(|s| *s.get_ref() != Status::Active && status_reason.is_empty())
        {
            diags.push(
                d.error_at(st, "a service that is not active needs `status_reason`")
                    .hint("add `status_reason = \"…\"` saying why and until when, e.g. \"Domande chiuse fino a marzo 2027\""),
            );
        }

        let updated = f.updated.as_ref().and_then(|v| self.date(d, v, diags));
        let reviewed = f.reviewed.as_ref().and_then(|v| self.date(d, v, diags));
        if let Some(r) = reviewed {
            let age = (self.today - r).whole_days();
            if age > STALE_DAYS {
                diags.push(
                    d.warning_at(
                        f.reviewed.as_ref()?,
                        format!("last reviewed {age} days ago, more than 12 months"),
                    )
                    .hint("check the entry with the office, then set `reviewed` to today's date"),
                );
            }
        }
        if let (Some(min), Some(max)) = (&f.age_min, &f.age_max) {
            if min.get_ref() > max.get_ref() {
                diags.push(
                    d.error_at(max, "`age_max` is lower than `age_min`")
                        .hint("swap the two values"),
                );
            }
        }
        if let Some(p) = f.invalidity_min.as_ref().filter(|p| *p.get_ref() > 100) {
            diags.push(
                d.error_at(
                    p,
                    format!("`invalidity_min` is {}, more than 100%", p.get_ref()),
                )
                .hint("write the lowest invalidity percentage the service admits, 1 to 100"),
            );
        }
        if let Some(v) = f.isee_max.as_ref().filter(|v| *v.get_ref() == 0) {
            diags.push(d.error_at(v, "`isee_max` is 0 euro").hint(
                "write the highest ISEE the service admits, in euro (e.g. 9530), or leave it out",
            ));
        }
        let online = https_url(d, f.access.online.as_ref(), diags);
        let booking = https_url(d, f.access.booking.as_ref(), diags);
        let cost = f.cost.as_ref().map(|c| *c.get_ref());
        let sections = self.sections(d, cost, diags);

        let (category, office, updated, reviewed) = (category?, office?, updated?, reviewed?);
        let (status, cost) = (status?, cost?);
        f.title.as_ref()?;
        f.summary.as_ref()?;
        let url = self.urls.service(&d.src.slug);
        let mut service = Service {
            permalink: self.urls.permalink(&url),
            url,
            slug: d.src.slug.clone(),
            title: title.to_string(),
            sort_key: title_sort_key(title),
            summary: summary.to_string(),
            category,
            topics,
            audiences,
            life_events,
            status,
            status_reason,
            office,
            provider: f.provider.clone().unwrap_or_default(),
            cost,
            age_min: f.age_min.as_ref().map(|v| *v.get_ref()),
            age_max: f.age_max.as_ref().map(|v| *v.get_ref()),
            isee_max: f.isee_max.as_ref().map(|v| *v.get_ref()),
            invalidity_min: f.invalidity_min.as_ref().map(|v| *v.get_ref()),
            keywords: f.keywords.clone(),
            updated,
            updated_iso: updated.to_string(),
            updated_label: self.lang.format_date(updated),
            reviewed,
            online,
            booking,
            desks,
            sections: Vec::new(),
            draft: d.draft,
            file: d.src.rel.clone(),
        };
        service.sections = sections
            .into_iter()
            .map(|(i, s)| {
                let html = std::mem::take(&mut d.body.sections[i].html);
                Section::new(s.key, s.label, html)
            })
            .collect();
        Some(service)
    }

    fn date(
        &self,
        d: &Doc<ServiceFront>,
        v: &Spanned<Datetime>,
        diags: &mut Vec<Diagnostic>,
    ) -> Option<Date> {
        let dt = v.get_ref();
        let converted = match (dt.date, dt.time) {
            (Some(date), None) => Month::try_from(date.month)
                .ok()
                .and_then(|m| Date::from_calendar_date(i32::from(date.year), m, date.day).ok()),
            _ => None,
        };
        if converted.is_none() {
            diags.push(
                d.error_at(v, format!("`{dt}` is not a calendar date"))
                    .hint("write the day only, as YYYY-MM-DD, e.g. 2026-10-01"),
            );
        }
        converted
    }

    /// Maps `##` headings to sections and checks names, order and presence.
    fn sections(
        &self,
        d: &Doc<ServiceFront>,
        cost: Option<Cost>,
        diags: &mut Vec<Diagnostic>,
    ) -> Vec<(usize, Section)> {
        let labels = &self.lang.sections;
        let src = &d.src;
        if !sportello_search::html::is_blank(&d.body.intro_html) {
            diags.push(
                Diagnostic::error(&src.rel, "text before the first section")
                    .at(&src.text, d.body.intro_span.clone())
                    .hint(format!(
                        "put it under `## {}`, or make it the `summary` if it is one sentence",
                        labels.addressed
                    )),
            );
        }
        // Each with the index of its raw section, whose text it takes later.
        let mut out: Vec<(usize, Section)> = Vec::with_capacity(7);
        // Sections an unknown heading probably meant: not reported missing too.
        let mut misspelt: Vec<SectionKey> = Vec::new();
        // Where each section present starts, to place a missing one.
        let mut headings: Vec<(SectionKey, usize)> = Vec::new();
        for (raw_index, raw) in d.body.sections.iter().enumerate() {
            let Some(key) = labels.key_for(&raw.heading) else {
                let all: Vec<&str> = SectionKey::ALL.iter().map(|&k| labels.label(k)).collect();
                let folded: Vec<(String, &str)> = all.iter().map(|l| (fold(l), *l)).collect();
                let close =
                    did_you_mean(&fold(&raw.heading), folded.iter().map(|(f, _)| f.as_str()))
                        .and_then(|f| folded.iter().find(|(x, _)| x == f).map(|(_, l)| *l));
                misspelt.extend(close.and_then(|l| labels.key_for(l)));
                let hint = match close {
                    Some(l) => format!("did you mean `## {l}`?"),
                    None => format!(
                        "the sections are: {}; use `###` for a sub-heading inside a section",
                        all.join(", ")
                    ),
                };
                diags.push(
                    Diagnostic::error(&src.rel, format!("unknown section `## {}`", raw.heading))
                        .at(&src.text, raw.heading_span.clone())
                        .hint(hint),
                );
                continue;
            };
            if out.iter().any(|(_, s)| s.key == key) {
                diags.push(
                    Diagnostic::error(
                        &src.rel,
                        format!("section `## {}` appears twice", labels.label(key)),
                    )
                    .at(&src.text, raw.heading_span.clone())
                    .hint("merge the two sections into one"),
                );
                continue;
            }
            if let Some(last) = out.last() {
                if last.1.key > key {
                    diags.push(
                        Diagnostic::error(
                            &src.rel,
                            format!("section `## {}` is out of order", labels.label(key)),
                        )
                        .at(&src.text, raw.heading_span.clone())
                        .hint(format!(
                            "move it before `## {}`: the order is {}",
                            labels.label(last.1.key),
                            SectionKey::ALL
                                .iter()
                                .map(|&k| labels.label(k))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )),
                    );
                }
            }
            if sportello_search::html::is_blank(&raw.html) {
                diags.push(
                    Diagnostic::error(
                        &src.rel,
                        format!("section `## {}` is empty", labels.label(key)),
                    )
                    .at(&src.text, raw.heading_span.clone())
                    .hint("write its text, or remove the heading if the section is optional"),
                );
            }
            headings.push((key, raw.heading_span.start));
            out.push((
                raw_index,
                Section::new(key, labels.label(key).to_string(), String::new()),
            ));
        }
        // With `cost` missing or wrong (already reported), `## Quanto costa` is not required.
        let required: Vec<SectionKey> = SectionKey::ALL
            .into_iter()
            .filter(|&k| {
                k != SectionKey::More
                    && k != SectionKey::Conditions
                    && (k != SectionKey::Cost || cost.is_some_and(|c| c != Cost::Free))
            })
            .collect();
        let body_end = src.text.len();
        for (i, &key) in required.iter().enumerate() {
            if out.iter().any(|(_, s)| s.key == key) || misspelt.contains(&key) {
                continue;
            }
            let after = required[..i]
                .iter()
                .rev()
                .find(|k| out.iter().any(|(_, s)| s.key == **k));
            let placement = match after {
                Some(&k) => format!("after `## {}`", labels.label(k)),
                None => "at the start of the text, after the front matter".to_string(),
            };
            // It belongs before the first section present that comes after it.
            let next = headings
                .iter()
                .filter(|(k, _)| *k > key)
                .map(|&(_, at)| at)
                .min();
            let (why, span) = match (key, f_cost_span(d)) {
                (SectionKey::Cost, Some(span)) => {
                    (" (required because `cost` is not \"free\")", span)
                }
                _ => {
                    let at = next.unwrap_or(body_end);
                    ("", at..at)
                }
            };
            let before = match (key, next) {
                (SectionKey::Cost, _) | (_, None) => String::new(),
                (_, Some(at)) => {
                    let k = headings.iter().find(|(_, a)| *a == at).map(|(k, _)| *k);
                    k.map_or(String::new(), |k| {
                        format!(", before `## {}`", labels.label(k))
                    })
                }
            };
            diags.push(
                Diagnostic::error(
                    &src.rel,
                    format!("missing section `## {}`{why}", labels.label(key)),
                )
                .at(&src.text, span)
                .hint(format!(
                    "add `## {}` {placement}{before}",
                    labels.label(key)
                )),
            );
        }
        out.sort_by_key(|(_, s)| s.key);
        out
    }
}

/// The span in the file of the `cost` value, which requires `## Quanto costa`.
fn f_cost_span(d: &Doc<ServiceFront>) -> Option<std::ops::Range<usize>> {
    d.front.cost.as_ref().map(|c| d.span(c))
}
