//! The stored form of an event: a protobuf message, so that fields can be added later without
//! rewriting the log. The global position is the key and is not repeated in the value.

use chrono::{DateTime, Utc};
use prost::Message;
use renkei_proto::MunicipalityCode;

use super::{EventId, GlobalPosition, NewEvent, RecordedEvent, StoreError, StreamId};

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct StoredEvent {
    #[prost(bytes = "vec", tag = "1")]
    pub event_id: Vec<u8>,
    #[prost(string, tag = "2")]
    pub stream: String,
    #[prost(uint64, tag = "3")]
    pub stream_version: u64,
    #[prost(string, tag = "4")]
    pub event_type: String,
    #[prost(uint32, tag = "5")]
    pub schema_version: u32,
    /// Nanoseconds since the Unix epoch.
    #[prost(int64, tag = "6")]
    pub occurred_at: i64,
    /// Nanoseconds since the Unix epoch.
    #[prost(int64, tag = "7")]
    pub recorded_at: i64,
    #[prost(string, tag = "8")]
    pub actor: String,
    #[prost(bytes = "vec", tag = "9")]
    pub payload: Vec<u8>,
}

impl StoredEvent {
    /// Builds the stored form of a validated event (its `occurred_at` fits in i64 nanoseconds).
    pub fn new(event: &NewEvent, stream: &StreamId, stream_version: u64, recorded_at: i64) -> Self {
        Self {
            event_id: event.event_id.as_uuid().as_bytes().to_vec(),
            stream: stream.as_str().to_owned(),
            stream_version,
            event_type: event.event_type.clone(),
            schema_version: event.schema_version,
            occurred_at: event.occurred_at.timestamp_nanos_opt().unwrap_or_default(),
            recorded_at,
            actor: event.actor.clone(),
            payload: event.payload.clone(),
        }
    }

    /// Returns whether `event`, proposed for `stream`, has the same content as this stored one
    /// (everything but the positions and the recorded time).
    pub fn same_content(&self, event: &NewEvent, stream: &StreamId) -> bool {
        self.event_id == event.event_id.as_uuid().as_bytes()
            && self.stream == stream.as_str()
            && self.event_type == event.event_type
            && self.schema_version == event.schema_version
            && Some(self.occurred_at) == event.occurred_at.timestamp_nanos_opt()
            && self.actor == event.actor
            && self.payload == event.payload
    }

    /// Encodes a validated event's stored form straight into `buf`, without building the struct
    /// (the append path's hot loop). Decodes as the [`StoredEvent`] that [`StoredEvent::new`]
    /// would build: the same fields in the same order, as prost writes them.
    pub fn encode_new(
        event: &NewEvent,
        stream: &StreamId,
        stream_version: u64,
        recorded_at: i64,
        buf: &mut Vec<u8>,
    ) {
        let stream = stream.as_str().as_bytes();
        buf.clear();
        // The strings and the payload, plus at most 11 bytes for each of the other fields'
        // keys and values and 6 bytes for each length prefix.
        buf.reserve(
            event.payload.len() + event.event_type.len() + event.actor.len() + stream.len() + 128,
        );
        bytes_field(1, event.event_id.as_uuid().as_bytes(), buf);
        bytes_field(2, stream, buf);
        varint_field(3, stream_version, buf);
        bytes_field(4, event.event_type.as_bytes(), buf);
        varint_field(5, u64::from(event.schema_version), buf);
        // int64 fields are encoded as the two's complement u64 varint.
        let occurred = event.occurred_at.timestamp_nanos_opt().unwrap_or_default();
        varint_field(6, occurred as u64, buf);
        varint_field(7, recorded_at as u64, buf);
        bytes_field(8, event.actor.as_bytes(), buf);
        bytes_field(9, &event.payload, buf);
    }

    pub fn decode_at(key: &[u8], bytes: &[u8]) -> Result<Self, StoreError> {
        Self::decode(bytes).map_err(|e| StoreError::Corrupt {
            key: format!("{key:02x?}"),
            reason: e.to_string(),
        })
    }

    pub fn into_recorded(
        self,
        tenant: MunicipalityCode,
        position: GlobalPosition,
    ) -> RecordedEvent {
        RecordedEvent {
            tenant,
            event_id: EventId::from_stored(&self.event_id),
            stream: StreamId::from_stored(self.stream),
            stream_version: self.stream_version,
            global_position: position,
            event_type: self.event_type,
            schema_version: self.schema_version,
            occurred_at: DateTime::<Utc>::from_timestamp_nanos(self.occurred_at),
            recorded_at: DateTime::<Utc>::from_timestamp_nanos(self.recorded_at),
            actor: self.actor,
            payload: self.payload,
        }
    }
}

/// Protobuf wire types.
const VARINT: u8 = 0;
const LENGTH_DELIMITED: u8 = 2;

/// Writes the key of a field whose tag is below 16 (one byte).
#[inline]
fn key(tag: u8, wire_type: u8, buf: &mut Vec<u8>) {
    debug_assert!(tag < 16);
    buf.push(tag << 3 | wire_type);
}

/// Writes a varint (7 bits per byte, least significant first) with one copy.
#[inline]
fn varint(mut value: u64, buf: &mut Vec<u8>) {
    let mut bytes = [0u8; 10];
    let mut n = 0;
    while value >= 0x80 {
        bytes[n] = value as u8 | 0x80;
        value >>= 7;
        n += 1;
    }
    bytes[n] = value as u8;
    buf.extend_from_slice(&bytes[..=n]);
}

#[inline]
fn varint_field(tag: u8, value: u64, buf: &mut Vec<u8>) {
    key(tag, VARINT, buf);
    varint(value, buf);
}

#[inline]
fn bytes_field(tag: u8, value: &[u8], buf: &mut Vec<u8>) {
    key(tag, LENGTH_DELIMITED, buf);
    varint(value.len() as u64, buf);
    buf.extend_from_slice(value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hot_path_encoding_decodes_as_the_struct() {
        let mut event = NewEvent::new("Tested", "tester", b"payload".to_vec());
        event.occurred_at = DateTime::from_timestamp(-86_400, 5).unwrap();
        let stream = StreamId::parse("stream", "s").unwrap();
        let mut buf = Vec::new();
        StoredEvent::encode_new(&event, &stream, 7, 123, &mut buf);
        let decoded = StoredEvent::decode(buf.as_slice()).unwrap();
        assert_eq!(decoded, StoredEvent::new(&event, &stream, 7, 123));
        // Byte for byte what prost writes, also for long varints and lengths.
        event.payload = vec![7; 300];
        StoredEvent::encode_new(&event, &stream, u64::MAX, -1, &mut buf);
        assert_eq!(
            buf,
            StoredEvent::new(&event, &stream, u64::MAX, -1).encode_to_vec()
        );
    }
}
