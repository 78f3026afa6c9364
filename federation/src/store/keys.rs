//! Column families and key encodings of the replica's database — all of them: prefixes, key
//! builders and key parsers, for the log store and the state machine alike (neither builds a key
//! of its own). Numbers are big-endian so that keys sort in numeric order. Where a retried
//! command's answer is kept is [`RequestKind`].

use renkei_proto::MunicipalityCode;

/// Raft metadata of the log store: vote, committed and last-purged log ids (JSON values).
pub const CF_RAFT_META: &str = "raft_meta";
/// Raft log entries: index (u64 BE) → entry (JSON).
pub const CF_RAFT_LOG: &str = "raft_log";
/// State-machine metadata: last applied log id, membership, retired node ids (JSON values).
pub const CF_SM_META: &str = "sm_meta";
/// Acknowledged sequence per municipality: code (u32 BE) → sequence (u64 BE).
pub const CF_SM_LEDGER: &str = "sm_ledger";
/// Fact payloads: code (u32 BE) ++ sequence (u64 BE) → payload.
pub const CF_SM_FACTS: &str = "sm_facts";
/// Applied request ids: request id (UTF-8) → the write's outcome (JSON).
pub const CF_SM_REQUESTS: &str = "sm_requests";
/// Items published down to the municipalities: `i` ++ cursor (u64 BE) → [`DownRecord`] (JSON);
/// `r` ++ request id → cursor (u64 BE).
///
/// [`DownRecord`]: crate::ledger::DownRecord
pub const CF_SM_DOWN: &str = "sm_down";
/// The tally engine's own records and the prefecture's support activities (JSON values, UTF-8
/// keys): `regions/<kind>/<first FY>` → a region set; `submissions/<FY>/<code>` → the versions;
/// `request/<id>` → a survey command's response, so a retried command takes effect once;
/// `support/activity/<id>` → a support activity; `support/request/<id>` → the response to a
/// `RecordSupportActivity` (see [`support`]).
pub const CF_SM_SURVEY: &str = "sm_survey";
/// The current snapshot: [`SNAPSHOT_META_KEY`] → its meta, [`SNAPSHOT_DATA_KEY`] → its data
/// (JSON).
pub const CF_SM_SNAPSHOT: &str = "sm_snapshot";

/// Every column family, created at open.
pub const ALL_FAMILIES: [&str; 9] = [
    CF_RAFT_META,
    CF_RAFT_LOG,
    CF_SM_META,
    CF_SM_LEDGER,
    CF_SM_FACTS,
    CF_SM_REQUESTS,
    CF_SM_DOWN,
    CF_SM_SURVEY,
    CF_SM_SNAPSHOT,
];

/// The state-machine column families a snapshot replaces.
pub const SM_DATA_FAMILIES: [&str; 6] = [
    CF_SM_META,
    CF_SM_LEDGER,
    CF_SM_FACTS,
    CF_SM_REQUESTS,
    CF_SM_DOWN,
    CF_SM_SURVEY,
];

/// The first byte of a published down item's key in [`CF_SM_DOWN`].
const DOWN_ITEM: u8 = b'i';
/// The first byte of a publication request's key in [`CF_SM_DOWN`].
const DOWN_REQUEST: u8 = b'r';

/// The key of a published down item.
pub fn down_item_key(cursor: u64) -> [u8; 9] {
    let mut key = [DOWN_ITEM; 9];
    key[1..].copy_from_slice(&cursor.to_be_bytes());
    key
}

/// The key remembering which cursor a publication request got.
pub fn down_request_key(request_id: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + request_id.len());
    key.push(DOWN_REQUEST);
    key.extend_from_slice(request_id.as_bytes());
    key
}

