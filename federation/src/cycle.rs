//! The prefecture's tally of the PDCA cycle (PDCAサイクル集計, 令和2年〜, 手引き Ver.3): for a
//! fiscal year, per region (二次医療圏 by default) and for the prefecture, how many
//! municipalities set a 目指す姿 for each care scene, have indicators of each kind (構造・過程・
//! 結果), evaluated the previous year and reached its targets, and stand at each PDCA step; and
//! the activities recorded toward each care scene, per item.
//!
//! [`CycleBook`] is the maintained state the tally engine ([`crate::tally`]) folds the cycle
//! facts into — each municipality's [`CycleRecords`] (the one definition both tiers derive the
//! step from) and its per-scene activity counts; [`CycleBook::tally`] computes a [`CycleTally`]
//! from it. The wire form is [`cycle_reply`] (`wire.rs`).
//!
//! Pure: no I/O, no clock. It never decides a step itself — [`CycleRecords::summary`] does.

pub mod export;
pub mod merge;
mod wire;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use renkei_proto::programme::Item;
use renkei_proto::programme::cycle::{CareScene, CycleFactError, CycleRecords, CycleSummary};
use renkei_proto::programme::status::Evidence;
use renkei_proto::v1;
use renkei_proto::{FiscalYear, MunicipalityCode, PrefectureCode, official};
use serde::{Deserialize, Serialize};

use crate::regions::{Region, RegionSet};
use crate::survey::Source;

pub use wire::{cycle_line, cycle_reply, item_columns, scene_lines};

pub use crate::regions::NO_REGION;

/// Why a per-scene activity fact ([`v1::SceneActivity`]) could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("scene activity: invalid {field} {value:?}")]
pub struct SceneActivityError {
    pub field: &'static str,
    pub value: String,
}

fn bad_activity(field: &'static str, value: &str) -> SceneActivityError {
    SceneActivityError {
        field,
        value: value.to_owned(),
    }
}

/// Activities recorded toward care scenes in a fiscal year: `[scene][item]`, in the orders of
/// [`CareScene::ALL`] and [`Item::ALL`].
pub type SceneTable = [[u32; 8]; 6];

/// One municipality's activities per fiscal year, care scene and item.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SceneActivityCounts(BTreeMap<(FiscalYear, CareScene, Item), u32>);

impl SceneActivityCounts {
    /// Counts one activity (`month` YYYY-MM, an item `a` … `h`, one or more scene codes) once
    /// per scene, in the fiscal year of its month. Refuses the whole fact, counting nothing, when
    /// any field is invalid.
    pub fn record(&mut self, activity: &v1::SceneActivity) -> Result<(), SceneActivityError> {
        let first = NaiveDate::parse_from_str(&format!("{}-01", activity.month), "%Y-%m-%d")
            .map_err(|_| bad_activity("month", &activity.month))?;
        let fiscal_year =
            FiscalYear::containing(first).map_err(|_| bad_activity("month", &activity.month))?;
        let item = Item::from_text(&activity.item)
            .filter(|i| i.code() == activity.item.trim())
            .ok_or_else(|| bad_activity("item", &activity.item))?;
        if activity.scenes.is_empty() {
            return Err(bad_activity("scenes", ""));
        }
        let scenes = activity
            .scenes
            .iter()
            .map(|s| CareScene::from_text(s).ok_or_else(|| bad_activity("scenes", s)))
            .collect::<Result<Vec<_>, _>>()?;
        for scene in scenes {
            *self.0.entry((fiscal_year, scene, item)).or_default() += 1;
        }
        Ok(())
    }

    /// The activities of `fiscal_year` per scene and item.
    pub fn of_year(&self, fiscal_year: FiscalYear) -> SceneTable {
        let mut table = [[0; 8]; 6];
        for ((_, scene, item), count) in self
            .0
            .range((fiscal_year, CareScene::ALL[0], Item::A)..)
            .take_while(|((y, _, _), _)| *y == fiscal_year)
        {
            table[scene.index()][item.index()] += count;
        }
        table
    }
}

/// The cycle records of the prefecture's municipalities, kept current from their facts.
#[derive(Debug, Clone, Default)]
pub struct CycleBook {
    records: BTreeMap<MunicipalityCode, CycleRecords>,
    activity: BTreeMap<MunicipalityCode, SceneActivityCounts>,
}

