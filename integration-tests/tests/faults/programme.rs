//! The fault suite's load — a municipal programme going through every kind of activity that
//! decides an item's status — and the independent oracle of those statuses.
//!
//! **The load.** A municipality's steps come in rounds of [`SLOTS`], deterministic from
//! (municipality, n). A round plans three activities in an annual plan (年間事業計画); registers a
//! resource (a list needs one), conducts a resource survey and publishes a list (ア); holds two
//! meetings and records an issue or countermeasure for the first only (イ); cancels the third
//! planned activity; establishes two arrangements and ends the first (ウ); adopts, revises and
//! retires a tool (エ); opens two consultation desks and closes the first (オ); holds a training
//! (カ); records an awareness activity (キ); attends a wide-area meeting, joins and leaves a
//! liaison agreement, and adopts a unified form, moves it to a second version and withdraws it
//! (ク; a unified form in use is also an エ tool, DOMAIN.md). A step acting on an earlier record (a
//! finding, an end, a revision, a cancellation) names a record of an earlier step of its round.
//!
//! Days fall before FY2024, in it on or before [`AS_OF`], in it after [`AS_OF`] and in FY2025,
//! with a bias to the edges of each range. Which items may qualify is a per-municipality profile:
//! two items qualify from the first round; two only from a later round (the 3rd to 5th, per
//! municipality); two never do but have activities planned ahead of [`AS_OF`]; two never do and
//! have only plans that do not count (passed, decided after the date, of another year, or
//! cancelled by it). So after a few hundred steps all three answers occur, and some items change
//! answer late in the run.
//!
//! Left out because they decide no status: updating, withdrawing and importing resources,
//! working groups, consultation cases (their actions, closing and erasure), training
//! evaluations, indicators and measurements, scene goals, evaluations and improvements. Left out
//! because a node cannot record them alone: wide-area meetings the prefecture or a 保健所 records
//! (`RecordWideAreaMeeting`, a prefecture officer's command; they count for ク in the prefecture's
//! tally but never reach a node, so node and tally would differ by design) and the unified-form
//! versions the prefecture publishes down (a node's own `AdoptUnifiedForm` needs none of them, and
//! is in the load).
//!
//! **Retries.** Every command names its record by id, and the node answers a repeat of a recorded
//! command with `events = 0` at any later time, for every kind in the load — ends, revisions and
//! cancellations included (program.proto's retry contract; `decide_in_history` in
//! node/src/domain/mod.rs). No kind needs an error read as "already recorded".
//!
//! **The oracle** ([`expected_statuses`]) applies DOMAIN.md's "Implementation status" to the
//! steps, for FY2024 as of [`AS_OF`]. An activity counts when its day lies in the window
//! 2024-04-01 ..= min(2025-03-31, as of) ("in the fiscal year, on or before the as-of date");
//! something in force counts when its period (first day ..= the earlier of its own last day and
//! the day it was ended) shares a day with the window. By item (DOMAIN.md's table):
//! - ア: a resource survey conducted or a list published;
//! - イ: a meeting held with at least one issue or countermeasure recorded for it;
//! - ウ: an arrangement in force;
//! - エ: a tool in use (adopted ..= retired), or a tool adopted or revised; a unified form in use;
//! - オ: a consultation desk operating (opened ..= closed);
//! - カ, キ: a training held; an awareness activity held or material distributed;
//! - ク: a wide-area meeting attended; a unified form in use; a liaison agreement in force.
//!
//! Otherwise 年度内に実施予定 when FY2024's plan as it stood on the date — entries decided on or
//! before it and not cancelled on or before it — schedules an activity of the item on a day not
//! yet passed (the as-of date itself included); otherwise 実施していない.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Days, NaiveDate};
use renkei_integration_tests::{TAKAOKA_CITY, TOYAMA_CITY, UOZU_CITY};
use renkei_proto::v1;
use serde_json::Value;
use tonic::transport::Channel;

/// The date statuses are checked at (the prefecture's tally and each node's `GetStatus`), in
/// FY2024: half a year in, so that activities fall on both sides of it.
pub const AS_OF: &str = "2024-10-01";

/// The fiscal year the statuses are checked for.
const FISCAL_YEAR: u32 = 2024;
/// How many steps a round has (see the module documentation).
const SLOTS: u64 = 27;
/// Whom the load records as (the node records its authenticated caller where there is one).
const ACTOR: &str = "fault-suite";

/// The three answers, exactly as `GetStatus` labels them.
const IMPLEMENTED: &str = "実施している";
const PLANNED: &str = "年度内に実施予定";
const NOT_IMPLEMENTED: &str = "実施していない";

/// The items by their place in the national table, （ア） = 0 … （ク） = 7.
mod item {
    pub const A: usize = 0;
    pub const I: usize = 1;
    pub const U: usize = 2;
    pub const E: usize = 3;
    pub const O: usize = 4;
    pub const KA: usize = 5;
    pub const KI: usize = 6;
    pub const KU: usize = 7;
    /// The wire codes, `a` … `h`.
    pub const CODES: [&str; 8] = ["a", "b", "c", "d", "e", "f", "g", "h"];
    /// What an activity planned for the item is.
    pub const PLANS: [&str; 8] = [
        "在宅医療・介護資源マップの更新",
        "在宅医療・介護連携推進会議の開催",
        "急変時の受入体制の整備",
        "入退院時情報共有シートの改訂",
        "相談窓口の運営",
        "多職種連携研修会の開催",
        "市民講演会の開催",
        "圏域連携会議への参加",
    ];
}

/// Arrangement kinds: code, name, the resources it names (not checked against the registry),
/// backup beds.
const ARRANGEMENTS: [(&str, &str, &[&str], u32); 4] = [
    (
        "physician_pairing",
        "主治医・副主治医制",
        &["clinic-1", "clinic-2"],
        0,
    ),
    (
        "emergency_hospital",
        "急変時診療医療機関",
        &["hospital-1"],
        0,
    ),
    ("backup_beds", "後方支援病床", &["hospital-1"], 2),
    (
        "round_the_clock_group",
        "24時間対応",
        &["clinic-1", "clinic-2"],
        0,
    ),
];
/// Tool kinds: code, name.
const TOOLS: [(&str, &str); 4] = [
    ("sheet", "情報共有シート"),
    ("contact_book", "連絡帳"),
    ("critical_path", "地域連携パス"),
    ("ict", "ICT連携システム"),
];
/// Training kinds: code, title.
const TRAININGS: [(&str, &str); 3] = [
    ("multi_professional_group_work", "多職種研修"),
    ("medical_topics_for_care_staff", "介護職向け医療研修"),
    ("care_topics_for_medical_staff", "医療職向け介護研修"),
];

/// One call of the load: what is sent, for which municipality, under which id.
#[derive(Clone, Debug)]
pub struct Step {
    pub municipality: String,
    /// The step's own name, unique among the municipality's steps (the load tells a retry from
    /// the next step by it): the id of the record it creates, or for a step acting on an earlier
    /// record that record's id and what it does (`arrangement-a-0003.end`, `tool-0003.v2`).
    pub id: String,
    op: Op,
}

