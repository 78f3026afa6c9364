//! The annual business plan (年間事業計画) of one fiscal year and the PDCA cycle it belongs to:
//! planned activities per item, with date, owner and delegate; the evaluation indicators
//! (structure / process / outcome, 構造・過程・結果) with baseline, target and measured values;
//! the year's evaluation per care scene (評価) and the improvement decided (改善). The goals
//! (目指す姿) per scene of a 介護保険事業計画 period are recorded in the plan of the period's first
//! year. The step reached (Plan/Do/Check/Act) is derived from these records by
//! [`renkei_proto::programme::cycle::CycleRecords`], at the node and at the prefecture alike.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use renkei_proto::FiscalYear;
use serde::{Deserialize, Serialize};

use super::values::{
    CareScene, IndicatorId, Item, MAX_NAME, PlannedActivityId, optional_text, text,
};
use super::{Aggregate, DomainError, RecordKey};

/// The kinds of indicator (構造・過程・結果), defined once for both tiers.
pub use renkei_proto::programme::cycle::IndicatorKind;
use renkei_proto::programme::cycle::{Evaluation, Goal, PlanPeriod};

/// The longest goal (目指す姿), reason or improvement text.
const MAX_CYCLE_TEXT: usize = 1000;

/// Reads an indicator kind from its code (`outcome`) or label; `field` names it in the error.
pub fn indicator_kind(field: &str, value: &str) -> Result<IndicatorKind, DomainError> {
    IndicatorKind::from_text(value).ok_or_else(|| {
        DomainError::invalid(field, value, "must be one of structure, process, outcome")
    })
}

/// Reads a 介護保険事業計画 period number (9 for 第9期, FY2024–2026).
pub fn plan_period(field: &str, value: u32) -> Result<PlanPeriod, DomainError> {
    u16::try_from(value)
        .ok()
        .and_then(PlanPeriod::new)
        .filter(|p| p.first_year().year() >= 2015)
        .ok_or_else(|| {
            DomainError::invalid(
                field,
                value,
                "must be a 介護保険事業計画 period from 第6期 (FY2015–2017) on",
            )
        })
}

/// Commands of an annual plan.
#[derive(Debug, Clone, PartialEq)]
pub enum PlanCommand {
    /// Schedules an activity for an item on a day of the fiscal year. `planned_on` is the day the
    /// plan entry was decided.
    ScheduleActivity {
        fiscal_year: FiscalYear,
        id: PlannedActivityId,
        item: Item,
        what: String,
        scheduled_on: NaiveDate,
        owner: String,
        delegated_to: Option<String>,
        planned_on: NaiveDate,
        /// The care scenes (場面) the activity works toward.
        scenes: Vec<CareScene>,
        /// The indicators of the year's plan the activity serves (already defined).
        indicators: Vec<IndicatorId>,
    },
    /// Cancels a scheduled activity from `on`.
    CancelActivity {
        fiscal_year: FiscalYear,
        id: PlannedActivityId,
        on: NaiveDate,
    },
    /// Defines an indicator with its target for the year.
    DefineIndicator {
        fiscal_year: FiscalYear,
        id: IndicatorId,
        kind: IndicatorKind,
        name: String,
        unit: String,
        item: Option<Item>,
        target: f64,
        /// The care scene it measures.
        scene: Option<CareScene>,
        /// The value before the plan (基準値).
        baseline: Option<f64>,
    },
    /// Records a measured value of an indicator.
    RecordMeasurement {
        fiscal_year: FiscalYear,
        id: IndicatorId,
        on: NaiveDate,
        value: f64,
    },
    /// Sets the goal (目指す姿) of a scene for a 介護保険事業計画 period; recorded in the plan of
    /// the period's first year.
    SetSceneGoal {
        period: PlanPeriod,
        scene: CareScene,
        text: String,
        set_on: NaiveDate,
    },
    /// Records the evaluation (評価) of a fiscal year for a scene, with the improvement (改善)
    /// decided when it is known already.
    RecordEvaluation {
        fiscal_year: FiscalYear,
        scene: CareScene,
        reached: bool,
        reason: String,
        improvement: Option<String>,
        on: NaiveDate,
    },
    /// Decides the improvement of an evaluation recorded without one.
    DecideImprovement {
        fiscal_year: FiscalYear,
        scene: CareScene,
        improvement: String,
        on: NaiveDate,
    },
}

