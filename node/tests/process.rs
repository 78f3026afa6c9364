//! Proves the `renkei-node` binary as an operator runs it: `--check-config` refuses unknown keys
//! and bad codes naming them; the node starts without a config file, reports SERVING and stops
//! with exit 0 on SIGTERM; and after `kill -9` in the middle of concurrent appends, a restart
//! finds every acknowledged event and no half-written batch.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use renkei_proto::convert::utc_to_timestamp;
use renkei_proto::v1::{self, EventLogClient};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_renkei-node");

fn node_command() -> Command {
    let mut cmd = Command::new(BIN);
    // The tests' environment must not configure the node behind their back.
    for (key, _) in std::env::vars() {
        if key.starts_with("RENKEI_NODE_") {
            cmd.env_remove(key);
        }
    }
    cmd.kill_on_drop(true);
    cmd
}

/// Starts the node on a free port and returns it with the address it printed.
async fn start(data_dir: &Path) -> (Child, String) {
    let mut child = node_command()
        .args([
            "--listen",
            "127.0.0.1:0",
            "--municipality",
            "162019",
            "--data-dir",
        ])
        .arg(data_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("node did not report its address")
        .unwrap()
        .expect("node exited before listening");
    let addr = line
        .strip_prefix("renkei-node listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    (child, format!("http://{addr}"))
}

#[tokio::test]
async fn check_config_refuses_an_unknown_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("node.toml");
    std::fs::write(
        &file,
        "data_dir = \"/tmp/x\"\nmunicipalities = [\"162019\"]\nlisten_adress = \"127.0.0.1:1\"\n",
    )
    .unwrap();
    let out = node_command()
        .arg("--config")
        .arg(&file)
        .arg("--check-config")
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("listen_adress"), "{stderr}");
}

#[tokio::test]
async fn check_config_names_a_code_with_a_wrong_check_digit() {
    let out = node_command()
        .args([
            "--municipality",
            "162018",
            "--data-dir",
            "/tmp",
            "--check-config",
        ])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("162018"), "{stderr}");
    assert!(stderr.contains("check digit"), "{stderr}");
}

#[tokio::test]
async fn check_config_prints_the_effective_config() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("node.toml");
    std::fs::write(
        &file,
        format!(
            "data_dir = {:?}\nmunicipalities = [\"162027\"]\nlisten = \"127.0.0.1:7999\"\n",
            dir.path().join("data")
        ),
    )
    .unwrap();
    let out = node_command()
        .arg("--config")
        .arg(&file)
        .args(["--municipality", "162019", "--check-config"])
        .env("RENKEI_NODE_LISTEN", "127.0.0.1:7444")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The environment overrides the file, the flag replaces the list.
    assert!(stdout.contains("listen = \"127.0.0.1:7444\""), "{stdout}");
    assert!(stdout.contains("municipalities = [\"162019\"]"), "{stdout}");
}