/// What a step asks the node to record; `id` is the record's id as sent.
#[derive(Clone, Debug)]
enum Op {
    RegisterResource {
        id: String,
        on: NaiveDate,
    },
    ConductSurvey {
        id: String,
        on: NaiveDate,
    },
    PublishList {
        id: String,
        residents: bool,
        on: NaiveDate,
    },
    HoldMeeting {
        id: String,
        on: NaiveDate,
    },
    RecordFinding {
        id: String,
        meeting: String,
        countermeasure: bool,
    },
    /// An arrangement (ウ) in force from `on` (to `until`, when fixed).
    EstablishArrangement {
        id: String,
        kind: usize,
        on: NaiveDate,
        until: Option<NaiveDate>,
    },
    AdoptTool {
        id: String,
        kind: usize,
        on: NaiveDate,
    },
    ReviseTool {
        id: String,
        version: String,
        on: NaiveDate,
    },
    OpenDesk {
        id: String,
        on: NaiveDate,
    },
    HoldTraining {
        id: String,
        kind: usize,
        on: NaiveDate,
    },
    RecordAwareness {
        id: String,
        printed: bool,
        on: NaiveDate,
    },
    AttendWideAreaMeeting {
        id: String,
        on: NaiveDate,
    },
    JoinLiaison {
        id: String,
        on: NaiveDate,
    },
    /// The first adoption of a unified form (version 1) or a move to another version.
    AdoptUnifiedForm {
        id: String,
        version: String,
        on: NaiveDate,
    },
    /// The end of something in force: `last_day` is its last day.
    End {
        kind: Lasting,
        id: String,
        last_day: NaiveDate,
    },
    ScheduleActivity(Planned),
    CancelActivity {
        fiscal_year: u32,
        id: String,
        on: NaiveDate,
    },
}

/// The kinds of record in force over a period, which an [`Op::End`] ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Lasting {
    Arrangement,
    Tool,
    Desk,
    Liaison,
    UnifiedForm,
}

/// An activity of an annual plan.
#[derive(Clone, Debug)]
struct Planned {
    fiscal_year: u32,
    id: String,
    item: usize,
    /// The day the plan entry was decided.
    planned_on: NaiveDate,
    scheduled_on: NaiveDate,
}

impl Op {
    /// The step's name (see [`Step::id`]).
    fn step_id(&self) -> String {
        match self {
            Op::End { id, .. } => format!("{id}.end"),
            Op::ReviseTool { id, version, .. } => format!("{id}.v{version}"),
            Op::AdoptUnifiedForm { id, version, .. } if version != "1" => {
                format!("{id}.v{version}")
            }
            Op::CancelActivity { id, .. } => format!("{id}.cancel"),
            Op::ScheduleActivity(plan) => plan.id.clone(),
            Op::RegisterResource { id, .. }
            | Op::ConductSurvey { id, .. }
            | Op::PublishList { id, .. }
            | Op::HoldMeeting { id, .. }
            | Op::RecordFinding { id, .. }
            | Op::EstablishArrangement { id, .. }
            | Op::AdoptTool { id, .. }
            | Op::OpenDesk { id, .. }
            | Op::HoldTraining { id, .. }
            | Op::RecordAwareness { id, .. }
            | Op::AttendWideAreaMeeting { id, .. }
            | Op::JoinLiaison { id, .. }
            | Op::AdoptUnifiedForm { id, .. } => id.clone(),
        }
    }

    /// The one event the step records, as the node stores it (`{"<register>": {"<Event>":
    /// {…}}}`): its register, its type, the `id` it carries and, for a version, the version. The
    /// type tells an end (which carries the ended record's id) from the start.
    fn signature(&self) -> (&'static str, &'static str, &str, Option<&str>) {
        let (register, event, id, version): (_, _, &String, Option<&String>) = match self {
            Op::RegisterResource { id, .. } => ("resources", "ResourceRegistered", id, None),
            Op::ConductSurvey { id, .. } => ("resources", "ResourceSurveyConducted", id, None),
            Op::PublishList { id, .. } => ("resources", "ResourceListPublished", id, None),
            Op::HoldMeeting { id, .. } => ("meetings", "MeetingHeld", id, None),
            Op::RecordFinding { id, .. } => ("meetings", "FindingRecorded", id, None),
            Op::EstablishArrangement { id, .. } => {
                ("arrangements", "ArrangementEstablished", id, None)
            }
            Op::AdoptTool { id, .. } => ("tools", "ToolAdopted", id, None),
            Op::ReviseTool { id, version, .. } => ("tools", "ToolRevised", id, Some(version)),
            Op::OpenDesk { id, .. } => ("consultation", "ConsultationDeskOpened", id, None),
            Op::HoldTraining { id, .. } => ("trainings", "TrainingHeld", id, None),
            Op::RecordAwareness { id, .. } => ("awareness", "AwarenessActivityRecorded", id, None),
            Op::AttendWideAreaMeeting { id, .. } => {
                ("wide_area", "WideAreaMeetingAttended", id, None)
            }
            Op::JoinLiaison { id, .. } => ("wide_area", "LiaisonAgreementJoined", id, None),
            Op::AdoptUnifiedForm { id, version, .. } => {
                ("wide_area", "UnifiedFormAdopted", id, Some(version))
            }
            Op::End { kind, id, .. } => {
                let (register, event) = match kind {
                    Lasting::Arrangement => ("arrangements", "ArrangementEnded"),
                    Lasting::Tool => ("tools", "ToolRetired"),
                    Lasting::Desk => ("consultation", "ConsultationDeskClosed"),
                    Lasting::Liaison => ("wide_area", "LiaisonAgreementLeft"),
                    Lasting::UnifiedForm => ("wide_area", "UnifiedFormWithdrawn"),
                };
                (register, event, id, None)
            }
            Op::ScheduleActivity(plan) => ("plan", "ActivityScheduled", &plan.id, None),
            Op::CancelActivity { id, .. } => ("plan", "ActivityCancelled", id, None),
        };
        (register, event, id.as_str(), version.map(String::as_str))
    }
}

// --- Days ---

fn ymd(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).expect("a valid date")
}

fn as_of() -> NaiveDate {
    NaiveDate::parse_from_str(AS_OF, "%Y-%m-%d").expect("AS_OF is a date")
}

/// The first and last day of FY2024.
fn fy_start() -> NaiveDate {
    ymd(2024, 4, 1)
}

fn fy_end() -> NaiveDate {
    ymd(2025, 3, 31)
}

/// The earliest day the load dates anything (FY2022 begins) and the latest (FY2025 ends).
fn past() -> NaiveDate {
    ymd(2022, 4, 1)
}

fn future() -> NaiveDate {
    ymd(2026, 3, 31)
}

fn after(day: NaiveDate) -> NaiveDate {
    day + Days::new(1)
}

fn before(day: NaiveDate) -> NaiveDate {
    day - Days::new(1)
}

// --- The load ---

/// The SplitMix64 finaliser.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The municipality's part of every choice: its code hashed (FNV-1a) and mixed.
fn seed(municipality: &str) -> u64 {
    let fnv = municipality
        .bytes()
        .fold(0xCBF2_9CE4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3)
        });
    mix(fnv)
}

/// The choices of one group of steps of a round (SplitMix64): the steps of a group (a tool's
/// adoption, revision and retirement) draw the same days.
struct Draw(u64);

