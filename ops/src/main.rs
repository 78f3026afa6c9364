//! `renkei`: the operators' command-line tool.
//!
//! Layout:
//! - [`cli`]: the commands and flags (clap), with the validation of every value a flag takes;
//! - [`failure`]: what can go wrong and the exit code each maps to (0 ok, 1 runtime failure,
//!   2 usage or bad input, 130 interrupted);
//! - [`rpc`]: connections to nodes and prefecture replicas, bearer tokens, gRPC errors;
//! - [`table`]: human tables (widths of Japanese text) and the national-style tally table;
//! - [`local`]: child processes of a local federation — started on port 0, stopped with SIGTERM,
//!   never left behind;
//! - [`demo`]: `renkei demo`, a local 富山県 federation loaded with a fiscal year of programme
//!   activity, and its report;
//! - [`admin`]: `renkei cluster …`, `renkei node status`, `renkei backup` and `renkei restore`;
//! - [`survey`]: `renkei survey export`, `renkei survey merge` (the national merge) and
//!   `renkei survey cycle-merge` (the national PDCA cycle table).
//!
//! `main` parses the command line and runs the command against Ctrl-C and SIGTERM: when a signal
//! wins, the command's future is dropped, which stops every child process it started, and the
//! tool exits 130. Commands print their result on stdout (a table, or JSON with `--json`);
//! progress and errors go to stderr.

mod admin;
mod certs;
mod cli;
mod demo;
mod failure;
mod local;
mod rpc;
mod survey;
mod table;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::failure::Failure;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // One thread: the work is waiting on child processes and the network, and child processes
    // are spawned from this thread, which their parent-death signal is tied to (see `local`).
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("renkei: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let outcome = runtime.block_on(async {
        tokio::select! {
            outcome = run(cli) => outcome,
            signal = interrupted() => Err(signal),
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("renkei: {failure}");
            ExitCode::from(failure.exit_code())
        }
    }
}

/// Runs one command.
async fn run(cli: Cli) -> Result<(), Failure> {
    let json = cli.json;
    if let Some(ca) = &cli.ca {
        rpc::use_ca(ca)?;
    }
    if let Some(file) = &cli.token_file {
        rpc::use_token_file(file)?;
    }
    match cli.command {
        Command::Demo(args) => demo::run(args, json).await,
        Command::Cluster(args) => admin::cluster(args.command, args.token, json).await,
        Command::Node(command) => admin::node(command, json).await,
        Command::Survey(command) => survey::run(command, json).await,
        Command::Import(command) => admin::import(command, json).await,
        Command::Backup { addr, to, token } => admin::backup(&addr, &to, token, json).await,
        Command::Restore {
            from,
            data_dir,
            master_key,
        } => admin::restore(&from, &data_dir, master_key.as_deref(), json),
        Command::Certs(command) => certs::run(command, json),
    }
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM.
async fn interrupted() -> Failure {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    Failure::Interrupted
}
