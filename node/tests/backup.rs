//! Backup and restore of a serving node over real gRPC on loopback: records, an online backup,
//! more records, then a restore into a fresh data directory — the restored node holds exactly the
//! backed-up state (events, positions, and the personal data its restored keys can still open);
//! and an erasure made after a backup outlives the backup's restore.

mod common;

use std::path::Path;
use std::time::Duration;

use renkei_proto::v1::{self, BackupClient, EventLogClient, MunicipalProgramClient};
use tokio::sync::oneshot;
use tonic::Code;
use tonic::transport::Channel;

const CODE: &str = "162019";
const ACTOR: &str = "officer-1";

struct Node {
    addr: std::net::SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), renkei_node::server::NodeError>>,
}

impl Node {
    /// A node on `data_dir`, with its master key in `master_key_file` (else `DATA/master.key`).
    async fn start(data_dir: &Path, master_key_file: Option<&Path>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut config = common::node_config(addr, data_dir.to_path_buf(), 64 * 1024);
        config.master_key_file = master_key_file.map(Path::to_path_buf);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(renkei_node::server::run(config, listener, async move {
            let _ = stopped.await;
        }));
        Self {
            addr,
            stop: Some(stop),
            task,
        }
    }

    async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.addr))
            .unwrap()
            .connect()
            .await
            .unwrap()
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .expect("node did not stop")
            .unwrap()
            .unwrap();
    }
}

async fn open_desk(program: &mut MunicipalProgramClient<Channel>) {
    program
        .open_consultation_desk(v1::OpenConsultationDeskRequest {
            municipality_code: CODE.into(),
            actor: ACTOR.into(),
            id: "desk".into(),
            name: "在宅医療・介護連携相談窓口".into(),
            host: "medical_association".into(),
            staff: vec![v1::ProgramCount {
                of: "nurse".into(),
                count: 1,
            }],
            hours: "平日".into(),
            on: "2024-04-01".into(),
        })
        .await
        .unwrap();
}

async fn record_awareness(c: &mut MunicipalProgramClient<Channel>, id: &str) {
    c.record_awareness_activity(v1::RecordAwarenessActivityRequest {
        municipality_code: CODE.into(),
        actor: ACTOR.into(),
        id: id.into(),
        kind: "lecture".into(),
        title: "在宅医療講演会".into(),
        audience: "住民".into(),
        on: "2024-10-05".into(),
        attendance: Some(40),
        copies: None,
        scenes: vec![],
    })
    .await
    .unwrap();
}

/// Every event of the municipality: (global position, event id, stream).
async fn all_events(channel: Channel) -> Vec<(u64, String, String)> {
    let reply = EventLogClient::new(channel)
        .read_all(v1::ReadAllRequest {
            municipality_code: CODE.into(),
            from_position: 1,
            max_count: 10_000,
        })
        .await
        .unwrap()
        .into_inner();
    reply
        .events
        .into_iter()
        .map(|e| (e.global_position, e.event_id, e.stream))
        .collect()
}

