//! Backup and restore of a prefecture replica with real processes on loopback: an online backup
//! of replica 3 while the cluster takes facts, more facts, then replica 3's data is lost and
//! restored from the backup — it rejoins, catches up from its peers, and keeps serving as a voter
//! when another replica dies.

use renkei_integration_tests::*;
use renkei_proto::v1::{self, BackupClient, PrefectureLedgerClient};
use tonic::Code;

const RESTORED: u64 = 3;

/// Replica `id`'s own (possibly stale) acknowledged sequence of 富山市 and applied index.
async fn local_view(cluster: &Cluster, id: u64) -> Option<(u64, u64)> {
    if !cluster.is_running(id) {
        return None;
    }
    let channel = try_connect(
        &cluster.replicas[&id].address,
        &pki().node_client(&[TOYAMA_CITY]),
    )
    .await?;
    let mut client = PrefectureLedgerClient::new(channel);
    let reply = client
        .read_sequence(with_token(
            NODE_TOKEN,
            v1::ReadSequenceRequest {
                municipality: TOYAMA_CITY.into(),
                consistency: v1::ReadConsistency::Local as i32,
            },
        ))
        .await
        .ok()?
        .into_inner();
    Some((reply.acknowledged, reply.applied_index))
}

/// Waits until the node's `recorded` facts of 富山市, after its participation, are acknowledged and
/// the ledger holds them all.
async fn acknowledged_everywhere(node: &Node, cluster: &Cluster, recorded: u64) {
    let expected = recorded + PARTICIPATION_FACTS;
    wait_until(
        &format!("{expected} facts of 富山市 acknowledged"),
        || async {
            let s = node.sync_state(TOYAMA_CITY).await;
            s.produced == expected && s.acknowledged == expected
        },
    )
    .await;
    assert_eq!(cluster.ledger(TOYAMA_CITY).await.len() as u64, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_restored_from_an_online_backup_rejoins_and_catches_up() {
    let mut cluster = Cluster::start(3).await;
    let node = Node::start(cluster.addresses());
    record_activities(&node, TOYAMA_CITY, "a", 0..20).await;
    acknowledged_everywhere(&node, &cluster, 20).await;
    wait_until("replica 3 applied the 20 facts", || async {
        local_view(&cluster, RESTORED)
            .await
            .is_some_and(|(ack, _)| ack == 20 + PARTICIPATION_FACTS)
    })
    .await;

    let mut backups = BackupClient::new(cluster.channel(RESTORED).await);
    let target = cluster.root.path().join("backup-replica-3");
    let request = || v1::CreateBackupRequest {
        target_dir: target.display().to_string(),
    };
    // A municipal node's identity may not take a backup of the prefecture.
    let refused = backups
        .create_backup(with_token(NODE_TOKEN, request()))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    assert!(!target.exists(), "nothing written on refusal");
    let reply = backups
        .create_backup(with_token(ADMIN_TOKEN, request()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.kind, "prefecture-replica");
    assert_eq!(reply.node_id, RESTORED);
    assert!(reply.applied_index > 0 && reply.bytes > 0, "{reply:?}");

    // The cluster goes on; then replica 3 loses its disk.
    record_activities(&node, TOYAMA_CITY, "b", 0..15).await;
    acknowledged_everywhere(&node, &cluster, 35).await;
    cluster.kill(RESTORED);
    let data_dir = cluster.root.path().join(format!("replica-{RESTORED}"));
    std::fs::remove_dir_all(&data_dir).unwrap();
    let manifest = renkei_node::backup::restore(&target, &data_dir, None)
        .unwrap()
        .manifest;
    assert_eq!(manifest.node_id, RESTORED);
    assert_eq!(manifest.applied_index, reply.applied_index);

    // Restarted on the restored data it starts from the backup's state and catches up.
    cluster.restart(RESTORED);
    let first = std::cell::Cell::new(0);
    wait_until("the restored replica answers", || async {
        let view = local_view(&cluster, RESTORED).await;
        first.set(view.map_or(0, |(ack, _)| ack));
        view.is_some()
    })
    .await;
    let ack_at_start = first.get();
    assert!(
        ack_at_start >= 20 + PARTICIPATION_FACTS,
        "the restored replica starts from the backup: {ack_at_start}"
    );
    wait_until("the restored replica caught up to 35 facts", || async {
        local_view(&cluster, RESTORED)
            .await
            .is_some_and(|(ack, _)| ack == 35 + PARTICIPATION_FACTS)
    })
    .await;

    // It is a working voter: with one other replica down, the cluster still commits.
    let leader = cluster.wait_for_leader().await;
    let other = cluster
        .ids()
        .into_iter()
        .find(|id| *id != RESTORED && *id != leader)
        .unwrap_or_else(|| {
            cluster
                .ids()
                .into_iter()
                .find(|id| *id != RESTORED)
                .unwrap()
        });
    cluster.kill(other);
    record_activities(&node, TOYAMA_CITY, "c", 0..10).await;
    acknowledged_everywhere(&node, &cluster, 45).await;
    wait_until("the restored replica applied 45 facts", || async {
        local_view(&cluster, RESTORED)
            .await
            .is_some_and(|(ack, _)| ack == 45 + PARTICIPATION_FACTS)
    })
    .await;
}
