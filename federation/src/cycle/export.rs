//! Exports of a cycle tally, as the survey's are (`survey/export.rs`, whose CSV encoding and
//! cell rules they share): CSV in UTF-8 with BOM for Excel on Japanese Windows (the table per
//! region and the prefecture with the per-scene activity beneath, or a row per municipality),
//! an XLSX workbook with both, and JSON with a checksum — the input of the national cycle merge
//! ([`super::merge`]). Pure: a tally in, bytes out.

use renkei_proto::programme::Item;
use renkei_proto::programme::cycle::{CareScene, IndicatorKind, PdcaStep, PlanPeriod};
use rust_xlsxwriter::{Format, FormatBorder, Workbook, Worksheet, XlsxError};
use serde::{Deserialize, Serialize};

use super::{CycleCounts, CycleTally, SceneTable};
use crate::survey::export::{
    code_as_text, encode, header_format, neutralised, text_width, year_label,
};
use crate::survey::{CsvEncoding, ExportError};

/// The format tag of the cycle's JSON exports.
pub const CYCLE_JSON_FORMAT: &str = "renkei.cycle.v1";

/// What every cycle export is about, as its first words.
pub const CYCLE_TITLE: &str = "在宅医療・介護連携推進事業 PDCAサイクル集計";

/// The line every cycle export starts with: what, which year, its plan period, whose.
pub fn cycle_heading(
    fiscal_year: renkei_proto::FiscalYear,
    source: &crate::survey::Source,
) -> Vec<String> {
    let mut line = vec![CYCLE_TITLE.to_owned(), year_label(fiscal_year)];
    line.extend(PlanPeriod::of(fiscal_year).map(|p| format!("介護保険事業計画 {p}")));
    line.push(source.to_string());
    line
}

/// The header of a table of [`CycleCounts`], after its first column (`first`).
pub fn counts_header(first: &str) -> Vec<String> {
    let mut header = vec![first.to_owned(), "市区町村数".to_owned()];
    header.extend(
        CareScene::ALL
            .iter()
            .map(|s| format!("目指す姿：{}", s.label())),
    );
    header.extend(IndicatorKind::ALL.iter().map(|k| k.label().to_owned()));
    header.push("前年度の評価あり".to_owned());
    header.push("前年度の目標達成".to_owned());
    header.extend(PdcaStep::ALL.iter().map(|s| s.label().to_owned()));
    header
}

/// The numbers of a line of [`CycleCounts`], in the columns of [`counts_header`].
pub fn counts_cells(c: &CycleCounts) -> Vec<u32> {
    let mut cells = vec![c.municipalities];
    cells.extend(c.goal_scenes);
    cells.extend(c.indicator_kinds);
    cells.push(c.evaluated_last_year);
    cells.push(c.reached_last_year);
    cells.extend(c.steps);
    cells
}

/// The header of the per-scene activity table.
pub fn scene_header() -> Vec<String> {
    let mut header = vec!["場面".to_owned()];
    header.extend(Item::ALL.iter().map(|i| i.short_label().to_owned()));
    header.push("計".to_owned());
    header
}

/// The lines of the per-scene activity table: the scene's label, a count per item, the total.
pub fn scene_records(table: &SceneTable) -> Vec<Vec<String>> {
    CareScene::ALL
        .iter()
        .zip(table)
        .map(|(scene, items)| {
            let mut line = vec![scene.label().to_owned()];
            line.extend(items.iter().map(u32::to_string));
            line.push(items.iter().sum::<u32>().to_string());
            line
        })
        .collect()
}

/// The label of the prefecture's (or the nation's) line.
fn total_label(tally: &CycleTally) -> String {
    format!("{}計", tally.source)
}

/// The summary table's lines: one per region, then the total.
fn summary_records(tally: &CycleTally) -> Vec<Vec<String>> {
    let line = |label: String, c: &CycleCounts| {
        let mut record = vec![label];
        record.extend(counts_cells(c).iter().map(u32::to_string));
        record
    };
    let mut records: Vec<Vec<String>> = tally
        .by_area()
        .iter()
        .map(|l| line(neutralised(&l.area.name), &l.counts))
        .collect();
    records.push(line(total_label(tally), &tally.total()));
    records
}

/// Returns the cycle table as CSV: a line per region and the prefecture's, then the
/// activities per care scene and item.
pub fn cycle_summary_csv(
    tally: &CycleTally,
    encoding: CsvEncoding,
) -> Result<Vec<u8>, ExportError> {
    let mut records = vec![
        cycle_heading(tally.fiscal_year, &tally.source),
        counts_header("圏域"),
    ];
    records.extend(summary_records(tally));
    records.push(Vec::new());
    records.push(vec![format!(
        "場面別の活動件数（{}）",
        year_label(tally.fiscal_year)
    )]);
    records.push(scene_header());
    records.extend(scene_records(&tally.scene_activity));
    encode(records, encoding)
}

