//! The municipal programme's application service: keeps each register's aggregate state in
//! memory ([`registers`]), asks the domain to decide, appends the events with the expected
//! version (deciding again after a failed or concurrent write), answers a town's status from a
//! status board kept current from the log, and answers other queries by folding events. Personal details are sealed here,
//! with the [`KeyVault`], before the domain sees a command.
//!
//! No business rule lives here: every rule is in [`crate::domain`].

pub mod import;
pub mod registers;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};
use renkei_proto::{FiscalYear, MunicipalityCode};

use crate::domain::arrangements::{ArrangementCommand, ArrangementRegister};
use crate::domain::awareness::{AwarenessCommand, AwarenessRegister};
use crate::domain::consultation::{
    CaseAction, ConsultationCommand, ConsultationEvent, ConsultationRegister, PersonalDetails,
    Referrer, Topic,
};
use crate::domain::facts::cycle_fact;
use crate::domain::meetings::{MeetingCommand, MeetingRegister};
use crate::domain::plan::{AnnualPlan, DoneActivity, PlanCommand, SceneProgress};
use crate::domain::resources::{Audience, RegisteredResource, ResourceCommand, ResourceRegistry};
use crate::domain::status::evidence;
use crate::domain::status::{ItemStatus, RecordEvent, StatusBoard, check_as_of};
use crate::domain::tools::{ToolCommand, ToolRegister};
use crate::domain::trainings::{TrainingCommand, TrainingRegister};
use crate::domain::values::{CareScene, CaseId, ResourceId, SubjectId};
use crate::domain::wide_area::{WideAreaCommand, WideAreaRegister};
use crate::domain::{
    Aggregate, DomainError, ProgrammeEvent, decide_in_history, events::SCHEMA_VERSION,
};
use crate::personal::{KeyVault, VaultError};
use crate::store::{
    Direction, EventStore, ExpectedVersion, GlobalPosition, NewEvent, RecordedEvent, StoreError,
    StreamId,
};
use registers::{Folded, Registers};
use renkei_proto::programme::cycle::CycleRecords;

/// The prefix of every programme stream.
pub const STREAM_PREFIX: &str = "programme/";
/// How many events are read per page when folding a stream or the log.
const PAGE: usize = 5_000;
/// The records a page of [`Programme::records`] holds when the caller names no size.
pub const DEFAULT_RECORDS_PAGE: usize = 500;
/// The most records one page of [`Programme::records`] holds.
pub const MAX_RECORDS_PAGE: usize = 1_000;

/// One page of a register's records, in the order they were recorded.
#[derive(Debug)]
pub struct RecordsPage {
    /// Each record with its event (sealed personal details and the raw payload emptied).
    pub records: Vec<(RecordedEvent, ProgrammeEvent)>,
    /// Where the next page starts; `None` when the log holds no more.
    pub next: Option<GlobalPosition>,
}
/// How often a command is decided again after a concurrent write to its stream.
const RETRIES: usize = 8;

/// Why a programme command or query failed.
#[derive(Debug, thiserror::Error)]
pub enum ProgrammeError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Personal(#[from] VaultError),
    /// A stored programme event could not be read back.
    #[error("stream {stream} event {version}: unreadable programme event {event_type}")]
    Unreadable {
        stream: String,
        version: u64,
        event_type: String,
    },
    /// The stream kept changing under the command.
    #[error("stream {0} is being written concurrently; try again")]
    Contended(String),
}

/// A command for one of the programme's aggregates.
#[derive(Debug, Clone, PartialEq)]
pub enum ProgrammeCommand {
    Resources(ResourceCommand),
    Meetings(MeetingCommand),
    Arrangements(ArrangementCommand),
    Tools(ToolCommand),
    Consultation(ConsultationCommand),
    Trainings(TrainingCommand),
    Awareness(AwarenessCommand),
    WideArea(WideAreaCommand),
    Plan(PlanCommand),
}

/// What a command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Executed {
    /// How many events were appended (0 when the command asked for what was recorded already).
    pub events: usize,
    /// The tenant's global position of the last appended event, if any.
    pub last_position: Option<GlobalPosition>,
}

