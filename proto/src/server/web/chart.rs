//! Charts drawn as SVG on the server. Each chart is an `<svg role="img">` with a `<title>` and
//! its numbers written beside the marks, so a screen reader, a black-and-white print and a
//! colour-blind reader all get the figures; each can be saved as an .svg file on its own.

use std::fmt::Write;

use maud::{Markup, PreEscaped};

/// The fill colours of the survey's three answers, in order (実施している, 年度内に実施予定,
/// 実施していない), and a hatching for the third so it differs in grey print too.
const ANSWER_FILLS: [&str; 3] = ["#2e7d32", "#e09a1a", "url(#hatch)"];
/// Line colours, cycled.
const SERIES: [&str; 8] = [
    "#1f5f99", "#c0392b", "#2e7d32", "#8e44ad", "#b26a00", "#16a085", "#555555", "#d35400",
];
/// Marker shapes, cycled with the colours so that lines differ without colour.
const MARKERS: [&str; 4] = ["circle", "square", "diamond", "triangle"];

fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The approximate width in pixels of a label at 12px (East Asian characters count double).
fn text_width(text: &str) -> f64 {
    text.chars()
        .map(|c| if c.is_ascii() { 6.8 } else { 12.5 })
        .sum()
}

/// One bar: a label and the counts of the three answers.
pub struct StackedBar<'a> {
    pub label: &'a str,
    pub counts: [u32; 3],
}

/// Horizontal bars, one per row, each split into the three answers' shares of `n`, with the
/// count and percentage written in or after each part and a legend naming the answers.
pub fn stacked_bars(title: &str, legend: [&str; 3], bars: &[StackedBar<'_>]) -> Markup {
    let label_w = bars
        .iter()
        .map(|b| text_width(b.label))
        .fold(80.0, f64::max)
        .min(460.0)
        + 12.0;
    let bar_w = 520.0;
    let row_h = 26.0;
    let top = 44.0;
    let width = label_w + bar_w + 20.0;
    let height = top + row_h * bars.len() as f64 + 10.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width:.0} {height:.0}" width="{width:.0}" height="{height:.0}" font-family="Noto Sans CJK JP, sans-serif" font-size="12"><title>{}</title><defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#d5d8dc"/><line x1="0" y1="0" x2="0" y2="6" stroke="#8a8f96" stroke-width="2"/></pattern></defs><rect width="100%" height="100%" fill="#fff"/>"##,
        esc(title)
    );
    // The legend: a swatch and the answer's name.
    let mut x = label_w;
    for (i, name) in legend.iter().enumerate() {
        let _ = write!(
            s,
            r##"<rect x="{x:.0}" y="8" width="14" height="14" fill="{}" stroke="#555"/><text x="{:.0}" y="20">{}</text>"##,
            ANSWER_FILLS[i],
            x + 18.0,
            esc(name)
        );
        x += 18.0 + text_width(name) + 22.0;
    }
    for (row, bar) in bars.iter().enumerate() {
        let y = top + row_h * row as f64;
        let n: u32 = bar.counts.iter().sum();
        let _ = write!(
            s,
            r#"<text x="{:.0}" y="{:.0}" text-anchor="end">{}</text>"#,
            label_w - 8.0,
            y + 15.0,
            esc(bar.label)
        );
        let mut x = label_w;
        for (i, &count) in bar.counts.iter().enumerate() {
            if count == 0 || n == 0 {
                continue;
            }
            let w = bar_w * f64::from(count) / f64::from(n);
            let percent = f64::from(count) * 100.0 / f64::from(n);
            let _ = write!(
                s,
                r##"<rect x="{x:.1}" y="{y:.0}" width="{w:.1}" height="{:.0}" fill="{}" stroke="#fff"><title>{} {} {count} ({percent:.1}%)</title></rect>"##,
                row_h - 6.0,
                ANSWER_FILLS[i],
                esc(bar.label),
                esc(legend[i])
            );
            let text = format!("{count} ({percent:.1}%)");
            if text_width(&text) + 6.0 < w {
                let colour = if i == 2 { "#1d2733" } else { "#fff" };
                let _ = write!(
                    s,
                    r#"<text x="{:.1}" y="{:.0}" fill="{colour}">{text}</text>"#,
                    x + 4.0,
                    y + 15.0
                );
            }
            x += w;
        }
    }
    s.push_str("</svg>");
    PreEscaped(s)
}

/// One line of a line chart: a name and a value (0–100) per x position, `None` where there is
/// no value.
pub struct Series<'a> {
    pub name: &'a str,
    pub values: Vec<Option<f64>>,
}