#[tokio::test]
async fn a_backup_taken_while_serving_restores_exactly_the_backed_up_state() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(&dir.path().join("data"), None).await;
    let channel = node.channel().await;
    let mut program = MunicipalProgramClient::new(channel.clone());
    open_desk(&mut program).await;
    program
        .open_consultation_case(v1::OpenConsultationCaseRequest {
            municipality_code: CODE.into(),
            actor: ACTOR.into(),
            id: "c1".into(),
            desk: "desk".into(),
            on: "2024-06-01".into(),
            referrer: "hospital".into(),
            topic: "discharge".into(),
            scenes: vec![],
            subject: "subj-0001".into(),
            personal: Some(v1::PersonalDetails {
                name: "介護太郎".into(),
                birth_date: "1938-05-05".into(),
                address: "富山市".into(),
                phone: "090-0000-0000".into(),
                notes: String::new(),
            }),
            liaison_agreement: String::new(),
        })
        .await
        .unwrap();
    for n in 0..5 {
        record_awareness(&mut program, &format!("a{n}")).await;
    }
    let before = all_events(channel.clone()).await;

    let mut backups = BackupClient::new(channel.clone());
    let target = dir.path().join("backup-1");
    let reply = backups
        .create_backup(v1::CreateBackupRequest {
            target_dir: target.display().to_string(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reply.kind, "node");
    // The backup holds the events up to this position (the node's outbox may have added facts
    // since `before` was read).
    let (code, position) = reply.positions[0].split_once(':').unwrap();
    assert_eq!(code, CODE);
    let at_backup: u64 = position.parse().unwrap();
    assert!(at_backup >= before.last().unwrap().0);
    assert!(reply.bytes > 0);

    // A second backup into the same place, a relative path: refused, naming the field.
    for bad in [target.display().to_string(), "relative/dir".to_string()] {
        let err = backups
            .create_backup(v1::CreateBackupRequest {
                target_dir: bad.clone(),
            })
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        assert!(err.message().contains("target_dir"), "{}", err.message());
    }

    // More work after the backup: the restored node must not have it.
    for n in 5..9 {
        record_awareness(&mut program, &format!("a{n}")).await;
    }
    let after = all_events(channel).await;
    assert!(after.len() > before.len());
    node.stop().await;

    let restored_dir = dir.path().join("restored");
    let master_key = dir.path().join("data").join("master.key");
    let restored = renkei_node::backup::restore(&target, &restored_dir, Some(&master_key)).unwrap();
    assert_eq!(restored.manifest.positions, reply.positions);
    assert_eq!(restored.erasures_replayed, 0);
    let err = renkei_node::backup::restore(&target, &restored_dir, Some(&master_key)).unwrap_err();
    assert!(err.to_string().contains("not empty"), "{err}");

    // A backup holds no master key: a node started on the restored directory with none refuses
    // to make a fresh one (which would open none of the restored details), naming the file.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = common::node_config(
        listener.local_addr().unwrap(),
        restored_dir.clone(),
        64 * 1024,
    );
    let err = renkei_node::server::run(config, listener, async {})
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("master.key") && err.contains("is missing"),
        "{err}"
    );
    assert!(!restored_dir.join("master.key").exists());

    let restored = Node::start(&restored_dir, Some(&master_key)).await;
    let channel = restored.channel().await;
    // Exactly the backed-up events; the node may then add the facts (stream sync/outbox) of
    // backed-up events its outbox had not yet derived — never a programme event.
    let restored_events = all_events(channel.clone()).await;
    let backed_up: Vec<_> = after.iter().filter(|e| e.0 <= at_backup).cloned().collect();
    let (upto, beyond): (Vec<_>, Vec<_>) = restored_events
        .iter()
        .cloned()
        .partition(|e| e.0 <= at_backup);
    assert_eq!(upto, backed_up, "exactly the backed-up events");
    assert!(
        beyond.iter().all(|e| e.2 == "sync/outbox"),
        "nothing but derived facts after them: {beyond:?}"
    );
    let programme = |events: &[(u64, String, String)]| {
        events
            .iter()
            .filter(|e| e.2 != "sync/outbox")
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(programme(&restored_events), programme(&backed_up));
    assert_eq!(
        programme(&backed_up),
        programme(&before),
        "no programme event after the backup"
    );
    // The restored vault and master key still open the subject's personal data.
    let case = MunicipalProgramClient::new(channel.clone())
        .get_consultation_case(v1::GetConsultationCaseRequest {
            municipality_code: CODE.into(),
            case_id: "c1".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(case.personal.unwrap().name, "介護太郎");
    // The restored node goes on from where the backup stood.
    let mut program = MunicipalProgramClient::new(channel.clone());
    record_awareness(&mut program, "a5").await;
    let again = programme(&all_events(channel).await);
    assert_eq!(again.len(), programme(&before).len() + 1);
    assert!(again.last().unwrap().0 > at_backup);
    restored.stop().await;
}

/// Every file under `root` whose bytes contain `needle`.
fn files_holding(root: &Path, needle: &[u8]) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(root).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files_holding(&path, needle));
        } else if std::fs::read(&path)
            .unwrap()
            .windows(needle.len())
            .any(|w| w == needle)
        {
            found.push(path);
        }
    }
    found
}

async fn open_case(program: &mut MunicipalProgramClient<Channel>, id: &str, subject: &str) {
    program
        .open_consultation_case(v1::OpenConsultationCaseRequest {
            municipality_code: CODE.into(),
            actor: ACTOR.into(),
            id: id.into(),
            desk: "desk".into(),
            on: "2024-06-01".into(),
            referrer: "hospital".into(),
            topic: "discharge".into(),
            scenes: vec![],
            subject: subject.into(),
            personal: Some(v1::PersonalDetails {
                name: format!("{subject}の氏名"),
                birth_date: "1938-05-05".into(),
                address: "富山市".into(),
                phone: String::new(),
                notes: String::new(),
            }),
            liaison_agreement: String::new(),
        })
        .await
        .unwrap();
}