fn detail_header() -> Vec<String> {
    [
        "市区町村コード",
        "市区町村名",
        "圏域",
        "PDCAの段階",
        "目指す姿を定めた場面",
        "指標の種類",
        "前年度の評価",
        "前年度の目標達成",
    ]
    .map(str::to_owned)
    .to_vec()
}

fn detail_records(tally: &CycleTally) -> Vec<Vec<String>> {
    let yes_no = |b: bool| if b { "有" } else { "無" }.to_owned();
    tally
        .rows
        .iter()
        .map(|r| {
            let s = &r.summary;
            vec![
                r.code.to_string(),
                r.name.clone(),
                r.area.as_ref().map(|a| a.name.clone()).unwrap_or_default(),
                s.step.label().to_owned(),
                s.goal_scenes
                    .iter()
                    .map(|x| x.label())
                    .collect::<Vec<_>>()
                    .join("、"),
                s.indicator_kinds
                    .iter()
                    .map(|x| x.label())
                    .collect::<Vec<_>>()
                    .join("、"),
                yes_no(s.evaluated_last_year),
                if s.evaluated_last_year {
                    yes_no(s.reached_last_year)
                } else {
                    "-".to_owned()
                },
            ]
        })
        .collect()
}

/// Returns a row per municipality as CSV: code (as text), name, region, step, the scenes with a
/// 目指す姿, the indicator kinds, and last year's evaluation.
pub fn cycle_detail_csv(tally: &CycleTally, encoding: CsvEncoding) -> Result<Vec<u8>, ExportError> {
    let mut records = vec![
        cycle_heading(tally.fiscal_year, &tally.source),
        detail_header(),
    ];
    records.extend(detail_records(tally).into_iter().map(|record| {
        record
            .into_iter()
            .enumerate()
            .map(|(column, cell)| {
                if column == 0 {
                    code_as_text(&cell)
                } else {
                    neutralised(&cell)
                }
            })
            .collect()
    }));
    encode(records, encoding)
}

/// Returns the cycle tally as an .xlsx workbook: 集計 (the table and the per-scene activity) and
/// 市区町村別 (a row per municipality).
pub fn cycle_xlsx(tally: &CycleTally) -> Result<Vec<u8>, ExportError> {
    let mut workbook = Workbook::new();
    cycle_summary_sheet(workbook.add_worksheet(), tally)?;
    let sheet = workbook.add_worksheet();
    sheet.set_name("市区町村別")?;
    let mut records = vec![detail_header()];
    records.extend(detail_records(tally));
    write_table(sheet, 0, &records, true)?;
    sheet.set_freeze_panes(1, 2)?;
    Ok(workbook.save_to_buffer()?)
}

fn cycle_summary_sheet(sheet: &mut Worksheet, tally: &CycleTally) -> Result<(), XlsxError> {
    sheet.set_name("集計")?;
    let title = Format::new().set_bold().set_font_size(12);
    sheet.write_string_with_format(
        0,
        0,
        cycle_heading(tally.fiscal_year, &tally.source).join("　"),
        &title,
    )?;
    let mut table = vec![counts_header("圏域")];
    table.extend(summary_records(tally));
    write_table(sheet, 2, &table, false)?;
    let below = 2 + table.len() as u32 + 1;
    sheet.write_string_with_format(
        below,
        0,
        format!("場面別の活動件数（{}）", year_label(tally.fiscal_year)),
        &title,
    )?;
    let mut scenes = vec![scene_header()];
    scenes.extend(scene_records(&tally.scene_activity));
    write_table(sheet, below + 1, &scenes, false)?;
    sheet
        .set_paper_size(9)
        .set_landscape()
        .set_print_fit_to_pages(1, 1);
    Ok(())
}

/// Writes a table with its header row at `top`: numbers as numbers (except in a code column,
/// `codes`: the first column kept as text), columns as wide as their text.
fn write_table(
    sheet: &mut Worksheet,
    top: u32,
    records: &[Vec<String>],
    codes: bool,
) -> Result<(), XlsxError> {
    let head = header_format();
    let cell = Format::new().set_border(FormatBorder::Thin);
    let number = cell.clone().set_num_format("0");
    let text = cell.clone().set_num_format("@");
    for (r, record) in records.iter().enumerate() {
        let row = top + r as u32;
        for (c, value) in record.iter().enumerate() {
            let col = c as u16;
            if r == 0 {
                sheet.write_string_with_format(row, col, value, &head)?;
            } else if codes && c == 0 {
                sheet.write_string_with_format(row, col, value, &text)?;
            } else if let (true, Ok(n)) = (c > 0, value.parse::<u32>()) {
                sheet.write_number_with_format(row, col, f64::from(n), &number)?;
            } else {
                sheet.write_string_with_format(row, col, value, &cell)?;
            }
        }
    }
    let columns = records.iter().map(Vec::len).max().unwrap_or(0);
    for c in 0..columns {
        let width = records
            .iter()
            .filter_map(|r| r.get(c))
            .map(|v| text_width(v).min(24.0))
            .fold(6.0, f64::max);
        sheet.set_column_width(c as u16, width + 2.0)?;
    }
    Ok(())
}