/// A line chart of percentages (0–100 %) over the `x` labels, each line with its own colour and
/// marker shape, each point labelled with its value, and a legend.
pub fn percent_lines(title: &str, x: &[String], series: &[Series<'_>]) -> Markup {
    let left = 46.0;
    let plot_w = (x.len().max(2) as f64 - 1.0) * 110.0;
    let legend_w = series
        .iter()
        .map(|s| text_width(s.name))
        .fold(0.0, f64::max)
        + 40.0;
    let top = 16.0;
    let plot_h = 300.0;
    let width = left + plot_w + 30.0 + legend_w;
    let height = top + plot_h + 50.0;
    let xpos = |i: usize| left + 110.0 * i as f64;
    let ypos = |v: f64| top + plot_h * (1.0 - v / 100.0);
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width:.0} {height:.0}" width="{width:.0}" height="{height:.0}" font-family="Noto Sans CJK JP, sans-serif" font-size="12"><title>{}</title><rect width="100%" height="100%" fill="#fff"/>"##,
        esc(title)
    );
    for tick in [0.0, 25.0, 50.0, 75.0, 100.0] {
        let y = ypos(tick);
        let _ = write!(
            s,
            r##"<line x1="{left}" x2="{:.0}" y1="{y:.0}" y2="{y:.0}" stroke="#dde2e7"/><text x="{:.0}" y="{:.0}" text-anchor="end">{tick:.0}%</text>"##,
            left + plot_w,
            left - 6.0,
            y + 4.0
        );
    }
    for (i, label) in x.iter().enumerate() {
        // A long label (令和6年度（2024年度）) goes on two lines at its parenthesis.
        let (first, second) = match label.find('（') {
            Some(at) => (&label[..at], &label[at..]),
            None => (label.as_str(), ""),
        };
        let _ = write!(
            s,
            r#"<text x="{:.0}" y="{:.0}" text-anchor="middle">{}<tspan x="{:.0}" dy="14">{}</tspan></text>"#,
            xpos(i),
            top + plot_h + 18.0,
            esc(first),
            xpos(i),
            esc(second)
        );
    }
    for (k, line) in series.iter().enumerate() {
        let colour = SERIES[k % SERIES.len()];
        let points: Vec<(f64, f64, f64)> = line
            .values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| (xpos(i), ypos(v), v)))
            .collect();
        let path: Vec<String> = points
            .iter()
            .map(|(x, y, _)| format!("{x:.1},{y:.1}"))
            .collect();
        let _ = write!(
            s,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"><title>{}</title></polyline>"#,
            path.join(" "),
            esc(line.name)
        );
        for (x, y, v) in &points {
            s.push_str(&marker(MARKERS[k % MARKERS.len()], *x, *y, colour));
            let _ = write!(
                s,
                r#"<text x="{:.1}" y="{:.1}" font-size="10" fill="{colour}">{v:.1}</text>"#,
                x + 5.0,
                y - 5.0
            );
        }
        let ly = top + 14.0 + 20.0 * k as f64;
        let lx = left + plot_w + 30.0;
        s.push_str(&marker(MARKERS[k % MARKERS.len()], lx, ly - 4.0, colour));
        let _ = write!(
            s,
            r#"<text x="{:.0}" y="{ly:.0}">{}</text>"#,
            lx + 12.0,
            esc(line.name)
        );
    }
    s.push_str("</svg>");
    PreEscaped(s)
}

fn marker(shape: &str, x: f64, y: f64, colour: &str) -> String {
    match shape {
        "square" => format!(
            r#"<rect x="{:.1}" y="{:.1}" width="8" height="8" fill="{colour}"/>"#,
            x - 4.0,
            y - 4.0
        ),
        "diamond" => format!(
            r#"<polygon points="{x:.1},{:.1} {:.1},{y:.1} {x:.1},{:.1} {:.1},{y:.1}" fill="{colour}"/>"#,
            y - 5.0,
            x + 5.0,
            y + 5.0,
            x - 5.0
        ),
        "triangle" => format!(
            r#"<polygon points="{x:.1},{:.1} {:.1},{:.1} {:.1},{:.1}" fill="{colour}"/>"#,
            y - 5.0,
            x + 5.0,
            y + 4.0,
            x - 5.0,
            y + 4.0
        ),
        _ => format!(r#"<circle cx="{x:.1}" cy="{y:.1}" r="4" fill="{colour}"/>"#),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stacked_bar_writes_its_counts_and_escapes_labels() {
        let svg = stacked_bars(
            "実施状況",
            ["実施している", "年度内に実施予定", "実施していない"],
            &[StackedBar {
                label: "（ア）<資源>",
                counts: [11, 2, 2],
            }],
        )
        .into_string();
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("11 (73.3%)"));
        assert!(svg.contains("（ア）&lt;資源&gt;"));
        assert!(!svg.contains("<資源>"));
    }

    #[test]
    fn a_line_chart_labels_every_point() {
        let svg = percent_lines(
            "推移",
            &["2023".to_owned(), "2024".to_owned()],
            &[Series {
                name: "（ア）",
                values: vec![Some(50.0), None],
            }],
        )
        .into_string();
        assert!(svg.contains(">50.0<"));
        assert_eq!(svg.matches("<polyline").count(), 1);
    }
}
