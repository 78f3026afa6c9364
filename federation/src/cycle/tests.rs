//! The cycle tally of a hand-computed fixture: six municipalities of 富山県 in three 二次医療圏,
//! their cycle facts, dated evidence and per-scene activity folded in through the tally engine
//! exactly as the state machine folds applied facts (malformed facts included, and skipped);
//! every number of the FY2024 table is asserted literally, computed by hand below.

use prost::Message;
use renkei_proto::programme::cycle::{IndicatorKind, PdcaStep};
use renkei_proto::v1::{self, FactBody, FactKind, cycle_fact};

use super::*;
use crate::regions::SECONDARY_MEDICAL_AREA;
use crate::tally::SurveyState;

const TOYAMA_AREAS: &str = include_str!("../../data/toyama_secondary_medical_areas.csv");

pub(crate) const TOYAMA_CITY: &str = "162019"; // 富山市, 二次医療圏 富山 (16-2)
pub(crate) const NAMERIKAWA: &str = "162060"; // 滑川市, 富山
pub(crate) const FUNAHASHI: &str = "163210"; // 舟橋村, 富山
pub(crate) const TAKAOKA: &str = "162027"; // 高岡市, 高岡 (16-3)
pub(crate) const HIMI: &str = "162051"; // 氷見市, 高岡
pub(crate) const UOZU: &str = "162043"; // 魚津市, 新川 (16-1)

fn code(c: &str) -> MunicipalityCode {
    c.parse().unwrap()
}

fn fy(y: i64) -> FiscalYear {
    FiscalYear::new(y).unwrap()
}

fn body(kind: FactKind) -> Vec<u8> {
    FactBody {
        kind: Some(kind),
        ..FactBody::default()
    }
    .encode_to_vec()
}

fn cycle(kind: cycle_fact::Kind) -> Vec<u8> {
    body(FactKind::Cycle(v1::CycleFact { kind: Some(kind) }))
}

pub(crate) fn goal(period: i32, scene: &str) -> Vec<u8> {
    cycle(cycle_fact::Kind::Goal(v1::GoalFact {
        period,
        scene: scene.into(),
        text: "住み慣れた地域で最期まで".into(),
        set_on: "2024-04-15".into(),
    }))
}

pub(crate) fn indicator(id: &str, year: i32, kind: &str) -> Vec<u8> {
    cycle(cycle_fact::Kind::Indicator(v1::IndicatorFact {
        id: id.into(),
        fiscal_year: year,
        kind: kind.into(),
        scene: String::new(),
        name: "指標".into(),
        unit: "件".into(),
        baseline: None,
        target: 10.0,
    }))
}

fn measurement(id: &str, on: &str) -> Vec<u8> {
    cycle(cycle_fact::Kind::Measurement(v1::MeasurementFact {
        id: id.into(),
        on: on.into(),
        value: 7.0,
    }))
}

pub(crate) fn evaluation(year: i32, scene: &str, reached: bool, improvement: &str) -> Vec<u8> {
    cycle(cycle_fact::Kind::Evaluation(v1::EvaluationFact {
        fiscal_year: year,
        scene: scene.into(),
        reached,
        reason: "評価の理由".into(),
        improvement: improvement.into(),
        on: format!("{}-05-20", year + 1),
    }))
}

pub(crate) fn training_on(on: &str) -> Vec<u8> {
    body(FactKind::Evidence(v1::StatusEvidence {
        key: format!("training/{on}"),
        kind: Some(v1::EvidenceKind::Dated(v1::DatedEvidence {
            item: "f".into(),
            on: on.into(),
        })),
    }))
}

pub(crate) fn scene_activity(month: &str, item: &str, scenes: &[&str]) -> Vec<u8> {
    body(FactKind::SceneActivity(v1::SceneActivity {
        month: month.into(),
        item: item.into(),
        kind: "TrainingHeld".into(),
        scenes: scenes.iter().map(|s| s.to_string()).collect(),
    }))
}

