//! Wire ↔ domain conversions of the event log's messages, both directions.

use renkei_proto::convert::{timestamp_to_utc, utc_to_timestamp};
use renkei_proto::{MunicipalityCode, v1};

use crate::store::{EventId, ExpectedVersion, NewEvent, RecordedEvent, StoreError, StreamId};

/// Parses a request's municipality code, naming the field on failure.
pub fn municipality(value: &str) -> Result<MunicipalityCode, StoreError> {
    value.parse().map_err(|e: renkei_proto::IdError| {
        StoreError::invalid("municipality_code", value, e.to_string())
    })
}

pub fn stream(value: &str) -> Result<StreamId, StoreError> {
    StreamId::parse("stream", value)
}

pub fn expected_version(value: Option<v1::ExpectedVersion>) -> Result<ExpectedVersion, StoreError> {
    use v1::ExpectedVersionKind as K;
    match value.and_then(|v| v.kind) {
        None | Some(K::Any(_)) => Ok(ExpectedVersion::Any),
        Some(K::NoStream(_)) => Ok(ExpectedVersion::NoStream),
        Some(K::Exact(0)) => Err(StoreError::invalid(
            "expected_version.exact",
            0,
            "must be at least 1 (use no_stream for a stream that does not exist)",
        )),
        Some(K::Exact(v)) => Ok(ExpectedVersion::Exact(v)),
    }
}

pub fn new_event(index: usize, e: v1::NewEvent) -> Result<NewEvent, StoreError> {
    let field = |name: &str| format!("events[{index}].{name}");
    let event_id = EventId::parse(&field("event_id"), &e.event_id)?;
    let occurred = e
        .occurred_at
        .ok_or_else(|| StoreError::invalid(field("occurred_at"), "", "is required"))?;
    let occurred_at = timestamp_to_utc(&occurred).ok_or_else(|| {
        StoreError::invalid(
            field("occurred_at"),
            format!("{}s {}ns", occurred.seconds, occurred.nanos),
            "is not a valid timestamp",
        )
    })?;
    Ok(NewEvent {
        event_id,
        event_type: e.r#type,
        schema_version: e.schema_version,
        occurred_at,
        actor: e.actor,
        payload: e.payload,
    })
}

pub fn recorded(e: RecordedEvent) -> v1::RecordedEvent {
    v1::RecordedEvent {
        event_id: e.event_id.to_string(),
        stream: e.stream.to_string(),
        stream_version: e.stream_version,
        global_position: e.global_position.get(),
        r#type: e.event_type,
        schema_version: e.schema_version,
        occurred_at: Some(utc_to_timestamp(e.occurred_at)),
        recorded_at: Some(utc_to_timestamp(e.recorded_at)),
        actor: e.actor,
        payload: e.payload,
        municipality_code: e.tenant.to_string(),
    }
}
