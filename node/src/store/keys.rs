//! Column families and key encodings of the event store. Numbers are big-endian so that keys sort
//! in numeric order; every key starts with the tenant's 4-byte municipality code so that tenants
//! never share a key range.

use renkei_proto::MunicipalityCode;

use super::{EventId, GlobalPosition, StreamId};

/// `tenant ‖ global position` → the encoded [`super::codec::StoredEvent`].
pub const CF_EVENTS: &str = "events";
/// `tenant ‖ len(stream) ‖ stream ‖ stream version` → global position (u64).
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

pub fn stream_entry(t: MunicipalityCode, stream: &StreamId, version: u64) -> Vec<u8> {
    let mut k = stream_prefix(t, stream);
    k.extend_from_slice(&version.to_be_bytes());
    k
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
        let mut keys = vec![
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
        assert!(!stream_entry(t, &long, 1).starts_with(&stream_prefix(t, &short)));
    }
}
