//! Runs a prefecture replica: opens its RocksDB database, starts Raft, serves the internal
//! `RaftService`, the client-facing `PrefectureLedger` and `Federation`, `ClusterAdmin`, health and reflection on
//! one port until the shutdown future resolves, then stops Raft and closes the database.

use std::future::Future;
use std::sync::Arc;

use openraft::SnapshotPolicy;
use renkei_proto::v1::{
    BackupServer, ClusterAdminServer, FederationServer, PrefectureLedgerServer,
    PrefectureSupportServer, PrefectureSurveyServer, RaftServiceServer,
};
use tokio::net::TcpListener;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::TcpListenerStream;

use crate::access::Callers;
use crate::application::{Exchange, Support, Surveys};
use crate::config::PrefectureConfig;
use crate::facts::Facts;
use crate::grpc::{
    AdminService, FederationService, LedgerService, RaftPeerService, ReplicaBackupService,
    SupportService, SurveyService,
};
use crate::network::{GrpcNetwork, MAX_RAFT_MESSAGE_BYTES, NetworkOptions};
use crate::store;
use crate::sync_monitor::SyncMonitor;
use crate::types::Raft;

/// The largest client message (a write of up to 2,000 facts, with room for large payloads).
const MAX_CLIENT_MESSAGE_BYTES: usize = 32 * 1024 * 1024;