#[cfg(unix)]
#[tokio::test]
async fn starts_without_a_config_file_serves_and_stops_on_sigterm() {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

    let dir = tempfile::tempdir().unwrap();
    let (mut child, url) = start(&dir.path().join("data")).await;
    let mut health = HealthClient::new(
        tonic::transport::Channel::from_shared(url.clone())
            .unwrap()
            .connect()
            .await
            .unwrap(),
    );
    let status = health
        .check(HealthCheckRequest {
            service: "renkei.v1.EventLog".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(status, ServingStatus::Serving as i32);
    let mut client = EventLogClient::connect(url).await.unwrap();
    client.append(request("s", 3)).await.unwrap();

    let pid = child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("node did not stop on SIGTERM")
        .unwrap();
    assert!(status.success(), "exit status {status}");
}

fn request(stream: &str, n: usize) -> v1::AppendRequest {
    v1::AppendRequest {
        municipality_code: "162019".into(),
        stream: stream.into(),
        expected_version: None,
        events: (0..n)
            .map(|i| v1::NewEvent {
                event_id: uuid::Uuid::now_v7().to_string(),
                r#type: "Tested".into(),
                schema_version: 1,
                occurred_at: Some(utc_to_timestamp(chrono::Utc::now())),
                actor: "tester".into(),
                payload: format!("event {i} of {n}").into_bytes(),
            })
            .collect(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_acknowledged_event_and_leaves_no_half_batch() {
    const BATCH: usize = 10;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut child, url) = start(&data).await;

    // Acknowledged batches per stream: (first stream version, event ids).
    type Acknowledged = HashMap<String, Vec<(u64, Vec<String>)>>;
    let acknowledged: Arc<Mutex<Acknowledged>> = Arc::default();
    let mut writers = Vec::new();
    for w in 0..8 {
        let url = url.clone();
        let acknowledged = acknowledged.clone();
        writers.push(tokio::spawn(async move {
            let mut client = EventLogClient::connect(url).await.unwrap();
            let stream = format!("writer-{w}");
            loop {
                let req = request(&stream, BATCH);
                let ids: Vec<String> = req.events.iter().map(|e| e.event_id.clone()).collect();
                match client.append(req).await {
                    Ok(out) => acknowledged
                        .lock()
                        .unwrap()
                        .entry(stream.clone())
                        .or_default()
                        .push((out.into_inner().first_stream_version, ids)),
                    Err(_) => return,
                }
            }
        }));
    }
    common::wait_until(Duration::from_secs(60), || {
        let n: usize = acknowledged.lock().unwrap().values().map(Vec::len).sum();
        async move { n >= 200 }
    })
    .await;
    child.start_kill().unwrap(); // SIGKILL
    child.wait().await.unwrap();
    for w in writers {
        w.await.unwrap();
    }

    let (mut child, url) = start(&data).await;
    let mut client = EventLogClient::connect(url).await.unwrap();
    let acknowledged = acknowledged.lock().unwrap().clone();
    let mut total = 0;
    for w in 0..8 {
        let stream = format!("writer-{w}");
        let read = client
            .read_stream(v1::ReadStreamRequest {
                municipality_code: "162019".into(),
                stream: stream.clone(),
                from_version: 1,
                direction: v1::Direction::Forward as i32,
                max_count: 10_000,
            })
            .await
            .unwrap()
            .into_inner();
        // No half batch: every stream holds whole batches only.
        assert_eq!(
            read.events.len() % BATCH,
            0,
            "{stream} holds a partial batch"
        );
        for (first_version, ids) in acknowledged.get(&stream).into_iter().flatten() {
            for (i, id) in ids.iter().enumerate() {
                let e = &read.events[(*first_version as usize - 1) + i];
                assert_eq!(&e.event_id, id, "{stream}: acknowledged event lost");
            }
        }
        total += read.events.len();
    }
    // The log has no gap either.
    let all = client
        .read_all(v1::ReadAllRequest {
            municipality_code: "162019".into(),
            from_position: 1,
            max_count: 10_000,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.events.len(), total);
    assert!(
        all.events
            .iter()
            .enumerate()
            .all(|(i, e)| e.global_position == i as u64 + 1)
    );
    child.start_kill().unwrap();
    child.wait().await.unwrap();
}

/// Runs the node on `data_dir` expecting it to refuse to start; returns its stderr.
async fn refused_start(data_dir: &Path) -> String {
    let output = tokio::time::timeout(
        Duration::from_secs(30),
        node_command()
            .args([
                "--listen",
                "127.0.0.1:0",
                "--municipality",
                "162019",
                "--data-dir",
            ])
            .arg(data_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output(),
    )
    .await
    .expect("the node neither started nor stopped")
    .unwrap();
    assert!(
        !output.status.success(),
        "the node started on a broken data directory"
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

async fn read_ids(url: &str) -> Vec<String> {
    let mut client = EventLogClient::connect(url.to_owned()).await.unwrap();
    let mut ids = Vec::new();
    loop {
        let reply = client
            .read_all(v1::ReadAllRequest {
                municipality_code: "162019".into(),
                from_position: ids.len() as u64 + 1,
                // Pages well under the 8 MiB answer limit, even with 16 KiB events.
                max_count: 200,
            })
            .await
            .unwrap()
            .into_inner();
        if reply.events.is_empty() {
            return ids;
        }
        ids.extend(reply.events.into_iter().map(|e| e.event_id));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_data_dir_stops_the_node_with_a_clear_error_and_never_starts_empty() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut child, url) = start(&data).await;
    let mut client = EventLogClient::connect(url.clone()).await.unwrap();
    client.append(request("corrupt/test", 20)).await.unwrap();
    let before = read_ids(&url).await;
    child.kill().await.unwrap();

    // CURRENT names a manifest that is not there: the store cannot be opened.
    let current = data.join("CURRENT");
    let original = std::fs::read(&current).unwrap();
    std::fs::write(&current, b"MANIFEST-999999\n").unwrap();
    let stderr = refused_start(&data).await;
    assert!(
        stderr.contains(&data.display().to_string()),
        "the error names the data directory: {stderr}"
    );
    // Garbage in CURRENT: refused too.
    std::fs::write(&current, b"\x00\xff garbage").unwrap();
    refused_start(&data).await;

    // Nothing was overwritten: with CURRENT repaired, every event is there.
    std::fs::write(&current, original).unwrap();
    let (_child, url) = start(&data).await;
    assert_eq!(read_ids(&url).await, before);
}

/// A small tmpfs mounted for one test; unmounted on drop.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(path: &Path, size: &str) -> Option<Self> {
        std::fs::create_dir_all(path).ok()?;
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .status()
            .ok()?
            .success();
        ok.then(|| Self(path.to_path_buf()))
    }

    fn resize(&self, size: &str) {
        let ok = std::process::Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .unwrap()
            .success();
        assert!(ok, "remount {}", self.0.display());
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        // Lazily: the node killed on drop may still hold its files for a moment.
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_appends_and_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("disk");
    let Some(disk) = SmallDisk::mount(&data, "24m") else {
        // Mounting needs CAP_SYS_ADMIN; the storage-fault suite runs where it is granted.
        eprintln!("skipped: cannot mount a tmpfs here");
        return;
    };
    let store = data.join("node");
    let (mut child, url) = start(&store).await;
    let mut client = EventLogClient::connect(url.clone()).await.unwrap();
    let big = |n: usize| {
        let mut r = request("disk/fill", n);
        for e in &mut r.events {
            e.payload = vec![b'x'; 16 * 1024];
        }
        r
    };
    let mut acknowledged: Vec<String> = Vec::new();
    let mut refused = None;
    for _ in 0..2_000 {
        let r = big(50);
        let ids: Vec<String> = r.events.iter().map(|e| e.event_id.clone()).collect();
        match client.append(r).await {
            Ok(_) => acknowledged.extend(ids),
            Err(status) => {
                refused = Some(status);
                break;
            }
        }
    }
    let refused = refused.expect("a full disk refuses appends");
    assert_eq!(refused.code(), tonic::Code::Internal, "{refused:?}");
    assert!(!acknowledged.is_empty());

    // The disk grows back; after a crash and a restart every acknowledged event is there once.
    child.kill().await.unwrap();
    disk.resize("256m");
    let (_child, url) = start(&store).await;
    let ids = read_ids(&url).await;
    let mut seen = std::collections::HashSet::new();
    assert!(
        ids.iter().all(|id| seen.insert(id.clone())),
        "no event twice"
    );
    for id in &acknowledged {
        assert!(seen.contains(id), "acknowledged event {id} lost");
    }
}

/// The write-ahead log of a stopped node's data directory (its largest `*.log` file).
fn wal_of(data: &Path) -> std::path::PathBuf {
    std::fs::read_dir(data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .expect("a write-ahead log")
}

#[tokio::test]
async fn a_flipped_byte_in_the_wal_stops_the_node_and_a_torn_tail_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (mut child, url) = start(&data).await;
    let mut client = EventLogClient::connect(url.clone()).await.unwrap();
    for _ in 0..3 {
        client.append(request("wal/test", 20)).await.unwrap();
    }
    let before = read_ids(&url).await;
    assert_eq!(before.len(), 60);
    child.kill().await.unwrap();

    // A byte flipped inside an acknowledged, synced record: the node must not start without
    // the events after it (RocksDB's default recovery stops replaying there, silently).
    let wal = wal_of(&data);
    let original = std::fs::read(&wal).unwrap();
    let mut flipped = original.clone();
    flipped[original.len() / 3] ^= 0x40;
    std::fs::write(&wal, &flipped).unwrap();
    let stderr = refused_start(&data).await;
    assert!(
        stderr.to_lowercase().contains("corrupt"),
        "the refusal names the corruption: {stderr}"
    );

    // Nothing was overwritten: with the byte back, every event is there.
    std::fs::write(&wal, &original).unwrap();
    let (mut child, url) = start(&data).await;
    assert_eq!(read_ids(&url).await, before);
    // One more write, whose record is then cut short as a power loss cutting its write would
    // leave it: that is not corruption, and the node starts with every record before it.
    let mut client = EventLogClient::connect(url.clone()).await.unwrap();
    client.append(request("wal/test", 20)).await.unwrap();
    child.kill().await.unwrap();
    let wal = wal_of(&data);
    let bytes = std::fs::read(&wal).unwrap();
    assert!(bytes.len() > 7, "the last write is in {}", wal.display());
    std::fs::write(&wal, &bytes[..bytes.len() - 7]).unwrap();
    let (_child, url) = start(&data).await;
    assert_eq!(read_ids(&url).await, before);
}