/// A consultation case as a read returns it: personal details only while the subject's key
/// exists.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseView {
    pub id: CaseId,
    pub opened_on: NaiveDate,
    pub referrer: Referrer,
    pub topic: Topic,
    pub actions: Vec<(CaseAction, NaiveDate)>,
    pub closed_on: Option<NaiveDate>,
    pub subject: Option<SubjectId>,
    /// The details in clear; `None` when there are none or the subject is erased.
    pub personal: Option<PersonalDetails>,
    pub erased: bool,
}

/// Counts of consultation cases opened in a fiscal year (no personal data).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsultationStatistics {
    pub cases: u32,
    pub closed: u32,
    pub by_referrer: Vec<(Referrer, u32)>,
    pub by_topic: Vec<(Topic, u32)>,
    pub by_action: Vec<(CaseAction, u32)>,
}

/// Each tenant's status board with the global position of the next event to fold in: the
/// status of a town is read from its board, which takes in only the events recorded since the
/// last answer (the prefecture keeps its boards the same way, from facts). At most
/// [`MAX_BOARDS`] are kept: the least recently used are dropped, to be folded again from the log
/// on their town's next status.
#[derive(Clone, Default)]
struct Boards(Arc<Mutex<BoardMap>>);

type Board = Arc<Mutex<Views>>;

/// What a tenant's events fold into for the views read on every page: the status board, the
/// activities recorded toward care scenes (the 事業計画 page's "done" side), and the position of
/// the next event to fold in.
struct Views {
    status: StatusBoard,
    scened: Vec<(DoneActivity, Vec<CareScene>)>,
    /// The PDCA cycle's records, as the prefecture folds them from the same facts.
    cycle: CycleRecords,
    next: GlobalPosition,
}

impl Default for Views {
    fn default() -> Self {
        Self {
            status: StatusBoard::default(),
            scened: Vec::new(),
            cycle: CycleRecords::default(),
            next: GlobalPosition(1),
        }
    }
}

#[derive(Default)]
struct BoardMap {
    /// Each board with the tick of its last use.
    boards: HashMap<MunicipalityCode, (Board, u64)>,
    clock: u64,
}

/// How many towns' status boards are kept in memory at most.
pub const MAX_BOARDS: usize = 128;

impl Boards {
    /// Returns a tenant's board, empty (to be folded from the first event) on first use.
    fn of(&self, tenant: MunicipalityCode) -> Board {
        // Inserting is atomic: a poisoned map is whole, and is taken over.
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.clock += 1;
        let now = map.clock;
        if !map.boards.contains_key(&tenant) && map.boards.len() >= MAX_BOARDS {
            // Drop the least recently used boards no answer is reading.
            let mut idle: Vec<(u64, MunicipalityCode)> = map
                .boards
                .iter()
                .filter(|(_, (board, _))| Arc::strong_count(board) == 1)
                .map(|(m, (_, used))| (*used, *m))
                .collect();
            idle.sort();
            let excess = map.boards.len() + 1 - MAX_BOARDS;
            for (_, m) in idle.into_iter().take(excess) {
                map.boards.remove(&m);
            }
        }
        let entry = map
            .boards
            .entry(tenant)
            .or_insert_with(|| (Arc::new(Mutex::new(Views::default())), now));
        entry.1 = now;
        entry.0.clone()
    }

    fn len(&self) -> usize {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .boards
            .len()
    }
}

/// The application service; cheap to clone.
#[derive(Clone)]
pub struct Programme {
    store: EventStore,
    vault: KeyVault,
    /// The registers' states, kept current by the commands.
    registers: Registers,
    /// Each tenant's status board, kept current from the log.
    boards: Boards,
}

/// Returns the instant a JST business date begins, as stored in `occurred_at`.
pub fn jst_midnight(date: NaiveDate) -> DateTime<Utc> {
    // UTC+9 is a valid offset, and a naive midnight always maps to one instant at a fixed offset.
    let jst = FixedOffset::east_opt(9 * 3600).expect("UTC+9 is a valid offset");
    jst.from_local_datetime(&date.and_time(chrono::NaiveTime::MIN))
        .single()
        .map_or_else(
            || date.and_time(chrono::NaiveTime::MIN).and_utc(),
            |t| t.with_timezone(&Utc),
        )
}

fn stream(name: &str) -> StreamId {
    // Programme stream names are built from constants and a four-digit year: always valid.
    StreamId::parse("stream", name).expect("programme stream names are valid")
}

