//! The programme as a PDCA cycle (令和2年〜, 手引き Ver.3): a municipality sets its 目指す姿 (the
//! goal it works toward) per care scene for a 介護保険事業計画 period, measures indicators of
//! structure, process and outcome (構造・過程・結果) against targets, evaluates each year (評価)
//! and decides the improvement (改善) that becomes the next year's plan. The step a municipality
//! has reached in a fiscal year (Plan / Do / Check / Act) is derived from these records, as item
//! statuses are derived from evidence.
//!
//! Both tiers use this one definition: the node folds its plan events into [`CycleRecords`], the
//! prefecture folds the cycle facts it receives ([`v1::CycleFact`]) into the same type, so both
//! derive the same step and the same summary from the same records. Pure values: no I/O.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::status::Evidence;
use crate::FiscalYear;
use crate::v1;

/// A care scene (場面) and the cross-cutting concerns activities are tagged with. The first four
/// are the scenes of 手引き Ver.3 that goals are set for ([`CareScene::FOUR`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CareScene {
    /// 入退院支援
    AdmissionDischarge,
    /// 日常の療養支援
    DailyCare,
    /// 急変時の対応
    SuddenDeterioration,
    /// 看取り
    EndOfLife,
    /// 認知症
    Dementia,
    /// 感染症・災害時
    InfectionDisaster,
}

impl CareScene {
    /// Every value, in declaration order.
    pub const ALL: &'static [CareScene] = &[
        CareScene::AdmissionDischarge,
        CareScene::DailyCare,
        CareScene::SuddenDeterioration,
        CareScene::EndOfLife,
        CareScene::Dementia,
        CareScene::InfectionDisaster,
    ];

    /// The four scenes of 手引き Ver.3 (日常の療養支援・入退院支援・急変時の対応・看取り).
    pub const FOUR: [CareScene; 4] = [
        CareScene::AdmissionDischarge,
        CareScene::DailyCare,
        CareScene::SuddenDeterioration,
        CareScene::EndOfLife,
    ];

    /// Returns its place in [`CareScene::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }

    /// Returns the wire code, e.g. `daily_care`.
    pub const fn code(self) -> &'static str {
        match self {
            CareScene::AdmissionDischarge => "admission_discharge",
            CareScene::DailyCare => "daily_care",
            CareScene::SuddenDeterioration => "sudden_deterioration",
            CareScene::EndOfLife => "end_of_life",
            CareScene::Dementia => "dementia",
            CareScene::InfectionDisaster => "infection_disaster",
        }
    }

    /// Returns the Japanese label.
    pub const fn label(self) -> &'static str {
        match self {
            CareScene::AdmissionDischarge => "入退院支援",
            CareScene::DailyCare => "日常の療養支援",
            CareScene::SuddenDeterioration => "急変時の対応",
            CareScene::EndOfLife => "看取り",
            CareScene::Dementia => "認知症",
            CareScene::InfectionDisaster => "感染症・災害時",
        }
    }

    /// Reads the wire code or the Japanese label.
    pub fn from_text(text: &str) -> Option<CareScene> {
        let t = text.trim();
        Self::ALL
            .iter()
            .copied()
            .find(|s| s.code() == t || s.label() == t)
    }
}

impl std::fmt::Display for CareScene {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// The kind of an evaluation indicator (評価指標): structure, process or outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IndicatorKind {
    /// ストラクチャー指標 (構造; e.g. 在宅医療に参画するかかりつけ医師数)
    Structure,
    /// プロセス指標 (過程; e.g. consultations handled)
    Process,
    /// アウトカム指標 (結果; e.g. 在宅看取り率)
    Outcome,
}

impl IndicatorKind {
    /// Every value, in declaration order.
    pub const ALL: &'static [IndicatorKind] = &[
        IndicatorKind::Structure,
        IndicatorKind::Process,
        IndicatorKind::Outcome,
    ];

    /// Returns its place in [`IndicatorKind::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }

    /// Returns the wire code, e.g. `outcome`.
    pub const fn code(self) -> &'static str {
        match self {
            IndicatorKind::Structure => "structure",
            IndicatorKind::Process => "process",
            IndicatorKind::Outcome => "outcome",
        }
    }

    /// Returns the Japanese label.
    pub const fn label(self) -> &'static str {
        match self {
            IndicatorKind::Structure => "ストラクチャー指標",
            IndicatorKind::Process => "プロセス指標",
            IndicatorKind::Outcome => "アウトカム指標",
        }
    }

    /// Reads the wire code or the Japanese label.
    pub fn from_text(text: &str) -> Option<IndicatorKind> {
        let t = text.trim();
        Self::ALL
            .iter()
            .copied()
            .find(|k| k.code() == t || k.label() == t)
    }
}