/// The kinds of command the state machine makes take effect once per request id, and where each
/// keeps the answer a retry gets. Each kind has its own key space: one id used for two kinds of
/// command is two requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestKind {
    /// `WriteFacts` and each write of a `WriteBatch`: in [`CF_SM_REQUESTS`], the request id
    /// itself → the write's outcome (JSON).
    Facts,
    /// `PublishDown`: in [`CF_SM_DOWN`], [`down_request_key`] → the cursor the item got (u64 BE).
    PublishDown,
    /// `SetRegions`, `SubmitSurvey`, `ReviewSubmission`, `RecordWideAreaMeeting`: in
    /// [`CF_SM_SURVEY`], [`survey::request`] → the command's response (JSON).
    Survey,
    /// `RecordSupportActivity`: in [`CF_SM_SURVEY`], [`support::request`] → the command's
    /// response (JSON).
    Support,
}

impl RequestKind {
    /// The column family the answers of this kind are kept in.
    pub fn family(self) -> &'static str {
        match self {
            RequestKind::Facts => CF_SM_REQUESTS,
            RequestKind::PublishDown => CF_SM_DOWN,
            RequestKind::Survey | RequestKind::Support => CF_SM_SURVEY,
        }
    }

    /// The key of a request id of this kind in [`RequestKind::family`].
    pub fn key(self, request_id: &str) -> Vec<u8> {
        match self {
            RequestKind::Facts => request_id.as_bytes().to_vec(),
            RequestKind::PublishDown => down_request_key(request_id),
            RequestKind::Survey => survey::request(request_id).into_bytes(),
            RequestKind::Support => support::request(request_id).into_bytes(),
        }
    }
}

/// Whether a [`CF_SM_DOWN`] key is a published item's (not a request's).
pub fn is_down_item(key: &[u8]) -> bool {
    key.first() == Some(&DOWN_ITEM)
}

/// The cursor a [`CF_SM_DOWN`] item key encodes, if it is one.
pub fn down_item_cursor(key: &[u8]) -> Option<u64> {
    if is_down_item(key) {
        key.get(1..).and_then(decode_u64)
    } else {
        None
    }
}

/// The key of the stored snapshot's meta in [`CF_SM_SNAPSHOT`].
pub const SNAPSHOT_META_KEY: &[u8] = b"current_meta";
/// The key of the stored snapshot's data in [`CF_SM_SNAPSHOT`].
pub const SNAPSHOT_DATA_KEY: &[u8] = b"current_data";

/// Keys of [`CF_SM_SURVEY`] (UTF-8), by the prefix that names the kind of record.
pub mod survey {
    use renkei_proto::{FiscalYear, MunicipalityCode};

    use crate::regions::RegionSet;

    /// `regions/<kind>/<first FY>` → a [`RegionSet`] (JSON).
    pub const REGIONS: &str = "regions/";
    /// `meetings/<id>` → a [`crate::wide_area::WideAreaMeeting`] (JSON).
    pub const MEETINGS: &str = "meetings/";
    /// `submissions/<FY>/<code>` → the versions, oldest first (JSON).
    pub const SUBMISSIONS: &str = "submissions/";
    /// `request/<id>` → the response of a survey command (JSON).
    pub const REQUEST: &str = "request/";

    /// The key of a region set.
    pub fn regions(set: &RegionSet) -> String {
        format!("{REGIONS}{}/{}", set.kind, set.first_fiscal_year.year())
    }

    /// The key of a wide-area meeting.
    pub fn meeting(id: &str) -> String {
        format!("{MEETINGS}{id}")
    }

    /// The key of a municipality's submissions for a fiscal year.
    pub fn submissions(fiscal_year: FiscalYear, m: MunicipalityCode) -> String {
        format!("{SUBMISSIONS}{}/{m}", fiscal_year.year())
    }

    /// The key of a survey command's response.
    pub fn request(request_id: &str) -> String {
        format!("{REQUEST}{request_id}")
    }
}

/// Keys of the prefecture's support activities in [`CF_SM_SURVEY`] (UTF-8): none begins with a
/// prefix of [`survey`], so the tally engine's rebuilding passes them by.
pub mod support {
    use crate::support::SupportActivityId;