macro_rules! register_access {
    ($fn_name:ident, $agg:ty, $variant:ident) => {
        fn $fn_name(e: ProgrammeEvent) -> Option<<$agg as Aggregate>::Event> {
            match e {
                ProgrammeEvent::$variant(e) => Some(e),
                _ => None,
            }
        }
    };
}
register_access!(resources_of, ResourceRegistry, Resources);
register_access!(meetings_of, MeetingRegister, Meetings);
register_access!(arrangements_of, ArrangementRegister, Arrangements);
register_access!(tools_of, ToolRegister, Tools);
register_access!(consultation_of, ConsultationRegister, Consultation);
register_access!(trainings_of, TrainingRegister, Trainings);
register_access!(awareness_of, AwarenessRegister, Awareness);
register_access!(wide_area_of, WideAreaRegister, WideArea);
register_access!(plan_of, AnnualPlan, Plan);

/// The stream of the wide-area register (ク).
const WIDE_AREA_STREAM: &str = "programme/wide-area";

/// Returns the stream of a register.
pub fn stream_of(command: &ProgrammeCommand) -> StreamId {
    let name = match command {
        ProgrammeCommand::Resources(_) => "programme/resources".to_owned(),
        ProgrammeCommand::Meetings(_) => "programme/meetings".to_owned(),
        ProgrammeCommand::Arrangements(_) => "programme/arrangements".to_owned(),
        ProgrammeCommand::Tools(_) => "programme/tools".to_owned(),
        ProgrammeCommand::Consultation(_) => "programme/consultation".to_owned(),
        ProgrammeCommand::Trainings(_) => "programme/trainings".to_owned(),
        ProgrammeCommand::Awareness(_) => "programme/awareness".to_owned(),
        ProgrammeCommand::WideArea(_) => WIDE_AREA_STREAM.to_owned(),
        ProgrammeCommand::Plan(c) => plan_stream_name(plan_year(c)),
    };
    stream(&name)
}

fn plan_stream_name(fy: FiscalYear) -> String {
    format!("programme/plan/{}", fy.year())
}

fn plan_year(c: &PlanCommand) -> FiscalYear {
    match c {
        PlanCommand::ScheduleActivity { fiscal_year, .. }
        | PlanCommand::CancelActivity { fiscal_year, .. }
        | PlanCommand::DefineIndicator { fiscal_year, .. }
        | PlanCommand::RecordMeasurement { fiscal_year, .. }
        | PlanCommand::RecordEvaluation { fiscal_year, .. }
        | PlanCommand::DecideImprovement { fiscal_year, .. } => *fiscal_year,
        // A period's goals are recorded in the plan of its first year.
        PlanCommand::SetSceneGoal { period, .. } => period.first_year(),
    }
}

impl Programme {
    pub fn new(store: EventStore, vault: KeyVault) -> Self {
        Self {
            store,
            vault,
            registers: Registers::default(),
            boards: Boards::default(),
        }
    }

    /// Returns the event store.
    pub fn store(&self) -> &EventStore {
        &self.store
    }

    /// How many registers' states and towns' status boards are kept in memory (at most
    /// [`registers::MAX_LOADED`] and [`MAX_BOARDS`]).
    pub fn in_memory(&self) -> (usize, usize) {
        (self.registers.in_memory(), self.boards.len())
    }

    /// Reads every event of a stream.
    fn read_stream_all(
        &self,
        tenant: MunicipalityCode,
        stream: &StreamId,
    ) -> Result<(Vec<RecordedEvent>, u64), ProgrammeError> {
        let mut all = Vec::new();
        let mut from = 1;
        loop {
            let (page, head) =
                self.store
                    .read_stream(tenant, stream, from, Direction::Forward, PAGE)?;
            let n = page.len();
            all.extend(page);
            if n < PAGE {
                return Ok((all, head));
            }
            from += n as u64;
        }
    }

    /// Decodes a stream's programme events.
    fn decode(recorded: &[RecordedEvent]) -> Result<Vec<ProgrammeEvent>, ProgrammeError> {
        recorded
            .iter()
            .map(|r| {
                ProgrammeEvent::from_payload(r.schema_version, &r.payload).ok_or_else(|| {
                    ProgrammeError::Unreadable {
                        stream: r.stream.to_string(),
                        version: r.stream_version,
                        event_type: r.event_type.clone(),
                    }
                })
            })
            .collect()
    }