/// Events of an annual plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum PlanEvent {
    ActivityScheduled {
        fiscal_year: FiscalYear,
        id: PlannedActivityId,
        item: Item,
        what: String,
        scheduled_on: NaiveDate,
        owner: String,
        delegated_to: Option<String>,
        planned_on: NaiveDate,
        /// Absent in events recorded before scenes were planned.
        #[serde(default)]
        scenes: Vec<CareScene>,
        /// Absent in events recorded before activities named their indicators.
        #[serde(default)]
        indicators: Vec<IndicatorId>,
    },
    ActivityCancelled {
        fiscal_year: FiscalYear,
        id: PlannedActivityId,
        on: NaiveDate,
    },
    IndicatorDefined {
        fiscal_year: FiscalYear,
        id: IndicatorId,
        kind: IndicatorKind,
        name: String,
        unit: String,
        item: Option<Item>,
        target: f64,
        /// Absent in indicators defined before scenes and baselines were kept.
        #[serde(default)]
        scene: Option<CareScene>,
        #[serde(default)]
        baseline: Option<f64>,
    },
    MeasurementRecorded {
        fiscal_year: FiscalYear,
        id: IndicatorId,
        on: NaiveDate,
        value: f64,
    },
    SceneGoalSet {
        period: PlanPeriod,
        scene: CareScene,
        text: String,
        set_on: NaiveDate,
    },
    EvaluationRecorded {
        fiscal_year: FiscalYear,
        scene: CareScene,
        reached: bool,
        reason: String,
        /// Empty when no improvement was decided with the evaluation.
        improvement: String,
        on: NaiveDate,
    },
    ImprovementDecided {
        fiscal_year: FiscalYear,
        scene: CareScene,
        improvement: String,
        on: NaiveDate,
    },
}

/// An indicator as the plan knows it: the cycle's one definition.
pub use renkei_proto::programme::cycle::Indicator as IndicatorState;

/// A planned activity as the plan knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedActivity {
    pub item: Item,
    pub what: String,
    pub scheduled_on: NaiveDate,
    pub owner: String,
    pub delegated_to: Option<String>,
    pub planned_on: NaiveDate,
    pub cancelled_on: Option<NaiveDate>,
    pub scenes: Vec<CareScene>,
    /// The indicators it serves.
    pub indicators: Vec<IndicatorId>,
}

/// One fiscal year's annual plan.
#[derive(Debug, Clone, Default)]
pub struct AnnualPlan {
    pub fiscal_year: Option<FiscalYear>,
    pub activities: BTreeMap<PlannedActivityId, PlannedActivity>,
    pub indicators: BTreeMap<IndicatorId, IndicatorState>,
    /// The goals of the period, when this is the plan of its first year.
    pub goals: BTreeMap<CareScene, Goal>,
    /// The year's evaluations by scene.
    pub evaluations: BTreeMap<CareScene, Evaluation>,
}

/// An activity recorded toward a care scene: when, under which item, and what kind of record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoneActivity {
    pub on: NaiveDate,
    pub item: Item,
    /// The event type, e.g. `TrainingHeld`.
    pub kind: String,
}

/// One care scene's plan against what was done (PDCA: Plan, Do, and what is late).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SceneProgress {
    pub scene: CareScene,
    /// Planned activities toward the scene, not cancelled by the 基準日.
    pub planned: Vec<PlannedActivityId>,
    /// What was recorded toward the scene in the year up to the 基準日, oldest first.
    pub done: Vec<DoneActivity>,
    /// Planned activities whose day is before the 基準日 with nothing recorded for the same item
    /// and scene in the year.
    pub overdue: Vec<PlannedActivityId>,
}

