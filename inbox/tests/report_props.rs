//! Property tests of the small-count rule: no output (HTML, CSV, JSON, the
//! charts) carries a count from 1 to `min_cell - 1`, and no hidden count
//! can be worked out from the published ones. The second is checked by an
//! exhaustive search written here, independent of the suppression's own:
//! for every hidden count, another table exists with the same published
//! numbers, every hidden count in the range its marker says ("<5": 1 to
//! min_cell - 1, "n.d.": min_cell or more) and that count different.

mod register;

use proptest::prelude::*;
use rusqlite::Connection;
use sportello_inbox::contact::{AgeBand, Channel, NewContact, Outcome, UserCategory};
use sportello_inbox::report::suppress::{suppress, Grid, Mark};
use sportello_inbox::report::{Cell, Report};
use sportello_inbox::store;
use time::macros::date;

/// The search tries hidden cells up to the table's largest value plus
/// this: the true table is always among those tried, and trying fewer
/// tables than a reader could only makes the test stricter.
const ABOVE: u64 = 3;

struct Check<'a> {
    g: &'a Grid,
    m: &'a [Vec<Mark>],
    min_cell: u64,
    bound: u64,
    /// Interior cells that are hidden, row by row.
    unknown: Vec<(usize, usize)>,
    value: Vec<Vec<u64>>,
}

impl Check<'_> {
    /// What the markers say (README): "<5" is 1 to min_cell - 1, "n.d." is
    /// at least 1; held stricter here for an "n.d." that is not small (a
    /// reader who guesses it is at least min_cell must not gain by it).
    fn range(&self, i: usize, j: usize) -> (u64, u64) {
        let v = self.g.v[i][j];
        match self.m[i][j] {
            Mark::Small => (1, self.min_cell - 1),
            Mark::Hidden if v >= self.min_cell => (self.min_cell, u64::MAX),
            Mark::Hidden => (1, u64::MAX),
            Mark::Shown => (v, v),
        }
    }

    /// Bounds of a cell: fixed, assigned (index < k), or its range.
    fn bounds(&self, i: usize, j: usize, k: usize) -> (u64, u64) {
        match self.unknown.iter().position(|&u| u == (i, j)) {
            Some(p) if p >= k => {
                let (lo, hi) = self.range(i, j);
                (lo, hi.min(self.bound))
            }
            _ => (self.value[i][j], self.value[i][j]),
        }
    }

    /// Whether every total can still fit, with cells from index k on free.
    fn possible(&self, k: usize) -> bool {
        let (r, c) = (self.g.r, self.g.c);
        let fits = |cells: &mut dyn Iterator<Item = (usize, usize)>, total: (usize, usize)| {
            let (lo, hi) = cells.fold((0u64, 0u64), |(a, b), (i, j)| {
                let (l, h) = self.bounds(i, j, k);
                (a + l, b.saturating_add(h))
            });
            let (tl, th) = self.range(total.0, total.1);
            lo <= th && hi >= tl
        };
        if self.g.row_totals {
            for i in 0..r {
                if !fits(&mut (0..c).map(|j| (i, j)), (i, c)) {
                    return false;
                }
            }
        }
        if self.g.col_totals {
            for j in 0..c {
                if !fits(&mut (0..r).map(|i| (i, j)), (r, j)) {
                    return false;
                }
            }
            if self.g.row_totals
                && !fits(
                    &mut (0..r).flat_map(|i| (0..c).map(move |j| (i, j))),
                    (r, c),
                )
            {
                return false;
            }
        }
        true
    }

    fn entry(&self, (i, j): (usize, usize)) -> u64 {
        let (r, c) = (self.g.r, self.g.c);
        match (i < r, j < c) {
            (true, true) => self.value[i][j],
            (true, false) => (0..c).map(|b| self.value[i][b]).sum(),
            (false, true) => (0..r).map(|a| self.value[a][j]).sum(),
            (false, false) => (0..r)
                .flat_map(|a| (0..c).map(move |b| (a, b)))
                .map(|(a, b)| self.value[a][b])
                .sum(),
        }
    }

    /// Depth-first over the hidden cells, values near the true one first.
    fn search(&mut self, k: usize, target: (usize, usize), truth: u64, budget: &mut u64) -> bool {
        assert!(*budget > 0, "search too long");
        *budget -= 1;
        if !self.possible(k) {
            return false;
        }
        if k == self.unknown.len() {
            return self.entry(target) != truth;
        }
        let (i, j) = self.unknown[k];
        let (lo, hi) = self.range(i, j);
        let t = self.g.v[i][j];
        let (r, c) = (self.g.r, self.g.c);
        let last_in_row = !self.unknown[k + 1..].iter().any(|u| u.0 == i);
        let last_in_col = !self.unknown[k + 1..].iter().any(|u| u.1 == j);
        // The last hidden cell of a line with a published total is that
        // total minus the rest: no need to try the others.
        let forced = if self.g.row_totals && last_in_row && self.m[i][c] == Mark::Shown {
            let rest: u64 = (0..c).filter(|&b| b != j).map(|b| self.value[i][b]).sum();
            Some(self.g.v[i][c].checked_sub(rest))
        } else if self.g.col_totals && last_in_col && self.m[r][j] == Mark::Shown {
            let rest: u64 = (0..r).filter(|&a| a != i).map(|a| self.value[a][j]).sum();
            Some(self.g.v[r][j].checked_sub(rest))
        } else {
            None
        };
        let mut order: Vec<u64> = match forced {
            Some(Some(v)) if v >= lo && v <= hi => vec![v],
            Some(_) => vec![],
            None => (lo..=hi.min(self.bound)).collect(),
        };
        order.sort_by_key(|v| v.abs_diff(t));
        for v in order {
            self.value[i][j] = v;
            if self.search(k + 1, target, truth, budget) {
                self.value[i][j] = t;
                return true;
            }
        }
        self.value[i][j] = t;
        false
    }
}

