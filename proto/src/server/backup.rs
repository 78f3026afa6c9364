//! Online backups of a node or a replica, and the copy of a backup back into a data directory —
//! the routine both tiers share (a node's restore adds its key vault: `renkei_node::backup`).
//!
//! A backup is a directory:
//! - `data/`: what goes back into the data directory — RocksDB checkpoints (consistent copies
//!   taken while the process serves; SST files hard-linked when on the same file system);
//! - `backup.json`: the [`Manifest`], what was copied and when.
//!
//! [`restore_data`] copies `data/` into a fresh (absent or empty) data directory and syncs every
//! file and directory before it returns, so the restored process may start at once. A restore
//! never overwrites anything.

use std::path::{Path, PathBuf};

use crate::v1;
use serde::{Deserialize, Serialize};

/// The manifest's file name inside a backup.
pub const MANIFEST_FILE: &str = "backup.json";
/// The directory inside a backup that becomes the data directory.
pub const DATA_DIR: &str = "data";

/// What a backup holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// `node` or `prefecture-replica`.
    pub kind: String,
    /// RFC 3339 time at which the backup was taken.
    pub taken_at: String,
    /// Total size of the files under `data/`.
    pub bytes: u64,
    /// For a node: `municipality:last global position` of each hosted municipality.
    #[serde(default)]
    pub positions: Vec<String>,
    /// For a replica: its node id and the last log index it had applied.
    #[serde(default)]
    pub node_id: u64,
    #[serde(default)]
    pub applied_index: u64,
}

/// Why a backup or a restore failed.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The request names a path that cannot be used; `field` is the request's field.
    #[error("{field} {value:?} {reason}")]
    Invalid {
        field: &'static str,
        value: String,
        reason: String,
    },
    /// The file system or RocksDB failed.
    #[error("{what}: {message}")]
    Io { what: String, message: String },
}

impl BackupError {
    pub fn invalid(field: &'static str, value: &Path, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            value: value.display().to_string(),
            reason: reason.into(),
        }
    }

    pub fn io(what: impl Into<String>, e: impl std::fmt::Display) -> Self {
        Self::Io {
            what: what.into(),
            message: e.to_string(),
        }
    }
}

/// Checks a backup target: absolute, not existing yet, its parent existing. Returns the `data/`
/// directory to fill (created, with the target).
pub fn prepare_target(target: &Path) -> Result<PathBuf, BackupError> {
    if target.as_os_str().is_empty() || !target.is_absolute() {
        return Err(BackupError::invalid(
            "target_dir",
            target,
            "must be an absolute path on the serving machine",
        ));
    }
    if target.exists() {
        return Err(BackupError::invalid(
            "target_dir",
            target,
            "already exists; a backup goes into a new directory",
        ));
    }
    match target.parent() {
        Some(parent) if parent.is_dir() => {}
        _ => {
            return Err(BackupError::invalid(
                "target_dir",
                target,
                "has no existing parent directory",
            ));
        }
    }
    std::fs::create_dir(target).map_err(|e| BackupError::io("creating the backup directory", e))?;
    // The checkpoint creates `data/` itself (RocksDB refuses an existing directory).
    Ok(target.join(DATA_DIR))
}

/// Takes a backup into `target` (absolute, not existing): `fill` writes `data/` (the directory
/// it is given does not exist yet, as RocksDB checkpoints want) and returns the manifest, which
/// is then written with the size of `data/`. On failure nothing is left behind.
pub fn take(
    target: &Path,
    fill: impl FnOnce(&Path) -> Result<Manifest, BackupError>,
) -> Result<Manifest, BackupError> {
    let data = prepare_target(target)?;
    let result = fill(&data).and_then(|manifest| finish(target, manifest));
    if result.is_err() {
        // Nothing half-written: a failed backup leaves no directory that looks like one.
        let _ = std::fs::remove_dir_all(target);
    }
    result
}

/// Writes the manifest (after the data) and syncs the whole backup to disk.
pub fn finish(target: &Path, mut manifest: Manifest) -> Result<Manifest, BackupError> {
    manifest.bytes = tree_size(&target.join(DATA_DIR))?;
    let json = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| BackupError::io("encoding the manifest", e))?;
    std::fs::write(target.join(MANIFEST_FILE), json)
        .map_err(|e| BackupError::io("writing the manifest", e))?;
    sync_tree(target)?;
    Ok(manifest)
}

/// Reads a backup's manifest.
pub fn read_manifest(backup: &Path) -> Result<Manifest, BackupError> {
    let path = backup.join(MANIFEST_FILE);
    let bytes = std::fs::read(&path).map_err(|e| {
        BackupError::invalid(
            "backup",
            backup,
            format!("is not a renkei backup ({MANIFEST_FILE}: {e})"),
        )
    })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        BackupError::invalid(
            "backup",
            backup,
            format!("has an unreadable {MANIFEST_FILE}: {e}"),
        )
    })
}

