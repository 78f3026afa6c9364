//! Import of a resource list (ア) from the CSV a municipality keeps in Excel: UTF-8 (with or
//! without BOM) or Shift_JIS, a header row in Japanese (or the English field names), one resource
//! per row. Every row is decoded and decided on its own; rejected rows are reported with their
//! line and reason; accepted rows are registered, and a row already registered with the same
//! details adds nothing, so importing the same file twice adds nothing.

use chrono::NaiveDate;
use renkei_proto::MunicipalityCode;

use super::{Programme, ProgrammeCommand, ProgrammeError};
use crate::domain::DomainError;
use crate::domain::resources::{
    Capability, OfficialCode, ResourceCommand, ResourceDetails, ResourceKind, located_in,
};
use crate::domain::values::{CareProviderNumber, Coordinates, MedicalInstitutionCode, ResourceId};

/// The columns, each with its Japanese header and its English alias.
const COLUMNS: &[(&str, &str)] = &[
    ("ID", "id"),
    ("種別", "kind"),
    ("名称", "name"),
    ("機能強化型", "enhanced"),
    ("医療機関コード", "medical_institution_code"),
    ("介護保険事業所番号", "care_provider_number"),
    ("住所", "address"),
    ("緯度", "latitude"),
    ("経度", "longitude"),
    ("連絡先", "contact"),
    ("対応可能な機能", "capabilities"),
    ("相談可能時間", "consultation_hours"),
    ("住民向け公開", "listed_for_residents"),
    ("所在市町村コード", "located_in"),
];

/// Why a file could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("csv is neither UTF-8 nor Shift_JIS")]
    Encoding,
    #[error("csv header: {0}")]
    Header(String),
    #[error(transparent)]
    Programme(#[from] ProgrammeError),
}

/// A rejected row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedRow {
    /// 1-based line of the file (the header is line 1).
    pub line: u32,
    pub reason: String,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub rows: u32,
    pub registered: u32,
    pub unchanged: u32,
    pub rejected: Vec<RejectedRow>,
}

/// Decodes the file's bytes: a UTF-8 BOM or valid UTF-8 means UTF-8, anything else must be
/// Shift_JIS.
pub fn decode_text(bytes: &[u8]) -> Result<String, ImportError> {
    renkei_proto::server::web::decode_text(bytes).ok_or(ImportError::Encoding)
}

fn flag(field: &str, value: &str) -> Result<bool, DomainError> {
    match value.trim() {
        "" | "0" | "false" | "いいえ" | "×" | "無" | "否" => Ok(false),
        "1" | "true" | "はい" | "○" | "〇" | "有" | "可" => Ok(true),
        other => Err(DomainError::invalid(
            field,
            other,
            "must be ○/× (or 1/0, はい/いいえ)",
        )),
    }
}

