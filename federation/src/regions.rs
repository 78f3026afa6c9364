//! Regions (圏域): the areas a prefecture groups its municipalities by — 二次医療圏 (secondary
//! medical areas) first, by which every tally is broken down — as region sets in force for a
//! range of fiscal years, read from the CSV an officer gives `SetRegions`. Pure: no I/O.

use std::collections::BTreeMap;

use renkei_proto::v1;
use renkei_proto::{FiscalYear, MunicipalityCode, PrefectureCode, official};
use serde::{Deserialize, Serialize};

/// The kinds of region a prefecture groups its municipalities by, with their Japanese names.
pub const REGION_KINDS: [(&str, &str); 5] = [
    ("secondary_medical_area", "二次医療圏"),
    ("health_center_area", "保健所圏域"),
    ("home_care_area", "在宅医療圏"),
    ("elderly_welfare_area", "老人福祉圏域"),
    ("medical_association_area", "郡市医師会の区域"),
];

/// The Japanese name of a region kind, e.g. 二次医療圏 (圏域 for a kind not in [`REGION_KINDS`]).
pub fn region_kind_label(kind: &str) -> &'static str {
    REGION_KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or("圏域", |(_, label)| label)
}

/// The kind the tallies are broken down by: 二次医療圏.
pub const SECONDARY_MEDICAL_AREA: &str = "secondary_medical_area";

/// One region: an id, a name and its municipalities.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Region {
    pub id: String,
    pub name: String,
    pub municipalities: Vec<MunicipalityCode>,
}

/// The regions of one kind in force for a range of fiscal years (a medical-plan period).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegionSet {
    pub kind: String,
    pub first_fiscal_year: FiscalYear,
    pub last_fiscal_year: FiscalYear,
    pub regions: Vec<Region>,
}

/// Why a region set was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegionError {
    #[error(
        "kind {0:?} must be one of secondary_medical_area, health_center_area, home_care_area, elderly_welfare_area, medical_association_area"
    )]
    Kind(String),
    #[error("fiscal years {0}..={1} are not a valid period")]
    Period(i64, i64),
    #[error("csv line {line}: {reason}")]
    Csv { line: usize, reason: String },
    #[error("municipality {code} ({name}) is in no region")]
    Missing {
        code: MunicipalityCode,
        name: String,
    },
    #[error("municipality {code} is in two regions: {first} and {second}")]
    Twice {
        code: MunicipalityCode,
        first: String,
        second: String,
    },
    #[error("municipality {code} is not in prefecture {prefecture}")]
    Foreign {
        code: MunicipalityCode,
        prefecture: PrefectureCode,
    },
}

/// The name the tallies give the line of municipalities in no region of the set.
pub const NO_REGION: &str = "(未設定)";

impl RegionSet {
    /// The region `municipality` is in, if any.
    pub fn region_of(&self, municipality: MunicipalityCode) -> Option<&Region> {
        self.regions
            .iter()
            .find(|r| r.municipalities.contains(&municipality))
    }

    /// Reads a region set from CSV (`area_id,area_name,municipality_code,municipality_name`) and
    /// checks that every municipality of the prefecture is in exactly one region.
    pub fn from_csv(
        prefecture: PrefectureCode,
        kind: &str,
        first_fiscal_year: i64,
        last_fiscal_year: i64,
        csv_text: &str,
    ) -> Result<Self, RegionError> {
        if !REGION_KINDS.iter().any(|(k, _)| *k == kind) {
            return Err(RegionError::Kind(kind.to_owned()));
        }
        let (Ok(first), Ok(last)) = (
            FiscalYear::new(first_fiscal_year),
            FiscalYear::new(last_fiscal_year),
        ) else {
            return Err(RegionError::Period(first_fiscal_year, last_fiscal_year));
        };
        if first > last {
            return Err(RegionError::Period(first_fiscal_year, last_fiscal_year));
        }
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .trim(csv::Trim::All)
            .from_reader(csv_text.trim_start_matches('\u{feff}').as_bytes());
        let mut regions: Vec<Region> = Vec::new();
        let mut seen: BTreeMap<MunicipalityCode, String> = BTreeMap::new();
        for (i, record) in reader.records().enumerate() {
            // The line the record starts on in the text (blank lines and quoted line breaks
            // included), not its count.
            let line_of = |p: Option<&csv::Position>| p.map_or(i + 2, |p| p.line() as usize);
            let record = record.map_err(|e| RegionError::Csv {
                line: line_of(e.position()),
                reason: e.to_string(),
            })?;
            let line = line_of(record.position());
            let field = |n: usize, name: &str| {
                record
                    .get(n)
                    .filter(|v| !v.is_empty())
                    .map(str::to_owned)
                    .ok_or_else(|| RegionError::Csv {
                        line,
                        reason: format!("{name} is missing"),
                    })
            };
            let (id, name, code_text) = (
                field(0, "area_id")?,
                field(1, "area_name")?,
                field(2, "municipality_code")?,
            );
            let code: MunicipalityCode = code_text.parse().map_err(|e| RegionError::Csv {
                line,
                reason: format!("municipality_code {code_text:?}: {e}"),
            })?;
            if code.prefecture() != prefecture {
                return Err(RegionError::Foreign { code, prefecture });
            }
            if let Some(first) = seen.insert(code, name.clone()) {
                return Err(RegionError::Twice {
                    code,
                    first,
                    second: name,
                });
            }
            match regions.iter_mut().find(|r| r.id == id) {
                Some(r) => r.municipalities.push(code),
                None => regions.push(Region {
                    id,
                    name,
                    municipalities: vec![code],
                }),
            }
        }
        for m in official::municipalities_of(prefecture) {
            if !seen.contains_key(&m.code) {
                return Err(RegionError::Missing {
                    code: m.code,
                    name: m.name.to_owned(),
                });
            }
        }
        Ok(Self {
            kind: kind.to_owned(),
            first_fiscal_year: first,
            last_fiscal_year: last,
            regions,
        })
    }

    /// Its wire form (`renkei.v1.RegionsView`).
    pub fn view(&self) -> v1::RegionsView {
        v1::RegionsView {
            kind: self.kind.clone(),
            first_fiscal_year: i32::from(self.first_fiscal_year.year()),
            last_fiscal_year: i32::from(self.last_fiscal_year.year()),
            regions: self
                .regions
                .iter()
                .map(|r| v1::Region {
                    id: r.id.clone(),
                    name: r.name.clone(),
                    municipalities: r.municipalities.iter().map(ToString::to_string).collect(),
                })
                .collect(),
        }
    }

    /// Whether the set is in force in `fy`.
    pub fn covers(&self, fy: FiscalYear) -> bool {
        (self.first_fiscal_year..=self.last_fiscal_year).contains(&fy)
    }
}
