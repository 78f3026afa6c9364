//! Status rules per item: qualifying activity → 実施している; only planned → 年度内に実施予定;
//! activity on March 31 of the previous FY → 実施していない; FY, as-of and as-known-at boundaries;
//! recording order does not matter.

use chrono::{Duration, TimeZone};
use proptest::prelude::*;

use super::*;
use crate::domain::arrangements::ArrangementKind;
use crate::domain::awareness::AwarenessKind;
use crate::domain::consultation::DeskHost;
use crate::domain::meetings::{FindingKind, MeetingKind};
use crate::domain::resources::{Audience, PublicationFormat};
use crate::domain::tools::ToolKind;
use crate::domain::trainings::TrainingKind;
use crate::domain::values::*;

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn fy(y: i64) -> FiscalYear {
    FiscalYear::new(y).unwrap()
}

fn t(n: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000 + n, 0).unwrap()
}

macro_rules! id {
    ($t:ident, $s:expr) => {
        $t::parse("id", $s).unwrap()
    };
}

/// The events that make `item` qualify with an activity whose (last) day is `on`: a dated
/// activity on that day, or something in force for ten days up to and including it.
fn qualifying(item: Item, on: NaiveDate, n: usize) -> Vec<ProgrammeEvent> {
    use ProgrammeEvent as P;
    let s = format!("x{n}");
    let before = on - Duration::days(10);
    match item {
        Item::A => vec![P::Resources(ResourceEvent::ResourceSurveyConducted {
            id: id!(SurveyId, &s),
            title: "資源調査".into(),
            on,
            responses: 40,
        })],
        Item::I => vec![
            P::Meetings(MeetingEvent::MeetingHeld {
                id: id!(MeetingId, &s),
                kind: MeetingKind::CoordinationCouncil,
                title: "連携推進会議".into(),
                on,
                participants: vec![Count {
                    of: OrganisationType::MedicalAssociation,
                    count: 2,
                }],
                scenes: vec![],
                working_group: None,
            }),
            P::Meetings(MeetingEvent::FindingRecorded {
                meeting: id!(MeetingId, &s),
                id: id!(FindingId, &s),
                kind: FindingKind::Issue,
                text: "急変時の受入先が不明確".into(),
                scenes: vec![CareScene::SuddenDeterioration],
                answers: None,
                on,
            }),
        ],
        Item::U => vec![P::Arrangements(ArrangementEvent::ArrangementEstablished {
            id: id!(ArrangementId, &s),
            name: "後方支援病床".into(),
            kind: ArrangementKind::BackupBeds {
                hospital: id!(ResourceId, "h1"),
                beds: 2,
            },
            first_day: before,
            last_day: Some(on),
            scenes: vec![],
        })],
        Item::E => vec![
            P::Tools(ToolEvent::ToolAdopted {
                id: id!(ToolId, &s),
                name: "連絡帳".into(),
                kind: ToolKind::ContactBook,
                version: "1".into(),
                manual: None,
                scenes: vec![],
                on: before,
            }),
            P::Tools(ToolEvent::ToolRetired {
                id: id!(ToolId, &s),
                last_day: on,
            }),
        ],
        Item::O => vec![
            P::Consultation(ConsultationEvent::ConsultationDeskOpened {
                id: id!(DeskId, &s),
                name: "相談窓口".into(),
                host: DeskHost::MedicalAssociation,
                staff: vec![Count {
                    of: Profession::Nurse,
                    count: 1,
                }],
                hours: "平日".into(),
                on: before,
            }),
            P::Consultation(ConsultationEvent::ConsultationDeskClosed {
                id: id!(DeskId, &s),
                last_day: on,
            }),
        ],
        Item::Ka => vec![P::Trainings(TrainingEvent::TrainingHeld {
            id: id!(TrainingId, &s),
            kind: TrainingKind::MultiProfessionalGroupWork,
            title: "多職種研修".into(),
            on,
            participants: vec![Count {
                of: Profession::CareManager,
                count: 20,
            }],
            scenes: vec![],
        })],
        Item::Ki => vec![P::Awareness(AwarenessEvent::AwarenessActivityRecorded {
            id: id!(ActivityId, &s),
            kind: AwarenessKind::Pamphlet,
            title: "在宅医療パンフレット".into(),
            audience: "住民".into(),
            on,
            attendance: None,
            copies: Some(5000),
            scenes: vec![],
        })],
        Item::Ku => vec![P::WideArea(WideAreaEvent::WideAreaMeetingAttended {
            id: id!(WideAreaId, &s),
            title: "富山医療圏 広域連携会議".into(),
            area: "富山".into(),
            on,
            participants: vec![],
        })],
    }
}

