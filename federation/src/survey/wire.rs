//! The wire form of a survey's tally (`renkei.v1.TallyReply`): what `GetTally` answers and the
//! console renders. Pure: a survey in, a message out.

use renkei_proto::PrefectureCode;
use renkei_proto::programme::framework::Framework;
use renkei_proto::v1;

use super::{GroupTally, Item, StatutoryGroup, Survey, SurveyStatus, Tally, format_tenths};
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

/// The four statutory groups' lines of a tally of the 2020 framework.
fn group_lines(tally: &GroupTally) -> Vec<v1::GroupTally> {
    StatutoryGroup::ALL
        .iter()
        .map(|&group| {
            let count = |s| tally.count(group, s);
            let percent = |s| format_tenths(tally.percent_tenths(group, s));
            v1::GroupTally {
                group: group.numeral().to_owned(),
                label: group.label(),
                items: group
                    .items()
                    .iter()
                    .map(|i| item_code(*i).to_owned())
                    .collect(),
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
/// a row per municipality. From FY2020 (the PDCA framework) it also names the framework and
/// carries the four statutory groups' lines, for the prefecture and per region; FY2015–2019 are
/// reported in the eight items alone, as they were.
pub fn tally_reply(
    survey: &Survey,
    regions: Option<&RegionSet>,
    prefecture: PrefectureCode,
    applied_index: u64,
) -> v1::TallyReply {
    let by_area = survey.tally_by_area();
    let pdca = Framework::of(survey.fiscal_year) == Some(Framework::Pdca2020);
    let groups_by_area = if pdca {
        survey.group_tally_by_area()
    } else {
        Default::default()
    };
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
                        groups: groups_by_area
                            .get(&r.name)
                            .map(group_lines)
                            .unwrap_or_default(),
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
        framework: if pdca {
            Framework::Pdca2020.label().to_owned()
        } else {
            String::new()
        },
        groups: if pdca {
            group_lines(&survey.group_tally())
        } else {
            Vec::new()
        },
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use renkei_proto::{FiscalYear, MunicipalityCode};

    use super::*;
    use crate::survey::{Approval, MunicipalityRow, Source};

    fn row(code: &str, statuses: [SurveyStatus; 8]) -> MunicipalityRow {
        let code: MunicipalityCode = code.parse().unwrap();
        MunicipalityRow {
            statuses,
            reported: true,
            ..MunicipalityRow::unreported(code, "町", None)
        }
    }

    fn survey(year: i64, rows: Vec<MunicipalityRow>) -> Survey {
        let fy = FiscalYear::new(year).unwrap();
        let as_of = NaiveDate::from_ymd_opt(i32::from(fy.year()), 10, 1).unwrap();
        Survey::new(fy, as_of, Source::Prefecture("16".parse().unwrap()), rows).unwrap()
    }

    #[test]
    fn from_fy2020_the_reply_carries_the_four_statutory_groups() {
        use SurveyStatus::*;
        // 富山市: ア implemented, オ planned, the rest not → 一 実施, 二 予定, 三 未実施, 四 未実施.
        // 高岡市: カ implemented, キ planned, ク implemented → 一 未実施, 二 未実施, 三 予定, 四 実施.
        // 魚津市: never reported (未回答): counted in no group, outside n.
        let mut toyama = [NotImplemented; 8];
        toyama[Item::A.index()] = Implemented;
        toyama[Item::O.index()] = Planned;
        let mut takaoka = [NotImplemented; 8];
        takaoka[Item::Ka.index()] = Implemented;
        takaoka[Item::Ki.index()] = Planned;
        takaoka[Item::Ku.index()] = Implemented;
        let unanswered = MunicipalityRow {
            approval: Approval::NotSubmitted,
            ..MunicipalityRow::unreported("162043".parse().unwrap(), "魚津市", None)
        };
        let rows = vec![row("162019", toyama), row("162027", takaoka), unanswered];
        let prefecture = "16".parse().unwrap();
        let reply = tally_reply(&survey(2024, rows.clone()), None, prefecture, 0);
        assert_eq!(reply.framework, Framework::Pdca2020.label());
        let lines: Vec<(&str, Vec<&str>, [u32; 3], &str)> = reply
            .groups
            .iter()
            .map(|g| {
                (
                    g.group.as_str(),
                    g.items.iter().map(String::as_str).collect(),
                    [g.implemented, g.planned, g.not_implemented],
                    g.implemented_percent.as_str(),
                )
            })
            .collect();
        assert_eq!(
            lines,
            [
                ("一", vec!["a", "b", "c"], [1, 0, 1], "50.0"),
                ("二", vec!["e"], [0, 1, 1], "0.0"),
                ("三", vec!["g"], [0, 1, 1], "0.0"),
                ("四", vec!["d", "f"], [1, 0, 1], "50.0"),
            ]
        );
        // FY2019 keeps the eight items alone.
        let old = tally_reply(&survey(2019, rows), None, prefecture, 0);
        assert!(old.framework.is_empty() && old.groups.is_empty());
        assert_eq!(old.items.len(), 8);
    }
}