impl Draw {
    /// The choices of `group` (by convention the round's first slot of the group) in `round`.
    fn new(municipality: &str, round: u64, group: u64) -> Self {
        Self(seed(municipality) ^ mix(round.wrapping_mul(SLOTS).wrapping_add(group) + 1))
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0) % n
    }

    fn coin(&mut self) -> bool {
        self.below(2) == 0
    }

    /// A day of `from ..= to`: the first or the last one time in eight each, else any.
    fn day(&mut self, from: NaiveDate, to: NaiveDate) -> NaiveDate {
        let span = u64::try_from(to.signed_duration_since(from).num_days()).expect("from <= to");
        let offset = match self.below(8) {
            0 => 0,
            1 => span,
            _ => self.below(span + 1),
        };
        from + Days::new(offset)
    }

    /// The day of an activity: in the window when `inside`; else before the year, after the
    /// as-of date within it, or in the next year.
    fn dated(&mut self, inside: bool) -> NaiveDate {
        if inside {
            return self.day(fy_start(), as_of());
        }
        match self.below(3) {
            0 => self.day(past(), before(fy_start())),
            1 => self.day(after(as_of()), fy_end()),
            _ => self.day(after(fy_end()), future()),
        }
    }

    /// A period in force that is ended: sharing a day with the window when `overlapping`, else
    /// wholly before the year or wholly after the as-of date.
    fn span(&mut self, overlapping: bool) -> Span {
        let (first, latest) = if overlapping {
            (self.day(past(), as_of()), future())
        } else if self.coin() {
            let latest = before(fy_start());
            (self.day(past(), before(latest)), latest)
        } else {
            (self.day(after(as_of()), before(future())), future())
        };
        let middle = self.day(after(first), latest);
        let last = if overlapping {
            self.day(middle.max(fy_start()), latest)
        } else {
            self.day(middle, latest)
        };
        Span {
            first,
            middle,
            last,
        }
    }

    /// The first day, and when `may_end` possibly a fixed last day, of something in force that is
    /// never ended: sharing a day with the window when `overlapping`, else not.
    fn standing(&mut self, overlapping: bool, may_end: bool) -> (NaiveDate, Option<NaiveDate>) {
        let bounded = may_end && self.coin();
        if overlapping {
            let first = self.day(past(), as_of());
            let last = bounded.then(|| self.day(first.max(fy_start()), future()));
            (first, last)
        } else if bounded && self.coin() {
            let first = self.day(past(), before(fy_start()));
            (first, Some(self.day(first, before(fy_start()))))
        } else {
            let first = self.day(after(as_of()), future());
            (first, bounded.then(|| self.day(first, future())))
        }
    }
}

/// A period in force: first day, a day in between (a new version), last day
/// (`first < middle <= last`).
struct Span {
    first: NaiveDate,
    middle: NaiveDate,
    last: NaiveDate,
}

/// What the activities of an item may do at a municipality (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Profile {
    Early,
    Late,
    PlannedOnly,
    Idle,
}

fn profile(municipality: &str, item: usize) -> Profile {
    match ((seed(municipality) >> 16) % 4 + item as u64) % 4 {
        0 => Profile::Early,
        1 => Profile::Late,
        2 => Profile::PlannedOnly,
        _ => Profile::Idle,
    }
}

/// The round from which the item's activities may qualify; `None` when they never do.
fn qualifying_from(municipality: &str, item: usize) -> Option<u64> {
    match profile(municipality, item) {
        Profile::Early => Some(0),
        Profile::Late => Some(2 + (seed(municipality) >> 24) % 3),
        Profile::PlannedOnly | Profile::Idle => None,
    }
}

/// Whether the item's activity drawn from `draw` in `round` qualifies: always in the first round
/// it may, then two times in three.
fn qualifies(municipality: &str, item: usize, round: u64, draw: &mut Draw) -> bool {
    match qualifying_from(municipality, item) {
        Some(from) if round == from => true,
        Some(from) if round > from => draw.below(3) != 0,
        _ => false,
    }
}

/// The day of the item's activity in slot `group` of `round`.
fn dated(municipality: &str, round: u64, group: u64, item: usize) -> NaiveDate {
    let mut draw = Draw::new(municipality, round, group);
    let inside = qualifies(municipality, item, round, &mut draw);
    draw.dated(inside)
}

/// The period of the item's record started in slot `group` of `round` and ended later in it.
fn period(municipality: &str, round: u64, group: u64, item: usize) -> Span {
    let mut draw = Draw::new(municipality, round, group);
    let overlapping = qualifies(municipality, item, round, &mut draw);
    draw.span(overlapping)
}

/// The round's unified form (slots 24–26): in use in the window only when both エ and ク may
/// qualify, since it counts for both.
fn unified_form(municipality: &str, round: u64) -> Span {
    let mut draw = Draw::new(municipality, round, 24);
    let overlapping = qualifies(municipality, item::E, round, &mut draw)
        && qualifying_from(municipality, item::KU).is_some_and(|from| round >= from);
    draw.span(overlapping)
}

/// The round's planned activity `which` (0 and 1 stand; 2 is cancelled in slot 9). An item
/// that is not idle gets plans that count (FY2024's, decided by the as-of date, for a day not yet
/// passed): always in the first four rounds (which plan every item once), then one time in two;
/// otherwise one of the plans that do not count. The one to be cancelled counts until then.
fn planned(municipality: &str, round: u64, which: u64) -> Planned {
    let mut draw = Draw::new(municipality, round, which);
    let item = match which {
        0 => 2 * round % 8,
        1 => (2 * round + 1) % 8,
        _ => (3 * round + 5) % 8,
    } as usize;
    let idle = profile(municipality, item) == Profile::Idle;
    let counting = which == 2 || (!idle && (round < 4 || draw.coin()));
    let decided_from = ymd(2024, 1, 15);
    let (fiscal_year, planned_on, scheduled_on) = if counting {
        let planned_on = draw.day(decided_from, as_of());
        (FISCAL_YEAR, planned_on, draw.day(as_of(), fy_end()))
    } else {
        match draw.below(4) {
            // Its day passed before the date.
            0 => {
                let scheduled_on = draw.day(fy_start(), before(as_of()));
                let planned_on = draw.day(decided_from, scheduled_on);
                (FISCAL_YEAR, planned_on, scheduled_on)
            }
            // Decided after the date.
            1 => {
                let planned_on = draw.day(after(as_of()), fy_end());
                (FISCAL_YEAR, planned_on, draw.day(planned_on, fy_end()))
            }
            // Next year's plan.
            2 => {
                let planned_on = draw.day(fy_start(), fy_end());
                let scheduled_on = draw.day(after(fy_end()), future());
                (FISCAL_YEAR + 1, planned_on, scheduled_on)
            }
            // Last year's plan.
            _ => {
                let scheduled_on = draw.day(ymd(2023, 4, 1), before(fy_start()));
                let planned_on = draw.day(ymd(2023, 1, 15), scheduled_on);
                (FISCAL_YEAR - 1, planned_on, scheduled_on)
            }
        }
    };
    Planned {
        fiscal_year,
        id: format!("plan-{}-{round:04}", ["a", "b", "c"][which as usize]),
        item,
        planned_on,
        scheduled_on,
    }
}