async fn personal_name(channel: Channel, case: &str) -> Option<String> {
    MunicipalProgramClient::new(channel)
        .get_consultation_case(v1::GetConsultationCaseRequest {
            municipality_code: CODE.into(),
            case_id: case.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .personal
        .map(|p| p.name)
}

#[tokio::test]
async fn a_restored_backup_taken_before_an_erasure_does_not_bring_the_person_back() {
    let dir = tempfile::tempdir().unwrap();
    // The master key kept apart from the data (and so from its backups), as the GUIDE says.
    let master_key = dir.path().join("secrets").join("master.key");
    renkei_node::personal::MasterKey::load_or_create(&master_key).unwrap();
    let key_hex = std::fs::read_to_string(&master_key).unwrap();
    let key_hex = key_hex.trim();
    let key_raw: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&key_hex[2 * i..2 * i + 2], 16).unwrap())
        .collect();

    let node = Node::start(&dir.path().join("data"), Some(&master_key)).await;
    let channel = node.channel().await;
    let mut program = MunicipalProgramClient::new(channel.clone());
    open_desk(&mut program).await;
    open_case(&mut program, "c1", "subj-erased").await;
    open_case(&mut program, "c2", "subj-kept").await;

    // Sealed, backed up, then erased.
    let target = dir.path().join("backup");
    BackupClient::new(channel.clone())
        .create_backup(v1::CreateBackupRequest {
            target_dir: target.display().to_string(),
        })
        .await
        .unwrap();
    program
        .erase_data_subject(v1::EraseDataSubjectRequest {
            municipality_code: CODE.into(),
            actor: ACTOR.into(),
            subject: "subj-erased".into(),
            on: "2024-07-01".into(),
        })
        .await
        .unwrap();
    assert_eq!(personal_name(channel.clone(), "c1").await, None);
    node.stop().await;

    // The backup holds no master key, in any form.
    assert!(files_holding(&target, key_hex.as_bytes()).is_empty());
    assert!(files_holding(&target, &key_raw).is_empty());
    // What the backup holds of the erased subject: its key wrapped by the master key (read from
    // a copy, so the backup itself is not touched).
    let copy = dir.path().join("vault-copy");
    renkei_node::backup::copy_tree_into_empty(
        &target.join("data").join("personal-keys"),
        &copy,
        "copy",
    )
    .unwrap();
    let wrapped = {
        let db =
            rocksdb::DB::open_for_read_only(&rocksdb::Options::default(), &copy, false).unwrap();
        let mut id = vec![b'K'];
        id.extend_from_slice(
            &CODE
                .parse::<renkei_proto::MunicipalityCode>()
                .unwrap()
                .get()
                .to_be_bytes(),
        );
        id.extend_from_slice(b"subj-erased");
        db.get(&id)
            .unwrap()
            .expect("the backup holds the wrapped key")
    };

    // Restored into a fresh directory with the node's master key: the erasure log beside the key
    // is replayed.
    let restored_dir = dir.path().join("restored");
    let restored = renkei_node::backup::restore(&target, &restored_dir, Some(&master_key)).unwrap();
    let node = Node::start(&restored_dir, Some(&master_key)).await;
    let channel = node.channel().await;
    assert_eq!(
        personal_name(channel.clone(), "c1").await,
        None,
        "the erased person's details stay unreadable"
    );
    assert_eq!(
        personal_name(channel, "c2").await.as_deref(),
        Some("subj-keptの氏名"),
        "the others' details open as before"
    );
    node.stop().await;
    assert_eq!(restored.erasures_replayed, 1);
    assert_eq!(
        restored.erasure_log.as_deref(),
        Some(master_key.with_file_name("erasures.log").as_path())
    );
    let holders = files_holding(&restored_dir, &wrapped);
    assert!(holders.is_empty(), "the erased key is still in {holders:?}");
    assert!(files_holding(&restored_dir, &key_raw).is_empty());
    assert!(files_holding(&restored_dir, key_hex.as_bytes()).is_empty());

    // Even a restore that skipped the replay (the backup copied by hand) is caught at start: the
    // node replays the log when it opens its vault.
    let by_hand = dir.path().join("by-hand");
    renkei_node::backup::copy_tree_into_empty(&target.join("data"), &by_hand, "copy").unwrap();
    let node = Node::start(&by_hand, Some(&master_key)).await;
    assert_eq!(personal_name(node.channel().await, "c1").await, None);
    node.stop().await;
}