    /// Loads the events of an aggregate and the version of its stream.
    fn load_events<A: Aggregate>(
        &self,
        tenant: MunicipalityCode,
        stream: &StreamId,
        select: fn(ProgrammeEvent) -> Option<A::Event>,
    ) -> Result<(Vec<A::Event>, u64), ProgrammeError> {
        let (recorded, head) = self.read_stream_all(tenant, stream)?;
        let events = Self::decode(&recorded)?
            .into_iter()
            .filter_map(select)
            .collect();
        Ok((events, head))
    }

    /// Loads an aggregate and the version of its stream.
    fn load<A: Aggregate>(
        &self,
        tenant: MunicipalityCode,
        stream: &StreamId,
        select: fn(ProgrammeEvent) -> Option<A::Event>,
    ) -> Result<(A, u64), ProgrammeError> {
        let (events, head) = self.load_events::<A>(tenant, stream, select)?;
        Ok((A::from_events(&events), head))
    }

    /// Whether a recorded consultation event is what a retried command would record: personal
    /// details are sealed anew (a fresh nonce) on every request, so they are compared in clear.
    fn same_consultation(
        &self,
        tenant: MunicipalityCode,
        recorded: &ConsultationEvent,
        would: &ConsultationEvent,
    ) -> bool {
        use ConsultationEvent::ConsultationCaseOpened as Opened;
        match (recorded, would) {
            (
                Opened {
                    personal: Some(r), ..
                },
                Opened {
                    personal: Some(w), ..
                },
            ) => {
                let strip = |e: &ConsultationEvent| {
                    let mut e = e.clone();
                    if let Opened { personal, .. } = &mut e {
                        *personal = None;
                    }
                    e
                };
                // Details that cannot be opened (an erased subject) are never the same.
                r.subject == w.subject
                    && strip(recorded) == strip(would)
                    && matches!(
                        (self.vault.unseal(tenant, r), self.vault.unseal(tenant, w)),
                        (Ok(Some(a)), Ok(Some(b))) if a == b
                    )
            }
            _ => recorded == would,
        }
    }

    /// Decides a command against its register's state kept in memory ([`registers`]) — or,
    /// when the command's record is already there, against the register's history (the retry
    /// contract of [`decide_in_history`]) — and appends what it causes with the expected
    /// version of the stream, deciding again after a concurrent write.
    #[allow(clippy::too_many_arguments)]
    async fn run<A>(
        &self,
        tenant: MunicipalityCode,
        actor: &str,
        stream: StreamId,
        command: A::Command,
        select: fn(ProgrammeEvent) -> Option<A::Event>,
        wrap: fn(A::Event) -> ProgrammeEvent,
        same: impl Fn(&A::Event, &A::Event) -> bool,
    ) -> Result<Executed, ProgrammeError>
    where
        A: Aggregate + Send + 'static,
        A::Command: Clone,
        A::Event: Clone,
    {
        let slot = self.registers.slot(tenant, &stream);
        for _ in 0..RETRIES {
            let (pending, n, in_flight) = {
                let mut guard = slot.state.lock().await;
                if slot.take_stale() {
                    *guard = None;
                }
                let key = A::command_key(&command);
                let known = match guard.as_ref().and_then(|b| b.downcast_ref::<Folded<A>>()) {
                    Some(folded) => key.as_ref().is_some_and(|k| folded.keys.contains(k)),
                    None => true,
                };
                let events = if known {
                    // A retry (or the register's first command since start): read the stream as
                    // written, once every queued append of the register is answered.
                    slot.settled().await;
                    let (history, version) = self.load_events::<A>(tenant, &stream, select)?;
                    let events = decide_in_history::<A>(&history, command.clone(), &same);
                    *guard = Some(Box::new(Folded::<A>::new(&history, version)));
                    slot.take_stale();
                    self.registers.loaded(&slot);
                    events?
                } else {
                    let folded = guard
                        .as_ref()
                        .and_then(|b| b.downcast_ref::<Folded<A>>())
                        .expect("the slot holds the register's state: checked above");
                    folded.state.decide(command.clone())?
                };
                if events.is_empty() {
                    return Ok(Executed {
                        events: 0,
                        last_position: None,
                    });
                }
                let folded = guard
                    .as_mut()
                    .and_then(|b| b.downcast_mut::<Folded<A>>())
                    .expect("the slot holds the register's state: loaded above");
                let new: Vec<NewEvent> = events
                    .iter()
                    .map(|e| {
                        let e = wrap(e.clone());
                        NewEvent {
                            occurred_at: jst_midnight(e.occurred_on()),
                            schema_version: SCHEMA_VERSION,
                            ..NewEvent::new(&e.event_type(), actor, e.to_payload())
                        }
                    })
                    .collect();
                let expected = if folded.version == 0 {
                    ExpectedVersion::NoStream
                } else {
                    ExpectedVersion::Exact(folded.version)
                };
                let in_flight = slot.in_flight().await;
                let pending = match self
                    .store
                    .submit(tenant, stream.clone(), expected, new)
                    .await
                {
                    Ok(pending) => pending,
                    Err(e) => return Err(e.into()),
                };
                folded.apply(&events);
                (pending, events.len(), in_flight)
            };
            let outcome = pending.outcome().await;
            drop(in_flight);
            match outcome {
                Ok(outcome) => {
                    return Ok(Executed {
                        events: n,
                        last_position: Some(outcome.last_position),
                    });
                }
                Err(StoreError::WrongExpectedVersion { .. }) => slot.invalidate(),
                Err(e) => {
                    slot.invalidate();
                    return Err(e.into());
                }
            }
        }
        Err(ProgrammeError::Contended(stream.to_string()))
    }

