//! Programme commands and `GetStatus` as a town's history grows, over gRPC against a real node.
//!
//! Run: `cargo bench -p renkei-node --bench programme` (`RENKEI_BENCH_DIR` picks the disk,
//! `RENKEI_BENCH_SCALE` scales the large register, default 1.0 = 100,000 trainings).
//!
//! One node (release build, loopback, RocksDB with fsync) hosts a large town, 富山市, whose
//! training register (研修, カ) is filled with 100,000 trainings through `HoldTraining`, and small
//! towns with 100 trainings each. Then, in rounds that alternate small and large so that the
//! machine's noise hits both alike:
//! - 1 client records 500 new trainings one after another;
//! - 16 clients record 10,000 new trainings between them (different records, concurrently),
//!   counting every refusal (`ABORTED` for contention among them);
//! - `GetStatus` is called 100 times (the board is kept current; the first call after start,
//!   which folds the log once, is made before the clock starts).
//!
//! Each case of a small town runs on a town not measured before, so that it still holds 100
//! records. It prints the medians and the ratios large ÷ small against the targets: commands/s
//! ≥ 0.8 for 1 and 16 clients, zero refusals, GetStatus time ≤ 2.

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use renkei_proto::v1::{self, MunicipalProgramClient};
use tokio::sync::oneshot;
use tonic::transport::Channel;

const ROUNDS: usize = 3;
const SMALL: usize = 100;
const ONE_CLIENT: usize = 500;
const CLIENTS: usize = 16;
const MANY_CLIENTS: usize = 10_000;
const STATUS_CALLS: usize = 100;

/// 富山市, the large town.
const LARGE: &str = "162019";
/// Small towns, one per measured case (two per round) and one for `GetStatus`.
const SMALLS: [&str; 7] = [
    "162027", "162043", "162051", "162060", "162078", "162086", "162094",
];

fn main() {
    let base = std::env::var_os("RENKEI_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let scale: f64 = std::env::var("RENKEI_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let large = ((100_000.0 * scale) as usize).max(SMALL);
    let dir = tempfile::tempdir_in(&base).expect("bench directory");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run(dir.path().join("node"), large));
}

async fn run(data_dir: PathBuf, large: usize) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let municipalities = std::iter::once(LARGE)
        .chain(SMALLS)
        .map(|c| c.parse().expect("valid code"))
        .collect();
    let config = renkei_node::config::NodeConfig {
        municipalities,
        ..common::node_config(addr, data_dir, 1024 * 1024)
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(renkei_node::server::run(config, listener, async move {
        let _ = stopped.await;
    }));
    let channel = Channel::from_shared(format!("http://{addr}"))
        .expect("address")
        .connect()
        .await
        .expect("connect");
    let client = MunicipalProgramClient::new(channel);

    let started = Instant::now();
    let filled = record(&client, LARGE, "fill", large, CLIENTS).await;
    assert_eq!(filled.refused, 0, "filling the large register: {filled:?}");
    for town in SMALLS {
        let filled = record(&client, town, "fill", SMALL, CLIENTS).await;
        assert_eq!(filled.refused, 0, "filling {town}: {filled:?}");
    }
    println!(
        "filled: {LARGE} with {large} trainings, {} towns with {SMALL} each, in {:.1} s ({:.0} commands/s, 16 clients)",
        SMALLS.len(),
        started.elapsed().as_secs_f64(),
        (large + SMALL * SMALLS.len()) as f64 / started.elapsed().as_secs_f64()
    );

    let status_town = SMALLS[SMALLS.len() - 1];
    let mut one = (Vec::new(), Vec::new());
    let mut many = (Vec::new(), Vec::new());
    let mut status = (Vec::new(), Vec::new());
    let mut refused = 0;
    // The first answer of each town folds its log once; later ones read the kept board.
    status_latency(&client, LARGE, 1).await;
    status_latency(&client, status_town, 1).await;
    for round in 0..ROUNDS {
        let small_one = SMALLS[2 * round];
        let small_many = SMALLS[2 * round + 1];
        let tag = format!("r{round}");
        let s = record(&client, small_one, &tag, ONE_CLIENT, 1).await;
        let l = record(&client, LARGE, &format!("{tag}-1"), ONE_CLIENT, 1).await;
        refused += s.refused + l.refused;
        one.0.push(s.rate);
        one.1.push(l.rate);
        let s = record(&client, small_many, &tag, MANY_CLIENTS, CLIENTS).await;
        let l = record(&client, LARGE, &format!("{tag}-16"), MANY_CLIENTS, CLIENTS).await;
        refused += s.refused + l.refused;
        many.0.push(s.rate);
        many.1.push(l.rate);
        status
            .0
            .push(status_latency(&client, status_town, STATUS_CALLS).await);
        status
            .1
            .push(status_latency(&client, LARGE, STATUS_CALLS).await);
        println!(
            "round {round}: 1 client {:.0} / {:.0} commands/s, 16 clients {:.0} / {:.0} commands/s, GetStatus {:.3} / {:.3} ms (small / large)",
            one.0[round],
            one.1[round],
            many.0[round],
            many.1[round],
            status.0[round] * 1e3,
            status.1[round] * 1e3
        );
    }
    let (one_s, one_l) = (median(one.0), median(one.1));
    let (many_s, many_l) = (median(many.0), median(many.1));
    let (st_s, st_l) = (median(status.0), median(status.1));
    println!("median of {ROUNDS} rounds: register of {SMALL} vs {large}+ trainings");
    println!(
        "  1 client:   {one_s:>8.0} vs {one_l:>8.0} commands/s   ratio large/small = {:.2} (target ≥ 0.8: {})",
        one_l / one_s,
        verdict(one_l / one_s >= 0.8)
    );
    println!(
        "  16 clients: {many_s:>8.0} vs {many_l:>8.0} commands/s   ratio large/small = {:.2} (target ≥ 0.8: {})",
        many_l / many_s,
        verdict(many_l / many_s >= 0.8)
    );
    println!(
        "  refusals (ABORTED or any other) over {} commands of 16 clients and {} of 1: {refused} (target 0: {})",
        2 * ROUNDS * MANY_CLIENTS,
        2 * ROUNDS * ONE_CLIENT,
        verdict(refused == 0)
    );
    println!(
        "  GetStatus:  {:>8.3} vs {:>8.3} ms               ratio large/small = {:.2} (target ≤ 2: {})",
        st_s * 1e3,
        st_l * 1e3,
        st_l / st_s,
        verdict(st_l / st_s <= 2.0)
    );
    let _ = stop.send(());
    server
        .await
        .expect("server task")
        .expect("server stopped cleanly");
}

