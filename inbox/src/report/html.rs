//! The report as HTML (askama): each table with its chart and a sentence
//! written from its published numbers; no script, nothing from elsewhere.

use askama::Template;
use time::Date;

use super::charts::{self, Bar};
use super::export::round1;
use super::table::{Cell, Table};
use super::{Report, ReportError};

const MONTHS: [&str; 12] = [
    "gennaio",
    "febbraio",
    "marzo",
    "aprile",
    "maggio",
    "giugno",
    "luglio",
    "agosto",
    "settembre",
    "ottobre",
    "novembre",
    "dicembre",
];

/// "1 gennaio 2026".
pub fn long_date(d: Date) -> String {
    format!(
        "{} {} {}",
        d.day(),
        MONTHS[usize::from(u8::from(d.month())) - 1],
        d.year()
    )
}

pub const CSS: &str = include_str!("report.css");

struct RowView {
    label: String,
    cells: Vec<String>,
    /// Non-count cells after the counts (the change in percent).
    extra: Vec<String>,
}

struct TableView {
    id: String,
    title: String,
    summary: String,
    svg: String,
    head: String,
    headers: Vec<String>,
    extra_headers: Vec<String>,
    rows: Vec<RowView>,
    totals: Option<Vec<String>>,
}

#[derive(Template)]
#[template(
    ext = "html",
    source = r##"<section class="report" aria-labelledby="report-title">
<h{{ top }} id="report-title" class="title">{{ title }}</h{{ top }}>
<p class="period">{{ period }}</p>
<p class="note">{{ note }}</p>
<nav aria-label="Tabelle del resoconto"><ol>
{%- for t in tables %}<li><a href="#{{ t.id }}">{{ t.title }}</a></li>{% endfor -%}
</ol></nav>
{%- for t in tables %}
<section class="block" id="{{ t.id }}" aria-labelledby="{{ t.id }}-h">
<h{{ top + 1 }} id="{{ t.id }}-h" class="block-title">{{ t.title }}</h{{ top + 1 }}>
<p class="summary" id="{{ t.id }}-s">{{ t.summary }}</p>
<div class="pair">
<figure class="chart">{{ t.svg|safe }}</figure>
<div class="scroll" tabindex="0" role="region" aria-labelledby="{{ t.id }}-c"><table>
<caption id="{{ t.id }}-c">{{ t.title }}: i dati del grafico</caption>
<thead><tr><th scope="col">{{ t.head }}</th>{% for h in t.headers %}<th scope="col" class="n">{{ h }}</th>{% endfor %}{% for h in t.extra_headers %}<th scope="col" class="n">{{ h }}</th>{% endfor %}</tr></thead>
<tbody>
{%- for r in t.rows %}
<tr><th scope="row">{{ r.label }}</th>{% for c in r.cells %}<td class="n count">{{ c }}</td>{% endfor %}{% for x in r.extra %}<td class="n">{{ x }}</td>{% endfor %}</tr>
{%- endfor %}
</tbody>
{%- if let Some(tot) = t.totals %}
<tfoot><tr><th scope="row">Totale</th>{% for c in tot %}<td class="n count">{{ c }}</td>{% endfor %}{% for h in t.extra_headers %}<td></td>{% endfor %}</tr></tfoot>
{%- endif %}
</table></div>
</div>
</section>
{%- endfor %}
<p class="generated">Generato il {{ generated }} (UTC) da sportello-inbox.</p>
</section>"##
)]
struct Section<'a> {
    /// The level of the report's own heading: 1 in the file, 2 inside a
    /// page that has its own title.
    top: u8,
    title: String,
    period: String,
    note: String,
    tables: &'a [TableView],
    generated: String,
}

#[derive(Template)]
#[template(
    ext = "html",
    source = r#"<!DOCTYPE html>
<html lang="it">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>{{ title }}</title>
<style>{{ css|safe }}</style>
</head>
<body>
<main>
{{ body|safe }}
</main>
</body>
</html>
"#
)]
struct Document<'a> {
    title: &'a str,
    css: &'a str,
    body: &'a str,
}

fn title(r: &Report) -> String {
    let t = match &r.desk {
        Some(d) => format!("Resoconto dello sportello {d}"),
        None => "Resoconto degli sportelli".to_string(),
    };
    match &r.municipality {
        Some(m) => format!("{t} – {m}"),
        None => t,
    }
}

fn render(t: &impl Template) -> Result<String, ReportError> {
    t.render().map_err(|e| ReportError::Render(e.to_string()))
}

pub fn section(r: &Report) -> Result<String, ReportError> {
    section_at(r, 1)
}

/// The section under a page's own `<h1>`: headings one level down.
pub fn section_in_page(r: &Report) -> Result<String, ReportError> {
    section_at(r, 2)
}

