//! The wire form of a survey's tally (`renkei.v1.TallyReply`): what `GetTally` answers and the
//! console renders. Pure: a survey in, a message out.

use renkei_proto::PrefectureCode;
use renkei_proto::v1;

use super::{Item, Survey, SurveyStatus, Tally, format_tenths};
use crate::regions::RegionSet;

/// An item's code on the wire: `a` for （ア） … `h` for （ク）.
fn item_code(item: Item) -> &'static str {
    ["a", "b", "c", "d", "e", "f", "g", "h"][item.index()]
}

fn item_lines(tally: &Tally) -> Vec<v1::ItemTally> {
    Item::ALL
        .iter()
        .map(|&item| {
            let count = |s| tally.count(item, s);
            let percent = |s| format_tenths(tally.percent_tenths(item, s));
            v1::ItemTally {
                item: item_code(item).to_owned(),
                label: item.national_label().to_owned(),
                implemented: count(SurveyStatus::Implemented),
                planned: count(SurveyStatus::Planned),
                not_implemented: count(SurveyStatus::NotImplemented),
                implemented_percent: percent(SurveyStatus::Implemented),
                planned_percent: percent(SurveyStatus::Planned),
                not_implemented_percent: percent(SurveyStatus::NotImplemented),
            }
        })
        .collect()
}

/// The wire form of a survey's tally (what `GetTally` answers and the console renders): the
/// prefecture's lines, one per region of `regions` that has municipalities in the survey, and
/// a row per municipality.
pub fn tally_reply(
    survey: &Survey,
    regions: Option<&RegionSet>,
    prefecture: PrefectureCode,
    applied_index: u64,
) -> v1::TallyReply {
    let by_area = survey.tally_by_area();
    let region_lines = regions
        .map(|set| {
            set.regions
                .iter()
                .filter_map(|r| {
                    by_area.get(&r.name).map(|t| v1::RegionTally {
                        region_id: r.id.clone(),
                        region_name: r.name.clone(),
                        n: t.n,
                        items: item_lines(t),
                        unanswered: t.unanswered,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    v1::TallyReply {
        fiscal_year: i32::from(survey.fiscal_year.year()),
        wareki: survey.fiscal_year.wareki(),
        as_of: survey.as_of.format("%Y-%m-%d").to_string(),
        prefecture: prefecture.to_string(),
        prefecture_name: prefecture.name().to_owned(),
        n: survey.n(),
        items: item_lines(&survey.tally()),
        regions: region_lines,
        municipalities: survey
            .rows
            .iter()
            .map(|r| v1::MunicipalityRowView {
                municipality: r.code.to_string(),
                name: r.name.clone(),
                region: r.area.clone().unwrap_or_default(),
                statuses: Item::ALL
                    .iter()
                    .map(|i| r.answer_label(*i).to_owned())
                    .collect(),
                reported: r.reported,
                submission: r.approval.label(),
                answered: r.answered(),
            })
            .collect(),
        applied_index,
        unanswered: survey.unanswered(),
    }
}
