//! The outbox (送信待ち): the facts a municipality has produced, kept durably in its own event
//! stream [`OUTBOX_STREAM`] of the store. A fact's sequence is its version in that stream, so the
//! sequence is dense, starts at 1 and never changes.
//!
//! The projector follows the tenant's event log and appends, for each batch of events it reads,
//! the facts they yield ([`facts_of`]) in one atomic append with the expected version of the
//! outbox. Each fact records the log position of its source event; after a restart the projector
//! resumes after the source of the last fact, so no fact is produced twice or skipped (events
//! that yield no fact are simply read again).

use chrono::{DateTime, Utc};
use futures::{FutureExt, StreamExt};
use prost::Message;
use renkei_proto::MunicipalityCode;
use renkei_proto::convert::utc_to_timestamp;
use renkei_proto::v1::{FactBody, FactKind, Participation};
use tokio::sync::watch;

use super::board::SyncBoard;
use crate::domain::ProgrammeEvent;
use crate::domain::facts::facts_of;
use crate::store::{
    Direction, EventId, EventStore, ExpectedVersion, GlobalPosition, NewEvent, RecordedEvent,
    StoreError, StreamId,
};

/// The stream of a tenant's outbox.
pub const OUTBOX_STREAM: &str = "sync/outbox";
/// The event type of an outbox entry.
pub const FACT_EVENT_TYPE: &str = "FactPublished";
/// Source events read per projection step (each yields at most a few facts).
const SOURCE_BATCH: usize = 1_000;

/// Streams under this prefix belong to sync itself and yield no facts.
pub const SYNC_STREAMS: &str = "sync/";

/// The stream where the projection notes how far it has read the log, so that after a restart
/// it does not read again a long run of events that yield no facts (its own facts among them).
pub const PROGRESS_STREAM: &str = "sync/outbox-progress";
/// The type of a progress note; its payload is the global position read through (8 bytes,
/// big-endian).
pub const PROGRESS_EVENT_TYPE: &str = "OutboxProgress";
/// How many events past what facts and notes record the projection reads, its own facts
/// last, before it notes its progress.
const PROGRESS_EVERY: u64 = 256;

fn progress_stream() -> StreamId {
    // A literal, valid stream name.
    StreamId::parse("stream", PROGRESS_STREAM).expect("a valid stream name")
}

fn outbox_stream() -> StreamId {
    // A literal, valid stream name.
    StreamId::parse("stream", OUTBOX_STREAM).expect("a valid stream name")
}

/// One fact waiting in (or sent from) the outbox.
#[derive(Debug, Clone)]
pub struct OutboxFact {
    pub sequence: u64,
    /// The encoded [`FactBody`].
    pub payload: Vec<u8>,
    pub recorded_at: DateTime<Utc>,
}

/// Read access to the tenants' outboxes.
#[derive(Clone)]
pub struct Outbox {
    store: EventStore,
}

impl Outbox {
    pub fn new(store: EventStore) -> Self {
        Self { store }
    }

    /// Returns the sequence of the tenant's last fact (0 before the first).
    pub fn produced(&self, tenant: MunicipalityCode) -> Result<u64, StoreError> {
        let (_, head) =
            self.store
                .read_stream(tenant, &outbox_stream(), 0, Direction::Backward, 0)?;
        Ok(head)
    }

    /// Reads up to `max` facts of a tenant from sequence `from` (inclusive).
    pub fn read(
        &self,
        tenant: MunicipalityCode,
        from: u64,
        max: usize,
    ) -> Result<Vec<OutboxFact>, StoreError> {
        let (events, _) = self.store.read_stream(
            tenant,
            &outbox_stream(),
            from.max(1),
            Direction::Forward,
            max,
        )?;
        Ok(events
            .into_iter()
            .map(|e| OutboxFact {
                sequence: e.stream_version,
                payload: e.payload,
                recorded_at: e.recorded_at,
            })
            .collect())
    }