/// Decodes one row into a resource id and details (validation of the details is the domain's).
fn row(get: &dyn Fn(&str) -> String) -> Result<(ResourceId, ResourceDetails), DomainError> {
    let medical = get("medical_institution_code");
    let care = get("care_provider_number");
    let official_code = match (medical.trim(), care.trim()) {
        ("", "") => None,
        (m, "") => Some(OfficialCode::Medical(MedicalInstitutionCode::parse(
            "医療機関コード",
            m,
        )?)),
        ("", c) => Some(OfficialCode::Care(CareProviderNumber::parse(
            "介護保険事業所番号",
            c,
        )?)),
        (m, _) => {
            return Err(DomainError::invalid(
                "医療機関コード",
                m,
                "give either 医療機関コード or 介護保険事業所番号, not both",
            ));
        }
    };
    let id_text = get("id");
    let id = match (id_text.trim(), &official_code) {
        ("", Some(OfficialCode::Medical(c))) => ResourceId::parse("ID", &format!("mic-{c}"))?,
        ("", Some(OfficialCode::Care(c))) => ResourceId::parse("ID", &format!("cpn-{c}"))?,
        ("", None) => {
            return Err(DomainError::invalid(
                "ID",
                "",
                "an ID or an official code is required",
            ));
        }
        (id, _) => ResourceId::parse("ID", id)?,
    };
    let (lat, lon) = (get("latitude"), get("longitude"));
    let coordinates = match (lat.trim(), lon.trim()) {
        ("", "") => None,
        (la, lo) => {
            let parse = |field: &str, v: &str| {
                v.parse::<f64>()
                    .map_err(|_| DomainError::invalid(field, v, "is not a number"))
            };
            Some(Coordinates::new(parse("緯度", la)?, parse("経度", lo)?)?)
        }
    };
    let capabilities = get("capabilities")
        .split(['・', '、', ',', ';', '/', '／'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| Capability::parse("対応可能な機能", s))
        .collect::<Result<Vec<_>, _>>()?;
    let none_if_empty = |s: String| if s.trim().is_empty() { None } else { Some(s) };
    Ok((
        id,
        ResourceDetails {
            kind: ResourceKind::parse("種別", &get("kind"))?,
            enhanced: flag("機能強化型", &get("enhanced"))?,
            name: get("name"),
            official_code,
            address: get("address"),
            coordinates,
            contact: none_if_empty(get("contact")),
            capabilities,
            consultation_hours: none_if_empty(get("consultation_hours")),
            listed_for_residents: flag("住民向け公開", &get("listed_for_residents"))?,
            located_in: located_in("所在市町村コード", &get("located_in"))?,
        },
    ))
}

/// One data row of a resource list as decoded, before the store is consulted.
#[derive(Debug, Clone)]
pub struct ParsedRow {
    /// 1-based line of the file (the header is line 1).
    pub line: u32,
    /// The resource the row describes, or why the row is rejected (naming the column).
    pub parsed: Result<(ResourceId, ResourceDetails), String>,
}

/// Decodes a resource list into its rows without touching the store: the encoding, the header
/// (which columns are where; the required ones present) and each row on its own. This is what
/// [`Programme::import_resources`] registers, and what the fuzz target `resource_csv` drives.
pub fn parse_resource_csv(csv_bytes: &[u8]) -> Result<Vec<ParsedRow>, ImportError> {
    let text = decode_text(csv_bytes)?;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| ImportError::Header(e.to_string()))?
        .clone();
    let mut index = std::collections::HashMap::new();
    for (i, h) in headers.iter().enumerate() {
        let h = h.trim();
        if let Some((_, en)) = COLUMNS.iter().find(|(ja, en)| *ja == h || *en == h) {
            index.insert(*en, i);
        }
    }
    for required in ["kind", "name", "address"] {
        if !index.contains_key(required) {
            let (ja, _) = COLUMNS
                .iter()
                .find(|(_, en)| *en == required)
                .copied()
                .unwrap_or(("", ""));
            return Err(ImportError::Header(format!(
                "column {ja} ({required}) is missing"
            )));
        }
    }
    let mut rows = Vec::new();
    for (n, record) in reader.records().enumerate() {
        let line = u32::try_from(n).unwrap_or(u32::MAX - 2).saturating_add(2);
        let parsed = match record {
            Ok(record) => {
                let get = |name: &str| {
                    index
                        .get(name)
                        .and_then(|&i| record.get(i))
                        .unwrap_or("")
                        .to_owned()
                };
                row(&get).map_err(|e| e.to_string())
            }
            Err(e) => Err(e.to_string()),
        };
        rows.push(ParsedRow { line, parsed });
    }
    Ok(rows)
}

impl Programme {
    /// Imports a resource list; see the module documentation.
    pub async fn import_resources(
        &self,
        tenant: MunicipalityCode,
        actor: &str,
        csv_bytes: &[u8],
        on: NaiveDate,
    ) -> Result<ImportReport, ImportError> {
        let mut report = ImportReport::default();
        for ParsedRow { line, parsed } in parse_resource_csv(csv_bytes)? {
            report.rows += 1;
            let (id, details) = match parsed {
                Ok(resource) => resource,
                Err(reason) => {
                    report.rejected.push(RejectedRow { line, reason });
                    continue;
                }
            };
            let decided = self
                .execute(
                    tenant,
                    actor,
                    ProgrammeCommand::Resources(ResourceCommand::Register { id, details, on }),
                )
                .await;
            match decided {
                Ok(done) if done.events == 0 => report.unchanged += 1,
                Ok(_) => report.registered += 1,
                Err(ProgrammeError::Domain(e)) => report.rejected.push(RejectedRow {
                    line,
                    reason: e.to_string(),
                }),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(report)
    }
}
