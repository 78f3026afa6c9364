//! `renkei-node`: the municipal node's binary. It parses flags and configuration, binds the
//! listener and calls [`renkei_node::server::run`].

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use renkei_node::config::{self, LogFormat, NodeConfig, Overrides};
use renkei_node::telemetry::{self, ShutdownSignal};

/// The renkei municipal node: stores a municipality's programme events and serves them over gRPC.
#[derive(Debug, Parser)]
#[command(name = "renkei-node", version)]
struct Cli {
    /// TOML configuration file (keys: listen, data_dir, municipalities, max_event_bytes,
    /// log_format, master_key_file, [sync], plaintext, [tls]); RENKEI_NODE_* environment variables override it, flags override both.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to serve gRPC on, e.g. 127.0.0.1:7401 (port 0 picks a free port).
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Directory of the event store.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// A municipality served by this node (6-digit code); repeat for several. Replaces the list
    /// in the configuration.
    #[arg(long = "municipality", value_name = "CODE")]
    municipalities: Vec<String>,
    /// A replica of the prefecture cluster to sync with (host:port); repeat for each. Replaces
    /// `sync.prefecture` in the configuration.
    #[arg(long = "prefecture", value_name = "ADDR")]
    prefecture: Vec<String>,
    /// Talk to the prefecture without TLS (local development only; otherwise configure [tls]).
    #[arg(long)]
    plaintext: bool,
    /// Validate the configuration, print the effective one and exit (non-zero on any problem).
    #[arg(long)]
    check_config: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let overrides = Overrides {
        listen: cli.listen.clone(),
        data_dir: cli.data_dir.clone(),
        municipalities: cli.municipalities.clone(),
        prefecture: cli.prefecture.clone(),
        plaintext: cli.plaintext,
    };
    let config = match config::load(cli.config.as_deref(), &overrides) {
        Ok(config) => config,
        Err(problems) => {
            eprintln!(
                "renkei-node: the configuration has {} problem(s):",
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
    telemetry::run_service("renkei-node", json, otlp, serve(config))
}

async fn serve(config: NodeConfig) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.listen))?;
    let addr = listener.local_addr()?;
    // Watch for SIGTERM before announcing the address: a signal sent on seeing it is not lost.
    let signal = ShutdownSignal::install();
    // One line on stdout that scripts and tests can wait for.
    println!("renkei-node listening on {addr}");
    renkei_node::server::run(config, listener, signal.wait()).await?;
    Ok(())
}