    /// Decides and records a command for `tenant`, on behalf of `actor`.
    pub async fn execute(
        &self,
        tenant: MunicipalityCode,
        actor: &str,
        command: ProgrammeCommand,
    ) -> Result<Executed, ProgrammeError> {
        let stream = stream_of(&command);
        use ProgrammeCommand as C;
        use ProgrammeEvent as P;
        match command {
            C::Resources(c) => {
                self.run::<ResourceRegistry>(
                    tenant,
                    actor,
                    stream,
                    c,
                    resources_of,
                    P::Resources,
                    PartialEq::eq,
                )
                .await
            }
            C::Meetings(c) => {
                self.run::<MeetingRegister>(
                    tenant,
                    actor,
                    stream,
                    c,
                    meetings_of,
                    P::Meetings,
                    PartialEq::eq,
                )
                .await
            }
            C::Arrangements(c) => {
                self.run::<ArrangementRegister>(
                    tenant,
                    actor,
                    stream,
                    c,
                    arrangements_of,
                    P::Arrangements,
                    PartialEq::eq,
                )
                .await
            }
            C::Tools(c) => {
                self.run::<ToolRegister>(
                    tenant,
                    actor,
                    stream,
                    c,
                    tools_of,
                    P::Tools,
                    PartialEq::eq,
                )
                .await
            }
            C::Consultation(ConsultationCommand::EraseSubject { subject, on }) => {
                self.erase_subject(tenant, actor, subject, on).await
            }
            C::Consultation(c) => {
                if let ConsultationCommand::OpenCase {
                    liaison_agreement: Some(agreement),
                    on,
                    ..
                } = &c
                {
                    // A case handled under an agreement names one the wide-area register has.
                    let (wide, _) = self.load::<WideAreaRegister>(
                        tenant,
                        &self::stream(WIDE_AREA_STREAM),
                        wide_area_of,
                    )?;
                    wide.agreement_in_force("liaison_agreement", agreement, *on)?;
                }
                self.run::<ConsultationRegister>(
                    tenant,
                    actor,
                    stream,
                    c,
                    consultation_of,
                    P::Consultation,
                    |r, w| self.same_consultation(tenant, r, w),
                )
                .await
            }
            C::Trainings(c) => {
                self.run::<TrainingRegister>(
                    tenant,
                    actor,
                    stream,
                    c,
                    trainings_of,
                    P::Trainings,
                    PartialEq::eq,
                )
                .await
            }
            C::Awareness(c) => {
                self.run::<AwarenessRegister>(
                    tenant,
                    actor,
                    stream,
                    c,
                    awareness_of,
                    P::Awareness,
                    PartialEq::eq,
                )
                .await
            }
            C::WideArea(c) => {
                self.run::<WideAreaRegister>(
                    tenant,
                    actor,
                    stream,
                    c,
                    wide_area_of,
                    P::WideArea,
                    PartialEq::eq,
                )
                .await
            }
            C::Plan(c) => {
                self.run::<AnnualPlan>(tenant, actor, stream, c, plan_of, P::Plan, PartialEq::eq)
                    .await
            }
        }
    }

