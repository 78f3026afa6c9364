//! The node's `Backup` service: an online backup of the event store and the personal-data key
//! vault, while the node serves. A backup never holds the master key nor the erasure log: the
//! subject keys in it are wrapped by a key kept elsewhere, which a restore must be given.

use std::path::{Path, PathBuf};

use renkei_proto::v1::{self, Backup};
use tonic::{Request, Response, Status};

use crate::backup::{self, BackupError, Manifest};
pub use crate::backup::{backup_reply, status_from_backup};
use crate::personal::KeyVault;
use crate::store::EventStore;

/// Serves `Backup.CreateBackup` for a node.
#[derive(Clone)]
pub struct NodeBackupService {
    store: EventStore,
    vault: KeyVault,
}

impl NodeBackupService {
    pub fn new(store: EventStore, vault: KeyVault) -> Self {
        Self { store, vault }
    }

    /// Takes a backup into `target` (absolute, not existing). On failure nothing is left behind.
    pub fn create(&self, target: &Path) -> Result<Manifest, BackupError> {
        backup::take(target, |data| self.fill(data))
    }

    fn fill(&self, data: &Path) -> Result<Manifest, BackupError> {
        let mut positions = Vec::new();
        for tenant in self.store.tenants() {
            let last = self
                .store
                .last_position(tenant)
                .map_err(|e| BackupError::io("reading positions", e))?;
            positions.push(format!("{tenant}:{}", last.get()));
        }
        self.store
            .checkpoint(data)
            .map_err(|e| BackupError::io("checkpoint of the event store", e))?;
        self.vault
            .checkpoint(&data.join("personal-keys"))
            .map_err(|e| BackupError::io("checkpoint of the key vault", e))?;
        Ok(Manifest {
            kind: "node".into(),
            taken_at: backup::now_rfc3339(),
            bytes: 0,
            positions,
            node_id: 0,
            applied_index: 0,
        })
    }
}

#[tonic::async_trait]
impl Backup for NodeBackupService {
    #[tracing::instrument(skip_all, fields(target = %request.get_ref().target_dir))]
    async fn create_backup(
        &self,
        request: Request<v1::CreateBackupRequest>,
    ) -> Result<Response<v1::BackupReply>, Status> {
        let target = PathBuf::from(&request.get_ref().target_dir);
        let service = self.clone();
        let path = target.clone();
        // Checkpoints flush memtables and copy files: blocking work, off the async threads.
        let manifest = tokio::task::spawn_blocking(move || service.create(&path))
            .await
            .map_err(|e| Status::internal(format!("backup task failed: {e}")))?
            .map_err(status_from_backup)?;
        tracing::info!(path = %target.display(), bytes = manifest.bytes, "backup taken");
        Ok(Response::new(backup_reply(&target, manifest)))
    }
}
