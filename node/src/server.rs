//! Runs a node: opens the store, hosts the configured municipalities, serves gRPC until the
//! shutdown future resolves, then drains and closes the store.

use std::future::Future;

use renkei_proto::v1::{BackupServer, EventLogServer, MunicipalProgramServer, NodeSyncServer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_stream::wrappers::TcpListenerStream;

use crate::config::NodeConfig;
use crate::grpc::{EventLogService, MunicipalProgramService, NodeBackupService, NodeSyncService};
use crate::personal::{KeyVault, MasterKey, VaultError};
use crate::programme::Programme;
use crate::store::{EventStore, StoreError, StoreOptions};
use crate::sync::{self, Outbox, SyncBoard};

/// Room for the other fields of an append request beside its payloads.
const MESSAGE_OVERHEAD: usize = 4 * 1024 * 1024;

/// Accepted connections with Nagle's algorithm off: answers are small and latency-bound
/// (`Server::tcp_nodelay` does not reach connections from `serve_with_incoming`).
fn incoming(
    listener: TcpListener,
) -> impl futures::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    use futures::StreamExt;
    TcpListenerStream::new(listener).map(|conn| {
        if let Ok(stream) = &conn {
            // Best effort: a socket that refuses the option still works, only slower.
            let _ = stream.set_nodelay(true);
        }
        conn
    })
}