/// The fixture's facts, per municipality in the order they are applied.
pub(crate) fn fixture_facts() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        // 富山市: 目指す姿 of 第9期 for the four scenes and 認知症; indicators of FY2024 of all
        // three kinds (and one of FY2023, not counted); FY2023 evaluated for two scenes, both
        // reached; a training in July 2024 (Do). Step: Do.
        (TOYAMA_CITY, goal(9, "admission_discharge")),
        (TOYAMA_CITY, goal(9, "daily_care")),
        (TOYAMA_CITY, goal(9, "sudden_deterioration")),
        (TOYAMA_CITY, goal(9, "end_of_life")),
        (TOYAMA_CITY, goal(9, "dementia")),
        (TOYAMA_CITY, indicator("t-s", 2024, "structure")),
        (TOYAMA_CITY, indicator("t-p", 2024, "process")),
        (TOYAMA_CITY, indicator("t-o", 2024, "outcome")),
        (TOYAMA_CITY, indicator("t-old", 2023, "process")),
        (TOYAMA_CITY, evaluation(2023, "daily_care", true, "")),
        (TOYAMA_CITY, evaluation(2023, "end_of_life", true, "")),
        (TOYAMA_CITY, training_on("2024-07-01")),
        // Scene activity: July 2024 (カ) for 日常の療養支援 and 看取り, May 2024 (キ) for 日常の
        // 療養支援, March 2025 (カ, still FY2024) for 日常の療養支援; April 2025 is FY2025.
        (
            TOYAMA_CITY,
            scene_activity("2024-07", "f", &["daily_care", "end_of_life"]),
        ),
        (TOYAMA_CITY, scene_activity("2024-05", "g", &["daily_care"])),
        (TOYAMA_CITY, scene_activity("2025-03", "f", &["daily_care"])),
        (TOYAMA_CITY, scene_activity("2025-04", "f", &["daily_care"])),
        // 滑川市: 目指す姿 of 第9期 for 日常の療養支援; a process indicator of FY2024; FY2023
        // evaluated, not reached; FY2024 evaluated with an improvement decided. Step: Act.
        (NAMERIKAWA, goal(9, "daily_care")),
        (NAMERIKAWA, indicator("n-p", 2024, "process")),
        (NAMERIKAWA, evaluation(2023, "daily_care", false, "")),
        (
            NAMERIKAWA,
            evaluation(2024, "daily_care", false, "研修を年2回に"),
        ),
        // 舟橋村: only a malformed goal (an unknown scene), skipped. Step: 未着手.
        (FUNAHASHI, goal(9, "somewhere")),
        // 高岡市: 目指す姿 of 第9期 for 入退院支援 and 感染症・災害時; an outcome indicator of FY2024
        // never measured, a structure indicator of FY2023; FY2023 evaluated for two scenes, one
        // not reached; no activity in FY2024. Step: Plan.
        (TAKAOKA, goal(9, "admission_discharge")),
        (TAKAOKA, goal(9, "infection_disaster")),
        (TAKAOKA, indicator("k-o", 2024, "outcome")),
        (TAKAOKA, indicator("k-s", 2023, "structure")),
        (TAKAOKA, evaluation(2023, "admission_discharge", true, "")),
        (TAKAOKA, evaluation(2023, "daily_care", false, "")),
        // 氷見市: a goal of 第8期 only (FY2021–2023, not FY2024's period); FY2024 evaluated for
        // 看取り without an improvement yet. Step: Check.
        (HIMI, goal(8, "daily_care")),
        (HIMI, evaluation(2024, "end_of_life", false, "")),
        // 魚津市: no goal; a structure indicator of FY2024 measured (Do without activity);
        // then the same indicator again with an invalid year (skipped, the indicator kept);
        // FY2023 evaluated for 看取り, reached; a consultation (オ) for 入退院支援 in October
        // 2024 and one in March 2024 (FY2023); a malformed scene activity (skipped). Step: Do.
        (UOZU, indicator("u-s", 2024, "structure")),
        (UOZU, measurement("u-s", "2024-09-30")),
        (UOZU, indicator("u-s", 0, "structure")),
        (UOZU, evaluation(2023, "end_of_life", true, "")),
        (
            UOZU,
            scene_activity("2024-10", "e", &["admission_discharge"]),
        ),
        (
            UOZU,
            scene_activity("2024-03", "e", &["admission_discharge"]),
        ),
        (
            UOZU,
            scene_activity("2024-13", "e", &["admission_discharge"]),
        ),
        (UOZU, scene_activity("2024-11", "e", &["nowhere"])),
    ]
}

/// The tally engine's state after the fixture's facts, with 富山県's 二次医療圏 of 第8次医療計画.
pub(crate) fn fixture_state() -> SurveyState {
    let mut state = SurveyState::default();
    for (m, payload) in fixture_facts() {
        state.take_fact(code(m), &payload);
    }
    state.set_regions(
        RegionSet::from_csv(
            "16".parse().unwrap(),
            SECONDARY_MEDICAL_AREA,
            2024,
            2029,
            TOYAMA_AREAS,
        )
        .unwrap(),
    );
    state
}