    /// Returns where the projector resumes: the position after the source of the last fact, and
    /// the outbox's version.
    /// Where a tenant's projection resumes: after the source of its last fact or the position
    /// of its last progress note, whichever is later; and the outbox's version.
    fn resume_point(&self, tenant: MunicipalityCode) -> Result<(GlobalPosition, u64), StoreError> {
        let (last, head) =
            self.store
                .read_stream(tenant, &outbox_stream(), 0, Direction::Backward, 1)?;
        let after_fact = match last.first() {
            None => 0,
            Some(e) => {
                let body =
                    FactBody::decode(e.payload.as_slice()).map_err(|err| StoreError::Corrupt {
                        key: format!("{tenant}/{OUTBOX_STREAM}@{}", e.stream_version),
                        reason: format!("not a fact: {err}"),
                    })?;
                body.source_position
            }
        };
        let (note, _) =
            self.store
                .read_stream(tenant, &progress_stream(), 0, Direction::Backward, 1)?;
        let noted = match note.first() {
            None => 0,
            Some(e) => <[u8; 8]>::try_from(e.payload.as_slice())
                .map(u64::from_be_bytes)
                .map_err(|_| StoreError::Corrupt {
                    key: format!("{tenant}/{PROGRESS_STREAM}@{}", e.stream_version),
                    reason: format!("a progress note of {} bytes, not 8", e.payload.len()),
                })?,
        };
        Ok((GlobalPosition(after_fact.max(noted) + 1), head))
    }
}

/// The facts of a batch of source events, as outbox entries.
fn entries(events: &[RecordedEvent]) -> Vec<NewEvent> {
    let mut out = Vec::new();
    for e in events {
        // Only the programme's registers yield facts: an event of any other stream (sync's own,
        // or one appended through the raw EventLog API) yields none, whatever its payload.
        if !e
            .stream
            .as_str()
            .starts_with(crate::programme::STREAM_PREFIX)
        {
            continue;
        }
        let Some(event) = ProgrammeEvent::from_payload(e.schema_version, &e.payload) else {
            // Unreadable here (written by a newer version, or damaged): skipped and reported,
            // never retried, so the projection goes on with the events after it.
            tracing::error!(
                stream = %e.stream,
                version = e.stream_version,
                position = e.global_position.get(),
                event_type = %e.event_type,
                "an event of a programme register is unreadable; it yields no fact"
            );
            continue;
        };
        for (index, kind) in facts_of(&event).into_iter().enumerate() {
            let body = FactBody {
                source_event_id: e.event_id.to_string(),
                index: index as u32,
                recorded_at: Some(utc_to_timestamp(e.recorded_at)),
                source_position: e.global_position.get(),
                kind: Some(kind),
            };
            if body.encoded_len() > renkei_proto::MAX_FACT_BYTES {
                // The prefecture would refuse it for good: reported here, never queued.
                tracing::error!(
                    stream = %e.stream,
                    version = e.stream_version,
                    bytes = body.encoded_len(),
                    limit = renkei_proto::MAX_FACT_BYTES,
                    "a fact is larger than a prefecture accepts; it is not sent"
                );
                continue;
            }
            out.push(NewEvent {
                event_id: EventId::new_v7(),
                event_type: FACT_EVENT_TYPE.to_owned(),
                schema_version: 1,
                occurred_at: e.occurred_at,
                actor: "outbox".to_owned(),
                payload: body.encode_to_vec(),
            });
        }
    }
    out
}

/// Appends the tenant's first fact, [`Participation`]: the node hosts the municipality and answers
/// for it, so that the prefecture counts it as answering (実施していない where nothing is
/// recorded) rather than as 未回答. Its source position is 0 (it has no source event), so the
/// projection still reads the whole log after it. Returns the outbox's version (1).
async fn take_part(store: &EventStore, tenant: MunicipalityCode) -> Result<u64, StoreError> {
    let now = Utc::now();
    let body = FactBody {
        source_event_id: EventId::new_v7().to_string(),
        index: 0,
        recorded_at: Some(utc_to_timestamp(now)),
        source_position: 0,
        kind: Some(FactKind::Participation(Participation {})),
    };
    let outcome = store
        .append(
            tenant,
            outbox_stream(),
            ExpectedVersion::Exact(0),
            vec![NewEvent {
                event_id: EventId::new_v7(),
                event_type: FACT_EVENT_TYPE.to_owned(),
                schema_version: 1,
                occurred_at: now,
                actor: "outbox".to_owned(),
                payload: body.encode_to_vec(),
            }],
        )
        .await?;
    Ok(outcome.last_stream_version)
}

