//! Prometheus metrics of the node, served as text at `GET /metrics` on `metrics_listen`.
//!
//! The process installs one `metrics` recorder ([`handle`]); the sync gauges are refreshed from
//! the [`NodeSyncService`] just before each scrape, so they are as fresh as the gRPC answer:
//! - `renkei_sync_produced{municipality}`: the last sequence in the outbox;
//! - `renkei_sync_acknowledged{municipality}`: the prefecture's acknowledged sequence;
//! - `renkei_sync_lag_facts{municipality}` and `renkei_sync_lag_seconds{municipality}`;
//! - `renkei_sync_last_success_timestamp_seconds{municipality}` (0 before the first);
//! - `renkei_sync_failing{municipality}`: 1 while the last exchange failed.
//!
//! The event store records, as it works:
//! - `renkei_store_append_seconds`: an append's latency, from the call to the fsynced answer;
//! - `renkei_store_group_commit_appends`: appends written per group commit (one fsync);
//! - `renkei_store_fsync_seconds`: the time of each group's synced write;
//! - `renkei_store_events_appended_total{municipality}`: events written.

use std::future::Future;

use tokio::net::TcpListener;

pub use renkei_proto::server::metrics::{handle, serve_with};

use crate::grpc::NodeSyncService;

/// Serves `GET /metrics` on `listener` until `shutdown` resolves, refreshing the node's sync
/// gauges before each scrape.
pub async fn serve(
    listener: TcpListener,
    sync: NodeSyncService,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, move || sync.export_gauges(), shutdown).await
}