/// The six municipalities the fixture counts.
pub(crate) fn fixture_scope() -> Vec<MunicipalityCode> {
    [TOYAMA_CITY, NAMERIKAWA, FUNAHASHI, TAKAOKA, HIMI, UOZU]
        .map(code)
        .to_vec()
}

/// The fixture's FY2024 tally.
pub(crate) fn fixture_tally() -> CycleTally {
    let state = fixture_state();
    state.cycles().tally(
        "16".parse().unwrap(),
        &fixture_scope(),
        fy(2024),
        state.regions(SECONDARY_MEDICAL_AREA, fy(2024)),
    )
}

/// A municipality's expected line: code, area, step, goal scenes, indicator kinds, evaluated
/// last year, reached last year.
type ExpectedRow = (
    &'static str,
    &'static str,
    PdcaStep,
    &'static [CareScene],
    &'static [IndicatorKind],
    bool,
    bool,
);

#[test]
fn the_fy2024_cycle_table_of_six_municipalities_in_three_areas() {
    let tally = fixture_tally();

    // Per municipality, by hand (code order):
    //   162019 富山市 富山 Do    goals 入退院・日常・急変・看取り・認知症  S P O  evaluated reached
    //   162027 高岡市 高岡 Plan  goals 入退院・感染症                      O      evaluated (not all reached)
    //   162043 魚津市 新川 Do    no goal                                    S      evaluated reached
    //   162051 氷見市 高岡 Check no goal (第8期 only)                       -      not evaluated
    //   162060 滑川市 富山 Act   goals 日常                                 P      evaluated, not reached
    //   163210 舟橋村 富山 未着手 -                                          -      not evaluated
    use CareScene::*;
    use IndicatorKind::*;
    use PdcaStep::*;
    let row = |m: &str| {
        tally
            .rows
            .iter()
            .find(|r| r.code == code(m))
            .unwrap_or_else(|| panic!("{m} has no row"))
    };
    let codes: Vec<String> = tally.rows.iter().map(|r| r.code.to_string()).collect();
    assert_eq!(
        codes,
        ["162019", "162027", "162043", "162051", "162060", "163210"]
    );
    let expected: [ExpectedRow; 6] = [
        (
            TOYAMA_CITY,
            "富山",
            Do,
            &[
                AdmissionDischarge,
                DailyCare,
                SuddenDeterioration,
                EndOfLife,
                Dementia,
            ],
            &[Structure, Process, Outcome],
            true,
            true,
        ),
        (
            TAKAOKA,
            "高岡",
            Plan,
            &[AdmissionDischarge, InfectionDisaster],
            &[Outcome],
            true,
            false,
        ),
        (UOZU, "新川", Do, &[], &[Structure], true, true),
        (HIMI, "高岡", Check, &[], &[], false, false),
        (
            NAMERIKAWA,
            "富山",
            Act,
            &[DailyCare],
            &[Process],
            true,
            false,
        ),
        (FUNAHASHI, "富山", NotStarted, &[], &[], false, false),
    ];
    for (m, area, step, goals, kinds, evaluated, reached) in expected {
        let r = row(m);
        assert_eq!(r.area.as_ref().map(|a| a.name.as_str()), Some(area), "{m}");
        assert_eq!(r.summary.step, step, "{m}");
        assert_eq!(
            r.summary.goal_scenes.iter().copied().collect::<Vec<_>>(),
            goals,
            "{m}"
        );
        assert_eq!(
            r.summary
                .indicator_kinds
                .iter()
                .copied()
                .collect::<Vec<_>>(),
            kinds,
            "{m}"
        );
        assert_eq!(r.summary.evaluated_last_year, evaluated, "{m}");
        assert_eq!(r.summary.reached_last_year, reached, "{m}");
    }

    // Per 二次医療圏, in the set's order (新川 16-1, 富山 16-2, 高岡 16-3; 砺波 has none counted):
    //              n  goals[入退院 日常 急変 看取り 認知症 感染症] kinds[S P O] eval reached steps[未着手 P D C A]
    //   新川 16-1: 1        [0 0 0 0 0 0]                        [1 0 0]      1    1       [0 0 1 0 0]
    //   富山 16-2: 3        [1 2 1 1 1 0]                        [1 2 1]      2    1       [1 0 1 0 1]
    //   高岡 16-3: 2        [1 0 0 0 0 1]                        [0 0 1]      1    0       [0 1 0 1 0]
    //   total:     6        [2 2 1 1 1 1]                        [2 2 2]      4    2       [1 1 2 1 1]
    let lines = tally.by_area();
    let got: Vec<(&str, &str, CycleCounts)> = lines
        .iter()
        .map(|l| (l.area.id.as_str(), l.area.name.as_str(), l.counts))
        .collect();
    assert_eq!(
        got,
        [
            (
                "16-1",
                "新川",
                CycleCounts {
                    municipalities: 1,
                    goal_scenes: [0, 0, 0, 0, 0, 0],
                    indicator_kinds: [1, 0, 0],
                    evaluated_last_year: 1,
                    reached_last_year: 1,
                    steps: [0, 0, 1, 0, 0],
                }
            ),
            (
                "16-2",
                "富山",
                CycleCounts {
                    municipalities: 3,
                    goal_scenes: [1, 2, 1, 1, 1, 0],
                    indicator_kinds: [1, 2, 1],
                    evaluated_last_year: 2,
                    reached_last_year: 1,
                    steps: [1, 0, 1, 0, 1],
                }
            ),
            (
                "16-3",
                "高岡",
                CycleCounts {
                    municipalities: 2,
                    goal_scenes: [1, 0, 0, 0, 0, 1],
                    indicator_kinds: [0, 0, 1],
                    evaluated_last_year: 1,
                    reached_last_year: 0,
                    steps: [0, 1, 0, 1, 0],
                }
            ),
        ]
    );
    assert_eq!(
        tally.total(),
        CycleCounts {
            municipalities: 6,
            goal_scenes: [2, 2, 1, 1, 1, 1],
            indicator_kinds: [2, 2, 2],
            evaluated_last_year: 4,
            reached_last_year: 2,
            steps: [1, 1, 2, 1, 1],
        }
    );

    // Activity per scene × item in FY2024 (（ア）…（ク）):
    //   入退院支援:    （オ）1 (魚津 2024-10; 2024-03 is FY2023; the malformed ones skipped)
    //   日常の療養支援: （カ）2 (富山 2024-07, 2025-03), （キ）1 (富山 2024-05); 2025-04 is FY2025
    //   看取り:        （カ）1 (富山 2024-07)
    assert_eq!(
        tally.scene_activity,
        [
            [0, 0, 0, 0, 1, 0, 0, 0],
            [0, 0, 0, 0, 0, 2, 1, 0],
            [0, 0, 0, 0, 0, 0, 0, 0],
            [0, 0, 0, 0, 0, 1, 0, 0],
            [0, 0, 0, 0, 0, 0, 0, 0],
            [0, 0, 0, 0, 0, 0, 0, 0],
        ]
    );
}

