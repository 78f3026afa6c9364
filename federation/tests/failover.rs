//! Proves that killing the leader (SIGKILL) of a 3-replica cluster elects a new leader and loses
//! no acknowledged write, while a client keeps writing through the change with retries that take
//! effect once.

use renkei_federation::client::LedgerClient;
use renkei_integration_tests::{Cluster, PATIENCE, TOYAMA_CITY, facts};
use renkei_proto::v1;

/// A leader-seeking ledger client over every replica of `cluster`, retrying for the harness's
/// patience.
fn leader_client(cluster: &Cluster) -> LedgerClient {
    LedgerClient::new(cluster.addresses()).with_retry_for(PATIENCE)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_leader_elects_another_and_loses_no_acknowledged_write() {
    let mut cluster = Cluster::start_plaintext(3, &[]).await;
    let old_leader = cluster.wait_for_leader().await;
    let mut client = leader_client(&cluster);

    let mut acknowledged = 0;
    for sequence in 1..=20u64 {
        let reply = client
            .write_facts(facts(
                &format!("f-{sequence}"),
                TOYAMA_CITY,
                sequence,
                sequence,
            ))
            .await
            .expect("write before the kill");
        assert_eq!(reply.results[0].outcome, v1::FactOutcome::Applied as i32);
        acknowledged = reply.results[0].acknowledged;
    }
    assert_eq!(acknowledged, 20);

    cluster.kill(old_leader);
    let survivors: Vec<u64> = [1, 2, 3]
        .into_iter()
        .filter(|id| *id != old_leader)
        .collect();

    // The client finds the new leader by itself; each write is acknowledged exactly once.
    for sequence in 21..=40u64 {
        let reply = client
            .write_facts(facts(
                &format!("f-{sequence}"),
                TOYAMA_CITY,
                sequence,
                sequence,
            ))
            .await
            .expect("write after the kill");
        let outcome = reply.results[0].outcome;
        assert!(
            outcome == v1::FactOutcome::Applied as i32,
            "fact {sequence}: outcome {outcome} (deduplicated: {})",
            reply.deduplicated
        );
        acknowledged = reply.results[0].acknowledged;
    }
    assert_eq!(acknowledged, 40);

    let new_leader = cluster.wait_for_leader().await;
    assert_ne!(new_leader, old_leader);
    let read = client
        .read_sequence(TOYAMA_CITY, v1::ReadConsistency::Linearizable)
        .await
        .expect("linearizable read");
    assert_eq!(read.acknowledged, 40, "an acknowledged write was lost");
    for id in &survivors {
        cluster.wait_for_sequence(*id, TOYAMA_CITY, 40).await;
    }

    // The old leader comes back as a follower and converges too.
    cluster.restart(old_leader);
    cluster.wait_for_sequence(old_leader, TOYAMA_CITY, 40).await;
}
