//! A node hosting every municipality of Japan (1,741) with ten years of activity (≥ 10 million
//! events): how long the `renkei-node` process takes to serve, and how much memory it holds.
//!
//! Run: `cargo bench -p renkei-node --bench scale` (`RENKEI_BENCH_DIR` picks the disk;
//! `RENKEI_BENCH_SCALE` scales the events per town, default 1.0 = 5,750, i.e. 10,010,750
//! events; `RENKEI_BENCH_KEEP=DIR` keeps the prepared data directory in DIR and reuses it).
//!
//! Preparation (not measured): the store is filled through `EventStore::append` with each
//! town's trainings (研修, カ) over FY2015–2024, real `TrainingHeld` events in the town's
//! `programme/trainings` register, then a node process runs once until every town's outbox has
//! derived its facts (as a node that recorded the events itself would have) and is stopped with
//! SIGTERM. Measured: a second start of the `renkei-node` binary, from spawn to the first answer
//! of `GetStatus`; its resident memory then (VmRSS, and the peak VmHWM); then after `GetStatus`
//! for 100 towns (each town's status board is folded from its log on its first status) and after
//! one command in each of those 100 towns' training registers (each register's state is loaded
//! on its first command).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use renkei_node::domain::ProgrammeEvent;
use renkei_node::domain::events::SCHEMA_VERSION;
use renkei_node::domain::trainings::{TrainingEvent, TrainingKind};
use renkei_node::domain::values::{CareScene, Count, Profession, TrainingId};
use renkei_node::programme::jst_midnight;
use renkei_node::store::{EventStore, ExpectedVersion, NewEvent, StoreOptions, StreamId};
use renkei_proto::{MunicipalityCode, official, v1};
use tonic::transport::Channel;

const BATCH: usize = 1_000;
const MEASURED_TOWNS: usize = 100;

