//! The renkei municipal node (市区町村ノード).
//!
//! Layout:
//! - [`store`]: the durable event store on RocksDB: streams per tenant (municipality), atomic
//!   batches, group commit, idempotent retries, live subscriptions;
//! - [`grpc`]: the gRPC adapters (`EventLog`), and the one mapping of errors to gRPC codes;
//! - [`domain`]: the programme's domain core; [`programme`]: its application service;
//! - [`sync`]: the outbox of facts and the sync with the prefecture (push up, pull down);
//! - [`access`]: staff tokens with roles, checked before every gRPC call (the credentials and the
//!   access layer themselves are shared with the prefecture: `renkei_proto::server::access`);
//! - [`backup`]: a node's restore, which replays the erasure log into the restored vault (the
//!   backup routine is shared: `renkei_proto::server::backup`);
//! - [`metrics`]: Prometheus metrics at `GET /metrics`, the node's sync gauges;
//! - [`telemetry`], [`web`]: re-exported from `renkei_proto::server`, the kit both tiers share
//!   (logs and traces; sessions and CSRF, HTTPS serving, the layout, SVG charts);
//! - [`workspace`]: the municipal workspace, the web pages a clerk records the programme with and
//!   sees the town's status on (`web_listen`);
//! - [`config`]: the node's configuration (TOML file, environment, flags) and its validation;
//! - [`server`]: [`server::run`], which serves a node on a listener until a shutdown future
//!   resolves — the binary and the tests both call it.
//!
//! The library never prints and never exits the process.

pub mod access;
pub mod backup;
pub mod config;
pub mod domain;
pub mod grpc;
pub mod metrics;
pub mod personal;
pub mod programme;
pub mod server;
pub mod store;
pub mod sync;
pub mod workspace;

/// The kit both tiers share, kept in the contract crate so that the prefecture does not link this
/// one: [`renkei_proto::server`].
pub use renkei_proto::server::{telemetry, web};