/// The other qualifying routes of items with more than one.
fn alternative(item: Item, on: NaiveDate) -> Option<Vec<ProgrammeEvent>> {
    use ProgrammeEvent as P;
    match item {
        Item::A => Some(vec![P::Resources(ResourceEvent::ResourceListPublished {
            id: id!(ListId, "l1"),
            title: "在宅医療マップ".into(),
            audience: Audience::Residents,
            format: PublicationFormat::Map,
            entries: 10,
            on,
        })]),
        Item::E => Some(vec![
            P::Tools(ToolEvent::ToolAdopted {
                id: id!(ToolId, "t9"),
                name: "ICT".into(),
                kind: ToolKind::Ict,
                version: "1".into(),
                manual: None,
                scenes: vec![],
                on: on - Duration::days(400),
            }),
            P::Tools(ToolEvent::ToolRetired {
                id: id!(ToolId, "t9"),
                last_day: on - Duration::days(300),
            }),
            P::Tools(ToolEvent::ToolRevised {
                id: id!(ToolId, "t9"),
                version: "2".into(),
                manual: None,
                on,
            }),
        ]),
        Item::Ku => Some(vec![P::WideArea(WideAreaEvent::LiaisonAgreementJoined {
            id: id!(WideAreaId, "w9"),
            hospital: "中央病院".into(),
            rule_version: "1".into(),
            notification_lead_days: 3,
            contact_point: "地域連携室".into(),
            first_day: on,
            last_day: None,
        })]),
        _ => None,
    }
}

fn planned(item: Item, fiscal_year: FiscalYear, planned_on: NaiveDate) -> ProgrammeEvent {
    ProgrammeEvent::Plan(PlanEvent::ActivityScheduled {
        fiscal_year,
        id: id!(PlannedActivityId, item.code()),
        item,
        what: "予定".into(),
        scheduled_on: fiscal_year.last_day(),
        owner: "長寿福祉課".into(),
        delegated_to: None,
        planned_on,
        scenes: vec![],
        indicators: vec![],
    })
}

fn board(events: &[ProgrammeEvent]) -> StatusBoard {
    let mut b = StatusBoard::default();
    for (i, e) in events.iter().enumerate() {
        b.record(t(i as i64), e);
    }
    b
}

#[test]
fn each_item_with_a_qualifying_activity_is_implemented() {
    for item in Item::ALL {
        // given the qualifying activity on 2024-06-01
        let b = board(&qualifying(item, d(2024, 6, 1), 1));
        // when FY2024 is asked as of 2024-08-01, then 実施している
        assert_eq!(
            b.item_status(item, fy(2024), d(2024, 8, 1), None),
            SurveyStatus::Implemented,
            "{item:?}"
        );
        // and the other items are not implemented
        for &other in Item::ALL.iter().filter(|&&o| o != item) {
            assert_eq!(
                b.item_status(other, fy(2024), d(2024, 8, 1), None),
                SurveyStatus::NotImplemented
            );
        }
    }
}

#[test]
fn the_alternative_routes_qualify_too() {
    for item in Item::ALL {
        if let Some(events) = alternative(item, d(2024, 7, 1)) {
            let b = board(&events);
            assert_eq!(
                b.item_status(item, fy(2024), d(2024, 7, 1), None),
                SurveyStatus::Implemented,
                "{item:?}"
            );
            assert_eq!(
                b.item_status(item, fy(2024), d(2024, 6, 30), None),
                SurveyStatus::NotImplemented,
                "{item:?}"
            );
        }
    }
}

#[test]
fn each_item_only_planned_is_planned() {
    for item in Item::ALL {
        // given only a planned activity in FY2024's plan, decided on 2024-04-01
        let b = board(&[planned(item, fy(2024), d(2024, 4, 1))]);
        // then 年度内に実施予定 as of 2024-08-01, but not as of 2024-03-31 (before it was planned)
        assert_eq!(
            b.item_status(item, fy(2024), d(2024, 8, 1), None),
            SurveyStatus::Planned,
            "{item:?}"
        );
        assert_eq!(
            b.item_status(item, fy(2024), d(2024, 3, 31), None),
            SurveyStatus::NotImplemented
        );
        // and FY2025's status is not affected by FY2024's plan
        assert_eq!(
            b.item_status(item, fy(2025), d(2025, 8, 1), None),
            SurveyStatus::NotImplemented
        );
    }
}

#[test]
fn a_cancelled_plan_is_not_planned_from_its_cancellation() {
    let b = board(&[
        planned(Item::Ka, fy(2024), d(2024, 4, 1)),
        ProgrammeEvent::Plan(PlanEvent::ActivityCancelled {
            fiscal_year: fy(2024),
            id: id!(PlannedActivityId, "f"),
            on: d(2024, 9, 1),
        }),
    ]);
    assert_eq!(
        b.item_status(Item::Ka, fy(2024), d(2024, 8, 31), None),
        SurveyStatus::Planned
    );
    assert_eq!(
        b.item_status(Item::Ka, fy(2024), d(2024, 9, 1), None),
        SurveyStatus::NotImplemented
    );
}

