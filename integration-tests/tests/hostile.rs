//! Hostile input against a real prefecture replica: malformed bytes, a message of the wrong type,
//! an oversize message and out-of-range values are each answered with the right gRPC code, and
//! nothing is written — the ledger and the applied index stay as they were.

use bytes::{Buf, BufMut};
use prost::Message;
use renkei_integration_tests::*;
use renkei_proto::v1;
use tonic::Code;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;

/// Sends and receives raw bytes, so a test can put anything on the wire.
#[derive(Default, Clone)]
struct RawCodec;

struct RawEncoder;
struct RawDecoder;

impl Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawDecoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, tonic::Status> {
        let bytes = src.copy_to_bytes(src.remaining());
        Ok(Some(bytes.to_vec()))
    }
}

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

async fn raw_call(channel: Channel, path: &'static str, body: Vec<u8>) -> tonic::Status {
    raw_call_as(channel, path, body, Some(NODE_TOKEN)).await
}

/// Sends raw bytes with `token` as the bearer token (none: no `authorization` at all).
async fn raw_call_as(
    channel: Channel,
    path: &'static str,
    body: Vec<u8>,
    token: Option<&str>,
) -> tonic::Status {
    let mut grpc = tonic::client::Grpc::new(channel).max_encoding_message_size(64 * 1024 * 1024);
    grpc.ready().await.unwrap();
    let mut request = tonic::Request::new(body);
    if let Some(token) = token {
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    grpc.unary(
        request,
        http::uri::PathAndQuery::from_static(path),
        RawCodec,
    )
    .await
    .expect_err("hostile input must be refused")
}

/// A UUIDv7 in its text form, as a node writes in `source_event_id`.
fn uuid_like() -> String {
    "01933b6e-5c3a-7cc4-9a1e-2f3c4d5e6f70".into()
}

/// Replica `leader`'s applied index and the ledger of 富山市.
async fn state(cluster: &Cluster, leader: u64) -> (u64, usize) {
    let status = cluster.status(leader).await.unwrap();
    (
        status.applied_index,
        cluster.ledger(TOYAMA_CITY).await.len(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_wrong_typed_oversize_and_out_of_range_requests_are_refused_and_write_nothing() {
    let cluster = Cluster::start(3).await;
    let leader = cluster.wait_for_leader().await;
    let channel = cluster.node_channel(leader).await;
    let before = state(&cluster, leader).await;
    const PUSH: &str = "/renkei.v1.Federation/PushFacts";

    // Malformed protobuf: a field header promising more bytes than follow.
    let err = raw_call(channel.clone(), PUSH, vec![0x0a, 0xff, 0xff, 0x03, 0x01]).await;
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");

    // A message of another type: a tally request sent as a push.
    let wrong = v1::GetTallyRequest {
        fiscal_year: 2024,
        as_of: "2025-03-31".into(),
        known_at: None,
        source: 0,
        consistency: 0,
    }
    .encode_to_vec();
    let err = raw_call(channel.clone(), PUSH, wrong).await;
    assert!(
        matches!(err.code(), Code::InvalidArgument),
        "a tally request is no push: {err:?}"
    );

    // Oversize: a fact of 40 MiB.
    let big = v1::PushFactsRequest {
        request_id: "big".into(),
        facts: vec![v1::Fact {
            municipality: TOYAMA_CITY.into(),
            sequence: 1,
            payload: vec![0u8; 40 * 1024 * 1024],
        }],
        produced: vec![],
    }
    .encode_to_vec();
    let err = raw_call(channel.clone(), PUSH, big).await;
    assert!(
        matches!(
            err.code(),
            Code::ResourceExhausted | Code::OutOfRange | Code::InvalidArgument
        ),
        "{err:?}"
    );

    // Out of range: sequence 0, a code with a wrong check digit, an empty or overlong request id,
    // a payload that is not a fact.
    let mut federation = cluster.federation(leader).await;
    let push = |request_id: &str, municipality: &str, sequence: u64, payload: Vec<u8>| {
        with_token(
            NODE_TOKEN,
            v1::PushFactsRequest {
                request_id: request_id.into(),
                facts: vec![v1::Fact {
                    municipality: municipality.into(),
                    sequence,
                    payload,
                }],
                produced: vec![],
            },
        )
    };
    let fact = v1::FactBody {
        source_event_id: uuid_like(),
        index: 0,
        recorded_at: None,
        source_position: 1,
        kind: Some(v1::FactKind::Consultation(v1::ConsultationTally {
            month: "2024-10".into(),
            referrer: "care_manager".into(),
            topic: "discharge".into(),
            scenes: vec![],
            liaison_agreement: String::new(),
        })),
    }
    .encode_to_vec();
    for (request, naming) in [
        (push("r1", TOYAMA_CITY, 0, fact.clone()), "sequence"),
        (push("r2", "162018", 1, fact.clone()), "162018"),
        (push("", TOYAMA_CITY, 1, fact.clone()), "request_id"),
        (
            push(&"x".repeat(500), TOYAMA_CITY, 1, fact.clone()),
            "request_id",
        ),
        (
            push("r3", TOYAMA_CITY, 1, vec![0xff, 0xff, 0xff]),
            "payload",
        ),
    ] {
        let err = federation.push_facts(request).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
        assert!(
            err.message().contains(naming),
            "the error names {naming}: {err:?}"
        );
    }

    // The survey service: a fiscal year and a date out of range.
    let mut survey = v1::PrefectureSurveyClient::new(channel.clone());
    for (fy, as_of, naming) in [
        (1800, "", "fiscal"),
        (2024, "2026-01-01", "as_of"),
        (2024, "yesterday", "as_of"),
    ] {
        let err = survey
            .get_tally(with_token(
                VIEWER_TOKEN,
                v1::GetTallyRequest {
                    fiscal_year: fy,
                    as_of: as_of.into(),
                    known_at: None,
                    source: 0,
                    consistency: 0,
                },
            ))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
        assert!(
            err.message().contains(naming),
            "the error names {naming}: {err:?}"
        );
    }

    // Nothing was written.
    let after = state(&cluster, leader).await;
    assert_eq!(after, before, "(applied index, ledger length) unchanged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_is_identified_before_its_body_is_read() {
    let cluster = Cluster::start(3).await;
    let leader = cluster.wait_for_leader().await;
    let channel = cluster.node_channel(leader).await;
    let before = state(&cluster, leader).await;
    const PUSH: &str = "/renkei.v1.Federation/PushFacts";
    const TALLY: &str = "/renkei.v1.PrefectureSurvey/GetTally";

    // Without a token, or with one no [[callers]] entry knows, the answer comes from the headers
    // alone: bytes that are no message at all, and 40 MiB that no message may be, are never
    // decoded (a handler would have answered INVALID_ARGUMENT or RESOURCE_EXHAUSTED).
    let malformed = vec![0x0a, 0xff, 0xff, 0x03, 0x01];
    let oversize = vec![0u8; 40 * 1024 * 1024];
    for (token, path, body) in [
        (None, PUSH, malformed.clone()),
        (
            Some("an-unknown-token-0123456789abcdefghij"),
            PUSH,
            malformed.clone(),
        ),
        (None, PUSH, oversize.clone()),
        (None, TALLY, malformed),
        (
            Some("an-unknown-token-0123456789abcdefghij"),
            TALLY,
            oversize,
        ),
    ] {
        let err = raw_call_as(channel.clone(), path, body, token).await;
        assert_eq!(
            err.code(),
            Code::Unauthenticated,
            "{path} {token:?}: {err:?}"
        );
    }
    assert_eq!(state(&cluster, leader).await, before);
}
