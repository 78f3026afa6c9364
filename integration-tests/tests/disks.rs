//! Slow and failing disks under a real 3-replica prefecture (mutual TLS, tokens), each replica's
//! data on its own lazy filesystem ([`LazyFs`], needing root and `/dev/fuse`):
//! - one follower's fsync takes 200 ms and another follower's disk is full (every write answers
//!   `ENOSPC`): the leader and the slow follower still commit every write the node sends;
//! - the full replica says why in its log (`No space left on device`) and holds none of the facts
//!   written while it was full;
//! - once the disk has room again, the replica holds every fact: by itself when its Raft kept
//!   running, after a restart when the storage error stopped it (the test prints which).

use std::time::{Duration, Instant};

use renkei_faults::lazyfs::LazyFs;
use renkei_integration_tests::*;
use renkei_proto::v1;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_and_a_full_replica_disk_stop_only_that_replica_which_recovers_with_its_disk() {
    assert!(
        renkei_faults::lazyfs::fuse_available(),
        "this test needs /dev/fuse (and root)"
    );
    let disks_root = tempfile::TempDir::new().expect("a temporary directory");
    let disks: Vec<(u64, LazyFs)> = (1..=3)
        .map(|id| {
            let at = disks_root.path().join(format!("replica-{id}"));
            std::fs::create_dir_all(&at).expect("a mountpoint");
            (id, LazyFs::mount(&at).expect("mount a lazy filesystem"))
        })
        .collect();
    let faults = |id: u64| disks[(id - 1) as usize].1.faults();
    let mut cluster = Cluster::start_on(3, disks_root.path(), &[TOYAMA_CITY, TAKAOKA_CITY]).await;
    let leader = cluster.wait_for_leader().await;
    let followers: Vec<u64> = cluster.ids().into_iter().filter(|i| *i != leader).collect();
    let (slow, full) = (followers[0], followers[1]);

    let mut ledger = v1::PrefectureLedgerClient::new(cluster.node_channel(leader).await);
    let write = |from: u64, to: u64| {
        with_token(
            NODE_TOKEN,
            v1::WriteFactsRequest {
                request_id: format!("disks-{from}"),
                facts: (from..=to).map(|s| fact(TOYAMA_CITY, s)).collect(),
            },
        )
    };
    ledger
        .write_facts(write(1, 10))
        .await
        .expect("write 1..=10");
    for id in cluster.ids() {
        cluster.wait_for_sequence(id, TOYAMA_CITY, 10).await;
    }

    // One follower's fsync takes 200 ms; the other's disk is full.
    faults(slow).set_fsync_delay(Duration::from_millis(200));
    faults(full).fail_writes(Some(libc::ENOSPC));
    let started = Instant::now();
    for batch in 0..10 {
        let from = 11 + batch * 10;
        let written = ledger
            .write_facts(write(from, from + 9))
            .await
            .expect("the leader and the slow follower commit");
        assert_eq!(written.into_inner().results.len(), 10);
    }
    let slow_commits = started.elapsed();
    cluster.wait_for_sequence(slow, TOYAMA_CITY, 110).await;
    assert!(
        faults(slow).stats().fsyncs > 0,
        "the slow disk was used: {:?}",
        faults(slow).stats()
    );
    let log = cluster.root.path().join(format!("replica-{full}.log"));
    wait_until("the full replica to say why in its log", || async {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("No space left on device"))
    })
    .await;
    assert!(
        cluster
            .applied_sequence(full, TOYAMA_CITY)
            .await
            .unwrap_or(0)
            < 110,
        "a replica whose disk is full applied every fact"
    );
    assert!(faults(full).stats().failed_writes > 0);

    // The disk has room again.
    faults(full).fail_writes(None);
    faults(slow).set_fsync_delay(Duration::ZERO);
    let freed = Instant::now();
    let mut by_itself = false;
    while freed.elapsed() < Duration::from_secs(10) {
        if cluster.applied_sequence(full, TOYAMA_CITY).await >= Some(110) {
            by_itself = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    if !by_itself {
        cluster.kill(full);
        cluster.restart(full);
    }
    cluster.wait_for_sequence(full, TOYAMA_CITY, 110).await;
    let leader_ledger = cluster.ledger(TOYAMA_CITY).await;
    assert_eq!(leader_ledger.len(), 110);
    println!(
        "disks: 100 facts committed in {slow_commits:?} with a 200 ms-fsync follower and a full \
         one; the full replica recovered {}",
        if by_itself {
            "by itself once its disk had room"
        } else {
            "after a restart once its disk had room (its Raft had stopped on the storage error)"
        }
    );
    for id in cluster.ids() {
        cluster.kill(id);
    }
    drop(disks);
}
