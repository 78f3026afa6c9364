//! Proves the `EventLog` gRPC service, health checking and reflection against the real server on a
//! loopback port: appends and reads round-trip, subscriptions stream live, bad input is answered
//! with INVALID_ARGUMENT / NOT_FOUND naming the field and value, and nothing is written; a
//! shutdown ends live subscriptions and returns cleanly.

mod common;

use std::time::Duration;

use futures::StreamExt;
use renkei_proto::convert::utc_to_timestamp;
use renkei_proto::v1::{self, EventLogClient};
use tokio::sync::oneshot;
use tonic::Code;
use tonic::transport::Channel;

struct Node {
    addr: std::net::SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), renkei_node::server::NodeError>>,
    _dir: tempfile::TempDir,
}

impl Node {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let config = common::node_config(addr, dir.path().join("data"), 1000);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(renkei_node::server::run(config, listener, async move {
            let _ = stopped.await;
        }));
        Self {
            addr,
            stop: Some(stop),
            task,
            _dir: dir,
        }
    }

    async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.addr))
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    async fn client(&self) -> EventLogClient<Channel> {
        EventLogClient::new(self.channel().await)
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .expect("node did not stop")
            .unwrap()
            .unwrap();
    }
}

fn wire_event(n: usize) -> v1::NewEvent {
    v1::NewEvent {
        event_id: uuid::Uuid::now_v7().to_string(),
        r#type: "ConsultationDeskOpened".into(),
        schema_version: 1,
        occurred_at: Some(utc_to_timestamp(chrono::Utc::now())),
        actor: "officer@162019".into(),
        payload: format!("{{\"n\":{n}}}").into_bytes(),
    }
}

fn append(code: &str, stream: &str, events: Vec<v1::NewEvent>) -> v1::AppendRequest {
    v1::AppendRequest {
        municipality_code: code.into(),
        stream: stream.into(),
        expected_version: None,
        events,
    }
}

async fn count_all(client: &mut EventLogClient<Channel>) -> usize {
    client
        .read_all(v1::ReadAllRequest {
            municipality_code: "162019".into(),
            from_position: 1,
            max_count: 0,
        })
        .await
        .unwrap()
        .into_inner()
        .events
        .len()
}

