//! The admin commands against a running federation (`renkei demo --serve`): every replica's
//! console and every node's workspace answer on HTTPS; cluster status shows
//! three voters agreeing on a leader, node status shows a node's municipalities fully synced,
//! survey export writes the prefecture's files, backup takes an online copy of a node (restored
//! into a fresh directory) and of a replica (officers only); then Ctrl-C stops every child process and the
//! tool exits 130 leaving nothing behind.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;

use common::*;

/// Reads the officer's token from a replica's configuration in the demo's folder.
fn officer_token(dir: &std::path::Path) -> String {
    let config = std::fs::read_to_string(dir.join("prefecture/replica-1.toml")).unwrap();
    let block = config
        .split("[[callers]]")
        .find(|b| b.contains("prefecture-office"))
        .expect("the officer's caller entry");
    let line = block
        .lines()
        .find(|l| l.starts_with("token"))
        .expect("a token line");
    line.split('"').nth(1).unwrap().to_owned()
}

/// Reads the staff token of a demo node from its configuration in the demo's folder.
fn node_token(dir: &std::path::Path, node: &str) -> String {
    let config = std::fs::read_to_string(dir.join(node).join("node.toml")).unwrap();
    let block = config
        .split("[[staff]]")
        .nth(1)
        .expect("the node's staff entry");
    let line = block
        .lines()
        .find(|l| l.starts_with("token"))
        .expect("a token line");
    line.split('"').nth(1).unwrap().to_owned()
}

/// Stops the served federation if the test fails half-way, so that no process outlives it.
struct StopOnPanic(u32);

impl Drop for StopOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &self.0.to_string()])
                .status();
        }
    }
}

