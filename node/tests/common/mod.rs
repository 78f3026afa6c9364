//! Helpers shared by the node's integration tests.
#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use renkei_node::store::{EventStore, NewEvent, StoreOptions, StreamId};
use renkei_proto::MunicipalityCode;

/// 富山市.
pub fn toyama() -> MunicipalityCode {
    "162019".parse().unwrap()
}

/// 高岡市.
pub fn takaoka() -> MunicipalityCode {
    "162027".parse().unwrap()
}

pub fn stream(name: &str) -> StreamId {
    StreamId::parse("stream", name).unwrap()
}

pub fn event(n: usize) -> NewEvent {
    NewEvent::new("Tested", "tester", format!("payload {n}").into_bytes())
}

pub fn events(range: std::ops::Range<usize>) -> Vec<NewEvent> {
    range.map(event).collect()
}

/// Opens a store in `dir` hosting 富山市 and 高岡市.
pub async fn open(dir: &std::path::Path) -> EventStore {
    let store = EventStore::open(dir, StoreOptions::default()).unwrap();
    store.add_tenants(&[toyama(), takaoka()]).await.unwrap();
    store
}

/// Polls `predicate` until it holds, failing the test after `timeout`.
pub async fn wait_until<F, Fut>(timeout: Duration, mut predicate: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if predicate().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not reached within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The configuration of a test node serving 富山市 on `listen` from `data_dir`: no sync, no
/// metrics, no traces, open to every caller.
pub fn node_config(
    listen: std::net::SocketAddr,
    data_dir: std::path::PathBuf,
    max_event_bytes: u64,
) -> renkei_node::config::NodeConfig {
    renkei_node::config::NodeConfig {
        listen,
        data_dir,
        municipalities: vec![toyama()],
        max_event_bytes,
        log_format: renkei_node::config::LogFormat::Text,
        master_key_file: None,
        sync: None,
        metrics_listen: None,
        web_listen: None,
        otlp_endpoint: None,
        staff: Vec::new(),
        transport: Default::default(),
    }
}