/// Why a replica could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("database at {dir}: {message}")]
    Store { dir: String, message: String },
    #[error("raft configuration: {0}")]
    RaftConfig(#[from] openraft::ConfigError),
    #[error("raft: {0}")]
    Raft(String),
    #[error("listener: {0}")]
    Listener(#[from] std::io::Error),
    #[error("grpc server: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("reflection service: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    #[error("{0}")]
    Tls(#[from] renkei_proto::tls::TlsError),
    #[error("{0}")]
    Web(#[from] renkei_proto::server::web::serve::WebServeError),
}

/// The most calls one connection may have in progress at once: a node pushes a batch at a time
/// and a peer replicates a few messages at a time; more are held until one finishes.
pub const MAX_CALLS_PER_CONNECTION: usize = 64;
/// The longest a call may take, its body included (a client sending slowly is cut off); a call
/// may ask for less with `grpc-timeout`. Exports and backups take seconds at most.
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Returns openraft's configuration for a replica (timings documented in [`crate::config`]).
pub fn raft_config(config: &PrefectureConfig) -> Result<openraft::Config, openraft::ConfigError> {
    openraft::Config {
        cluster_name: format!("renkei-prefecture-{}", config.prefecture),
        heartbeat_interval: config.heartbeat_ms,
        election_timeout_min: config.election_timeout_min_ms,
        election_timeout_max: config.election_timeout_max_ms,
        // A snapshot chunk of 4 MiB must arrive within this time even on a loaded machine.
        install_snapshot_timeout: 2_000,
        snapshot_max_chunk_size: 4 * 1024 * 1024,
        snapshot_policy: SnapshotPolicy::LogsSinceLast(config.snapshot_after_logs),
        // Keep some log behind the snapshot so that a briefly lagging follower catches up from
        // the log rather than by snapshot, and a follower installing a snapshot is not outrun.
        max_in_snapshot_log_to_keep: config.snapshot_after_logs.min(1000),
        // Entries per AppendEntries RPC (and at most MAX_APPEND_BYTES of them, see network.rs):
        // openraft 0.9 gives each RPC one heartbeat interval to complete.
        max_payload_entries: 4,
        ..openraft::Config::default()
    }
    .validate()
}

/// Serves the replica on `listener` until `shutdown` resolves. Then it stops accepting, lets
/// in-flight requests finish, stops Raft and closes the database.
pub async fn run(
    config: PrefectureConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    // Certificates first: a replica that cannot prove who it is should not touch its data.
    let tls = config.transport.load()?;
    let peer_tls = match &tls {
        // Peers are replicas of this replica's own prefecture (narrowed to the replica dialled
        // by the Raft network).
        Some(tls) => tls.client(renkei_proto::tls::Expected::Replica {
            prefecture: tls.names().replica.map(|(prefecture, _)| prefecture),
            node_id: None,
        })?,
        None => renkei_proto::tls::ClientTls::Plaintext,
    };
    let dir = config.data_dir.display().to_string();
    std::fs::create_dir_all(&config.data_dir).map_err(|e| ServerError::Store {
        dir: dir.clone(),
        message: format!("cannot create directory: {e}"),
    })?;
    // A damaged write-ahead log record is answered as `Corruption: checksum mismatch` alone: the
    // damaged file is named from RocksDB's own log.
    let (log_store, state_machine) =
        store::open(&config.data_dir, config.prefecture).map_err(|e| ServerError::Store {
            dir: dir.clone(),
            message: renkei_proto::server::storage::name_corruption(
                &config.data_dir,
                &e.to_string(),
            ),
        })?;
    let reader = state_machine.reader();
    let survey_state = state_machine.survey();
    let support_log = state_machine.support();
    let local = listener.local_addr()?;
    let advertise = config
        .advertise
        .clone()
        .unwrap_or_else(|| local.to_string());

    let raft = Raft::new(
        config.node_id,
        Arc::new(raft_config(&config)?),
        GrpcNetwork::new(NetworkOptions::default())
            .with_tls(peer_tls)
            .with_routes(config.peer_routes.clone()),
        log_store,
        state_machine,
    )
    .await
    .map_err(|e| ServerError::Raft(e.to_string()))?;

    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_serving::<PrefectureLedgerServer<LedgerService>>()
        .await;
    health
        .set_serving::<ClusterAdminServer<AdminService>>()
        .await;
    health
        .set_serving::<FederationServer<FederationService>>()
        .await;
    health
        .set_serving::<PrefectureSurveyServer<SurveyService>>()
        .await;
    health
        .set_serving::<PrefectureSupportServer<SupportService>>()
        .await;
    health
        .set_serving::<RaftServiceServer<RaftPeerService>>()
        .await;
    // Reflection lists the services this process serves, not every service of the contract.
    use tonic::server::NamedService;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(renkei_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .with_service_name(RaftServiceServer::<RaftPeerService>::NAME)
        .with_service_name(PrefectureLedgerServer::<LedgerService>::NAME)
        .with_service_name(FederationServer::<FederationService>::NAME)
        .with_service_name(PrefectureSurveyServer::<SurveyService>::NAME)
        .with_service_name(PrefectureSupportServer::<SupportService>::NAME)
        .with_service_name(BackupServer::<ReplicaBackupService>::NAME)
        .with_service_name(ClusterAdminServer::<AdminService>::NAME)
        .with_service_name("grpc.health.v1.Health")
        .build_v1()?;

    let (stopping_tx, mut stopping) = tokio::sync::watch::channel(false);
    let signal = {
        let health = health.clone();
        async move {
            shutdown.await;
            tracing::info!("shutting down: refusing new connections, finishing requests");
            health
                .set_service_status("", tonic_health::ServingStatus::NotServing)
                .await;
            let _ = stopping_tx.send(true);
        }
    };

    tracing::info!(
        node_id = config.node_id,
        %local,
        %advertise,
        prefecture = %config.prefecture,
        "serving"
    );
    // `Server::tcp_nodelay` only applies to listeners tonic binds itself: set it on each accepted
    // connection, or Nagle's algorithm and delayed ACKs add ~40 ms to small Raft messages.
    let incoming = TcpListenerStream::new(listener).map(|accepted| {
        if let Ok(stream) = &accepted
            && let Err(e) = stream.set_nodelay(true)
        {
            tracing::warn!(error = %e, "cannot set TCP_NODELAY on an accepted connection");
        }
        accepted
    });
    let callers = Callers::new(&config.callers).with_node_certificates(tls.is_some());
    if callers.is_open() {
        tracing::warn!(
            "no callers configured: any caller may push facts for any municipality of the \
             prefecture (configure [[callers]] outside development)"
        );
    }
    // The fact path the services share, side by side.
    let facts = Facts::new(raft.clone(), reader.clone(), config.prefecture);
    let ledger = LedgerService::new(facts.clone());
    let monitor = SyncMonitor::default();
    // The application types the gRPC services and the console both call.
    let exchange = Exchange::new(facts.clone(), monitor.clone(), advertise.clone());
    let support = Support::new(facts.clone(), support_log);
    let surveys = Surveys::new(
        facts,
        survey_state,
        monitor.clone(),
        config.survey_scope.clone(),
    );
    let federation = FederationService::new(exchange.clone());
    let backups = ReplicaBackupService::new(raft.clone(), reader.clone(), config.node_id);
    let survey = SurveyService::new(surveys.clone());
    let support_service = SupportService::new(support.clone());
    let web = match config.web_listen {
        None => None,
        Some(address) => {
            let listener = TcpListener::bind(address).await?;
            // The console presents the replica's own certificate.
            let web_tls = match &tls {
                Some(tls) => {
                    let (cert, key) = tls.identity_pem();
                    Some(renkei_proto::server::web::serve::tls_config(cert, key)?)
                }
                None => None,
            };
            let console = crate::web::Console::new(
                surveys,
                exchange,
                support,
                raft.clone(),
                callers.clone(),
                config.prefecture,
                web_tls.is_some(),
            );
            let mut stopping = stopping.clone();
            Some(tokio::spawn(crate::web::serve(
                console,
                listener,
                web_tls,
                async move {
                    let _ = stopping.wait_for(|s| *s).await;
                },
            )))
        }
    };
    let metrics = match config.metrics_listen {
        None => None,
        Some(address) => {
            let listener = TcpListener::bind(address).await?;
            let bound = listener.local_addr()?;
            tracing::info!(address = %bound, "serving metrics at /metrics");
            let (raft, reader, monitor) = (raft.clone(), reader.clone(), monitor.clone());
            let prefecture = config.prefecture;
            Some(tokio::spawn(renkei_proto::server::metrics::serve_with(
                listener,
                move || crate::metrics::refresh(&raft, &reader, &monitor, prefecture),
                async move {
                    let _ = stopping.wait_for(|s| *s).await;
                },
            )))
        }
    };
    let mut builder = tonic::transport::Server::builder();
    let raft_service = match &tls {
        Some(tls) => {
            builder = builder.tls_config(tls.server_config())?;
            tracing::info!(certificate = %tls.names(), "serving TLS");
            RaftPeerService::only_replicas_of(raft.clone(), config.prefecture)
        }
        None => {
            tracing::warn!(
                "plaintext = true: nodes, peers and tools talk to this replica without TLS \
                 (local development only)"
            );
            RaftPeerService::new(raft.clone())
        }
    };
    let served = builder
        .concurrency_limit_per_connection(MAX_CALLS_PER_CONNECTION)
        .timeout(REQUEST_TIMEOUT)
        .trace_fn(renkei_proto::server::telemetry::grpc_server_span)
        .layer(renkei_proto::server::access::GateLayer(callers.clone()))
        .add_service(health_service)
        .add_service(reflection)
        .add_service(
            RaftServiceServer::new(raft_service)
                .max_decoding_message_size(MAX_RAFT_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_RAFT_MESSAGE_BYTES),
        )
        .add_service(
            PrefectureLedgerServer::new(ledger)
                .max_decoding_message_size(MAX_CLIENT_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_CLIENT_MESSAGE_BYTES),
        )
        .add_service(
            FederationServer::new(federation)
                .max_decoding_message_size(MAX_CLIENT_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_CLIENT_MESSAGE_BYTES),
        )
        .add_service(
            PrefectureSurveyServer::new(survey)
                .max_decoding_message_size(MAX_CLIENT_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_CLIENT_MESSAGE_BYTES),
        )
        .add_service(PrefectureSupportServer::new(support_service))
        .add_service(BackupServer::new(backups))
        .add_service(ClusterAdminServer::new(AdminService::new(
            raft.clone(),
            reader,
        )))
        .serve_with_incoming_shutdown(incoming, signal)
        .await;

    if let Some(metrics) = metrics {
        // The scrape endpoint has nothing to finish; it stops with the gRPC server.
        metrics.abort();
    }
    if let Some(web) = web {
        // The console stopped accepting with the gRPC server; its requests in flight finish
        // before Raft stops.
        match web.await {
            Ok(Err(e)) => tracing::warn!(error = %e, "the console ended badly"),
            Err(e) => tracing::warn!(error = %e, "the console task failed"),
            Ok(Ok(())) => {}
        }
    }
    let stopped = raft.shutdown().await;
    drop(raft);
    served?;
    stopped.map_err(|e| ServerError::Raft(format!("raft core ended badly: {e}")))?;
    tracing::info!("stopped cleanly");
    Ok(())
}
