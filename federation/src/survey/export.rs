//! Exports of a survey in the national format, for officials (CSV that opens in Excel on Japanese
//! Windows, XLSX laid out like the published table) and for machines (JSON with a checksum, the
//! input of the national merge). Every export states the fiscal year with its 和暦, the as-of
//! date, n and the source.

use renkei_proto::FiscalYear;
use rust_xlsxwriter::{Format, FormatAlign, Workbook, XlsxError};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Item, Survey, SurveyStatus, Tally, format_tenths};

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

fn year_label(fy: FiscalYear) -> String {
    format!("{}（{}）", fy.wareki(), fy)
}

/// The line every export starts with: what the numbers are about.
fn heading(survey: &Survey) -> Vec<String> {
    vec![
        "在宅医療・介護連携推進事業 実施状況".to_owned(),
        year_label(survey.fiscal_year),
        format!("{}現在", survey.as_of.format("%Y-%m-%d")),
        format!("n={}", survey.n()),
        survey.source.to_string(),
    ]
}

fn encode(records: Vec<Vec<String>>, encoding: CsvEncoding) -> Result<Vec<u8>, ExportError> {
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
    records.push(header);
    records.extend(summary_lines(&tally).into_iter().map(|line| {
        let mut record = vec![line.item_label.clone()];
        for (count, percent) in line.counts.iter().zip(&line.percents) {
            record.push(count.to_string());
            record.push(percent.clone());
        }
        record
    }));
    encode(records, encoding)
}

/// Returns the per-municipality detail as CSV: code, name, 二次医療圏, the answer per item,
/// whether it reported and its submission/approval state.
pub fn detail_csv(survey: &Survey, encoding: CsvEncoding) -> Result<Vec<u8>, ExportError> {
    let mut records = vec![heading(survey), detail_header()];
    records.extend(survey.rows.iter().map(|row| {
        let mut record = vec![
            row.code.to_string(),
            row.name.clone(),
            row.area.clone().unwrap_or_default(),
        ];
        record.extend(Item::ALL.iter().map(|i| row.status(*i).label().to_owned()));
        record.push(if row.reported { "有" } else { "無" }.to_owned());
        record.push(row.approval.label());
        record
    }));
    encode(records, encoding)
}

fn detail_header() -> Vec<String> {
    let mut header: Vec<String> = ["市区町村コード", "市区町村名", "二次医療圏"]
        .map(str::to_owned)
        .to_vec();
    header.extend(Item::ALL.iter().map(|i| i.national_label().to_owned()));
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

fn summary_lines(tally: &Tally) -> Vec<SummaryLine> {
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

/// Returns the summary sheet (集計, laid out like the published table) and the detail sheet
/// (市区町村別) as an .xlsx workbook.
pub fn xlsx(survey: &Survey) -> Result<Vec<u8>, ExportError> {
    let tally = survey.tally();
    let mut workbook = Workbook::new();
    let bold = Format::new().set_bold();
    let centred = Format::new().set_bold().set_align(FormatAlign::Center);
    let percent = Format::new().set_num_format("0.0\"%\"");

    let sheet = workbook.add_worksheet();
    sheet.set_name("集計")?;
    for (col, text) in heading(survey).iter().enumerate() {
        sheet.write_string_with_format(0, col as u16, text, &bold)?;
    }
    sheet.write_string_with_format(2, 0, "事業項目", &centred)?;
    for (i, status) in SurveyStatus::ALL.iter().enumerate() {
        let col = 1 + 2 * i as u16;
        sheet.merge_range(2, col, 2, col + 1, status.label(), &centred)?;
        sheet.write_string_with_format(3, col, "件数", &centred)?;
        sheet.write_string_with_format(3, col + 1, "割合", &centred)?;
    }
    for (r, line) in summary_lines(&tally).iter().enumerate() {
        let row = 4 + r as u32;
        sheet.write_string(row, 0, &line.item_label)?;
        for (i, status) in SurveyStatus::ALL.iter().enumerate() {
            let col = 1 + 2 * i as u16;
            sheet.write_number(row, col, f64::from(line.counts[i]))?;
            let tenths = tally.percent_tenths(line.item, *status);
            sheet.write_number_with_format(row, col + 1, f64::from(tenths) / 10.0, &percent)?;
        }
    }
    sheet.write_string(12, 0, format!("(n={})", survey.n()))?;
    sheet.set_column_width(0, 60)?;

    let detail = workbook.add_worksheet();
    detail.set_name("市区町村別")?;
    for (col, text) in detail_header().iter().enumerate() {
        detail.write_string_with_format(0, col as u16, text, &bold)?;
    }
    for (r, row) in survey.rows.iter().enumerate() {
        let line = 1 + r as u32;
        detail.write_string(line, 0, row.code.to_string())?;
        detail.write_string(line, 1, &row.name)?;
        detail.write_string(line, 2, row.area.clone().unwrap_or_default())?;
        for (i, item) in Item::ALL.iter().enumerate() {
            detail.write_string(line, 3 + i as u16, row.status(*item).label())?;
        }
        detail.write_string(line, 11, if row.reported { "有" } else { "無" })?;
        detail.write_string(line, 12, row.approval.label())?;
    }
    Ok(workbook.save_to_buffer()?)
}

/// A survey as exported for machines: the rows, the summary derived from them, and a SHA-256 of
/// the survey so that the national merge can tell a complete, unmodified file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedExport {
    pub format: String,
    /// The fiscal year with its 和暦, e.g. 令和6年度（FY2024）.
    pub fiscal_year_label: String,
    pub n: u32,
    pub survey: Survey,
    pub summary: Vec<SummaryLine>,
    /// Hex SHA-256 of the survey's JSON serialisation.
    pub checksum: String,
}

impl SignedExport {
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
    let digest = Sha256::digest(serde_json::to_vec(survey)?);
    Ok(digest.iter().map(|b| format!("{b:02x}")).collect())
}

/// Returns the survey as JSON, with its summary and checksum.
pub fn json(survey: &Survey) -> Result<Vec<u8>, ExportError> {
    Ok(serde_json::to_vec_pretty(&SignedExport::new(
        survey.clone(),
    )?)?)
}
