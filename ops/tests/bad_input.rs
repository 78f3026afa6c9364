//! Bad input is refused with exit code 2 and a message naming what is wrong, before anything is
//! contacted; an unreachable service is a runtime failure (exit 1); help is available for every
//! command.

mod common;

use common::*;

fn refused(args: &[&str], naming: &str) {
    let output = run(args);
    assert_eq!(
        output.status.code(),
        Some(2),
        "renkei {}: {:?}\n{}",
        args.join(" "),
        output.status,
        stderr(&output)
    );
    assert!(
        stderr(&output).contains(naming),
        "renkei {}: the error should name {naming:?}:\n{}",
        args.join(" "),
        stderr(&output)
    );
}

#[test]
fn a_bad_address_is_refused_naming_the_flag() {
    refused(&["cluster", "status", "--addr", "not-an-address"], "--addr");
    refused(&["node", "status", "--addr", "127.0.0.1:99999"], "--addr");
    refused(
        &[
            "cluster",
            "init",
            "--addr",
            "127.0.0.1:7501",
            "--member",
            "x=127.0.0.1:7501",
        ],
        "--member",
    );
}

#[test]
fn a_bad_fiscal_year_or_date_is_refused_naming_the_flag() {
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("survey.csv");
    let file = file.to_str().unwrap();
    refused(
        &[
            "survey",
            "export",
            "--addr",
            "127.0.0.1:1",
            "--fy",
            "1800",
            "--out",
            file,
        ],
        "--fy",
    );
    refused(
        &[
            "survey",
            "export",
            "--addr",
            "127.0.0.1:1",
            "--fy",
            "R6",
            "--out",
            file,
        ],
        "--fy",
    );
    refused(
        &[
            "survey",
            "export",
            "--addr",
            "127.0.0.1:1",
            "--fy",
            "2024",
            "--as-of",
            "2024-02-30",
            "--out",
            file,
        ],
        "--as-of",
    );
    // A date outside the fiscal year: checked before contacting anyone (nothing listens there).
    refused(
        &[
            "survey",
            "export",
            "--addr",
            "127.0.0.1:1",
            "--fy",
            "2024",
            "--as-of",
            "2025-04-01",
            "--out",
            file,
        ],
        "--as-of 2025-04-01",
    );
    refused(
        &[
            "survey",
            "export",
            "--addr",
            "127.0.0.1:1",
            "--fy",
            "2024",
            "--format",
            "pdf",
            "--out",
            file,
        ],
        "--format",
    );
    refused(
        &[
            "survey",
            "export",
            "--addr",
            "127.0.0.1:1",
            "--fy",
            "2024",
            "--out",
            "/no/such/folder/x.csv",
        ],
        "--out",
    );
}

#[test]
fn a_missing_or_unreadable_file_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.json");
    let out = dir.path().join("national.json");
    refused(
        &[
            "survey",
            "merge",
            missing.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        "missing.json",
    );
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "{\"not\": \"a survey\"}").unwrap();
    refused(
        &[
            "survey",
            "merge",
            junk.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        "junk.json",
    );
    refused(
        &[
            "survey",
            "merge",
            junk.to_str().unwrap(),
            "--out",
            dir.path().join("n.txt").to_str().unwrap(),
        ],
        "--out",
    );
    refused(&["survey", "merge", "--out", out.to_str().unwrap()], "FILE");
    refused(
        &[
            "restore",
            "--from",
            missing.to_str().unwrap(),
            "--data-dir",
            dir.path().join("d").to_str().unwrap(),
        ],
        "--from",
    );
}

#[test]
fn a_backup_target_must_be_an_absolute_path() {
    refused(
        &["backup", "--addr", "127.0.0.1:1", "--to", "relative/backup"],
        "--to",
    );
}

#[test]
fn an_unreachable_service_is_a_runtime_failure() {
    // Port 1 on loopback: nothing listens there.
    let output = run(&["node", "status", "--addr", "127.0.0.1:1"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("127.0.0.1:1"),
        "{}",
        stderr(&output)
    );
    let output = run(&["--json", "cluster", "status", "--addr", "127.0.0.1:1"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
}

#[test]
fn every_command_has_help() {
    for args in [
        vec!["--help"],
        vec!["demo", "--help"],
        vec!["cluster", "--help"],
        vec!["cluster", "init", "--help"],
        vec!["cluster", "add-learner", "--help"],
        vec!["cluster", "promote", "--help"],
        vec!["cluster", "remove", "--help"],
        vec!["cluster", "status", "--help"],
        vec!["node", "status", "--help"],
        vec!["survey", "export", "--help"],
        vec!["survey", "merge", "--help"],
        vec!["backup", "--help"],
        vec!["restore", "--help"],
    ] {
        let output = run(&args);
        assert!(output.status.success(), "renkei {}", args.join(" "));
        assert!(
            stdout(&output).contains("Usage"),
            "renkei {}",
            args.join(" ")
        );
    }
    let output = run(&["no-such-command"]);
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn the_demo_names_a_missing_server_binary_and_how_to_build_it() {
    // A copy of renkei alone in a folder: its sibling binaries are missing.
    let dir = tempfile::tempdir().unwrap();
    let lonely = dir.path().join("renkei");
    if std::fs::hard_link(env!("CARGO_BIN_EXE_renkei"), &lonely).is_err() {
        std::fs::copy(env!("CARGO_BIN_EXE_renkei"), &lonely).unwrap();
    }
    let output = std::process::Command::new(&lonely)
        .args(["demo", "--dir", dir.path().join("fed").to_str().unwrap()])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    assert!(text.contains("renkei-prefecture not found"), "{text}");
    assert!(
        text.contains("cargo build --release --workspace --bins"),
        "{text}"
    );
}

#[test]
fn an_import_of_a_missing_file_or_for_a_bad_municipality_is_refused() {
    refused(
        &[
            "import",
            "resources",
            "--addr",
            "127.0.0.1:1",
            "--municipality",
            "162043",
            "/no/such.csv",
        ],
        "/no/such.csv",
    );
    refused(
        &[
            "import",
            "resources",
            "--addr",
            "127.0.0.1:1",
            "--municipality",
            "162048",
            "/no/such.csv",
        ],
        "--municipality",
    );
}
