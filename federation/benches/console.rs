//! Server time of the prefecture console's 実施状況 page, as a ratio to the `GetTally` call
//! behind it, measured in one run:
//! - 北海道 (179 municipalities): a real replica (in process: RocksDB, Raft, gRPC and the
//!   console on loopback) with evidence from every municipality; the median time of `GetTally`
//!   over gRPC, of the whole page over HTTP (sign-in session, linearizable read, render), and of
//!   rendering alone;
//! - 1,741 municipalities as one scope: the official list cannot make one prefecture of them, so
//!   the tally is computed in process (`Survey::tally` + `tally_by_area`, what `GetTally` does
//!   after its read barrier) and the page rendered from a reply of 1,741 rows.
//!
//! Run: `cargo bench -p renkei-federation --bench console`.

use std::time::{Duration, Instant};

use chrono::NaiveDate;
use prost::Message;
use renkei_federation::config::{Caller, PrefectureConfig, Role};
use renkei_federation::regions::{Region, RegionSet};
use renkei_federation::survey::{
    Approval, MunicipalityRow, Source, Survey, SurveyStatus, tally_reply,
};
use renkei_federation::web::render_status;
use renkei_proto::{FiscalYear, PrefectureCode, official, v1};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "bench-officer-token-0123456789abcdefghijklmnop";
const NODE_TOKEN: &str = "bench-node-token-0123456789abcdefghijklmnop";

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// One HTTP/1.1 exchange on a fresh connection; returns the head and the body.
async fn http(address: &str, request: String) -> (String, String) {
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("connect");
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).await.expect("read");
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (head.to_owned(), body.to_owned())
}

fn cookie(head: &str, name: &str) -> String {
    head.lines()
        .filter_map(|l| l.strip_prefix("set-cookie: "))
        .find_map(|c| c.strip_prefix(&format!("{name}=")))
        .and_then(|c| c.split(';').next())
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("no {name} cookie in {head}"))
}

/// Signs in to the console and returns the session cookie.
async fn sign_in(address: &str) -> String {
    let (head, body) = http(
        address,
        format!("GET /login HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"),
    )
    .await;
    let login = cookie(&head, "renkei_login");
    let field = body
        .split("name=\"login\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the sign-in form's token");
    let form = format!("login={field}&token={TOKEN}");
    let (head, _) = http(
        address,
        format!(
            "POST /login HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nCookie: renkei_login={login}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{form}",
            form.len()
        ),
    )
    .await;
    format!("renkei_session={}", cookie(&head, "renkei_session"))
}

fn evidence_fact(m: &str, sequence: u64, item: &str, on: &str) -> v1::Fact {
    let body = v1::FactBody {
        source_event_id: format!("0190a0b0-0000-7000-8000-{sequence:012}"),
        index: 0,
        recorded_at: None,
        source_position: sequence,
        kind: Some(v1::FactKind::Evidence(v1::StatusEvidence {
            key: format!("bench/{item}{sequence}"),
            kind: Some(v1::EvidenceKind::Dated(v1::DatedEvidence {
                item: item.into(),
                on: on.into(),
            })),
        })),
    };
    v1::Fact {
        municipality: m.to_owned(),
        sequence,
        payload: body.encode_to_vec(),
    }
}

fn tally_request() -> v1::GetTallyRequest {
    v1::GetTallyRequest {
        fiscal_year: 2024,
        as_of: "2025-03-31".into(),
        known_at: None,
        source: v1::TallySource::Live as i32,
        consistency: v1::ReadConsistency::Linearizable as i32,
    }
}

