//! A replica's `Backup` service: an online checkpoint of its database (Raft log, vote and state
//! machine together) while it serves. Only prefecture officers may take one (callers with
//! `publish`), or anyone on a cluster with no callers configured.

use std::path::{Path, PathBuf};

use renkei_proto::server::backup::{self, BackupError, Manifest};
use renkei_proto::server::backup::{backup_reply, status_from_backup};
use renkei_proto::v1::{self, Backup};
use tonic::{Request, Response, Status};

use super::to_status;
use crate::access::identity;
use crate::config::Role;
use crate::store::LedgerReader;
use crate::types::{NodeId, Raft};

/// Serves `Backup.CreateBackup` for a replica.
#[derive(Clone)]
pub struct ReplicaBackupService {
    raft: Raft,
    reader: LedgerReader,
    node_id: NodeId,
}

impl ReplicaBackupService {
    pub fn new(raft: Raft, reader: LedgerReader, node_id: NodeId) -> Self {
        Self {
            raft,
            reader,
            node_id,
        }
    }

    /// Takes a backup into `target` (absolute, not existing). On failure nothing is left behind.
    fn create(&self, target: &Path, applied_index: u64) -> Result<Manifest, BackupError> {
        backup::take(target, |data| {
            self.reader
                .checkpoint(data)
                .map_err(|e| BackupError::io("checkpoint of the replica database", e))?;
            Ok(Manifest {
                kind: "prefecture-replica".into(),
                taken_at: backup::now_rfc3339(),
                bytes: 0,
                positions: Vec::new(),
                node_id: self.node_id,
                applied_index,
            })
        })
    }
}

#[tonic::async_trait]
impl Backup for ReplicaBackupService {
    #[tracing::instrument(skip_all, fields(target = %request.get_ref().target_dir))]
    async fn create_backup(
        &self,
        request: Request<v1::CreateBackupRequest>,
    ) -> Result<Response<v1::BackupReply>, Status> {
        let who = identity(&request)?;
        who.check_role(Role::Admin, "take a backup")
            .map_err(to_status)?;
        let target = PathBuf::from(&request.get_ref().target_dir);
        // What the checkpoint holds at least: it is taken after this index was applied.
        let applied_index = self
            .raft
            .metrics()
            .borrow()
            .last_applied
            .map_or(0, |id| id.index);
        let service = self.clone();
        let path = target.clone();
        let manifest = tokio::task::spawn_blocking(move || service.create(&path, applied_index))
            .await
            .map_err(|e| Status::internal(format!("backup task failed: {e}")))?
            .map_err(status_from_backup)?;
        tracing::info!(who = who.name(), path = %target.display(), bytes = manifest.bytes, "backup taken");
        Ok(Response::new(backup_reply(&target, manifest)))
    }
}
