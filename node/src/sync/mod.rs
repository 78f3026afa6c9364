//! Sync with the prefecture (都道府県との同期): the outbox of facts each hosted municipality
//! produces, the pusher that sends them to the prefecture cluster, and the puller that brings
//! down what the prefecture publishes.
//!
//! - [`outbox`]: facts derived from the event log, numbered per municipality, stored durably;
//! - [`push`]: batches of facts to the `Federation` service, resumable and idempotent;
//! - [`down`]: unified forms and designations pulled from a cursor;
//! - [`board`]: the shared sync state the `NodeSync` service reports.
//!
//! The outbox runs whether or not sync is configured: facts wait in it until a prefecture is.

pub mod board;
pub mod down;
pub mod outbox;
pub mod push;

use renkei_proto::MunicipalityCode;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use board::{SyncBoard, TenantSync};
pub use outbox::{OUTBOX_STREAM, Outbox, OutboxFact};

use crate::config::SyncConfig;
use crate::store::EventStore;

/// The running sync tasks of a node.
pub struct SyncTasks {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// Starts the outbox projector of every tenant and, when `config` is given, the pusher and the
/// puller. With a prefecture to answer to, each tenant's outbox opens with its participation
/// (see [`outbox::project`]); without one, nothing is written until activity is recorded.
pub fn start(
    store: &EventStore,
    tenants: &[MunicipalityCode],
    config: Option<&SyncConfig>,
    tls: &renkei_proto::tls::ClientTls,
    board: &SyncBoard,
) -> SyncTasks {
    let (stop, stopping) = watch::channel(false);
    let mut tasks = Vec::new();
    for &tenant in tenants {
        let (store, board, stopping) = (store.clone(), board.clone(), stopping.clone());
        let participate = config.is_some();
        tasks.push(tokio::spawn(async move {
            if let Err(e) = outbox::project(store, tenant, participate, board, stopping).await {
                tracing::error!(municipality = %tenant, error = %e, "outbox projection stopped");
            }
        }));
    }
    if let Some(config) = config {
        tasks.push(tokio::spawn(push::run(
            Outbox::new(store.clone()),
            tenants.to_vec(),
            config.clone(),
            tls.clone(),
            board.clone(),
            stopping.clone(),
        )));
        tasks.push(tokio::spawn(down::run(
            store.clone(),
            tenants.to_vec(),
            config.clone(),
            tls.clone(),
            board.clone(),
            stopping,
        )));
    }
    SyncTasks { stop, tasks }
}

impl SyncTasks {
    /// Stops every task and waits for them (an append in flight completes first).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}
