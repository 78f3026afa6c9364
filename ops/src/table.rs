//! Human tables for a terminal: columns aligned by display width (a kanji takes two columns), and
//! the national-style tally table — one row per item, count (percent) for each of the three
//! answers, as the published table prints them.

use unicode_width::UnicodeWidthStr;

/// How a column is aligned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Right,
}

/// Formats rows under a header, two spaces between columns, each line ending in a newline.
pub fn render(header: &[&str], align: &[Align], rows: &[Vec<String>]) -> String {
    let columns = header.len();
    let mut widths: Vec<usize> = header.iter().map(|h| h.width()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate().take(columns) {
            widths[i] = widths[i].max(cell.width());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &[String]| {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate().take(columns) {
            let pad = widths[i].saturating_sub(cell.width());
            let last = i + 1 == columns;
            match align.get(i).copied().unwrap_or(Align::Left) {
                Align::Left if last => text.push_str(cell),
                Align::Left => {
                    text.push_str(cell);
                    text.push_str(&" ".repeat(pad));
                }
                Align::Right => {
                    text.push_str(&" ".repeat(pad));
                    text.push_str(cell);
                }
            }
            if !last {
                text.push_str("  ");
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&header.iter().map(|h| (*h).to_owned()).collect::<Vec<_>>());
    for row in rows {
        line(row);
    }
    out
}

/// One item's line of a tally: its label as in the national table and, for 実施している,
/// 年度内に実施予定 and 実施していない, the count and the percentage of n (e.g. "38.5").
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TallyLine {
    pub label: String,
    pub counts: [u32; 3],
    pub percents: [String; 3],
}

impl From<&renkei_proto::v1::ItemTally> for TallyLine {
    fn from(t: &renkei_proto::v1::ItemTally) -> Self {
        Self {
            label: t.label.clone(),
            counts: [t.implemented, t.planned, t.not_implemented],
            percents: [
                t.implemented_percent.clone(),
                t.planned_percent.clone(),
                t.not_implemented_percent.clone(),
            ],
        }
    }
}

/// The three answers, in the order of the national table's columns.
pub const STATUS_LABELS: [&str; 3] = ["実施している", "年度内に実施予定", "実施していない"];

/// Formats a tally as the national table: 事業項目, then count (percent%) per answer.
pub fn tally(lines: &[TallyLine]) -> String {
    let header = [
        "事業項目",
        STATUS_LABELS[0],
        STATUS_LABELS[1],
        STATUS_LABELS[2],
    ];
    let align = [Align::Left, Align::Right, Align::Right, Align::Right];
    let rows: Vec<Vec<String>> = lines
        .iter()
        .map(|l| {
            let mut row = vec![l.label.clone()];
            for (count, percent) in l.counts.iter().zip(&l.percents) {
                row.push(format!("{count} ({percent}%)"));
            }
            row
        })
        .collect();
    render(&header, &align, &rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_by_display_width() {
        let text = render(
            &["名前", "n"],
            &[Align::Left, Align::Right],
            &[
                vec!["富山市".into(), "5".into()],
                vec!["a".into(), "12".into()],
            ],
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "名前     n");
        assert_eq!(lines[1], "富山市   5");
        assert_eq!(lines[2], "a       12");
    }

    #[test]
    fn a_tally_line_reads_like_the_national_table() {
        let line = TallyLine {
            label: "（ア）地域の医療・介護の資源の把握".into(),
            counts: [671, 374, 696],
            percents: ["38.5".into(), "21.5".into(), "40.0".into()],
        };
        let text = tally(&[line]);
        let row = text.lines().nth(1).unwrap();
        assert!(row.starts_with("（ア）地域の医療・介護の資源の把握"));
        assert!(row.contains("671 (38.5%)"));
        assert!(row.ends_with("696 (40.0%)"));
    }
}
