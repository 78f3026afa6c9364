//! Proves that the XLSX export is a workbook an officer can read and print (issue 23): every sheet
//! prints on A4 landscape one page wide, with a wider left margin for binding, its header rows
//! repeated on each page and the survey (what, whose, 和暦 year, 基準日) and page x / y in the
//! header and footer; the header row is frozen, item labels wrap whole in it and every column is
//! wide enough for its answers; counts and percentages are numbers (percentages shown 0.0),
//! municipality codes text; the title is one cell across the table. Where LibreOffice is installed
//! it prints the workbooks to PDF as an office would: a prefecture's (富山県, 15 municipalities) on
//! exactly one page per sheet, the national merge's summary on one page.

use std::io::{Cursor, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use calamine::{Data, Reader};
use chrono::NaiveDate;
use renkei_federation::survey::{
    Approval, Item, MunicipalityRow, Source, Survey, SurveyStatus, json, merge_national, xlsx,
};
use renkei_proto::{FiscalYear, PrefectureCode, official};
use unicode_width::UnicodeWidthStr;

fn fy2024() -> (FiscalYear, NaiveDate) {
    (
        FiscalYear::new(2024).unwrap(),
        NaiveDate::from_ymd_opt(2024, 10, 1).unwrap(),
    )
}

/// A municipality's row with answers that differ per municipality and item, so that every answer
/// and every submission state occurs.
fn row(index: usize, m: &official::Municipality, area: Option<&str>) -> MunicipalityRow {
    let statuses = std::array::from_fn(|item| SurveyStatus::ALL[(index + item) % 3]);
    let approval = match index % 4 {
        0 => Approval::Approved { version: 1 },
        1 => Approval::Submitted { version: 2 },
        2 => Approval::Returned {
            version: 1,
            comment: "研修の実施日を確認してください".into(),
        },
        _ => Approval::NotSubmitted,
    };
    MunicipalityRow {
        code: m.code,
        name: m.name.to_owned(),
        area: area.map(str::to_owned),
        statuses,
        reported: index % 4 != 3,
        approval,
    }
}

/// 富山県's 15 municipalities over its four 二次医療圏.
fn toyama() -> Survey {
    let (fy, as_of) = fy2024();
    let prefecture = PrefectureCode::new(16).unwrap();
    let rows: Vec<_> = official::municipalities_of(prefecture)
        .enumerate()
        .map(|(i, m)| row(i, m, Some(["新川", "富山", "高岡", "砺波"][i % 4])))
        .collect();
    assert_eq!(rows.len(), 15);
    Survey::new(fy, as_of, Source::Prefecture(prefecture), rows).unwrap()
}

/// The national merge of the 47 prefectures' JSON exports (1,741 municipalities).
fn national() -> Survey {
    let (fy, as_of) = fy2024();
    let exports: Vec<Vec<u8>> = (1..=47)
        .map(|p| {
            let prefecture = PrefectureCode::new(p).unwrap();
            let rows = official::municipalities_of(prefecture)
                .enumerate()
                .map(|(i, m)| row(i, m, None))
                .collect();
            json(&Survey::new(fy, as_of, Source::Prefecture(prefecture), rows).unwrap()).unwrap()
        })
        .collect();
    let (survey, report) = merge_national(&exports).unwrap();
    assert!(report.missing.is_empty());
    survey
}

/// Returns one part of the workbook (an .xlsx is a zip of XML parts) as text.
fn part(workbook: &[u8], name: &str) -> String {
    let mut archive = zip::ZipArchive::new(Cursor::new(workbook)).unwrap();
    let mut text = String::new();
    archive
        .by_name(name)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .read_to_string(&mut text)
        .unwrap();
    text
}

/// Returns what follows the name of every `<tag` element of `xml` (`<col` does not match `<cols`).
fn openings<'a>(xml: &'a str, tag: &str) -> Vec<&'a str> {
    let open = format!("<{tag}");
    xml.match_indices(&open)
        .map(|(at, _)| &xml[at + open.len()..])
        .filter(|rest| rest.starts_with([' ', '/', '>']))
        .collect()
}