fn section_at(r: &Report, top: u8) -> Result<String, ReportError> {
    let m = r.min_cell;
    let tables: Vec<TableView> = r
        .tables
        .iter()
        .map(|t| view(r, t))
        .chain(std::iter::once(care_view(r)))
        .collect();
    render(&Section {
        top,
        title: title(r),
        period: format!(
            "Contatti registrati e segnalazioni inviate {}; i bisogni sono confrontati con il periodo \
             precedente della stessa durata, dal {} al {}.",
            r.period_text(),
            long_date(r.prev_from),
            long_date(r.prev_to)
        ),
        note: format!(
            "Per riservatezza i numeri da 1 a {} sono indicati come «<{m}»; «n.d.» indica un \
             numero (almeno 1) non divulgato perché i totali non permettano di ricavare quelli piccoli.",
            m - 1
        ),
        tables: &tables,
        generated: r.generated_at.replace('T', " ").trim_end_matches('Z').to_string(),
    })
}

pub fn document(r: &Report) -> Result<String, ReportError> {
    let body = section(r)?;
    let t = title(r);
    render(&Document {
        title: &format!("{t} {}", r.period_text()),
        css: CSS,
        body: &body,
    })
}

fn texts(cells: &[Cell], m: u64) -> Vec<String> {
    cells.iter().map(|c| c.text(m)).collect()
}

/// The cell that stands for row `i` in the chart: its total, or its only count.
fn row_cell(t: &Table, i: usize) -> Cell {
    t.row_total_at(i)
        .map_or(Cell::Hidden, |(a, b)| t.cell(a, b))
}

fn grand(t: &Table) -> Option<u64> {
    t.grand_at().and_then(|(a, b)| t.cell(a, b).count())
}

fn pct(part: u64, whole: u64) -> String {
    format!("{}%", ((part as f64) * 100.0 / (whole as f64)).round())
}

/// The largest published value among (label, cell).
fn top(items: &[(String, Cell)]) -> Option<(&str, u64)> {
    items
        .iter()
        .filter_map(|(l, c)| c.count().map(|n| (l.as_str(), n)))
        .filter(|(_, n)| *n > 0)
        .max_by_key(|(_, n)| *n)
}

fn view(r: &Report, t: &Table) -> TableView {
    let m = r.min_cell;
    let confronto = t.id == "bisogni-confronto";
    let by_channel = t.id == "contatti-mese-canale";
    let (bars, series): (Vec<Bar>, Vec<String>) = if confronto {
        (
            t.rows_with_cells()
                .map(|(l, c)| Bar {
                    label: l.to_string(),
                    cells: c[..2].to_vec(),
                })
                .collect(),
            t.columns.clone(),
        )
    } else if by_channel && t.col_totals {
        (
            t.columns
                .iter()
                .enumerate()
                .map(|(j, l)| Bar {
                    label: l.clone(),
                    cells: vec![t.cell(t.grid.r, j)],
                })
                .collect(),
            vec![],
        )
    } else {
        (
            (0..t.rows.len())
                .map(|i| Bar {
                    label: t.rows[i].clone(),
                    cells: vec![row_cell(t, i)],
                })
                .collect(),
            vec![],
        )
    };
    let items: Vec<(String, Cell)> = bars
        .iter()
        .map(|b| (b.label.clone(), *b.cells.last().unwrap_or(&Cell::Hidden)))
        .collect();
    let summary = summary(t, &items, m);
    let svg = charts::bars(&bars, &series, m, &format!("{}-s", t.id));
    let rows = t
        .rows_with_cells()
        .map(|(label, cells)| RowView {
            label: label.to_string(),
            cells: texts(cells, m),
            extra: if confronto {
                vec![change(cells[0], cells[1])]
            } else {
                vec![]
            },
        })
        .collect();
    TableView {
        id: t.id.to_string(),
        title: t.title.clone(),
        summary,
        svg,
        head: t.row_head.clone(),
        headers: t.headers(),
        extra_headers: if confronto {
            vec!["Variazione".into()]
        } else {
            vec![]
        },
        rows,
        totals: t.totals_row().map(|c| texts(c, m)),
    }
}

/// The change from the previous period, when both counts are published.
fn change(prev: Cell, now: Cell) -> String {
    match (prev.count(), now.count()) {
        (Some(p), Some(n)) if p > 0 => {
            let d = ((n as f64 - p as f64) * 100.0 / p as f64).round();
            if d > 0.0 {
                format!("+{d}%")
            } else {
                format!("{d}%")
            }
        }
        _ => "n.d.".into(),
    }
}