    /// Seals a case's personal details with the subject's key; the domain then decides the case
    /// with the sealed details only.
    pub fn seal(
        &self,
        tenant: MunicipalityCode,
        subject: &SubjectId,
        details: PersonalDetails,
    ) -> Result<crate::domain::consultation::SealedPersonal, ProgrammeError> {
        let details = details.validated()?;
        Ok(self.vault.seal(tenant, subject, &details)?)
    }

    /// Erases a data subject: the domain checks the request, the key is destroyed, then the
    /// erasure is recorded (a retry after a failure in between records it then).
    async fn erase_subject(
        &self,
        tenant: MunicipalityCode,
        actor: &str,
        subject: SubjectId,
        on: NaiveDate,
    ) -> Result<Executed, ProgrammeError> {
        let command = ConsultationCommand::EraseSubject {
            subject: subject.clone(),
            on,
        };
        let stream = stream("programme/consultation");
        let (state, _) = self.load::<ConsultationRegister>(tenant, &stream, consultation_of)?;
        if state.decide(command.clone())?.is_empty() {
            return Ok(Executed {
                events: 0,
                last_position: None,
            });
        }
        self.vault.erase(tenant, &subject)?;
        self.run::<ConsultationRegister>(
            tenant,
            actor,
            stream,
            command,
            consultation_of,
            ProgrammeEvent::Consultation,
            PartialEq::eq,
        )
        .await
    }

    /// Returns every item's status for `fiscal_year` as of `as_of`, from the events recorded at or
    /// before `known_at` when given.
    pub fn status(
        &self,
        tenant: MunicipalityCode,
        fiscal_year: FiscalYear,
        as_of: NaiveDate,
        known_at: Option<DateTime<Utc>>,
    ) -> Result<Vec<ItemStatus>, ProgrammeError> {
        check_as_of(fiscal_year, as_of)?;
        self.views(tenant, |folded| {
            folded.status.status(fiscal_year, as_of, known_at)
        })
    }

    /// Brings the tenant's folded views up to date with the events recorded since the last
    /// read (only those), then reads them with `read`.
    fn views<T>(
        &self,
        tenant: MunicipalityCode,
        read: impl FnOnce(&Views) -> T,
    ) -> Result<T, ProgrammeError> {
        let board = self.boards.of(tenant);
        // A panic while folding leaves at worst events not yet folded in; the position says
        // where to go on, so a poisoned lock is taken over.
        let mut board = board
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Views {
            status,
            scened,
            cycle,
            next,
        } = &mut *board;
        *next = self.for_each_programme_event(tenant, *next, |recorded, event| {
            status.record(recorded.recorded_at, &event);
            for e in evidence(&event) {
                cycle.note_evidence(&e);
            }
            if let ProgrammeEvent::Plan(plan) = &event
                && let Some(fact) = cycle_fact(plan)
                && let Err(e) = cycle.apply_fact(&fact)
            {
                tracing::error!(municipality = %tenant, error = %e, "a plan event does not fold into the cycle");
            }
            if let Some(item) = event.item()
                && !event.scenes().is_empty()
            {
                scened.push((
                    DoneActivity {
                        on: event.occurred_on(),
                        item,
                        kind: recorded.event_type.clone(),
                    },
                    event.scenes().to_vec(),
                ));
            }
        })?;
        Ok(read(&board))
    }

    /// Calls `f` with every programme event of the tenant from global position `from` on, in
    /// recorded order; returns the position after the last event read.
    fn for_each_programme_event(
        &self,
        tenant: MunicipalityCode,
        from: GlobalPosition,
        mut f: impl FnMut(&RecordedEvent, ProgrammeEvent),
    ) -> Result<GlobalPosition, ProgrammeError> {
        self.programme_events_until(tenant, from, PAGE, |r, e| {
            f(r, e);
            true
        })
        .map(|(next, _)| next)
    }