/// The cancellation of the round's third planned activity: on or before the as-of date (it no
/// longer counts) always for an idle item, else one time in two; otherwise after the date (it
/// still counts as of the date).
fn cancellation(municipality: &str, round: u64) -> Op {
    let plan = planned(municipality, round, 2);
    let mut draw = Draw::new(municipality, round, 9);
    let on = if profile(municipality, plan.item) != Profile::Idle && draw.coin() {
        draw.day(after(as_of()), fy_end())
    } else {
        draw.day(plan.planned_on, as_of())
    };
    Op::CancelActivity {
        fiscal_year: plan.fiscal_year,
        id: plan.id,
        on,
    }
}

/// The n-th step for `municipality` (n = 1, 2, …): deterministic.
pub fn step(municipality: &str, n: u64) -> Step {
    assert!(n >= 1, "steps are numbered from 1");
    let (round, slot) = ((n - 1) / SLOTS, (n - 1) % SLOTS);
    let m = municipality;
    let id = |what: &str| format!("{what}-{round:04}");
    let kind = |of: u64| (round % of) as usize;
    let end = |kind: Lasting, what: &str, last_day: NaiveDate| Op::End {
        kind,
        id: id(what),
        last_day,
    };
    let op = match slot {
        0..=2 => Op::ScheduleActivity(planned(m, round, slot)),
        3 => Op::RegisterResource {
            id: id("resource"),
            on: Draw::new(m, round, 3).day(past(), fy_end()),
        },
        4 => Op::ConductSurvey {
            id: id("survey"),
            on: dated(m, round, 4, item::A),
        },
        5 => Op::PublishList {
            id: id("list"),
            residents: round % 2 == 1,
            on: dated(m, round, 5, item::A),
        },
        6 => Op::HoldMeeting {
            id: id("meeting-a"),
            on: dated(m, round, 6, item::I),
        },
        // Never gets a finding: in the window or not, it never qualifies.
        7 => {
            let mut draw = Draw::new(m, round, 7);
            let inside = draw.coin();
            Op::HoldMeeting {
                id: id("meeting-b"),
                on: draw.dated(inside),
            }
        }
        8 => Op::RecordFinding {
            id: id("finding"),
            meeting: id("meeting-a"),
            countermeasure: round % 2 == 1,
        },
        9 => cancellation(m, round),
        10 => Op::EstablishArrangement {
            id: id("arrangement-a"),
            kind: kind(4),
            on: period(m, round, 10, item::U).first,
            until: None,
        },
        11 => {
            let mut draw = Draw::new(m, round, 11);
            let overlapping = qualifies(m, item::U, round, &mut draw);
            let (on, until) = draw.standing(overlapping, true);
            Op::EstablishArrangement {
                id: id("arrangement-b"),
                kind: kind(3) + 1,
                on,
                until,
            }
        }
        12 => end(
            Lasting::Arrangement,
            "arrangement-a",
            period(m, round, 10, item::U).last,
        ),
        13 => Op::AdoptTool {
            id: id("tool"),
            kind: kind(4),
            on: period(m, round, 13, item::E).first,
        },
        14 => Op::ReviseTool {
            id: id("tool"),
            version: "2".into(),
            on: period(m, round, 13, item::E).middle,
        },
        15 => end(Lasting::Tool, "tool", period(m, round, 13, item::E).last),
        16 => Op::OpenDesk {
            id: id("desk-a"),
            on: period(m, round, 16, item::O).first,
        },
        17 => {
            let mut draw = Draw::new(m, round, 17);
            let overlapping = qualifies(m, item::O, round, &mut draw);
            Op::OpenDesk {
                id: id("desk-b"),
                on: draw.standing(overlapping, false).0,
            }
        }
        18 => end(Lasting::Desk, "desk-a", period(m, round, 16, item::O).last),
        19 => Op::HoldTraining {
            id: id("training"),
            kind: kind(3),
            on: dated(m, round, 19, item::KA),
        },
        20 => Op::RecordAwareness {
            id: id("awareness"),
            printed: round % 2 == 1,
            on: dated(m, round, 20, item::KI),
        },
        21 => Op::AttendWideAreaMeeting {
            id: id("wide-area-meeting"),
            on: dated(m, round, 21, item::KU),
        },
        22 => Op::JoinLiaison {
            id: id("liaison"),
            on: period(m, round, 22, item::KU).first,
        },
        23 => end(
            Lasting::Liaison,
            "liaison",
            period(m, round, 22, item::KU).last,
        ),
        24 => Op::AdoptUnifiedForm {
            id: id("form"),
            version: "1".into(),
            on: unified_form(m, round).first,
        },
        25 => Op::AdoptUnifiedForm {
            id: id("form"),
            version: "2".into(),
            on: unified_form(m, round).middle,
        },
        _ => end(Lasting::UnifiedForm, "form", unified_form(m, round).last),
    };
    Step {
        municipality: municipality.to_owned(),
        id: op.step_id(),
        op,
    }
}

/// The 二次医療圏 a wide-area meeting of the municipality covers.
fn area(municipality: &str) -> &'static str {
    match municipality {
        TOYAMA_CITY => "富山医療圏",
        TAKAOKA_CITY => "高岡医療圏",
        UOZU_CITY => "新川医療圏",
        _ => "二次医療圏",
    }
}

/// A head count of a category (an organisation type or a profession).
fn heads(of: &str, count: u32) -> v1::ProgramCount {
    v1::ProgramCount {
        of: of.into(),
        count,
    }
}