/// A cycle tally as exported for machines: the tally, its prefecture line derived from it, and a
/// SHA-256 of the tally, so that the national merge can tell a complete file from a truncated or
/// edited one (a checksum, not a signature, as the survey's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChecksummedCycleExport {
    pub format: String,
    /// The fiscal year with its 和暦, e.g. 令和6年度（FY2024）.
    pub fiscal_year_label: String,
    pub total: CycleCounts,
    pub tally: CycleTally,
    /// Hex SHA-256 of the tally's JSON serialisation.
    pub checksum: String,
}

impl ChecksummedCycleExport {
    pub fn new(tally: CycleTally) -> Result<Self, ExportError> {
        Ok(Self {
            format: CYCLE_JSON_FORMAT.to_owned(),
            fiscal_year_label: year_label(tally.fiscal_year),
            total: tally.total(),
            checksum: cycle_checksum(&tally)?,
            tally,
        })
    }

    /// Returns whether the format, checksum and total all match the tally they travel with.
    pub fn is_intact(&self) -> bool {
        self.format == CYCLE_JSON_FORMAT
            && cycle_checksum(&self.tally).is_ok_and(|c| c == self.checksum)
            && self.total == self.tally.total()
    }
}

fn cycle_checksum(tally: &CycleTally) -> Result<String, ExportError> {
    crate::survey::export::checksum_of(tally)
}

/// Returns the cycle tally as JSON, with its total and checksum.
pub fn cycle_json(tally: &CycleTally) -> Result<Vec<u8>, ExportError> {
    Ok(serde_json::to_vec_pretty(&ChecksummedCycleExport::new(
        tally.clone(),
    )?)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cycle::tests::fixture_tally;

    #[test]
    fn the_summary_csv_has_the_fixture_table_in_utf8_with_bom() {
        let bytes = cycle_summary_csv(&fixture_tally(), CsvEncoding::Utf8Bom).unwrap();
        assert!(bytes.starts_with("\u{feff}".as_bytes()));
        let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "在宅医療・介護連携推進事業 PDCAサイクル集計,令和6年度（FY2024）,介護保険事業計画 第9期（令和6〜8年度）,富山県"
        );
        assert!(lines[1].starts_with("圏域,市区町村数,目指す姿：入退院支援,"));
        // The lines of the hand-computed table (cycle/tests.rs).
        assert_eq!(lines[2], "新川,1,0,0,0,0,0,0,1,0,0,1,1,0,0,1,0,0");
        assert_eq!(lines[3], "富山,3,1,2,1,1,1,0,1,2,1,2,1,1,0,1,0,1");
        assert_eq!(lines[4], "高岡,2,1,0,0,0,0,1,0,0,1,1,0,0,1,0,1,0");
        assert_eq!(lines[5], "富山県計,6,2,2,1,1,1,1,2,2,2,4,2,1,1,2,1,1");
        assert_eq!(
            lines[8],
            "場面,（ア）,（イ）,（ウ）,（エ）,（オ）,（カ）,（キ）,（ク）,計"
        );
        assert_eq!(lines[10], "日常の療養支援,0,0,0,0,0,2,1,0,3");
    }

    #[test]
    fn the_detail_csv_keeps_codes_as_text_and_the_xlsx_reads_back() {
        let tally = fixture_tally();
        let text =
            String::from_utf8(cycle_detail_csv(&tally, CsvEncoding::Utf8Bom).unwrap()).unwrap();
        let line = text
            .lines()
            .find(|l| l.contains("滑川市"))
            .unwrap()
            .to_owned();
        assert_eq!(
            line,
            "\"=\"\"162060\"\"\",滑川市,富山,Act（改善）,日常の療養支援,プロセス指標,有,無"
        );
        let bytes = cycle_xlsx(&tally).unwrap();
        assert!(bytes.starts_with(b"PK"), "an xlsx is a zip");
    }

    #[test]
    fn the_json_export_is_intact_until_edited() {
        let bytes = cycle_json(&fixture_tally()).unwrap();
        let mut export: ChecksummedCycleExport = serde_json::from_slice(&bytes).unwrap();
        assert!(export.is_intact());
        assert_eq!(export.total.municipalities, 6);
        export.tally.rows[0].summary.reached_last_year = false;
        assert!(!export.is_intact());
    }
}
