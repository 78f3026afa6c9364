//! A small client that shows a running node serving: it checks health, appends a batch, retries
//! it, reads it back and follows a live subscription.
//!
//! Usage: `node_client URL MUNICIPALITY_CODE`, e.g. `node_client http://127.0.0.1:7401 162019`.

use std::time::Duration;

use futures::StreamExt;
use renkei_proto::convert::utc_to_timestamp;
use renkei_proto::v1::{self, EventLogClient};
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:7401".into());
    let code = args.next().unwrap_or_else(|| "162019".into());

    let mut health = HealthClient::new(
        tonic::transport::Channel::from_shared(url.clone())?
            .connect()
            .await?,
    );
    let status = health
        .check(HealthCheckRequest {
            service: "renkei.v1.EventLog".into(),
        })
        .await?
        .into_inner()
        .status();
    println!("health of renkei.v1.EventLog: {status:?}");

    let mut client = EventLogClient::connect(url).await?;
    let mut live = client
        .subscribe(v1::SubscribeRequest {
            municipality_code: code.clone(),
            from_position: 0,
        })
        .await?
        .into_inner();

    let event = |kind: &str, payload: &str| v1::NewEvent {
        event_id: uuid::Uuid::now_v7().to_string(),
        r#type: kind.into(),
        schema_version: 1,
        occurred_at: Some(utc_to_timestamp(chrono::Utc::now())),
        actor: "demo".into(),
        payload: payload.as_bytes().to_vec(),
    };
    let request = v1::AppendRequest {
        municipality_code: code.clone(),
        stream: "consultation-desk".into(),
        expected_version: None,
        events: vec![
            event(
                "ConsultationDeskOpened",
                r#"{"name":"在宅医療・介護連携支援センター"}"#,
            ),
            event("ConsultationHoursSet", r#"{"weekdays":"09:00-17:00"}"#),
        ],
    };
    let first = client.append(request.clone()).await?.into_inner();
    println!(
        "appended positions {}..={} (stream versions {}..={}), fsynced",
        first.first_position,
        first.last_position,
        first.first_stream_version,
        first.last_stream_version
    );
    let retry = client.append(request).await?.into_inner();
    println!(
        "retried the same batch: positions {}..={}, deduplicated = {}",
        retry.first_position, retry.last_position, retry.deduplicated
    );

    let read = client
        .read_stream(v1::ReadStreamRequest {
            municipality_code: code.clone(),
            stream: "consultation-desk".into(),
            from_version: 1,
            direction: v1::Direction::Forward as i32,
            max_count: 100,
        })
        .await?
        .into_inner();
    for e in &read.events {
        println!(
            "read back #{} v{} {} {}",
            e.global_position,
            e.stream_version,
            e.r#type,
            String::from_utf8_lossy(&e.payload)
        );
    }

    for _ in 0..read.events.len() {
        let e = tokio::time::timeout(Duration::from_secs(5), live.next())
            .await?
            .ok_or_else(|| anyhow::anyhow!("subscription ended"))??;
        println!("subscription delivered #{} {}", e.global_position, e.r#type);
    }
    Ok(())
}
