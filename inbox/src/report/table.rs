//! A table of the report: labelled counts with their totals, suppressed.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::suppress::{suppress, Grid, Mark};

/// One published count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    Count(u64),
    /// 1 to `min_cell - 1`: "<5".
    Small,
    /// Hidden so that the totals cannot reveal a small count: "n.d.".
    Hidden,
}

impl Cell {
    pub fn count(self) -> Option<u64> {
        match self {
            Cell::Count(n) => Some(n),
            _ => None,
        }
    }

    /// The text in HTML and CSV: the number, "<5" or "n.d.".
    pub fn text(self, min_cell: u64) -> String {
        match self {
            Cell::Count(n) => n.to_string(),
            Cell::Small => format!("<{min_cell}"),
            Cell::Hidden => "n.d.".into(),
        }
    }
}

/// In JSON: a number, or the string shown instead of it.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum JsonCell {
    Count(u64),
    Text(String),
}

/// A table as built from the database: raw counts, not yet published.
#[derive(Debug, Clone)]
pub struct Table {
    /// File name (without `.csv`) and HTML id.
    pub id: &'static str,
    pub title: String,
    /// Header of the label column.
    pub row_head: String,
    pub rows: Vec<String>,
    pub columns: Vec<String>,
    /// A "Totale" column and a "Totale" row.
    pub row_totals: bool,
    pub col_totals: bool,
    /// The raw counts, small ones included: for checks only, never to be
    /// shown (publish `cells`).
    pub grid: Grid,
    /// Entries equal to an entry of another table (the contacts of a desk,
    /// of a month, ...): one key each, hidden in every table if in any.
    pub keys: BTreeMap<(usize, usize), String>,
    pub cells: Vec<Vec<Cell>>,
}

impl Table {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: &'static str,
        title: impl Into<String>,
        row_head: impl Into<String>,
        rows: Vec<String>,
        columns: Vec<String>,
        counts: Vec<Vec<u64>>,
        row_totals: bool,
        col_totals: bool,
    ) -> Table {
        let row_totals = row_totals && columns.len() > 1;
        let col_totals = col_totals && rows.len() > 1;
        let grid = Grid::new(counts, row_totals, col_totals);
        let cells = grid
            .v
            .iter()
            .map(|r| r.iter().map(|&n| Cell::Count(n)).collect())
            .collect();
        Table {
            id,
            title: title.into(),
            row_head: row_head.into(),
            rows,
            columns,
            row_totals,
            col_totals,
            grid,
            keys: BTreeMap::new(),
            cells,
        }
    }

    /// Position of the total of row `i`: the "Totale" column, or the only
    /// column of a one-column table (its own total).
    pub fn row_total_at(&self, i: usize) -> Option<(usize, usize)> {
        if self.row_totals {
            Some((i, self.grid.c))
        } else {
            (self.grid.c == 1).then_some((i, 0))
        }
    }

    /// Position of the total of column `j` (the only row of a one-row table).
    pub fn col_total_at(&self, j: usize) -> Option<(usize, usize)> {
        if self.col_totals {
            Some((self.grid.r, j))
        } else {
            (self.grid.r == 1).then_some((0, j))
        }
    }

    /// The grand total's position, when the table has one.
    pub fn grand_at(&self) -> Option<(usize, usize)> {
        let i = self.col_total_at(0)?.0;
        let j = self.row_total_at(0)?.1;
        Some((i, j))
    }

    pub fn key(&mut self, at: (usize, usize), key: impl Into<String>) {
        self.keys.insert(at, key.into());
    }

    /// The published value at (i, j) of the bordered grid.
    pub fn cell(&self, i: usize, j: usize) -> Cell {
        self.cells[i][j]
    }

    pub fn rows_with_cells(&self) -> impl Iterator<Item = (&str, &[Cell])> {
        self.rows
            .iter()
            .map(String::as_str)
            .zip(self.cells.iter().map(Vec::as_slice))
    }

    /// The "Totale" row, if any.
    pub fn totals_row(&self) -> Option<&[Cell]> {
        self.col_totals.then(|| self.cells[self.grid.r].as_slice())
    }

    /// Headers of the count columns, "Totale" included.
    pub fn headers(&self) -> Vec<String> {
        let mut h = self.columns.clone();
        if self.row_totals {
            h.push("Totale".into());
        }
        h
    }
}

/// Suppresses every table; an entry whose key is hidden in one table is
/// hidden in all, again until nothing changes.
pub fn suppress_all(tables: &mut [Table], min_cell: u64) {
    let mut hidden_keys: BTreeSet<String> = BTreeSet::new();
    loop {
        let before = hidden_keys.len();
        for t in tables.iter_mut() {
            let forced: Vec<(usize, usize)> = t
                .keys
                .iter()
                .filter(|(_, k)| hidden_keys.contains(*k))
                .map(|(at, _)| *at)
                .collect();
            let marks = suppress(&t.grid, min_cell, &forced);
            for (at, k) in &t.keys {
                if marks[at.0][at.1] != Mark::Shown {
                    hidden_keys.insert(k.clone());
                }
            }
            t.cells = marks
                .iter()
                .zip(&t.grid.v)
                .map(|(mr, vr)| {
                    mr.iter()
                        .zip(vr)
                        .map(|(m, &v)| match m {
                            Mark::Shown => Cell::Count(v),
                            Mark::Small => Cell::Small,
                            Mark::Hidden => Cell::Hidden,
                        })
                        .collect()
                })
                .collect();
        }
        if hidden_keys.len() == before {
            break;
        }
    }
}