#[tokio::test]
async fn appends_and_reads_back_over_grpc() {
    let node = Node::start().await;
    let mut client = node.client().await;
    let batch = vec![wire_event(1), wire_event(2)];
    let mut req = append("162019", "consultation-desk", batch.clone());
    req.expected_version = Some(v1::ExpectedVersion {
        kind: Some(v1::ExpectedVersionKind::NoStream(v1::Empty {})),
    });
    let out = client.append(req.clone()).await.unwrap().into_inner();
    assert_eq!(
        (out.first_position, out.last_position, out.deduplicated),
        (1, 2, false)
    );

    // The same request again is a retry.
    let again = client.append(req).await.unwrap().into_inner();
    assert!(again.deduplicated);
    assert_eq!((again.first_position, again.last_position), (1, 2));

    let read = client
        .read_stream(v1::ReadStreamRequest {
            municipality_code: "162019".into(),
            stream: "consultation-desk".into(),
            from_version: 1,
            direction: v1::Direction::Forward as i32,
            max_count: 10,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(read.stream_version, 2);
    assert_eq!(read.events.len(), 2);
    assert_eq!(read.events[0].event_id, batch[0].event_id);
    assert_eq!(read.events[1].payload, batch[1].payload);
    assert_eq!(read.events[0].occurred_at, batch[0].occurred_at);
    assert_eq!(read.events[0].municipality_code, "162019");
    assert!(read.events[0].recorded_at.is_some());

    let all = client
        .read_all(v1::ReadAllRequest {
            municipality_code: "162019".into(),
            from_position: 2,
            max_count: 10,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.last_position, 2);
    assert_eq!(all.events.len(), 1);

    let mut wrong = append("162019", "consultation-desk", vec![wire_event(3)]);
    wrong.expected_version = Some(v1::ExpectedVersion {
        kind: Some(v1::ExpectedVersionKind::Exact(1)),
    });
    let err = client.append(wrong).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(
        err.message().contains("actual version 2"),
        "{}",
        err.message()
    );
    node.stop().await;
}

#[tokio::test]
async fn subscriptions_stream_history_then_live_events() {
    let node = Node::start().await;
    let mut client = node.client().await;
    client
        .append(append("162019", "s", (0..3).map(wire_event).collect()))
        .await
        .unwrap();
    let mut sub = client
        .subscribe(v1::SubscribeRequest {
            municipality_code: "162019".into(),
            from_position: 0,
        })
        .await
        .unwrap()
        .into_inner();
    for p in 1..=3 {
        assert_eq!(sub.next().await.unwrap().unwrap().global_position, p);
    }
    client
        .append(append("162019", "s", vec![wire_event(4)]))
        .await
        .unwrap();
    let live = tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(live.global_position, 4);
    // Stopping the node ends the open subscription rather than waiting for it.
    node.stop().await;
    let end = tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .unwrap();
    assert!(end.is_none() || end.unwrap().is_err());
}

#[tokio::test]
async fn health_reports_serving_and_reflection_lists_the_services() {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let node = Node::start().await;
    let mut health = HealthClient::new(node.channel().await);
    for service in ["", "renkei.v1.EventLog"] {
        let status = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner()
            .status;
        assert_eq!(status, ServingStatus::Serving as i32, "service {service:?}");
    }

    let mut reflection = ServerReflectionClient::new(node.channel().await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = reflection
        .server_reflection_info(futures::stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let Some(MessageResponse::ListServicesResponse(list)) =
        responses.next().await.unwrap().unwrap().message_response
    else {
        panic!("not a service list")
    };
    let names: Vec<_> = list.service.into_iter().map(|s| s.name).collect();
    assert!(
        names.contains(&"renkei.v1.EventLog".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"grpc.health.v1.Health".to_string()),
        "{names:?}"
    );
    for served in [
        "renkei.v1.MunicipalProgram",
        "renkei.v1.NodeSync",
        "renkei.v1.Backup",
    ] {
        assert!(names.contains(&served.to_string()), "{served}: {names:?}");
    }
    // the prefecture's services are in the same contract but a node does not serve them
    for not_served in [
        "renkei.v1.RaftService",
        "renkei.v1.ClusterAdmin",
        "renkei.v1.PrefectureSurvey",
        "renkei.v1.PrefectureLedger",
        "renkei.v1.Federation",
    ] {
        assert!(
            !names.contains(&not_served.to_string()),
            "{not_served}: {names:?}"
        );
    }
    node.stop().await;
}

#[tokio::test]
async fn bad_input_names_the_field_and_value_and_writes_nothing() {
    let node = Node::start().await;
    let mut client = node.client().await;

    let cases: Vec<(v1::AppendRequest, Code, &[&str])> = vec![
        (
            append("162018", "s", vec![wire_event(0)]),
            Code::InvalidArgument,
            &["municipality_code", "162018"],
        ),
        (
            append("16201", "s", vec![wire_event(0)]),
            Code::InvalidArgument,
            &["municipality_code", "16201"],
        ),
        // Valid code, not served by this node.
        (
            append("162027", "s", vec![wire_event(0)]),
            Code::NotFound,
            &["162027"],
        ),
        (
            append("162019", "bad stream!", vec![wire_event(0)]),
            Code::InvalidArgument,
            &["stream", "bad stream!"],
        ),
        (
            append("162019", "s", vec![]),
            Code::InvalidArgument,
            &["events"],
        ),
        (
            {
                let mut e = wire_event(0);
                e.payload = vec![b'x'; 1001];
                append("162019", "s", vec![wire_event(1), e])
            },
            Code::InvalidArgument,
            &["events[1].payload", "1001 bytes"],
        ),
        (
            {
                let mut e = wire_event(0);
                e.event_id = "not-a-uuid".into();
                append("162019", "s", vec![e])
            },
            Code::InvalidArgument,
            &["events[0].event_id", "not-a-uuid"],
        ),
        (
            {
                let mut e = wire_event(0);
                e.event_id = "550e8400-e29b-41d4-a716-446655440000".into(); // a UUIDv4
                append("162019", "s", vec![e])
            },
            Code::InvalidArgument,
            &["events[0].event_id", "UUIDv7"],
        ),
        (
            {
                let mut e = wire_event(0);
                e.occurred_at = None;
                append("162019", "s", vec![e])
            },
            Code::InvalidArgument,
            &["events[0].occurred_at"],
        ),
        (
            {
                let mut e = wire_event(0);
                e.schema_version = 0;
                append("162019", "s", vec![e])
            },
            Code::InvalidArgument,
            &["events[0].schema_version"],
        ),
        (
            {
                let mut r = append("162019", "s", vec![wire_event(0)]);
                r.expected_version = Some(v1::ExpectedVersion {
                    kind: Some(v1::ExpectedVersionKind::Exact(0)),
                });
                r
            },
            Code::InvalidArgument,
            &["expected_version.exact"],
        ),
    ];
    for (request, code, needles) in cases {
        let err = client.append(request).await.unwrap_err();
        assert_eq!(err.code(), code, "{}", err.message());
        for needle in needles {
            assert!(
                err.message().contains(needle),
                "{needle:?} not in {:?}",
                err.message()
            );
        }
    }
    assert_eq!(
        count_all(&mut client).await,
        0,
        "a refused append wrote something"
    );

    // Reads refuse bad input the same way.
    let err = client
        .read_all(v1::ReadAllRequest {
            municipality_code: "abc".into(),
            from_position: 1,
            max_count: 1,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("municipality_code"));
    let err = client
        .read_stream(v1::ReadStreamRequest {
            municipality_code: "162019".into(),
            stream: "s".into(),
            from_version: 1,
            direction: 7,
            max_count: 1,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("direction"));
    node.stop().await;
}

#[tokio::test]
async fn a_malformed_message_is_refused() {
    let node = Node::start().await;
    let channel = node.channel().await;
    // Bytes that do not decode as an AppendRequest, sent through a raw unary call.
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let path = http::uri::PathAndQuery::from_static("/renkei.v1.EventLog/Append");
    let err = grpc
        .unary::<Vec<u8>, v1::AppendResponse, _>(
            tonic::Request::new(vec![0x0a, 0xff, 0xff, 0xff]),
            path,
            RawCodec,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(err.message().contains("malformed"), "{}", err.message());
    let mut client = node.client().await;
    assert_eq!(count_all(&mut client).await, 0);
    node.stop().await;
}

/// Sends raw bytes and decodes answers as prost messages.
#[derive(Clone, Default)]
struct RawCodec;

impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = v1::AppendResponse;
    type Encoder = RawEncoder;
    type Decoder =
        <tonic_prost::ProstCodec<Vec<u8>, v1::AppendResponse> as tonic::codec::Codec>::Decoder;
    fn encoder(&mut self) -> Self::Encoder {
        RawEncoder
    }
    fn decoder(&mut self) -> Self::Decoder {
        tonic::codec::Codec::decoder(
            &mut tonic_prost::ProstCodec::<Vec<u8>, v1::AppendResponse>::default(),
        )
    }
}

#[derive(Clone, Default)]
struct RawEncoder;

impl tonic::codec::Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(
        &mut self,
        item: Vec<u8>,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        use bytes::BufMut;
        dst.put_slice(&item);
        Ok(())
    }
}

#[tokio::test]
async fn a_large_page_stops_below_the_message_limit_and_paging_reads_everything() {
    let node = Node::start().await;
    let mut client = node.client().await;
    // 3,000 events of 900 bytes: about 3 MB, more than one answer may carry (about 2 MiB here).
    for batch in 0..3 {
        let events = (0..1000)
            .map(|i| {
                let mut e = wire_event(batch * 1000 + i);
                e.payload = vec![b'x'; 900];
                e
            })
            .collect();
        client
            .append(append("162019", "bulk/1", events))
            .await
            .unwrap();
    }
    let mut positions = Vec::new();
    let mut pages = 0;
    loop {
        let reply = client
            .read_all(v1::ReadAllRequest {
                municipality_code: "162019".into(),
                from_position: positions.last().map_or(1, |p| p + 1),
                max_count: 10_000,
            })
            .await
            .expect("a page within the message limit")
            .into_inner();
        if reply.events.is_empty() {
            break;
        }
        pages += 1;
        positions.extend(reply.events.iter().map(|e| e.global_position));
    }
    assert!(pages > 1, "the first page stopped early");
    assert_eq!(positions, (1..=3000).collect::<Vec<u64>>());
    node.stop().await;
}

#[tokio::test]
async fn the_programme_and_sync_streams_are_reserved_to_the_nodes_own_services() {
    let node = Node::start().await;
    let mut client = node.client().await;
    for stream in [
        "programme/trainings",
        "programme/anything",
        "sync/outbox",
        "sync/down",
    ] {
        let err = client
            .append(append("162019", stream, vec![wire_event(1)]))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{stream}");
        assert!(
            err.message().contains("stream") && err.message().contains(stream),
            "{stream}: {}",
            err.message()
        );
    }
    assert_eq!(count_all(&mut client).await, 0, "nothing was written");
    // Other streams stay open to raw appends.
    client
        .append(append("162019", "imports/2024", vec![wire_event(1)]))
        .await
        .unwrap();
    node.stop().await;
}
