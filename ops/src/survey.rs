//! `renkei survey export` (a prefecture's survey as a file, through `PrefectureSurvey`),
//! `renkei survey merge` (the national merge of prefectures' JSON exports, done locally with
//! [`renkei_federation::survey::merge_national`]) and `renkei survey cycle-merge` (the national
//! PDCA cycle table from prefectures' cycle exports, with
//! [`renkei_federation::cycle::merge::merge_cycle_national`]).

use std::path::{Path, PathBuf};

use renkei_federation::cycle::merge::merge_cycle_national;
use renkei_federation::survey::{self as national, CsvEncoding, Item, SurveyStatus};
use renkei_proto::programme::cycle::PdcaStep;
use renkei_proto::{FiscalYear, v1};
use serde_json::json;

use crate::cli::{ExportFormat, SurveyCommand};
use crate::failure::Failure;
use crate::rpc::{self, ClusterClient, authed, bearer};
use crate::table::{self, TallyLine};

/// Runs `renkei survey …`.
pub async fn run(command: SurveyCommand, json: bool) -> Result<(), Failure> {
    match command {
        SurveyCommand::Export {
            addr,
            token,
            fy,
            as_of,
            known_at,
            format,
            submitted,
            out,
        } => {
            let asked = Asked {
                fy,
                as_of,
                known_at,
                submitted,
            };
            export(addr, token, asked, format, &out, json).await
        }
        SurveyCommand::Merge { files, out } => merge(&files, &out, json),
        SurveyCommand::CycleMerge { files, out } => cycle_merge(&files, &out, json),
    }
}

/// Which survey an export asks for.
struct Asked {
    fy: FiscalYear,
    as_of: Option<chrono::NaiveDate>,
    known_at: Option<chrono::DateTime<chrono::Utc>>,
    submitted: bool,
}

async fn export(
    addr: Vec<String>,
    token: Option<String>,
    asked: Asked,
    format: ExportFormat,
    out: &Path,
    json: bool,
) -> Result<(), Failure> {
    let Asked {
        fy,
        as_of,
        known_at,
        submitted,
    } = asked;
    let as_of = as_of.unwrap_or_else(|| fy.last_day());
    if !fy.contains(as_of) {
        return Err(Failure::usage(format!(
            "--as-of {as_of} lies outside {} ({}..{}), the fiscal year given by --fy {}",
            fy.wareki(),
            fy.first_day(),
            fy.last_day(),
            fy.year()
        )));
    }
    check_writable(out)?;
    let (wire_format, shift_jis) = match format {
        ExportFormat::Csv => (v1::ExportFormat::SummaryCsv, false),
        ExportFormat::CsvSjis => (v1::ExportFormat::SummaryCsv, true),
        ExportFormat::DetailCsv => (v1::ExportFormat::DetailCsv, false),
        ExportFormat::Xlsx => (v1::ExportFormat::Xlsx, false),
        ExportFormat::Json => (v1::ExportFormat::Json, false),
    };
    let request = v1::ExportSurveyRequest {
        tally: Some(v1::GetTallyRequest {
            fiscal_year: i32::from(fy.year()),
            as_of: as_of.format("%Y-%m-%d").to_string(),
            known_at: known_at.map(renkei_proto::convert::utc_to_timestamp),
            source: if submitted {
                v1::TallySource::Submitted
            } else {
                v1::TallySource::Live
            } as i32,
            consistency: v1::ReadConsistency::Linearizable as i32,
        }),
        format: wire_format as i32,
        shift_jis,
    };
    let auth = bearer(token.as_deref())?;
    let mut cluster = ClusterClient::new(addr);
    let reply = cluster
        .call("PrefectureSurvey.ExportSurvey", move |channel| {
            let mut client = v1::PrefectureSurveyClient::new(channel)
                .max_decoding_message_size(rpc::MAX_MESSAGE_BYTES);
            let request = authed(&auth, request.clone());
            async move { client.export_survey(request).await }
        })
        .await?;
    std::fs::write(out, &reply.content)
        .map_err(|e| Failure::runtime(format!("cannot write {}: {e}", out.display())))?;
    if json {
        println!(
            "{}",
            json!({
                "out": out.display().to_string(),
                "bytes": reply.content.len(),
                "suggested_name": reply.file_name,
                "fiscal_year": fy.year(),
                "as_of": as_of.to_string(),
                "known_at": known_at.map(|t| t.to_rfc3339()),
            })
        );
    } else {
        println!(
            "wrote {} ({} bytes; {} {}現在; the prefecture suggests the name {})",
            out.display(),
            reply.content.len(),
            fy.wareki(),
            as_of,
            reply.file_name
        );
    }
    Ok(())
}

/// Refuses an output path whose folder does not exist, before anything is fetched.
fn check_writable(out: &Path) -> Result<(), Failure> {
    let parent = out.parent().filter(|p| !p.as_os_str().is_empty());
    if let Some(dir) = parent
        && !dir.is_dir()
    {
        return Err(Failure::usage(format!(
            "--out {}: the folder {} does not exist",
            out.display(),
            dir.display()
        )));
    }
    if out.is_dir() {
        return Err(Failure::usage(format!(
            "--out {}: is a folder",
            out.display()
        )));
    }
    Ok(())
}

