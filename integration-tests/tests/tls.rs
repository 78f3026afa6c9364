//! Mutual TLS between nodes, replicas and tools, against real processes on loopback: what a
//! certificate lets its holder do, and what a connection without the right one cannot do.

use std::process::Command;

use renkei_integration_tests::*;
use renkei_proto::tls::{ClientTls, DevCa, Expected, Subject, local_hosts};
use renkei_proto::v1;
use tonic::Code;

async fn acknowledged(cluster: &Cluster, municipality: &str) -> u64 {
    let leader = cluster.wait_for_leader().await;
    let mut client = v1::FederationClient::new(cluster.channel(leader).await);
    client
        .get_acknowledged(with_token(
            VIEWER_TOKEN,
            v1::GetAcknowledgedRequest {
                municipalities: vec![municipality.to_owned()],
                consistency: v1::ReadConsistency::Linearizable as i32,
            },
        ))
        .await
        .expect("acknowledged sequences")
        .into_inner()
        .acknowledged[0]
        .acknowledged
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_certificate_speaks_for_the_municipalities_it_names_and_no_other() {
    let cluster = Cluster::start(3).await;
    let leader = cluster.wait_for_leader().await;
    let address = cluster.replicas[&leader].address.clone();

    // A node certificate for 富山市 alone identifies no one; with the node's token, its facts
    // are accepted.
    let toyama = connect(&address, &pki().node_client(&[TOYAMA_CITY])).await;
    let mut as_toyama = v1::FederationClient::new(toyama);
    let err = as_toyama
        .push_facts(push("toyama-0", vec![fact(TOYAMA_CITY, 1)]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
    assert!(err.message().contains("certificate alone"), "{err:?}");
    let reply = as_toyama
        .push_facts(with_token(
            NODE_TOKEN,
            push("toyama-1", vec![fact(TOYAMA_CITY, 1)]),
        ))
        .await
        .expect("facts for the certificate's municipality")
        .into_inner();
    assert_eq!(reply.results[0].acknowledged, 1);

    // Facts for 高岡市 on 富山市's certificate: refused, even with a token that speaks for both.
    for request in [with_token(
        NODE_TOKEN,
        push("takaoka-2", vec![fact(TAKAOKA_CITY, 1)]),
    )] {
        let err = as_toyama.push_facts(request).await.unwrap_err();
        assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
        assert!(err.message().contains(TAKAOKA_CITY), "{err:?}");
    }
    // Through PrefectureLedger.WriteFacts too.
    let err = v1::PrefectureLedgerClient::new(
        connect(&address, &pki().node_client(&[TOYAMA_CITY])).await,
    )
    .write_facts(with_token(
        NODE_TOKEN,
        v1::WriteFactsRequest {
            request_id: "takaoka-3".into(),
            facts: vec![fact(TAKAOKA_CITY, 1)],
        },
    ))
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");

    // A token that speaks for 高岡市 but no certificate: facts need a node certificate.
    let mut tool = v1::FederationClient::new(cluster.channel(leader).await);
    let err = tool
        .push_facts(with_token(
            NODE_TOKEN,
            push("takaoka-4", vec![fact(TAKAOKA_CITY, 1)]),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    assert!(err.message().contains("certificate"), "{err:?}");

    // Neither token nor certificate: unauthenticated.
    let err = tool
        .push_facts(push("takaoka-5", vec![fact(TAKAOKA_CITY, 1)]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");

    // A replica's certificate names no municipality.
    let replica = pki().client_for(&Subject::Replica {
        prefecture: PREFECTURE.parse().unwrap(),
        node_id: 9,
    });
    let err = v1::FederationClient::new(connect(&address, &replica).await)
        .push_facts(push("takaoka-6", vec![fact(TAKAOKA_CITY, 1)]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");

    // Nothing of 高岡市 was written; 富山市 holds its one fact.
    assert_eq!(acknowledged(&cluster, TAKAOKA_CITY).await, 0);
    assert_eq!(acknowledged(&cluster, TOYAMA_CITY).await, 1);
    assert_eq!(cluster.ledger(TAKAOKA_CITY).await, vec![]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_without_the_federations_ca_or_in_plaintext_are_refused() {
    let cluster = Cluster::start(3).await;
    let leader = cluster.wait_for_leader().await;
    let address = cluster.replicas[&leader].address.clone();

    // A client certificate from another CA: the handshake fails, nothing is called.
    let stranger = DevCa::generate("a stranger's CA").unwrap();
    let issued = stranger
        .issue(
            &Subject::Node {
                municipalities: vec![TOYAMA_CITY.parse().unwrap()],
            },
            &local_hosts(),
            1,
        )
        .unwrap();
    let foreign = ClientTls::mutual(pki().ca_pem().as_bytes(), &issued, Expected::Peer).unwrap();
    let reached = async {
        let channel = foreign.dial(&address).ok()?.connect().await.ok()?;
        v1::FederationClient::new(channel)
            .push_facts(push("stranger-1", vec![fact(TOYAMA_CITY, 1)]))
            .await
            .ok()
    }
    .await;
    assert!(
        reached.is_none(),
        "a certificate of another CA was accepted"
    );

    // A client that does not trust the federation's CA refuses the replica.
    let distrustful = ClientTls::verify_with(stranger.cert_pem().as_bytes()).unwrap();
    let channel = distrustful.dial(&address).unwrap().connect().await;
    assert!(
        channel.is_err(),
        "a server certificate of another CA was trusted"
    );

    // Plaintext HTTP/2 to a TLS port: no answer.
    let plaintext = ClientTls::Plaintext.dial(&address).unwrap();
    let answered = async {
        let channel = plaintext.connect().await.ok()?;
        v1::ClusterAdminClient::new(channel)
            .status(with_token(VIEWER_TOKEN, v1::StatusRequest {}))
            .await
            .ok()
    }
    .await;
    assert!(answered.is_none(), "a plaintext call was answered");

    // The internal Raft service answers replicas only: a node's certificate is refused.
    let node = connect(&address, &pki().node_client(&[TOYAMA_CITY])).await;
    let err = v1::RaftServiceClient::new(node)
        .vote(v1::RaftPayload {
            json: b"{}".to_vec(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    assert!(err.message().contains("replicas"), "{err:?}");

    assert_eq!(acknowledged(&cluster, TOYAMA_CITY).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_syncs_over_mutual_tls_and_its_staff_port_serves_tls() {
    let cluster = Cluster::start(3).await;
    let node = Node::start(cluster.addresses());
    // Recording goes over TLS to the node's port (the harness's channel verifies the CA).
    record_activities(&node, TOYAMA_CITY, "tls", 0..3).await;
    wait_until("富山市's facts acknowledged over mTLS", || async {
        let s = node.sync_state(TOYAMA_CITY).await;
        s.produced > PARTICIPATION_FACTS && s.acknowledged == s.produced
    })
    .await;
    assert!(!cluster.ledger(TOYAMA_CITY).await.is_empty());

    // The node's own port does not answer plaintext.
    let plaintext = ClientTls::Plaintext.dial(&node.address).unwrap();
    let answered = async {
        let channel = plaintext.connect().await.ok()?;
        v1::NodeSyncClient::new(channel)
            .get_sync_state(v1::GetSyncStateRequest {
                municipalities: vec![],
            })
            .await
            .ok()
    }
    .await;
    assert!(answered.is_none(), "the node answered in plaintext");
}

fn check_config(binary_name: &str, config: &str) -> (bool, String) {
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, config).unwrap();
    let out = Command::new(binary(binary_name))
        .arg("--config")
        .arg(&path)
        .arg("--check-config")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn tls_or_an_explicit_plaintext_is_required_and_wrong_certificates_are_named() {
    let dir = tempfile::TempDir::new().unwrap();
    let data = dir.path().join("data").display().to_string();

    // A replica with neither [tls] nor plaintext = true.
    let replica = format!("node_id = 1\ndata_dir = {data:?}\nprefecture = \"16\"\n");
    let (ok, err) = check_config("renkei-prefecture", &replica);
    assert!(!ok && err.contains("tls: missing"), "{err}");
    let (ok, err) = check_config("renkei-prefecture", &format!("{replica}plaintext = true\n"));
    assert!(ok, "{err}");

    // A replica given a node's certificate, or replica 2's.
    let node_table = pki().tls_table(
        dir.path(),
        "node",
        &Subject::Node {
            municipalities: vec![TOYAMA_CITY.parse().unwrap()],
        },
    );
    let (ok, err) = check_config("renkei-prefecture", &format!("{replica}{node_table}"));
    assert!(
        !ok && err.contains("tls.cert") && err.contains("not the certificate of replica 1"),
        "{err}"
    );
    let two = pki().tls_table(
        dir.path(),
        "replica-2",
        &Subject::Replica {
            prefecture: PREFECTURE.parse().unwrap(),
            node_id: 2,
        },
    );
    let (ok, err) = check_config("renkei-prefecture", &format!("{replica}{two}"));
    assert!(!ok && err.contains("replica 2 of prefecture 16"), "{err}");
    let one = pki().tls_table(
        dir.path(),
        "replica-1",
        &Subject::Replica {
            prefecture: PREFECTURE.parse().unwrap(),
            node_id: 1,
        },
    );
    let (ok, err) = check_config("renkei-prefecture", &format!("{replica}{one}"));
    assert!(ok, "{err}");
    let (ok, err) = check_config(
        "renkei-prefecture",
        &format!("{replica}plaintext = true\n{one}"),
    );
    assert!(!ok && err.contains("choose one"), "{err}");

    // A node that syncs needs TLS or plaintext; its certificate must name what it serves.
    let node =
        format!("data_dir = {data:?}\nmunicipalities = [\"{TOYAMA_CITY}\", \"{TAKAOKA_CITY}\"]\n");
    let sync = "[sync]\nprefecture = [\"127.0.0.1:7501\"]\n";
    let (ok, err) = check_config("renkei-node", &format!("{node}{sync}"));
    assert!(!ok && err.contains("tls: missing"), "{err}");
    let (ok, err) = check_config("renkei-node", &format!("{node}plaintext = true\n{sync}"));
    assert!(ok, "{err}");
    let (ok, err) = check_config("renkei-node", &format!("{node}{node_table}{sync}"));
    assert!(
        !ok && err.contains("tls.cert") && err.contains(&format!("municipality {TAKAOKA_CITY}")),
        "{err}"
    );
    // A certificate file that is not there is named with its key.
    let missing = format!(
        "[tls]\nca = {:?}\ncert = \"/nonexistent/node.pem\"\nkey = \"/nonexistent/node.key\"\n",
        pki().ca_path().display().to_string()
    );
    let (ok, err) = check_config("renkei-node", &format!("{node}{missing}{sync}"));
    assert!(
        !ok && err.contains("tls.cert") && err.contains("/nonexistent/node.pem"),
        "{err}"
    );
    // Without sync, a node may serve without TLS (a standalone node, as in the README).
    let (ok, err) = check_config("renkei-node", &node);
    assert!(ok, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_nodes_callers_entry_revokes_it_at_the_next_restart() {
    let mut cluster = Cluster::start(3).await;
    let node = Node::start(cluster.addresses());
    record_activities(&node, TOYAMA_CITY, "a", 0..3).await;
    wait_until("the node's first facts acknowledged", || async {
        let s = node.sync_state(TOYAMA_CITY).await;
        s.produced > PARTICIPATION_FACTS && s.acknowledged == s.produced
    })
    .await;
    let before = acknowledged(&cluster, TOYAMA_CITY).await;

    // The prefecture removes the node's [[callers]] entry and restarts its replicas.
    cluster.revoke_node();
    for id in cluster.ids() {
        cluster.kill(id);
        cluster.restart(id);
    }
    let leader = cluster.wait_for_leader().await;
    let address = cluster.replicas[&leader].address.clone();

    // The node's certificate is still valid, but neither with its token nor without one may it
    // push facts or submit a survey.
    let mut as_node = v1::FederationClient::new(
        connect(&address, &pki().node_client(&[TOYAMA_CITY, TAKAOKA_CITY])).await,
    );
    for request in [
        tonic::Request::new(push("revoked-1", vec![fact(TOYAMA_CITY, before + 1)])),
        with_token(
            NODE_TOKEN,
            push("revoked-2", vec![fact(TOYAMA_CITY, before + 1)]),
        ),
    ] {
        let err = as_node.push_facts(request).await.unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");
    }
    let err = v1::PrefectureSurveyClient::new(
        connect(&address, &pki().node_client(&[TOYAMA_CITY])).await,
    )
    .submit_survey(v1::SubmitSurveyRequest {
        request_id: "revoked-survey".into(),
        municipality: TOYAMA_CITY.into(),
        fiscal_year: 2024,
        survey_date: "2024-12-31".into(),
    })
    .await
    .unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated, "{err:?}");

    // The node's own sync is refused and says so; nothing more is acknowledged.
    record_activities(&node, TOYAMA_CITY, "b", 0..2).await;
    wait_until("the node to report the refusal", || async {
        let s = node.sync_state(TOYAMA_CITY).await;
        s.produced > s.acknowledged && s.last_error.contains("unknown token")
    })
    .await;
    assert_eq!(acknowledged(&cluster, TOYAMA_CITY).await, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raft_message_must_come_from_the_replica_its_certificate_names() {
    let cluster = Cluster::start(3).await;
    let leader = cluster.wait_for_leader().await;
    let follower = *cluster.ids().iter().find(|id| **id != leader).unwrap();
    let address = cluster.replicas[&follower].address.clone();
    let prefecture = PREFECTURE.parse().unwrap();
    let term = cluster.status(follower).await.unwrap().term;
    let replica = |node_id| {
        pki().client_for(&Subject::Replica {
            prefecture,
            node_id,
        })
    };

    // A replica certificate naming replica 9, sending AppendEntries in the leader's name.
    let append = serde_json::json!({
        "vote": {"leader_id": {"term": term + 5, "node_id": leader}, "committed": true},
        "prev_log_id": null, "leader_commit": null, "entries": [],
    });
    let err = v1::RaftServiceClient::new(connect(&address, &replica(9)).await)
        .append_entries(v1::RaftPayload {
            json: append.to_string().into_bytes(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    assert!(
        err.message().contains(&format!(
            "from replica {leader}, but the certificate names replica 9"
        )),
        "{err:?}"
    );

    // Replica 9 asking for votes in its own name: not a voter of this cluster.
    let vote = serde_json::json!({
        "vote": {"leader_id": {"term": term + 5, "node_id": 9}, "committed": false},
        "last_log_id": null,
    });
    let err = v1::RaftServiceClient::new(connect(&address, &replica(9)).await)
        .vote(v1::RaftPayload {
            json: vote.to_string().into_bytes(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    assert!(
        err.message().contains("replica 9 is not a voter"),
        "{err:?}"
    );

    // Neither moved the follower's term: the cluster keeps its leader.
    assert_eq!(cluster.status(follower).await.unwrap().term, term);
    assert_eq!(cluster.wait_for_leader().await, leader);
}

/// The whole error chain of a failed connection, where the handshake's reason is.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text = format!("{text}: {s}");
        source = s.source();
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_talk_only_to_the_peer_they_expect() {
    let cluster = Cluster::start(3).await;
    // A municipal node's port, certificate signed by the same CA: posing as the prefecture.
    let impostor = Node::start(cluster.addresses());

    // A node's client expects its prefecture's replicas: the impostor is refused at the
    // handshake, naming what its certificate is; a replica is accepted.
    let node_client = pki().node_client(&[TOYAMA_CITY]);
    let err = node_client
        .dial(&impostor.address)
        .unwrap()
        .connect()
        .await
        .expect_err("a node's certificate passed for a replica's");
    let reason = chain(&err);
    assert!(
        reason.contains("is a municipal node's") && reason.contains("not a prefecture replica"),
        "{reason}"
    );
    node_client
        .dial(&cluster.replicas[&1].address)
        .unwrap()
        .connect()
        .await
        .expect("a replica's certificate is what a node expects");

    // A Raft peer dials one replica by id: another replica's certificate is not it.
    let replica_client = pki()
        .client_for(&Subject::Replica {
            prefecture: PREFECTURE.parse().unwrap(),
            node_id: 1,
        })
        .expecting(Expected::Replica {
            prefecture: Some(PREFECTURE.parse().unwrap()),
            node_id: None,
        })
        .unwrap()
        .to_replica(2)
        .unwrap();
    let err = replica_client
        .dial(&cluster.replicas[&3].address)
        .unwrap()
        .connect()
        .await
        .expect_err("replica 3 passed for replica 2");
    assert!(chain(&err).contains("not replica 2"), "{}", chain(&err));
    replica_client
        .dial(&cluster.replicas[&2].address)
        .unwrap()
        .connect()
        .await
        .expect("replica 2 is replica 2");
    // Of another prefecture: refused.
    let elsewhere = replica_client
        .expecting(Expected::Replica {
            prefecture: Some("17".parse().unwrap()),
            node_id: None,
        })
        .unwrap();
    assert!(
        elsewhere
            .dial(&cluster.replicas[&2].address)
            .unwrap()
            .connect()
            .await
            .is_err()
    );

    // A real node whose [sync] names the impostor as its prefecture: it never hands it a fact
    // (nor its token); its sync state says why.
    let misled = Node::start(vec![impostor.address.clone()]);
    record_activities(&misled, TOYAMA_CITY, "misled", 0..1).await;
    wait_until(
        "the misled node reports the impostor's certificate",
        || async {
            let s = misled.sync_state(TOYAMA_CITY).await;
            s.acknowledged == 0 && s.last_error.contains("not a replica")
        },
    )
    .await;
}