impl AnnualPlan {
    /// The plan by care scene as of `as_of`, given what was recorded in the year with the scenes
    /// it served (events of other years or after `as_of` are left out here, so callers may pass
    /// everything). Scenes with nothing planned or done are included, so the table always shows
    /// all of them.
    pub fn by_scene(
        &self,
        fiscal_year: FiscalYear,
        as_of: NaiveDate,
        recorded: &[(DoneActivity, Vec<CareScene>)],
    ) -> Vec<SceneProgress> {
        CareScene::ALL
            .iter()
            .map(|&scene| {
                let done: Vec<DoneActivity> = recorded
                    .iter()
                    .filter(|(d, scenes)| {
                        scenes.contains(&scene) && fiscal_year.contains(d.on) && d.on <= as_of
                    })
                    .map(|(d, _)| d.clone())
                    .collect();
                let in_force = self.activities.iter().filter(|(_, a)| {
                    a.scenes.contains(&scene) && a.cancelled_on.is_none_or(|c| c > as_of)
                });
                let mut planned = Vec::new();
                let mut overdue = Vec::new();
                for (id, a) in in_force {
                    planned.push(id.clone());
                    if a.scheduled_on < as_of && !done.iter().any(|d| d.item == a.item) {
                        overdue.push(id.clone());
                    }
                }
                SceneProgress {
                    scene,
                    planned,
                    done,
                    overdue,
                }
            })
            .collect()
    }
}

impl AnnualPlan {
    fn check_year(&self, fy: FiscalYear) -> Result<(), DomainError> {
        match self.fiscal_year {
            Some(own) if own != fy => Err(DomainError::invalid(
                "fiscal_year",
                fy,
                format!("this plan is for {own}"),
            )),
            _ => Ok(()),
        }
    }
}

/// A year is evaluated within it or after it, never before it begins.
fn evaluated_on(fiscal_year: FiscalYear, on: NaiveDate) -> Result<(), DomainError> {
    if on < fiscal_year.first_day() {
        return Err(DomainError::invalid(
            "on",
            on,
            format!(
                "is before {fiscal_year} begins ({})",
                fiscal_year.first_day()
            ),
        ));
    }
    Ok(())
}

fn finite(field: &str, value: f64) -> Result<f64, DomainError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(DomainError::invalid(
            field,
            value,
            "must be a finite number",
        ))
    }
}

/// The record of a scene's goal of a period.
fn goal_key(period: PlanPeriod, scene: CareScene) -> RecordKey {
    RecordKey::new("goal", format!("{} {}", period.number(), scene.code()))
}

/// The record of a year's evaluation of a scene.
fn evaluation_key(fiscal_year: FiscalYear, scene: CareScene) -> RecordKey {
    RecordKey::new(
        "evaluation",
        format!("{} {}", fiscal_year.year(), scene.code()),
    )
}

/// The record of the improvement decided for a year's evaluation of a scene.
fn improvement_key(fiscal_year: FiscalYear, scene: CareScene) -> RecordKey {
    RecordKey::new(
        "improvement",
        format!("{} {}", fiscal_year.year(), scene.code()),
    )
}

/// The record of a measurement: one per indicator and day.
fn measurement_key(id: &IndicatorId, on: NaiveDate) -> RecordKey {
    RecordKey::new("measurement", format!("{id} {on}"))
}

impl Aggregate for AnnualPlan {
    type Command = PlanCommand;
    type Event = PlanEvent;

    fn command_key(command: &PlanCommand) -> Option<RecordKey> {
        Some(match command {
            PlanCommand::ScheduleActivity { id, .. } => RecordKey::new("planned activity", id),
            PlanCommand::CancelActivity { id, .. } => {
                RecordKey::new("cancellation of planned activity", id)
            }
            PlanCommand::DefineIndicator { id, .. } => RecordKey::new("indicator", id),
            PlanCommand::RecordMeasurement { id, on, .. } => measurement_key(id, *on),
            PlanCommand::SetSceneGoal { period, scene, .. } => goal_key(*period, *scene),
            PlanCommand::RecordEvaluation {
                fiscal_year, scene, ..
            } => evaluation_key(*fiscal_year, *scene),
            PlanCommand::DecideImprovement {
                fiscal_year, scene, ..
            } => improvement_key(*fiscal_year, *scene),
        })
    }

