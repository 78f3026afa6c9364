//! Prometheus metrics of a replica, served as text at `GET /metrics` on `metrics_listen` (the
//! endpoint itself is the node's, [`renkei_proto::server::metrics::serve_with`]). Refreshed before each
//! scrape from live state:
//! - `renkei_raft_term`, `renkei_raft_leader_id` (0: none known), `renkei_raft_is_leader`,
//!   `renkei_raft_last_log_index`, `renkei_raft_applied_index`, and on the leader
//!   `renkei_raft_committed_index` (the highest index a majority of voters hold);
//! - `renkei_prefecture_acknowledged{municipality}`: the acknowledged sequence applied here;
//! - `renkei_prefecture_sync_lag_facts{municipality}`,
//!   `renkei_prefecture_sync_lag_seconds{municipality}` and
//!   `renkei_prefecture_sync_last_success_timestamp_seconds{municipality}`: as this replica
//!   heard them from the municipalities' nodes.
//!
//! Recorded as work happens:
//! - `renkei_raft_write_seconds`: a client write from proposal to applied answer;
//! - `renkei_tally_query_seconds`: a tally computed from maintained state.

use renkei_proto::{PrefectureCode, official};

use crate::store::LedgerReader;
use crate::sync_monitor::SyncMonitor;
use crate::types::Raft;

/// Sets the gauges read from live state; called before each scrape.
pub fn refresh(
    raft: &Raft,
    reader: &LedgerReader,
    monitor: &SyncMonitor,
    prefecture: PrefectureCode,
) {
    {
        let m = raft.metrics();
        let m = m.borrow();
        metrics::gauge!("renkei_raft_term").set(m.current_term as f64);
        metrics::gauge!("renkei_raft_leader_id").set(m.current_leader.unwrap_or(0) as f64);
        metrics::gauge!("renkei_raft_is_leader").set(if m.current_leader == Some(m.id) {
            1.0
        } else {
            0.0
        });
        metrics::gauge!("renkei_raft_last_log_index").set(m.last_log_index.unwrap_or(0) as f64);
        if let Some(committed) = quorum_index(&m) {
            metrics::gauge!("renkei_raft_committed_index").set(committed as f64);
        }
        metrics::gauge!("renkei_raft_applied_index")
            .set(m.last_applied.map_or(0, |id| id.index) as f64);
    }
    let now = chrono::Utc::now();
    for municipality in official::municipalities_of(prefecture) {
        let code = municipality.code;
        let acknowledged = reader.acknowledged(code).unwrap_or(0);
        let label = code.to_string();
        metrics::gauge!("renkei_prefecture_acknowledged", "municipality" => label.clone())
            .set(acknowledged as f64);
        let state = monitor.state(code, acknowledged, now);
        metrics::gauge!("renkei_prefecture_sync_lag_facts", "municipality" => label.clone())
            .set(state.lag_facts as f64);
        metrics::gauge!("renkei_prefecture_sync_lag_seconds", "municipality" => label.clone())
            .set(state.lag_seconds);
        metrics::gauge!(
            "renkei_prefecture_sync_last_success_timestamp_seconds",
            "municipality" => label
        )
        .set(state.last_success.map_or(0.0, |t| t.seconds as f64));
    }
}

/// On the leader: the highest log index held by a majority of the voters (what is committed);
/// `None` elsewhere (openraft 0.9 publishes replication progress only on the leader).
fn quorum_index(
    m: &openraft::RaftMetrics<crate::types::NodeId, openraft::BasicNode>,
) -> Option<u64> {
    let replication = m.replication.as_ref()?;
    let mut matched: Vec<u64> = m
        .membership_config
        .membership()
        .voter_ids()
        .map(|id| {
            if id == m.id {
                m.last_log_index.unwrap_or(0)
            } else {
                replication
                    .get(&id)
                    .and_then(|l| l.as_ref())
                    .map_or(0, |l| l.index)
            }
        })
        .collect();
    if matched.is_empty() {
        return None;
    }
    matched.sort_unstable_by(|a, b| b.cmp(a));
    // With v voters, the (v/2 + 1)-th highest index is on a majority.
    matched.get(matched.len() / 2).copied()
}