impl std::fmt::Display for IndicatorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// A 介護保険事業計画 period (期): three fiscal years from FY2000, so 第1期 is FY2000–2002 and 第9期
/// is FY2024–2026 (令和6〜8年度).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PlanPeriod(u16);

/// The first fiscal year of 第1期.
const FIRST_PERIOD_YEAR: u16 = 2000;

impl PlanPeriod {
    /// The period numbered `n` (第n期), if its years are fiscal years the system knows.
    pub fn new(n: u16) -> Option<PlanPeriod> {
        let first = FIRST_PERIOD_YEAR.checked_add(n.checked_sub(1)?.checked_mul(3)?)?;
        (n >= 1 && first + 2 <= FiscalYear::MAX).then_some(PlanPeriod(n))
    }

    /// The period `fiscal_year` belongs to; `None` before FY2000.
    pub fn of(fiscal_year: FiscalYear) -> Option<PlanPeriod> {
        let y = fiscal_year.year();
        (y >= FIRST_PERIOD_YEAR).then(|| PlanPeriod((y - FIRST_PERIOD_YEAR) / 3 + 1))
    }

    /// Its number n (第n期).
    pub const fn number(self) -> u16 {
        self.0
    }

    /// Its first fiscal year.
    pub fn first_year(self) -> FiscalYear {
        // In range: `new` and `of` only make periods whose three years are known fiscal years.
        FiscalYear::new(i64::from(FIRST_PERIOD_YEAR + (self.0 - 1) * 3)).expect("period in range")
    }

    /// Its last fiscal year.
    pub fn last_year(self) -> FiscalYear {
        FiscalYear::new(i64::from(self.first_year().year() + 2)).expect("period in range")
    }

    /// True when `fiscal_year` is one of its three years.
    pub fn contains(self, fiscal_year: FiscalYear) -> bool {
        PlanPeriod::of(fiscal_year) == Some(self)
    }
}

impl std::fmt::Display for PlanPeriod {
    /// e.g. `第9期（令和6〜8年度）`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let first = self.first_year().wareki();
        let (_, last) = self.last_year().era_year();
        let first = first.trim_end_matches("年度");
        write!(f, "第{}期（{first}〜{last}年度）", self.0)
    }
}

/// The step of the PDCA cycle a municipality has reached in a fiscal year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PdcaStep {
    /// Nothing planned for the year: no goal for its period, no indicator for it.
    NotStarted,
    /// Plan: goals (目指す姿) for the period or indicators for the year are set.
    Plan,
    /// Do: planned, and activity or a measurement is recorded in the year.
    Do,
    /// Check: the year is evaluated (評価) for at least one scene.
    Check,
    /// Act: an improvement (改善) is decided from the evaluation; it becomes the next plan.
    Act,
}

impl PdcaStep {
    /// Every step, in the cycle's order.
    pub const ALL: [PdcaStep; 5] = [
        PdcaStep::NotStarted,
        PdcaStep::Plan,
        PdcaStep::Do,
        PdcaStep::Check,
        PdcaStep::Act,
    ];

    /// Returns its place in [`PdcaStep::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }

    /// Returns the wire code, e.g. `check`.
    pub const fn code(self) -> &'static str {
        match self {
            PdcaStep::NotStarted => "not_started",
            PdcaStep::Plan => "plan",
            PdcaStep::Do => "do",
            PdcaStep::Check => "check",
            PdcaStep::Act => "act",
        }
    }

    /// Returns the label officers read.
    pub const fn label(self) -> &'static str {
        match self {
            PdcaStep::NotStarted => "未着手",
            PdcaStep::Plan => "Plan（計画）",
            PdcaStep::Do => "Do（実行）",
            PdcaStep::Check => "Check（評価）",
            PdcaStep::Act => "Act（改善）",
        }
    }
}

/// A 目指す姿 set for a scene and a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Goal {
    pub text: String,
    pub set_on: NaiveDate,
}

/// An indicator of a fiscal year as the cycle counts it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Indicator {
    pub fiscal_year: FiscalYear,
    pub kind: IndicatorKind,
    pub scene: Option<CareScene>,
    pub name: String,
    pub unit: String,
    pub baseline: Option<f64>,
    pub target: f64,
    /// Measured values by day.
    pub measurements: BTreeMap<NaiveDate, f64>,
}

