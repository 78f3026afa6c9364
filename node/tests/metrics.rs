//! The Prometheus endpoint over real HTTP on loopback: the sync gauges follow the outbox.

mod common;

use std::time::Duration;

use chrono::NaiveDate;
use renkei_node::domain::ProgrammeEvent;
use renkei_node::domain::awareness::{AwarenessEvent, AwarenessKind};
use renkei_node::domain::values::ActivityId;
use renkei_node::grpc::NodeSyncService;
use renkei_node::store::{ExpectedVersion, NewEvent};
use renkei_node::sync::{self, Outbox, SyncBoard};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn activity(n: u32) -> NewEvent {
    let e = ProgrammeEvent::Awareness(AwarenessEvent::AwarenessActivityRecorded {
        id: ActivityId::parse("id", &format!("a{n}")).unwrap(),
        kind: AwarenessKind::Lecture,
        title: "講演会".into(),
        audience: "住民".into(),
        on: NaiveDate::from_ymd_opt(2024, 10, 5).unwrap(),
        attendance: Some(30),
        copies: None,
        scenes: vec![],
    });
    NewEvent::new(&e.event_type(), "tester", e.to_payload())
}

async fn scrape(address: std::net::SocketAddr) -> String {
    let mut conn = tokio::net::TcpStream::connect(address).await.unwrap();
    conn.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut body = String::new();
    conn.read_to_string(&mut body).await.unwrap();
    body
}

#[tokio::test]
async fn sync_gauges_show_facts_waiting_for_an_unconfigured_prefecture() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::open(dir.path()).await;
    let tenants = [common::toyama(), common::takaoka()];
    let board = SyncBoard::default();
    let tasks = sync::start(
        &store,
        &tenants,
        None,
        &renkei_proto::tls::ClientTls::Plaintext,
        &board,
    );
    store
        .append(
            common::toyama(),
            common::stream("programme/awareness"),
            ExpectedVersion::Any,
            (0..3).map(activity).collect(),
        )
        .await
        .unwrap();
    let service = NodeSyncService::new(board, Outbox::new(store.clone()), tenants.to_vec());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(renkei_node::metrics::serve(listener, service, async {
        let _ = stopped.await;
    }));
    common::wait_until(Duration::from_secs(30), || async move {
        scrape(address)
            .await
            .contains(r#"renkei_sync_produced{municipality="162019"} 3"#)
    })
    .await;
    let text = scrape(address).await;
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        text.contains(r#"renkei_sync_lag_facts{municipality="162019"} 3"#),
        "{text}"
    );
    assert!(
        text.contains(r#"renkei_sync_produced{municipality="162027"} 0"#),
        "{text}"
    );
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    tasks.stop().await;
}