/// The hidden entries that a reader could work out exactly.
fn recoverable(g: &Grid, m: &[Vec<Mark>], min_cell: u64) -> Vec<(usize, usize)> {
    let unknown: Vec<(usize, usize)> = (0..g.r)
        .flat_map(|i| (0..g.c).map(move |j| (i, j)))
        .filter(|&(i, j)| m[i][j] != Mark::Shown)
        .collect();
    let value: Vec<Vec<u64>> = (0..g.r).map(|i| g.v[i][..g.c].to_vec()).collect();
    let bound = g.v.iter().flatten().copied().max().unwrap_or(0) + ABOVE;
    let mut ch = Check {
        g,
        m,
        min_cell,
        bound,
        unknown,
        value,
    };
    assert!(
        ch.possible(ch.unknown.len()),
        "the true table does not fit its own marks"
    );
    let mut out = Vec::new();
    for (i, row) in m.iter().enumerate() {
        for (j, mark) in row.iter().enumerate() {
            if *mark == Mark::Shown {
                continue;
            }
            let mut budget = 20_000_000;
            if !ch.search(0, (i, j), g.v[i][j], &mut budget) {
                out.push((i, j));
            }
        }
    }
    out
}

fn count() -> impl Strategy<Value = u64> {
    prop_oneof![3 => Just(0u64), 4 => 1u64..5, 3 => 5u64..10]
}

fn grid() -> impl Strategy<Value = (Vec<Vec<u64>>, bool, bool, u64)> {
    (1usize..=3, 1usize..=3).prop_flat_map(|(r, c)| {
        (
            prop::collection::vec(prop::collection::vec(count(), c), r),
            any::<bool>(),
            any::<bool>(),
            3u64..=5,
        )
    })
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn no_small_count_is_published_and_none_can_be_recovered((cells, rt, ct, m) in grid()) {
        let g = Grid::new(cells, rt, ct);
        let marks = suppress(&g, m, &[]);
        for (i, row) in marks.iter().enumerate() {
            for (j, mark) in row.iter().enumerate() {
                let v = g.v[i][j];
                if *mark == Mark::Shown {
                    prop_assert!(v == 0 || v >= m, "{v} published at ({i},{j})");
                } else {
                    prop_assert!(v > 0, "a zero hidden at ({i},{j})");
                }
                if *mark == Mark::Small {
                    prop_assert!(v < m);
                }
            }
        }
        let bad = recoverable(&g, &marks, m);
        prop_assert!(bad.is_empty(), "recoverable {bad:?} in {:?} marks {marks:?}", g.v);
    }
}

#[derive(Debug, Clone)]
struct Gen {
    op: usize,
    day: i64,
    channel: usize,
    category: usize,
    band: usize,
    needs: u8,
    outcome: usize,
    unmet: Option<usize>,
}

fn contact_gen() -> impl Strategy<Value = Gen> {
    (
        0usize..6,
        0i64..60,
        0usize..4,
        0usize..6,
        0usize..5,
        1u8..32,
        0usize..3,
        prop::option::weighted(0.2, 0usize..5),
    )
        .prop_map(
            |(op, day, channel, category, band, needs, outcome, unmet)| Gen {
                op,
                day,
                channel,
                category,
                band,
                needs,
                outcome,
                unmet,
            },
        )
}