#[test]
fn planned_within_the_year_needs_a_scheduled_day_still_ahead_of_the_survey_date() {
    // ../shared/DOMAIN.md:59 — 年度内に実施予定: "the FY's annual plan (decided on or before the
    // date) schedules an activity for the item on a day still ahead of the date (a plan whose day
    // passed without the activity no longer counts)"; the answer's name, seed
    // 000_aeff01bd41c300be.txt:416: 「実施している 年度内に実施予定 実施していない」.
    let mut on_november_1 = planned(Item::Ka, fy(2024), d(2024, 4, 1));
    if let ProgrammeEvent::Plan(PlanEvent::ActivityScheduled { scheduled_on, .. }) =
        &mut on_november_1
    {
        *scheduled_on = d(2024, 11, 1);
    }
    let b = board(&[on_november_1]);
    // the day still ahead, or the day itself: 年度内に実施予定
    for as_of in [d(2024, 10, 31), d(2024, 11, 1)] {
        assert_eq!(
            b.item_status(Item::Ka, fy(2024), as_of, None),
            SurveyStatus::Planned,
            "as of {as_of}"
        );
    }
    // the day passed without the training: 実施していない
    assert_eq!(
        b.item_status(Item::Ka, fy(2024), d(2024, 11, 2), None),
        SurveyStatus::NotImplemented
    );
}

#[test]
fn a_survey_date_outside_the_fiscal_year_is_refused() {
    // ../shared/DOMAIN.md:62 — "It is computed *as of* a date" of the fiscal year asked for.
    assert!(check_as_of(fy(2024), d(2024, 4, 1)).is_ok());
    assert!(check_as_of(fy(2024), d(2025, 3, 31)).is_ok());
    let e = check_as_of(fy(2024), d(2025, 4, 1)).unwrap_err();
    assert!(
        e.to_string().contains("as_of") && e.to_string().contains("2025-04-01"),
        "{e}"
    );
}

#[test]
fn each_item_with_activity_on_march_31_of_the_previous_fy_is_not_implemented() {
    for item in Item::ALL {
        // given the activity dated (or in force until) 2024-03-31, the last day of FY2023
        let b = board(&qualifying(item, d(2024, 3, 31), 1));
        // then FY2024 is 実施していない, even as of its last day
        assert_eq!(
            b.item_status(item, fy(2024), d(2025, 3, 31), None),
            SurveyStatus::NotImplemented,
            "{item:?}"
        );
        // and FY2023 is 実施している
        assert_eq!(
            b.item_status(item, fy(2023), d(2024, 3, 31), None),
            SurveyStatus::Implemented,
            "{item:?}"
        );
    }
}

#[test]
fn activity_on_april_1_counts_from_that_day_and_as_of_is_exact() {
    for item in Item::ALL {
        // given the activity on 2024-04-01 (for things in force: starting 10 days before)
        let b = board(&qualifying(item, d(2024, 4, 1), 1));
        assert_eq!(
            b.item_status(item, fy(2024), d(2024, 4, 1), None),
            SurveyStatus::Implemented,
            "{item:?}"
        );
        // as of the day before FY2024 began, nothing of FY2024 is implemented
        assert_eq!(
            b.item_status(item, fy(2024), d(2024, 3, 31), None),
            SurveyStatus::NotImplemented,
            "{item:?}"
        );
    }
    // a dated activity on 2024-09-01 counts as of 2024-09-01, not as of 2024-08-31
    for item in [Item::A, Item::I, Item::Ka, Item::Ki, Item::Ku] {
        let b = board(&qualifying(item, d(2024, 9, 1), 1));
        assert_eq!(
            b.item_status(item, fy(2024), d(2024, 8, 31), None),
            SurveyStatus::NotImplemented,
            "{item:?}"
        );
        assert_eq!(
            b.item_status(item, fy(2024), d(2024, 9, 1), None),
            SurveyStatus::Implemented,
            "{item:?}"
        );
    }
}

#[test]
fn a_meeting_without_issue_or_countermeasure_does_not_qualify() {
    let mut events = qualifying(Item::I, d(2024, 6, 1), 1);
    events.truncate(1);
    let b = board(&events);
    assert_eq!(
        b.item_status(Item::I, fy(2024), d(2025, 3, 31), None),
        SurveyStatus::NotImplemented
    );
}

