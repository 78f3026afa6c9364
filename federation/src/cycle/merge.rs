//! The national cycle table: the prefectures' cycle JSON exports ([`super::export`]) summed per
//! prefecture and for the nation, as `renkei survey cycle-merge` writes it. Pure: bytes in, a
//! table (and its CSV or JSON) out.

use renkei_proto::{FiscalYear, PrefectureCode};
use serde::{Deserialize, Serialize};

use super::export::{
    ChecksummedCycleExport, counts_cells, counts_header, cycle_heading, scene_header, scene_records,
};
use super::{CycleCounts, SceneTable, add_tables};
use crate::survey::export::encode;
use crate::survey::{CsvEncoding, ExportError, Source};

/// Why cycle exports could not be merged. Each names the file (as the caller named it) and the
/// value at fault.
#[derive(Debug, thiserror::Error)]
pub enum CycleMergeError {
    #[error("{file}: not a renkei cycle export: {reason}")]
    Unreadable { file: String, reason: String },
    #[error("{file} ({source_name}) fails its checksum: it is incomplete or was modified")]
    Tampered { file: String, source_name: String },
    #[error("{file}: a national table, not a prefecture's export")]
    NotPrefecture { file: String },
    #[error(
        "{file} ({source_name}) is for fiscal year {found}, {first} for {expected}: merge exports of one fiscal year"
    )]
    Mismatch {
        file: String,
        source_name: String,
        found: String,
        first: String,
        expected: String,
    },
    #[error("prefecture {prefecture} appears in both {first} and {second}")]
    Duplicate {
        prefecture: String,
        first: String,
        second: String,
    },
    #[error("nothing to merge")]
    Empty,
}

/// One prefecture's line of the national cycle table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrefectureCycleLine {
    pub prefecture: PrefectureCode,
    pub name: String,
    pub counts: CycleCounts,
}

/// The national cycle table: a line per prefecture (in code order), the nation's, and the
/// activities per care scene summed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NationalCycleTable {
    pub fiscal_year: FiscalYear,
    pub prefectures: Vec<PrefectureCycleLine>,
    pub nation: CycleCounts,
    pub scene_activity: SceneTable,
}

/// Merges prefectures' cycle exports, each given with the name of its file. Refuses an
/// unreadable or modified file, a national table, fiscal years that differ and a prefecture
/// found twice.
pub fn merge_cycle_national(
    exports: &[(String, Vec<u8>)],
) -> Result<NationalCycleTable, CycleMergeError> {
    let mut first: Option<(String, FiscalYear)> = None;
    let mut prefectures: Vec<(String, PrefectureCycleLine)> = Vec::new();
    let mut nation = CycleCounts::default();
    let mut scene_activity = [[0; 8]; 6];
    for (file, bytes) in exports {
        let export: ChecksummedCycleExport =
            serde_json::from_slice(bytes).map_err(|e| CycleMergeError::Unreadable {
                file: file.clone(),
                reason: e.to_string(),
            })?;
        let tally = &export.tally;
        if !export.is_intact() {
            return Err(CycleMergeError::Tampered {
                file: file.clone(),
                source_name: tally.source.to_string(),
            });
        }
        let Source::Prefecture(prefecture) = tally.source else {
            return Err(CycleMergeError::NotPrefecture { file: file.clone() });
        };
        let (first_file, expected) = first.get_or_insert((file.clone(), tally.fiscal_year));
        if tally.fiscal_year != *expected {
            return Err(CycleMergeError::Mismatch {
                file: file.clone(),
                source_name: tally.source.to_string(),
                found: tally.fiscal_year.to_string(),
                first: first_file.clone(),
                expected: expected.to_string(),
            });
        }
        if let Some((earlier, _)) = prefectures
            .iter()
            .find(|(_, line)| line.prefecture == prefecture)
        {
            return Err(CycleMergeError::Duplicate {
                prefecture: format!("{} ({prefecture})", prefecture.name()),
                first: earlier.clone(),
                second: file.clone(),
            });
        }
        let counts = tally.total();
        nation.add(&counts);
        add_tables(&mut scene_activity, &tally.scene_activity);
        prefectures.push((
            file.clone(),
            PrefectureCycleLine {
                prefecture,
                name: prefecture.name().to_owned(),
                counts,
            },
        ));
    }
    let (_, fiscal_year) = first.ok_or(CycleMergeError::Empty)?;
    let mut prefectures: Vec<PrefectureCycleLine> =
        prefectures.into_iter().map(|(_, line)| line).collect();
    prefectures.sort_by_key(|line| line.prefecture);
    Ok(NationalCycleTable {
        fiscal_year,
        prefectures,
        nation,
        scene_activity,
    })
}