fn register_of(gens: &[Gen]) -> (tempfile::TempDir, Connection) {
    let dir = tempfile::tempdir().unwrap();
    let conn = register::make(&dir.path().join("p.sqlite"), 0, 0).unwrap();
    let ops: Vec<i64> = (1..=6).collect();
    for g in gens {
        let c = NewContact {
            day: date!(2025 - 01 - 01) + time::Duration::days(g.day),
            channel: Channel::ALL[g.channel],
            user_category: UserCategory::ALL[g.category],
            age_band: AgeBand::ALL[g.band],
            city_area: "centro".into(),
            need_areas: (0..5)
                .filter(|k| g.needs & (1 << k) != 0)
                .map(|k| register::NEEDS[k].to_string())
                .collect(),
            services: vec![format!("servizio-{:02}", g.band)],
            outcome: Outcome::ALL[g.outcome],
            referral_reference: None,
            unmet_need: g.unmet.map(|k| register::NEEDS[k].to_string()),
        };
        store::contacts::insert_contact(&conn, ops[g.op], &c).unwrap();
    }
    (dir, conn)
}

/// Integers in `text` between tags (`>12<`), as the reader sees them.
fn numbers_between_tags(text: &str, open: &str) -> Vec<u64> {
    text.split(open)
        .skip(1)
        .filter_map(|rest| {
            let inner = &rest[rest.find('>')? + 1..];
            inner[..inner.find('<')?].trim().parse().ok()
        })
        .collect()
}

proptest! {
    // Each case builds a register and searches every small table
    // exhaustively. With a random seed, a rare case takes minutes in a
    // debug build: the suite runs a fixed seed (the same cases, about 5 s);
    // explore others with REPORT_PROPTEST_SEED=N REPORT_PROPTEST_CASES=200
    // cargo test --release --test report_props.
    #![proptest_config(ProptestConfig {
        cases: env_u64("REPORT_PROPTEST_CASES", 24) as u32,
        rng_seed: proptest::test_runner::RngSeed::Fixed(env_u64("REPORT_PROPTEST_SEED", 20261202)),
        ..ProptestConfig::default()
    })]

    #[test]
    fn no_output_of_a_report_carries_a_small_count(gens in prop::collection::vec(contact_gen(), 0..80), m in 3u32..=6) {
        let (_dir, conn) = register_of(&gens);
        let desk = gens.first().filter(|g| g.op % 2 == 0).map(|g| register::DESKS[g.op / 2]);
        let r = Report::build(&conn, date!(2025 - 01 - 01), date!(2025 - 02 - 28), desk, m, &register::names()).unwrap();
        let m = u64::from(m);
        let small = |n: u64| n >= 1 && n < m;
        let json = serde_json::to_value(r.json()).unwrap();
        let mut stack = vec![&json];
        while let Some(v) = stack.pop() {
            match v {
                serde_json::Value::Array(a) => stack.extend(a),
                serde_json::Value::Object(o) => {
                    for (k, v) in o {
                        if !k.ends_with("_hours") && k != "min_cell" {
                            stack.push(v);
                        }
                    }
                }
                serde_json::Value::Number(n) => prop_assert!(!small(n.as_u64().unwrap()), "{n} in the JSON"),
                _ => {}
            }
        }
        for (name, csv) in r.csv_files() {
            for line in csv.lines() {
                let fields: Vec<&str> = line.split(',').collect();
                let skip = if name == "presa-in-carico.csv" { 2 } else { fields.len() };
                for f in fields.iter().skip(1).take(skip) {
                    if let Ok(n) = f.parse::<u64>() {
                        prop_assert!(!small(n), "{n} in {name}: {line}");
                    }
                }
            }
        }
        let html = r.html_document().unwrap();
        for n in numbers_between_tags(&html, "<td class=\"n count\"").into_iter().chain(numbers_between_tags(&html, "<text")) {
            prop_assert!(!small(n), "{n} in the HTML");
        }
        // Every table of the report protects its hidden counts, and a
        // count shared by two tables is hidden in both or in neither.
        let mut shared: std::collections::BTreeMap<String, bool> = Default::default();
        for t in r.all_tables() {
            let marks: Vec<Vec<Mark>> = t.cells.iter().map(|row| row.iter().map(|c| match c {
                Cell::Count(_) => Mark::Shown,
                Cell::Small => Mark::Small,
                Cell::Hidden => Mark::Hidden,
            }).collect()).collect();
            if t.grid.r * t.grid.c <= 16 {
                let bad = recoverable(&t.grid, &marks, m);
                prop_assert!(bad.is_empty(), "{}: recoverable {bad:?} in {:?} {marks:?}", t.id, t.grid.v);
            }
            for (at, key) in &t.keys {
                let hidden = marks[at.0][at.1] != Mark::Shown;
                if let Some(h) = shared.insert(key.clone(), hidden) {
                    prop_assert_eq!(h, hidden, "{} differs in {}", key, t.id);
                }
            }
        }
    }
}
