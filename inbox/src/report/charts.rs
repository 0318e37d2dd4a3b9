//! Horizontal bar charts drawn by plotters' SVG backend. Only published
//! counts get a bar; a hidden one gets its marker ("<5", "n.d.") instead,
//! so a chart shows nothing its table does not. No axis numbers: each bar
//! carries its count.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::table::Cell;

const WIDTH: u32 = 680;
const LABEL_W: i32 = 250;
const ROW_H: i32 = 26;
const TOP: i32 = 8;
/// Dark enough for 3:1 against white (WCAG 1.4.11), and distinct in grey.
const SERIES: [RGBColor; 2] = [RGBColor(0x1f, 0x4e, 0x8c), RGBColor(0x8a, 0x4f, 0x00)];
const TEXT: RGBColor = RGBColor(0x1a, 0x1a, 0x1a);

/// One bar group: a label and one cell per series.
pub struct Bar {
    pub label: String,
    pub cells: Vec<Cell>,
}

/// An SVG chart of `bars` (`series` names the cells of each bar, shown in
/// a legend when more than one). `described_by`: the id of the sentence
/// that says what the chart shows.
pub fn bars(bars: &[Bar], series: &[String], min_cell: u64, described_by: &str) -> String {
    let n_series = series.len().max(1) as i32;
    let legend = if series.len() > 1 { ROW_H } else { 0 };
    let group_h = ROW_H * n_series.min(2) - if n_series > 1 { 6 } else { 0 };
    let height = (TOP * 2 + legend + group_h * bars.len().max(1) as i32 + 4) as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        // Drawing into a String cannot fail for lack of space; errors here
        // would be a bug in the layout, and only cost the chart.
        let _ = draw(&root, bars, series, min_cell, legend, group_h);
        let _ = root.present();
    }
    svg.replacen(
        "<svg ",
        &format!("<svg role=\"img\" aria-labelledby=\"{described_by}\" focusable=\"false\" "),
        1,
    )
}

fn draw(
    root: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    bars: &[Bar],
    series: &[String],
    min_cell: u64,
    legend: i32,
    group_h: i32,
) -> Result<(), DrawingAreaErrorKind<std::io::Error>> {
    root.fill(&WHITE)?;
    let font = |anchor: Pos| ("sans-serif", 13).into_font().color(&TEXT).pos(anchor);
    let left = Pos::new(HPos::Left, VPos::Center);
    let right = Pos::new(HPos::Right, VPos::Center);
    let max = bars
        .iter()
        .flat_map(|b| b.cells.iter().filter_map(|c| c.count()))
        .max()
        .unwrap_or(0)
        .max(1);
    let span = WIDTH as i32 - LABEL_W - 70;
    if series.len() > 1 {
        let mut x = LABEL_W;
        for (k, name) in series.iter().enumerate() {
            let c = SERIES[k % SERIES.len()];
            root.draw(&Rectangle::new(
                [(x, TOP + 4), (x + 14, TOP + 18)],
                c.filled(),
            ))?;
            root.draw(&Text::new(name.clone(), (x + 20, TOP + 11), font(left)))?;
            x += 30 + 8 * name.chars().count() as i32;
        }
    }
    let bar_h = if series.len() > 1 { 9 } else { 16 };
    for (i, b) in bars.iter().enumerate() {
        let y0 = TOP + legend + i as i32 * group_h;
        let label: String = if b.label.chars().count() > 34 {
            b.label.chars().take(33).chain(['…']).collect()
        } else {
            b.label.clone()
        };
        root.draw(&Text::new(
            label,
            (LABEL_W - 8, y0 + group_h / 2),
            font(right),
        ))?;
        for (k, cell) in b.cells.iter().enumerate() {
            let y = y0 + 4 + k as i32 * (bar_h + 2);
            let c = SERIES[k % SERIES.len()];
            let (x1, text) = match cell {
                Cell::Count(n) => {
                    let w = (*n as f64 / max as f64 * span as f64).round() as i32;
                    (LABEL_W + w, n.to_string())
                }
                other => (LABEL_W, other.text(min_cell)),
            };
            if x1 > LABEL_W {
                root.draw(&Rectangle::new([(LABEL_W, y), (x1, y + bar_h)], c.filled()))?;
            }
            root.draw(&Text::new(text, (x1 + 6, y + bar_h / 2), font(left)))?;
        }
    }
    root.draw(&PathElement::new(
        vec![
            (LABEL_W, TOP),
            (LABEL_W, TOP + legend + group_h * bars.len() as i32),
        ],
        TEXT,
    ))?;
    Ok(())
}