/// Copies the database of `backup` (whose manifest is `manifest`) into `data_dir`, which must be
/// absent or empty, after checking it is whole (its size is the manifest's). Every file and
/// directory is synced before it returns.
pub fn restore_data(
    backup: &Path,
    data_dir: &Path,
    manifest: &Manifest,
) -> Result<(), BackupError> {
    let data = backup.join(DATA_DIR);
    if !data.join("CURRENT").is_file() {
        return Err(BackupError::invalid(
            "backup",
            backup,
            "has no database under data/ (no data/CURRENT)",
        ));
    }
    let size = tree_size(&data)?;
    if size != manifest.bytes {
        return Err(BackupError::invalid(
            "backup",
            backup,
            format!(
                "is incomplete or altered: data/ holds {size} bytes, the manifest says {}",
                manifest.bytes
            ),
        ));
    }
    copy_tree_into_empty(&data, data_dir, "data_dir")
}

/// Removes everything inside `dir` (not `dir` itself).
pub fn empty_dir(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            std::fs::remove_dir_all(&path)?;
        } else {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}

/// Copies the tree under `from` into `to` (absent or empty) and syncs it; `field` names `to` in
/// errors.
pub fn copy_tree_into_empty(
    from: &Path,
    to: &Path,
    field: &'static str,
) -> Result<(), BackupError> {
    if to.exists() {
        let mut entries =
            std::fs::read_dir(to).map_err(|e| BackupError::io("reading the data directory", e))?;
        if entries.next().is_some() {
            return Err(BackupError::invalid(
                field,
                to,
                "is not empty; restore into a fresh directory",
            ));
        }
    }
    copy_tree(from, to)?;
    sync_tree(to)?;
    if let Some(parent) = to.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) -> Result<(), BackupError> {
    std::fs::create_dir_all(to)
        .map_err(|e| BackupError::io(format!("creating {}", to.display()), e))?;
    for entry in std::fs::read_dir(from)
        .map_err(|e| BackupError::io(format!("reading {}", from.display()), e))?
    {
        let entry = entry.map_err(|e| BackupError::io(format!("reading {}", from.display()), e))?;
        let target = to.join(entry.file_name());
        let kind = entry
            .file_type()
            .map_err(|e| BackupError::io(format!("reading {}", entry.path().display()), e))?;
        if kind.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)
                .map_err(|e| BackupError::io(format!("copying {}", entry.path().display()), e))?;
        }
    }
    Ok(())
}

/// Syncs every file and directory under `root` (and `root` itself).
fn sync_tree(root: &Path) -> Result<(), BackupError> {
    for entry in std::fs::read_dir(root)
        .map_err(|e| BackupError::io(format!("reading {}", root.display()), e))?
    {
        let entry = entry.map_err(|e| BackupError::io(format!("reading {}", root.display()), e))?;
        let path = entry.path();
        if path.is_dir() {
            sync_tree(&path)?;
        } else {
            std::fs::File::open(&path)
                .and_then(|f| f.sync_all())
                .map_err(|e| BackupError::io(format!("syncing {}", path.display()), e))?;
        }
    }
    sync_dir(root)
}

fn sync_dir(dir: &Path) -> Result<(), BackupError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| BackupError::io(format!("syncing {}", dir.display()), e))
}

/// The total size of the files under `root`.
pub fn tree_size(root: &Path) -> Result<u64, BackupError> {
    let mut total = 0;
    for entry in std::fs::read_dir(root)
        .map_err(|e| BackupError::io(format!("reading {}", root.display()), e))?
    {
        let entry = entry.map_err(|e| BackupError::io(format!("reading {}", root.display()), e))?;
        let meta = entry
            .metadata()
            .map_err(|e| BackupError::io(format!("reading {}", entry.path().display()), e))?;
        total += if meta.is_dir() {
            tree_size(&entry.path())?
        } else {
            meta.len()
        };
    }
    Ok(total)
}

/// The current time as RFC 3339, for manifests.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Maps a backup error to its gRPC status; the one place where this is decided.
pub fn status_from_backup(e: BackupError) -> tonic::Status {
    match &e {
        BackupError::Invalid { .. } => tonic::Status::invalid_argument(e.to_string()),
        BackupError::Io { .. } => tonic::Status::internal(e.to_string()),
    }
}

/// The wire form of a manifest.
pub fn backup_reply(path: &Path, m: Manifest) -> v1::BackupReply {
    v1::BackupReply {
        path: path.display().to_string(),
        kind: m.kind,
        taken_at: m.taken_at,
        bytes: m.bytes,
        positions: m.positions,
        node_id: m.node_id,
        applied_index: m.applied_index,
    }
}
