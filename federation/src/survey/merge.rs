//! The national merge: the 47 prefectures' JSON exports combined into the national table.

use std::collections::BTreeMap;

use renkei_proto::{MunicipalityCode, official};

use super::export::ChecksummedExport;
use super::{MunicipalityRow, Source, Survey, SurveyError};

/// Why exports could not be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("export {index} is not a renkei survey: {reason}")]
    Unreadable { index: usize, reason: String },
    #[error("export {index} ({source_name}) fails its checksum: it is incomplete or was modified")]
    Tampered { index: usize, source_name: String },
    #[error("export {index} ({source_name}) is for {found}, the others for {expected}")]
    Mismatch {
        index: usize,
        source_name: String,
        found: String,
        expected: String,
    },
    #[error("municipality {code} appears in both {first} and {second}")]
    Duplicate {
        code: MunicipalityCode,
        first: String,
        second: String,
    },
    #[error("nothing to merge")]
    Empty,
    #[error(transparent)]
    Survey(#[from] SurveyError),
}

/// What the merge noticed without refusing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MergeReport {
    /// Municipalities on the official list that no export holds; they are 未回答 in the national
    /// table (counted apart, not part of n).
    pub missing: Vec<MunicipalityCode>,
    /// Municipalities in an export but not on the official list (kept, and listed here).
    pub unknown: Vec<MunicipalityCode>,
}

/// Merges prefecture exports (the bytes of their JSON exports) into the national survey. Refuses
/// unreadable or modified files, mixed fiscal years or dates, and any municipality found twice;
/// reports municipalities missing against the official list.
pub fn merge_national(exports: &[Vec<u8>]) -> Result<(Survey, MergeReport), MergeError> {
    let mut parsed = Vec::with_capacity(exports.len());
    for (index, bytes) in exports.iter().enumerate() {
        let export: ChecksummedExport =
            serde_json::from_slice(bytes).map_err(|e| MergeError::Unreadable {
                index,
                reason: e.to_string(),
            })?;
        if !export.is_intact() {
            return Err(MergeError::Tampered {
                index,
                source_name: export.survey.source.to_string(),
            });
        }
        parsed.push(export.survey);
    }
    let first = parsed.first().ok_or(MergeError::Empty)?;
    let (fiscal_year, as_of) = (first.fiscal_year, first.as_of);
    let mut rows: BTreeMap<MunicipalityCode, (String, MunicipalityRow)> = BTreeMap::new();
    for (index, survey) in parsed.iter().enumerate() {
        if (survey.fiscal_year, survey.as_of) != (fiscal_year, as_of) {
            return Err(MergeError::Mismatch {
                index,
                source_name: survey.source.to_string(),
                found: format!("{} as of {}", survey.fiscal_year, survey.as_of),
                expected: format!("{fiscal_year} as of {as_of}"),
            });
        }
        for row in &survey.rows {
            let source = survey.source.to_string();
            if let Some((first, _)) = rows.get(&row.code) {
                return Err(MergeError::Duplicate {
                    code: row.code,
                    first: first.clone(),
                    second: source,
                });
            }
            rows.insert(row.code, (source, row.clone()));
        }
    }
    let mut report = MergeReport::default();
    for m in official::municipalities() {
        if let std::collections::btree_map::Entry::Vacant(slot) = rows.entry(m.code) {
            report.missing.push(m.code);
            let row = MunicipalityRow::unreported(m.code, m.name, None);
            slot.insert((String::new(), row));
        }
    }
    report.unknown = rows
        .keys()
        .filter(|c| official::municipality(**c).is_none())
        .copied()
        .collect();
    let survey = Survey::new(
        fiscal_year,
        as_of,
        Source::National,
        rows.into_values().map(|(_, row)| row).collect(),
    )?;
    Ok((survey, report))
}