#[derive(Debug)]
struct Recorded {
    rate: f64,
    refused: usize,
}

/// Records `n` new trainings for `town` from `clients` concurrent clients; returns commands/s
/// and how many were refused.
async fn record(
    client: &MunicipalProgramClient<Channel>,
    town: &str,
    tag: &str,
    n: usize,
    clients: usize,
) -> Recorded {
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let mut client = client.clone();
            let town = town.to_owned();
            let tag = tag.to_owned();
            tokio::spawn(async move {
                let mut refused = 0;
                for i in (c..n).step_by(clients) {
                    let day = chrono::NaiveDate::from_ymd_opt(2024, 4, 1).expect("a day")
                        + chrono::Days::new((i % 365) as u64);
                    let request = v1::HoldTrainingRequest {
                        municipality_code: town.clone(),
                        actor: "長寿福祉課 山田".into(),
                        id: format!("{tag}-{i}"),
                        kind: "multi_professional_group_work".into(),
                        title: "多職種連携研修".into(),
                        on: day.to_string(),
                        participants: vec![v1::ProgramCount {
                            of: "介護支援専門員".into(),
                            count: 20,
                        }],
                        scenes: vec!["看取り".into()],
                    };
                    match client.hold_training(request).await {
                        Ok(reply) => assert_eq!(reply.into_inner().events, 1),
                        Err(status) => {
                            refused += 1;
                            eprintln!("refused: {:?} {}", status.code(), status.message());
                        }
                    }
                }
                refused
            })
        })
        .collect();
    let mut refused = 0;
    for t in tasks {
        refused += t.await.expect("client task");
    }
    Recorded {
        rate: n as f64 / started.elapsed().as_secs_f64(),
        refused,
    }
}

/// The median time of `calls` `GetStatus` calls for FY2024 as of 2025-03-31.
async fn status_latency(client: &MunicipalProgramClient<Channel>, town: &str, calls: usize) -> f64 {
    let mut client = client.clone();
    let mut times = Vec::with_capacity(calls);
    for _ in 0..calls {
        let started = Instant::now();
        let reply = client
            .get_status(v1::GetStatusRequest {
                municipality_code: town.into(),
                fiscal_year: 2024,
                as_of: "2025-03-31".into(),
                known_at: None,
            })
            .await
            .expect("GetStatus")
            .into_inner();
        times.push(started.elapsed());
        assert!(reply.items.iter().any(|i| i.status == "implemented"));
    }
    median(
        times
            .into_iter()
            .map(|d: Duration| d.as_secs_f64())
            .collect(),
    )
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT MET" }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}
