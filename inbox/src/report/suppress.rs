//! Small counts never leave the server.
//!
//! A table is a grid of counts with, optionally, a "Totale" column (row
//! totals) and a "Totale" row (column totals, and the grand total when both
//! exist). Each row with its total is an equation the reader can solve, and
//! so is each column with its total.
//!
//! 1. Primary suppression: every count from 1 to `min_cell - 1` (interior or
//!    total) becomes [`Mark::Small`], shown "<5". Zero stays zero.
//! 2. Secondary suppression: more counts are hidden ([`Mark::Hidden`],
//!    shown "n.d.") until every hidden count is *protected*: there is
//!    another table, with the same published numbers and every hidden count
//!    in its range (see [`range`]), where that count differs. Such a table
//!    is found by moving +1/-1 along a closed path of hidden counts that
//!    keeps every published total. An unprotected count gets a partner
//!    hidden in its row or column (the smallest count there, preferring
//!    cells to totals); when nothing is left to hide, a "<5" becomes "n.d."
//!    (e.g. two cells of 1 under a total "<5": the total would say both are 1).

/// What a count becomes in the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Mark {
    Shown,
    /// From 1 to `min_cell - 1`.
    Small,
    /// At least `min_cell`, hidden so that a total cannot reveal a small one.
    Hidden,
}

/// The bordered grid: `r` rows and `c` columns of cells, then the total
/// column (index `c`) if `row_totals` and the totals row (index `r`) if
/// `col_totals`. `v[i][j]` holds every value, totals included.
#[derive(Debug, Clone)]
pub struct Grid {
    pub r: usize,
    pub c: usize,
    pub row_totals: bool,
    pub col_totals: bool,
    pub v: Vec<Vec<u64>>,
}

impl Grid {
    /// Adds the totals to `cells` (r rows of c counts).
    pub fn new(cells: Vec<Vec<u64>>, row_totals: bool, col_totals: bool) -> Grid {
        let r = cells.len();
        let c = cells.first().map_or(0, Vec::len);
        let mut v = cells;
        if row_totals {
            for row in &mut v {
                row.push(row.iter().sum());
            }
        }
        if col_totals {
            let width = c + usize::from(row_totals);
            let totals = (0..width)
                .map(|j| v.iter().map(|row| row[j]).sum())
                .collect();
            v.push(totals);
        }
        Grid {
            r,
            c,
            row_totals,
            col_totals,
            v,
        }
    }

    pub fn rows(&self) -> usize {
        self.r + usize::from(self.col_totals)
    }

    pub fn cols(&self) -> usize {
        self.c + usize::from(self.row_totals)
    }

    fn is_total(&self, i: usize, j: usize) -> bool {
        i >= self.r || j >= self.c
    }

    /// Sign of the entry in the zero-sum form of the table (every row and
    /// column of the bordered grid sums to zero): totals count negative,
    /// the grand total positive.
    fn sign(&self, i: usize, j: usize) -> i64 {
        if (i >= self.r) != (j >= self.c) {
            -1
        } else {
            1
        }
    }
}

/// Primary then secondary suppression; `forced` entries are hidden from
/// the start (totals that another table had to hide).
pub fn suppress(g: &Grid, min_cell: u64, forced: &[(usize, usize)]) -> Vec<Vec<Mark>> {
    let mut m: Vec<Vec<Mark>> =
        g.v.iter()
            .map(|row| {
                row.iter()
                    .map(|&v| {
                        if v > 0 && v < min_cell {
                            Mark::Small
                        } else {
                            Mark::Shown
                        }
                    })
                    .collect()
            })
            .collect();
    for &(i, j) in forced {
        if m[i][j] == Mark::Shown && g.v[i][j] > 0 {
            m[i][j] = Mark::Hidden;
        }
    }
    loop {
        if let Some((i, j)) = lonely_line(g, &m) {
            hide_partner(g, &mut m, i, j);
            continue;
        }
        let unprotected = (0..g.rows())
            .flat_map(|i| (0..g.cols()).map(move |j| (i, j)))
            .find(|&(i, j)| m[i][j] != Mark::Shown && !protected(g, &m, min_cell, i, j));
        match unprotected {
            Some((i, j)) => {
                if !hide_partner(g, &mut m, i, j) {
                    break;
                }
            }
            None => break,
        }
    }
    m
}

