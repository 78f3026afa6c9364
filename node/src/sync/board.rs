//! The sync board: per hosted municipality, how far its facts have got — produced by the outbox,
//! acknowledged by the prefecture, the last success and the last error — and the signal that
//! wakes the pusher when new facts are produced. The `NodeSync` gRPC service reads it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use renkei_proto::MunicipalityCode;
use tokio::sync::Notify;

/// What is known of one municipality's sync.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TenantSync {
    /// The last sequence in the outbox.
    pub produced: u64,
    /// The prefecture's acknowledged sequence; `None` until the prefecture has answered once.
    pub acknowledged: Option<u64>,
    pub last_success: Option<DateTime<Utc>>,
    /// The last error since the last success, and when it happened.
    pub last_error: Option<(String, DateTime<Utc>)>,
    /// The down-sync cursor reached.
    pub down_cursor: u64,
}

#[derive(Debug, Default)]
struct Inner {
    tenants: Mutex<BTreeMap<MunicipalityCode, TenantSync>>,
    produced: Notify,
    peer: Mutex<String>,
}

/// The shared sync state of a node; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct SyncBoard {
    inner: Arc<Inner>,
}

impl SyncBoard {
    fn with<R>(&self, f: impl FnOnce(&mut BTreeMap<MunicipalityCode, TenantSync>) -> R) -> R {
        f(&mut self.inner.tenants.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Records the outbox's last sequence and wakes the pusher.
    pub fn produced(&self, tenant: MunicipalityCode, sequence: u64) {
        self.with(|t| t.entry(tenant).or_default().produced = sequence);
        self.inner.produced.notify_one();
    }

    /// Returns a future that resolves when facts are produced after it was enabled (or after the
    /// last wake-up that found no waiter).
    pub fn wait_produced(&self) -> tokio::sync::futures::Notified<'_> {
        self.inner.produced.notified()
    }

    /// Records the prefecture's acknowledged sequence after a successful exchange.
    pub fn acknowledged(&self, tenant: MunicipalityCode, sequence: u64, at: DateTime<Utc>) {
        self.with(|t| {
            let s = t.entry(tenant).or_default();
            s.acknowledged = Some(sequence);
            s.last_success = Some(at);
            s.last_error = None;
        });
    }

    /// Records a failed exchange about `tenant`.
    pub fn failed(&self, tenant: MunicipalityCode, error: &str, at: DateTime<Utc>) {
        self.with(|t| t.entry(tenant).or_default().last_error = Some((error.to_owned(), at)));
    }

    /// Records the down-sync cursor reached.
    pub fn pulled(&self, tenant: MunicipalityCode, cursor: u64, at: DateTime<Utc>) {
        self.with(|t| {
            let s = t.entry(tenant).or_default();
            s.down_cursor = cursor;
            s.last_success = Some(at);
        });
    }

    /// Records which prefecture replica answered last.
    pub fn set_peer(&self, peer: &str) {
        let mut p = self.inner.peer.lock().unwrap_or_else(|e| e.into_inner());
        if *p != peer {
            *p = peer.to_owned();
        }
    }

    pub fn peer(&self) -> String {
        self.inner
            .peer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Returns one tenant's state.
    pub fn get(&self, tenant: MunicipalityCode) -> TenantSync {
        self.with(|t| t.get(&tenant).cloned().unwrap_or_default())
    }

    /// Returns every tenant's state, in code order.
    pub fn all(&self) -> Vec<(MunicipalityCode, TenantSync)> {
        self.with(|t| t.iter().map(|(k, v)| (*k, v.clone())).collect())
    }
}