    /// Calls `f` with each readable programme event from `from` on, reading `page` events at a
    /// time, until `f` returns false. Returns the position after the last event looked at and
    /// whether it stopped before the end of the log.
    fn programme_events_until(
        &self,
        tenant: MunicipalityCode,
        mut from: GlobalPosition,
        page_size: usize,
        mut f: impl FnMut(&RecordedEvent, ProgrammeEvent) -> bool,
    ) -> Result<(GlobalPosition, bool), ProgrammeError> {
        loop {
            let page = self.store.read_all(tenant, from, page_size)?;
            let n = page.len();
            for r in &page {
                from = GlobalPosition(r.global_position.get() + 1);
                if !r.stream.as_str().starts_with(STREAM_PREFIX) {
                    continue;
                }
                // An unreadable event is reported and left out, so the other registers still
                // answer; commands on its own register keep refusing with its name (`load`).
                match ProgrammeEvent::from_payload(r.schema_version, &r.payload) {
                    Some(event) => {
                        if !f(r, event) {
                            return Ok((from, true));
                        }
                    }
                    None => tracing::error!(
                        municipality = %tenant,
                        stream = %r.stream,
                        version = r.stream_version,
                        event_type = %r.event_type,
                        "an event of a programme register is unreadable; left out of this answer"
                    ),
                }
            }
            if n < page_size {
                return Ok((from, false));
            }
        }
    }

    /// Returns the registered resources one audience may see, as that audience may see them.
    pub fn resources(
        &self,
        tenant: MunicipalityCode,
        audience: Audience,
    ) -> Result<Vec<(ResourceId, RegisteredResource)>, ProgrammeError> {
        let (registry, _) =
            self.load::<ResourceRegistry>(tenant, &stream("programme/resources"), resources_of)?;
        Ok(registry
            .listed(audience)
            .map(|(id, r)| {
                let mut r = r.clone();
                r.details = r.details.for_audience(audience);
                (id.clone(), r)
            })
            .collect())
    }

    /// Returns a fiscal year's annual plan.
    pub fn plan(
        &self,
        tenant: MunicipalityCode,
        fiscal_year: FiscalYear,
    ) -> Result<AnnualPlan, ProgrammeError> {
        let (plan, _) =
            self.load::<AnnualPlan>(tenant, &stream(&plan_stream_name(fiscal_year)), plan_of)?;
        Ok(plan)
    }

    fn consultation(
        &self,
        tenant: MunicipalityCode,
    ) -> Result<ConsultationRegister, ProgrammeError> {
        Ok(self
            .load::<ConsultationRegister>(
                tenant,
                &stream("programme/consultation"),
                consultation_of,
            )?
            .0)
    }

    /// Returns one case, with the person's details while the subject's key exists.
    pub fn case(&self, tenant: MunicipalityCode, id: &CaseId) -> Result<CaseView, ProgrammeError> {
        let register = self.consultation(tenant)?;
        let case = register
            .cases
            .get(id)
            .ok_or_else(|| DomainError::not_found("consultation case", id))?;
        self.case_view(tenant, &register, id, case, true)
    }

    /// Returns the cases opened in a fiscal year, newest first, without personal details (a
    /// list never shows them; [`Programme::case`] does, to those allowed).
    pub fn cases(
        &self,
        tenant: MunicipalityCode,
        fiscal_year: FiscalYear,
    ) -> Result<Vec<CaseView>, ProgrammeError> {
        let register = self.consultation(tenant)?;
        let mut out = register
            .cases
            .iter()
            .filter(|(_, c)| fiscal_year.contains(c.opened_on))
            .map(|(id, c)| self.case_view(tenant, &register, id, c, false))
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by(|a, b| (b.opened_on, &b.id).cmp(&(a.opened_on, &a.id)));
        Ok(out)
    }

    fn case_view(
        &self,
        tenant: MunicipalityCode,
        register: &ConsultationRegister,
        id: &CaseId,
        case: &crate::domain::consultation::CaseState,
        unseal: bool,
    ) -> Result<CaseView, ProgrammeError> {
        let subject = case.personal.as_ref().map(|p| p.subject.clone());
        let erased = match &subject {
            Some(s) => register.erased.contains_key(s) || self.vault.is_erased(tenant, s)?,
            None => false,
        };
        let personal = match (&case.personal, erased, unseal) {
            (Some(sealed), false, true) => self.vault.unseal(tenant, sealed)?,
            _ => None,
        };
        Ok(CaseView {
            id: id.clone(),
            opened_on: case.opened_on,
            referrer: case.referrer,
            topic: case.topic,
            actions: case.actions.clone(),
            closed_on: case.closed_on,
            subject,
            personal,
            erased,
        })
    }

