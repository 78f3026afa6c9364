use super::*;

/// A backup of `kind` whose databases are files of made-up bytes (enough for the copy).
fn fake_backup_of(root: &Path, kind: &str) -> PathBuf {
    let backup = root.join(format!("b-{kind}"));
    let data = prepare_target(&backup).unwrap();
    std::fs::create_dir_all(data.join("personal-keys")).unwrap();
    std::fs::write(data.join("CURRENT"), b"MANIFEST-000001\n").unwrap();
    std::fs::write(data.join("000001.sst"), vec![7u8; 1000]).unwrap();
    std::fs::write(data.join("personal-keys").join("CURRENT"), b"x").unwrap();
    let manifest = Manifest {
        kind: kind.into(),
        taken_at: now_rfc3339(),
        bytes: 0,
        positions: vec!["162019:3".into()],
        node_id: 0,
        applied_index: 0,
    };
    let written = finish(&backup, manifest).unwrap();
    assert_eq!(written.bytes, 16 + 1000 + 1);
    backup
}

fn fake_backup(root: &Path) -> PathBuf {
    fake_backup_of(root, "prefecture-replica")
}

#[test]
fn a_backup_target_must_be_absolute_new_and_under_an_existing_directory() {
    let dir = tempfile::tempdir().unwrap();
    let err = prepare_target(Path::new("relative/b"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("target_dir") && err.contains("absolute"),
        "{err}"
    );
    let err = prepare_target(dir.path()).unwrap_err().to_string();
    assert!(err.contains("already exists"), "{err}");
    let err = prepare_target(&dir.path().join("no/such/b"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("no existing parent"), "{err}");
    assert!(!dir.path().join("no").exists(), "nothing was written");
}

#[test]
fn a_restore_copies_the_whole_tree_and_returns_the_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let backup = fake_backup(dir.path());
    let target = dir.path().join("restored");
    let restored = restore(&backup, &target, None).unwrap();
    let manifest = restored.manifest;
    assert_eq!(manifest.kind, "prefecture-replica");
    assert_eq!(manifest.positions, vec!["162019:3".to_string()]);
    assert_eq!(
        std::fs::read(target.join("000001.sst")).unwrap(),
        vec![7u8; 1000]
    );
    assert!(target.join("personal-keys").join("CURRENT").is_file());
}

#[test]
fn a_restore_never_overwrites_and_refuses_an_altered_backup() {
    let dir = tempfile::tempdir().unwrap();
    let backup = fake_backup(dir.path());
    let target = dir.path().join("restored");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("keep"), b"mine").unwrap();
    let err = restore(&backup, &target, None).unwrap_err().to_string();
    assert!(
        err.contains("data_dir") && err.contains("not empty"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_dir(&target).unwrap().count(),
        1,
        "nothing was written"
    );

    std::fs::write(backup.join(DATA_DIR).join("000001.sst"), b"short").unwrap();
    let err = restore(&backup, &dir.path().join("other"), None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("incomplete or altered"), "{err}");
    assert!(!dir.path().join("other").exists(), "nothing was written");

    let err = restore(dir.path(), &dir.path().join("x"), None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a renkei backup"), "{err}");
}

#[test]
fn a_nodes_restore_needs_the_master_key_and_only_a_nodes_takes_one() {
    let dir = tempfile::tempdir().unwrap();
    let node = fake_backup_of(dir.path(), "node");
    let err = restore(&node, &dir.path().join("n"), None)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("master_key") && err.contains("holds no master key"),
        "{err}"
    );
    assert!(!dir.path().join("n").exists(), "nothing was written");
    let missing = dir.path().join("no.key");
    let err = restore(&node, &dir.path().join("n"), Some(&missing))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("master_key") && err.contains("no.key"),
        "{err}"
    );

    let replica = fake_backup(dir.path());
    let err = restore(&replica, &dir.path().join("r"), Some(&missing))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("master_key") && err.contains("only for a node"),
        "{err}"
    );
    assert!(!dir.path().join("r").exists(), "nothing was written");
}
