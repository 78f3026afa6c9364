//! Online backups and their restore, for a municipal node and (through the same layout) for a
//! prefecture replica.
//!
//! A backup is a directory:
//! - `data/`: what goes back into the data directory — RocksDB checkpoints (consistent copies
//!   taken while the process serves; SST files hard-linked when on the same file system): for a
//!   node, the event store and the personal-data key vault, whose subject keys are wrapped by the
//!   master key — which a backup never holds;
//! - `backup.json`: the [`Manifest`], what was copied and when.
//!
//! [`restore`] copies `data/` into a fresh (absent or empty) data directory and syncs every file
//! and directory before it returns, so the restored process may start at once. A node's restore
//! must be given the node's master key: it checks that the key opens the backed-up vault and
//! replays the erasure log beside the key, so nobody erased since the backup comes back. A
//! restore never overwrites anything.

use std::path::{Path, PathBuf};

pub use renkei_proto::server::backup::*;

/// What a restore did.
#[derive(Debug, Clone)]
pub struct Restored {
    /// The restored backup's manifest.
    pub manifest: Manifest,
    /// For a node: the erasure log replayed (beside the master key), and how many subjects it
    /// erased in the restored vault — those erased since the backup was taken.
    pub erasure_log: Option<PathBuf>,
    pub erasures_replayed: usize,
}

/// Restores `backup` into `data_dir`, which must be absent or empty. A node's backup needs
/// `master_key_file`, the node's master key (a backup holds none): it must open the backed-up
/// key vault, and the erasure log beside it is replayed into the restored vault. On failure the
/// data directory is left as empty as it was found.
pub fn restore(
    backup: &Path,
    data_dir: &Path,
    master_key_file: Option<&Path>,
) -> Result<Restored, BackupError> {
    let manifest = read_manifest(backup)?;
    let master = match (manifest.kind.as_str(), master_key_file) {
        ("node", Some(path)) => Some(
            crate::personal::MasterKey::from_file(path)
                .map_err(|e| BackupError::invalid("master_key", path, e.to_string()))?,
        ),
        ("node", None) => {
            return Err(BackupError::invalid(
                "master_key",
                Path::new(""),
                "is required: a node's backup holds no master key; give the file of the key \
                 the node used (its erasure log beside it is replayed)",
            ));
        }
        (_, Some(path)) => {
            return Err(BackupError::invalid(
                "master_key",
                path,
                format!(
                    "is only for a node's backup; this one is a {}'s",
                    manifest.kind
                ),
            ));
        }
        (_, None) => None,
    };
    restore_data(backup, data_dir, &manifest)?;
    let Some(master) = master else {
        return Ok(Restored {
            manifest,
            erasure_log: None,
            erasures_replayed: 0,
        });
    };
    let erasure_log = master.erasure_log().map(|log| log.path().to_path_buf());
    match crate::personal::KeyVault::open_replaying(&data_dir.join("personal-keys"), master) {
        Ok((_, erasures_replayed)) => Ok(Restored {
            manifest,
            erasure_log,
            erasures_replayed,
        }),
        Err(e) => {
            // Nothing half-restored: the directory was absent or empty, and is so again.
            let _ = empty_dir(data_dir);
            Err(match e {
                crate::personal::VaultError::MasterKey { path, reason } => BackupError::Invalid {
                    field: "master_key",
                    value: path,
                    reason,
                },
                other => {
                    BackupError::io("replaying the erasure log into the restored vault", other)
                }
            })
        }
    }
}

#[cfg(test)]
mod tests;
