//! The counts of the report, straight from SQLite: contacts by day, their
//! needs and services, the referrals and their states.

use std::collections::HashMap;

use rusqlite::Connection;
use time::Date;

use super::table::Table;
use super::{Names, ReportError};
use crate::contact::{format_date, AgeBand, Channel, Outcome, UserCategory};

/// Who and when: the period, the previous one of the same length, the desks.
#[derive(Debug, Clone)]
pub struct Scope {
    pub from: Date,
    pub to: Date,
    pub prev_from: Date,
    pub prev_to: Date,
    /// `Some`: the report of one desk.
    pub desk: Option<String>,
    /// The columns: every desk, or the one asked for.
    pub desks: Vec<String>,
    /// `Some`: only this municipality's referrals and contacts (see
    /// [`super::Whose`]).
    pub municipality: Option<super::Whose>,
}

impl Scope {
    fn single(&self) -> bool {
        self.desk.is_some() || self.desks.len() == 1
    }

    /// The key of a desk's total in tables of `what` (the grand total when
    /// the report has one desk).
    fn desk_key(&self, what: &str, j: usize) -> String {
        if self.single() {
            format!("{what}:all")
        } else {
            format!("{what}:desk:{}", self.desks[j])
        }
    }
}

type Counts = HashMap<(String, String), u64>;

/// The parameters of the scope's queries: ?1 from, ?2 to, ?3 desk, ?4
/// municipality, ?5 its own desks as `|a|b|`; a query binds the first
/// ones it uses.
fn bind<'a>(
    stmt: &rusqlite::Statement<'_>,
    all: &'a [&'a dyn rusqlite::ToSql; 5],
) -> &'a [&'a dyn rusqlite::ToSql] {
    &all[..stmt.parameter_count().min(5)]
}

/// Runs `sql` (three columns: a, b, count) with the scope's parameters
/// (see [`bind`]) over the days `from` to `to`.
fn counts(
    conn: &Connection,
    sql: &str,
    s: &Scope,
    from: Date,
    to: Date,
) -> Result<Counts, ReportError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let (from, to) = (format_date(from), format_date(to));
    let (muni, own) = s.municipality_params();
    let all: [&dyn rusqlite::ToSql; 5] = [&from, &to, &s.desk, &muni, &own];
    let args = bind(&stmt, &all);
    let rows = stmt.query_map(args, |r| {
        Ok((
            (r.get::<_, String>(0)?, r.get::<_, String>(1)?),
            r.get::<_, i64>(2)?,
        ))
    })?;
    let mut out = Counts::new();
    for row in rows {
        let (k, n) = row?;
        *out.entry(k).or_default() += u64::try_from(n).unwrap_or(0);
    }
    Ok(out)
}

/// A contact counts for a municipality when its desk refers only there
/// or when it led to one of the municipality's referrals.
const IN_SCOPE: &str = "c.day BETWEEN ?1 AND ?2 AND (?3 IS NULL OR c.desk = ?3)
     AND (?4 IS NULL OR instr(?5, '|' || c.desk || '|') > 0
          OR c.referral_reference IN (SELECT reference FROM referrals WHERE municipality = ?4))";

/// The referrals sent in the days ?1 to ?2, of desk ?3 and municipality ?4.
const R_SCOPE: &str = "substr(r.created_at, 1, 10) BETWEEN ?1 AND ?2
     AND (?3 IS NULL OR r.desk = ?3) AND (?4 IS NULL OR r.municipality = ?4)";

impl Scope {
    /// ?4 and ?5: the municipality's slug and its own desks as `|a|b|`.
    fn municipality_params(&self) -> (Option<String>, String) {
        match &self.municipality {
            Some(w) => (Some(w.slug.clone()), format!("|{}|", w.exclusive.join("|"))),
            None => (None, String::new()),
        }
    }
}