#[test]
fn the_whole_prefecture_counts_municipalities_without_facts_as_not_started() {
    // Without a scope: the 15 municipalities of 富山県; the nine the fixture never mentions are
    // 未着手 like 舟橋村, so 未着手 = 1 + 9 = 10 and 砺波 (16-4, three municipalities) has a line.
    let state = fixture_state();
    let tally = state.cycles().tally(
        "16".parse().unwrap(),
        &[],
        fy(2024),
        state.regions(SECONDARY_MEDICAL_AREA, fy(2024)),
    );
    assert_eq!(tally.total().municipalities, 15);
    assert_eq!(tally.total().steps, [10, 1, 2, 1, 1]);
    let tonami = tally
        .by_area()
        .into_iter()
        .find(|l| l.area.id == "16-4")
        .unwrap();
    assert_eq!(tonami.counts.municipalities, 3);
    assert_eq!(tonami.counts.steps, [3, 0, 0, 0, 0]);
}

#[test]
fn the_year_after_reads_the_evaluations_of_the_fixture_year() {
    // FY2025: still 第9期, so the goals hold; no indicators of FY2025; last year is FY2024:
    // 滑川市 (not reached) and 氷見市 (not reached) evaluated it. 魚津市 has no goal and no
    // FY2025 indicator: 未着手.
    let state = fixture_state();
    let tally = state.cycles().tally(
        "16".parse().unwrap(),
        &fixture_scope(),
        fy(2025),
        state.regions(SECONDARY_MEDICAL_AREA, fy(2025)),
    );
    let total = tally.total();
    assert_eq!(total.evaluated_last_year, 2);
    assert_eq!(total.reached_last_year, 0);
    // 富山市, 滑川市, 高岡市: Plan (goals of 第9期, nothing in FY2025); the other three 未着手.
    assert_eq!(total.steps, [3, 3, 0, 0, 0]);
    // 富山市's March 2025 activity was FY2024's; its April 2025 one is FY2025's.
    assert_eq!(tally.scene_activity[1][5], 1);
}
