//! Down-sync: the items the prefecture publishes for its municipalities (unified form versions,
//! designations) are pulled from a cursor and kept in each tenant's stream [`DOWN_STREAM`], one
//! event per item, its payload the encoded `DownItem` (which carries its cursor). After a restart
//! the puller resumes after the cursor of the tenant's last stored item; an item is appended with
//! the stream's expected version, so it is stored once.

use chrono::Utc;
use prost::Message;
use renkei_proto::MunicipalityCode;
use renkei_proto::v1::{self, DownItemKind};
use tokio::sync::watch;

use super::board::SyncBoard;
use super::push::{Backoff, Prefecture};
use crate::config::SyncConfig;
use crate::store::{Direction, EventId, EventStore, ExpectedVersion, NewEvent, StreamId};

/// The stream of the items a tenant has pulled.
pub const DOWN_STREAM: &str = "sync/down";

fn down_stream() -> StreamId {
    // A literal, valid stream name.
    StreamId::parse("stream", DOWN_STREAM).expect("a valid stream name")
}

/// Returns the tenant's pulled items, oldest first.
pub fn pulled_items(
    store: &EventStore,
    tenant: MunicipalityCode,
) -> Result<Vec<v1::DownItem>, crate::store::StoreError> {
    let (events, _) = store.read_stream(tenant, &down_stream(), 1, Direction::Forward, 100_000)?;
    Ok(events
        .iter()
        .filter_map(|e| v1::DownItem::decode(e.payload.as_slice()).ok())
        .collect())
}

fn event_type(item: &v1::DownItem) -> &'static str {
    match item.kind {
        Some(DownItemKind::Form(_)) => "UnifiedFormPublished",
        Some(DownItemKind::Designation(_)) => "DesignationPublished",
        None => "PrefectureItemPublished",
    }
}

/// Pulls items for every tenant every `pull_interval_ms` until `stop` turns true.
pub async fn run(
    store: EventStore,
    tenants: Vec<MunicipalityCode>,
    config: SyncConfig,
    tls: renkei_proto::tls::ClientTls,
    board: SyncBoard,
    mut stop: watch::Receiver<bool>,
) {
    let mut prefecture = Prefecture::new(&config, tls);
    let mut backoff = Backoff::new();
    let stream = down_stream();
    // Per tenant: the stream's version and the cursor reached (from the last stored item).
    let mut state = Vec::with_capacity(tenants.len());
    for m in &tenants {
        let (last, version) = match store.read_stream(*m, &stream, 0, Direction::Backward, 1) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(municipality = %m, error = %e, "cannot read pulled items");
                return;
            }
        };
        let cursor = last
            .first()
            .and_then(|e| v1::DownItem::decode(e.payload.as_slice()).ok())
            .map_or(0, |i| i.cursor);
        state.push((*m, version, cursor));
    }
    let interval = std::time::Duration::from_millis(config.pull_interval_ms);
    while !*stop.borrow() {
        let mut failed = false;
        for (m, version, cursor) in state.iter_mut() {
            let reply = prefecture
                .pull(v1::PullDownRequest {
                    municipality: m.to_string(),
                    after: *cursor,
                    limit: 100,
                })
                .await;
            let reply = match reply {
                Ok(r) => r,
                Err(e) => {
                    board.failed(*m, &format!("pull: {e}"), Utc::now());
                    failed = true;
                    break;
                }
            };
            if !reply.items.is_empty() {
                let events: Vec<NewEvent> = reply
                    .items
                    .iter()
                    .map(|item| NewEvent {
                        event_id: EventId::new_v7(),
                        event_type: event_type(item).to_owned(),
                        schema_version: 1,
                        occurred_at: Utc::now(),
                        actor: "prefecture".to_owned(),
                        payload: item.encode_to_vec(),
                    })
                    .collect();
                match store
                    .append(*m, stream.clone(), ExpectedVersion::Exact(*version), events)
                    .await
                {
                    Ok(outcome) => *version = outcome.last_stream_version,
                    Err(e) => {
                        tracing::error!(municipality = %m, error = %e, "cannot store pulled items");
                        failed = true;
                        break;
                    }
                }
            }
            *cursor = reply.last_cursor.max(*cursor);
            board.pulled(*m, *cursor, Utc::now());
        }
        if failed {
            if !backoff.wait(&mut stop).await {
                return;
            }
            continue;
        }
        backoff.reset();
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}