fn main() {
    let scale: f64 = std::env::var("RENKEI_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let per_town = ((5_750.0 * scale) as usize).max(1);
    let base = std::env::var_os("RENKEI_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let temp = tempfile::tempdir_in(&base).expect("bench directory");
    let root = std::env::var_os("RENKEI_BENCH_KEEP")
        .map(PathBuf::from)
        .unwrap_or_else(|| temp.path().to_path_buf());
    let data = root.join("data");
    let towns: Vec<MunicipalityCode> = official::municipalities().map(|m| m.code).collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let config = root.join("node.toml");
    let port = free_port();
    write_config(&config, &data, port, &towns);
    if !data.exists() {
        let started = Instant::now();
        let n = rt.block_on(fill(&data, &towns, per_town));
        println!(
            "prepared: {n} events for {} towns in {:.0} s; deriving the outboxes…",
            towns.len(),
            started.elapsed().as_secs_f64()
        );
        let started = Instant::now();
        let mut node = spawn(&config);
        rt.block_on(async {
            wait_serving(port, towns[0]).await;
            outboxes_settled(port).await;
        });
        stop(&mut node);
        println!(
            "outboxes derived in {:.0} s",
            started.elapsed().as_secs_f64()
        );
    }
    let size = dir_size(&data);
    let started = Instant::now();
    let mut node = spawn(&config);
    let pid = node.id();
    rt.block_on(async {
        let mut client = wait_serving(port, towns[0]).await;
        let serving = started.elapsed();
        let (rss, peak) = memory(pid);
        println!(
            "node of {} towns, {per_town} trainings each ({} events, {:.1} GiB on disk): serving after {:.2} s (target ≤ 10 s: {}); resident {:.0} MiB, peak {:.0} MiB (target < 1024 MiB: {})",
            towns.len(),
            towns.len() * per_town,
            size as f64 / (1u64 << 30) as f64,
            serving.as_secs_f64(),
            verdict(serving <= Duration::from_secs(10)),
            rss,
            peak,
            verdict(peak < 1024.0)
        );
        let started = Instant::now();
        for town in &towns[..MEASURED_TOWNS] {
            status(&mut client, *town).await;
        }
        let (rss_status, _) = memory(pid);
        println!(
            "after GetStatus of {MEASURED_TOWNS} towns ({:.2} s, each folding its log once): resident {rss_status:.0} MiB (+{:.2} MiB per town's status board)",
            started.elapsed().as_secs_f64(),
            (rss_status - rss) / MEASURED_TOWNS as f64
        );
        let started = Instant::now();
        for town in &towns[..MEASURED_TOWNS] {
            hold(&mut client, *town).await;
        }
        let (rss_commands, peak) = memory(pid);
        println!(
            "after one command in each of those {MEASURED_TOWNS} towns' registers ({:.2} s, each loading its register once): resident {rss_commands:.0} MiB, peak {peak:.0} MiB (+{:.2} MiB per register kept in memory)",
            started.elapsed().as_secs_f64(),
            (rss_commands - rss_status) / MEASURED_TOWNS as f64
        );
    });
    stop(&mut node);
}

/// Fills the store with `per_town` trainings per town; returns the number of events.
async fn fill(data: &Path, towns: &[MunicipalityCode], per_town: usize) -> usize {
    let store = EventStore::open(data, StoreOptions::default()).expect("store");
    store.add_tenants(towns).await.expect("tenants");
    let stream = StreamId::parse("stream", "programme/trainings").expect("stream");
    let workers = 4;
    let tasks: Vec<_> = (0..workers)
        .map(|w| {
            let store = store.clone();
            let stream = stream.clone();
            let towns: Vec<_> = towns.iter().skip(w).step_by(workers).copied().collect();
            tokio::spawn(async move {
                for town in towns {
                    let mut i = 0;
                    while i < per_town {
                        let batch: Vec<NewEvent> =
                            (i..(i + BATCH).min(per_town)).map(training).collect();
                        i += batch.len();
                        store
                            .append(town, stream.clone(), ExpectedVersion::Any, batch)
                            .await
                            .expect("append");
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("fill task");
    }
    store.close().await.expect("close");
    towns.len() * per_town
}

/// The `i`-th training of a town, on a day of FY2015–2024.
fn training(i: usize) -> NewEvent {
    let first = NaiveDate::from_ymd_opt(2015, 4, 1).expect("a day");
    let on = first + chrono::Days::new((i * 3653 / 5_750 % 3653) as u64);
    let event = ProgrammeEvent::Trainings(TrainingEvent::TrainingHeld {
        id: TrainingId::parse("id", &format!("t-{i}")).expect("an id"),
        kind: TrainingKind::MultiProfessionalGroupWork,
        title: "多職種連携研修".into(),
        on,
        participants: vec![Count {
            of: Profession::CareManager,
            count: 20,
        }],
        scenes: vec![CareScene::EndOfLife],
    });
    NewEvent {
        occurred_at: jst_midnight(on),
        schema_version: SCHEMA_VERSION,
        ..NewEvent::new(&event.event_type(), "長寿福祉課", event.to_payload())
    }
}

fn write_config(path: &Path, data: &Path, port: u16, towns: &[MunicipalityCode]) {
    let list: Vec<String> = towns.iter().map(|t| format!("\"{t}\"")).collect();
    let text = format!(
        "listen = \"127.0.0.1:{port}\"\ndata_dir = {:?}\nmunicipalities = [{}]\n",
        data.display().to_string(),
        list.join(", ")
    );
    std::fs::create_dir_all(path.parent().expect("a parent")).expect("config directory");
    std::fs::write(path, text).expect("config");
}

fn free_port() -> u16 {
    // Bound and released: the node binds it a moment later (loopback, nothing else races here).
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn spawn(config: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_renkei-node"))
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "warn,renkei_node=info")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn renkei-node")
}

fn stop(node: &mut Child) {
    // SIGTERM: the node finishes what is in flight, flushes and exits.
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(node.id().to_string())
        .status();
    let _ = node.wait();
}

/// Polls until the node answers `GetStatus`; returns a connected client.
async fn wait_serving(port: u16, town: MunicipalityCode) -> v1::MunicipalProgramClient<Channel> {
    loop {
        if let Ok(channel) = Channel::from_shared(format!("http://127.0.0.1:{port}"))
            .expect("address")
            .connect()
            .await
        {
            let mut client = v1::MunicipalProgramClient::new(channel);
            if client.get_status(status_request(town)).await.is_ok() {
                return client;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until every town's outbox has produced facts and none produced anything new for two
/// seconds.
async fn outboxes_settled(port: u16) {
    let channel = Channel::from_shared(format!("http://127.0.0.1:{port}"))
        .expect("address")
        .connect()
        .await
        .expect("connect");
    let mut sync = v1::NodeSyncClient::new(channel);
    let mut last = Vec::new();
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let produced: Vec<u64> = sync
            .get_sync_state(v1::GetSyncStateRequest::default())
            .await
            .expect("GetSyncState")
            .into_inner()
            .municipalities
            .iter()
            .map(|m| m.produced)
            .collect();
        if produced.iter().all(|p| *p > 0) && produced == last {
            return;
        }
        last = produced;
    }
}

fn status_request(town: MunicipalityCode) -> v1::GetStatusRequest {
    v1::GetStatusRequest {
        municipality_code: town.to_string(),
        fiscal_year: 2024,
        as_of: "2025-03-31".into(),
        known_at: None,
    }
}

async fn status(client: &mut v1::MunicipalProgramClient<Channel>, town: MunicipalityCode) {
    let reply = client
        .get_status(status_request(town))
        .await
        .expect("GetStatus")
        .into_inner();
    assert!(reply.items.iter().any(|i| i.status == "implemented"));
}

async fn hold(client: &mut v1::MunicipalProgramClient<Channel>, town: MunicipalityCode) {
    let reply = client
        .hold_training(v1::HoldTrainingRequest {
            municipality_code: town.to_string(),
            actor: "長寿福祉課".into(),
            // A new id on every run, the prepared data being reused.
            id: format!("measured-{}", uuid::Uuid::now_v7()),
            kind: "multi_professional_group_work".into(),
            title: "多職種連携研修".into(),
            on: "2025-03-01".into(),
            participants: vec![v1::ProgramCount {
                of: "介護支援専門員".into(),
                count: 20,
            }],
            scenes: vec!["看取り".into()],
        })
        .await
        .expect("HoldTraining")
        .into_inner();
    assert_eq!(reply.events, 1);
}

/// VmRSS and VmHWM of a process, in MiB.
fn memory(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => dir_size(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT MET" }
}
