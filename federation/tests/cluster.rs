//! Proves the prefecture cluster's behaviour with real `renkei-prefecture` processes, real
//! RocksDB and real gRPC on loopback: election and replication, the ledger rules seen by a
//! client, follower redirects, linearizable and local reads, a restarted replica catching up,
//! a far-behind follower catching up by snapshot, and membership going from 3 to 5 and back.

use renkei_federation::client::{ClientError, LedgerClient};
use renkei_federation::grpc::LEADER_METADATA_KEY;
use renkei_integration_tests::{
    Cluster, PATIENCE, PREFECTURE, TAKAOKA_CITY, TOYAMA_CITY, facts, wait_until,
};
use renkei_proto::v1;

/// A leader-seeking ledger client over every replica of `cluster`, retrying for the harness's
/// patience.
fn leader_client(cluster: &Cluster) -> LedgerClient {
    LedgerClient::new(cluster.addresses()).with_retry_for(PATIENCE)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_elect_a_leader_and_replicate() {
    let cluster = Cluster::start_plaintext(3, &[]).await;
    let leader = cluster.wait_for_leader().await;
    let mut client = leader_client(&cluster);

    // health checking answers on the same port as every service.
    let channel =
        tonic::transport::Endpoint::from_shared(format!("http://{}", cluster.replicas[&1].address))
            .expect("an endpoint")
            .connect()
            .await
            .expect("connect to health");
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    for service in [
        "renkei.v1.PrefectureLedger",
        "renkei.v1.ClusterAdmin",
        "renkei.v1.RaftService",
    ] {
        let reply = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: service.into(),
            })
            .await
            .expect("health check")
            .into_inner();
        assert_eq!(
            reply.status,
            tonic_health::pb::health_check_response::ServingStatus::Serving as i32,
            "{service}"
        );
    }

    // given an empty ledger, when facts 1..=5 are written, then all are applied.
    let written = client
        .write_facts(facts("w-1", TOYAMA_CITY, 1, 5))
        .await
        .expect("write");
    assert!(!written.deduplicated);
    assert!(
        written
            .results
            .iter()
            .all(|r| r.outcome == v1::FactOutcome::Applied as i32)
    );
    assert_eq!(written.results[4].acknowledged, 5);

    // every replica applies them.
    for id in [1, 2, 3] {
        cluster.wait_for_sequence(id, TOYAMA_CITY, 5).await;
    }

    // a retry with the same request id is answered from the stored outcome, without effect.
    let retried = client
        .write_facts(facts("w-1", TOYAMA_CITY, 1, 5))
        .await
        .expect("retry");
    assert!(retried.deduplicated);
    assert_eq!(retried.log_index, written.log_index);

    // a duplicate under a new request id is acknowledged without effect; a gap is refused.
    let mixed = client
        .write_facts(v1::WriteFactsRequest {
            request_id: "w-2".into(),
            facts: vec![
                facts("", TOYAMA_CITY, 5, 5).facts[0].clone(),
                facts("", TOYAMA_CITY, 7, 7).facts[0].clone(),
                facts("", TAKAOKA_CITY, 1, 1).facts[0].clone(),
            ],
        })
        .await
        .expect("write");
    let outcomes: Vec<i32> = mixed.results.iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        vec![
            v1::FactOutcome::Duplicate as i32,
            v1::FactOutcome::Gap as i32,
            v1::FactOutcome::Applied as i32
        ]
    );
    assert_eq!(mixed.results[1].acknowledged, 5);

    // facts of a municipality of another prefecture (千代田区, 東京都) are refused.
    let refused = client
        .write_facts(facts("w-3", "131016", 1, 1))
        .await
        .expect_err("outside the prefecture");
    match refused {
        ClientError::Refused(status) => assert_eq!(status.code(), tonic::Code::InvalidArgument),
        other => panic!("unexpected {other:?}"),
    }

    // a linearizable read sees every acknowledged write.
    let read = client
        .read_sequence(TOYAMA_CITY, v1::ReadConsistency::Linearizable)
        .await
        .expect("read");
    assert_eq!(read.acknowledged, 5);

    // a follower refuses writes and linearizable reads with UNAVAILABLE naming the leader.
    let follower = [1, 2, 3].into_iter().find(|id| *id != leader).unwrap();
    let mut direct = cluster.ledger_client(follower).await;
    let status = direct
        .write_facts(facts("w-4", TOYAMA_CITY, 6, 6))
        .await
        .expect_err("a follower does not write");
    assert_eq!(status.code(), tonic::Code::Unavailable);
    assert_eq!(
        status
            .metadata()
            .get(LEADER_METADATA_KEY)
            .and_then(|v| v.to_str().ok()),
        Some(cluster.replicas[&leader].address.as_str())
    );
    let status = direct
        .read_sequence(v1::ReadSequenceRequest {
            municipality: TOYAMA_CITY.into(),
            consistency: v1::ReadConsistency::Linearizable as i32,
        })
        .await
        .expect_err("a follower does not serve linearizable reads");
    assert_eq!(status.code(), tonic::Code::Unavailable);
    // ... but serves a possibly-stale local read.
    let local = direct
        .read_sequence(v1::ReadSequenceRequest {
            municipality: TOYAMA_CITY.into(),
            consistency: v1::ReadConsistency::Local as i32,
        })
        .await
        .expect("local read")
        .into_inner();
    assert!(local.acknowledged <= 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_replica_catches_up_from_its_data() {
    let mut cluster = Cluster::start_plaintext(3, &[]).await;
    let leader = cluster.wait_for_leader().await;
    let mut client = leader_client(&cluster);
    client
        .write_facts(facts("a", TOYAMA_CITY, 1, 10))
        .await
        .expect("write");
    let follower = [1, 2, 3].into_iter().find(|id| *id != leader).unwrap();
    cluster.wait_for_sequence(follower, TOYAMA_CITY, 10).await;
    cluster.kill(follower);

    for i in 0..20u64 {
        client
            .write_facts(facts(&format!("b-{i}"), TOYAMA_CITY, 11 + i, 11 + i))
            .await
            .expect("write while a follower is down");
    }
    cluster.restart(follower);
    cluster.wait_for_sequence(follower, TOYAMA_CITY, 30).await;
    let status = cluster.status(follower).await.expect("status");
    assert_eq!(status.voters.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follower_far_behind_catches_up_by_snapshot() {
    let mut cluster =
        Cluster::start_plaintext(3, &[("RENKEI_PREFECTURE_SNAPSHOT_AFTER_LOGS", "20")]).await;
    let leader = cluster.wait_for_leader().await;
    let follower = [1, 2, 3].into_iter().find(|id| *id != leader).unwrap();
    cluster.kill(follower);
    let mut client = leader_client(&cluster);
    for i in 0..120u64 {
        client
            .write_facts(facts(&format!("s-{i}"), TOYAMA_CITY, i + 1, i + 1))
            .await
            .expect("write");
    }
    // The leader has purged its log beyond what the stopped follower has.
    wait_until("the leader to purge its log", || async {
        cluster
            .status(leader)
            .await
            .is_some_and(|s| s.purged_index > 60)
    })
    .await;
    cluster.restart(follower);
    cluster.wait_for_sequence(follower, TOYAMA_CITY, 120).await;
    let status = cluster.status(follower).await.expect("status");
    assert!(
        status.snapshot_index > 0,
        "the follower caught up without a snapshot: {status:?}"
    );
    // The facts themselves came with the snapshot: a later write continues the sequence.
    let next = client
        .write_facts(facts("s-next", TOYAMA_CITY, 121, 121))
        .await
        .expect("write");
    assert_eq!(next.results[0].outcome, v1::FactOutcome::Applied as i32);
    cluster.wait_for_sequence(follower, TOYAMA_CITY, 121).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn membership_grows_from_three_to_five_and_back() {
    let mut cluster = Cluster::start_plaintext(3, &[]).await;
    let leader = cluster.wait_for_leader().await;
    let mut client = leader_client(&cluster);
    client
        .write_facts(facts("m-1", TOYAMA_CITY, 1, 3))
        .await
        .expect("write");

    for id in [4, 5] {
        let address = cluster.spawn(id, "127.0.0.1:0").address.clone();
        cluster
            .admin(leader)
            .await
            .add_learner(v1::ClusterMember {
                node_id: id,
                address,
            })
            .await
            .expect("add learner");
    }
    let status = cluster
        .admin(leader)
        .await
        .change_membership(v1::ChangeMembershipRequest {
            voters: vec![1, 2, 3, 4, 5],
        })
        .await
        .expect("promote")
        .into_inner();
    assert_eq!(status.voters.len(), 5);
    for id in [4, 5] {
        cluster.wait_for_sequence(id, TOYAMA_CITY, 3).await;
    }
    client
        .write_facts(facts("m-2", TOYAMA_CITY, 4, 6))
        .await
        .expect("write with five voters");

    for id in [4, 5] {
        cluster
            .admin(leader)
            .await
            .remove_node(v1::RemoveNodeRequest { node_id: id })
            .await
            .expect("remove");
    }
    wait_until("every remaining replica to see three voters", || async {
        for id in [1, 2, 3] {
            match cluster.status(id).await {
                Some(s) if s.voters.len() == 3 && s.learners.is_empty() && !s.joint => {}
                _ => return false,
            }
        }
        true
    })
    .await;
    cluster.kill(4);
    cluster.kill(5);
    client
        .write_facts(facts("m-3", TOYAMA_CITY, 7, 9))
        .await
        .expect("write with three voters again");

    // A removed node id may not join again.
    let status = cluster
        .admin(leader)
        .await
        .add_learner(v1::ClusterMember {
            node_id: 4,
            address: "127.0.0.1:1".into(),
        })
        .await
        .expect_err("ids are never reused");
    assert_eq!(status.code(), tonic::Code::FailedPrecondition);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_a_replica_cleanly() {
    let mut cluster = Cluster::start_plaintext(1, &[]).await;
    leader_client(&cluster)
        .write_facts(facts("t", TOYAMA_CITY, 1, 1))
        .await
        .expect("write");
    assert!(cluster.terminate(1), "exit status after SIGTERM");
    cluster.restart(1);
    cluster.wait_for_sequence(1, TOYAMA_CITY, 1).await;
}

/// Concurrent writes arriving at the leader are coalesced into shared Raft entries (group
/// commit), and each writer still gets its own outcome: its facts applied, a repeated request id
/// answered as a retry with the first outcome, every replica holding every fact once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_share_entries_and_each_gets_its_own_outcome() {
    let cluster = Cluster::start_plaintext(3, &[]).await;
    cluster.wait_for_leader().await;
    let prefecture: renkei_proto::PrefectureCode = PREFECTURE.parse().unwrap();
    let towns: Vec<String> = renkei_proto::official::municipalities_of(prefecture)
        .map(|m| m.code.to_string())
        .collect();
    // each town's facts 1..=3 under its own request id, and the same request again
    let writes: Vec<v1::WriteFactsRequest> = towns
        .iter()
        .map(|town| facts(&format!("g-{town}"), town, 1, 3))
        .collect();
    let tasks: Vec<_> = writes
        .iter()
        .chain(writes.iter())
        .cloned()
        .map(|write| {
            let mut client = leader_client(&cluster);
            tokio::spawn(async move { (write.request_id.clone(), client.write_facts(write).await) })
        })
        .collect();
    let mut replies: std::collections::BTreeMap<String, Vec<v1::WriteFactsResponse>> =
        Default::default();
    for task in tasks {
        let (id, reply) = task.await.unwrap();
        replies.entry(id).or_default().push(reply.expect("write"));
    }
    assert_eq!(replies.len(), towns.len());
    let mut entries = std::collections::BTreeSet::new();
    for (id, pair) in &replies {
        assert_eq!(pair.len(), 2, "{id}");
        // exactly one of the two took effect; the other is answered with its outcome
        assert_eq!(pair.iter().filter(|r| r.deduplicated).count(), 1, "{id}");
        assert_eq!(pair[0].log_index, pair[1].log_index, "{id}");
        assert_eq!(pair[0].results, pair[1].results, "{id}");
        assert!(
            pair[0]
                .results
                .iter()
                .all(|r| r.outcome == v1::FactOutcome::Applied as i32),
            "{id}: {:?}",
            pair[0].results
        );
        assert_eq!(pair[0].results[2].acknowledged, 3, "{id}");
        entries.insert(pair[0].log_index);
    }
    // fewer entries than writes: writes waiting together were proposed together
    assert!(
        entries.len() < towns.len(),
        "{} writes in {} entries",
        towns.len(),
        entries.len()
    );
    for id in [1, 2, 3] {
        for town in &towns {
            cluster.wait_for_sequence(id, town, 3).await;
        }
    }
}