    fn event_key(event: &PlanEvent) -> Option<RecordKey> {
        Some(match event {
            PlanEvent::ActivityScheduled { id, .. } => RecordKey::new("planned activity", id),
            PlanEvent::ActivityCancelled { id, .. } => {
                RecordKey::new("cancellation of planned activity", id)
            }
            PlanEvent::IndicatorDefined { id, .. } => RecordKey::new("indicator", id),
            PlanEvent::MeasurementRecorded { id, on, .. } => measurement_key(id, *on),
            PlanEvent::SceneGoalSet { period, scene, .. } => goal_key(*period, *scene),
            PlanEvent::EvaluationRecorded {
                fiscal_year, scene, ..
            } => evaluation_key(*fiscal_year, *scene),
            PlanEvent::ImprovementDecided {
                fiscal_year, scene, ..
            } => improvement_key(*fiscal_year, *scene),
        })
    }

    fn decide(&self, command: PlanCommand) -> Result<Vec<PlanEvent>, DomainError> {
        match command {
            PlanCommand::ScheduleActivity {
                fiscal_year,
                id,
                item,
                what,
                scheduled_on,
                owner,
                delegated_to,
                planned_on,
                mut scenes,
                mut indicators,
            } => {
                self.check_year(fiscal_year)?;
                scenes.sort();
                scenes.dedup();
                indicators.sort();
                indicators.dedup();
                if let Some(unknown) = indicators.iter().find(|i| !self.indicators.contains_key(i))
                {
                    return Err(DomainError::invalid(
                        "indicators",
                        unknown,
                        format!("is not an indicator of the {fiscal_year} plan: define it first"),
                    ));
                }
                let what = text("what", &what, MAX_NAME)?;
                let owner = text("owner", &owner, MAX_NAME)?;
                let delegated_to = optional_text(
                    "delegated_to",
                    delegated_to.as_deref().unwrap_or(""),
                    MAX_NAME,
                )?;
                if !fiscal_year.contains(scheduled_on) {
                    return Err(DomainError::invalid(
                        "scheduled_on",
                        scheduled_on,
                        format!(
                            "is outside {fiscal_year} ({}..{})",
                            fiscal_year.first_day(),
                            fiscal_year.last_day()
                        ),
                    ));
                }
                if self.activities.contains_key(&id) {
                    return Err(DomainError::conflict(
                        "planned activity",
                        &id,
                        "is already scheduled",
                    ));
                }
                Ok(vec![PlanEvent::ActivityScheduled {
                    fiscal_year,
                    id,
                    item,
                    what,
                    scheduled_on,
                    owner,
                    delegated_to,
                    planned_on,
                    scenes,
                    indicators,
                }])
            }
            PlanCommand::CancelActivity {
                fiscal_year,
                id,
                on,
            } => {
                self.check_year(fiscal_year)?;
                let activity = self
                    .activities
                    .get(&id)
                    .ok_or_else(|| DomainError::not_found("planned activity", &id))?;
                if activity.cancelled_on.is_some() {
                    return Ok(vec![]);
                }
                let planned_on = activity.planned_on;
                if on < planned_on {
                    return Err(DomainError::invalid(
                        "on",
                        on,
                        format!("is before the activity was planned on {planned_on}"),
                    ));
                }
                Ok(vec![PlanEvent::ActivityCancelled {
                    fiscal_year,
                    id,
                    on,
                }])
            }
            PlanCommand::DefineIndicator {
                fiscal_year,
                id,
                kind,
                name,
                unit,
                item,
                target,
                scene,
                baseline,
            } => {
                self.check_year(fiscal_year)?;
                let name = text("name", &name, MAX_NAME)?;
                let unit = text("unit", &unit, 50)?;
                let target = finite("target", target)?;
                let baseline = baseline.map(|b| finite("baseline", b)).transpose()?;
                if self.indicators.contains_key(&id) {
                    return Err(DomainError::conflict(
                        "indicator",
                        &id,
                        "is already defined",
                    ));
                }
                Ok(vec![PlanEvent::IndicatorDefined {
                    fiscal_year,
                    id,
                    kind,
                    name,
                    unit,
                    item,
                    target,
                    scene,
                    baseline,
                }])
            }
            PlanCommand::RecordMeasurement {
                fiscal_year,
                id,
                on,
                value,
            } => {
                self.check_year(fiscal_year)?;
                let value = finite("value", value)?;
                let indicator = self
                    .indicators
                    .get(&id)
                    .ok_or_else(|| DomainError::not_found("indicator", &id))?;
                if indicator.measurements.contains_key(&on) {
                    return Err(DomainError::conflict(
                        "indicator",
                        &id,
                        format!("already has a measurement on {on}"),
                    ));
                }
                Ok(vec![PlanEvent::MeasurementRecorded {
                    fiscal_year,
                    id,
                    on,
                    value,
                }])
            }
            PlanCommand::SetSceneGoal {
                period,
                scene,
                text: goal,
                set_on,
            } => {
                self.check_year(period.first_year())?;
                let goal = text("text", &goal, MAX_CYCLE_TEXT)?;
                if set_on > period.last_year().last_day() {
                    return Err(DomainError::invalid(
                        "set_on",
                        set_on,
                        format!("is after the end of {period}"),
                    ));
                }
                if self.goals.contains_key(&scene) {
                    return Err(DomainError::conflict(
                        "goal",
                        goal_key(period, scene).id,
                        format!("{period} already has a goal for {scene}"),
                    ));
                }
                Ok(vec![PlanEvent::SceneGoalSet {
                    period,
                    scene,
                    text: goal,
                    set_on,
                }])
            }
            PlanCommand::RecordEvaluation {
                fiscal_year,
                scene,
                reached,
                reason,
                improvement,
                on,
            } => {
                self.check_year(fiscal_year)?;
                let reason = text("reason", &reason, MAX_CYCLE_TEXT)?;
                let improvement = optional_text(
                    "improvement",
                    improvement.as_deref().unwrap_or(""),
                    MAX_CYCLE_TEXT,
                )?
                .unwrap_or_default();
                evaluated_on(fiscal_year, on)?;
                if self.evaluations.contains_key(&scene) {
                    return Err(DomainError::conflict(
                        "evaluation",
                        evaluation_key(fiscal_year, scene).id,
                        format!("{fiscal_year} is evaluated already for {scene}"),
                    ));
                }
                Ok(vec![PlanEvent::EvaluationRecorded {
                    fiscal_year,
                    scene,
                    reached,
                    reason,
                    improvement,
                    on,
                }])
            }
            PlanCommand::DecideImprovement {
                fiscal_year,
                scene,
                improvement,
                on,
            } => {
                self.check_year(fiscal_year)?;
                let improvement = text("improvement", &improvement, MAX_CYCLE_TEXT)?;
                let id = evaluation_key(fiscal_year, scene).id;
                let evaluation = self
                    .evaluations
                    .get(&scene)
                    .ok_or_else(|| DomainError::not_found("evaluation", &id))?;
                if !evaluation.improvement.is_empty() {
                    return Err(DomainError::conflict(
                        "evaluation",
                        id,
                        "has an improvement decided already",
                    ));
                }
                if on < evaluation.on {
                    return Err(DomainError::invalid(
                        "on",
                        on,
                        format!("is before the evaluation of {}", evaluation.on),
                    ));
                }
                Ok(vec![PlanEvent::ImprovementDecided {
                    fiscal_year,
                    scene,
                    improvement,
                    on,
                }])
            }
        }
    }

