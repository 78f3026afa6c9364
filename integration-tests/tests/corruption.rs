//! Storage faults beyond a missing `CURRENT`, with real `renkei-node` and `renkei-prefecture`
//! processes on loopback (mutual TLS, tokens).
//!
//! **Corruption.** One byte is flipped (XOR 0xFF) in a table file (`*.sst`) or in the
//! write-ahead log (`*.log`) of a municipal node and of a prefecture replica: the middle byte of a
//! value the test wrote (an activity id, a fact's payload), in the occurrence nearest the middle
//! of the file, so always inside a checksummed block or record, and never a byte RocksDB could
//! ignore. Each test asserts the flip happened (exactly one byte of the file differs). Then:
//! - the damage is detected, at start (the process exits non-zero) or on read (the call fails);
//! - the error names the corruption and the damaged file;
//! - the altered bytes are never answered as data: every page a read does answer equals what
//!   was written;
//! - a damaged write-ahead log always stops the start: replaying it up to the damage would
//!   silently drop the acknowledged writes after it;
//! - the node loses nothing by refusing: with the byte put back it serves every event again;
//! - a damaged replica is replaced from its peers as ops/GUIDE.md prescribes (node ids are never
//!   reused, and a replica restarted empty under its old id would have forgotten its vote and the
//!   entries it acknowledged): removed from the cluster, a fresh replica with a new id on an empty
//!   data directory added as a learner and made a voter. Its own ledger then equals the leader's
//!   and what was written, and it counts in the quorum (it commits with the leader while the
//!   third replica is down).
//!
//! **EIO.** The node's data directory is a lazy filesystem ([`LazyFs`], needing root and
//! `/dev/fuse`) made to answer every write with `EIO`: the next append is refused, its call and
//! the node's log say `Input/output error`, and nothing more is acknowledged; the prefecture and
//! another node carry on. Once the disk works again the node acknowledges again: by itself, or
//! after a restart if it stopped on the failed write — which it must then have said on its way
//! out (the `renkei-node: …` line of a non-zero exit). Nothing it acknowledged is lost or stored
//! twice, and the prefecture's ledger equals the node's outbox.
//!
//! No test waits a fixed time: each waits on a predicate ([`wait_until`]).

use std::cell::{Cell, RefCell};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};

use renkei_faults::lazyfs::LazyFs;
use renkei_integration_tests::*;
use renkei_proto::v1;
use tonic::Code;

/// Activities (node tests) or facts (replica tests) written before the damage.
const WRITTEN: u32 = 40;
/// The activity or fact whose stored bytes are damaged: one in the middle.
const DAMAGED: u32 = 20;
/// Facts per write of the replica tests: several Raft entries, so that a damaged one in the
/// middle of the write-ahead log has acknowledged ones after it.
const FACTS_PER_WRITE: u64 = 5;
/// The stream of the awareness activities `record_activities` records.
const AWARENESS: &str = "programme/awareness";
/// Events per page when reading a node back: small, so that the pages before the damaged block
/// are answered and compared.
const PAGE: u32 = 5;

// ---------------------------------------------------------------------------------------------
// Damaging a file
// ---------------------------------------------------------------------------------------------

