//! Observability across processes on loopback: a loopback OTLP receiver collects the spans of a
//! real `renkei-node` and three `renkei-prefecture` replicas, and one sync batch is one trace —
//! the prefecture's handling of `PushFacts` is a child of the node's `sync_batch` span. The
//! Prometheus endpoints of both serve the named metrics.

use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use renkei_integration_tests::*;
use renkei_proto::v1;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One span as the receiver saw it.
#[derive(Debug, Clone)]
struct Seen {
    service: String,
    name: String,
    trace_id: Vec<u8>,
    span_id: Vec<u8>,
    parent_span_id: Vec<u8>,
}

/// An OTLP/gRPC trace receiver keeping every span in memory.
#[derive(Clone, Default)]
struct Receiver {
    spans: Arc<Mutex<Vec<Seen>>>,
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.spans.lock().unwrap();
        for resource_spans in request.into_inner().resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|r| r.attributes.iter())
                .find(|a| a.key == "service.name")
                .and_then(|a| a.value.as_ref())
                .and_then(|v| match &v.value {
                    Some(Value::StringValue(s)) => Some(s.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            for scope in resource_spans.scope_spans {
                for span in scope.spans {
                    spans.push(Seen {
                        service: service.clone(),
                        name: span.name,
                        trace_id: span.trace_id,
                        span_id: span.span_id,
                        parent_span_id: span.parent_span_id,
                    });
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

async fn start_receiver() -> (Receiver, String) {
    let receiver = Receiver::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let service = TraceServiceServer::new(receiver.clone());
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(tokio_stream_incoming(listener)),
    );
    (receiver, format!("http://{address}"))
}

fn tokio_stream_incoming(
    listener: tokio::net::TcpListener,
) -> impl futures::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    futures::stream::unfold(listener, |listener| async move {
        let accepted = listener.accept().await.map(|(stream, _)| stream);
        Some((accepted, listener))
    })
}

async fn scrape(address: &str) -> String {
    let mut conn = tokio::net::TcpStream::connect(address).await.unwrap();
    conn.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut body = String::new();
    conn.read_to_string(&mut body).await.unwrap();
    body
}

/// The names of the metrics a scrape shows (sample lines, labels and suffixes cut).
fn names(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with("renkei_"))
        .map(|l| l.split(['{', ' ']).next().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_sync_batch_is_one_trace_across_node_and_prefecture_and_metrics_are_served() {
    let (receiver, endpoint) = start_receiver().await;
    let extra = format!("otlp_endpoint = \"{endpoint}\"\nmetrics_listen = \"127.0.0.1:0\"");
    let cluster = Cluster::start_with(3, &[TOYAMA_CITY, TAKAOKA_CITY], &extra).await;
    let node = Node::start_with(cluster.addresses(), &extra);
    record_activities(&node, TOYAMA_CITY, "a", 0..5).await;
    wait_until("5 facts acknowledged", || async {
        node.sync_state(TOYAMA_CITY).await.acknowledged == 5 + PARTICIPATION_FACTS
    })
    .await;

    // A trace holding the node's batch span and, as its child, the prefecture's PushFacts call.
    wait_until("a sync batch traced across both processes", || async {
        let spans = receiver.spans.lock().unwrap().clone();
        spans
            .iter()
            .filter(|s| s.service == "renkei-node" && s.name == "sync_batch")
            .any(|batch| {
                spans.iter().any(|s| {
                    s.service == "renkei-prefecture"
                        && s.name.ends_with("/PushFacts")
                        && s.trace_id == batch.trace_id
                        && s.parent_span_id == batch.span_id
                })
            })
    })
    .await;
    let spans = receiver.spans.lock().unwrap().clone();
    let batch = spans
        .iter()
        .find(|s| {
            s.service == "renkei-node"
                && s.name == "sync_batch"
                && spans
                    .iter()
                    .any(|p| p.service == "renkei-prefecture" && p.parent_span_id == s.span_id)
        })
        .unwrap();
    let in_trace: Vec<&Seen> = spans
        .iter()
        .filter(|s| s.trace_id == batch.trace_id)
        .collect();
    assert!(
        in_trace
            .iter()
            .any(|s| s.service == "renkei-prefecture" && s.name == "raft_write"),
        "the Raft write is part of the batch's trace: {in_trace:#?}"
    );
    // Each append to the node's store is a span too.
    assert!(
        spans
            .iter()
            .any(|s| s.service == "renkei-node" && s.name == "append"),
        "every append has a span"
    );
    // The node's own gRPC calls (the recording) are traced too.
    assert!(
        spans
            .iter()
            .any(|s| s.service == "renkei-node" && s.name.ends_with("/RecordAwarenessActivity")),
        "every gRPC call has a span"
    );

    // Metrics: the node's store and sync, the replica's Raft, sync and tally figures.
    let node_metrics = logged_value(
        &node.root.path().join("node.log"),
        "serving metrics",
        "address",
    )
    .await;
    let leader = cluster.wait_for_leader().await;
    let replica_metrics = logged_value(
        &cluster.root.path().join(format!("replica-{leader}.log")),
        "serving metrics",
        "address",
    )
    .await;
    let mut survey = v1::PrefectureSurveyClient::new(cluster.channel(leader).await);
    survey
        .get_tally(with_token(OFFICER_TOKEN, tally_2024()))
        .await
        .unwrap();

    let scraped = names(&scrape(&node_metrics).await);
    for name in [
        "renkei_store_append_seconds",
        "renkei_store_group_commit_appends",
        "renkei_store_fsync_seconds",
        "renkei_store_events_appended_total",
        "renkei_sync_lag_facts",
        "renkei_sync_acknowledged",
    ] {
        assert!(
            scraped.iter().any(|n| n.starts_with(name)),
            "the node serves {name}: {scraped:?}"
        );
    }
    // The replica that served the writes may have lost its leadership since (a loaded machine
    // can see an election): the Raft write histogram is looked for on every replica.
    let mut scraped = names(&scrape(&replica_metrics).await);
    for id in cluster.ids() {
        let address = logged_value(
            &cluster.root.path().join(format!("replica-{id}.log")),
            "serving metrics",
            "address",
        )
        .await;
        scraped.extend(
            names(&scrape(&address).await)
                .into_iter()
                .filter(|n| n.starts_with("renkei_raft_write_seconds")),
        );
    }
    for name in [
        "renkei_raft_term",
        "renkei_raft_leader_id",
        "renkei_raft_committed_index",
        "renkei_raft_applied_index",
        "renkei_raft_write_seconds",
        "renkei_prefecture_acknowledged",
        "renkei_prefecture_sync_lag_facts",
        "renkei_tally_query_seconds",
    ] {
        assert!(
            scraped.iter().any(|n| n.starts_with(name)),
            "the replica serves {name}: {scraped:?}"
        );
    }
}