#[test]
fn admin_commands_against_a_served_federation_then_ctrl_c_stops_everything() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let mut child = renkei()
        .args(["--json", "demo", "--serve", "--dir", dir.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The report is one JSON line on stdout, printed once the federation is loaded.
    let _stop = StopOnPanic(child.id());
    let pipe = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(pipe).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(PATIENCE).expect("the demo's report");
    let report: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| {
        let _ = child.kill();
        panic!("not a JSON report ({e}): {line:?}")
    });
    assert_eq!(report["n"], 15);
    // Every replica serves the prefecture console over HTTPS, on a port that answers.
    let consoles: Vec<String> = report["consoles"]
        .as_array()
        .expect("the consoles' URLs")
        .iter()
        .map(|u| u.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(consoles.len(), 3, "{consoles:?}");
    for url in &consoles {
        let address = url
            .strip_prefix("https://")
            .and_then(|a| a.strip_suffix('/'))
            .unwrap_or_else(|| panic!("not an https URL: {url}"));
        std::net::TcpStream::connect(address).unwrap_or_else(|e| panic!("{url}: {e}"));
    }
    // Every node serves its workspace over HTTPS, on a port that answers.
    let workspaces = report["workspaces"]
        .as_array()
        .expect("the workspaces' URLs");
    assert_eq!(workspaces.len(), 4, "{workspaces:?}");
    for w in workspaces {
        let url = w["url"].as_str().unwrap();
        let address = url
            .strip_prefix("https://")
            .and_then(|a| a.strip_suffix('/'))
            .unwrap_or_else(|| panic!("not an https URL: {url}"));
        std::net::TcpStream::connect(address).unwrap_or_else(|e| panic!("{url}: {e}"));
    }
    // The served federation talks mutual TLS with the demo's own CA: every command is given it.
    let ca = dir.join("certs").join("ca.pem");
    let run = |args: &[&str]| run_with(&[("RENKEI_CA", ca.as_os_str())], args);

    let replicas: Vec<String> = report["replicas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_owned())
        .collect();
    // Cluster status needs a caller's token; without one the prefecture refuses (exit 1: every
    // replica answered with a refusal).
    let token = officer_token(&dir);
    let anonymous = run(&["cluster", "status", "--addr", &replicas[0]]);
    assert!(!anonymous.status.success(), "{}", stdout(&anonymous));
    let mut status_args = vec!["--json", "cluster", "status", "--token", &token];
    for r in &replicas {
        status_args.extend(["--addr", r.as_str()]);
    }
    let status = run(&status_args);
    assert!(status.status.success(), "{}", stderr(&status));
    let views: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    let views = views["replicas"].as_array().unwrap();
    assert_eq!(views.len(), 3);
    let leader = &views[0]["leader_id"];
    assert!(
        views
            .iter()
            .all(|v| &v["leader_id"] == leader && v["voters"].as_array().unwrap().len() == 3)
    );
    let table = run(&[
        "cluster",
        "status",
        "--addr",
        &replicas[0],
        "--token",
        &token,
    ]);
    assert!(stdout(&table).contains("Leader") || stdout(&table).contains("Follower"));

    let niikawa = report["nodes"][0]["address"].as_str().unwrap();
    // The demo's nodes have [[staff]] (for their workspaces): node commands carry its token.
    let clerk = node_token(&dir, report["nodes"][0]["name"].as_str().unwrap());
    let anonymous = run(&["node", "status", "--addr", niikawa]);
    assert!(!anonymous.status.success(), "{}", stdout(&anonymous));
    let node = run(&[
        "node",
        "status",
        "--addr",
        niikawa,
        "--token",
        clerk.as_str(),
    ]);
    assert!(node.status.success(), "{}", stderr(&node));
    assert!(!stderr(&node).contains("plaintext"), "{}", stderr(&node));
    // The token may come from a file instead (no process list, no shell history).
    let token_file = tmp.path().join("clerk.token");
    std::fs::write(&token_file, format!("{clerk}\n")).unwrap();
    let token_file = token_file.to_str().unwrap();
    let from_file = run(&[
        "node",
        "status",
        "--addr",
        niikawa,
        "--token-file",
        token_file,
    ]);
    assert!(from_file.status.success(), "{}", stderr(&from_file));
    // Without --ca the token would travel in plaintext: the tool says so before it connects.
    let plaintext = run_with(
        &[],
        &[
            "node",
            "status",
            "--addr",
            niikawa,
            "--token-file",
            token_file,
        ],
    );
    assert!(!plaintext.status.success());
    assert!(
        stderr(&plaintext).contains("the token is sent in plaintext"),
        "{}",
        stderr(&plaintext)
    );
    let node_text = stdout(&node);
    assert!(
        node_text.contains("魚津市") && node_text.contains("朝日町"),
        "{node_text}"
    );
    let node_json = run(&[
        "--json",
        "node",
        "status",
        "--addr",
        niikawa,
        "--token",
        clerk.as_str(),
    ]);
    let value: serde_json::Value = serde_json::from_slice(&node_json.stdout).unwrap();
    for m in value["municipalities"].as_array().unwrap() {
        assert!(m["events"].as_u64().unwrap() > 0);
        assert_eq!(m["produced"], m["acknowledged"], "{m}");
    }

    let sjis = tmp.path().join("summary-sjis.csv");
    let export = run(&[
        "survey",
        "export",
        "--addr",
        &replicas[1],
        "--addr",
        &replicas[2],
        "--token",
        &token,
        "--fy",
        "2024",
        "--as-of",
        "2024-10-01",
        "--format",
        "csv-sjis",
        "--out",
        sjis.to_str().unwrap(),
    ]);
    assert!(export.status.success(), "{}", stderr(&export));
    let bytes = std::fs::read(&sjis).unwrap();
    assert!(!bytes.starts_with(b"\xEF\xBB\xBF"), "Shift_JIS has no BOM");
    assert!(
        std::str::from_utf8(&bytes).is_err(),
        "Shift_JIS is not UTF-8"
    );
    let json = tmp.path().join("survey.json");
    let export = run(&[
        "survey",
        "export",
        "--addr",
        &replicas[0],
        "--token",
        &token,
        "--fy",
        "2024",
        "--format",
        "json",
        "--out",
        json.to_str().unwrap(),
    ]);
    assert!(export.status.success(), "{}", stderr(&export));
    // `--known-at` counts what the prefecture had recorded at an instant: an export made now is
    // reproduced byte for byte later (below, after more facts), and one at an instant before
    // anything was recorded answers 実施していない throughout.
    let known_at_now = chrono::Utc::now().to_rfc3339();
    let export_known_at = |instant: &str, name: &str| {
        let path = tmp.path().join(name);
        let export = run(&[
            "survey",
            "export",
            "--addr",
            &replicas[0],
            "--token",
            &token,
            "--fy",
            "2024",
            "--as-of",
            "2024-10-01",
            "--known-at",
            instant,
            "--format",
            "detail-csv",
            "--out",
            path.to_str().unwrap(),
        ]);
        assert!(export.status.success(), "{}", stderr(&export));
        std::fs::read_to_string(path).unwrap()
    };
    let then = export_known_at(&known_at_now, "detail-then.csv");
    assert!(then.contains("実施している"), "{then}");
    let before_anything = export_known_at("2000-01-01T09:00:00+09:00", "detail-2000.csv");
    assert!(
        !before_anything.contains("実施している"),
        "{before_anything}"
    );
    // Without the officer's token the prefecture refuses: bad input, exit 2.
    let refused = run(&[
        "survey",
        "export",
        "--addr",
        &replicas[0],
        "--token",
        "wrong",
        "--fy",
        "2024",
        "--out",
        tmp.path().join("x.csv").to_str().unwrap(),
    ]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));

    // A resource list imported into 魚津市's node: the good rows registered, the bad one named
    // (exit 2); importing the same good rows again adds nothing.
    let good = "ID,種別,名称,機能強化型,医療機関コード,介護保険事業所番号,住所,緯度,経度,連絡先,対応可能な機能,相談可能時間,住民向け公開\n\
                ,訪問看護ステーション,うおづ訪問看護ステーション,,,1660100901,魚津市釈迦堂1-1,,,0765-00-0000,24時間対応,,○\n";
    let csv = tmp.path().join("resources.csv");
    std::fs::write(&csv, format!("{good},宇宙病院,謎の病院,,,,魚津市,,,,,,\n")).unwrap();
    let import = [
        "import",
        "resources",
        "--addr",
        niikawa,
        "--municipality",
        "162043",
        "--on",
        "2024-05-01",
        "--token",
        clerk.as_str(),
    ];
    let mixed = run(&[&import[..], &[csv.to_str().unwrap()]].concat());
    assert_eq!(mixed.status.code(), Some(2), "{}", stderr(&mixed));
    assert!(
        stdout(&mixed).contains("1 registered") && stdout(&mixed).contains("line 3"),
        "{}",
        stdout(&mixed)
    );
    std::fs::write(&csv, good).unwrap();
    let again = run(&[&import[..], &[csv.to_str().unwrap()]].concat());
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(stdout(&again).contains("1 unchanged"), "{}", stdout(&again));
    // The export made before the import, reproduced byte for byte after it.
    assert_eq!(export_known_at(&known_at_now, "detail-again.csv"), then);

    // An online backup of a node, restored into a fresh directory; of a replica, by an officer.
    let backup = tmp.path().join("backup-niikawa");
    let taken = run(&[
        "backup",
        "--addr",
        niikawa,
        "--token",
        clerk.as_str(),
        "--to",
        backup.to_str().unwrap(),
    ]);
    assert!(taken.status.success(), "{}", stderr(&taken));
    assert!(
        stdout(&taken).contains("backup of the node"),
        "{}",
        stdout(&taken)
    );
    let restored = tmp.path().join("restored");
    let restore = [
        "restore",
        "--from",
        backup.to_str().unwrap(),
        "--data-dir",
        restored.to_str().unwrap(),
    ];
    // A node's backup holds no master key: the restore is refused without it, naming the flag.
    let keyless = run(&restore);
    assert_eq!(keyless.status.code(), Some(2), "{}", stderr(&keyless));
    assert!(
        stderr(&keyless).contains("--master-key"),
        "{}",
        stderr(&keyless)
    );
    assert!(!restored.exists(), "nothing was written");
    let master_key = dir
        .join(report["nodes"][0]["name"].as_str().unwrap())
        .join("data")
        .join("master.key");
    let restore = [
        &restore[..],
        &["--master-key", master_key.to_str().unwrap()],
    ]
    .concat();
    let done = run(&restore);
    assert!(done.status.success(), "{}", stderr(&done));
    assert!(
        restored.join("CURRENT").is_file()
            || std::fs::read_dir(&restored).unwrap().next().is_some()
    );
    let again = run(&restore);
    assert_eq!(again.status.code(), Some(2), "{}", stderr(&again));
    assert!(stderr(&again).contains("--data-dir"), "{}", stderr(&again));
    let replica_backup = tmp.path().join("backup-replica");
    let refused = run(&[
        "backup",
        "--addr",
        &replicas[0],
        "--to",
        replica_backup.to_str().unwrap(),
    ]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    let taken = run(&[
        "--json",
        "backup",
        "--addr",
        &replicas[0],
        "--token",
        &token,
        "--to",
        replica_backup.to_str().unwrap(),
    ]);
    assert!(taken.status.success(), "{}", stderr(&taken));
    let value: serde_json::Value = serde_json::from_slice(&taken.stdout).unwrap();
    assert_eq!(value["kind"], "prefecture-replica");

    // Ctrl-C: every child stopped, exit 130, nothing left behind.
    assert!(
        !processes_mentioning(&dir).is_empty(),
        "the federation runs"
    );
    let pid = child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let output = finish(child, "renkei demo --serve");
    assert_eq!(output.status.code(), Some(130), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("サインイン用トークン"),
        "the console's sign-in token is printed: {}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains("市区町村ワークスペース"),
        "the workspaces and their tokens are printed: {}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains("interrupted"),
        "{}",
        stderr(&output)
    );
    let left = processes_mentioning(&dir);
    assert!(left.is_empty(), "left behind: {left:?}");
}
