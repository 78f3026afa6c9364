//! Exports of a survey in the national format, for officials (CSV that opens in Excel on Japanese
//! Windows, XLSX laid out like the published table) and for machines (JSON with a checksum, the
//! input of the national merge). Every export states the fiscal year with its 和暦, the as-of
//! date, n and the source.

use renkei_proto::FiscalYear;
use renkei_proto::programme::framework::{Framework, StatutoryGroup};
use rust_xlsxwriter::{Format, FormatAlign, FormatBorder, Workbook, Worksheet, XlsxError};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use unicode_width::UnicodeWidthStr;

use super::{
    ANSWERED, Item, Survey, SurveyStatus, Tally, UNANSWERED, format_tenths, unanswered_note,
};

/// The character encoding of a CSV export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvEncoding {
    /// UTF-8 with a byte-order mark, which Excel needs to detect UTF-8 (the default).
    Utf8Bom,
    /// Shift_JIS (Windows code page 932), for older tools.
    ShiftJis,
}

/// Why an export could not be produced or read.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("text {text:?} cannot be written in Shift_JIS (character {character:?})")]
    Unencodable { text: String, character: char },
    #[error("csv: {0}")]
    Csv(#[from] csv::Error),
    #[error("xlsx: {0}")]
    Xlsx(#[from] XlsxError),
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}

/// The format tag of JSON exports.
pub const JSON_FORMAT: &str = "renkei.survey.v1";

pub(crate) fn year_label(fy: FiscalYear) -> String {
    format!("{}（{}）", fy.wareki(), fy)
}

/// What every export is about, as its first words.
pub(super) const TITLE: &str = "在宅医療・介護連携推進事業 実施状況";

/// The line every export starts with: what the numbers are about, with the count of 未回答
/// after n when some municipality did not answer.
fn heading(survey: &Survey) -> Vec<String> {
    let mut line = vec![
        TITLE.to_owned(),
        year_label(survey.fiscal_year),
        format!("{}現在", survey.as_of.format("%Y-%m-%d")),
        format!("n={}", survey.n()),
    ];
    if survey.unanswered() > 0 {
        line.push(format!("未回答={}", survey.unanswered()));
    }
    line.push(survey.source.to_string());
    line
}

/// The footnote of an export whose survey has non-respondents ([`unanswered_note`]).
pub(super) fn survey_note(survey: &Survey) -> Option<String> {
    unanswered_note(survey.n(), survey.unanswered())
}

/// Writes `records` as CSV (CRLF, any number of cells per line) in `encoding`.
pub(crate) fn encode(
    records: Vec<Vec<String>>,
    encoding: CsvEncoding,
) -> Result<Vec<u8>, ExportError> {
    let mut writer = csv::WriterBuilder::new()
        .flexible(true)
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    for record in &records {
        writer.write_record(record)?;
    }
    let utf8 = writer
        .into_inner()
        .map_err(|e| ExportError::Csv(e.into_error().into()))?;
    // The csv writer only ever writes the UTF-8 strings it was given.
    let text = String::from_utf8(utf8).expect("csv output of UTF-8 input is UTF-8");
    match encoding {
        CsvEncoding::Utf8Bom => {
            let mut bytes = "\u{feff}".as_bytes().to_vec();
            bytes.extend_from_slice(text.as_bytes());
            Ok(bytes)
        }
        CsvEncoding::ShiftJis => {
            let (bytes, _, had_errors) = encoding_rs::SHIFT_JIS.encode(&text);
            if had_errors {
                let character = text
                    .chars()
                    .find(|c| encoding_rs::SHIFT_JIS.encode(&c.to_string()).2)
                    .unwrap_or('?');
                let line = text
                    .lines()
                    .find(|l| l.contains(character))
                    .unwrap_or_default();
                return Err(ExportError::Unencodable {
                    text: line.to_owned(),
                    character,
                });
            }
            Ok(bytes.into_owned())
        }
    }
}

/// Returns the national-style summary table as CSV: one line per item with the count and the
/// percentage of n of each answer in separate columns.
pub fn summary_csv(survey: &Survey, encoding: CsvEncoding) -> Result<Vec<u8>, ExportError> {
    let tally = survey.tally();
    let mut records = vec![heading(survey)];
    let mut header = vec!["事業項目".to_owned()];
    for status in SurveyStatus::ALL {
        header.push(status.label().to_owned());
        header.push(format!("{}（%）", status.label()));
    }
    // Non-respondents, when there are any, in a column of their own beside the answers.
    let unanswered = (tally.unanswered > 0).then_some(tally.unanswered);
    header.extend(unanswered.map(|_| UNANSWERED.to_owned()));
    records.push(header);
    records.extend(summary_lines(&tally).into_iter().map(|line| {
        let mut record = vec![line.item_label.clone()];
        for (count, percent) in line.counts.iter().zip(&line.percents) {
            record.push(count.to_string());
            record.push(percent.clone());
        }
        record.extend(unanswered.map(|count| count.to_string()));
        record
    }));
    if let Some(groups) = group_lines(survey) {
        records.push(vec![GROUP_TITLE.to_owned()]);
        let mut header = vec![GROUP_HEADER.to_owned()];
        header.extend(records[1].iter().skip(1).cloned());
        records.push(header);
        records.extend(groups.into_iter().map(|line| {
            let mut record = vec![line.label];
            for (count, tenths) in line.counts.iter().zip(line.percent_tenths) {
                record.push(count.to_string());
                record.push(format_tenths(tenths));
            }
            record.extend(unanswered.map(|count| count.to_string()));
            record
        }));
    }
    records.extend(survey_note(survey).map(|note| vec![note]));
    encode(records, encoding)
}

/// The title of the statutory groups' table in the exports of a year of the 2020 framework.
const GROUP_TITLE: &str = "法定事業区分別（介護保険法施行規則第140条の62の8、令和2年度から）：区分の回答はその区分に属する事業項目のうち最も進んだもの";
/// The header of the statutory groups' first column.
const GROUP_HEADER: &str = "事業区分";

/// One line of the statutory groups' table.
struct GroupLine {
    label: String,
    /// Counts of 実施している, 年度内に実施予定, 実施していない.
    counts: [u32; 3],
    /// The same as percentages of n in tenths.
    percent_tenths: [u32; 3],
}

/// The statutory groups' lines (一〜四) when the survey's year is in the 2020 framework; `None`
/// for FY2015–2019, whose exports stay in the eight items alone, as they were.
fn group_lines(survey: &Survey) -> Option<Vec<GroupLine>> {
    if Framework::of(survey.fiscal_year) != Some(Framework::Pdca2020) {
        return None;
    }
    let tally = survey.group_tally();
    Some(
        StatutoryGroup::ALL
            .iter()
            .map(|&group| GroupLine {
                label: group.label(),
                counts: SurveyStatus::ALL.map(|s| tally.count(group, s)),
                percent_tenths: SurveyStatus::ALL.map(|s| tally.percent_tenths(group, s)),
            })
            .collect(),
    )
}

/// Returns the per-municipality detail as CSV: code, name, 二次医療圏, the answer per item,
/// whether it answered (回答/未回答), whether it reported facts and its submission/approval state;
/// the footnote counts the non-respondents.
pub fn detail_csv(survey: &Survey, encoding: CsvEncoding) -> Result<Vec<u8>, ExportError> {
    let mut records = vec![heading(survey), detail_header()];
    // A spreadsheet opens a CSV guessing each cell's type (the XLSX has typed cells instead).
    records.extend(detail_records(survey).into_iter().map(|record| {
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
    records.extend(survey_note(survey).map(|note| vec![note]));
    encode(records, encoding)
}

/// Returns the detail lines in the columns of [`detail_header`], one per municipality.
fn detail_records(survey: &Survey) -> Vec<Vec<String>> {
    survey
        .rows
        .iter()
        .map(|row| {
            let mut record = vec![
                row.code.to_string(),
                row.name.clone(),
                row.area.clone().unwrap_or_default(),
            ];
            record.extend(Item::ALL.iter().map(|i| row.answer_label(*i).to_owned()));
            record.push(row.answered_label().to_owned());
            record.push(if row.reported { "有" } else { "無" }.to_owned());
            record.push(row.approval.label());
            record
        })
        .collect()
}

/// Writes a code (digits only) so that Excel and LibreOffice open it as text: `="011002"` keeps
/// the leading zero of 北海道's codes, where a bare 011002 would become the number 11002.
pub(crate) fn code_as_text(digits: &str) -> String {
    debug_assert!(digits.bytes().all(|b| b.is_ascii_digit()));
    format!("=\"{digits}\"")
}

/// Neutralises text a spreadsheet would run as a formula (a cell starting with `=`, `+`, `-`,
/// `@`, a tab or a carriage return: names, areas and review comments typed by people): a leading
/// `'` makes it plain text, shown as typed.
pub(crate) fn neutralised(text: &str) -> String {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_owned(),
    }
}

fn detail_header() -> Vec<String> {
    let mut header: Vec<String> = ["市区町村コード", "市区町村名", "二次医療圏"]
        .map(str::to_owned)
        .to_vec();
    header.extend(Item::ALL.iter().map(|i| i.national_label().to_owned()));
    header.push(ANSWERED.to_owned());
    header.push("報告".to_owned());
    header.push("提出・承認".to_owned());
    header
}

/// One line of the summary table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SummaryLine {
    pub item: Item,
    pub item_label: String,
    /// Counts of 実施している, 年度内に実施予定, 実施していない.
    pub counts: [u32; 3],
    /// The same as percentages of n with one decimal, e.g. "38.5".
    pub percents: [String; 3],
}

pub(super) fn summary_lines(tally: &Tally) -> Vec<SummaryLine> {
    Item::ALL
        .iter()
        .map(|item| SummaryLine {
            item: *item,
            item_label: item.national_label().to_owned(),
            counts: SurveyStatus::ALL.map(|s| tally.count(*item, s)),
            percents: SurveyStatus::ALL.map(|s| format_tenths(tally.percent_tenths(*item, s))),
        })
        .collect()
}

/// Excel's paper-size code of A4.
const PAPER_A4: u8 = 9;
/// Margins in inches: left wide enough to bind (about 2.3 cm), then right, top, bottom, and the
/// distances of the header and footer from the edge.
const MARGINS: [f64; 6] = [0.9, 0.4, 0.7, 0.6, 0.3, 0.3];
/// Padding added to a column's widest cell, in Excel's character units.
const COLUMN_PADDING: f64 = 2.0;
/// The widest a detail column grows before its cells wrap, in Excel's character units.
const MAX_COLUMN_WIDTH: f64 = 40.0;
/// The width a detail header may take before it wraps onto a further line.
const HEADER_WRAP_WIDTH: f64 = 10.0;
/// The height of one line of 11-point text, Japanese included, in points.
const LINE_HEIGHT: f64 = 15.0;
/// Space above and below the lines of a detail row, in points.
const ROW_PADDING: f64 = 3.0;

/// Returns the width of `text` in Excel's column units (the width of a digit): an East Asian wide
/// character counts two.
pub(crate) fn text_width(text: &str) -> f64 {
    UnicodeWidthStr::width(text) as f64
}

/// Escapes `&`, the control character of Excel's page headers and footers.
fn header_text(text: &str) -> String {
    text.replace('&', "&&")
}

/// Sets up a sheet for printing as an officer files it: A4 landscape, one page wide (`pages_tall`
/// pages tall, 0 for as many as it takes), a wider left margin for binding, `title_rows` repeated
/// on every page, the survey (what, whose, which year, as of when) in the header and the sheet's
/// name with page x / y in the footer.
fn page_setup(
    sheet: &mut Worksheet,
    survey: &Survey,
    title_rows: (u32, u32),
    pages_tall: u16,
) -> Result<(), XlsxError> {
    let [left, right, top, bottom, header, footer] = MARGINS;
    // At most about 60 characters, well within Excel's limit of 255 per header or footer.
    let page_header = format!(
        "&L{}&R{}",
        header_text(&format!("{TITLE}　{}", survey.source)),
        header_text(&format!(
            "{}　基準日 {}",
            year_label(survey.fiscal_year),
            survey.as_of.format("%Y-%m-%d")
        ))
    );
    sheet
        .set_paper_size(PAPER_A4)
        .set_landscape()
        .set_print_fit_to_pages(1, pages_tall)
        .set_margins(left, right, top, bottom, header, footer)
        .set_header(page_header)
        .set_footer("&L&A&R&P / &N");
    sheet.set_repeat_rows(title_rows.0, title_rows.1)?;
    Ok(())
}

/// Returns the format of a table's header cells: bold, centred, wrapped, ruled.
pub(crate) fn header_format() -> Format {
    Format::new()
        .set_bold()
        .set_align(FormatAlign::Center)
        .set_align(FormatAlign::VerticalCenter)
        .set_text_wrap()
        .set_border(FormatBorder::Thin)
}

/// Returns the summary sheet (集計, laid out like the published table) and the detail sheet
/// (市区町村別) as an .xlsx workbook, each printing on A4 landscape one page wide; the summary
/// fits one page.
pub fn xlsx(survey: &Survey) -> Result<Vec<u8>, ExportError> {
    let mut workbook = Workbook::new();
    summary_sheet(workbook.add_worksheet(), survey)?;
    detail_sheet(workbook.add_worksheet(), survey)?;
    Ok(workbook.save_to_buffer()?)
}

/// Writes the summary table: the heading in one merged row, the answers as count and percentage
/// column pairs, one line per item, n below.
fn summary_sheet(sheet: &mut Worksheet, survey: &Survey) -> Result<(), XlsxError> {
    let tally = survey.tally();
    let title = Format::new().set_bold().set_font_size(12);
    let head = header_format();
    let label = Format::new().set_border(FormatBorder::Thin);
    let count = Format::new()
        .set_num_format("0")
        .set_border(FormatBorder::Thin);
    let percent = Format::new()
        .set_num_format("0.0")
        .set_border(FormatBorder::Thin);
    let last_col = 2 * SurveyStatus::ALL.len() as u16;

    sheet.set_name("集計")?;
    sheet.merge_range(0, 0, 0, last_col, &heading(survey).join("　"), &title)?;
    sheet.merge_range(2, 0, 3, 0, "事業項目", &head)?;
    for (i, status) in SurveyStatus::ALL.iter().enumerate() {
        let col = 1 + 2 * i as u16;
        sheet.merge_range(2, col, 2, col + 1, status.label(), &head)?;
        sheet.write_string_with_format(3, col, "件数", &head)?;
        sheet.write_string_with_format(3, col + 1, PERCENT_HEADER, &head)?;
    }
    let lines = summary_lines(&tally);
    for (r, line) in lines.iter().enumerate() {
        let row = 4 + r as u32;
        sheet.write_string_with_format(row, 0, &line.item_label, &label)?;
        for (i, status) in SurveyStatus::ALL.iter().enumerate() {
            let col = 1 + 2 * i as u16;
            sheet.write_number_with_format(row, col, f64::from(line.counts[i]), &count)?;
            let tenths = tally.percent_tenths(line.item, *status);
            sheet.write_number_with_format(row, col + 1, f64::from(tenths) / 10.0, &percent)?;
        }
    }
    sheet.write_string(4 + lines.len() as u32, 0, format!("(n={})", survey.n()))?;
    // The statutory groups' table (FY2020 on) below the items', leaving a row for the footnote.
    let groups = group_lines(survey).unwrap_or_default();
    let top = 7 + lines.len() as u32;
    if !groups.is_empty() {
        let wrap = Format::new().set_bold().set_text_wrap();
        sheet.merge_range(top, 0, top, last_col, GROUP_TITLE, &wrap)?;
        sheet.set_row_height(top, 2.0 * LINE_HEIGHT)?;
        sheet.merge_range(top + 1, 0, top + 2, 0, GROUP_HEADER, &head)?;
        for (i, status) in SurveyStatus::ALL.iter().enumerate() {
            let col = 1 + 2 * i as u16;
            sheet.merge_range(top + 1, col, top + 1, col + 1, status.label(), &head)?;
            sheet.write_string_with_format(top + 2, col, "件数", &head)?;
            sheet.write_string_with_format(top + 2, col + 1, PERCENT_HEADER, &head)?;
        }
        for (r, line) in groups.iter().enumerate() {
            let row = top + 3 + r as u32;
            sheet.write_string_with_format(row, 0, &line.label, &label)?;
            for i in 0..SurveyStatus::ALL.len() {
                let col = 1 + 2 * i as u16;
                sheet.write_number_with_format(row, col, f64::from(line.counts[i]), &count)?;
                let tenths = f64::from(line.percent_tenths[i]) / 10.0;
                sheet.write_number_with_format(row, col + 1, tenths, &percent)?;
            }
        }
    }

    let labels = lines
        .iter()
        .map(|l| text_width(&l.item_label))
        .chain(groups.iter().map(|g| text_width(&g.label)));
    let first = labels.fold(0.0, f64::max) + COLUMN_PADDING;
    sheet.set_column_width(0, first)?;
    // A pair of columns holds its answer's label across both; each holds its own sub-header.
    let answers = SurveyStatus::ALL.map(|s| text_width(s.label()) / 2.0);
    let pair = answers
        .into_iter()
        .fold(text_width(PERCENT_HEADER), f64::max)
        + COLUMN_PADDING;
    for col in 1..=last_col {
        sheet.set_column_width(col, pair)?;
    }
    if let Some(note) = survey_note(survey) {
        let table_width = first + f64::from(last_col) * pair;
        note_row(sheet, 5 + lines.len() as u32, last_col, table_width, &note)?;
    }
    sheet.set_freeze_panes(4, 1)?;
    page_setup(sheet, survey, (2, 3), 1)?;
    sheet.set_print_center_horizontally(true);
    Ok(())
}

/// The header of a percentage column: the number itself is shown with one decimal, e.g. 38.5.
const PERCENT_HEADER: &str = "割合（%）";

/// Writes one line per municipality under a frozen header whose item names wrap whole, with the
/// columns fitted to their contents.
fn detail_sheet(sheet: &mut Worksheet, survey: &Survey) -> Result<(), XlsxError> {
    let header = detail_header();
    let records = detail_records(survey);
    let head = header_format();
    let cell = Format::new()
        .set_align(FormatAlign::VerticalCenter)
        .set_text_wrap()
        .set_border(FormatBorder::Thin);
    // Codes are text, so that a leading zero (北海道 01…) stays and Excel never sums them.
    let code = cell.clone().set_num_format("@");

    sheet.set_name("市区町村別")?;
    // The width each column's text may take: its widest answer, at least part of its header.
    let widths: Vec<f64> = header
        .iter()
        .enumerate()
        .map(|(col, title)| {
            records
                .iter()
                .map(|r| text_width(&r[col]))
                .fold(text_width(title).min(HEADER_WRAP_WIDTH), f64::max)
                .min(MAX_COLUMN_WIDTH)
        })
        .collect();
    for (col, width) in widths.iter().enumerate() {
        sheet.set_column_width(col as u16, width + COLUMN_PADDING)?;
    }
    let mut write_line = |row: u32, texts: &[String], format: &Format| {
        let mut lines = 1.0_f64;
        for (col, (text, width)) in texts.iter().zip(&widths).enumerate() {
            let format = if col == 0 && row > 0 { &code } else { format };
            sheet.write_string_with_format(row, col as u16, text, format)?;
            lines = lines.max((text_width(text) / width).ceil());
        }
        // Excel keeps a row at one line unless told, and a bare line of Japanese is cramped.
        sheet.set_row_height(row, lines * LINE_HEIGHT + ROW_PADDING)?;
        Ok::<(), XlsxError>(())
    };
    write_line(0, &header, &head)?;
    for (r, record) in records.iter().enumerate() {
        write_line(1 + r as u32, record, &cell)?;
    }
    if let Some(note) = survey_note(survey) {
        let table_width = widths.iter().map(|w| w + COLUMN_PADDING).sum();
        let last_col = header.len() as u16 - 1;
        note_row(
            sheet,
            2 + records.len() as u32,
            last_col,
            table_width,
            &note,
        )?;
    }
    sheet.set_freeze_panes(1, 2)?;
    page_setup(sheet, survey, (0, 0), 0)?;
    Ok(())
}

/// Writes the non-respondents' footnote in one wrapped cell across the table's `table_width`
/// (through `last_col`), tall enough for its lines, so that it prints within the page.
fn note_row(
    sheet: &mut Worksheet,
    row: u32,
    last_col: u16,
    table_width: f64,
    note: &str,
) -> Result<(), XlsxError> {
    let format = Format::new().set_text_wrap().set_align(FormatAlign::Top);
    sheet.merge_range(row, 0, row, last_col, note, &format)?;
    let lines = (text_width(note) / table_width).ceil().max(1.0);
    sheet.set_row_height(row, lines * LINE_HEIGHT + ROW_PADDING)?;
    Ok(())
}

/// A survey as exported for machines: the rows, the summary derived from them, and a SHA-256 of
/// the survey so that the national merge can tell a complete file from a truncated or
/// accidentally edited one. It is a checksum, not a signature: anyone may recompute it, so the
/// file's origin rests on how it travelled (downloaded over TLS by a signed-in officer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChecksummedExport {
    pub format: String,
    /// The fiscal year with its 和暦, e.g. 令和6年度（FY2024）.
    pub fiscal_year_label: String,
    pub n: u32,
    pub survey: Survey,
    pub summary: Vec<SummaryLine>,
    /// Hex SHA-256 of the survey's JSON serialisation.
    pub checksum: String,
}

impl ChecksummedExport {
    pub fn new(survey: Survey) -> Result<Self, ExportError> {
        Ok(Self {
            format: JSON_FORMAT.to_owned(),
            fiscal_year_label: year_label(survey.fiscal_year),
            n: survey.n(),
            summary: summary_lines(&survey.tally()),
            checksum: checksum(&survey)?,
            survey,
        })
    }

    /// Returns whether the checksum, n and summary all match the survey they travel with.
    pub fn is_intact(&self) -> bool {
        self.format == JSON_FORMAT
            && checksum(&self.survey).is_ok_and(|c| c == self.checksum)
            && self.n == self.survey.n()
            && self.summary == summary_lines(&self.survey.tally())
    }
}

fn checksum(survey: &Survey) -> Result<String, ExportError> {
    checksum_of(survey)
}

/// The SHA-256 (hex) of a value's JSON: the checksum an export carries, so a merge can tell an
/// edited file.
pub(crate) fn checksum_of<T: serde::Serialize>(value: &T) -> Result<String, ExportError> {
    let digest = Sha256::digest(serde_json::to_vec(value)?);
    Ok(digest.iter().map(|b| format!("{b:02x}")).collect())
}

/// Returns the survey as JSON, with its summary and checksum.
pub fn json(survey: &Survey) -> Result<Vec<u8>, ExportError> {
    Ok(serde_json::to_vec_pretty(&ChecksummedExport::new(
        survey.clone(),
    )?)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::survey::{Approval, MunicipalityRow, Source};
    use renkei_proto::{FiscalYear, MunicipalityCode, PrefectureCode};

    #[test]
    fn exports_open_right_in_excel_codes_as_text_and_formulas_neutralised() {
        // Issue 20, point 11: "codes in the detail CSV are text (01–09 prefectures keep their
        // leading zero); any cell starting with = + - @ is neutralised". 札幌市 is 011002 in the
        // official list (../shared/data), a code Excel would otherwise read as 11002.
        let sapporo = "011002".parse::<MunicipalityCode>().unwrap();
        let mut row = MunicipalityRow::unreported(sapporo, "札幌市", Some("=1+1".into()));
        row.approval = Approval::Returned {
            version: 1,
            comment: "x".into(),
        };
        let mut other = MunicipalityRow::unreported(
            "012025".parse::<MunicipalityCode>().unwrap(),
            "@SUM(A1)",
            Some("-2".into()),
        );
        other.approval = Approval::NotSubmitted;
        let survey = Survey {
            fiscal_year: FiscalYear::new(2024).unwrap(),
            as_of: chrono::NaiveDate::from_ymd_opt(2024, 10, 1).unwrap(),
            source: Source::Prefecture(PrefectureCode::new(1).unwrap()),
            rows: vec![row, other],
        };
        let csv = String::from_utf8(detail_csv(&survey, CsvEncoding::Utf8Bom).unwrap()).unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert!(
            lines[2].starts_with("\"=\"\"011002\"\"\",札幌市,'=1+1,"),
            "{}",
            lines[2]
        );
        assert!(
            lines[3].starts_with("\"=\"\"012025\"\"\",'@SUM(A1),'-2,"),
            "{}",
            lines[3]
        );
        for line in &lines[2..] {
            for cell in line.split(',').skip(1) {
                assert!(
                    !cell.starts_with(['=', '+', '-', '@']),
                    "a cell Excel would run: {cell} in {line}"
                );
            }
        }
    }

    /// Issue 22, point 1: a year of the 2020 framework exports the statutory groups beside the
    /// items, in the CSV and the XLSX; a year of the 2015 framework exports the items alone.
    #[test]
    fn exports_of_a_pdca_year_carry_the_statutory_groups_and_2015_years_do_not() {
        use SurveyStatus::{Implemented as I, NotImplemented as N, Planned as P};
        use calamine::Reader;
        let code = |c: &str| c.parse::<MunicipalityCode>().unwrap();
        let answered = |c: &str, name: &str, statuses: [SurveyStatus; 8]| {
            let mut row = MunicipalityRow::unreported(code(c), name, None);
            row.reported = true;
            row.statuses = statuses;
            row
        };
        // 富山市: (ア) and (カ) implemented, (オ) planned → 一 実施, 二 予定, 三 なし, 四 実施.
        // 高岡市: (キ) implemented, (エ) planned, (ク) implemented → 一 なし, 二 なし, 三 実施,
        //         四 予定 ((ク) counts in no municipal group).
        // 魚津市: never heard of → 未回答, outside n.
        let rows = vec![
            answered("162019", "富山市", [I, N, N, N, P, I, N, N]),
            answered("162027", "高岡市", [N, N, N, P, N, N, I, I]),
            MunicipalityRow::unreported(code("162043"), "魚津市", None),
        ];
        let survey = |fy: i32| Survey {
            fiscal_year: FiscalYear::new(i64::from(fy)).unwrap(),
            as_of: chrono::NaiveDate::from_ymd_opt(fy, 10, 1).unwrap(),
            source: Source::Prefecture(PrefectureCode::new(16).unwrap()),
            rows: rows.clone(),
        };

        let csv =
            String::from_utf8(summary_csv(&survey(2024), CsvEncoding::Utf8Bom).unwrap()).unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        let title = lines
            .iter()
            .position(|l| l.starts_with(GROUP_TITLE))
            .expect(&csv);
        assert_eq!(title, 2 + Item::ALL.len(), "{csv}");
        assert_eq!(
            &lines[title + 1..title + 6],
            [
                "事業区分,実施している,実施している（%）,年度内に実施予定,年度内に実施予定（%）,実施していない,実施していない（%）,未回答",
                "一 情報の収集・整理・活用、課題の把握、施策の企画・立案、周知,1,50.0,0,0.0,1,50.0,1",
                "二 相談支援,0,0.0,1,50.0,1,50.0,1",
                "三 普及啓発,1,50.0,0,0.0,1,50.0,1",
                "四 情報共有の支援、研修、その他の支援,1,50.0,1,50.0,0,0.0,1",
            ],
            "{csv}"
        );
        // Every word of the group table is written in Shift_JIS too (for older tools).
        summary_csv(&survey(2024), CsvEncoding::ShiftJis).expect("Shift_JIS");
        let old =
            String::from_utf8(summary_csv(&survey(2019), CsvEncoding::Utf8Bom).unwrap()).unwrap();
        assert!(!old.contains("事業区分"), "{old}");
        assert_eq!(old.lines().count(), 2 + Item::ALL.len() + 1, "{old}");

        // The XLSX's summary sheet, read back as an office would.
        let bytes = xlsx(&survey(2024)).unwrap();
        let mut book = calamine::Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
        let sheet = book.worksheet_range("集計").unwrap();
        let cell = |r: u32, c: u32| {
            sheet
                .get_value((r, c))
                .map(|v| v.to_string())
                .unwrap_or_default()
        };
        let top = 7 + Item::ALL.len() as u32;
        assert_eq!(cell(top, 0), GROUP_TITLE);
        assert_eq!(cell(top + 1, 0), GROUP_HEADER);
        let four = top + 6;
        assert_eq!(cell(four, 0), "四 情報共有の支援、研修、その他の支援");
        assert_eq!(
            (1..=6).map(|c| cell(four, c)).collect::<Vec<_>>(),
            ["1", "50", "1", "50", "0", "0"]
        );
        let bytes = xlsx(&survey(2019)).unwrap();
        let mut book = calamine::Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
        let sheet = book.worksheet_range("集計").unwrap();
        assert!(
            sheet
                .rows()
                .flatten()
                .all(|v| !matches!(v, calamine::Data::String(s) if s == GROUP_HEADER)),
            "FY2019 has no group table"
        );
    }
}