/// Returns the attributes of every `<tag …>` element of `xml`, in order, as (name, value) pairs.
fn elements(xml: &str, tag: &str) -> Vec<Vec<(String, String)>> {
    openings(xml, tag)
        .into_iter()
        .map(|rest| {
            let body = &rest[..rest.find('>').unwrap()];
            body.split('"')
                .collect::<Vec<_>>()
                .chunks(2)
                .filter(|pair| pair.len() == 2)
                .map(|pair| {
                    let name = pair[0].trim().trim_end_matches('=').to_owned();
                    (name, pair[1].to_owned())
                })
                .collect()
        })
        .collect()
}

/// Returns the value of attribute `name` of the first `<tag>` of `xml`.
fn attribute(xml: &str, tag: &str, name: &str) -> Option<String> {
    elements(xml, tag)
        .first()?
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.clone())
}

/// Returns the text of every `<tag>…</tag>` element of `xml`, XML entities decoded.
fn texts(xml: &str, tag: &str) -> Vec<String> {
    let close = format!("</{tag}>");
    openings(xml, tag)
        .into_iter()
        .filter_map(|rest| {
            let start = rest.find('>')? + 1;
            let end = rest.find(&close)?;
            Some(
                rest[start..end]
                    .replace("&amp;", "&")
                    .replace("&apos;", "'"),
            )
        })
        .collect()
}

/// Returns each column's width as (first column, last column, width), columns counted from 1.
fn column_widths(sheet: &str) -> Vec<(u16, u16, f64)> {
    elements(sheet, "col")
        .iter()
        .map(|attrs| {
            let get = |n: &str| attrs.iter().find(|(k, _)| k == n).unwrap().1.clone();
            (
                get("min").parse().unwrap(),
                get("max").parse().unwrap(),
                get("width").parse().unwrap(),
            )
        })
        .collect()
}

fn width_of(widths: &[(u16, u16, f64)], col: u16) -> f64 {
    let number = col + 1;
    widths
        .iter()
        .find(|(min, max, _)| (*min..=*max).contains(&number))
        .unwrap_or_else(|| panic!("column {number} has no width"))
        .2
}

fn sheets(workbook: &[u8]) -> [String; 2] {
    [
        part(workbook, "xl/worksheets/sheet1.xml"),
        part(workbook, "xl/worksheets/sheet2.xml"),
    ]
}

#[test]
fn every_sheet_prints_on_a4_landscape_one_page_wide_with_a_binding_margin() {
    for survey in [toyama(), national()] {
        let [summary, detail] = sheets(&xlsx(&survey).unwrap());
        for (sheet, pages_tall) in [(&summary, None), (&detail, Some("0"))] {
            assert_eq!(
                attribute(sheet, "pageSetup", "orientation").as_deref(),
                Some("landscape")
            );
            assert_eq!(
                attribute(sheet, "pageSetup", "paperSize").as_deref(),
                Some("9")
            );
            assert_eq!(
                attribute(sheet, "pageSetUpPr", "fitToPage").as_deref(),
                Some("1")
            );
            // One page wide (Excel's default 1 is left out); the summary one page tall too, the
            // detail as many pages tall as it takes (0).
            assert_eq!(attribute(sheet, "pageSetup", "fitToWidth"), None);
            assert_eq!(
                attribute(sheet, "pageSetup", "fitToHeight").as_deref(),
                pages_tall
            );
            let margin = |side: &str| -> f64 {
                attribute(sheet, "pageMargins", side)
                    .unwrap()
                    .parse()
                    .unwrap()
            };
            assert!(
                margin("left") > margin("right"),
                "binding margin on the left"
            );
        }
    }
}