/// The file formats the merge can write, by the extension of `--out`.
enum MergeOutput {
    Json,
    Csv,
    Xlsx,
    /// A self-contained HTML report of the national table and the prefectures compared.
    Html,
}

fn merge_output(out: &Path) -> Result<MergeOutput, Failure> {
    match out
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("json") => Ok(MergeOutput::Json),
        Some("csv") => Ok(MergeOutput::Csv),
        Some("xlsx") => Ok(MergeOutput::Xlsx),
        Some("html") => Ok(MergeOutput::Html),
        _ => Err(Failure::usage(format!(
            "--out {}: the name must end in .json, .csv, .xlsx or .html (the format written)",
            out.display()
        ))),
    }
}

fn merge(files: &[PathBuf], out: &Path, json: bool) -> Result<(), Failure> {
    let output = merge_output(out)?;
    check_writable(out)?;
    let mut exports = Vec::with_capacity(files.len());
    for file in files {
        let bytes = std::fs::read(file)
            .map_err(|e| Failure::usage(format!("{}: cannot read it: {e}", file.display())))?;
        exports.push(bytes);
    }
    let (survey, report) = national::merge_national(&exports).map_err(|e| {
        // The library names exports by their index; the operator knows them by file name.
        let text = e.to_string();
        let named = files.iter().enumerate().fold(text, |t, (i, f)| {
            t.replace(&format!("export {i} "), &format!("{} ", f.display()))
        });
        Failure::usage(format!("cannot merge: {named}"))
    })?;
    let bytes = match output {
        MergeOutput::Json => national::json(&survey),
        MergeOutput::Csv => national::summary_csv(&survey, CsvEncoding::Utf8Bom),
        MergeOutput::Xlsx => national::xlsx(&survey),
        MergeOutput::Html => Ok(national::national_html(&survey).into_bytes()),
    }
    .map_err(|e| Failure::runtime(format!("cannot write the national survey: {e}")))?;
    std::fs::write(out, &bytes)
        .map_err(|e| Failure::runtime(format!("cannot write {}: {e}", out.display())))?;

    let tally = survey.tally();
    let lines: Vec<TallyLine> = Item::ALL
        .iter()
        .map(|item| TallyLine {
            label: item.national_label().to_owned(),
            counts: SurveyStatus::ALL.map(|s| tally.count(*item, s)),
            percents: SurveyStatus::ALL
                .map(|s| national::format_tenths(tally.percent_tenths(*item, s))),
        })
        .collect();
    let missing: Vec<String> = report.missing.iter().map(|c| c.to_string()).collect();
    let unknown: Vec<String> = report.unknown.iter().map(|c| c.to_string()).collect();
    if json {
        println!(
            "{}",
            json!({
                "out": out.display().to_string(),
                "files": files.len(),
                "fiscal_year": survey.fiscal_year.year(),
                "as_of": survey.as_of.to_string(),
                "n": survey.n(),
                "unanswered": survey.unanswered(),
                "missing": missing,
                "unknown": unknown,
                "tally": lines,
            })
        );
    } else {
        println!(
            "全国 {} {}現在: {} exports merged, n={}, 未回答 {}",
            survey.fiscal_year.wareki(),
            survey.as_of,
            files.len(),
            survey.n(),
            survey.unanswered()
        );
        print!("{}", table::tally(&lines));
        if !missing.is_empty() {
            println!(
                "missing: {} municipalities are in no export (未回答: counted apart, not in n), e.g. {}",
                missing.len(),
                missing
                    .iter()
                    .take(5)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        if !unknown.is_empty() {
            println!("not on the official list: {}", unknown.join(", "));
        }
        println!("wrote {}", out.display());
    }
    Ok(())
}

/// Merges prefectures' PDCA cycle exports into the national cycle table and writes it as JSON or
/// CSV (by the extension of `out`); prints the nation's line.
fn cycle_merge(files: &[PathBuf], out: &Path, json: bool) -> Result<(), Failure> {
    let as_csv = match out
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("json") => false,
        Some("csv") => true,
        _ => {
            return Err(Failure::usage(format!(
                "--out {}: the name must end in .json or .csv (the format written)",
                out.display()
            )));
        }
    };
    check_writable(out)?;
    let mut exports = Vec::with_capacity(files.len());
    for file in files {
        let bytes = std::fs::read(file)
            .map_err(|e| Failure::usage(format!("{}: cannot read it: {e}", file.display())))?;
        exports.push((file.display().to_string(), bytes));
    }
    let table =
        merge_cycle_national(&exports).map_err(|e| Failure::usage(format!("cannot merge: {e}")))?;
    let bytes = if as_csv { table.csv() } else { table.json() }
        .map_err(|e| Failure::runtime(format!("cannot write the national cycle table: {e}")))?;
    std::fs::write(out, &bytes)
        .map_err(|e| Failure::runtime(format!("cannot write {}: {e}", out.display())))?;
    let nation = &table.nation;
    if json {
        println!(
            "{}",
            json!({
                "out": out.display().to_string(),
                "files": files.len(),
                "fiscal_year": table.fiscal_year.year(),
                "prefectures": table.prefectures.len(),
                "nation": nation,
            })
        );
    } else {
        let steps: Vec<String> = PdcaStep::ALL
            .iter()
            .zip(nation.steps)
            .map(|(step, n)| format!("{} {n}", step.label()))
            .collect();
        println!(
            "全国 {} PDCAサイクル: {} prefectures, {} municipalities; {}; 前年度の評価あり {}, 目標達成 {}",
            table.fiscal_year.wareki(),
            table.prefectures.len(),
            nation.municipalities,
            steps.join(", "),
            nation.evaluated_last_year,
            nation.reached_last_year
        );
        println!("wrote {}", out.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use renkei_federation::cycle::export::cycle_json;
    use renkei_federation::cycle::{CycleRow, CycleTally};
    use renkei_federation::survey::Source;
    use renkei_proto::programme::cycle::{CareScene, CycleSummary, IndicatorKind};

    use super::*;

    /// A prefecture's cycle export of `year` with one row per (code, name, step, evaluated,
    /// reached), each with a goal for 日常の療養支援 and an outcome indicator unless 未着手.
    fn export(prefecture: u8, year: i64, rows: &[(&str, &str, PdcaStep, bool, bool)]) -> Vec<u8> {
        let tally = CycleTally {
            fiscal_year: FiscalYear::new(year).unwrap(),
            source: Source::Prefecture(renkei_proto::PrefectureCode::new(prefecture).unwrap()),
            region_kind: String::new(),
            areas: Vec::new(),
            rows: rows
                .iter()
                .map(|(code, name, step, evaluated, reached)| {
                    let planned = *step != PdcaStep::NotStarted;
                    CycleRow {
                        code: code.parse().unwrap(),
                        name: (*name).to_owned(),
                        area: None,
                        summary: CycleSummary {
                            step: *step,
                            goal_scenes: if planned {
                                BTreeSet::from([CareScene::DailyCare])
                            } else {
                                BTreeSet::new()
                            },
                            indicator_kinds: if planned {
                                BTreeSet::from([IndicatorKind::Outcome])
                            } else {
                                BTreeSet::new()
                            },
                            evaluated_last_year: *evaluated,
                            reached_last_year: *reached,
                        },
                    }
                })
                .collect(),
            scene_activity: [[0; 8]; 6],
        };
        cycle_json(&tally).unwrap()
    }

    #[test]
    fn cycle_merge_writes_the_national_table_and_names_a_file_of_another_year() {
        let dir = tempfile::tempdir().unwrap();
        let toyama = dir.path().join("toyama.json");
        let ishikawa = dir.path().join("ishikawa.json");
        std::fs::write(
            &toyama,
            export(
                16,
                2024,
                &[
                    ("162019", "富山市", PdcaStep::Do, true, true),
                    ("162027", "高岡市", PdcaStep::NotStarted, false, false),
                ],
            ),
        )
        .unwrap();
        std::fs::write(
            &ishikawa,
            export(
                17,
                2024,
                &[("172014", "金沢市", PdcaStep::Check, true, false)],
            ),
        )
        .unwrap();
        let out = dir.path().join("national.csv");
        cycle_merge(&[toyama.clone(), ishikawa.clone()], &out, true).unwrap();
        let csv = String::from_utf8(std::fs::read(&out).unwrap()).unwrap();
        // 富山県: 2 municipalities, 日常 1, outcome 1, evaluated 1, reached 1, 未着手 1, Do 1;
        // 石川県: 1, 日常 1, outcome 1, evaluated 1, reached 0, Check 1; the nation sums them.
        assert!(
            csv.contains("\r\n富山県,2,0,1,0,0,0,0,0,0,1,1,1,1,0,1,0,0\r\n"),
            "{csv}"
        );
        assert!(
            csv.contains("\r\n石川県,1,0,1,0,0,0,0,0,0,1,1,0,0,0,0,1,0\r\n"),
            "{csv}"
        );
        assert!(
            csv.contains("\r\n全国計,3,0,2,0,0,0,0,0,0,2,2,1,1,0,1,1,0\r\n"),
            "{csv}"
        );

        std::fs::write(
            &ishikawa,
            export(
                17,
                2023,
                &[("172014", "金沢市", PdcaStep::Check, true, false)],
            ),
        )
        .unwrap();
        let refused = cycle_merge(&[toyama, ishikawa.clone()], &out, true).unwrap_err();
        let text = refused.to_string();
        assert!(
            text.contains(&ishikawa.display().to_string()) && text.contains("FY2023"),
            "{text}"
        );
        assert_eq!(refused.exit_code(), 2);
    }
}