impl CycleBook {
    /// Folds in a cycle fact of `municipality`; a fact that does not read changes nothing.
    pub fn take_cycle(
        &mut self,
        municipality: MunicipalityCode,
        fact: &v1::CycleFact,
    ) -> Result<(), CycleFactError> {
        self.records
            .entry(municipality)
            .or_default()
            .apply_fact(fact)
    }

    /// Notes the programme activity a piece of `municipality`'s status evidence shows (the Do
    /// of its fiscal year), as the node does.
    pub fn note_evidence(&mut self, municipality: MunicipalityCode, evidence: &Evidence) {
        self.records
            .entry(municipality)
            .or_default()
            .note_evidence(evidence);
    }

    /// Counts an activity of `municipality` toward care scenes.
    pub fn take_scene_activity(
        &mut self,
        municipality: MunicipalityCode,
        activity: &v1::SceneActivity,
    ) -> Result<(), SceneActivityError> {
        // `record` reads every field before it counts anything.
        self.activity
            .entry(municipality)
            .or_default()
            .record(activity)
    }

    /// The cycle records of a municipality, if it sent any (or any dated evidence).
    pub fn records(&self, municipality: MunicipalityCode) -> Option<&CycleRecords> {
        self.records.get(&municipality)
    }

    /// The per-scene activity of a municipality.
    pub fn activity(&self, municipality: MunicipalityCode) -> Option<&SceneActivityCounts> {
        self.activity.get(&municipality)
    }

    /// The tally of `fiscal_year` over the municipalities of `prefecture` on the official list
    /// that are in `scope` (all of them when `scope` is empty), as the survey counts them, broken
    /// down by the regions of `regions` (a municipality in none under [`NO_REGION`]). A
    /// municipality with no record is 未着手 ([`PdcaStep::NotStarted`](renkei_proto::programme::cycle::PdcaStep::NotStarted)).
    pub fn tally(
        &self,
        prefecture: PrefectureCode,
        scope: &[MunicipalityCode],
        fiscal_year: FiscalYear,
        regions: Option<&RegionSet>,
    ) -> CycleTally {
        let none = CycleRecords::default();
        let mut scene_activity = [[0; 8]; 6];
        let rows = official::municipalities_of(prefecture)
            .filter(|entry| scope.is_empty() || scope.contains(&entry.code))
            .map(|entry| {
                let m = entry.code;
                if let Some(counts) = self.activity.get(&m) {
                    add_tables(&mut scene_activity, &counts.of_year(fiscal_year));
                }
                let area = regions.and_then(|set| set.region_of(m)).map(AreaRef::of);
                CycleRow {
                    code: m,
                    name: entry.name.to_owned(),
                    area,
                    summary: self.records.get(&m).unwrap_or(&none).summary(fiscal_year),
                }
            })
            .collect();
        CycleTally {
            fiscal_year,
            source: Source::Prefecture(prefecture),
            region_kind: regions.map(|s| s.kind.clone()).unwrap_or_default(),
            areas: regions
                .map(|set| set.regions.iter().map(AreaRef::of).collect())
                .unwrap_or_default(),
            rows,
            scene_activity,
        }
    }
}

/// Adds `other` into `table`, cell by cell.
pub fn add_tables(table: &mut SceneTable, other: &SceneTable) {
    for (row, other_row) in table.iter_mut().zip(other) {
        for (cell, other_cell) in row.iter_mut().zip(other_row) {
            *cell += other_cell;
        }
    }
}

/// A region as a tally names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AreaRef {
    pub id: String,
    pub name: String,
}

impl AreaRef {
    /// The reference to `region`.
    fn of(region: &Region) -> Self {
        AreaRef {
            id: region.id.clone(),
            name: region.name.clone(),
        }
    }
}

/// One municipality's line of the cycle tally.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CycleRow {
    pub code: MunicipalityCode,
    pub name: String,
    /// Its region of the tally's kind, if it is in one.
    pub area: Option<AreaRef>,
    pub summary: CycleSummary,
}