impl NationalCycleTable {
    /// The national table as CSV in UTF-8 with BOM: a line per prefecture and the nation's,
    /// then the activities per care scene.
    pub fn csv(&self) -> Result<Vec<u8>, ExportError> {
        let mut records = vec![
            cycle_heading(self.fiscal_year, &Source::National),
            counts_header("都道府県"),
        ];
        let line = |label: &str, c: &CycleCounts| {
            let mut record = vec![label.to_owned()];
            record.extend(counts_cells(c).iter().map(u32::to_string));
            record
        };
        for p in &self.prefectures {
            records.push(line(&p.name, &p.counts));
        }
        records.push(line("全国計", &self.nation));
        records.push(Vec::new());
        records.push(vec!["場面別の活動件数".to_owned()]);
        records.push(scene_header());
        records.extend(scene_records(&self.scene_activity));
        encode(records, CsvEncoding::Utf8Bom)
    }

    /// The national table as JSON.
    pub fn json(&self) -> Result<Vec<u8>, ExportError> {
        Ok(serde_json::to_vec_pretty(self)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cycle::export::cycle_json;
    use crate::cycle::tests::{evaluation, fixture_tally, goal, indicator, training_on};
    use crate::tally::SurveyState;

    /// 石川県 FY2024: the 19 municipalities of the official list; 金沢市 has a goal for 日常の
    /// 療養支援, a process indicator and activity (Do), and evaluated FY2023 (reached); the
    /// other 18 are 未着手.
    fn ishikawa(year: i64) -> Vec<u8> {
        let kanazawa = "172014".parse().unwrap();
        let mut state = SurveyState::default();
        for payload in [
            goal(9, "daily_care"),
            indicator("k1", 2024, "process"),
            training_on("2024-06-01"),
            evaluation(2023, "daily_care", true, ""),
        ] {
            state.take_fact(kanazawa, &payload);
        }
        let tally = state.cycles().tally(
            "17".parse().unwrap(),
            &[],
            FiscalYear::new(year).unwrap(),
            None,
        );
        cycle_json(&tally).unwrap()
    }

    fn toyama() -> Vec<u8> {
        cycle_json(&fixture_tally()).unwrap()
    }

    #[test]
    fn two_prefectures_sum_into_the_nation() {
        let table = merge_cycle_national(&[
            ("ishikawa.json".into(), ishikawa(2024)),
            ("toyama.json".into(), toyama()),
        ])
        .unwrap();
        // Prefectures in code order: 富山県 (16) before 石川県 (17).
        let names: Vec<&str> = table.prefectures.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["富山県", "石川県"]);
        // 富山県: the fixture's six (cycle/tests.rs). 石川県: 19 municipalities, 金沢市 Do.
        assert_eq!(
            table.prefectures[1].counts,
            CycleCounts {
                municipalities: 19,
                goal_scenes: [0, 1, 0, 0, 0, 0],
                indicator_kinds: [0, 1, 0],
                evaluated_last_year: 1,
                reached_last_year: 1,
                steps: [18, 0, 1, 0, 0],
            }
        );
        // The nation: 6 + 19 = 25; goals 入退院 2+0, 日常 2+1, 急変 1, 看取り 1, 認知症 1,
        // 感染症 1; kinds S 2, P 2+1, O 2; evaluated 4+1; reached 2+1; steps 未着手 1+18,
        // Plan 1, Do 2+1, Check 1, Act 1.
        assert_eq!(
            table.nation,
            CycleCounts {
                municipalities: 25,
                goal_scenes: [2, 3, 1, 1, 1, 1],
                indicator_kinds: [2, 3, 2],
                evaluated_last_year: 5,
                reached_last_year: 3,
                steps: [19, 1, 3, 1, 1],
            }
        );
        let csv = String::from_utf8(table.csv().unwrap()).unwrap();
        assert!(
            csv.contains("\r\n全国計,25,2,3,1,1,1,1,2,3,2,5,3,19,1,3,1,1\r\n"),
            "{csv}"
        );
    }

    #[test]
    fn mismatched_years_and_duplicates_are_refused_naming_the_file() {
        let e = merge_cycle_national(&[
            ("toyama.json".into(), toyama()),
            ("ishikawa-2023.json".into(), ishikawa(2023)),
        ])
        .unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("ishikawa-2023.json")
                && text.contains("FY2023")
                && text.contains("toyama.json")
                && text.contains("FY2024"),
            "{text}"
        );
        let e = merge_cycle_national(&[("a.json".into(), toyama()), ("b.json".into(), toyama())])
            .unwrap_err();
        assert!(matches!(e, CycleMergeError::Duplicate { .. }), "{e}");
        let edited = String::from_utf8(toyama())
            .unwrap()
            .replacen(
                "\"reached_last_year\": true",
                "\"reached_last_year\": false",
                1,
            )
            .into_bytes();
        let e = merge_cycle_national(&[("edited.json".into(), edited)]).unwrap_err();
        assert!(e.to_string().starts_with("edited.json"), "{e}");
        assert!(matches!(
            merge_cycle_national(&[]),
            Err(CycleMergeError::Empty)
        ));
    }
}
