//! Column families and key encodings of the event store. Numbers are big-endian so that keys sort
//! in numeric order; every key starts with the tenant's 4-byte municipality code so that tenants
//! never share a key range.

use renkei_proto::MunicipalityCode;

use super::{EventId, GlobalPosition, StreamId};

/// `tenant ‖ global position` → the encoded [`super::codec::StoredEvent`].
pub const CF_EVENTS: &str = "events";
/// `tenant ‖ len(stream) ‖ stream ‖ first stream version` → `first global position (u64) ‖
/// length (u32)`: one run per appended batch, whose events are contiguous in the stream and in
/// the tenant's log. One entry per batch rather than per event keeps appends cheap.
pub const CF_STREAMS: &str = "streams";
/// `tenant ‖ len(stream) ‖ stream` → the stream's current version (u64).
pub const CF_HEADS: &str = "heads";
/// `tenant ‖ event id (16 bytes)` → global position (u64). Kept for ever: it makes retries
/// idempotent however late they come.
pub const CF_EVENT_IDS: &str = "event_ids";
/// `tenant` → empty: the tenants this store hosts.
pub const CF_TENANTS: &str = "tenants";

/// Every column family, for opening the database.
pub const ALL_CFS: [&str; 5] = [CF_EVENTS, CF_STREAMS, CF_HEADS, CF_EVENT_IDS, CF_TENANTS];

/// Returns the 4-byte prefix every key of a tenant starts with.
pub fn tenant(t: MunicipalityCode) -> [u8; 4] {
    t.get().to_be_bytes()
}

/// Returns the first key after every key of the tenant (an exclusive upper bound).
pub fn tenant_end(t: MunicipalityCode) -> [u8; 4] {
    (t.get() + 1).to_be_bytes()
}

pub fn event(t: MunicipalityCode, position: GlobalPosition) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..4].copy_from_slice(&tenant(t));
    k[4..].copy_from_slice(&position.get().to_be_bytes());
    k
}

/// Returns the global position encoded in an event key.
pub fn position_of_event_key(key: &[u8]) -> Option<GlobalPosition> {
    let bytes: [u8; 8] = key.get(4..12)?.try_into().ok()?;
    Some(GlobalPosition(u64::from_be_bytes(bytes)))
}

/// The prefix shared by a stream's head key and all its index keys.
pub fn stream_prefix(t: MunicipalityCode, stream: &StreamId) -> Vec<u8> {
    let s = stream.as_str().as_bytes();
    let mut k = Vec::with_capacity(4 + 1 + s.len() + 8);
    k.extend_from_slice(&tenant(t));
    // Stream ids are at most MAX_STREAM_ID_LEN (200) bytes, so the length fits a byte.
    k.push(s.len() as u8);
    k.extend_from_slice(s);
    k
}

/// Returns the key of the stream run starting at `first_version`.
pub fn stream_run(t: MunicipalityCode, stream: &StreamId, first_version: u64) -> Vec<u8> {
    let mut k = stream_prefix(t, stream);
    k.extend_from_slice(&first_version.to_be_bytes());
    k
}

/// A batch's place in its stream and in the tenant's log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamRun {
    pub first_version: u64,
    pub first_position: u64,
    pub len: u32,
}

pub fn encode_run_value(first_position: u64, len: u32) -> [u8; 12] {
    let mut v = [0u8; 12];
    v[..8].copy_from_slice(&first_position.to_be_bytes());
    v[8..].copy_from_slice(&len.to_be_bytes());
    v
}

/// Decodes a stream run from its key and value.
pub fn decode_run(key: &[u8], value: &[u8]) -> Option<StreamRun> {
    let version: [u8; 8] = key.get(key.len().checked_sub(8)?..)?.try_into().ok()?;
    let position: [u8; 8] = value.get(..8)?.try_into().ok()?;
    let len: [u8; 4] = value.get(8..12)?.try_into().ok()?;
    let run = StreamRun {
        first_version: u64::from_be_bytes(version),
        first_position: u64::from_be_bytes(position),
        len: u32::from_be_bytes(len),
    };
    (run.len > 0 && run.first_version > 0).then_some(run)
}

pub fn head(t: MunicipalityCode, stream: &StreamId) -> Vec<u8> {
    stream_prefix(t, stream)
}

pub fn event_id(t: MunicipalityCode, id: EventId) -> [u8; 20] {
    let mut k = [0u8; 20];
    k[..4].copy_from_slice(&tenant(t));
    k[4..].copy_from_slice(id.as_uuid().as_bytes());
    k
}

/// Returns the tenant a key belongs to.
pub fn tenant_of(key: &[u8]) -> Option<MunicipalityCode> {
    let bytes: [u8; 4] = key.get(..4)?.try_into().ok()?;
    MunicipalityCode::from_number(u32::from_be_bytes(bytes)).ok()
}

/// Returns the event id of an `event_ids` key.
pub fn event_id_of(key: &[u8]) -> Option<EventId> {
    (key.len() == 20).then(|| EventId::from_stored(&key[4..]))
}

/// Decodes a u64 value.
pub fn decode_u64(value: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(value.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_keys_sort_by_tenant_then_position() {
        let a: MunicipalityCode = "162019".parse().unwrap();
        let b: MunicipalityCode = "162027".parse().unwrap();
        let mut keys = [
            event(b, GlobalPosition(1)),
            event(a, GlobalPosition(256)),
            event(a, GlobalPosition(2)),
        ];
        keys.sort();
        assert_eq!(position_of_event_key(&keys[0]), Some(GlobalPosition(2)));
        assert_eq!(position_of_event_key(&keys[1]), Some(GlobalPosition(256)));
        assert!(keys[2].starts_with(&tenant(b)));
        assert!(tenant_end(a).as_slice() > event(a, GlobalPosition(u64::MAX)).as_slice());
    }

    #[test]
    fn one_stream_prefix_is_never_the_prefix_of_another() {
        let t: MunicipalityCode = "162019".parse().unwrap();
        let short = StreamId::parse("s", "ab").unwrap();
        let long = StreamId::parse("s", "abc").unwrap();
        assert!(!stream_run(t, &long, 1).starts_with(&stream_prefix(t, &short)));
    }
}