#[test]
fn the_header_rows_repeat_on_every_printed_page() {
    let workbook = part(&xlsx(&national()).unwrap(), "xl/workbook.xml");
    let names = elements(&workbook, "definedName");
    let titles = texts(&workbook, "definedName");
    let mut print_titles: Vec<(String, String)> = names
        .iter()
        .zip(&titles)
        .filter(|(attrs, _)| attrs.iter().any(|(_, v)| v == "_xlnm.Print_Titles"))
        .map(|(attrs, text)| {
            let sheet = attrs.iter().find(|(k, _)| k == "localSheetId").unwrap();
            (sheet.1.clone(), text.clone())
        })
        .collect();
    print_titles.sort();
    assert_eq!(
        print_titles,
        vec![
            ("0".to_owned(), "集計!$3:$4".to_owned()),
            ("1".to_owned(), "市区町村別!$1:$1".to_owned()),
        ]
    );
}

#[test]
fn every_page_names_the_survey_prefecture_year_as_of_and_page_of_pages() {
    for (survey, whose) in [(toyama(), "富山県"), (national(), "全国")] {
        for sheet in sheets(&xlsx(&survey).unwrap()) {
            let header = texts(&sheet, "oddHeader").concat();
            for expected in [
                "在宅医療・介護連携推進事業 実施状況",
                whose,
                "令和6年度",
                "基準日 2024-10-01",
            ] {
                assert!(header.contains(expected), "{expected} not in {header}");
            }
            let footer = texts(&sheet, "oddFooter").concat();
            assert!(footer.contains("&P / &N"), "{footer}");
            assert!(header.chars().count() <= 255 && footer.chars().count() <= 255);
        }
    }
}

#[test]
fn the_title_is_one_cell_across_the_table() {
    let bytes = xlsx(&toyama()).unwrap();
    let mut book = calamine::Xlsx::new(Cursor::new(bytes.clone())).unwrap();
    let summary = book.worksheet_range("集計").unwrap();
    let title = summary.get_value((0, 0)).unwrap().to_string();
    for expected in [
        "在宅医療・介護連携推進事業 実施状況",
        "令和6年度（FY2024）",
        "2024-10-01現在",
        "n=12",
        "未回答=3",
        "富山県",
    ] {
        assert!(title.contains(expected), "{expected} not in {title}");
    }
    for col in 1..7 {
        assert!(matches!(
            summary.get_value((0, col)),
            None | Some(Data::Empty)
        ));
    }
    let [sheet, _] = sheets(&bytes);
    let merged: Vec<String> = elements(&sheet, "mergeCell")
        .into_iter()
        .map(|attrs| attrs[0].1.clone())
        .collect();
    assert!(merged.contains(&"A1:G1".to_owned()), "{merged:?}");
}