/// The evaluation (評価) of a fiscal year for a scene, and the improvement (改善) decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evaluation {
    pub on: NaiveDate,
    /// Whether the scene's targets were reached.
    pub reached: bool,
    /// Why (reached or not).
    pub reason: String,
    /// The improvement decided; empty when none was decided (yet).
    pub improvement: String,
}

/// One municipality's cycle records: goals, indicators, evaluations and the days activity was
/// recorded. Both tiers fold their records into this, and derive the step and the summary from it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CycleRecords {
    pub goals: BTreeMap<(PlanPeriod, CareScene), Goal>,
    /// By the municipality's indicator id.
    pub indicators: BTreeMap<String, Indicator>,
    pub evaluations: BTreeMap<(FiscalYear, CareScene), Evaluation>,
    /// Fiscal years in which programme activity was recorded (a training, a meeting, …).
    pub active_years: BTreeSet<FiscalYear>,
}

/// Why a cycle fact could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cycle fact: invalid {field} {value:?}")]
pub struct CycleFactError {
    pub field: &'static str,
    pub value: String,
}

fn bad(field: &'static str, value: impl std::fmt::Display) -> CycleFactError {
    CycleFactError {
        field,
        value: value.to_string(),
    }
}

fn wire_date(field: &'static str, text: &str) -> Result<NaiveDate, CycleFactError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| bad(field, text))
}

fn wire_year(field: &'static str, year: i32) -> Result<FiscalYear, CycleFactError> {
    FiscalYear::new(i64::from(year)).map_err(|_| bad(field, year))
}

fn wire_scene(field: &'static str, text: &str) -> Result<CareScene, CycleFactError> {
    CareScene::from_text(text).ok_or_else(|| bad(field, text))
}

/// The wire form of a date in cycle facts.
pub fn date_to_wire(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// The summary of one municipality's cycle in a fiscal year: what the prefecture counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CycleSummary {
    pub step: PdcaStep,
    /// Scenes with a 目指す姿 for the year's period.
    pub goal_scenes: BTreeSet<CareScene>,
    /// Kinds of the indicators defined for the year.
    pub indicator_kinds: BTreeSet<IndicatorKind>,
    /// The previous fiscal year was evaluated for at least one scene.
    pub evaluated_last_year: bool,
    /// Every scene evaluated for the previous year reached its targets (false when none was).
    pub reached_last_year: bool,
}

impl CycleRecords {
    /// Notes programme activity on `on` (the Do of its fiscal year).
    pub fn note_activity(&mut self, on: NaiveDate) {
        if let Ok(fy) = FiscalYear::containing(on) {
            self.active_years.insert(fy);
        }
    }

    /// Notes the activity a piece of status evidence shows: a dated activity, a meeting held, or
    /// something put in force. Plans, cancellations, ends and findings are not activity of a day.
    /// Both tiers note the same evidence, so the Do step is the same at the node and the
    /// prefecture.
    pub fn note_evidence(&mut self, evidence: &Evidence) {
        match evidence {
            Evidence::Dated { on, .. } | Evidence::MeetingHeld { on, .. } => {
                self.note_activity(*on)
            }
            Evidence::Starts { first_day, .. } => self.note_activity(*first_day),
            Evidence::Finding { .. }
            | Evidence::Ends { .. }
            | Evidence::Planned { .. }
            | Evidence::Cancelled { .. } => {}
        }
    }

    /// The goals of the period `fiscal_year` belongs to, by scene.
    pub fn goals_for(&self, fiscal_year: FiscalYear) -> BTreeMap<CareScene, &Goal> {
        let Some(period) = PlanPeriod::of(fiscal_year) else {
            return BTreeMap::new();
        };
        self.goals
            .iter()
            .filter(|((p, _), _)| *p == period)
            .map(|((_, s), g)| (*s, g))
            .collect()
    }

    /// The indicators of `fiscal_year`, by id.
    pub fn indicators_for(
        &self,
        fiscal_year: FiscalYear,
    ) -> impl Iterator<Item = (&String, &Indicator)> {
        self.indicators
            .iter()
            .filter(move |(_, i)| i.fiscal_year == fiscal_year)
    }

    /// The evaluations of `fiscal_year`, by scene.
    pub fn evaluations_of(&self, fiscal_year: FiscalYear) -> BTreeMap<CareScene, &Evaluation> {
        self.evaluations
            .iter()
            .filter(|((y, _), _)| *y == fiscal_year)
            .map(|((_, s), e)| (*s, e))
            .collect()
    }

