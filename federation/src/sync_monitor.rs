//! What a replica has seen of each municipality's sync — when its node last called, how far it
//! has produced and how far the prefecture acknowledged, its last error — for the sync pages,
//! `GetSyncState` and the metrics. Kept in memory: it describes this replica's conversations;
//! the acknowledged sequences themselves are replicated.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use renkei_proto::MunicipalityCode;
use renkei_proto::convert::utc_to_timestamp;
use renkei_proto::v1;

/// A sync error as heard, with when.
pub(crate) type LastError = (String, DateTime<Utc>);

/// What this replica has seen of each municipality's sync: kept in memory, since it describes
/// this replica's conversations (the acknowledged sequences themselves are replicated).
#[derive(Debug, Default, Clone)]
pub struct SyncMonitor {
    seen: Arc<Mutex<HashMap<MunicipalityCode, Seen>>>,
}

#[derive(Debug, Default, Clone)]
struct Seen {
    last_contact: Option<DateTime<Utc>>,
    produced: u64,
    last_success: Option<DateTime<Utc>>,
    last_error: Option<(String, DateTime<Utc>)>,
    behind_since: Option<DateTime<Utc>>,
}

impl SyncMonitor {
    fn with<R>(&self, f: impl FnOnce(&mut HashMap<MunicipalityCode, Seen>) -> R) -> R {
        f(&mut self.seen.lock().unwrap_or_else(|e| e.into_inner()))
    }

    pub(crate) fn success(
        &self,
        m: MunicipalityCode,
        produced: u64,
        acknowledged: u64,
        now: DateTime<Utc>,
    ) {
        self.with(|seen| {
            let s = seen.entry(m).or_default();
            s.produced = s.produced.max(produced).max(acknowledged);
            s.last_success = Some(now);
            s.last_contact = Some(now);
            s.last_error = None;
            if s.produced > acknowledged {
                s.behind_since.get_or_insert(now);
            } else {
                s.behind_since = None;
            }
        });
    }

    /// Records that a municipality's node was heard from (a pull of items published down).
    pub(crate) fn contact(&self, m: MunicipalityCode, now: DateTime<Utc>) {
        self.with(|seen| seen.entry(m).or_default().last_contact = Some(now));
    }

    /// Returns when this replica last heard from a municipality's node, and its last error.
    pub(crate) fn heard(&self, m: MunicipalityCode) -> (Option<DateTime<Utc>>, Option<LastError>) {
        self.with(|seen| {
            seen.get(&m)
                .map(|s| (s.last_contact, s.last_error.clone()))
                .unwrap_or_default()
        })
    }

    pub(crate) fn error(&self, m: MunicipalityCode, error: &str, now: DateTime<Utc>) {
        self.with(|seen| {
            seen.entry(m).or_default().last_error = Some((error.to_owned(), now));
        });
    }

    pub(crate) fn state(
        &self,
        m: MunicipalityCode,
        acknowledged: u64,
        now: DateTime<Utc>,
    ) -> v1::MunicipalitySyncState {
        let s = self.with(|seen| seen.get(&m).cloned().unwrap_or_default());
        let produced = s.produced.max(acknowledged);
        v1::MunicipalitySyncState {
            municipality: m.to_string(),
            produced,
            acknowledged,
            lag_facts: produced - acknowledged,
            lag_seconds: match s.behind_since {
                Some(t) if produced > acknowledged => (now - t).as_seconds_f64().max(0.0),
                _ => 0.0,
            },
            last_success: s.last_success.map(utc_to_timestamp),
            last_error: s
                .last_error
                .as_ref()
                .map(|e| e.0.clone())
                .unwrap_or_default(),
            last_error_at: s.last_error.map(|e| utc_to_timestamp(e.1)),
            down_cursor: 0,
        }
    }
}