/// Sends the step; Ok(true) = recorded now, Ok(false) = the node answered that this very step
/// was already recorded (a retry after a crash), Err = the call failed (the load retries the same
/// step later).
// `call!` fills the fields a request does not name with `..Default::default()`, which does
// nothing for requests whose every field it names.
#[allow(clippy::needless_update)]
pub async fn send(
    client: &mut v1::MunicipalProgramClient<Channel>,
    step: &Step,
) -> Result<bool, tonic::Status> {
    // Calls `method` with a request naming the step's municipality and the load as actor, the
    // fields not given left empty.
    macro_rules! call {
        ($method:ident($request:ident { $($field:ident: $value:expr),* $(,)? })) => {
            client
                .$method(v1::$request {
                    municipality_code: step.municipality.clone(),
                    actor: ACTOR.into(),
                    $($field: $value,)*
                    ..Default::default()
                })
                .await?
        };
    }
    let reply = match &step.op {
        Op::RegisterResource { id, on } => call!(register_resource(RegisterResourceRequest {
            id: id.clone(),
            details: Some(v1::ResourceDetails {
                kind: "care_management_office".into(),
                name: format!("居宅介護支援事業所 {id}"),
                address: "市内1番1号".into(),
                listed_for_residents: true,
                ..Default::default()
            }),
            on: on.to_string(),
        })),
        Op::ConductSurvey { id, on } => {
            call!(conduct_resource_survey(ConductResourceSurveyRequest {
                id: id.clone(),
                title: "資源調査".into(),
                on: on.to_string(),
                responses: 120,
            }))
        }
        Op::PublishList { id, residents, on } => {
            let audience = if *residents {
                "residents"
            } else {
                "professionals"
            };
            call!(publish_resource_list(PublishResourceListRequest {
                id: id.clone(),
                title: "在宅医療・介護マップ".into(),
                audience: audience.into(),
                format: "map".into(),
                on: on.to_string(),
            }))
        }
        Op::HoldMeeting { id, on } => call!(hold_meeting(HoldMeetingRequest {
            id: id.clone(),
            kind: "coordination_council".into(),
            title: "連携推進会議".into(),
            on: on.to_string(),
            participants: vec![heads("medical_association", 2), heads("hospital", 3)],
            scenes: vec!["admission_discharge".into()],
        })),
        Op::RecordFinding {
            id,
            meeting,
            countermeasure,
        } => {
            let (kind, text) = if *countermeasure {
                ("countermeasure", "情報共有シートの活用を周知する")
            } else {
                ("issue", "退院時の情報共有が遅れる")
            };
            call!(record_finding(RecordFindingRequest {
                meeting: meeting.clone(),
                id: id.clone(),
                kind: kind.into(),
                text: text.into(),
            }))
        }
        Op::EstablishArrangement {
            id,
            kind,
            on,
            until,
        } => {
            let (code, name, resources, backup_beds) = ARRANGEMENTS[*kind];
            call!(establish_arrangement(EstablishArrangementRequest {
                id: id.clone(),
                name: name.into(),
                kind: code.into(),
                resources: resources.iter().map(|r| (*r).to_owned()).collect(),
                beds: backup_beds,
                first_day: on.to_string(),
                last_day: until.map(|d| d.to_string()).unwrap_or_default(),
            }))
        }
        Op::AdoptTool { id, kind, on } => {
            let (code, name) = TOOLS[*kind];
            call!(adopt_tool(AdoptToolRequest {
                id: id.clone(),
                name: name.into(),
                kind: code.into(),
                version: "1".into(),
                manual_title: format!("{name}の手引き"),
                manual_covers_personal_information: true,
                on: on.to_string(),
            }))
        }
        Op::ReviseTool { id, version, on } => call!(revise_tool(ReviseToolRequest {
            id: id.clone(),
            version: version.clone(),
            on: on.to_string(),
        })),
        Op::OpenDesk { id, on } => call!(open_consultation_desk(OpenConsultationDeskRequest {
            id: id.clone(),
            name: "在宅医療・介護連携支援センター".into(),
            host: "medical_association".into(),
            staff: vec![heads("nurse", 1), heads("care_manager", 1)],
            hours: "平日 8:30〜17:15".into(),
            on: on.to_string(),
        })),
        Op::HoldTraining { id, kind, on } => {
            let (code, title) = TRAININGS[*kind];
            call!(hold_training(HoldTrainingRequest {
                id: id.clone(),
                kind: code.into(),
                title: title.into(),
                on: on.to_string(),
                participants: vec![heads("physician", 4), heads("care_manager", 12)],
            }))
        }
        Op::RecordAwareness { id, printed, on } => {
            let (kind, title, attended, distributed) = if *printed {
                ("pamphlet", "在宅医療ガイドブック", None, Some(2000))
            } else {
                ("lecture", "在宅医療市民講演会", Some(80), None)
            };
            call!(record_awareness_activity(RecordAwarenessActivityRequest {
                id: id.clone(),
                kind: kind.into(),
                title: title.into(),
                audience: "住民".into(),
                on: on.to_string(),
                attendance: attended,
                copies: distributed,
            }))
        }
        Op::AttendWideAreaMeeting { id, on } => {
            call!(attend_wide_area_meeting(AttendWideAreaMeetingRequest {
                id: id.clone(),
                title: "圏域連携会議".into(),
                area: area(&step.municipality).into(),
                on: on.to_string(),
                participants: vec![heads("municipality", 2), heads("public_health_center", 1)],
            }))
        }
        Op::JoinLiaison { id, on } => call!(join_liaison_agreement(JoinLiaisonAgreementRequest {
            id: id.clone(),
            // 医療機関コード: 富山県 (16), 医科 (1), 7 digits.
            hospital: "1610100011".into(),
            rule_version: "第1版".into(),
            notification_lead_days: 3,
            first_day: on.to_string(),
            contact_point: "地域連携室 076-000-0000".into(),
        })),
        Op::AdoptUnifiedForm { id, version, on } => {
            call!(adopt_unified_form(AdoptUnifiedFormRequest {
                id: id.clone(),
                name: "入退院時情報共有シート".into(),
                version: version.clone(),
                on: on.to_string(),
            }))
        }
        Op::End { kind, id, last_day } => {
            let request = v1::ProgramEndRequest {
                municipality_code: step.municipality.clone(),
                actor: ACTOR.into(),
                id: id.clone(),
                last_day: last_day.to_string(),
            };
            match kind {
                Lasting::Arrangement => client.end_arrangement(request).await?,
                Lasting::Tool => client.retire_tool(request).await?,
                Lasting::Desk => client.close_consultation_desk(request).await?,
                Lasting::Liaison => client.leave_liaison_agreement(request).await?,
                Lasting::UnifiedForm => client.withdraw_unified_form(request).await?,
            }
        }
        Op::ScheduleActivity(plan) => call!(schedule_activity(ScheduleActivityRequest {
            fiscal_year: plan.fiscal_year,
            id: plan.id.clone(),
            item: item::CODES[plan.item].into(),
            what: item::PLANS[plan.item].into(),
            scheduled_on: plan.scheduled_on.to_string(),
            owner: "地域包括ケア推進課".into(),
            planned_on: plan.planned_on.to_string(),
        })),
        Op::CancelActivity {
            fiscal_year,
            id,
            on,
        } => call!(cancel_activity(CancelActivityRequest {
            fiscal_year: *fiscal_year,
            id: id.clone(),
            on: on.to_string(),
        })),
    };
    // The node answers a repeat of a recorded command (same id, same content) with OK and
    // events = 0, and nothing new with 0: every command of the load appends one event. Ends,
    // revisions and cancellations are recognised the same way (by the record each writes: `end
    // of arrangement <id>`, `tool revision <id> <version>`, …), so no error means "already
    // recorded" here. ALREADY_EXISTS (the id with other content) would be a bug of the load or
    // the node, and stays an error.
    Ok(reply.into_inner().events > 0)
}

/// What tells a step's event in the node's log: its register, its event type, the record's id,
/// and the version for the kinds recorded once per version (a tool's revisions, a unified
/// form's versions).
pub type Key = (String, String, String, Option<String>);

/// The event types whose records are told apart by version as well as id.
const VERSIONED: [&str; 2] = ["ToolRevised", "UnifiedFormAdopted"];

/// The key of the event `step` records.
pub fn key(step: &Step) -> Key {
    let (register, event, id, version) = step.op.signature();
    (
        register.to_owned(),
        event.to_owned(),
        id.to_owned(),
        version.map(str::to_owned),
    )
}

/// How many times each key is in the node's event log, given the payloads of every programme
/// event of a municipality (`{register: {EventType: body}}`).
pub fn recorded(events: &[Value]) -> BTreeMap<Key, usize> {
    let mut counts = BTreeMap::new();
    for event in events {
        let Some((register, inner)) = event.as_object().and_then(|o| o.iter().next()) else {
            continue;
        };
        let Some((kind, body)) = inner.as_object().and_then(|o| o.iter().next()) else {
            continue;
        };
        let text = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_owned);
        let Some(id) = text("id") else {
            continue;
        };
        let version = if VERSIONED.contains(&kind.as_str()) {
            text("version")
        } else {
            None
        };
        *counts
            .entry((register.clone(), kind.clone(), id, version))
            .or_default() += 1;
    }
    counts
}