    /// The step reached in `fiscal_year`: Act when an improvement was decided from the year's
    /// evaluation, Check when the year is evaluated, Do when planned and activity or a
    /// measurement was recorded in the year, Plan when goals or indicators are set for it.
    pub fn step(&self, fiscal_year: FiscalYear) -> PdcaStep {
        let evaluations = self.evaluations_of(fiscal_year);
        if evaluations.values().any(|e| !e.improvement.is_empty()) {
            return PdcaStep::Act;
        }
        if !evaluations.is_empty() {
            return PdcaStep::Check;
        }
        let planned = !self.goals_for(fiscal_year).is_empty()
            || self.indicators_for(fiscal_year).next().is_some();
        if !planned {
            return PdcaStep::NotStarted;
        }
        // An indicator of the year may be measured after it ends (an outcome known in May).
        let measured = self
            .indicators_for(fiscal_year)
            .any(|(_, i)| !i.measurements.is_empty());
        if measured || self.active_years.contains(&fiscal_year) {
            PdcaStep::Do
        } else {
            PdcaStep::Plan
        }
    }

    /// What the prefecture counts of `fiscal_year`.
    pub fn summary(&self, fiscal_year: FiscalYear) -> CycleSummary {
        let last = fiscal_year.previous();
        let last_evaluations = last.map(|y| self.evaluations_of(y)).unwrap_or_default();
        CycleSummary {
            step: self.step(fiscal_year),
            goal_scenes: self.goals_for(fiscal_year).into_keys().collect(),
            indicator_kinds: self
                .indicators_for(fiscal_year)
                .map(|(_, i)| i.kind)
                .collect(),
            evaluated_last_year: !last_evaluations.is_empty(),
            reached_last_year: !last_evaluations.is_empty()
                && last_evaluations.values().all(|e| e.reached),
        }
    }