    /// `support/activity/<id>` → a [`crate::support::SupportActivity`] (JSON).
    pub const ACTIVITIES: &str = "support/activity/";
    /// `support/request/<id>` → the response of a `RecordSupportActivity` (JSON).
    pub const REQUEST: &str = "support/request/";

    /// The key of a support activity.
    pub fn activity(id: &SupportActivityId) -> String {
        format!("{ACTIVITIES}{id}")
    }

    /// The key of a `RecordSupportActivity`'s response.
    pub fn request(request_id: &str) -> String {
        format!("{REQUEST}{request_id}")
    }
}

/// A typed metadata key: its name and the type of its JSON value.
pub trait MetaKey {
    const KEY: &'static [u8];
    type Value: serde::Serialize + serde::de::DeserializeOwned;
}

/// Keys of [`CF_RAFT_META`].
pub mod raft_meta {
    use super::MetaKey;
    use crate::types::NodeId;

    /// The last vote (must be on disk before a vote is answered).
    pub struct Vote;
    impl MetaKey for Vote {
        const KEY: &'static [u8] = b"vote";
        type Value = openraft::Vote<NodeId>;
    }

    /// The greatest purged log id, written before the entries are deleted.
    pub struct LastPurged;
    impl MetaKey for LastPurged {
        const KEY: &'static [u8] = b"last_purged";
        type Value = openraft::LogId<NodeId>;
    }

    /// The last committed log id known to this replica.
    pub struct Committed;
    impl MetaKey for Committed {
        const KEY: &'static [u8] = b"committed";
        type Value = Option<openraft::LogId<NodeId>>;
    }
}

/// Keys of [`CF_SM_META`].
pub mod sm_meta {
    use openraft::{BasicNode, StoredMembership};

    use super::MetaKey;
    use crate::types::NodeId;

    /// The log id of the last applied entry, written in the same batch as its effects.
    pub struct LastApplied;
    impl MetaKey for LastApplied {
        const KEY: &'static [u8] = b"last_applied";
        type Value = openraft::LogId<NodeId>;
    }

    /// The last applied membership.
    pub struct Membership;
    impl MetaKey for Membership {
        const KEY: &'static [u8] = b"membership";
        type Value = StoredMembership<NodeId, BasicNode>;
    }

    /// Node ids that were members once and have been removed: they may not join again.
    pub struct Retired;
    impl MetaKey for Retired {
        const KEY: &'static [u8] = b"retired";
        type Value = std::collections::BTreeSet<NodeId>;
    }
}

/// Returns the key of log entry `index`.
pub fn log_key(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

/// Returns the index a log key encodes, if it is 8 bytes long.
pub fn log_index(key: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(key.try_into().ok()?))
}

/// Returns the [`CF_SM_LEDGER`] key of a municipality.
pub fn ledger_key(municipality: MunicipalityCode) -> [u8; 4] {
    municipality.get().to_be_bytes()
}

/// Returns the municipality a [`CF_SM_LEDGER`] or [`CF_SM_FACTS`] key begins with.
pub fn key_municipality(key: &[u8]) -> Option<MunicipalityCode> {
    let n = u32::from_be_bytes(key.get(..4)?.try_into().ok()?);
    MunicipalityCode::from_number(n).ok()
}

/// Returns the sequence a [`CF_SM_FACTS`] key ends with.
pub fn fact_sequence(key: &[u8]) -> Option<u64> {
    key.get(4..).and_then(decode_u64)
}

/// Decodes a big-endian u64 of exactly 8 bytes: a sequence or cursor in a key or a value (the
/// values of [`CF_SM_LEDGER`] and of request keys in [`CF_SM_DOWN`]).
pub fn decode_u64(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

/// Returns the [`CF_SM_FACTS`] key of a municipality's fact.
pub fn fact_key(municipality: MunicipalityCode, sequence: u64) -> [u8; 12] {
    let mut key = [0u8; 12];
    key[..4].copy_from_slice(&municipality.get().to_be_bytes());
    key[4..].copy_from_slice(&sequence.to_be_bytes());
    key
}
