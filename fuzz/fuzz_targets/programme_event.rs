//! Arbitrary bytes as the stored payloads of programme events (`ProgrammeEvent::from_payload`,
//! how the node reads its registers back from the event store): the input split at NUL bytes
//! into up to eight payloads, each read as one event. Never panics; a payload reads only under
//! the schema version it was written with; what reads writes a payload that reads back to the
//! same event and to the same bytes; the event type stored beside it is the payload's variant;
//! the decoded events fold, in order, into their registers (`Aggregate::apply`, which never
//! refuses an event) and into a status board without panicking; every piece of status evidence an
//! event yields travels to the prefecture (`facts_of`, `evidence_from_wire`) and is read there as
//! the same evidence; a dated one makes its item 実施している in its fiscal year, and nothing
//! recorded after an instant counts as known at it.

#![no_main]

use chrono::{DateTime, Duration, Utc};
use libfuzzer_sys::fuzz_target;
use renkei_node::domain::arrangements::ArrangementRegister;
use renkei_node::domain::awareness::AwarenessRegister;
use renkei_node::domain::consultation::ConsultationRegister;
use renkei_node::domain::events::SCHEMA_VERSION;
use renkei_node::domain::facts::{evidence_from_wire, facts_of};
use renkei_node::domain::meetings::MeetingRegister;
use renkei_node::domain::plan::AnnualPlan;
use renkei_node::domain::resources::ResourceRegistry;
use renkei_node::domain::status::{Evidence, evidence};
use renkei_node::domain::tools::ToolRegister;
use renkei_node::domain::trainings::TrainingRegister;
use renkei_node::domain::wide_area::WideAreaRegister;
use renkei_node::domain::{Aggregate, ProgrammeEvent, RecordEvent, StatusBoard, SurveyStatus};
use renkei_proto::FiscalYear;
use renkei_proto::v1::FactKind;

/// One register of each aggregate, folded from the events in the order they came.
#[derive(Default)]
struct Registers {
    resources: ResourceRegistry,
    meetings: MeetingRegister,
    arrangements: ArrangementRegister,
    tools: ToolRegister,
    consultation: ConsultationRegister,
    trainings: TrainingRegister,
    awareness: AwarenessRegister,
    wide_area: WideAreaRegister,
    plan: AnnualPlan,
}

/// Folds `event` into `state` as the programme's registers do (`registers::Folded::apply`):
/// the state takes it in, and its record key, if any, names something.
fn fold<A: Aggregate>(state: &mut A, event: &A::Event) {
    state.apply(event);
    if let Some(key) = A::event_key(event) {
        assert!(!key.what.is_empty() && !key.id.is_empty(), "{key:?}");
    }
}

impl Registers {
    fn apply(&mut self, event: &ProgrammeEvent) {
        use ProgrammeEvent as P;
        match event {
            P::Resources(e) => fold(&mut self.resources, e),
            P::Meetings(e) => fold(&mut self.meetings, e),
            P::Arrangements(e) => fold(&mut self.arrangements, e),
            P::Tools(e) => fold(&mut self.tools, e),
            P::Consultation(e) => fold(&mut self.consultation, e),
            P::Trainings(e) => fold(&mut self.trainings, e),
            P::Awareness(e) => fold(&mut self.awareness, e),
            P::WideArea(e) => fold(&mut self.wide_area, e),
            P::Plan(e) => fold(&mut self.plan, e),
        }
    }
}

/// Reads one stored payload; returns the event if it is one.
fn read(payload: &[u8]) -> Option<ProgrammeEvent> {
    for other in [0, SCHEMA_VERSION + 1, u32::MAX] {
        assert!(ProgrammeEvent::from_payload(other, payload).is_none());
    }
    let event = ProgrammeEvent::from_payload(SCHEMA_VERSION, payload)?;
    let stored = event.to_payload();
    assert!(!stored.is_empty(), "{event:?} writes no payload");
    let back = ProgrammeEvent::from_payload(SCHEMA_VERSION, &stored)
        .unwrap_or_else(|| panic!("{event:?} writes a payload it cannot read"));
    assert_eq!(back, event);
    assert_eq!(
        back.to_payload(),
        stored,
        "the payload of {event:?} is not stable"
    );

    // The payload is {"<aggregate>": {"<EventType>": {…}}} and the stored type is the inner name.
    let value: serde_json::Value = serde_json::from_slice(&stored).expect("a payload is JSON");
    let (aggregate, inner) = value
        .as_object()
        .and_then(|m| m.iter().next())
        .expect("an aggregate's variant");
    let event_type = match inner {
        serde_json::Value::Object(m) => m.keys().next().cloned(),
        serde_json::Value::String(s) => Some(s.clone()),
        _ => None,
    };
    assert_eq!(Some(event.event_type()), event_type);
    assert!(!event.event_type().is_empty());
    // Every register but the annual plan belongs to one item.
    assert_eq!(event.item().is_none(), aggregate == "plan", "{aggregate}");
    let _ = (event.scenes(), event.occurred_on());
    Some(event)
}

fuzz_target!(|data: &[u8]| {
    let events: Vec<ProgrammeEvent> = data.split(|b| *b == 0).take(8).filter_map(read).collect();
    if events.is_empty() {
        return;
    }
    let mut registers = Registers::default();
    let mut board = StatusBoard::default();
    let start: DateTime<Utc> = "2024-04-01T00:00:00Z".parse().expect("an instant");
    let mut dated = Vec::new();
    for (i, event) in events.iter().enumerate() {
        registers.apply(event);
        // Applying an event twice (a replayed page) never refuses either.
        registers.apply(event);
        board.record(start + Duration::seconds(i as i64), event);

        let evidence = evidence(event);
        let facts = facts_of(event);
        assert!(facts.len() >= evidence.len());
        for (e, fact) in evidence.iter().zip(&facts) {
            let FactKind::Evidence(wire) = fact else {
                panic!("fact {fact:?} where evidence {e:?} was due");
            };
            assert_eq!(evidence_from_wire(wire).as_ref(), Ok(e), "{wire:?}");
            if let Evidence::Dated { item, on, .. } = e {
                dated.push((*item, *on));
            }
        }
    }
    for (item, on) in dated {
        let Ok(fy) = FiscalYear::containing(on) else {
            continue;
        };
        assert_eq!(
            board.item_status(item, fy, fy.last_day(), None),
            SurveyStatus::Implemented,
            "{item:?} on {on}"
        );
    }
    // Nothing was recorded before `start`: as known then, no item has evidence.
    let earlier = Some(start - Duration::milliseconds(1));
    let fy = FiscalYear::containing(events[0].occurred_on())
        .unwrap_or(FiscalYear::new(2024).expect("FY2024"));
    for status in board.status(fy, fy.last_day(), earlier) {
        assert_eq!(status.status, SurveyStatus::NotImplemented, "{status:?}");
        assert!(
            status.evidence.is_empty() && status.evidence_count == 0,
            "{status:?}"
        );
    }
});