#[test]
fn counts_and_percentages_are_numbers_and_codes_are_text() {
    let survey = toyama();
    let tally = survey.tally();
    let bytes = xlsx(&survey).unwrap();
    let mut book = calamine::Xlsx::new(Cursor::new(bytes.clone())).unwrap();
    let summary = book.worksheet_range("集計").unwrap();
    for (r, item) in Item::ALL.iter().enumerate() {
        for (i, status) in SurveyStatus::ALL.iter().enumerate() {
            let (row, col) = (4 + r as u32, 1 + 2 * i as u32);
            let count = f64::from(tally.count(*item, *status));
            let percent = f64::from(tally.percent_tenths(*item, *status)) / 10.0;
            assert_eq!(summary.get_value((row, col)), Some(&Data::Float(count)));
            assert_eq!(
                summary.get_value((row, col + 1)),
                Some(&Data::Float(percent))
            );
        }
    }
    let detail = book.worksheet_range("市区町村別").unwrap();
    assert_eq!(
        detail.get_value((1, 0)),
        Some(&Data::String("162019".into()))
    );

    // Percentages show one decimal (38.5, not 38.5%), counts none, codes are formatted as text.
    let styles = part(&bytes, "xl/styles.xml");
    let attr = |attrs: &[(String, String)], name: &str| {
        attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    // Excel's built-in formats "0" and "@", then the workbook's own.
    let mut codes = vec![
        ("1".to_owned(), "0".to_owned()),
        ("49".to_owned(), "@".to_owned()),
    ];
    codes.extend(
        elements(&styles, "numFmt")
            .iter()
            .filter_map(|a| Some((attr(a, "numFmtId")?, attr(a, "formatCode")?))),
    );
    let used: Vec<String> = elements(&styles, "xf")
        .iter()
        .filter_map(|a| attr(a, "numFmtId"))
        .filter_map(|id| codes.iter().find(|(i, _)| *i == id).map(|(_, c)| c.clone()))
        .collect();
    for code in ["0", "0.0", "@"] {
        assert!(used.contains(&code.to_owned()), "{code} not in {used:?}");
    }
    assert!(!styles.contains("&quot;%&quot;"), "no % sign pasted on");
}

#[test]
fn the_header_row_is_frozen_and_item_labels_wrap_whole() {
    for survey in [toyama(), national()] {
        let bytes = xlsx(&survey).unwrap();
        let [summary, detail] = sheets(&bytes);
        // 集計 scrolls under its two header rows and item column, 市区町村別 under its header row,
        // code and name.
        for (sheet, first_scrolled) in [(&summary, "B5"), (&detail, "C2")] {
            assert_eq!(attribute(sheet, "pane", "state").as_deref(), Some("frozen"));
            assert_eq!(
                attribute(sheet, "pane", "topLeftCell").as_deref(),
                Some(first_scrolled)
            );
        }
        assert!(part(&bytes, "xl/styles.xml").contains("wrapText=\"1\""));

        // The header row is tall enough for the longest item label at its column's width.
        let widths = column_widths(&detail);
        let height: f64 = attribute(&detail, "row", "ht").unwrap().parse().unwrap();
        for (i, item) in Item::ALL.iter().enumerate() {
            let usable = width_of(&widths, 3 + i as u16) - 2.0;
            let lines = (item.national_label().width() as f64 / usable).ceil();
            assert!(
                height >= lines * 15.0,
                "{} needs {lines} lines of {usable}; the row is {height} pt",
                item.national_label()
            );
        }
    }
}

#[test]
fn every_column_is_wide_enough_for_its_labels_and_answers() {
    for survey in [toyama(), national()] {
        let bytes = xlsx(&survey).unwrap();
        let mut book = calamine::Xlsx::new(Cursor::new(bytes.clone())).unwrap();
        let [summary_xml, detail_xml] = sheets(&bytes);

        let summary = column_widths(&summary_xml);
        for item in Item::ALL {
            let label = item.national_label();
            assert!(width_of(&summary, 0) >= label.width() as f64, "{label}");
        }
        for (i, status) in SurveyStatus::ALL.iter().enumerate() {
            let pair = width_of(&summary, 1 + 2 * i as u16) + width_of(&summary, 2 + 2 * i as u16);
            assert!(pair >= status.label().width() as f64, "{}", status.label());
        }

        let widths = column_widths(&detail_xml);
        let detail = book.worksheet_range("市区町村別").unwrap();
        let merged: Vec<String> = elements(&detail_xml, "mergeCell")
            .into_iter()
            .map(|attrs| attrs[0].1.clone())
            .collect();
        for (row, col, value) in detail.used_cells().filter(|(row, ..)| *row > 0) {
            let text = value.to_string();
            if text.starts_with("注：") {
                // The non-respondents' footnote wraps in one cell across the table.
                let last = (b'A' + detail.width() as u8 - 1) as char;
                let across = format!("A{0}:{last}{0}", row + 1);
                assert!(merged.contains(&across), "{across} not in {merged:?}");
                continue;
            }
            let width = width_of(&widths, col as u16);
            // The approval column wraps a returned comment past 40 characters; nothing else wraps.
            assert!(
                width >= (text.width() as f64).min(40.0),
                "row {row} column {col}: {text} is cut at width {width}"
            );
        }
    }
}

/// Returns how long LibreOffice may take to print one workbook.
const PRINT_PATIENCE: Duration = Duration::from_secs(300);

/// Prints `workbook` to PDF with LibreOffice, as an office would, and returns the PDF; or, where
/// LibreOffice is not installed, says so on stderr and returns None.
fn print_to_pdf(workbook: &[u8], name: &str) -> Option<Vec<u8>> {
    if Command::new("soffice")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_err()
    {
        eprintln!(
            "skipped: soffice not installed, so {name} was not printed to PDF \
             (scripts/setup installs libreoffice-calc-nogui)"
        );
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(format!("{name}.xlsx"));
    std::fs::File::create(&file)
        .unwrap()
        .write_all(workbook)
        .unwrap();
    // A profile of its own, so that parallel conversions do not wait on one another's lock.
    let profile = format!(
        "-env:UserInstallation=file://{}",
        dir.path().join("profile").display()
    );
    let mut child = Command::new("soffice")
        .arg(profile)
        .args(["--headless", "--convert-to", "pdf", "--outdir"])
        .arg(dir.path())
        .arg(&file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > PRINT_PATIENCE {
            let _ = child.kill();
            panic!("soffice still printing {name} after {PRINT_PATIENCE:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let pdf_path = dir.path().join(format!("{name}.pdf"));
    assert!(
        status.success() && pdf_path.is_file(),
        "soffice failed: {status}"
    );
    // To look at the prints: RENKEI_PRINTS_DIR=/some/folder keeps each workbook and its PDF.
    if let Some(keep) = std::env::var_os("RENKEI_PRINTS_DIR") {
        std::fs::create_dir_all(&keep).unwrap();
        std::fs::copy(&file, Path::new(&keep).join(format!("{name}.xlsx"))).unwrap();
        std::fs::copy(&pdf_path, Path::new(&keep).join(format!("{name}.pdf"))).unwrap();
    }
    Some(std::fs::read(pdf_path).unwrap())
}

/// Returns the number of pages of a PDF: its page objects (`/Type /Page`, not `/Type /Pages`).
fn page_count(pdf: &[u8]) -> usize {
    [&b"/Type/Page"[..], b"/Type /Page"]
        .iter()
        .map(|pattern| {
            pdf.windows(pattern.len() + 1)
                .filter(|w| w.starts_with(pattern) && !w[pattern.len()].is_ascii_alphanumeric())
                .count()
        })
        .sum()
}

/// Returns the workbook with its detail sheet hidden, so that LibreOffice prints the summary alone.
fn summary_only(workbook: &[u8]) -> Vec<u8> {
    let mut archive = zip::ZipArchive::new(Cursor::new(workbook)).unwrap();
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).unwrap();
        let name = entry.name().unwrap().into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        if name == "xl/workbook.xml" {
            let text = String::from_utf8(bytes).unwrap();
            let hidden = text.replace(
                "<sheet name=\"市区町村別\"",
                "<sheet name=\"市区町村別\" state=\"hidden\"",
            );
            assert_ne!(hidden, text);
            bytes = hidden.into_bytes();
        }
        writer
            .start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        writer.write_all(&bytes).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

#[test]
fn a_prefecture_workbook_prints_on_one_page_per_sheet() {
    let Some(pdf) = print_to_pdf(&xlsx(&toyama()).unwrap(), "survey_16_2024") else {
        return;
    };
    let pages = page_count(&pdf);
    eprintln!("survey_16_2024.xlsx printed on {pages} pages");
    assert_eq!(pages, 2, "集計 and 市区町村別 on one page each");
}

#[test]
fn the_national_summary_prints_on_one_page_and_the_detail_on_pages_of_its_own() {
    let workbook = xlsx(&national()).unwrap();
    let Some(whole) = print_to_pdf(&workbook, "national") else {
        return;
    };
    let Some(summary) = print_to_pdf(&summary_only(&workbook), "national_summary") else {
        return;
    };
    let (whole, summary) = (page_count(&whole), page_count(&summary));
    eprintln!("national.xlsx printed on {whole} pages, its 集計 alone on {summary}");
    assert_eq!(summary, 1, "the national table on one page");
    // 1,741 lines need many pages; each repeats the header row (checked above as print titles).
    assert!(whole > 10, "{whole} pages");
}

#[test]
fn page_count_counts_pages_not_the_page_tree() {
    let pdf = b"<</Type /Pages /Kids [3 0 R 4 0 R] /Count 2>> <</Type /Page>> <</Type/Page/Parent 2 0 R>>";
    assert_eq!(page_count(pdf), 2);
}