/// The per-contact counts of the scope, in one pass over the contacts:
/// (desk, value) for each column below, and (month, channel).
fn contact_counts(
    conn: &Connection,
    s: &Scope,
) -> Result<HashMap<&'static str, Counts>, ReportError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT c.desk, substr(c.day, 1, 7), c.channel, c.user_category, c.age_band, c.outcome,
                c.unmet_need
         FROM contacts c WHERE {IN_SCOPE}"
    ))?;
    let (from, to) = (format_date(s.from), format_date(s.to));
    let (muni, own) = s.municipality_params();
    let all: [&dyn rusqlite::ToSql; 5] = [&from, &to, &s.desk, &muni, &own];
    let args = bind(&stmt, &all);
    let mut rows = stmt.query(args)?;
    let mut out: HashMap<&'static str, Counts> = HashMap::new();
    let mut add = |what: &'static str, a: &str, b: &str| {
        *out.entry(what)
            .or_default()
            .entry((a.to_string(), b.to_string()))
            .or_default() += 1;
    };
    while let Some(r) = rows.next()? {
        let text =
            |i: usize| -> rusqlite::Result<Option<&str>> { Ok(r.get_ref(i)?.as_str_or_null()?) };
        let desk = text(0)?.unwrap_or_default();
        let month = text(1)?.unwrap_or_default();
        add("month", desk, month);
        let channel = text(2)?.unwrap_or_default();
        add("month_channel", month, channel);
        for (i, what) in [
            (3, "user_category"),
            (4, "age_band"),
            (5, "outcome"),
            (6, "unmet_need"),
        ] {
            if let Some(v) = text(i)? {
                add(what, desk, v);
            }
        }
    }
    Ok(out)
}

fn child_by(
    conn: &Connection,
    s: &Scope,
    table: &str,
    col: &str,
    from: Date,
    to: Date,
) -> Result<Counts, ReportError> {
    let sql = format!(
        "SELECT c.desk, x.{col}, COUNT(*) FROM contacts c JOIN {table} x ON x.contact_id = c.id
         WHERE {IN_SCOPE} GROUP BY 1, 2"
    );
    counts(conn, &sql, s, from, to)
}

/// Rows (slug, label) by desks from (desk, slug) counts; slugs found in the
/// data but not in `rows` (a list changed since) are added at the end.
fn by_desk(
    s: &Scope,
    mut rows: Vec<(String, String)>,
    c: &Counts,
) -> (Vec<String>, Vec<String>, Vec<Vec<u64>>) {
    let mut extra: Vec<&String> = c
        .keys()
        .map(|(_, k)| k)
        .filter(|k| !rows.iter().any(|r| &r.0 == *k))
        .collect();
    extra.sort();
    extra.dedup();
    rows.extend(extra.into_iter().map(|k| (k.clone(), k.clone())));
    let grid = rows
        .iter()
        .map(|(slug, _)| {
            s.desks
                .iter()
                .map(|d| c.get(&(d.clone(), slug.clone())).copied().unwrap_or(0))
                .collect()
        })
        .collect();
    let slugs = rows.iter().map(|r| r.0.clone()).collect();
    (slugs, rows.into_iter().map(|r| r.1).collect(), grid)
}

fn pairs<T: Copy>(
    all: &[T],
    slug: fn(T) -> &'static str,
    label: fn(T) -> &'static str,
) -> Vec<(String, String)> {
    all.iter()
        .map(|&v| (slug(v).to_string(), label(v).to_string()))
        .collect()
}

/// Keys of the desk totals and the grand total of a desk table.
fn key_desks(t: &mut Table, s: &Scope, what: &str) {
    for j in 0..s.desks.len() {
        if let Some(at) = t.col_total_at(j) {
            t.key(at, s.desk_key(what, j));
        }
    }
    if let Some(at) = t.grand_at() {
        t.key(at, format!("{what}:all"));
    }
}