async fn hokkaido(rounds: usize) {
    let hokkaido: PrefectureCode = "01".parse().expect("北海道");
    let municipalities: Vec<_> = official::municipalities_of(hokkaido)
        .map(|m| m.code)
        .collect();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut config = PrefectureConfig::new(1, dir.path().join("replica-1"), hokkaido);
    config.callers = vec![
        Caller::with_token("officer", TOKEN, Vec::new(), Role::Admin),
        Caller::with_token("nodes", NODE_TOKEN, municipalities.clone(), Role::Node),
    ];
    let web = format!("127.0.0.1:{}", free_port());
    config.web_listen = Some(web.parse().expect("an address"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("listen");
    let grpc = listener.local_addr().expect("address").to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(renkei_federation::server::run(config, listener, async {
        let _ = stopped.await;
    }));
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{grpc}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    let bearer = |token: &'static str| {
        move |mut r: tonic::Request<()>| {
            r.metadata_mut().insert(
                "authorization",
                format!("Bearer {token}").parse().expect("ascii"),
            );
            Ok(r)
        }
    };
    v1::ClusterAdminClient::with_interceptor(channel.clone(), bearer(TOKEN))
        .initialize(v1::InitializeRequest {
            members: vec![v1::ClusterMember {
                node_id: 1,
                address: grpc.clone(),
            }],
        })
        .await
        .expect("initialize");
    // Every municipality reports evidence of a few items.
    for (i, m) in municipalities.iter().enumerate() {
        let facts = ["a", "b", "f", "g", "h"]
            .iter()
            .enumerate()
            .filter(|(k, _)| (i + k) % 3 != 0)
            .enumerate()
            .map(|(s, (_, item))| evidence_fact(&m.to_string(), s as u64 + 1, item, "2024-09-01"))
            .collect();
        let mut request = tonic::Request::new(v1::WriteFactsRequest {
            request_id: format!("bench-{m}"),
            facts,
        });
        request.metadata_mut().insert(
            "authorization",
            format!("Bearer {NODE_TOKEN}").parse().expect("ascii"),
        );
        v1::PrefectureLedgerClient::new(channel.clone())
            .write_facts(request)
            .await
            .expect("write facts");
    }
    let mut survey = v1::PrefectureSurveyClient::with_interceptor(channel.clone(), bearer(TOKEN));
    let session = sign_in(&web).await;
    let page_request = format!(
        "GET /status?fy=2024&as_of=2025-03-31&source=live HTTP/1.1\r\nHost: {web}\r\nConnection: close\r\nCookie: {session}\r\n\r\n"
    );
    // Warm up, and check that the page is the tally's.
    let reply = survey
        .get_tally(tally_request())
        .await
        .expect("GetTally")
        .into_inner();
    let (head, body) = http(&web, page_request.clone()).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(body.contains(&format!("n={}", reply.n)));
    let mut tally_t = Vec::new();
    let mut page_t = Vec::new();
    let mut render_t = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        let reply = survey.get_tally(tally_request()).await.expect("GetTally");
        tally_t.push(t.elapsed());
        let t = Instant::now();
        let (_, body) = http(&web, page_request.clone()).await;
        page_t.push(t.elapsed());
        std::hint::black_box(body);
        let t = Instant::now();
        std::hint::black_box(render_status(reply.get_ref(), false));
        render_t.push(t.elapsed());
    }
    let (tally, page, render) = (median(tally_t), median(page_t), median(render_t));
    println!(
        "北海道 n={}: GetTally (gRPC) {:>8.3} ms   実施状況 page (HTTP, whole) {:>8.3} ms   render only {:>8.3} ms",
        reply.n,
        ms(tally),
        ms(page),
        ms(render)
    );
    println!(
        "  ratio page / GetTally = {:.2}   render / GetTally = {:.2}",
        ms(page) / ms(tally),
        ms(render) / ms(tally)
    );
    let _ = stop.send(());
    let _ = server.await;
}

fn national(rounds: usize) {
    let fy = FiscalYear::new(2024).expect("a year");
    let as_of = NaiveDate::from_ymd_opt(2025, 3, 31).expect("a date");
    let rows: Vec<MunicipalityRow> = official::municipalities()
        .enumerate()
        .map(|(i, m)| MunicipalityRow {
            code: m.code,
            name: m.name.to_owned(),
            area: Some(format!("圏域{}", i % 330)),
            statuses: std::array::from_fn(|item| SurveyStatus::ALL[(i * 7 + item * 3) % 3]),
            reported: true,
            approval: Approval::NotSubmitted,
        })
        .collect();
    let survey = Survey::new(fy, as_of, Source::National, rows).expect("a survey");
    let prefecture: PrefectureCode = "01".parse().expect("a prefecture");
    let regions = RegionSet {
        kind: "secondary_medical_area".into(),
        first_fiscal_year: renkei_proto::FiscalYear::new(2024).unwrap(),
        last_fiscal_year: renkei_proto::FiscalYear::new(2024).unwrap(),
        regions: (0..20)
            .map(|i| Region {
                id: format!("area-{i}"),
                name: format!("圏域{i}"),
                municipalities: Vec::new(),
            })
            .collect(),
    };
    let mut tally_t = Vec::new();
    let mut render_t = Vec::new();
    for _ in 0..rounds {
        let t = Instant::now();
        // National regions stand in for one prefecture's 二次医療圏: the first 20 areas.
        let reply = tally_reply(&survey, Some(&regions), prefecture, 0);
        tally_t.push(t.elapsed());
        let t = Instant::now();
        std::hint::black_box(render_status(&reply, false));
        render_t.push(t.elapsed());
    }
    let (tally, render) = (median(tally_t), median(render_t));
    println!(
        "1,741 municipalities as one scope: tally + reply (in process, no read barrier) {:>8.3} ms   render {:>8.3} ms",
        ms(tally),
        ms(render)
    );
    println!(
        "  ratio render / tally = {:.2} (GetTally over gRPC adds its read barrier and the network)",
        ms(render) / ms(tally)
    );
}

fn main() {
    let rounds = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    println!("prefecture console: server time of the 実施状況 page (median of {rounds})");
    runtime.block_on(hokkaido(rounds));
    national(rounds);
}
