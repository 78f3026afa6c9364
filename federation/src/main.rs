//! `renkei-prefecture`: a replica of a prefecture cluster. It parses flags and configuration,
//! binds the listener and calls [`renkei_federation::server::run`].

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use renkei_federation::config::{self, LogFormat, Overrides, PrefectureConfig};
use renkei_proto::server::telemetry::{self, ShutdownSignal};

/// A replica of the renkei prefecture tier (都道府県層): a Raft-replicated ledger of municipal
/// facts, served over gRPC.
#[derive(Debug, Parser)]
#[command(name = "renkei-prefecture", version)]
struct Cli {
    /// TOML configuration file (keys: node_id, listen, advertise, data_dir, prefecture,
    /// heartbeat_ms, election_timeout_min_ms, election_timeout_max_ms, snapshot_after_logs,
    /// log_format, callers, metrics_listen, web_listen, otlp_endpoint, survey_scope, plaintext, [tls]);
    /// RENKEI_PREFECTURE_* environment variables override it, flags override both.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// This replica's node id (positive, never reused).
    #[arg(long, value_name = "N")]
    node_id: Option<u64>,
    /// Address to serve gRPC on, e.g. 127.0.0.1:7501 (port 0 picks a free port).
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Directory of the replica's RocksDB database.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// The prefecture served (2-digit code, 01–47).
    #[arg(long, value_name = "CODE")]
    prefecture: Option<String>,
    /// Serve and call peers without TLS (local development only; otherwise configure [tls]).
    #[arg(long)]
    plaintext: bool,
    /// Validate the configuration, print the effective one and exit (non-zero on any problem).
    #[arg(long)]
    check_config: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let overrides = Overrides {
        node_id: cli.node_id,
        listen: cli.listen.clone(),
        data_dir: cli.data_dir.clone(),
        prefecture: cli.prefecture.clone(),
        plaintext: cli.plaintext,
    };
    let config = match config::load(cli.config.as_deref(), &overrides) {
        Ok(config) => config,
        Err(problems) => {
            eprintln!(
                "renkei-prefecture: the configuration has {} problem(s):",
                problems.len()
            );
            for p in &problems {
                eprintln!("  - {p}");
            }
            return ExitCode::from(2);
        }
    };
    if cli.check_config {
        println!("# effective configuration: valid");
        print!("{}", config.to_toml());
        return ExitCode::SUCCESS;
    }
    let json = config.log_format == LogFormat::Json;
    let otlp = config.otlp_endpoint.clone();
    telemetry::run_service("renkei-prefecture", json, otlp, serve(config))
}

async fn serve(config: PrefectureConfig) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
    let addr = listener.local_addr()?;
    // Watch for SIGTERM before announcing the address: a signal sent on seeing it is not lost.
    let signal = ShutdownSignal::install();
    // One line on stdout that scripts and tests can wait for.
    println!("renkei-prefecture listening on {addr}");
    renkei_federation::server::run(config, listener, signal.wait()).await?;
    Ok(())
}
