//! The wire form of a cycle tally (`renkei.v1.CycleTallyReply`): what `GetCycleTally` answers
//! and the console's PDCAサイクル集計 page renders. Pure: a tally in, a message out.

use renkei_proto::programme::Item;
use renkei_proto::programme::cycle::{CareScene, IndicatorKind, PdcaStep, PlanPeriod};
use renkei_proto::programme::framework::Framework;
use renkei_proto::v1;

use super::{AreaRef, CycleCounts, CycleTally};
use crate::survey::Source;

fn counts<T: Copy>(
    values: &[T],
    numbers: &[u32],
    code: impl Fn(T) -> &'static str,
    label: impl Fn(T) -> &'static str,
) -> Vec<v1::CycleCount> {
    values
        .iter()
        .zip(numbers)
        .map(|(v, n)| v1::CycleCount {
            code: code(*v).to_owned(),
            label: label(*v).to_owned(),
            count: *n,
        })
        .collect()
}

/// One line of the table on the wire; `area` is `None` for the prefecture's (or the nation's).
pub fn cycle_line(area: Option<&AreaRef>, c: &CycleCounts) -> v1::CycleTallyLine {
    v1::CycleTallyLine {
        region_id: area.map(|a| a.id.clone()).unwrap_or_default(),
        region_name: area.map(|a| a.name.clone()).unwrap_or_default(),
        municipalities: c.municipalities,
        goal_scenes: counts(
            CareScene::ALL,
            &c.goal_scenes,
            CareScene::code,
            CareScene::label,
        ),
        indicator_kinds: counts(
            IndicatorKind::ALL,
            &c.indicator_kinds,
            IndicatorKind::code,
            IndicatorKind::label,
        ),
        evaluated_last_year: c.evaluated_last_year,
        reached_last_year: c.reached_last_year,
        steps: counts(&PdcaStep::ALL, &c.steps, PdcaStep::code, PdcaStep::label),
    }
}

/// The activities per care scene on the wire: one line per scene, a count per item.
pub fn scene_lines(table: &super::SceneTable) -> Vec<v1::SceneActivityLine> {
    CareScene::ALL
        .iter()
        .zip(table)
        .map(|(scene, items)| v1::SceneActivityLine {
            scene: scene.code().to_owned(),
            label: scene.label().to_owned(),
            items: items.to_vec(),
            total: items.iter().sum(),
        })
        .collect()
}

/// The wire form of a cycle tally: a line per region, the prefecture's line, a row per
/// municipality and the per-scene activity.
pub fn cycle_reply(tally: &CycleTally, applied_index: u64) -> v1::CycleTallyReply {
    let fy = tally.fiscal_year;
    let (prefecture, prefecture_name) = match tally.source {
        Source::Prefecture(p) => (p.to_string(), p.name().to_owned()),
        Source::National => (String::new(), "全国".to_owned()),
    };
    v1::CycleTallyReply {
        fiscal_year: i32::from(fy.year()),
        wareki: fy.wareki(),
        prefecture,
        prefecture_name,
        framework: Framework::of(fy)
            .map(|f| f.label().to_owned())
            .unwrap_or_default(),
        plan_period: PlanPeriod::of(fy)
            .map(|p| p.to_string())
            .unwrap_or_default(),
        region_kind: tally.region_kind.clone(),
        regions: tally
            .by_area()
            .iter()
            .map(|line| cycle_line(Some(&line.area), &line.counts))
            .collect(),
        total: Some(cycle_line(None, &tally.total())),
        municipalities: tally
            .rows
            .iter()
            .map(|r| v1::CycleMunicipalityRow {
                municipality: r.code.to_string(),
                name: r.name.clone(),
                region: r.area.as_ref().map(|a| a.name.clone()).unwrap_or_default(),
                step: r.summary.step.code().to_owned(),
                step_label: r.summary.step.label().to_owned(),
                goal_scenes: r
                    .summary
                    .goal_scenes
                    .iter()
                    .map(|s| s.code().to_owned())
                    .collect(),
                indicator_kinds: r
                    .summary
                    .indicator_kinds
                    .iter()
                    .map(|k| k.code().to_owned())
                    .collect(),
                evaluated_last_year: r.summary.evaluated_last_year,
                reached_last_year: r.summary.reached_last_year,
            })
            .collect(),
        scene_activity: scene_lines(&tally.scene_activity),
        applied_index,
    }
}

/// The items' short labels （ア） … （ク）, the columns of the per-scene activity.
pub fn item_columns() -> [&'static str; 8] {
    Item::ALL.map(Item::short_label)
}