    /// Returns the records of the tenant's PDCA cycle (goals, indicators, evaluations, the years
    /// with activity), from which the step of any fiscal year is derived.
    pub fn cycle(&self, tenant: MunicipalityCode) -> Result<CycleRecords, ProgrammeError> {
        self.views(tenant, |folded| folded.cycle.clone())
    }

    /// Returns the fiscal year's plan by care scene (場面) as of a 基準日: what was planned toward
    /// each scene, what was recorded toward it, and what is late.
    pub fn plan_by_scene(
        &self,
        tenant: MunicipalityCode,
        fiscal_year: FiscalYear,
        as_of: NaiveDate,
    ) -> Result<Vec<SceneProgress>, ProgrammeError> {
        let plan = self.plan(tenant, fiscal_year)?;
        // From the folded views: only events recorded since the last read are read.
        let mut recorded: Vec<_> = self.views(tenant, |folded| {
            folded
                .scened
                .iter()
                .filter(|(done, _)| fiscal_year.contains(done.on) && done.on <= as_of)
                .cloned()
                .collect()
        })?;
        recorded.sort_by_key(|(d, _)| d.on);
        Ok(plan.by_scene(fiscal_year, as_of, &recorded))
    }

    /// Returns the counts of cases opened in a fiscal year, by referrer, topic and action.
    pub fn consultation_statistics(
        &self,
        tenant: MunicipalityCode,
        fiscal_year: FiscalYear,
    ) -> Result<ConsultationStatistics, ProgrammeError> {
        let register = self.consultation(tenant)?;
        let mut stats = ConsultationStatistics::default();
        let mut by_referrer = std::collections::BTreeMap::new();
        let mut by_topic = std::collections::BTreeMap::new();
        let mut by_action = std::collections::BTreeMap::new();
        for case in register
            .cases
            .values()
            .filter(|c| fiscal_year.contains(c.opened_on))
        {
            stats.cases += 1;
            if case.closed_on.is_some() {
                stats.closed += 1;
            }
            *by_referrer.entry(case.referrer).or_insert(0) += 1;
            *by_topic.entry(case.topic).or_insert(0) += 1;
            for (action, _) in &case.actions {
                *by_action.entry(*action).or_insert(0) += 1;
            }
        }
        stats.by_referrer = by_referrer.into_iter().collect();
        stats.by_topic = by_topic.into_iter().collect();
        stats.by_action = by_action.into_iter().collect();
        Ok(stats)
    }

    /// Returns a page of the recorded events of the tenant's programme streams (optionally one
    /// register, e.g. `meetings` or `plan/2024`) from position `from` on, at most `max_count`
    /// (and never more than [`MAX_RECORDS_PAGE`]), with sealed personal details left out.
    pub fn records(
        &self,
        tenant: MunicipalityCode,
        register: Option<&str>,
        from: GlobalPosition,
        max_count: usize,
    ) -> Result<RecordsPage, ProgrammeError> {
        let wanted = register.map(|r| format!("{STREAM_PREFIX}{r}"));
        let limit = max_count.clamp(1, MAX_RECORDS_PAGE);
        let mut records = Vec::new();
        // Read the log in pages a little larger than the answer: what a caller may ask for is
        // bounded, whatever the town's history.
        let (next, stopped) =
            self.programme_events_until(tenant, from, limit + 1, |r, mut e| {
                if wanted.as_deref().is_some_and(|w| r.stream.as_str() != w) {
                    return true;
                }
                if let ProgrammeEvent::Consultation(ConsultationEvent::ConsultationCaseOpened {
                    personal,
                    ..
                }) = &mut e
                    && let Some(p) = personal
                {
                    p.nonce.clear();
                    p.ciphertext.clear();
                }
                let mut r = r.clone();
                r.payload.clear();
                records.push((r, e));
                records.len() < limit
            })?;
        Ok(RecordsPage {
            records,
            next: stopped.then_some(next),
        })
    }
}