    fn apply(&mut self, event: &PlanEvent) {
        match event {
            PlanEvent::ActivityScheduled {
                fiscal_year,
                id,
                item,
                what,
                scheduled_on,
                owner,
                delegated_to,
                planned_on,
                scenes,
                indicators,
            } => {
                self.fiscal_year = Some(*fiscal_year);
                self.activities.insert(
                    id.clone(),
                    PlannedActivity {
                        item: *item,
                        what: what.clone(),
                        scheduled_on: *scheduled_on,
                        owner: owner.clone(),
                        delegated_to: delegated_to.clone(),
                        planned_on: *planned_on,
                        cancelled_on: None,
                        scenes: scenes.clone(),
                        indicators: indicators.clone(),
                    },
                );
            }
            PlanEvent::ActivityCancelled { id, on, .. } => {
                if let Some(a) = self.activities.get_mut(id) {
                    a.cancelled_on = Some(*on);
                }
            }
            PlanEvent::IndicatorDefined {
                fiscal_year,
                id,
                kind,
                name,
                unit,
                target,
                scene,
                baseline,
                ..
            } => {
                self.fiscal_year = Some(*fiscal_year);
                self.indicators.insert(
                    id.clone(),
                    IndicatorState {
                        fiscal_year: *fiscal_year,
                        kind: *kind,
                        scene: *scene,
                        baseline: *baseline,
                        name: name.clone(),
                        unit: unit.clone(),
                        target: *target,
                        measurements: BTreeMap::new(),
                    },
                );
            }
            PlanEvent::MeasurementRecorded { id, on, value, .. } => {
                if let Some(i) = self.indicators.get_mut(id) {
                    i.measurements.insert(*on, *value);
                }
            }
            PlanEvent::SceneGoalSet {
                period,
                scene,
                text,
                set_on,
            } => {
                self.fiscal_year = Some(period.first_year());
                self.goals.insert(
                    *scene,
                    Goal {
                        text: text.clone(),
                        set_on: *set_on,
                    },
                );
            }
            PlanEvent::EvaluationRecorded {
                fiscal_year,
                scene,
                reached,
                reason,
                improvement,
                on,
            } => {
                self.fiscal_year = Some(*fiscal_year);
                self.evaluations.insert(
                    *scene,
                    Evaluation {
                        on: *on,
                        reached: *reached,
                        reason: reason.clone(),
                        improvement: improvement.clone(),
                    },
                );
            }
            PlanEvent::ImprovementDecided {
                scene, improvement, ..
            } => {
                if let Some(e) = self.evaluations.get_mut(scene) {
                    e.improvement.clone_from(improvement);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::given_when;
    use crate::domain::resources::tests::d;

    fn fy(y: i64) -> FiscalYear {
        FiscalYear::new(y).unwrap()
    }

    #[test]
    fn an_activity_is_scheduled_within_the_fiscal_year() {
        let schedule = |on| PlanCommand::ScheduleActivity {
            fiscal_year: fy(2024),
            id: PlannedActivityId::parse("id", "p1").unwrap(),
            item: Item::Ka,
            what: "多職種研修".into(),
            scheduled_on: on,
            owner: "長寿福祉課".into(),
            delegated_to: Some("富山市医師会".into()),
            planned_on: d(2024, 3, 15),
            scenes: vec![],
            indicators: vec![],
        };
        // when scheduled on 2025-03-31 (last day of FY2024), then accepted
        assert_eq!(
            given_when::<AnnualPlan>(&[], schedule(d(2025, 3, 31)))
                .unwrap()
                .len(),
            1
        );
        // when scheduled on 2025-04-01, then refused naming the field and date
        let then = given_when::<AnnualPlan>(&[], schedule(d(2025, 4, 1)));
        assert!(
            matches!(then, Err(DomainError::Invalid { ref field, ref value, .. }) if field == "scheduled_on" && value == "2025-04-01")
        );
    }

    #[test]
    fn an_activity_names_only_indicators_the_plan_defines() {
        // given FY2024's structure indicator 在宅医療に参画するかかりつけ医師数 for 日常の療養支援
        let indicator = |id: &str| IndicatorId::parse("id", id).unwrap();
        let given = [PlanEvent::IndicatorDefined {
            fiscal_year: fy(2024),
            id: indicator("doctors"),
            kind: IndicatorKind::Structure,
            name: "在宅医療に参画するかかりつけ医師数".into(),
            unit: "人".into(),
            item: None,
            target: 40.0,
            scene: Some(CareScene::DailyCare),
            baseline: Some(32.0),
        }];
        let schedule = |indicators: Vec<IndicatorId>| PlanCommand::ScheduleActivity {
            fiscal_year: fy(2024),
            id: PlannedActivityId::parse("id", "p1").unwrap(),
            item: Item::Ka,
            what: "かかりつけ医向け在宅医療研修".into(),
            scheduled_on: d(2024, 10, 5),
            owner: "長寿福祉課".into(),
            delegated_to: None,
            planned_on: d(2024, 4, 1),
            scenes: vec![CareScene::DailyCare],
            indicators,
        };
        // when the activity names it (twice), then it is recorded once
        let events = given_when::<AnnualPlan>(
            &given,
            schedule(vec![indicator("doctors"), indicator("doctors")]),
        )
        .unwrap();
        let mut plan = AnnualPlan::default();
        for e in given.iter().chain(&events) {
            plan.apply(e);
        }
        assert_eq!(
            plan.activities[&PlannedActivityId::parse("id", "p1").unwrap()].indicators,
            vec![indicator("doctors")]
        );
        // when it names an indicator the plan does not define, then refused naming the field
        // and the value
        let then = given_when::<AnnualPlan>(&given, schedule(vec![indicator("home-deaths")]));
        assert!(
            matches!(then, Err(DomainError::Invalid { ref field, ref value, .. }) if field == "indicators" && value == "home-deaths"),
            "{then:?}"
        );
    }

    #[test]
    fn a_measurement_needs_a_defined_indicator_and_a_finite_value() {
        // given an indicator for FY2024
        let id = IndicatorId::parse("id", "i1").unwrap();
        let given = [PlanEvent::IndicatorDefined {
            fiscal_year: fy(2024),
            id: id.clone(),
            kind: IndicatorKind::Outcome,
            name: "在宅看取り率".into(),
            unit: "%".into(),
            item: None,
            target: 25.0,
            scene: None,
            baseline: None,
        }];
        let measure = |id: &str, value| PlanCommand::RecordMeasurement {
            fiscal_year: fy(2024),
            id: IndicatorId::parse("id", id).unwrap(),
            on: d(2025, 3, 1),
            value,
        };
        assert!(matches!(
            given_when::<AnnualPlan>(&given, measure("i2", 1.0)),
            Err(DomainError::NotFound { .. })
        ));
        assert!(
            matches!(given_when::<AnnualPlan>(&given, measure("i1", f64::NAN)), Err(DomainError::Invalid { ref field, .. }) if field == "value")
        );
        assert_eq!(
            given_when::<AnnualPlan>(&given, measure("i1", 22.5))
                .unwrap()
                .len(),
            1
        );
        // when defined for another year in this plan, then refused
        let then = given_when::<AnnualPlan>(
            &given,
            PlanCommand::DefineIndicator {
                fiscal_year: fy(2025),
                id,
                kind: IndicatorKind::Outcome,
                name: "x".into(),
                unit: "%".into(),
                item: None,
                target: 1.0,
                scene: None,
                baseline: None,
            },
        );
        assert!(
            matches!(then, Err(DomainError::Invalid { ref field, .. }) if field == "fiscal_year")
        );
    }

    #[test]
    fn a_scene_shows_what_was_planned_done_and_late() {
        // given two activities for 看取り in FY2024: a training on 2024-09-01 and an awareness
        // lecture on 2024-11-01, and one for 入退院支援 cancelled on 2024-05-01
        let activity = |id: &str, item, on, scenes: Vec<CareScene>| PlanEvent::ActivityScheduled {
            fiscal_year: fy(2024),
            id: PlannedActivityId::parse("id", id).unwrap(),
            item,
            what: "予定".into(),
            scheduled_on: on,
            owner: "長寿福祉課".into(),
            delegated_to: None,
            planned_on: d(2024, 4, 1),
            scenes,
            indicators: vec![],
        };
        let mut plan = AnnualPlan::default();
        for e in [
            activity("p1", Item::Ka, d(2024, 9, 1), vec![CareScene::EndOfLife]),
            activity("p2", Item::Ki, d(2024, 11, 1), vec![CareScene::EndOfLife]),
            activity(
                "p3",
                Item::I,
                d(2024, 6, 1),
                vec![CareScene::AdmissionDischarge],
            ),
            PlanEvent::ActivityCancelled {
                fiscal_year: fy(2024),
                id: PlannedActivityId::parse("id", "p3").unwrap(),
                on: d(2024, 5, 1),
            },
        ] {
            plan.apply(&e);
        }
        // and a training for 看取り held on 2024-09-02, and one of FY2023
        let done = |on, item| DoneActivity {
            on,
            item,
            kind: "TrainingHeld".into(),
        };
        let recorded = [
            (done(d(2024, 9, 2), Item::Ka), vec![CareScene::EndOfLife]),
            (done(d(2023, 9, 2), Item::Ka), vec![CareScene::EndOfLife]),
        ];
        // when seen on 2024-12-01
        let scenes = plan.by_scene(fy(2024), d(2024, 12, 1), &recorded);
        let end_of_life = scenes
            .iter()
            .find(|s| s.scene == CareScene::EndOfLife)
            .unwrap();
        // then both are planned, the training is done, the lecture is late
        assert_eq!(end_of_life.planned.len(), 2);
        assert_eq!(end_of_life.done, vec![done(d(2024, 9, 2), Item::Ka)]);
        assert_eq!(
            end_of_life.overdue,
            vec![PlannedActivityId::parse("id", "p2").unwrap()]
        );
        // and the cancelled activity is neither planned nor late; every scene has a row
        let admission = scenes
            .iter()
            .find(|s| s.scene == CareScene::AdmissionDischarge)
            .unwrap();
        assert!(admission.planned.is_empty() && admission.overdue.is_empty());
        assert_eq!(scenes.len(), CareScene::ALL.len());
        // and seen on 2024-10-01, the lecture is not late yet
        let early = plan.by_scene(fy(2024), d(2024, 10, 1), &recorded);
        assert!(early.iter().all(|s| s.overdue.is_empty()));
    }

    #[test]
    fn a_scene_has_one_goal_per_period_recorded_in_its_first_year() {
        let ninth = PlanPeriod::new(9).unwrap();
        let goal = |text: &str| PlanCommand::SetSceneGoal {
            period: ninth,
            scene: CareScene::EndOfLife,
            text: text.into(),
            set_on: d(2024, 3, 20),
        };
        let given = given_when::<AnnualPlan>(&[], goal("悔いのない看取り")).unwrap();
        assert_eq!(
            AnnualPlan::from_events(&given).fiscal_year,
            Some(fy(2024)),
            "the plan of the period's first year"
        );
        // a second goal for the scene and period is refused; an empty one names the field
        assert!(matches!(
            given_when::<AnnualPlan>(&given, goal("別の目標")),
            Err(DomainError::Conflict { what: "goal", .. })
        ));
        assert!(
            matches!(given_when::<AnnualPlan>(&[], goal("  ")), Err(DomainError::Invalid { ref field, .. }) if field == "text")
        );
        // a period before the programme began is refused naming the field and value
        assert!(
            matches!(plan_period("period", 5), Err(DomainError::Invalid { ref field, ref value, .. }) if field == "period" && value == "5")
        );
    }

    #[test]
    fn an_evaluation_follows_its_year_and_an_improvement_follows_the_evaluation() {
        let evaluate = |on| PlanCommand::RecordEvaluation {
            fiscal_year: fy(2023),
            scene: CareScene::AdmissionDischarge,
            reached: false,
            reason: "退院前カンファレンスの開催率が伸びなかった".into(),
            improvement: None,
            on,
        };
        let improve = |on| PlanCommand::DecideImprovement {
            fiscal_year: fy(2023),
            scene: CareScene::AdmissionDischarge,
            improvement: "入退院支援ルールを病院と見直す".into(),
            on,
        };
        // an evaluation dated before the year begins is refused naming the day
        assert!(
            matches!(given_when::<AnnualPlan>(&[], evaluate(d(2023, 3, 31))), Err(DomainError::Invalid { ref field, ref value, .. }) if field == "on" && value == "2023-03-31")
        );
        // an improvement needs the evaluation
        assert!(matches!(
            given_when::<AnnualPlan>(&[], improve(d(2024, 5, 1))),
            Err(DomainError::NotFound {
                what: "evaluation",
                ..
            })
        ));
        let evaluated = given_when::<AnnualPlan>(&[], evaluate(d(2024, 4, 20))).unwrap();
        // not before it, and only once
        assert!(
            matches!(given_when::<AnnualPlan>(&evaluated, improve(d(2024, 4, 19))), Err(DomainError::Invalid { ref field, .. }) if field == "on")
        );
        let mut history = evaluated.clone();
        history.extend(given_when::<AnnualPlan>(&evaluated, improve(d(2024, 5, 1))).unwrap());
        let plan = AnnualPlan::from_events(&history);
        assert_eq!(
            plan.evaluations[&CareScene::AdmissionDischarge].improvement,
            "入退院支援ルールを病院と見直す"
        );
        assert!(matches!(
            given_when::<AnnualPlan>(&history, improve(d(2024, 6, 1))),
            Err(DomainError::Conflict { .. })
        ));
    }
}
