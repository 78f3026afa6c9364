//! `renkei cluster …` (the ClusterAdmin service of prefecture replicas), `renkei node status`
//! (a municipal node's tenants, event counts and sync lag), `renkei backup` (an online backup
//! through the Backup service) and `renkei restore` (a backup into a fresh data directory).

use std::path::Path;

use renkei_proto::v1::{self, BackupClient, ClusterAdminClient, EventLogClient, NodeSyncClient};
use serde_json::{Value, json};

use crate::cli::{ClusterCommand, ImportCommand, Member, NodeCommand};
use crate::failure::Failure;
use crate::rpc::{self, ClusterClient, authed, bearer};
use crate::table::{self, Align};

fn member(m: &Member) -> v1::ClusterMember {
    v1::ClusterMember {
        node_id: m.id,
        address: m.address.clone(),
    }
}

fn members_text(members: &[v1::ClusterMember]) -> String {
    if members.is_empty() {
        return "-".to_owned();
    }
    members
        .iter()
        .map(|m| format!("{}={}", m.node_id, m.address))
        .collect::<Vec<_>>()
        .join(" ")
}

fn status_json(address: &str, s: &v1::ClusterStatus) -> Value {
    let members = |list: &[v1::ClusterMember]| -> Vec<Value> {
        list.iter()
            .map(|m| json!({"node_id": m.node_id, "address": m.address}))
            .collect()
    };
    json!({
        "address": address,
        "node_id": s.node_id,
        "state": s.state,
        "leader_id": s.leader_id,
        "leader_address": s.leader_address,
        "term": s.term,
        "last_log_index": s.last_log_index,
        "applied_index": s.applied_index,
        "snapshot_index": s.snapshot_index,
        "purged_index": s.purged_index,
        "voters": members(&s.voters),
        "learners": members(&s.learners),
        "joint": s.joint,
    })
}

fn status_table(views: &[(String, v1::ClusterStatus)]) -> String {
    let rows: Vec<Vec<String>> = views
        .iter()
        .map(|(address, s)| {
            vec![
                address.clone(),
                s.node_id.to_string(),
                s.state.clone(),
                if s.leader_id == 0 {
                    "-".into()
                } else {
                    s.leader_id.to_string()
                },
                s.term.to_string(),
                s.last_log_index.to_string(),
                s.applied_index.to_string(),
                format!(
                    "{}{}",
                    members_text(&s.voters),
                    if s.joint { " (joint)" } else { "" }
                ),
                members_text(&s.learners),
            ]
        })
        .collect();
    use Align::{Left, Right};
    table::render(
        &[
            "address", "node", "state", "leader", "term", "last log", "applied", "voters",
            "learners",
        ],
        &[Left, Right, Left, Right, Right, Right, Right, Left, Left],
        &rows,
    )
}

fn print_one(address: &str, status: &v1::ClusterStatus, json: bool) {
    if json {
        println!("{}", status_json(address, status));
    } else {
        print!("{}", status_table(&[(address.to_owned(), status.clone())]));
    }
}

/// Runs `renkei cluster …`.
pub async fn cluster(
    command: ClusterCommand,
    token: Option<String>,
    json: bool,
) -> Result<(), Failure> {
    let auth = bearer(token.as_deref())?;
    match command {
        ClusterCommand::Init {
            addr,
            members,
            node_id,
        } => {
            let members: Vec<v1::ClusterMember> = if members.is_empty() {
                vec![v1::ClusterMember {
                    node_id,
                    address: addr.clone(),
                }]
            } else {
                members.iter().map(member).collect()
            };
            let mut client = ClusterAdminClient::new(rpc::connect(&addr).await?);
            let status = client
                .initialize(authed(&auth, v1::InitializeRequest { members }))
                .await
                .map_err(|s| Failure::from_status("ClusterAdmin.Initialize", &s))?
                .into_inner();
            print_one(&addr, &status, json);
            Ok(())
        }
        ClusterCommand::AddLearner { addr, member: m } => {
            let learner = member(&m);
            let mut cluster = ClusterClient::new(addr);
            let status = cluster
                .call("ClusterAdmin.AddLearner", move |channel| {
                    let mut client = ClusterAdminClient::new(channel);
                    let request = authed(&auth, learner.clone());
                    async move { client.add_learner(request).await }
                })
                .await?;
            let address = cluster.current().to_owned();
            print_one(&address, &status, json);
            Ok(())
        }
        ClusterCommand::Promote { addr, voters } => {
            let mut cluster = ClusterClient::new(addr);
            let status = cluster
                .call("ClusterAdmin.ChangeMembership", move |channel| {
                    let mut client = ClusterAdminClient::new(channel);
                    let request = authed(
                        &auth,
                        v1::ChangeMembershipRequest {
                            voters: voters.clone(),
                        },
                    );
                    async move { client.change_membership(request).await }
                })
                .await?;
            let address = cluster.current().to_owned();
            print_one(&address, &status, json);
            Ok(())
        }
        ClusterCommand::Remove { addr, node_id } => {
            let mut cluster = ClusterClient::new(addr);
            let status = cluster
                .call("ClusterAdmin.RemoveNode", move |channel| {
                    let mut client = ClusterAdminClient::new(channel);
                    let request = authed(&auth, v1::RemoveNodeRequest { node_id });
                    async move { client.remove_node(request).await }
                })
                .await?;
            let address = cluster.current().to_owned();
            print_one(&address, &status, json);
            Ok(())
        }
        ClusterCommand::Status { addr } => {
            let mut views = Vec::new();
            let mut failures = Vec::new();
            for address in &addr {
                let reply = match rpc::connect(address).await {
                    Ok(channel) => ClusterAdminClient::new(channel)
                        .status(authed(&auth, v1::StatusRequest {}))
                        .await
                        .map(tonic::Response::into_inner)
                        .map_err(|s| format!("{address}: {}", s.message())),
                    Err(e) => Err(e.to_string()),
                };
                match reply {
                    Ok(status) => views.push((address.clone(), status)),
                    Err(e) => failures.push(e),
                }
            }
            if json {
                let list: Vec<Value> = views.iter().map(|(a, s)| status_json(a, s)).collect();
                println!("{}", json!({"replicas": list, "unreachable": failures}));
            } else {
                if !views.is_empty() {
                    print!("{}", status_table(&views));
                }
                for f in &failures {
                    eprintln!("unreachable: {f}");
                }
            }
            if failures.is_empty() {
                Ok(())
            } else {
                Err(Failure::runtime(format!(
                    "{} of {} replicas did not answer",
                    failures.len(),
                    addr.len()
                )))
            }
        }
    }
}