/// One sentence from the published numbers (WCAG 1.1.1: what the chart shows).
fn summary(t: &Table, items: &[(String, Cell)], m: u64) -> String {
    let Some((label, n)) = top(items) else {
        return if items.iter().all(|(_, c)| *c == Cell::Count(0)) {
            "Nessun dato nel periodo.".into()
        } else {
            format!(
                "Tutti i valori sono inferiori a {m} o non divulgati: il grafico non li mostra."
            )
        };
    };
    let whole = grand(t);
    let share = |what: &str| match whole {
        Some(g) if g > 0 => format!(" su {g} {what} ({})", pct(n, g)),
        _ => String::new(),
    };
    match t.id {
        "contatti-mese-sportello" => {
            let desk = (0..t.columns.len())
                .filter_map(|j| {
                    let (a, b) = t.col_total_at(j)?;
                    Some((t.columns[j].as_str(), t.cell(a, b).count()?))
                })
                .max_by_key(|x| x.1);
            let desk = desk.map_or(String::new(), |(d, k)| {
                let of = whole
                    .filter(|g| *g > 0)
                    .map_or(String::new(), |g| format!(", il {} del totale", pct(k, g)));
                format!("; lo sportello con più contatti è «{d}» con {k}{of}")
            });
            format!("Il mese con più contatti è il {label} con {n}{desk}.")
        }
        "contatti-mese-canale" => format!(
            "Il canale più usato è «{label}» con {n} contatti{}.",
            share("")
        ),
        "tipologia-utenza" => format!(
            "La tipologia di utenza più frequente è «{label}» con {n} contatti{}.",
            share("")
        ),
        "fasce-eta" => format!(
            "La fascia d'età più frequente è {label} anni, con {n} contatti{}.",
            share("")
        ),
        "esiti" => format!(
            "L'esito più frequente è «{label}», per {n} contatti{}.",
            share("")
        ),
        "bisogni" => format!(
            "L'area di bisogno più citata è «{label}» con {n} menzioni{}.",
            share("")
        ),
        "bisogni-confronto" => {
            let row = t.rows.iter().position(|r| r == label).unwrap_or(0);
            let ch = change(t.cell(row, 0), t.cell(row, 1));
            if ch == "n.d." {
                format!("Nel periodo l'area più citata è «{label}» con {n} menzioni.")
            } else {
                format!("Nel periodo l'area più citata è «{label}» con {n} menzioni ({ch} rispetto al periodo precedente).")
            }
        }
        "servizi" => format!(
            "Il servizio a cui le persone sono state più orientate è «{label}» ({n} contatti)."
        ),
        "bisogni-non-coperti" => format!(
            "Il bisogno non coperto più frequente riguarda l'area «{label}» ({n} contatti{}).",
            share("")
        ),
        "segnalazioni-urgenza" => format!(
            "Delle segnalazioni inviate, la maggior parte è di urgenza «{label}»: {n}{}.",
            share("")
        ),
        "segnalazioni-stato" => format!(
            "Lo stato più frequente delle segnalazioni è «{label}»: {n}{}.",
            share("")
        ),
        _ => format!("Il valore più alto è «{label}» con {n}{}.", share("")),
    }
}

fn care_view(r: &Report) -> TableView {
    let m = r.min_cell;
    let t = &r.care_table;
    let h = |v: Option<f64>| {
        v.map_or_else(
            || "n.d.".to_string(),
            |h| format!("{:.1}", round1(h)).replace('.', ","),
        )
    };
    let overall = r.care.last();
    let summary = match overall {
        Some(c) if c.median_hours.is_some() => format!(
            "{} segnalazioni prese in carico; il tempo dall'invio alla presa in carico è stato di {} ore \
             a metà dei casi (mediana) e di al più {} ore per nove casi su dieci (90° percentile).",
            c.taken.text(m),
            h(c.median_hours),
            h(c.p90_hours)
        ),
        _ => "Nessun tempo di presa in carico pubblicabile nel periodo.".into(),
    };
    let bars: Vec<Bar> = r
        .care
        .iter()
        .take(r.desks.len())
        .map(|c| Bar {
            label: c.label.clone(),
            cells: vec![c.taken],
        })
        .collect();
    TableView {
        id: t.id.to_string(),
        title: "Segnalazioni prese in carico e tempi di presa in carico".into(),
        svg: charts::bars(&bars, &[], m, &format!("{}-s", t.id)),
        summary,
        head: "Sportello".into(),
        headers: vec!["Prese in carico".into()],
        extra_headers: vec!["Ore, mediana".into(), "Ore, 90° percentile".into()],
        rows: r
            .care
            .iter()
            .map(|c| RowView {
                label: c.label.clone(),
                cells: vec![c.taken.text(m)],
                extra: vec![h(c.median_hours), h(c.p90_hours)],
            })
            .collect(),
        totals: None,
    }
}