/// How many times the step is in the node's event log, given the payloads of every programme
/// event of its municipality: events of the step's type carrying its id (and version).
pub fn times_recorded(step: &Step, events: &[Value]) -> usize {
    recorded(events).get(&key(step)).copied().unwrap_or(0)
}

// --- The oracle ---

/// Something in force, for the oracle: the items it counts for, its first day and its last day
/// (the earlier of its own and the day it was ended).
struct InForce {
    items: &'static [usize],
    first_day: NaiveDate,
    last_day: Option<NaiveDate>,
}

/// Records something of `items` in force from `first_day` (to `last_day`, when fixed) under
/// `key`, unless it is there already: a later version of a unified form continues the use its
/// first adoption began.
fn starts<'a>(
    lasting: &mut BTreeMap<(Lasting, &'a str), InForce>,
    key: (Lasting, &'a str),
    items: &'static [usize],
    first_day: NaiveDate,
    last_day: Option<NaiveDate>,
) {
    lasting.entry(key).or_insert(InForce {
        items,
        first_day,
        last_day,
    });
}

/// The eight statuses (labels as `GetStatus` gives them, （ア）…（ク）) of one municipality, computed
/// from its recorded steps in order, for FY2024 as of [`AS_OF`], by DOMAIN.md's rules (see the
/// module documentation).
pub fn expected_statuses(steps: &[Step]) -> Vec<String> {
    let as_of = as_of();
    let (window_start, window_end) = (fy_start(), as_of.min(fy_end()));
    let within = |day: NaiveDate| window_start <= day && day <= window_end;
    let mut implemented = [false; 8];
    let mut meetings: BTreeMap<&str, NaiveDate> = BTreeMap::new();
    let mut with_findings: BTreeSet<&str> = BTreeSet::new();
    let mut lasting: BTreeMap<(Lasting, &str), InForce> = BTreeMap::new();
    let mut plans: BTreeMap<(u32, &str), &Planned> = BTreeMap::new();
    let mut cancelled: BTreeMap<(u32, &str), NaiveDate> = BTreeMap::new();
    for step in steps {
        match &step.op {
            Op::RegisterResource { .. } => {}
            Op::ConductSurvey { on, .. } | Op::PublishList { on, .. } => {
                implemented[item::A] |= within(*on);
            }
            Op::HoldMeeting { id, on } => {
                meetings.insert(id.as_str(), *on);
            }
            Op::RecordFinding { meeting, .. } => {
                with_findings.insert(meeting.as_str());
            }
            Op::EstablishArrangement { id, on, until, .. } => {
                let key = (Lasting::Arrangement, id.as_str());
                starts(&mut lasting, key, &[item::U], *on, *until);
            }
            Op::AdoptTool { id, on, .. } => {
                implemented[item::E] |= within(*on);
                starts(
                    &mut lasting,
                    (Lasting::Tool, id.as_str()),
                    &[item::E],
                    *on,
                    None,
                );
            }
            Op::ReviseTool { on, .. } => implemented[item::E] |= within(*on),
            Op::OpenDesk { id, on } => {
                starts(
                    &mut lasting,
                    (Lasting::Desk, id.as_str()),
                    &[item::O],
                    *on,
                    None,
                );
            }
            Op::HoldTraining { on, .. } => implemented[item::KA] |= within(*on),
            Op::RecordAwareness { on, .. } => implemented[item::KI] |= within(*on),
            Op::AttendWideAreaMeeting { on, .. } => implemented[item::KU] |= within(*on),
            Op::JoinLiaison { id, on } => {
                starts(
                    &mut lasting,
                    (Lasting::Liaison, id.as_str()),
                    &[item::KU],
                    *on,
                    None,
                );
            }
            // (The load withdraws a form no earlier than its last version, so whether moving to
            // a version counted as "revising a tool" would change no answer.)
            Op::AdoptUnifiedForm { id, on, .. } => {
                let key = (Lasting::UnifiedForm, id.as_str());
                starts(&mut lasting, key, &[item::E, item::KU], *on, None);
            }
            Op::End { kind, id, last_day } => {
                if let Some(thing) = lasting.get_mut(&(*kind, id.as_str())) {
                    thing.last_day = Some(thing.last_day.map_or(*last_day, |d| d.min(*last_day)));
                }
            }
            Op::ScheduleActivity(plan) => {
                plans.insert((plan.fiscal_year, plan.id.as_str()), plan);
            }
            Op::CancelActivity {
                fiscal_year,
                id,
                on,
            } => {
                let day = cancelled.entry((*fiscal_year, id.as_str())).or_insert(*on);
                *day = (*day).min(*on);
            }
        }
    }
    for (meeting, held_on) in &meetings {
        implemented[item::I] |= within(*held_on) && with_findings.contains(meeting);
    }
    for thing in lasting.values() {
        if thing.first_day <= window_end && thing.last_day.is_none_or(|d| d >= window_start) {
            for &i in thing.items {
                implemented[i] = true;
            }
        }
    }
    let planned_ahead = |i: usize| {
        plans.iter().any(|(key, plan)| {
            plan.fiscal_year == FISCAL_YEAR
                && plan.item == i
                && plan.planned_on <= as_of
                && plan.scheduled_on >= as_of
                && cancelled.get(key).is_none_or(|on| *on > as_of)
        })
    };
    (0..8)
        .map(|i| {
            let label = if implemented[i] {
                IMPLEMENTED
            } else if planned_ahead(i) {
                PLANNED
            } else {
                NOT_IMPLEMENTED
            };
            label.to_owned()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::Datelike;
    use serde_json::json;

    use super::*;

    fn d(year: i32, month: u32, day: u32) -> NaiveDate {
        ymd(year, month, day)
    }

    fn steps(ops: Vec<Op>) -> Vec<Step> {
        ops.into_iter()
            .map(|op| Step {
                municipality: TOYAMA_CITY.into(),
                id: op.step_id(),
                op,
            })
            .collect()
    }

    fn statuses(ops: Vec<Op>) -> Vec<String> {
        expected_statuses(&steps(ops))
    }

    fn status(ops: Vec<Op>, item: usize) -> String {
        statuses(ops)[item].clone()
    }

    fn end(kind: Lasting, id: &str, last_day: NaiveDate) -> Op {
        Op::End {
            kind,
            id: id.into(),
            last_day,
        }
    }

    fn arrangement(on: NaiveDate, until: Option<NaiveDate>) -> Op {
        Op::EstablishArrangement {
            id: "a1".into(),
            kind: 0,
            on,
            until,
        }
    }

    /// An activity of (キ) in the plan of `fiscal_year`.
    fn plan(fiscal_year: u32, planned_on: NaiveDate, scheduled_on: NaiveDate) -> Op {
        Op::ScheduleActivity(Planned {
            fiscal_year,
            id: "p1".into(),
            item: item::KI,
            planned_on,
            scheduled_on,
        })
    }

    #[test]
    fn an_arrangement_counts_when_in_force_on_some_day_of_the_window() {
        let ended = |last| {
            let ending = end(Lasting::Arrangement, "a1", last);
            vec![arrangement(d(2022, 4, 1), None), ending]
        };
        assert_eq!(status(ended(d(2024, 3, 31)), item::U), NOT_IMPLEMENTED);
        assert_eq!(status(ended(d(2024, 4, 1)), item::U), IMPLEMENTED);
        assert_eq!(status(ended(d(2025, 6, 30)), item::U), IMPLEMENTED);
        let fixed = arrangement(d(2023, 4, 1), Some(d(2024, 3, 31)));
        assert_eq!(status(vec![fixed], item::U), NOT_IMPLEMENTED);
        let from_the_date = arrangement(d(2024, 10, 1), None);
        assert_eq!(status(vec![from_the_date], item::U), IMPLEMENTED);
        let from_the_day_after = arrangement(d(2024, 10, 2), None);
        assert_eq!(status(vec![from_the_day_after], item::U), NOT_IMPLEMENTED);
        // It counts for (ウ) only.
        let all = statuses(vec![arrangement(d(2023, 4, 1), None)]);
        for (i, s) in all.iter().enumerate() {
            assert_eq!(s == IMPLEMENTED, i == item::U, "{all:?}");
        }
    }

    #[test]
    fn a_plan_counts_when_decided_by_the_date_for_a_day_not_passed_and_not_cancelled_by_it() {
        let cancel = |on| Op::CancelActivity {
            fiscal_year: 2024,
            id: "p1".into(),
            on,
        };
        let ahead = || plan(2024, d(2024, 5, 1), d(2024, 12, 1));
        assert_eq!(status(vec![ahead()], item::KI), PLANNED);
        assert_eq!(status(vec![ahead()], item::KA), NOT_IMPLEMENTED);
        let cancelled = vec![ahead(), cancel(d(2024, 10, 1))];
        assert_eq!(status(cancelled, item::KI), NOT_IMPLEMENTED);
        let cancelled_later = vec![ahead(), cancel(d(2024, 10, 2))];
        assert_eq!(status(cancelled_later, item::KI), PLANNED);
        let on_the_date = plan(2024, d(2024, 5, 1), d(2024, 10, 1));
        assert_eq!(status(vec![on_the_date], item::KI), PLANNED);
        let passed = plan(2024, d(2024, 5, 1), d(2024, 9, 30));
        assert_eq!(status(vec![passed], item::KI), NOT_IMPLEMENTED);
        let decided_later = plan(2024, d(2024, 10, 2), d(2024, 12, 1));
        assert_eq!(status(vec![decided_later], item::KI), NOT_IMPLEMENTED);
        let next_year = plan(2025, d(2024, 5, 1), d(2025, 5, 1));
        assert_eq!(status(vec![next_year], item::KI), NOT_IMPLEMENTED);
        // Implemented wins over planned.
        let held = |on| Op::RecordAwareness {
            id: "k1".into(),
            printed: false,
            on,
        };
        let on_the_date = vec![ahead(), held(d(2024, 10, 1))];
        assert_eq!(status(on_the_date, item::KI), IMPLEMENTED);
        let the_day_after = vec![ahead(), held(d(2024, 10, 2))];
        assert_eq!(status(the_day_after, item::KI), PLANNED);
    }

    #[test]
    fn a_meeting_counts_in_the_window_with_a_finding() {
        let meeting = |id: &str, on| Op::HoldMeeting { id: id.into(), on };
        let finding = |meeting: &str| Op::RecordFinding {
            id: format!("f-{meeting}"),
            meeting: meeting.into(),
            countermeasure: false,
        };
        let without = vec![meeting("m1", d(2024, 6, 1))];
        assert_eq!(status(without, item::I), NOT_IMPLEMENTED);
        let with = vec![meeting("m1", d(2024, 6, 1)), finding("m1")];
        assert_eq!(status(with, item::I), IMPLEMENTED);
        let another_found = vec![
            meeting("m1", d(2024, 6, 1)),
            meeting("m2", d(2024, 3, 31)),
            finding("m2"),
        ];
        assert_eq!(status(another_found, item::I), NOT_IMPLEMENTED);
        let after = vec![meeting("m1", d(2024, 10, 2)), finding("m1")];
        assert_eq!(status(after, item::I), NOT_IMPLEMENTED);
    }

    #[test]
    fn tools_desks_forms_and_agreements_count_while_in_use_in_the_window() {
        let adopt = |on| Op::AdoptTool {
            id: "t1".into(),
            kind: 0,
            on,
        };
        let retire = |last_day| end(Lasting::Tool, "t1", last_day);
        let retired_before = vec![adopt(d(2022, 4, 1)), retire(d(2024, 3, 31))];
        assert_eq!(status(retired_before, item::E), NOT_IMPLEMENTED);
        assert_eq!(status(vec![adopt(d(2022, 4, 1))], item::E), IMPLEMENTED);
        // Out of use before the year, but a version released in it.
        let revise = Op::ReviseTool {
            id: "t1".into(),
            version: "2".into(),
            on: d(2024, 5, 1),
        };
        let released = vec![adopt(d(2022, 4, 1)), revise, retire(d(2024, 3, 31))];
        assert_eq!(status(released, item::E), IMPLEMENTED);

        let open = |on| Op::OpenDesk {
            id: "d1".into(),
            on,
        };
        let close = |last_day| end(Lasting::Desk, "d1", last_day);
        let closed_before = vec![open(d(2023, 4, 1)), close(d(2024, 3, 31))];
        assert_eq!(status(closed_before, item::O), NOT_IMPLEMENTED);
        let closed_on_day_one = vec![open(d(2023, 4, 1)), close(d(2024, 4, 1))];
        assert_eq!(status(closed_on_day_one, item::O), IMPLEMENTED);
        assert_eq!(status(vec![open(d(2024, 10, 2))], item::O), NOT_IMPLEMENTED);

        let form = |version: &str, on| Op::AdoptUnifiedForm {
            id: "f1".into(),
            version: version.into(),
            on,
        };
        let e_and_ku = |ops| {
            let all = statuses(ops);
            [all[item::E].clone(), all[item::KU].clone()]
        };
        let both = |label: &str| [label.to_owned(), label.to_owned()];
        assert_eq!(e_and_ku(vec![form("1", d(2023, 4, 1))]), both(IMPLEMENTED));
        assert_eq!(
            e_and_ku(vec![form("1", d(2024, 10, 2))]),
            both(NOT_IMPLEMENTED)
        );
        // A new version continues the use its first adoption began.
        let moved = vec![
            form("1", d(2022, 4, 1)),
            form("2", d(2023, 4, 1)),
            end(Lasting::UnifiedForm, "f1", d(2024, 3, 31)),
        ];
        assert_eq!(e_and_ku(moved), both(NOT_IMPLEMENTED));

        let join = |on| Op::JoinLiaison {
            id: "l1".into(),
            on,
        };
        assert_eq!(status(vec![join(d(2024, 10, 1))], item::KU), IMPLEMENTED);
        let left_before = vec![
            join(d(2023, 4, 1)),
            end(Lasting::Liaison, "l1", d(2024, 3, 31)),
        ];
        assert_eq!(status(left_before, item::KU), NOT_IMPLEMENTED);
    }

    #[test]
    fn times_recorded_tells_an_end_from_its_start_and_one_version_from_another() {
        let events = [
            json!({"arrangements": {"ArrangementEstablished": {"id": "a1"}}}),
            json!({"arrangements": {"ArrangementEnded": {"id": "a1", "last_day": "2024-06-30"}}}),
            json!({"tools": {"ToolRetired": {"id": "a1", "last_day": "2024-06-30"}}}),
            json!({"wide_area": {"UnifiedFormAdopted": {"id": "f1", "version": "1"}}}),
            json!({"wide_area": {"UnifiedFormAdopted": {"id": "f1", "version": "2"}}}),
            json!({"wide_area": {"UnifiedFormAdopted": {"id": "f1", "version": "2"}}}),
        ];
        let form = |version: &str| Op::AdoptUnifiedForm {
            id: "f1".into(),
            version: version.into(),
            on: d(2024, 5, 1),
        };
        let ops = vec![
            arrangement(d(2023, 4, 1), None),
            end(Lasting::Arrangement, "a1", d(2024, 6, 30)),
            form("1"),
            form("2"),
            end(Lasting::Arrangement, "a2", d(2024, 6, 30)),
        ];
        let times: Vec<usize> = steps(ops)
            .iter()
            .map(|s| times_recorded(s, &events))
            .collect();
        assert_eq!(times, [1, 1, 1, 2, 0]);
    }

    /// Asserts that the node accepts every step after those before it, as far as its refusals
    /// go that the load could run into (a refused step would be retried for ever).
    fn assert_accepted(steps: &[Step]) {
        let fiscal_year = |day: NaiveDate| {
            let year = u32::try_from(day.year()).expect("a year of our era");
            if day.month() >= 4 { year } else { year - 1 }
        };
        let mut resources = 0;
        let mut meetings = BTreeSet::new();
        // First day and last day (fixed or ended) of what is in force.
        let mut periods: BTreeMap<(Lasting, &str), (NaiveDate, Option<NaiveDate>)> =
            BTreeMap::new();
        // The day of the latest version of each tool and form.
        let mut versions: BTreeMap<&str, NaiveDate> = BTreeMap::new();
        // The day each planned activity was decided.
        let mut plans: BTreeMap<&str, NaiveDate> = BTreeMap::new();
        for step in steps {
            let accepted = match &step.op {
                Op::RegisterResource { .. } => {
                    resources += 1;
                    true
                }
                Op::PublishList { .. } => resources > 0,
                Op::ConductSurvey { .. }
                | Op::HoldTraining { .. }
                | Op::RecordAwareness { .. }
                | Op::AttendWideAreaMeeting { .. } => true,
                Op::HoldMeeting { id, .. } => meetings.insert(id.as_str()),
                Op::RecordFinding { meeting, .. } => meetings.contains(meeting.as_str()),
                Op::EstablishArrangement { id, on, until, .. } => {
                    let key = (Lasting::Arrangement, id.as_str());
                    until.is_none_or(|u| u >= *on) && periods.insert(key, (*on, *until)).is_none()
                }
                Op::AdoptTool { id, on, .. } => {
                    versions.insert(id.as_str(), *on);
                    let key = (Lasting::Tool, id.as_str());
                    periods.insert(key, (*on, None)).is_none()
                }
                Op::ReviseTool { id, on, .. } => {
                    let key = (Lasting::Tool, id.as_str());
                    let in_use = matches!(periods.get(&key), Some((_, None)));
                    let latest = versions.insert(id.as_str(), *on);
                    in_use && latest.is_some_and(|latest| *on >= latest)
                }
                Op::OpenDesk { id, on } => {
                    let key = (Lasting::Desk, id.as_str());
                    periods.insert(key, (*on, None)).is_none()
                }
                Op::JoinLiaison { id, on } => {
                    let key = (Lasting::Liaison, id.as_str());
                    periods.insert(key, (*on, None)).is_none()
                }
                Op::AdoptUnifiedForm { id, version, on } => {
                    let key = (Lasting::UnifiedForm, id.as_str());
                    let latest = versions.insert(id.as_str(), *on);
                    if version == "1" {
                        periods.insert(key, (*on, None)).is_none()
                    } else {
                        let in_use = matches!(periods.get(&key), Some((_, None)));
                        in_use && latest.is_some_and(|latest| *on > latest)
                    }
                }
                Op::End { kind, id, last_day } => match periods.get_mut(&(*kind, id.as_str())) {
                    Some((first_day, end)) if end.is_none() && *last_day >= *first_day => {
                        *end = Some(*last_day);
                        true
                    }
                    _ => false,
                },
                Op::ScheduleActivity(plan) => {
                    fiscal_year(plan.scheduled_on) == plan.fiscal_year
                        && plans.insert(&plan.id, plan.planned_on).is_none()
                }
                Op::CancelActivity { id, on, .. } => plans
                    .get(id.as_str())
                    .is_some_and(|planned_on| on >= planned_on),
            };
            let (m, id, op) = (&step.municipality, &step.id, &step.op);
            assert!(accepted, "{m} {id}: the node would refuse {op:?}");
        }
    }

    #[test]
    fn the_load_is_deterministic_and_accepted_and_mixes_the_answers() {
        const STEPS: u64 = 300;
        let mut kinds = BTreeSet::new();
        let mut profiles = BTreeSet::new();
        let mut zones = BTreeSet::new();
        for m in [TOYAMA_CITY, TAKAOKA_CITY, UOZU_CITY] {
            let load: Vec<Step> = (1..=STEPS).map(|n| step(m, n)).collect();
            for (n, s) in (1..=STEPS).zip(&load) {
                assert_eq!(format!("{s:?}"), format!("{:?}", step(m, n)));
            }
            let ids: BTreeSet<&str> = load.iter().map(|s| s.id.as_str()).collect();
            assert_eq!(ids.len(), load.len(), "{m}: step ids repeat");
            assert_accepted(&load);
            for s in &load {
                let (register, event, _, _) = s.op.signature();
                kinds.insert((register, event));
                if let Op::ConductSurvey { on, .. } | Op::HoldTraining { on, .. } = &s.op {
                    zones.insert((*on >= fy_start(), *on > as_of(), *on > fy_end()));
                }
            }
            profiles.insert(format!(
                "{:?}",
                (0..8).map(|i| profile(m, i)).collect::<Vec<_>>()
            ));

            let first_round = expected_statuses(&load[..SLOTS as usize]);
            let last = expected_statuses(&load);
            for label in [IMPLEMENTED, PLANNED, NOT_IMPLEMENTED] {
                assert!(
                    last.iter().any(|s| s == label),
                    "{m}: no {label} in {last:?}"
                );
            }
            assert!(
                (0..8).any(|i| first_round[i] != IMPLEMENTED && last[i] == IMPLEMENTED),
                "{m}: no item implemented late: {first_round:?}, then {last:?}"
            );
        }
        assert_eq!(
            kinds.len(),
            21,
            "every kind of event is recorded: {kinds:?}"
        );
        assert_eq!(
            profiles.len(),
            3,
            "each municipality its own profile: {profiles:?}"
        );
        assert_eq!(
            zones.len(),
            4,
            "days before, in and after the window and the year"
        );
    }
}
