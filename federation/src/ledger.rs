//! The prefecture ledger (都道府県台帳): for every municipality of the prefecture, the sequence
//! of facts it has reported, acknowledged strictly in order.
//!
//! This module is the domain core: it decides what a fact does to the ledger and never does I/O.
//! The state machine ([`crate::store`]) persists what it decides.

use renkei_proto::{MunicipalityCode, PrefectureCode};
use serde::{Deserialize, Serialize};

/// The longest request id accepted, in bytes.
pub const MAX_REQUEST_ID_BYTES: usize = 128;

/// One fact as stored in the log and the ledger: the `sequence`-th fact of `municipality`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FactRecord {
    pub municipality: MunicipalityCode,
    pub sequence: u64,
    #[serde(with = "payload_base64")]
    pub payload: Vec<u8>,
}

/// What became of one fact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FactOutcome {
    /// Appended: its sequence was the acknowledged one plus one.
    Applied,
    /// Already acknowledged (sequence at or below the acknowledged one): no effect.
    Duplicate,
    /// Refused: the sequence skips ahead; the municipality must send `acknowledged + 1` first.
    Gap,
    /// Refused: the municipality is not in this prefecture. Clients are refused earlier; this
    /// keeps `apply` deterministic should such a fact reach the log anyway.
    OutsidePrefecture,
}

/// The outcome of one fact and the municipality's acknowledged sequence after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FactResult {
    pub outcome: FactOutcome,
    pub acknowledged: u64,
}

/// The outcome of a whole write, one result per fact in request order. It is stored under the
/// request id so that a retry gets the same answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteOutcome {
    pub results: Vec<FactResult>,
    /// The log index the write was first applied at.
    pub log_index: u64,
    /// True when this answer is the stored outcome of an earlier application of the request id.
    pub deduplicated: bool,
}

/// An item published down to the municipalities (a unified form version, a designation), as
/// stored: its request id makes a retried publication take effect once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DownRecord {
    pub cursor: u64,
    pub request_id: String,
    /// When the leader proposed it (milliseconds since the Unix epoch); part of the log entry,
    /// so every replica stores the same value.
    pub published_at_ms: i64,
    /// The encoded `renkei.v1.DownItem` (without its cursor and publication time).
    #[serde(with = "payload_base64")]
    pub item: Vec<u8>,
}

/// Decides what one fact does, given the municipality's acknowledged sequence.
pub fn decide(prefecture: PrefectureCode, acknowledged: u64, fact: &FactRecord) -> FactResult {
    let outcome = if fact.municipality.prefecture() != prefecture {
        FactOutcome::OutsidePrefecture
    } else if fact.sequence <= acknowledged {
        FactOutcome::Duplicate
    } else if fact.sequence == acknowledged + 1 {
        FactOutcome::Applied
    } else {
        FactOutcome::Gap
    };
    let acknowledged = if outcome == FactOutcome::Applied {
        fact.sequence
    } else {
        acknowledged
    };
    FactResult {
        outcome,
        acknowledged,
    }
}

/// Fact payloads are bytes; the log and snapshots are JSON, where base64 is four times smaller
/// than a list of numbers.
pub(crate) mod payload_base64 {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        STANDARD
            .decode(text.as_bytes())
            .map_err(|e| serde::de::Error::custom(format!("payload is not valid base64: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fact(code: &str, sequence: u64) -> FactRecord {
        FactRecord {
            municipality: code.parse().unwrap(),
            sequence,
            payload: vec![1, 2, 3, 4],
        }
    }

    const TOYAMA: &str = "16";

    #[test]
    fn given_acknowledged_2_when_fact_3_then_applied() {
        let r = decide(TOYAMA.parse().unwrap(), 2, &fact("162019", 3));
        assert_eq!(r.outcome, FactOutcome::Applied);
        assert_eq!(r.acknowledged, 3);
    }

    #[test]
    fn given_acknowledged_2_when_fact_2_then_duplicate_without_effect() {
        let r = decide(TOYAMA.parse().unwrap(), 2, &fact("162019", 2));
        assert_eq!(r.outcome, FactOutcome::Duplicate);
        assert_eq!(r.acknowledged, 2);
    }

    #[test]
    fn given_acknowledged_2_when_fact_4_then_gap_refused() {
        let r = decide(TOYAMA.parse().unwrap(), 2, &fact("162019", 4));
        assert_eq!(r.outcome, FactOutcome::Gap);
        assert_eq!(r.acknowledged, 2);
    }

    #[test]
    fn given_toyama_when_fact_of_tokyo_then_refused() {
        let r = decide(TOYAMA.parse().unwrap(), 0, &fact("131016", 1));
        assert_eq!(r.outcome, FactOutcome::OutsidePrefecture);
    }

    #[test]
    fn payloads_round_trip_through_json() {
        for len in 0..10 {
            let mut f = fact("162019", 1);
            f.payload = (0..len).map(|i| (i * 37 + 200) as u8).collect();
            let json = serde_json::to_string(&f).unwrap();
            assert_eq!(serde_json::from_str::<FactRecord>(&json).unwrap(), f);
        }
    }
}