/// An entry alone hidden in an equation line (a line with its total).
fn lonely_line(g: &Grid, m: &[Vec<Mark>]) -> Option<(usize, usize)> {
    if g.row_totals {
        for (i, row) in m.iter().enumerate() {
            let hidden: Vec<usize> = (0..g.cols()).filter(|&j| row[j] != Mark::Shown).collect();
            if let [j] = hidden[..] {
                return Some((i, j));
            }
        }
    }
    if g.col_totals {
        for j in 0..g.cols() {
            let hidden: Vec<usize> = m
                .iter()
                .enumerate()
                .filter(|(_, row)| row[j] != Mark::Shown)
                .map(|(i, _)| i)
                .collect();
            if let [i] = hidden[..] {
                return Some((i, j));
            }
        }
    }
    None
}

/// Hides one more entry next to (i, j): the best shown, non-zero entry of
/// its row or column, else of the whole table; when every non-zero entry is
/// hidden already, a "<5" becomes "n.d." (its range then tells less),
/// totals first. `false`: nothing left to hide.
fn hide_partner(g: &Grid, m: &mut [Vec<Mark>], i: usize, j: usize) -> bool {
    let near: Vec<(usize, usize)> = (0..g.cols())
        .map(|b| (i, b))
        .chain((0..g.rows()).map(|a| (a, j)))
        .collect();
    let all: Vec<(usize, usize)> = (0..g.rows())
        .flat_map(|a| (0..g.cols()).map(move |b| (a, b)))
        .collect();
    let shown = |&(a, b): &(usize, usize)| m[a][b] == Mark::Shown && g.v[a][b] > 0;
    let small = |&(a, b): &(usize, usize)| m[a][b] == Mark::Small;
    let best_shown = |v: &[(usize, usize)]| {
        v.iter()
            .copied()
            .filter(shown)
            .min_by_key(|&(a, b)| (g.is_total(a, b), g.v[a][b]))
    };
    let best_small = |v: &[(usize, usize)]| {
        v.iter()
            .copied()
            .filter(small)
            .min_by_key(|&(a, b)| (!g.is_total(a, b), (a, b) == (i, j)))
    };
    let pick = best_shown(&near)
        .or_else(|| best_shown(&all))
        .or_else(|| best_small(&near))
        .or_else(|| best_small(&all));
    match pick {
        Some((a, b)) => {
            m[a][b] = Mark::Hidden;
            true
        }
        None => false,
    }
}

/// The values a reader may think possible for a hidden entry of value `v`:
/// "<5" is 1 to `min_cell - 1`; "n.d." is any value from 1, but one that
/// is at least `min_cell` is held to `min_cell` or more (a reader may guess
/// that "n.d." is not small, and must not gain by it).
pub fn range(mark: Mark, v: u64, min_cell: u64) -> (u64, u64) {
    match mark {
        Mark::Shown => (v, v),
        Mark::Small => (1, min_cell - 1),
        Mark::Hidden if v >= min_cell => (min_cell, u64::MAX),
        Mark::Hidden => (1, u64::MAX),
    }
}

/// A node of the path: a row or a column of the bordered grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line {
    Row(usize),
    Col(usize),
}

struct Search<'a> {
    g: &'a Grid,
    m: &'a [Vec<Mark>],
    min_cell: u64,
    start: (usize, usize),
    /// Entries on the path with their change in the zero-sum form.
    path: Vec<((usize, usize), i64)>,
    visited: Vec<Line>,
    jumped: bool,
    budget: usize,
}