/// The regular files of `dir` (not its subdirectories) whose extension is `extension`, by name.
fn files(dir: &Path, extension: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("list {}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == extension))
        .collect();
    files.sort();
    files
}

/// Where `needle` occurs in `haystack`.
fn occurrences(haystack: &[u8], needle: &[u8]) -> Vec<usize> {
    haystack
        .windows(needle.len())
        .enumerate()
        .filter(|(_, window)| *window == needle)
        .map(|(at, _)| at)
        .collect()
}

/// One byte flipped in a file: which, and what it was.
struct Flip {
    path: PathBuf,
    offset: usize,
    original: u8,
}

impl Flip {
    /// Flips (XOR 0xFF) the middle byte of `marker` where it occurs nearest the middle of the
    /// first of `files` (in name order) holding it, and checks that exactly that byte changed.
    /// Panics when no file holds the marker.
    fn of_marker(files: &[PathBuf], marker: &[u8]) -> Flip {
        for path in files {
            let bytes =
                std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
            let middle = bytes.len() / 2;
            let Some(at) = occurrences(&bytes, marker)
                .into_iter()
                .min_by_key(|at| at.abs_diff(middle))
            else {
                continue;
            };
            let offset = at + marker.len() / 2;
            let flip = Flip {
                path: path.clone(),
                offset,
                original: bytes[offset],
            };
            flip.write(&bytes, flip.original ^ 0xFF);
            let after =
                std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
            assert_eq!(after.len(), bytes.len(), "the flip keeps the file's length");
            let changed: Vec<usize> = (0..after.len())
                .filter(|i| after[*i] != bytes[*i])
                .collect();
            assert_eq!(
                changed,
                vec![offset],
                "exactly the byte at {offset} of {} changed",
                path.display()
            );
            assert_eq!(after[offset], flip.original ^ 0xFF);
            println!(
                "flipped byte {offset} of {} ({} bytes): {:#04x} -> {:#04x}, inside {:?}",
                path.display(),
                bytes.len(),
                flip.original,
                after[offset],
                String::from_utf8_lossy(marker)
            );
            return flip;
        }
        panic!(
            "{:?} is in none of {files:?}: the test cannot damage it (stored compressed?)",
            String::from_utf8_lossy(marker)
        );
    }

    fn write(&self, bytes: &[u8], value: u8) {
        let mut bytes = bytes.to_vec();
        bytes[self.offset] = value;
        std::fs::write(&self.path, bytes)
            .unwrap_or_else(|e| panic!("write {}: {e}", self.path.display()));
    }

    /// Puts the original byte back (the process using the file must be stopped).
    fn undo(&self) {
        let bytes = std::fs::read(&self.path)
            .unwrap_or_else(|e| panic!("read {}: {e}", self.path.display()));
        assert_eq!(
            bytes[self.offset],
            self.original ^ 0xFF,
            "the flipped byte of {} is still flipped",
            self.path.display()
        );
        self.write(&bytes, self.original);
    }

    /// The damaged file's name, e.g. `000012.sst`.
    fn file_name(&self) -> String {
        self.path
            .file_name()
            .expect("a file name")
            .to_string_lossy()
            .into_owned()
    }
}

/// Checks that `message` names the corruption and the damaged file.
fn assert_names(what: &str, message: &str, flip: &Flip) {
    assert!(
        message.to_lowercase().contains("corrupt"),
        "{what} names the corruption: {message}"
    );
    assert!(
        message.contains(&flip.file_name()),
        "{what} names the damaged file {}: {message}",
        flip.file_name()
    );
}

// ---------------------------------------------------------------------------------------------
// Processes and their logs
// ---------------------------------------------------------------------------------------------

/// The length of a log file (0 if it does not exist yet).
fn log_len(path: &Path) -> usize {
    std::fs::metadata(path).map_or(0, |m| m.len() as usize)
}

/// What a log file holds from byte `from` on.
fn log_since(path: &Path, from: usize) -> String {
    let bytes = std::fs::read(path).unwrap_or_default();
    String::from_utf8_lossy(&bytes[from.min(bytes.len())..]).into_owned()
}

/// The line a binary prints on stderr when it exits non-zero (`<binary>: <error>`, see
/// `renkei_proto::server::telemetry::run_service`).
fn failure_line(log: &str, binary: &str) -> Option<String> {
    let prefix = format!("{binary}: ");
    log.lines()
        .find(|line| line.starts_with(&prefix))
        .map(str::to_owned)
}

/// A child process killed (if still running) and reaped when dropped.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the workspace binary `name` on the configuration file `config` (as the harness
/// starts it, its stderr into `log`) and waits until it exits; it must exit non-zero, refusing to
/// start, rather than serve. Returns its failure line (`<name>: <error>`), with the whole log
/// when there is none.
async fn refused_start(name: &str, config: &Path, log: &Path) -> String {
    let stderr = std::fs::File::create(log).expect("a log file");
    let child = Command::new(binary(name))
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
    let mut child = Reaped(child);
    let exited: Cell<Option<ExitStatus>> = Cell::new(None);
    wait_until(
        &format!("{name} to exit (or to serve) on damaged data"),
        || {
            let status = child.0.try_wait().expect("the child's status");
            exited.set(status);
            // Both binaries log "serving" only once their database is open.
            let serving = std::fs::read_to_string(log).is_ok_and(|l| l.contains(" serving"));
            async move { status.is_some() || serving }
        },
    )
    .await;
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let Some(status) = exited.get() else {
        panic!("{name} opened its damaged data and serves instead of refusing to start:\n{text}");
    };
    assert!(
        !status.success(),
        "{name} exited successfully on damaged data:\n{text}"
    );
    failure_line(&text, name).unwrap_or(text)
}

/// Why a call got no answer.
#[derive(Debug)]
enum Failure {
    /// The process does not answer (not started yet, or gone).
    Down,
    /// It answered with an error.
    Status(tonic::Status),
}

/// What a paged read got: the pages answered, then the failure that ended it (`None`: the read
/// reached the end).
struct Read<T> {
    answered: Vec<T>,
    failure: Option<Failure>,
}

/// Where the damage was seen.
enum Detected {
    /// The process refused to start: its failure line.
    AtStart(String),
    /// A read failed: the code and message of its answer.
    OnRead(Code, String),
}

// ---------------------------------------------------------------------------------------------
// Reading a node back
// ---------------------------------------------------------------------------------------------

/// Reads the awareness stream of 富山市 from the node at `address`, page by page.
async fn read_awareness(address: &str) -> Read<v1::RecordedEvent> {
    let mut read = Read {
        answered: Vec::new(),
        failure: None,
    };
    let Some(channel) = try_connect(address, &pki().tool()).await else {
        read.failure = Some(Failure::Down);
        return read;
    };
    let mut client = v1::EventLogClient::new(channel);
    loop {
        let request = v1::ReadStreamRequest {
            municipality_code: TOYAMA_CITY.to_owned(),
            stream: AWARENESS.to_owned(),
            from_version: read.answered.len() as u64 + 1,
            direction: v1::Direction::Forward as i32,
            max_count: PAGE,
        };
        match client.read_stream(request).await {
            Ok(reply) => {
                let events = reply.into_inner().events;
                if events.is_empty() {
                    return read;
                }
                read.answered.extend(events);
            }
            Err(status) => {
                read.failure = Some(Failure::Status(status));
                return read;
            }
        }
    }
}

/// Reads every event of 富山市 (all streams, in global order) from the node at `address`, page by
/// page.
async fn read_all_events(address: &str) -> Read<v1::RecordedEvent> {
    let mut read = Read {
        answered: Vec::new(),
        failure: None,
    };
    let Some(channel) = try_connect(address, &pki().tool()).await else {
        read.failure = Some(Failure::Down);
        return read;
    };
    let mut client = v1::EventLogClient::new(channel);
    loop {
        let request = v1::ReadAllRequest {
            municipality_code: TOYAMA_CITY.to_owned(),
            from_position: read.answered.last().map_or(1, |e| e.global_position + 1),
            max_count: PAGE,
        };
        match client.read_all(request).await {
            Ok(reply) => {
                let events = reply.into_inner().events;
                if events.is_empty() {
                    return read;
                }
                read.answered.extend(events);
            }
            Err(status) => {
                read.failure = Some(Failure::Status(status));
                return read;
            }
        }
    }
}

/// Waits until the node at `address` answers a whole read of the awareness stream, and returns
/// it (a node just restarted may not answer yet).
async fn awareness_when_served(address: &str) -> Vec<v1::RecordedEvent> {
    let events = RefCell::new(Vec::new());
    wait_until("the node to serve its awareness stream", || async {
        let read = read_awareness(address).await;
        match read.failure {
            None => {
                *events.borrow_mut() = read.answered;
                true
            }
            Some(Failure::Down) => false,
            Some(Failure::Status(s)) if s.code() == Code::Unavailable => false,
            Some(Failure::Status(s)) => panic!("the awareness stream cannot be read: {s:?}"),
        }
    })
    .await;
    events.into_inner()
}

/// As [`awareness_when_served`], for every event of 富山市.
async fn all_events_when_served(address: &str) -> Vec<v1::RecordedEvent> {
    let events = RefCell::new(Vec::new());
    wait_until("the node to serve every event of 富山市", || async {
        let read = read_all_events(address).await;
        match read.failure {
            None => {
                *events.borrow_mut() = read.answered;
                true
            }
            Some(Failure::Down) => false,
            Some(Failure::Status(s)) if s.code() == Code::Unavailable => false,
            Some(Failure::Status(s)) => panic!("the events of 富山市 cannot be read: {s:?}"),
        }
    })
    .await;
    events.into_inner()
}

/// Checks that every event answered is the one written at its position.
fn assert_unaltered(what: &str, answered: &[v1::RecordedEvent], written: &[v1::RecordedEvent]) {
    for event in answered {
        if let Some(original) = written
            .iter()
            .find(|e| e.global_position == event.global_position)
        {
            assert_eq!(
                event, original,
                "{what}: the event at position {} was answered altered",
                event.global_position
            );
        }
    }
}

/// After a restart of `node` on damaged data (its log `log` from byte `from` on): waits until it
/// refuses to start, or serves and fails a read of its awareness stream. Every page it answers
/// before failing must be what was written (`written`).
async fn detected_by_node(
    node: &Node,
    log: &Path,
    from: usize,
    written: &[v1::RecordedEvent],
) -> Detected {
    let found = RefCell::new(None);
    wait_until(
        "the node to refuse to start, or to fail a read of the damaged block",
        || async {
            if let Some(line) = failure_line(&log_since(log, from), "renkei-node") {
                *found.borrow_mut() = Some(Detected::AtStart(line));
                return true;
            }
            let read = read_awareness(&node.address).await;
            assert_unaltered("a read of the damaged node", &read.answered, written);
            match read.failure {
                Some(Failure::Down) => false,
                Some(Failure::Status(s)) if s.code() == Code::Unavailable => false,
                Some(Failure::Status(s)) => {
                    *found.borrow_mut() = Some(Detected::OnRead(s.code(), s.message().to_owned()));
                    true
                }
                None => panic!(
                    "the node answered its whole awareness stream ({} events), the damaged event \
                     among them, without an error: the damage went unnoticed",
                    read.answered.len()
                ),
            }
        },
    )
    .await;
    found.into_inner().expect("set when detected")
}

// ---------------------------------------------------------------------------------------------
// Writing to and reading from the prefecture
// ---------------------------------------------------------------------------------------------

/// Fact `sequence` of 富山市 as the replica tests write it: an opaque payload that names it
/// (fixed width, so that no payload is a prefix of another).
fn marked_fact(tag: &str, sequence: u64) -> v1::Fact {
    v1::Fact {
        municipality: TOYAMA_CITY.to_owned(),
        sequence,
        payload: format!("{tag}-fact-{sequence:06}").into_bytes(),
    }
}

/// Facts `1..=to` of 富山市 as written by [`write_facts`].
fn marked_facts(tag: &str, to: u64) -> Vec<v1::Fact> {
    (1..=to).map(|s| marked_fact(tag, s)).collect()
}

/// Writes facts `from..=to` of 富山市 through the leader (`PrefectureLedger.WriteFacts` as the test
/// node), [`FACTS_PER_WRITE`] per request; a write that fails is retried with its request id
/// (which makes it take effect once) until committed.
async fn write_facts(cluster: &Cluster, tag: &str, from: u64, to: u64) {
    let mut first = from;
    while first <= to {
        let last = (first + FACTS_PER_WRITE - 1).min(to);
        let request = v1::WriteFactsRequest {
            request_id: format!("{tag}-{first}-{last}"),
            facts: (first..=last).map(|s| marked_fact(tag, s)).collect(),
        };
        wait_until(
            &format!("facts {first}..={last} of {tag} committed"),
            || {
                let request = request.clone();
                async move {
                    let leader = cluster.wait_for_leader().await;
                    let mut ledger =
                        v1::PrefectureLedgerClient::new(cluster.node_channel(leader).await);
                    ledger
                        .write_facts(with_token(NODE_TOKEN, request))
                        .await
                        .is_ok()
                }
            },
        )
        .await;
        first = last + 1;
    }
}

/// Replica `id`'s own ledger of 富山市 (a local read, however stale), as the test node.
async fn local_ledger(cluster: &Cluster, id: u64) -> Result<Vec<v1::Fact>, Failure> {
    let channel = try_connect(
        &cluster.replicas[&id].address,
        &pki().node_client(&[TOYAMA_CITY, TAKAOKA_CITY]),
    )
    .await
    .ok_or(Failure::Down)?;
    let mut federation = v1::FederationClient::new(channel);
    federation
        .read_ledger(with_token(
            NODE_TOKEN,
            v1::ReadLedgerRequest {
                municipality: TOYAMA_CITY.to_owned(),
                from_sequence: 1,
                limit: 10_000,
                consistency: v1::ReadConsistency::Local as i32,
            },
        ))
        .await
        .map(|reply| reply.into_inner().facts)
        .map_err(Failure::Status)
}

/// A follower of the current leader.
async fn a_follower(cluster: &Cluster) -> u64 {
    let leader = cluster.wait_for_leader().await;
    cluster
        .ids()
        .into_iter()
        .find(|id| *id != leader)
        .expect("a follower")
}

/// After a restart of replica `id` on damaged data (its log `log` from byte `from` on): waits until
/// it refuses to start, or serves and fails a local read of its ledger. Every fact it answers
/// must be what was written.
async fn detected_by_replica(
    cluster: &Cluster,
    id: u64,
    log: &Path,
    from: usize,
    written: &[v1::Fact],
) -> Detected {
    let found = RefCell::new(None);
    wait_until(
        &format!("replica {id} to refuse to start, or to fail a read of the damaged block"),
        || async {
            if let Some(line) = failure_line(&log_since(log, from), "renkei-prefecture") {
                *found.borrow_mut() = Some(Detected::AtStart(line));
                return true;
            }
            match local_ledger(cluster, id).await {
                Err(Failure::Down) => false,
                Err(Failure::Status(s)) if s.code() == Code::Unavailable => false,
                Err(Failure::Status(s)) => {
                    *found.borrow_mut() = Some(Detected::OnRead(s.code(), s.message().to_owned()));
                    true
                }
                Ok(facts) => {
                    for fact in &facts {
                        assert_eq!(
                            Some(fact),
                            written.get(fact.sequence as usize - 1),
                            "replica {id} answered fact {} altered",
                            fact.sequence
                        );
                    }
                    assert!(
                        facts.len() < written.len(),
                        "replica {id} answered its whole ledger ({} facts), the damaged fact \
                         among them, without an error: the damage went unnoticed",
                        facts.len()
                    );
                    false
                }
            }
        },
    )
    .await;
    found.into_inner().expect("set when detected")
}

/// The operator's procedure for a replica whose data is damaged (ops/GUIDE.md, "Data and
/// backups"): stop it, remove it from the cluster, start a fresh replica with a new id on an
/// empty data directory, add it as a learner and make it a voter. Checks that it catches up from
/// its peers (its own ledger equals the leader's and `written`, facts `1..=total` of `tag`), and
/// that it counts in the quorum: with the third replica down, the leader and it commit.
async fn replace_from_peers(cluster: &mut Cluster, broken: u64, tag: &str, total: u64) {
    // Stopped (a replica refused at start has exited already; one serving damaged data is
    // stopped by its operator).
    cluster.kill(broken);
    let leader = cluster.wait_for_leader().await;
    cluster
        .admin(leader)
        .await
        .remove_node(v1::RemoveNodeRequest { node_id: broken })
        .await
        .expect("remove the damaged replica");
    let remaining: Vec<u64> = cluster
        .ids()
        .into_iter()
        .filter(|id| *id != broken)
        .collect();
    wait_until(
        &format!("replica {broken} removed in the view of every other replica"),
        || async {
            for id in &remaining {
                match cluster.status(*id).await {
                    Some(s)
                        if !s.joint
                            && s.voters.iter().all(|m| m.node_id != broken)
                            && s.learners.iter().all(|m| m.node_id != broken) => {}
                    _ => return false,
                }
            }
            true
        },
    )
    .await;

    // A fresh replica: a new id (ids are never reused), an empty data directory.
    // The leader as the members see it: the fresh replica names none until it is added.
    let leader = cluster.wait_for_leader().await;
    let fresh = cluster.ids().into_iter().max().expect("replicas") + 1;
    let address = cluster.spawn(fresh, "127.0.0.1:0").address.clone();
    let data_dir = cluster.replicas[&fresh].data_dir.clone();
    cluster
        .admin(leader)
        .await
        .add_learner(v1::ClusterMember {
            node_id: fresh,
            address,
        })
        .await
        .expect("add the fresh replica as a learner");
    let mut voters = remaining.clone();
    voters.push(fresh);
    let status = cluster
        .admin(leader)
        .await
        .change_membership(v1::ChangeMembershipRequest {
            voters: voters.clone(),
        })
        .await
        .expect("make the fresh replica a voter")
        .into_inner();
    assert!(
        status.voters.iter().any(|m| m.node_id == fresh),
        "replica {fresh} is a voter: {status:?}"
    );
    cluster.wait_for_sequence(fresh, TOYAMA_CITY, total).await;
    let own = local_ledger(cluster, fresh)
        .await
        .unwrap_or_else(|e| panic!("replica {fresh}'s own ledger: {e:?}"));
    let leaders = cluster.ledger(TOYAMA_CITY).await;
    assert_eq!(own, leaders, "replica {fresh}'s ledger equals the leader's");
    assert_eq!(
        leaders,
        marked_facts(tag, total),
        "the ledger is what was written"
    );

    // A voter that counts: with the third replica down, the leader and it commit.
    let leader = cluster.wait_for_leader().await;
    let down = voters
        .iter()
        .copied()
        .find(|id| *id != leader && *id != fresh)
        .expect("a third voter");
    cluster.kill(down);
    write_facts(cluster, tag, total + 1, total + FACTS_PER_WRITE).await;
    cluster
        .wait_for_sequence(fresh, TOYAMA_CITY, total + FACTS_PER_WRITE)
        .await;
    println!(
        "replica {broken} replaced by replica {fresh} (data in {}), which caught up from its \
         peers and commits with the leader while replica {down} is down",
        data_dir.display()
    );
}

// ---------------------------------------------------------------------------------------------
// (A) Corruption: the node
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flipped_byte_in_a_node_table_file_is_named_and_never_served() {
    let cluster = Cluster::start(3).await;
    let mut node = Node::start(cluster.addresses());
    record_activities(&node, TOYAMA_CITY, "sst", 0..WRITTEN).await;
    wait_synced(&node, TOYAMA_CITY).await;
    let stream = awareness_when_served(&node.address).await;
    assert_eq!(stream.len(), WRITTEN as usize, "every activity recorded");
    let all = all_events_when_served(&node.address).await;

    // A clean stop flushes the memtables: the events are then in table files only.
    assert!(node.terminate(), "the node stops cleanly");
    let marker = format!("\"sst-{DAMAGED}\"");
    let flip = Flip::of_marker(&files(&node.data_dir, "sst"), marker.as_bytes());

    let log = node.root.path().join("node.log");
    let from = log_len(&log);
    node.restart();
    let detected = detected_by_node(&node, &log, from, &stream).await;
    match &detected {
        Detected::AtStart(line) => {
            println!("node: the damaged table file stopped the start: {line}");
            assert_names("the node's refusal to start", line, &flip);
        }
        Detected::OnRead(code, message) => {
            println!("node: a read of the damaged block failed: {code:?} {message}");
            assert_eq!(
                *code,
                Code::Internal,
                "a damaged store is a storage failure, not bad input: {message}"
            );
            assert_names("the failed read", message, &flip);
            // The other read path (an iterator over the whole municipality) notices it too, and
            // what it answers before it is unaltered.
            let read = read_all_events(&node.address).await;
            assert_unaltered("ReadAll of the damaged node", &read.answered, &all);
            match read.failure {
                Some(Failure::Status(s)) => {
                    assert_eq!(s.code(), Code::Internal, "{s:?}");
                    assert_names("the failed ReadAll", s.message(), &flip);
                }
                other => panic!(
                    "ReadAll read {} events over the damaged block without an error: {other:?}",
                    read.answered.len()
                ),
            }
        }
    }

    // Nothing was lost or rewritten meanwhile: with the byte back, everything reads as written.
    node.kill();
    flip.undo();
    node.restart();
    assert_eq!(awareness_when_served(&node.address).await, stream);
    let again = all_events_when_served(&node.address).await;
    assert!(again.len() >= all.len(), "no event lost");
    assert_unaltered("ReadAll with the byte back", &again, &all);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flipped_byte_in_a_node_write_ahead_log_stops_the_start_naming_the_file() {
    let cluster = Cluster::start(3).await;
    let mut node = Node::start(cluster.addresses());
    record_activities(&node, TOYAMA_CITY, "wal", 0..WRITTEN).await;
    wait_synced(&node, TOYAMA_CITY).await;
    let stream = awareness_when_served(&node.address).await;
    assert_eq!(stream.len(), WRITTEN as usize, "every activity recorded");

    // SIGKILL: nothing is flushed; the acknowledged events are in the write-ahead log only.
    node.kill();
    let marker = format!("\"wal-{DAMAGED}\"");
    for sst in files(&node.data_dir, "sst") {
        let bytes = std::fs::read(&sst).expect("a table file");
        assert!(
            occurrences(&bytes, marker.as_bytes()).is_empty(),
            "{} holds {marker} too: the write-ahead log would not be its only copy",
            sst.display()
        );
    }
    let flip = Flip::of_marker(&files(&node.data_dir, "log"), marker.as_bytes());
    // The events recorded after the damaged one are in the log after it: a replay that stopped
    // at the damage would drop acknowledged activities silently.
    let refusal = refused_start(
        "renkei-node",
        &node.root.path().join("node.toml"),
        &node.root.path().join("refused-start.log"),
    )
    .await;
    println!("node: the damaged write-ahead log stopped the start: {refusal}");
    assert_names("the node's refusal to start", &refusal, &flip);

    // Refusing lost nothing: with the byte back the node starts with every activity.
    flip.undo();
    node.restart();
    assert_eq!(awareness_when_served(&node.address).await, stream);
}

// ---------------------------------------------------------------------------------------------
// (A) Corruption: a replica
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flipped_byte_in_a_replica_table_file_is_named_never_served_and_the_replica_is_replaced()
{
    const TAG: &str = "replica-sst";
    let total = u64::from(WRITTEN);
    let mut cluster = Cluster::start(3).await;
    let broken = a_follower(&cluster).await;
    write_facts(&cluster, TAG, 1, total).await;
    cluster.wait_for_sequence(broken, TOYAMA_CITY, total).await;
    let written = cluster.ledger(TOYAMA_CITY).await;
    assert_eq!(written, marked_facts(TAG, total));

    // A replica flushes nothing by itself with this little data; replaying its write-ahead log at
    // a restart writes what it held into table files.
    cluster.kill(broken);
    cluster.restart(broken);
    cluster.wait_for_sequence(broken, TOYAMA_CITY, total).await;
    cluster.kill(broken);
    let data_dir = cluster.replicas[&broken].data_dir.clone();
    let marker = marked_fact(TAG, u64::from(DAMAGED)).payload;
    let flip = Flip::of_marker(&files(&data_dir, "sst"), &marker);

    let log = cluster.root.path().join(format!("replica-{broken}.log"));
    let from = log_len(&log);
    cluster.restart(broken);
    let detected = detected_by_replica(&cluster, broken, &log, from, &written).await;
    match &detected {
        Detected::AtStart(line) => {
            println!("replica {broken}: the damaged table file stopped the start: {line}");
            assert_names("the replica's refusal to start", line, &flip);
        }
        Detected::OnRead(code, message) => {
            println!("replica {broken}: a read of the damaged block failed: {code:?} {message}");
            assert_eq!(
                *code,
                Code::Internal,
                "a damaged store is a storage failure: {message}"
            );
            assert_names("the replica's failed read", message, &flip);
        }
    }

    replace_from_peers(&mut cluster, broken, TAG, total).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flipped_byte_in_a_replica_write_ahead_log_stops_it_and_it_is_replaced_from_its_peers() {
    const TAG: &str = "replica-wal";
    let total = u64::from(WRITTEN);
    let mut cluster = Cluster::start(3).await;
    let broken = a_follower(&cluster).await;
    write_facts(&cluster, TAG, 1, total).await;
    cluster.wait_for_sequence(broken, TOYAMA_CITY, total).await;
    assert_eq!(cluster.ledger(TOYAMA_CITY).await, marked_facts(TAG, total));

    // SIGKILL: what the replica applied is in its write-ahead log only.
    cluster.kill(broken);
    let data_dir = cluster.replicas[&broken].data_dir.clone();
    let marker = marked_fact(TAG, u64::from(DAMAGED)).payload;
    assert!(
        files(&data_dir, "sst").iter().all(|sst| {
            occurrences(&std::fs::read(sst).expect("a table file"), &marker).is_empty()
        }),
        "the write-ahead log is the only copy of the damaged fact"
    );
    let flip = Flip::of_marker(&files(&data_dir, "log"), &marker);
    let refusal = refused_start(
        "renkei-prefecture",
        &cluster.root.path().join(format!("replica-{broken}.toml")),
        &cluster
            .root
            .path()
            .join(format!("replica-{broken}-refused-start.log")),
    )
    .await;
    println!("replica {broken}: the damaged write-ahead log stopped the start: {refusal}");
    assert_names("the replica's refusal to start", &refusal, &flip);

    // The others carry on meanwhile.
    write_facts(&cluster, TAG, total + 1, total + 10).await;

    replace_from_peers(&mut cluster, broken, TAG, total + 10).await;
}

// ---------------------------------------------------------------------------------------------
// (B) EIO on the node's disk
// ---------------------------------------------------------------------------------------------

/// Records one awareness activity of 富山市 with id `id` at the node at `address`.
async fn record_one(address: &str, id: &str) -> Result<(), Failure> {
    let channel = try_connect(address, &pki().tool())
        .await
        .ok_or(Failure::Down)?;
    v1::MunicipalProgramClient::new(channel)
        .record_awareness_activity(awareness(TOYAMA_CITY, id))
        .await
        .map(|_| ())
        .map_err(Failure::Status)
}

/// How many events of `events` carry the activity id `id`.
fn recorded(events: &[v1::RecordedEvent], id: &str) -> usize {
    let quoted = format!("\"{id}\"");
    events
        .iter()
        .filter(|e| !occurrences(&e.payload, quoted.as_bytes()).is_empty())
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_disk_fails_writes_acknowledges_nothing_says_why_and_recovers_with_its_disk() {
    assert!(
        renkei_faults::lazyfs::fuse_available(),
        "this test needs /dev/fuse (and root)"
    );
    let disks = tempfile::TempDir::new().expect("a temporary directory");
    let mountpoint = disks.path().join("node");
    std::fs::create_dir_all(&mountpoint).expect("a mountpoint");
    let disk = LazyFs::mount(&mountpoint).expect("mount a lazy filesystem");
    let faults = disk.faults();
    let cluster = Cluster::start_for(3, &[TOYAMA_CITY, TAKAOKA_CITY, UOZU_CITY]).await;
    let mut node = Node::start_on(
        cluster.addresses(),
        &[TOYAMA_CITY, TAKAOKA_CITY],
        &disk.mountpoint().join("data"),
        vec![],
    );
    let other = Node::start_for(cluster.addresses(), &[UOZU_CITY], "");

    let mut acknowledged: Vec<String> = (0..10).map(|i| format!("eio-a-{i}")).collect();
    record_activities(&node, TOYAMA_CITY, "eio-a", 0..10).await;
    wait_synced(&node, TOYAMA_CITY).await;
    // Idle: every fact of both municipalities produced and acknowledged, so the next write to
    // the disk is the test's append.
    wait_until("高岡市's participation acknowledged", || async {
        let s = node.sync_state(TAKAOKA_CITY).await;
        s.produced >= PARTICIPATION_FACTS && s.acknowledged == s.produced
    })
    .await;

    let log = node.root.path().join("node.log");
    let from = log_len(&log);
    faults.fail_writes(Some(libc::EIO));

    // The next append is refused, and the call says why.
    match record_one(&node.address, "eio-b-0").await {
        Ok(()) => panic!("an append was acknowledged while every write to the disk fails"),
        Err(Failure::Down) => panic!("the node went away without answering the append"),
        Err(Failure::Status(s)) => {
            println!(
                "node: the append on a failing disk: {:?} {}",
                s.code(),
                s.message()
            );
            assert_eq!(s.code(), Code::Internal, "{s:?}");
            assert!(
                s.message().contains("Input/output error"),
                "the refusal names the I/O error: {s:?}"
            );
        }
    }
    assert!(faults.stats().failed_writes > 0, "{:?}", faults.stats());
    wait_until("the node's log to say why", || async {
        log_since(&log, from).contains("Input/output error")
    })
    .await;
    // Nothing more is acknowledged while the disk fails.
    assert!(
        record_one(&node.address, "eio-b-1").await.is_err(),
        "an append was acknowledged while every write to the disk fails"
    );

    // The others carry on: the prefecture and another node.
    record_activities(&other, UOZU_CITY, "others", 0..5).await;
    wait_synced(&other, UOZU_CITY).await;

    // The disk works again: the node acknowledges again by itself, or it has stopped (exit
    // non-zero, naming the failed write) and is restarted.
    faults.fail_writes(None);
    let by_itself = Cell::new(false);
    wait_until(
        "the node to acknowledge again by itself, or to have stopped naming the failed write",
        || async {
            match record_one(&node.address, "eio-b-1").await {
                Ok(()) => {
                    by_itself.set(true);
                    true
                }
                Err(Failure::Status(_)) => false,
                Err(Failure::Down) => failure_line(&log_since(&log, from), "renkei-node")
                    .is_some_and(|line| line.contains("Input/output error")),
            }
        },
    )
    .await;
    if by_itself.get() {
        acknowledged.push("eio-b-1".to_owned());
    } else {
        let line = failure_line(&log_since(&log, from), "renkei-node").expect("a failure line");
        println!("node: stopped on the failed write: {line}");
        node.kill();
        node.restart();
    }
    record_activities(&node, TOYAMA_CITY, "eio-c", 0..5).await;
    acknowledged.extend((0..5).map(|i| format!("eio-c-{i}")));
    wait_synced(&node, TOYAMA_CITY).await;

    // Nothing acknowledged is lost, nothing is stored twice.
    let events = awareness_when_served(&node.address).await;
    for id in &acknowledged {
        assert_eq!(recorded(&events, id), 1, "acknowledged activity {id}");
    }
    for id in ["eio-b-0", "eio-b-1"] {
        assert!(recorded(&events, id) <= 1, "activity {id} stored twice");
    }
    // The prefecture holds every fact the node produced, fact for fact.
    assert_eq!(
        cluster.ledger(TOYAMA_CITY).await,
        node.outbox(TOYAMA_CITY).await,
        "the prefecture's ledger equals the node's outbox"
    );
    println!(
        "eio: {} failed writes; the node recovered {}",
        faults.stats().failed_writes,
        if by_itself.get() {
            "by itself once its disk worked again"
        } else {
            "after a restart (it had stopped on the failed write, saying why)"
        }
    );
    node.kill();
    drop(other);
    drop(cluster);
    drop(disk);
}