/// Projects one tenant's events into its outbox until `stop` turns true or the store closes.
/// With `participate` (the node reports to a prefecture), an empty outbox first gets the
/// tenant's participation fact, so that the prefecture hears of the municipality even before
/// anything is recorded; a node with no prefecture writes nothing until activity is recorded (its
/// first fact answers for it once a prefecture is configured, or the participation then).
pub async fn project(
    store: EventStore,
    tenant: MunicipalityCode,
    participate: bool,
    board: SyncBoard,
    mut stop: watch::Receiver<bool>,
) -> Result<(), StoreError> {
    let outbox = Outbox::new(store.clone());
    let (from, mut version) = outbox.resume_point(tenant)?;
    if version == 0 && participate {
        version = take_part(&store, tenant).await?;
    }
    // The last position a fact's source or a progress note records.
    let mut noted = from.get() - 1;
    board.produced(tenant, version);
    let mut events = store.subscribe(tenant, from)?;
    let stream = outbox_stream();
    loop {
        let first = tokio::select! {
            next = events.next() => next,
            _ = stop.wait_for(|s| *s) => return Ok(()),
        };
        let Some(first) = first else {
            return Ok(());
        };
        let mut batch = vec![first?];
        // Take what is ready without waiting: one append for a burst of events.
        while batch.len() < SOURCE_BATCH {
            match events.next().now_or_never() {
                Some(Some(e)) => batch.push(e?),
                _ => break,
            }
        }
        let read_through = batch.last().map_or(0, |e| e.global_position.get());
        let new = entries(&batch);
        if !new.is_empty() {
            let outcome = store
                .append(tenant, stream.clone(), ExpectedVersion::Exact(version), new)
                .await?;
            version = outcome.last_stream_version;
            board.produced(tenant, version);
            noted = batch
                .iter()
                .filter(|e| {
                    e.stream
                        .as_str()
                        .starts_with(crate::programme::STREAM_PREFIX)
                })
                .map(|e| e.global_position.get())
                .max()
                .unwrap_or(noted)
                .max(noted);
        }
        // Every event up to `read_through` is handled (its facts appended above, or none).
        // After a long run of the outbox's own facts, noting it spares a restart from reading
        // them again (a log of other streams only is left as it is: nothing is added to it).
        let only_sync = batch
            .iter()
            .all(|e| e.stream.as_str().starts_with(SYNC_STREAMS));
        if only_sync && read_through >= noted + PROGRESS_EVERY {
            store
                .append(
                    tenant,
                    progress_stream(),
                    ExpectedVersion::Any,
                    vec![NewEvent::new(
                        PROGRESS_EVENT_TYPE,
                        "outbox",
                        read_through.to_be_bytes().to_vec(),
                    )],
                )
                .await?;
            noted = read_through;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::awareness::{AwarenessEvent, AwarenessKind};
    use crate::domain::values::ActivityId;

    fn recorded(stream: &str, position: u64, payload: Vec<u8>) -> RecordedEvent {
        RecordedEvent {
            tenant: "162019".parse().unwrap(),
            event_id: EventId::new_v7(),
            stream: StreamId::parse("stream", stream).unwrap(),
            stream_version: 1,
            global_position: GlobalPosition(position),
            event_type: "AwarenessActivityRecorded".into(),
            schema_version: crate::domain::events::SCHEMA_VERSION,
            occurred_at: Utc::now(),
            recorded_at: Utc::now(),
            actor: "clerk".into(),
            payload,
        }
    }

    /// Issue 20 ⑨, after seeds/000 lines 747–750 (the published table counts 回答数 apart from the
    /// municipalities asked): a municipality the node hosts answers even with nothing recorded —
    /// its outbox opens with one participation fact, written once, so that an honest "all
    /// 実施していない" reaches the prefecture instead of 未回答.
    #[tokio::test]
    async fn a_hosted_municipality_with_nothing_recorded_still_reports() {
        let dir = tempfile::tempdir().unwrap();
        let store = EventStore::open(dir.path(), Default::default()).unwrap();
        let tenant: MunicipalityCode = "162019".parse().unwrap();
        store.add_tenant(tenant).await.unwrap();
        let outbox = Outbox::new(store.clone());
        for _restart in 0..2 {
            let (stop, stopping) = watch::channel(false);
            let task = tokio::spawn(project(
                store.clone(),
                tenant,
                true,
                SyncBoard::default(),
                stopping,
            ));
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            while outbox.produced(tenant).unwrap() < 1 {
                assert!(
                    std::time::Instant::now() < deadline,
                    "no participation fact"
                );
                tokio::task::yield_now().await;
            }
            stop.send(true).unwrap();
            task.await.unwrap().unwrap();
            assert_eq!(outbox.produced(tenant).unwrap(), 1, "written once");
        }
        let (facts, _) = store
            .read_stream(tenant, &outbox_stream(), 1, Direction::Forward, 10)
            .unwrap();
        let body = FactBody::decode(facts[0].payload.as_slice()).unwrap();
        assert_eq!(body.kind, Some(FactKind::Participation(Participation {})));
    }

    /// A long run of the outbox's own facts is noted, so that a restart resumes after it instead
    /// of reading it again; a source recorded while the projection is stopped still yields its
    /// fact; a log of other streams gets no notes.
    #[tokio::test]
    async fn a_restart_resumes_after_the_facts_it_noted() {
        let dir = tempfile::tempdir().unwrap();
        let store = EventStore::open(dir.path(), Default::default()).unwrap();
        let tenant: MunicipalityCode = "162019".parse().unwrap();
        store.add_tenant(tenant).await.unwrap();
        let lecture = |id: String| {
            let e = ProgrammeEvent::Awareness(AwarenessEvent::AwarenessActivityRecorded {
                id: ActivityId::parse("id", &id).unwrap(),
                kind: AwarenessKind::Lecture,
                title: "講演会".into(),
                audience: "市民".into(),
                on: chrono::NaiveDate::from_ymd_opt(2024, 6, 1).unwrap(),
                attendance: Some(80),
                copies: None,
                scenes: vec![],
            });
            NewEvent::new(&e.event_type(), "clerk", e.to_payload())
        };
        let awareness = StreamId::parse("stream", "programme/awareness").unwrap();
        let run = |store: EventStore| {
            let (stop, stopping) = watch::channel(false);
            let task = tokio::spawn(project(store, tenant, true, SyncBoard::default(), stopping));
            (stop, task)
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        // 1,000 events of another stream: no facts, no notes
        let others: Vec<NewEvent> = (0..1_000)
            .map(|i| NewEvent::new("Other", "clerk", vec![i as u8]))
            .collect();
        let other = StreamId::parse("stream", "other/log").unwrap();
        store
            .append(tenant, other, ExpectedVersion::Any, others)
            .await
            .unwrap();
        // then 300 sources at once, their facts after the municipality's participation
        let (stop, task) = run(store.clone());
        let sources: Vec<NewEvent> = (1..=300).map(|i| lecture(format!("k{i}"))).collect();
        store
            .append(tenant, awareness.clone(), ExpectedVersion::Any, sources)
            .await
            .unwrap();
        let outbox = Outbox::new(store.clone());
        let notes = || {
            store
                .read_stream(tenant, &progress_stream(), 1, Direction::Forward, 10)
                .unwrap()
                .0
        };
        while notes().is_empty() {
            assert!(std::time::Instant::now() < deadline, "no progress noted");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        stop.send(true).unwrap();
        task.await.unwrap().unwrap();
        // the municipality's participation, then one fact per source
        assert_eq!(outbox.produced(tenant).unwrap(), 301);
        let last_fact = store
            .read_stream(tenant, &outbox_stream(), 0, Direction::Backward, 1)
            .unwrap()
            .0[0]
            .global_position;
        let (from, _) = outbox.resume_point(tenant).unwrap();
        assert!(
            from > last_fact,
            "resumes at {from:?}, before the facts up to {last_fact:?}"
        );
        // the notes lie after the facts, never among the other stream's events
        assert!(notes().iter().all(|n| n.global_position > last_fact));
        // a source recorded while the projection is stopped yields its fact after the restart
        store
            .append(
                tenant,
                awareness,
                ExpectedVersion::Any,
                vec![lecture("k301".into())],
            )
            .await
            .unwrap();
        let (stop, task) = run(store.clone());
        while outbox.produced(tenant).unwrap() < 302 {
            assert!(
                std::time::Instant::now() < deadline,
                "the fact of k301 is missing"
            );
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        stop.send(true).unwrap();
        task.await.unwrap().unwrap();
        assert_eq!(outbox.produced(tenant).unwrap(), 302);
    }

    #[test]
    fn only_readable_events_of_programme_registers_yield_facts() {
        let lecture = ProgrammeEvent::Awareness(AwarenessEvent::AwarenessActivityRecorded {
            id: ActivityId::parse("id", "k1").unwrap(),
            kind: AwarenessKind::Lecture,
            title: "講演会".into(),
            audience: "市民".into(),
            on: chrono::NaiveDate::from_ymd_opt(2024, 10, 5).unwrap(),
            attendance: Some(80),
            copies: None,
            scenes: vec![],
        })
        .to_payload();
        let events = [
            // a programme event's payload in a foreign stream: no fact
            recorded("imports/2024", 1, lecture.clone()),
            // an unreadable event of a register: skipped, the next one still yields its fact
            recorded("programme/awareness", 2, b"{\"awareness\": 4".to_vec()),
            recorded("programme/awareness", 3, lecture),
        ];
        let out = entries(&events);
        assert_eq!(out.len(), 1, "{out:?}");
        let body = FactBody::decode(out[0].payload.as_slice()).unwrap();
        assert_eq!(body.source_position, 3);
    }
}