/// Runs `renkei node …`.
pub async fn node(command: NodeCommand, json: bool) -> Result<(), Failure> {
    let NodeCommand::Status { addr, token } = command;
    let auth = bearer(token.as_deref())?;
    let channel = rpc::connect(&addr).await?;
    let sync = NodeSyncClient::new(channel.clone())
        .get_sync_state(authed(
            &auth,
            v1::GetSyncStateRequest {
                municipalities: vec![],
            },
        ))
        .await
        .map_err(|s| Failure::from_status("NodeSync.GetSyncState", &s))?
        .into_inner();
    let mut log = EventLogClient::new(channel);
    let mut rows = Vec::new();
    let mut list = Vec::new();
    for m in &sync.municipalities {
        // Reading from past the end returns no event but the tenant's last position, which is
        // its number of events.
        let events = log
            .read_all(authed(
                &auth,
                v1::ReadAllRequest {
                    municipality_code: m.municipality.clone(),
                    from_position: u64::MAX,
                    max_count: 1,
                },
            ))
            .await
            .map_err(|s| Failure::from_status("EventLog.ReadAll", &s))?
            .into_inner()
            .last_position;
        let name = renkei_proto::official::municipality(m.municipality.parse().map_err(|e| {
            Failure::runtime(format!("the node answered a bad municipality code: {e}"))
        })?)
        .map_or_else(String::new, |o| o.name.to_owned());
        let last_success = m
            .last_success
            .as_ref()
            .and_then(renkei_proto::convert::timestamp_to_utc)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default();
        rows.push(vec![
            m.municipality.clone(),
            name.clone(),
            events.to_string(),
            m.produced.to_string(),
            m.acknowledged.to_string(),
            m.lag_facts.to_string(),
            format!("{:.1}", m.lag_seconds),
            if last_success.is_empty() {
                "-".into()
            } else {
                last_success.clone()
            },
            if m.last_error.is_empty() {
                "-".into()
            } else {
                m.last_error.clone()
            },
        ]);
        list.push(json!({
            "municipality": m.municipality,
            "name": name,
            "events": events,
            "produced": m.produced,
            "acknowledged": m.acknowledged,
            "lag_facts": m.lag_facts,
            "lag_seconds": m.lag_seconds,
            "last_success": last_success,
            "last_error": m.last_error,
            "down_cursor": m.down_cursor,
        }));
    }
    if json {
        println!(
            "{}",
            json!({"address": addr, "prefecture_peer": sync.peer, "municipalities": list})
        );
    } else {
        println!(
            "node {addr}: {} municipalities; syncing with {}",
            rows.len(),
            if sync.peer.is_empty() {
                "-"
            } else {
                &sync.peer
            }
        );
        use Align::{Left, Right};
        print!(
            "{}",
            table::render(
                &[
                    "code",
                    "name",
                    "events",
                    "facts",
                    "acknowledged",
                    "lag",
                    "lag s",
                    "last sync",
                    "last error"
                ],
                &[Left, Left, Right, Right, Right, Right, Right, Left, Left],
                &rows,
            )
        );
    }
    Ok(())
}