    /// Folds one cycle fact in. A fact is a record as it was made: a later fact of the same goal
    /// (period and scene), indicator id or evaluation (year and scene) replaces it.
    pub fn apply_fact(&mut self, fact: &v1::CycleFact) -> Result<(), CycleFactError> {
        use v1::cycle_fact::Kind;
        match fact.kind.as_ref().ok_or_else(|| bad("kind", "(none)"))? {
            Kind::Goal(g) => {
                let period =
                    PlanPeriod::new(u16::try_from(g.period).map_err(|_| bad("period", g.period))?)
                        .ok_or_else(|| bad("period", g.period))?;
                let scene = wire_scene("scene", &g.scene)?;
                let set_on = wire_date("set_on", &g.set_on)?;
                self.goals.insert(
                    (period, scene),
                    Goal {
                        text: g.text.clone(),
                        set_on,
                    },
                );
            }
            Kind::Indicator(i) => {
                let kind = IndicatorKind::from_text(&i.kind).ok_or_else(|| bad("kind", &i.kind))?;
                let scene = match i.scene.as_str() {
                    "" => None,
                    s => Some(wire_scene("scene", s)?),
                };
                // Read every field before touching the records: a bad fact changes nothing.
                let fiscal_year = wire_year("fiscal_year", i.fiscal_year)?;
                let measurements = self
                    .indicators
                    .remove(&i.id)
                    .map(|old| old.measurements)
                    .unwrap_or_default();
                self.indicators.insert(
                    i.id.clone(),
                    Indicator {
                        fiscal_year,
                        kind,
                        scene,
                        name: i.name.clone(),
                        unit: i.unit.clone(),
                        baseline: i.baseline,
                        target: i.target,
                        measurements,
                    },
                );
            }
            Kind::Measurement(m) => {
                let on = wire_date("on", &m.on)?;
                let indicator = self
                    .indicators
                    .get_mut(&m.id)
                    .ok_or_else(|| bad("indicator", &m.id))?;
                indicator.measurements.insert(on, m.value);
            }
            Kind::Improvement(i) => {
                let fiscal_year = wire_year("fiscal_year", i.fiscal_year)?;
                let scene = wire_scene("scene", &i.scene)?;
                let evaluation = self
                    .evaluations
                    .get_mut(&(fiscal_year, scene))
                    .ok_or_else(|| bad("evaluation", format!("{fiscal_year} {}", scene.code())))?;
                evaluation.improvement.clone_from(&i.improvement);
            }
            Kind::Evaluation(e) => {
                let fiscal_year = wire_year("fiscal_year", e.fiscal_year)?;
                let scene = wire_scene("scene", &e.scene)?;
                self.evaluations.insert(
                    (fiscal_year, scene),
                    Evaluation {
                        on: wire_date("on", &e.on)?,
                        reached: e.reached,
                        reason: e.reason.clone(),
                        improvement: e.improvement.clone(),
                    },
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fy(y: i64) -> FiscalYear {
        FiscalYear::new(y).unwrap()
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn plan_periods_are_three_fiscal_years_from_2000() {
        let ninth = PlanPeriod::of(fy(2024)).unwrap();
        assert_eq!(ninth.number(), 9);
        assert_eq!(
            (ninth.first_year(), ninth.last_year()),
            (fy(2024), fy(2026))
        );
        assert_eq!(ninth.to_string(), "第9期（令和6〜8年度）");
        assert_eq!(PlanPeriod::of(fy(2027)).unwrap().number(), 10);
        assert_eq!(PlanPeriod::of(fy(2000)).unwrap().number(), 1);
        assert_eq!(PlanPeriod::of(fy(1999)), None);
        assert_eq!(PlanPeriod::new(0), None);
        assert_eq!(
            PlanPeriod::new(8).unwrap().to_string(),
            "第8期（令和3〜5年度）"
        );
        assert!(ninth.contains(fy(2026)) && !ninth.contains(fy(2027)));
    }

    #[test]
    fn vocabularies_read_codes_and_labels() {
        for s in CareScene::ALL {
            assert_eq!(CareScene::from_text(s.code()), Some(*s));
            assert_eq!(CareScene::from_text(s.label()), Some(*s));
            assert_eq!(
                serde_json::to_string(s).unwrap(),
                format!("\"{}\"", s.code())
            );
        }
        for k in IndicatorKind::ALL {
            assert_eq!(IndicatorKind::from_text(k.code()), Some(*k));
            assert_eq!(
                serde_json::to_string(k).unwrap(),
                format!("\"{}\"", k.code())
            );
        }
    }

    fn goal(period: i32, scene: &str) -> v1::CycleFact {
        v1::CycleFact {
            kind: Some(v1::cycle_fact::Kind::Goal(v1::GoalFact {
                period,
                scene: scene.into(),
                text: "目指す姿".into(),
                set_on: "2024-04-10".into(),
            })),
        }
    }

    fn evaluation(year: i32, scene: &str, reached: bool, improvement: &str) -> v1::CycleFact {
        v1::CycleFact {
            kind: Some(v1::cycle_fact::Kind::Evaluation(v1::EvaluationFact {
                fiscal_year: year,
                scene: scene.into(),
                reached,
                reason: "理由".into(),
                improvement: improvement.into(),
                on: format!("{}-05-20", year + 1),
            })),
        }
    }

    #[test]
    fn the_step_follows_the_records_of_the_year() {
        let mut r = CycleRecords::default();
        assert_eq!(r.step(fy(2024)), PdcaStep::NotStarted);
        r.apply_fact(&goal(9, "daily_care")).unwrap();
        assert_eq!(r.step(fy(2024)), PdcaStep::Plan);
        assert_eq!(
            r.step(fy(2026)),
            PdcaStep::Plan,
            "the period's goals hold each year"
        );
        assert_eq!(r.step(fy(2027)), PdcaStep::NotStarted);
        r.note_activity(d("2024-07-01"));
        assert_eq!(r.step(fy(2024)), PdcaStep::Do);
        assert_eq!(r.step(fy(2025)), PdcaStep::Plan);
        r.apply_fact(&evaluation(2024, "daily_care", false, ""))
            .unwrap();
        assert_eq!(r.step(fy(2024)), PdcaStep::Check);
        r.apply_fact(&evaluation(2024, "daily_care", false, "研修を年2回に"))
            .unwrap();
        assert_eq!(r.step(fy(2024)), PdcaStep::Act);
        let s = r.summary(fy(2025));
        assert!(s.evaluated_last_year && !s.reached_last_year);
        assert_eq!(s.goal_scenes, BTreeSet::from([CareScene::DailyCare]));
        assert!(s.indicator_kinds.is_empty());
    }

    #[test]
    fn bad_facts_are_refused_naming_the_field() {
        let mut r = CycleRecords::default();
        let e = r.apply_fact(&goal(9, "somewhere")).unwrap_err();
        assert_eq!((e.field, e.value.as_str()), ("scene", "somewhere"));
        let e = r.apply_fact(&goal(0, "daily_care")).unwrap_err();
        assert_eq!(e.field, "period");
        assert_eq!(r, CycleRecords::default());
    }
}