impl Search<'_> {
    fn equation(&self, l: Line) -> bool {
        match l {
            Line::Row(_) => self.g.row_totals,
            Line::Col(_) => self.g.col_totals,
        }
    }

    fn entries(&self, l: Line) -> Vec<(usize, usize)> {
        match l {
            Line::Row(i) => (0..self.g.cols()).map(|j| (i, j)).collect::<Vec<_>>(),
            Line::Col(j) => (0..self.g.rows()).map(|i| (i, j)).collect(),
        }
        .into_iter()
        .filter(|&(i, j)| self.m[i][j] != Mark::Shown)
        .collect()
    }

    fn other(l: Line, (i, j): (usize, usize)) -> Line {
        match l {
            Line::Row(_) => Line::Col(j),
            Line::Col(_) => Line::Row(i),
        }
    }

    /// Whether the moves on the path, in one direction or the other, keep
    /// every hidden entry in its range.
    fn feasible(&self) -> bool {
        [1i64, -1].iter().any(|d| {
            self.path.iter().all(|&((i, j), s)| {
                let v = i128::from(self.g.v[i][j]) + i128::from(d * s * self.g.sign(i, j));
                let (lo, hi) = range(self.m[i][j], self.g.v[i][j], self.min_cell);
                v >= i128::from(lo) && v <= i128::from(hi)
            })
        })
    }

    /// Continues the path at line `at`, reached through an entry whose
    /// change was `s_in`; it must close at `target` (the start's row).
    fn walk(&mut self, at: Line, s_in: i64, target: Line) -> bool {
        if self.budget == 0 {
            return false;
        }
        self.budget -= 1;
        let s_start = self.path[0].1;
        if at == target && (!self.equation(at) || s_in + s_start == 0) && self.feasible() {
            return true;
        }
        if !self.equation(at) && !self.equation(target) && self.feasible() {
            // Both ends are free lines: nothing needs to balance.
            return true;
        }
        if at == target {
            return false;
        }
        if !self.equation(at) && !self.jumped {
            // A free line: the path may go on from any other free line.
            self.jumped = true;
            let free: Vec<Line> = (0..self.g.rows())
                .map(Line::Row)
                .chain((0..self.g.cols()).map(Line::Col))
                .filter(|l| !self.equation(*l) && !self.visited.contains(l) && *l != at)
                .collect();
            for l in free {
                self.visited.push(l);
                if self.step(l, None, target) {
                    return true;
                }
                self.visited.pop();
            }
            self.jumped = false;
        }
        let need = self.equation(at).then_some(-s_in);
        self.step(at, need, target)
    }

    /// Takes one more hidden entry of `at` (with change `need`, or either).
    fn step(&mut self, at: Line, need: Option<i64>, target: Line) -> bool {
        for e in self.entries(at) {
            if self.path.iter().any(|p| p.0 == e) {
                continue;
            }
            let next = Self::other(at, e);
            if next != target && self.visited.contains(&next) {
                continue;
            }
            for s in need.map_or(vec![1, -1], |s| vec![s]) {
                self.path.push((e, s));
                self.visited.push(next);
                if self.walk(next, s, target) {
                    return true;
                }
                self.visited.pop();
                self.path.pop();
            }
        }
        false
    }
}

/// Whether the hidden entry (i, j) has another possible value.
pub fn protected(g: &Grid, m: &[Vec<Mark>], min_cell: u64, i: usize, j: usize) -> bool {
    let mut s = Search {
        g,
        m,
        min_cell,
        start: (i, j),
        path: vec![((i, j), 1)],
        visited: vec![Line::Row(i), Line::Col(j)],
        jumped: false,
        budget: 20_000,
    };
    debug_assert_eq!(s.start, (i, j));
    s.walk(Line::Col(j), 1, Line::Row(i))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marks(cells: Vec<Vec<u64>>, rt: bool, ct: bool) -> (Grid, Vec<Vec<Mark>>) {
        let g = Grid::new(cells, rt, ct);
        let m = suppress(&g, 5, &[]);
        (g, m)
    }

    #[test]
    fn a_lone_small_cell_gets_a_partner_in_its_row_and_column() {
        let (_, m) = marks(vec![vec![3, 10, 20], vec![30, 40, 50]], true, true);
        assert_eq!(m[0][0], Mark::Small);
        let hidden_row0 = m[0].iter().filter(|x| **x != Mark::Shown).count();
        let hidden_col0 = m.iter().filter(|r| r[0] != Mark::Shown).count();
        assert!(hidden_row0 >= 2 && hidden_col0 >= 2, "{m:?}");
        assert_eq!(m[2][3], Mark::Shown, "grand total kept");
    }

    #[test]
    fn one_and_five_over_a_total_of_six_hide_the_total() {
        let (_, m) = marks(vec![vec![1], vec![5]], false, true);
        assert_eq!(m[0][0], Mark::Small);
        assert_ne!(m[2][0], Mark::Shown, "6 - 5 would give the 1: {m:?}");
    }

    #[test]
    fn no_small_count_no_suppression_and_zero_stays_zero() {
        let (_, m) = marks(vec![vec![0, 10], vec![7, 0]], true, true);
        assert!(m.iter().flatten().all(|x| *x == Mark::Shown));
        let (_, m) = marks(vec![vec![0, 2], vec![7, 0]], true, true);
        assert_eq!(m[0][0], Mark::Shown, "{m:?}");
        assert_eq!(m[1][1], Mark::Shown, "{m:?}");
    }

    #[test]
    fn without_totals_only_the_small_counts_go() {
        let (_, m) = marks(vec![vec![2, 9], vec![7, 4]], false, false);
        assert_eq!(
            m,
            vec![
                vec![Mark::Small, Mark::Shown],
                vec![Mark::Shown, Mark::Small]
            ]
        );
    }
}
