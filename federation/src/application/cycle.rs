//! The PDCA cycle's application methods (`PrefectureSurvey.GetCycleTally` and
//! `ExportCycleTally`, and the console's PDCAサイクル集計): the cycle tally of a fiscal year per
//! region of a kind, computed by [`crate::cycle`] from the tally engine's maintained state over
//! the municipalities the survey counts, after the read barrier the request asks for.

use renkei_proto::v1;

use super::{Surveys, fiscal_year, invalid};
use crate::access::Identity;
use crate::config::Role;
use crate::cycle::export::{cycle_detail_csv, cycle_json, cycle_summary_csv, cycle_xlsx};
use crate::cycle::{self, CycleTally};
use crate::error::FederationError;
use crate::regions::{REGION_KINDS, SECONDARY_MEDICAL_AREA};
use crate::survey::{CsvEncoding, ExportError};

impl Surveys {
    /// Builds the cycle tally a request asks for, after its read barrier. The region kind is
    /// 二次医療圏 when none is named; a named kind must be one the prefecture set regions of for
    /// the year (二次医療圏 not set yet: the tally has the prefecture's line only).
    async fn build_cycle(
        &self,
        request: &v1::GetCycleTallyRequest,
    ) -> Result<CycleTally, FederationError> {
        let fy = fiscal_year(request.fiscal_year)?;
        let kind = match request.region_kind.as_str() {
            "" => None,
            kind if REGION_KINDS.iter().any(|(k, _)| *k == kind) => Some(kind),
            kind => {
                let known: Vec<&str> = REGION_KINDS.iter().map(|(k, _)| *k).collect();
                return Err(invalid(
                    "region_kind",
                    format!("{kind:?} must be one of {}", known.join(", ")),
                ));
            }
        };
        self.facts().ensure(request.consistency).await?;
        let prefecture = self.facts().prefecture();
        self.read_state(|state| {
            let regions = match kind {
                None => state.regions(SECONDARY_MEDICAL_AREA, fy),
                Some(kind) => Some(state.regions(kind, fy).ok_or_else(|| {
                    invalid(
                        "region_kind",
                        format!("no regions of kind {kind} are set for {}", fy.wareki()),
                    )
                })?),
            };
            Ok(state.cycles().tally(prefecture, self.scope(), fy, regions))
        })
    }

    /// The cycle tally of a fiscal year (`GetCycleTally`, the console's PDCAサイクル集計).
    pub async fn cycle_tally(
        &self,
        who: Identity,
        request: v1::GetCycleTallyRequest,
    ) -> Result<v1::CycleTallyReply, FederationError> {
        who.check_role(Role::Viewer, "read the prefecture's cycle tally")?;
        let tally = self.build_cycle(&request).await?;
        Ok(cycle::cycle_reply(&tally, self.facts().applied_index()))
    }

    /// The cycle tally as a file (`ExportCycleTally`, the console's downloads): the table as
    /// CSV, a row per municipality as CSV (both UTF-8 with BOM), XLSX, or checksummed JSON.
    pub async fn export_cycle(
        &self,
        who: Identity,
        request: v1::ExportCycleTallyRequest,
    ) -> Result<v1::ExportSurveyReply, FederationError> {
        who.check_role(Role::Viewer, "export the prefecture's cycle tally")?;
        let asked = request
            .tally
            .ok_or_else(|| invalid("tally", "missing: the fiscal year"))?;
        let format = v1::ExportFormat::try_from(request.format)
            .map_err(|_| invalid("format", format!("unknown value {}", request.format)))?;
        let tally = self.build_cycle(&asked).await?;
        let stem = format!(
            "cycle_{}_{}",
            self.facts().prefecture(),
            tally.fiscal_year.year()
        );
        let export_err = |e: ExportError| FederationError::FailedPrecondition(e.to_string());
        let (file_name, content) = match format {
            v1::ExportFormat::SummaryCsv => (
                format!("{stem}_summary.csv"),
                cycle_summary_csv(&tally, CsvEncoding::Utf8Bom).map_err(export_err)?,
            ),
            v1::ExportFormat::DetailCsv => (
                format!("{stem}_detail.csv"),
                cycle_detail_csv(&tally, CsvEncoding::Utf8Bom).map_err(export_err)?,
            ),
            v1::ExportFormat::Xlsx => (
                format!("{stem}.xlsx"),
                cycle_xlsx(&tally).map_err(export_err)?,
            ),
            v1::ExportFormat::Json => (
                format!("{stem}.json"),
                cycle_json(&tally).map_err(export_err)?,
            ),
        };
        Ok(v1::ExportSurveyReply { file_name, content })
    }
}
