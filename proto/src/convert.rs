//! Conversions between wire types and domain types that more than one service needs.

use chrono::{DateTime, Utc};

/// Converts a protobuf timestamp into a UTC instant, if it is within chrono's range and its
/// nanoseconds are valid.
pub fn timestamp_to_utc(ts: &prost_types::Timestamp) -> Option<DateTime<Utc>> {
    let nanos = u32::try_from(ts.nanos).ok()?;
    DateTime::from_timestamp(ts.seconds, nanos)
}

/// Converts a UTC instant into a protobuf timestamp.
pub fn utc_to_timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        // Always below 2e9 (leap seconds included), so it fits an i32.
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_bad_nanos() {
        let t = DateTime::from_timestamp(1_700_000_000, 123_456_789).unwrap();
        assert_eq!(timestamp_to_utc(&utc_to_timestamp(t)), Some(t));
        let bad = prost_types::Timestamp {
            seconds: 0,
            nanos: -1,
        };
        assert_eq!(timestamp_to_utc(&bad), None);
    }
}