/// Runs `renkei import resources`.
pub async fn import(command: ImportCommand, json: bool) -> Result<(), Failure> {
    let ImportCommand::Resources {
        addr,
        municipality,
        on,
        actor,
        token,
        file,
    } = command;
    municipality
        .parse::<renkei_proto::MunicipalityCode>()
        .map_err(|e| Failure::usage(format!("--municipality {municipality}: {e}")))?;
    let csv = std::fs::read(&file)
        .map_err(|e| Failure::usage(format!("{}: cannot read the file: {e}", file.display())))?;
    let on = on.unwrap_or_else(|| chrono::Local::now().date_naive());
    let auth = bearer(token.as_deref())?;
    let reply = v1::MunicipalProgramClient::new(rpc::connect(&addr).await?)
        .import_resources(authed(
            &auth,
            v1::ImportResourcesRequest {
                municipality_code: municipality.clone(),
                actor,
                csv,
                on: on.to_string(),
            },
        ))
        .await
        .map_err(|s| Failure::from_status("MunicipalProgram.ImportResources", &s))?
        .into_inner();
    if json {
        println!(
            "{}",
            json!({
                "municipality": municipality,
                "file": file.display().to_string(),
                "rows": reply.rows,
                "registered": reply.registered,
                "unchanged": reply.unchanged,
                "rejected": reply.rejected.iter().map(|r| json!({"line": r.line, "reason": r.reason})).collect::<Vec<_>>(),
            })
        );
    } else {
        println!(
            "{}: {} rows — {} registered, {} unchanged, {} rejected",
            file.display(),
            reply.rows,
            reply.registered,
            reply.unchanged,
            reply.rejected.len()
        );
        for r in &reply.rejected {
            println!("  line {}: {}", r.line, r.reason);
        }
    }
    if reply.rejected.is_empty() {
        Ok(())
    } else {
        Err(Failure::usage(format!(
            "{}: {} row(s) rejected (the others were imported)",
            file.display(),
            reply.rejected.len()
        )))
    }
}

/// Runs `renkei backup`.
pub async fn backup(
    addr: &str,
    to: &Path,
    token: Option<String>,
    json: bool,
) -> Result<(), Failure> {
    if !to.is_absolute() {
        return Err(Failure::usage(format!(
            "--to {}: must be an absolute path on the serving machine",
            to.display()
        )));
    }
    let auth = bearer(token.as_deref())?;
    let reply = BackupClient::new(rpc::connect(addr).await?)
        .create_backup(authed(
            &auth,
            v1::CreateBackupRequest {
                target_dir: to.display().to_string(),
            },
        ))
        .await
        .map_err(|s| Failure::from_status("Backup.CreateBackup", &s))?
        .into_inner();
    if json {
        println!(
            "{}",
            json!({
                "path": reply.path,
                "kind": reply.kind,
                "taken_at": reply.taken_at,
                "bytes": reply.bytes,
                "positions": reply.positions,
                "node_id": reply.node_id,
                "applied_index": reply.applied_index,
            })
        );
    } else {
        let what = if reply.kind == "node" {
            format!("positions {}", reply.positions.join(" "))
        } else {
            format!(
                "replica {}, applied index {}",
                reply.node_id, reply.applied_index
            )
        };
        println!(
            "backup of the {} at {addr} written to {} on that machine ({} bytes, taken {}; {what})",
            reply.kind, reply.path, reply.bytes, reply.taken_at
        );
    }
    Ok(())
}

/// Runs `renkei restore`.
pub fn restore(
    from: &Path,
    data_dir: &Path,
    master_key: Option<&Path>,
    json: bool,
) -> Result<(), Failure> {
    use renkei_node::backup::{BackupError, restore};
    let restored = restore(from, data_dir, master_key).map_err(|e| match e {
        BackupError::Invalid { field, .. } => {
            let flag = match field {
                "data_dir" => "--data-dir",
                "master_key" => "--master-key",
                _ => "--from",
            };
            Failure::usage(format!("{flag}: {e}"))
        }
        BackupError::Io { .. } => Failure::runtime(format!("restore failed: {e}")),
    })?;
    let manifest = &restored.manifest;
    let erasure_log = restored
        .erasure_log
        .as_ref()
        .map(|p| p.display().to_string());
    if json {
        println!(
            "{}",
            json!({
                "data_dir": data_dir.display().to_string(),
                "kind": manifest.kind,
                "taken_at": manifest.taken_at,
                "bytes": manifest.bytes,
                "positions": manifest.positions,
                "node_id": manifest.node_id,
                "applied_index": manifest.applied_index,
                "erasure_log": erasure_log,
                "erasures_replayed": restored.erasures_replayed,
            })
        );
    } else {
        println!(
            "restored the {} backup taken {} ({} bytes) into {}; start the process on it",
            manifest.kind,
            manifest.taken_at,
            manifest.bytes,
            data_dir.display()
        );
        if let Some(log) = erasure_log {
            println!(
                "erasure log {log}: {} data subject(s) erased since the backup erased again",
                restored.erasures_replayed
            );
        }
    }
    Ok(())
}