/// How many municipalities are where in the cycle: one line of the table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CycleCounts {
    pub municipalities: u32,
    /// With a 目指す姿 for the year's period, in the order of [`CareScene::ALL`].
    pub goal_scenes: [u32; 6],
    /// With an indicator of the year, in the order of [`IndicatorKind::ALL`](renkei_proto::programme::cycle::IndicatorKind::ALL).
    pub indicator_kinds: [u32; 3],
    /// That evaluated the previous fiscal year.
    pub evaluated_last_year: u32,
    /// Whose evaluated scenes of the previous fiscal year all reached their targets.
    pub reached_last_year: u32,
    /// At each step, in the order of [`PdcaStep::ALL`](renkei_proto::programme::cycle::PdcaStep::ALL).
    pub steps: [u32; 5],
}

impl CycleCounts {
    /// Counts the summaries of `rows`.
    pub fn of<'a>(rows: impl Iterator<Item = &'a CycleRow>) -> Self {
        let mut counts = CycleCounts::default();
        for row in rows {
            counts.count(&row.summary);
        }
        counts
    }

    /// Counts one municipality's summary.
    pub fn count(&mut self, summary: &CycleSummary) {
        self.municipalities += 1;
        for scene in &summary.goal_scenes {
            self.goal_scenes[scene.index()] += 1;
        }
        for kind in &summary.indicator_kinds {
            self.indicator_kinds[kind.index()] += 1;
        }
        self.evaluated_last_year += u32::from(summary.evaluated_last_year);
        self.reached_last_year += u32::from(summary.reached_last_year);
        self.steps[summary.step.index()] += 1;
    }

    /// Adds another line's counts (the national merge sums prefectures).
    pub fn add(&mut self, other: &CycleCounts) {
        self.municipalities += other.municipalities;
        let pairs = [
            (&mut self.goal_scenes[..], &other.goal_scenes[..]),
            (&mut self.indicator_kinds[..], &other.indicator_kinds[..]),
            (&mut self.steps[..], &other.steps[..]),
        ];
        for (mine, theirs) in pairs {
            for (a, b) in mine.iter_mut().zip(theirs) {
                *a += b;
            }
        }
        self.evaluated_last_year += other.evaluated_last_year;
        self.reached_last_year += other.reached_last_year;
    }
}

/// A region's line of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AreaLine {
    pub area: AreaRef,
    pub counts: CycleCounts,
}

/// The cycle tally of one prefecture for a fiscal year: a row per municipality counted, the
/// regions they are broken down by, and the activities per care scene.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CycleTally {
    pub fiscal_year: FiscalYear,
    pub source: Source,
    /// The kind of `areas` (empty when no region set is in force).
    pub region_kind: String,
    /// The regions of the set, in its order.
    pub areas: Vec<AreaRef>,
    /// One row per municipality counted, in code order.
    pub rows: Vec<CycleRow>,
    /// Activities of the year per care scene and item, summed over the rows' municipalities.
    pub scene_activity: SceneTable,
}

impl CycleTally {
    /// The prefecture's line.
    pub fn total(&self) -> CycleCounts {
        CycleCounts::of(self.rows.iter())
    }

    /// One line per region with municipalities counted, in the set's order, then
    /// [`NO_REGION`] when some municipality is in no region.
    pub fn by_area(&self) -> Vec<AreaLine> {
        let mut lines: Vec<AreaLine> = self
            .areas
            .iter()
            .filter_map(|area| {
                let rows: Vec<&CycleRow> = self
                    .rows
                    .iter()
                    .filter(|r| r.area.as_ref().is_some_and(|a| a.id == area.id))
                    .collect();
                (!rows.is_empty()).then(|| AreaLine {
                    area: area.clone(),
                    counts: CycleCounts::of(rows.into_iter()),
                })
            })
            .collect();
        let outside: Vec<&CycleRow> = self.rows.iter().filter(|r| r.area.is_none()).collect();
        if !self.areas.is_empty() && !outside.is_empty() {
            lines.push(AreaLine {
                area: AreaRef {
                    id: NO_REGION.to_owned(),
                    name: NO_REGION.to_owned(),
                },
                counts: CycleCounts::of(outside.into_iter()),
            });
        }
        lines
    }
}

#[cfg(test)]
pub(crate) mod tests;
