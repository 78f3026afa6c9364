//! Staff access to a node over real gRPC on loopback: a call without a token is
//! UNAUTHENTICATED, a viewer reads but may not record (PERMISSION_DENIED, nothing written), an
//! operator records, only an admin takes a backup, and health checking stays open.

mod common;

use std::time::Duration;

use renkei_node::access::{StaffMember, StaffRole, token_digest};
use renkei_proto::v1::{self, BackupClient, EventLogClient, MunicipalProgramClient};
use tonic::Code;
use tonic::transport::Channel;

const CODE: &str = "162019";
const VIEWER: &str = "viewer-token-0123456789abcdefghijklmnop";
const OPERATOR: &str = "operator-token-0123456789abcdefghijklmnop";

fn with_token<T>(token: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

fn awareness(id: &str) -> v1::RecordAwarenessActivityRequest {
    v1::RecordAwarenessActivityRequest {
        municipality_code: CODE.into(),
        actor: "officer-1".into(),
        id: id.into(),
        kind: "lecture".into(),
        title: "講演会".into(),
        audience: "住民".into(),
        on: "2024-10-05".into(),
        attendance: Some(30),
        copies: None,
        scenes: vec![],
    }
}

#[tokio::test]
async fn each_staff_role_may_do_its_part_and_nothing_more() {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut config = common::node_config(addr, dir.path().join("data"), 64 * 1024);
    config.staff = vec![
        StaffMember {
            name: "reader".into(),
            token_digest: token_digest(VIEWER),
            role: StaffRole::Viewer,
        },
        StaffMember {
            name: "coordinator".into(),
            token_digest: token_digest(OPERATOR),
            role: StaffRole::Operator,
        },
    ];
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(renkei_node::server::run(config, listener, async move {
        let _ = stopped.await;
    }));
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut program = MunicipalProgramClient::new(channel.clone());
    let status = || v1::GetStatusRequest {
        municipality_code: CODE.into(),
        fiscal_year: 2024,
        as_of: "2025-03-31".into(),
        known_at: None,
    };

    let err = program.get_status(status()).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
    let err = program
        .get_status(with_token("an-unknown-token-0000", status()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");

    program
        .get_status(with_token(VIEWER, status()))
        .await
        .unwrap();
    let err = program
        .record_awareness_activity(with_token(VIEWER, awareness("a1")))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    assert!(err.message().contains("reader"), "{err:?}");
    let read_all = || v1::ReadAllRequest {
        municipality_code: CODE.into(),
        from_position: 1,
        max_count: 100,
    };
    let mut log = EventLogClient::new(channel.clone());
    let events = log
        .read_all(with_token(VIEWER, read_all()))
        .await
        .unwrap()
        .into_inner()
        .events;
    // The outbox (`sync/…`) opens with the municipality's participation fact on its own.
    assert!(
        events.iter().all(|e| e.stream.starts_with("sync/")),
        "nothing written by a refused call: {events:?}"
    );

    program
        .record_awareness_activity(with_token(OPERATOR, awareness("a1")))
        .await
        .unwrap();
    let events = log
        .read_all(with_token(OPERATOR, read_all()))
        .await
        .unwrap()
        .into_inner()
        .events;
    assert!(!events.is_empty());
    // The audit trail names who signed in: the client's `actor` ("officer-1") only adds a
    // display name, and a raw append cannot claim another name either.
    let mut unnamed = awareness("a2");
    unnamed.actor = String::new();
    program
        .record_awareness_activity(with_token(OPERATOR, unnamed))
        .await
        .unwrap();
    let mut forged = v1::NewEvent {
        event_id: "0190a0b0-0000-7000-8000-000000000001".into(),
        r#type: "Note".into(),
        schema_version: 1,
        occurred_at: None,
        actor: "reader".into(),
        payload: b"{}".to_vec(),
    };
    forged.occurred_at = events[0].occurred_at;
    log.append(with_token(
        OPERATOR,
        v1::AppendRequest {
            municipality_code: CODE.into(),
            stream: "notes".into(),
            expected_version: None,
            events: vec![forged],
        },
    ))
    .await
    .unwrap();
    let actors: Vec<String> = log
        .read_all(with_token(OPERATOR, read_all()))
        .await
        .unwrap()
        .into_inner()
        .events
        .into_iter()
        .filter(|e| !e.stream.starts_with("sync/"))
        .map(|e| e.actor)
        .collect();
    assert_eq!(
        actors,
        [
            "coordinator（officer-1）",
            "coordinator",
            "coordinator（reader）"
        ]
    );

    let err = BackupClient::new(channel.clone())
        .create_backup(with_token(
            OPERATOR,
            v1::CreateBackupRequest {
                target_dir: dir.path().join("b").display().to_string(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    assert!(!dir.path().join("b").exists());

    // Health checking is open to probes without tokens.
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let reply = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        reply.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(20), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
