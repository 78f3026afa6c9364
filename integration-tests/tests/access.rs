//! Operator access at the prefecture with real processes: every call names its caller with a
//! bearer token, each caller has a role (node, viewer, operator, admin), and a refused call is
//! answered UNAUTHENTICATED or PERMISSION_DENIED, changes nothing, and is logged with who and
//! what.

use renkei_integration_tests::*;
use renkei_proto::v1::{self, BackupClient, ClusterAdminClient, PrefectureSurveyClient};
use tonic::Code;

fn regions() -> v1::SetRegionsRequest {
    v1::SetRegionsRequest {
        request_id: "regions-1".into(),
        kind: "secondary_medical_area".into(),
        first_fiscal_year: 2024,
        last_fiscal_year: 2029,
        csv: include_str!("../../federation/data/toyama_secondary_medical_areas.csv").into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_may_do_its_part_and_refusals_change_nothing_and_are_logged() {
    let cluster = Cluster::start(3).await;
    let leader = cluster.wait_for_leader().await;
    let channel = cluster.channel(leader).await;
    let mut survey = PrefectureSurveyClient::new(channel.clone());
    let mut admin = ClusterAdminClient::new(channel.clone());
    let mut backups = BackupClient::new(channel);

    // No token, or an unknown one: UNAUTHENTICATED.
    let err = survey.get_tally(tally_2024()).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
    let err = survey
        .get_tally(with_token("not-a-known-token-at-all", tally_2024()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
    let err = admin.status(v1::StatusRequest {}).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");

    // A municipal node reads no tally and changes no membership.
    let err = survey
        .get_tally(with_token(NODE_TOKEN, tally_2024()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    let err = admin
        .remove_node(with_token(NODE_TOKEN, v1::RemoveNodeRequest { node_id: 3 }))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");

    // A viewer reads and exports, and changes nothing.
    survey
        .get_tally(with_token(VIEWER_TOKEN, tally_2024()))
        .await
        .unwrap();
    admin
        .status(with_token(VIEWER_TOKEN, v1::StatusRequest {}))
        .await
        .unwrap();
    let err = survey
        .set_regions(with_token(VIEWER_TOKEN, regions()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    assert!(
        err.message().contains("viewer") && err.message().contains("set regions"),
        "{err:?}"
    );
    let target = cluster.root.path().join("backup-by-viewer");
    let err = backups
        .create_backup(with_token(
            VIEWER_TOKEN,
            v1::CreateBackupRequest {
                target_dir: target.display().to_string(),
            },
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    assert!(!target.exists(), "nothing written on refusal");

    // An operator sets regions, but does not change the membership.
    survey
        .set_regions(with_token(OFFICER_TOKEN, regions()))
        .await
        .unwrap();
    let err = admin
        .remove_node(with_token(
            OFFICER_TOKEN,
            v1::RemoveNodeRequest { node_id: 3 },
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");

    // Nothing changed by the refusals: the three voters are there.
    let status = admin
        .status(with_token(ADMIN_TOKEN, v1::StatusRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.voters.len(), 3, "{status:?}");

    // The admin (whose token the configuration holds only as a SHA-256) takes a backup.
    let target = cluster.root.path().join("backup-by-admin");
    backups
        .create_backup(with_token(
            ADMIN_TOKEN,
            v1::CreateBackupRequest {
                target_dir: target.display().to_string(),
            },
        ))
        .await
        .unwrap();
    assert!(target.join("backup.json").is_file());

    // Each refusal is in the replica's log with who and what.
    let log = cluster.root.path().join(format!("replica-{leader}.log"));
    wait_until("the refusals logged", || async {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let refused: Vec<&str> = text
            .lines()
            .filter(|l| l.contains("call refused"))
            .collect();
        refused
            .iter()
            .any(|l| l.contains("viewer") && l.contains("set regions"))
            && refused
                .iter()
                .any(|l| l.contains("test-node") && l.contains("remove a node"))
            && refused.iter().any(|l| l.contains("unknown token"))
    })
    .await;
}