#[test]
fn as_known_at_reproduces_an_earlier_answer() {
    // given a plan recorded at t(0) and a training recorded at t(1), both business-dated in FY2024
    let mut b = StatusBoard::default();
    b.record(t(0), &planned(Item::Ka, fy(2024), d(2024, 4, 1)));
    for e in qualifying(Item::Ka, d(2024, 6, 1), 1) {
        b.record(t(1), &e);
    }
    // then as known at t(0) it was only planned, and from t(1) on it is implemented
    assert_eq!(
        b.item_status(Item::Ka, fy(2024), d(2024, 8, 1), Some(t(0))),
        SurveyStatus::Planned
    );
    assert_eq!(
        b.item_status(Item::Ka, fy(2024), d(2024, 8, 1), Some(t(1))),
        SurveyStatus::Implemented
    );
    assert_eq!(
        b.item_status(Item::Ka, fy(2024), d(2024, 8, 1), None),
        SurveyStatus::Implemented
    );
    // and a desk's closing recorded later is not known before it was recorded
    let mut b = StatusBoard::default();
    let desk = qualifying(Item::O, d(2024, 3, 31), 1);
    b.record(t(0), &desk[0]);
    b.record(t(5), &desk[1]);
    assert_eq!(
        b.item_status(Item::O, fy(2024), d(2024, 8, 1), Some(t(4))),
        SurveyStatus::Implemented
    );
    assert_eq!(
        b.item_status(Item::O, fy(2024), d(2024, 8, 1), Some(t(5))),
        SurveyStatus::NotImplemented
    );
}

#[test]
fn a_status_lists_the_first_records_by_day_and_counts_them_all() {
    // given 30 trainings in FY2024, recorded one per second, on days counted back from 2024-10-30,
    // and one in FY2023
    let mut b = StatusBoard::default();
    for n in 0..30 {
        for e in qualifying(Item::Ka, d(2024, 10, 30) - Duration::days(n), n as usize) {
            b.record(t(n), &e);
        }
    }
    for e in qualifying(Item::Ka, d(2024, 3, 31), 99) {
        b.record(t(0), &e);
    }
    // then all 30 count, and the 20 earliest are listed (x29 on 10-01 … x10 on 10-20)
    let s = &b.status(fy(2024), d(2025, 3, 31), None)[Item::Ka.index()];
    assert_eq!(s.status, SurveyStatus::Implemented);
    assert_eq!(s.evidence_count, 30);
    let mut earliest: Vec<String> = (10..30).map(|n| format!("training/x{n}")).collect();
    earliest.sort();
    assert_eq!(s.evidence, earliest);
    // as of 2024-10-05 only the five held by then count
    let s = &b.status(fy(2024), d(2024, 10, 5), None)[Item::Ka.index()];
    assert_eq!((s.evidence_count, s.evidence.len()), (5, 5));
    // as known at t(2), only the three recorded by then count
    let s = &b.status(fy(2024), d(2025, 3, 31), Some(t(2)))[Item::Ka.index()];
    assert_eq!(s.evidence_count, 3);
    assert_eq!(s.evidence, ["training/x0", "training/x1", "training/x2"]);
    // and an item with nothing counts nothing
    let s = &b.status(fy(2024), d(2025, 3, 31), None)[Item::A.index()];
    assert_eq!(
        (s.status, s.evidence_count),
        (SurveyStatus::NotImplemented, 0)
    );
}

fn any_event() -> impl Strategy<Value = Vec<ProgrammeEvent>> {
    let dates = prop_oneof![
        Just(d(2024, 3, 31)),
        Just(d(2024, 4, 1)),
        Just(d(2024, 9, 1)),
        Just(d(2025, 3, 31))
    ];
    (0usize..8, dates, 0usize..3, any::<bool>()).prop_map(|(i, on, n, plan)| {
        let item = Item::ALL[i];
        if plan {
            vec![planned(item, fy(2024), on)]
        } else {
            qualifying(item, on, n)
        }
    })
}

proptest! {
    /// Status never depends on the order events were recorded in.
    #[test]
    fn status_does_not_depend_on_recording_order(
        (events, shuffled) in proptest::collection::vec(any_event(), 0..12)
            .prop_map(|v| v.into_iter().flatten().collect::<Vec<_>>())
            .prop_flat_map(|v| (Just(v.clone()), Just(v).prop_shuffle()))
    ) {
        let (a, b) = (board(&events), board(&shuffled));
        for as_of in [d(2024, 3, 31), d(2024, 4, 1), d(2024, 8, 31), d(2024, 9, 1), d(2025, 3, 31)] {
            for year in [2023, 2024] {
                prop_assert_eq!(a.status(fy(year), as_of, None), b.status(fy(year), as_of, None));
            }
        }
    }
}