fn desk_table(
    id: &'static str,
    title: &str,
    head: &str,
    s: &Scope,
    rows: Vec<(String, String)>,
    c: &Counts,
    col_totals: bool,
) -> (Table, Vec<String>) {
    let (slugs, labels, grid) = by_desk(s, rows, c);
    let t = Table::new(
        id,
        title,
        head,
        labels,
        s.desks.clone(),
        grid,
        true,
        col_totals,
    );
    (t, slugs)
}

/// The months from `from` to `to` as YYYY-MM.
pub fn months(from: Date, to: Date) -> Vec<String> {
    let (mut y, mut m) = (from.year(), u8::from(from.month()));
    let mut out = Vec::new();
    while (y, m) <= (to.year(), u8::from(to.month())) {
        out.push(format!("{y:04}-{m:02}"));
        (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    }
    out
}

/// Every count table of the report, raw (not yet suppressed), in order.
pub fn tables(conn: &Connection, s: &Scope, names: &Names) -> Result<Vec<Table>, ReportError> {
    let mut out = Vec::new();
    let months = months(s.from, s.to);
    let month_rows: Vec<(String, String)> = months.iter().map(|m| (m.clone(), m.clone())).collect();

    let mut per_contact = contact_counts(conn, s)?;
    let mut take = |what: &str| per_contact.remove(what).unwrap_or_default();
    if !s.single() {
        let c = take("month");
        let (mut t, slugs) = desk_table(
            "contatti-mese-sportello",
            "Contatti per mese e sportello",
            "Mese",
            s,
            month_rows.clone(),
            &c,
            true,
        );
        key_desks(&mut t, s, "contacts");
        for (i, m) in slugs.iter().enumerate() {
            if let Some(at) = t.row_total_at(i) {
                t.key(at, format!("contacts:month:{m}"));
            }
        }
        out.push(t);
    }

    // Month by channel, all desks of the scope together.
    let by_month = take("month_channel");
    let channels = pairs(Channel::ALL, Channel::slug, Channel::label);
    let grid = months
        .iter()
        .map(|m| {
            channels
                .iter()
                .map(|(ch, _)| by_month.get(&(m.clone(), ch.clone())).copied().unwrap_or(0))
                .collect()
        })
        .collect();
    let mut t = Table::new(
        "contatti-mese-canale",
        "Contatti per mese e canale",
        "Mese",
        months.clone(),
        channels.iter().map(|c| c.1.clone()).collect(),
        grid,
        true,
        true,
    );
    for (i, m) in months.iter().enumerate() {
        if let Some(at) = t.row_total_at(i) {
            t.key(at, format!("contacts:month:{m}"));
        }
    }
    if let Some(at) = t.grand_at() {
        t.key(at, "contacts:all");
    }
    out.push(t);

    for (id, title, head, expr, rows) in [
        (
            "tipologia-utenza",
            "Contatti per tipologia di utenza",
            "Tipologia di utenza",
            "user_category",
            pairs(UserCategory::ALL, UserCategory::slug, UserCategory::label),
        ),
        (
            "fasce-eta",
            "Contatti per fascia d'età",
            "Fascia d'età",
            "age_band",
            pairs(AgeBand::ALL, AgeBand::slug, AgeBand::label),
        ),
        (
            "esiti",
            "Esiti dei contatti",
            "Esito",
            "outcome",
            pairs(Outcome::ALL, Outcome::slug, Outcome::label),
        ),
    ] {
        let c = take(expr);
        let (mut t, _) = desk_table(id, title, head, s, rows, &c, true);
        key_desks(&mut t, s, "contacts");
        out.push(t);
    }

    // Needs: a contact may name several, so the totals count mentions.
    let needs = names.need_rows();
    let c = child_by(conn, s, "contact_needs", "need_area", s.from, s.to)?;
    let (mut t, slugs) = desk_table(
        "bisogni",
        "Bisogni manifestati per area (menzioni)",
        "Area di bisogno",
        s,
        needs.clone(),
        &c,
        true,
    );
    key_desks(&mut t, s, "needs");
    for (i, n) in slugs.iter().enumerate() {
        if let Some(at) = t.row_total_at(i) {
            t.key(at, format!("needs:area:{n}"));
        }
    }
    let labels = t.rows.clone();
    out.push(t);
    let prev = child_by(
        conn,
        s,
        "contact_needs",
        "need_area",
        s.prev_from,
        s.prev_to,
    )?;
    let total = |c: &Counts, slug: &str| {
        c.iter()
            .filter(|((_, k), _)| k == slug)
            .map(|(_, n)| n)
            .sum::<u64>()
    };
    let grid = slugs
        .iter()
        .map(|n| vec![total(&prev, n), total(&c, n)])
        .collect();
    let mut t = Table::new(
        "bisogni-confronto",
        "Bisogni per area: confronto con il periodo precedente",
        "Area di bisogno",
        labels,
        vec!["Periodo precedente".into(), "Periodo del resoconto".into()],
        grid,
        false,
        true,
    );
    for (i, n) in slugs.iter().enumerate() {
        t.key((i, 1), format!("needs:area:{n}"));
    }
    if let Some(at) = t.col_total_at(1) {
        t.key(at, "needs:all");
    }
    out.push(t);

    // The ten services people were most oriented to (in the whole scope).
    let c = child_by(conn, s, "contact_services", "service", s.from, s.to)?;
    let mut totals: HashMap<&str, u64> = HashMap::new();
    for ((_, k), n) in &c {
        *totals.entry(k.as_str()).or_default() += n;
    }
    let mut top: Vec<(&str, u64)> = totals.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    top.truncate(10);
    let c: Counts = c
        .iter()
        .filter(|((_, k), _)| top.iter().any(|t| t.0 == k))
        .map(|(k, n)| (k.clone(), *n))
        .collect();
    let rows = top
        .iter()
        .map(|(slug, _)| (slug.to_string(), names.service(slug)))
        .collect();
    let (t, _) = desk_table(
        "servizi",
        "I dieci servizi a cui le persone sono state più orientate",
        "Servizio",
        s,
        rows,
        &c,
        false,
    );
    out.push(t);

    let c = take("unmet_need");
    let (t, _) = desk_table(
        "bisogni-non-coperti",
        "Bisogni non coperti per area",
        "Area di bisogno",
        s,
        needs,
        &c,
        true,
    );
    out.push(t);

    // Referrals sent in the period, by urgency and by their current state.
    let r_scope = R_SCOPE;
    let c = counts(
        conn,
        &format!(
            "SELECT r.desk, r.urgency, COUNT(*) FROM referrals r WHERE {r_scope} GROUP BY 1, 2"
        ),
        s,
        s.from,
        s.to,
    )?;
    let rows = crate::kinds::Urgency::ALL
        .iter()
        .map(|u| (u.slug().to_string(), u.label().to_string()))
        .collect();
    let (mut t, _) = desk_table(
        "segnalazioni-urgenza",
        "Segnalazioni inviate per urgenza",
        "Urgenza",
        s,
        rows,
        &c,
        true,
    );
    key_desks(&mut t, s, "referrals");
    out.push(t);
    let c = counts(
        conn,
        &format!(
            "SELECT r.desk, COALESCE((SELECT e.state FROM care_events e WHERE e.referral_id = r.id
                 ORDER BY e.id DESC LIMIT 1), 'in_attesa'), COUNT(*)
             FROM referrals r WHERE {r_scope} GROUP BY 1, 2"
        ),
        s,
        s.from,
        s.to,
    )?;
    let mut rows = vec![("in_attesa".to_string(), "In attesa".to_string())];
    rows.extend(
        crate::care::State::ALL
            .iter()
            .map(|st| (st.slug().to_string(), st.label().to_string())),
    );
    let (mut t, _) = desk_table(
        "segnalazioni-stato",
        "Segnalazioni per stato attuale",
        "Stato",
        s,
        rows,
        &c,
        true,
    );
    key_desks(&mut t, s, "referrals");
    out.push(t);
    Ok(out)
}
