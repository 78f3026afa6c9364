//! `renkei certs`: a development CA and the certificates of nodes and replicas, checked by the
//! same loader the servers use; bad input named with exit code 2; nothing overwritten.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::*;
use renkei_proto::tls::{Tls, TlsFiles};

#[test]
fn a_ca_then_node_and_replica_certificates_that_the_servers_accept() {
    let tmp = tempfile::tempdir().unwrap();
    let ca_dir = tmp.path().join("ca");
    let ca = ca_dir.to_str().unwrap();

    let made = run(&["--json", "certs", "ca", "--out", ca]);
    assert!(made.status.success(), "{}", stderr(&made));
    let written: serde_json::Value = serde_json::from_slice(&made.stdout).unwrap();
    assert_eq!(written["written"].as_array().unwrap().len(), 2);
    let key_mode = std::fs::metadata(ca_dir.join("ca.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(
        key_mode & 0o777,
        0o600,
        "the CA key is readable by its owner only"
    );

    let node = run(&[
        "certs",
        "node",
        "--ca-dir",
        ca,
        "--municipality",
        "162019",
        "--municipality",
        "162027",
        "--host",
        "toyama-dc.example.lg.jp",
        "--host",
        "10.0.0.21",
    ]);
    assert!(node.status.success(), "{}", stderr(&node));
    let tls = Tls::load(
        "tls",
        &TlsFiles {
            ca: ca_dir.join("ca.pem"),
            cert: ca_dir.join("node-162019.pem"),
            key: ca_dir.join("node-162019.key"),
        },
    )
    .expect("a node certificate signed by the CA");
    let codes: Vec<String> = tls
        .names()
        .municipalities
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(codes, ["162019", "162027"]);

    let out = tmp.path().join("replica");
    let replica = run(&[
        "certs",
        "replica",
        "--ca-dir",
        ca,
        "--prefecture",
        "16",
        "--node-id",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(replica.status.success(), "{}", stderr(&replica));
    let tls = Tls::load(
        "tls",
        &TlsFiles {
            ca: ca_dir.join("ca.pem"),
            cert: out.join("replica-16-2.pem"),
            key: out.join("replica-16-2.key"),
        },
    )
    .unwrap();
    assert_eq!(tls.names().replica, Some(("16".parse().unwrap(), 2)));

    // Nothing is ever overwritten: a second CA in the same folder is refused.
    let before = std::fs::read(ca_dir.join("ca.key")).unwrap();
    let again = run(&["certs", "ca", "--out", ca]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        stderr(&again).contains("already exists"),
        "{}",
        stderr(&again)
    );
    assert_eq!(std::fs::read(ca_dir.join("ca.key")).unwrap(), before);
}

#[test]
fn bad_codes_hosts_and_missing_cas_are_named_with_exit_code_2() {
    let tmp = tempfile::tempdir().unwrap();
    let ca_dir = tmp.path().join("ca");
    let ca = ca_dir.to_str().unwrap();
    assert!(run(&["certs", "ca", "--out", ca]).status.success());

    let nowhere = tmp.path().join("nowhere");
    let cases: [(&[&str], &str); 5] = [
        (
            &["certs", "node", "--ca-dir", ca, "--municipality", "162018"],
            "162018",
        ),
        (
            &[
                "certs",
                "replica",
                "--ca-dir",
                ca,
                "--prefecture",
                "48",
                "--node-id",
                "1",
            ],
            "48",
        ),
        (
            &[
                "certs",
                "replica",
                "--ca-dir",
                ca,
                "--prefecture",
                "16",
                "--node-id",
                "0",
            ],
            "--node-id",
        ),
        (
            &[
                "certs",
                "node",
                "--ca-dir",
                ca,
                "--municipality",
                "162019",
                "--host",
                "not a host",
            ],
            "not a host",
        ),
        (
            &[
                "certs",
                "node",
                "--ca-dir",
                nowhere.to_str().unwrap(),
                "--municipality",
                "162019",
            ],
            "--ca-dir",
        ),
    ];
    for (args, needle) in cases {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(needle), "{args:?}: {}", stderr(&out));
    }
    // Nothing was written beside the CA.
    let mut files: Vec<String> = std::fs::read_dir(&ca_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, ["ca.key", "ca.pem"]);
}