/// Why a node could not run.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("event store at {dir}: {source}")]
    Store {
        dir: String,
        #[source]
        source: StoreError,
    },
    /// A write to the event store failed while serving: the node stopped rather than go on with
    /// a store that may hold less than it was handed. Restarted once the disk is healthy, it
    /// recovers every acknowledged write from its write-ahead log.
    #[error(
        "event store at {dir}: a write failed, so the node stopped (restart it once the disk is \
         healthy; it recovers every acknowledged write from its write-ahead log): {source}"
    )]
    WriteFailed {
        dir: String,
        #[source]
        source: StoreError,
    },
    #[error("grpc server: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("{0}")]
    Tls(#[from] renkei_proto::tls::TlsError),
    #[error("personal data keys: {0}")]
    Personal(#[from] VaultError),
    #[error("reflection service: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("workspace: {0}")]
    Web(#[from] crate::web::serve::WebServeError),
    #[error("metrics endpoint on {address}: {source}")]
    Metrics {
        address: String,
        #[source]
        source: std::io::Error,
    },
}

/// Reads the node's master key; `None` for a default key (`DATA/master.key`) not made yet, which
/// is created once the store is open (a fresh data directory must hold nothing but the store
/// when the store first opens it). Never `None` for a key vault that already exists: a backup
/// holds no master key, and a fresh key would open none of the restored details. Runs before
/// the store is opened, so a node refused here has touched nothing.
fn master_key(config: &NodeConfig) -> Result<Option<MasterKey>, VaultError> {
    let path = match &config.master_key_file {
        Some(path) => return MasterKey::from_file(path).map(Some),
        None => config.data_dir.join("master.key"),
    };
    if path.exists() {
        return MasterKey::from_file(&path).map(Some);
    }
    if config.data_dir.join("personal-keys/CURRENT").exists() {
        return Err(VaultError::MasterKey {
            path: path.display().to_string(),
            reason: "is missing, but personal-keys holds this node's subject keys (a backup \
                     holds no master key): put the node's master key back there (mode 0600), or \
                     name it with master_key_file"
                .into(),
        });
    }
    Ok(None)
}

/// Serves the node on `listener` until `shutdown` resolves. Then it stops accepting, lets
/// in-flight requests finish (appends included), ends live subscriptions, writes what the store
/// has queued, flushes it and returns.
///
/// A write to the store that fails stops the node the same way, without the flush, and returns
/// [`NodeError::WriteFailed`] (the process exits non-zero, naming the failure).
pub async fn run(
    config: NodeConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), NodeError> {
    let store_err = |source| NodeError::Store {
        dir: config.data_dir.display().to_string(),
        source,
    };
    // Certificates first: a node that cannot prove who it is should not touch its data.
    let tls = config.transport.load()?;
    let client_tls = match &tls {
        // The node talks to its prefecture's replicas only: a server must present one's
        // certificate.
        Some(tls) => tls.client(renkei_proto::tls::Expected::Replica {
            prefecture: config.municipalities.first().map(|m| m.prefecture()),
            node_id: None,
        })?,
        None => renkei_proto::tls::ClientTls::Plaintext,
    };
    let master = master_key(&config)?;
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| store_err(StoreError::Storage(format!("cannot create directory: {e}"))))?;
    let options = StoreOptions {
        // Validated to at most MAX_EVENT_BYTES_LIMIT (16 MiB): fits usize.
        max_payload_bytes: config.max_event_bytes as usize,
        ..StoreOptions::default()
    };
    let store = EventStore::open(&config.data_dir, options).map_err(store_err)?;
    store
        .add_tenants(&config.municipalities)
        .await
        .map_err(store_err)?;

    // Personal-data keys live in a database of their own, so erasing one leaves the log as it is.
    let master = match master {
        Some(master) => master,
        None => MasterKey::load_or_create(&config.data_dir.join("master.key"))?,
    };
    // The erasure log beside the master key is replayed into the vault.
    let (vault, replayed) =
        KeyVault::open_replaying(&config.data_dir.join("personal-keys"), master)?;
    if replayed > 0 {
        tracing::warn!(
            replayed,
            "data subjects of the erasure log erased again in the key vault (restored from a \
             backup taken before their erasure)"
        );
    }
    let backups = NodeBackupService::new(store.clone(), vault.clone());
    let application = Programme::new(store.clone(), vault);
    let programme =
        MunicipalProgramService::new(application.clone(), config.municipalities.clone());

    // Facts are produced whether or not a prefecture is configured; they wait in the outbox.
    let board = SyncBoard::default();
    let sync_tasks = sync::start(
        &store,
        &config.municipalities,
        config.sync.as_ref(),
        &client_tls,
        &board,
    );
    let node_sync = NodeSyncService::new(
        board.clone(),
        Outbox::new(store.clone()),
        config.municipalities.clone(),
    );

    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_serving::<EventLogServer<EventLogService>>()
        .await;
    health
        .set_serving::<MunicipalProgramServer<MunicipalProgramService>>()
        .await;
    // Reflection lists the services this process serves, not every service of the contract.
    use tonic::server::NamedService;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(renkei_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .with_service_name(EventLogServer::<EventLogService>::NAME)
        .with_service_name(MunicipalProgramServer::<MunicipalProgramService>::NAME)
        .with_service_name(NodeSyncServer::<NodeSyncService>::NAME)
        .with_service_name(BackupServer::<crate::grpc::NodeBackupService>::NAME)
        .with_service_name("grpc.health.v1.Health")
        .build_v1()?;

    let (stopping_tx, stopping) = watch::channel(false);
    let metrics = match config.metrics_listen {
        None => None,
        Some(address) => {
            let listener = TcpListener::bind(address)
                .await
                .map_err(|e| NodeError::Metrics {
                    address: address.to_string(),
                    source: e,
                })?;
            let bound = listener.local_addr().map_err(|e| NodeError::Metrics {
                address: address.to_string(),
                source: e,
            })?;
            tracing::info!(address = %bound, "serving metrics at /metrics");
            let mut stopped = stopping.clone();
            Some(tokio::spawn(crate::metrics::serve(
                listener,
                node_sync.clone(),
                async move {
                    let _ = stopped.wait_for(|s| *s).await;
                },
            )))
        }
    };
    let web = match config.web_listen {
        None => None,
        Some(address) => {
            let listener = TcpListener::bind(address)
                .await
                .map_err(|e| NodeError::Web(e.into()))?;
            // The workspace presents the node's own certificate.
            let web_tls = match &tls {
                Some(tls) => {
                    let (cert, key) = tls.identity_pem();
                    Some(crate::web::serve::tls_config(cert, key)?)
                }
                None => None,
            };
            let workspace = crate::workspace::Workspace::new(
                application.clone(),
                store.clone(),
                board.clone(),
                config.municipalities.clone(),
                crate::access::StaffAccess::new(&config.staff),
                config.sync.is_some(),
                web_tls.is_some(),
            );
            let mut stopped = stopping.clone();
            Some(tokio::spawn(crate::workspace::serve(
                workspace,
                listener,
                web_tls,
                async move {
                    let _ = stopped.wait_for(|s| *s).await;
                },
            )))
        }
    };
    let max_message = config.max_event_bytes as usize * 4 + MESSAGE_OVERHEAD;
    let event_log = EventLogService::new(
        store.clone(),
        config.municipalities.clone(),
        stopping,
        max_message - MESSAGE_OVERHEAD / 2,
    );

    let store_failed = store.failed();
    let signal = {
        let health = health.clone();
        async move {
            tokio::select! {
                () = shutdown => {
                    tracing::info!("shutting down: refusing new connections, finishing requests");
                }
                error = store_failed => {
                    tracing::error!(
                        error = %error,
                        "a write to the event store failed: stopping (refusing new connections, \
                         finishing requests); restart the node once its disk is healthy"
                    );
                }
            }
            health
                .set_not_serving::<EventLogServer<EventLogService>>()
                .await;
            health
                .set_not_serving::<MunicipalProgramServer<MunicipalProgramService>>()
                .await;
            health
                .set_service_status("", tonic_health::ServingStatus::NotServing)
                .await;
            let _ = stopping_tx.send(true);
        }
    };

    let addr = listener.local_addr().ok();
    tracing::info!(?addr, municipalities = ?config.municipalities.iter().map(ToString::to_string).collect::<Vec<_>>(), "serving");
    let access = crate::access::StaffAccess::new(&config.staff);
    if access.is_open() {
        tracing::warn!(
            "no [[staff]] configured: every caller may record, read and back up (configure \
             staff tokens outside development)"
        );
    }
    let mut builder = tonic::transport::Server::builder();
    match &tls {
        Some(tls) => {
            builder = builder.tls_config(tls.server_config())?;
            tracing::info!(certificate = %tls.names(), "serving TLS");
        }
        None => tracing::warn!(
            "no [tls]: this port serves plaintext, staff tokens included (local development only, \
             or behind a TLS-terminating proxy on the same machine)"
        ),
    }
    let served = builder
        .trace_fn(crate::telemetry::grpc_server_span)
        .layer(crate::access::GateLayer(access))
        .add_service(health_service)
        .add_service(reflection)
        .add_service(
            EventLogServer::new(event_log)
                .max_decoding_message_size(max_message)
                .max_encoding_message_size(max_message),
        )
        .add_service(
            MunicipalProgramServer::new(programme)
                .max_decoding_message_size(max_message)
                .max_encoding_message_size(max_message),
        )
        .add_service(NodeSyncServer::new(node_sync.clone()))
        .add_service(BackupServer::new(backups))
        .serve_with_incoming_shutdown(incoming(listener), signal)
        .await;

    // Stop syncing (an outbox append in flight completes), then write what was queued and flush.
    sync_tasks.stop().await;
    if let Some(metrics) = metrics {
        let _ = metrics.await;
    }
    if let Some(web) = web {
        // The workspace stopped accepting with the gRPC server; its requests in flight finish.
        match web.await {
            Ok(Err(e)) => tracing::warn!(error = %e, "the workspace ended badly"),
            Err(e) => tracing::warn!(error = %e, "the workspace task failed"),
            Ok(Ok(())) => {}
        }
    }
    let closed = store.close().await.map_err(store_err);
    if let Some(source) = store.failure() {
        return Err(NodeError::WriteFailed {
            dir: config.data_dir.display().to_string(),
            source,
        });
    }
    served?;
    closed?;
    tracing::info!("stopped cleanly");
    Ok(())
}
